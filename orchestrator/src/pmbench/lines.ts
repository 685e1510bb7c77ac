/** A cursor over report lines that reports failures with 1-based line numbers. */
import { PmbenchParseError } from './errors.js';

export class LineCursor {
  private i = 0;
  constructor(
    private readonly lines: readonly string[],
    /** 1-based number of lines[0] in the whole report */
    private readonly firstLine: number,
  ) {}

  /** 1-based report line number of the next line (or of the end). */
  get lineNo(): number {
    return this.firstLine + this.i;
  }

  get done(): boolean {
    return this.i >= this.lines.length;
  }

  peek(): string | undefined {
    return this.lines[this.i];
  }

  next(): string | undefined {
    return this.lines[this.i++];
  }

  skipBlank(): void {
    while (!this.done && this.peek()!.trim() === '') this.i++;
  }

  fail(expected: string): never {
    const got = this.peek();
    throw new PmbenchParseError(
      this.lineNo,
      got === undefined ? `expected ${expected}, found end of section` : `expected ${expected}, found "${got}"`,
    );
  }

  /** Consumes the next line if it matches, else throws naming the line and the expectation. */
  expect(re: RegExp, expected: string): RegExpMatchArray {
    const line = this.peek();
    const m = line === undefined ? null : line.match(re);
    if (!m) this.fail(expected);
    this.i++;
    return m;
  }

  /** Consumes the next line if it matches; otherwise leaves the cursor alone. */
  accept(re: RegExp): RegExpMatchArray | null {
    const line = this.peek();
    const m = line === undefined ? null : line.match(re);
    if (m) this.i++;
    return m;
  }
}
