/** Reads a guest's serial console log incrementally and spots boot milestones and panics. */
import { closeSync, openSync, readSync } from 'node:fs';

export const READY_MARKER = 'FLUIDLAB-READY';
const FAILURE_PATTERNS = [/Kernel panic - not syncing[^\n]*/, /FLUIDLAB-INIT-ERROR:[^\n]*/];

export class SerialLog {
  private offset = 0;
  private text = '';

  constructor(readonly path: string) {}

  /** Reads what was appended since the last call; returns the whole log so far. */
  poll(): string {
    let fd: number;
    try { fd = openSync(this.path, 'r'); } catch { return this.text; }
    try {
      const buf = Buffer.alloc(65536);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.text += buf.subarray(0, n).toString('utf8');
      }
    } finally {
      closeSync(fd);
    }
    return this.text;
  }

  get ready(): boolean {
    return this.poll().includes(READY_MARKER);
  }

  /** The panic or init-error line, if the guest printed one. */
  failure(): string | undefined {
    const text = this.poll();
    for (const p of FAILURE_PATTERNS) {
      const m = p.exec(text);
      if (m) return m[0].trim();
    }
    return undefined;
  }

  tail(lines = 15): string {
    return this.poll().trimEnd().split('\n').slice(-lines).join('\n');
  }
}
