/**
 * QMP framing: each message is one JSON object terminated by CRLF. A LineSplitter turns a
 * byte stream into complete lines (CR stripped), keeping a partial line between chunks.
 */
export class LineSplitter {
  private buffer = '';

  push(chunk: string): string[] {
    this.buffer += chunk;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop() ?? '';
    return parts.map((p) => p.replace(/\r$/, '')).filter((p) => p.length > 0);
  }
}

export function encodeMessage(msg: object): string {
  return `${JSON.stringify(msg)}\r\n`;
}
