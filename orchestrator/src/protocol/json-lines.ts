/**
 * JSON-lines framing shared by the orchestrator's line protocols: QMP (qmp/client.ts, CRLF
 * terminated) and fluidmem-monitor's control socket (handler/control.ts, LF terminated).
 * A LineSplitter turns a byte stream into complete lines, keeping a partial line between
 * chunks; a trailing CR is stripped and empty lines are skipped, so both terminators read
 * the same. It lives in protocol/, a leaf folder that imports nothing, so qmp/ and
 * handler/ both depend on it without depending on each other.
 */

export class LineSplitter {
  private buffer = '';

  /** Appends `chunk` and returns the lines it completed (without terminator), in order. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop() ?? '';
    return parts.map((p) => p.replace(/\r$/, '')).filter((p) => p.length > 0);
  }

  /** The bytes of an incomplete last line received so far ('' when none). */
  get partial(): string {
    return this.buffer;
  }
}

/** One message as a line: its JSON text followed by `terminator` (QMP: CRLF; control: LF). */
export function encodeJsonLine(msg: object, terminator: '\n' | '\r\n' = '\n'): string {
  return `${JSON.stringify(msg)}${terminator}`;
}

/** A line parsed as a JSON object, or an Error saying what the line was (first 200 chars). */
export function parseJsonObjectLine(line: string, who: string): Record<string, unknown> | Error {
  try {
    const v: unknown = JSON.parse(line);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* below */ }
  return new Error(`${who} sent a line that is not a JSON object: ${line.slice(0, 200)}`);
}
