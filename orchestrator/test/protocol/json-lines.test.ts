/**
 * The shared JSON-lines framing (pure logic): CRLF and LF terminators, messages split
 * across chunks, empty lines, the partial tail, and what counts as a JSON object line.
 */
import { describe, expect, it } from 'vitest';
import { encodeJsonLine, LineSplitter, parseJsonObjectLine } from '../../src/protocol/json-lines.js';

describe('LineSplitter', () => {
  it('splits CRLF-terminated messages across chunk boundaries', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\r\n{"b"')).toEqual(['{"a":1}']);
    expect(s.partial).toBe('{"b"');
    expect(s.push(':2}\r\n\r\n{"c":3}\r')).toEqual(['{"b":2}']);
    expect(s.push('\n')).toEqual(['{"c":3}']);
    expect(s.partial).toBe('');
  });

  it('reads LF-terminated lines (the control socket) the same way', () => {
    const s = new LineSplitter();
    expect(s.push('{"ok":true}\n{"ok":false,"error":"x"}\n{"ok"')).toEqual(['{"ok":true}', '{"ok":false,"error":"x"}']);
    expect(s.push(':true}\n')).toEqual(['{"ok":true}']);
  });
});

describe('encodeJsonLine / parseJsonObjectLine', () => {
  it('round-trips an object with either terminator', () => {
    expect(encodeJsonLine({ execute: 'cont', id: 'fl-1' }, '\r\n')).toBe('{"execute":"cont","id":"fl-1"}\r\n');
    expect(encodeJsonLine({ cmd: 'stats' })).toBe('{"cmd":"stats"}\n');
    const s = new LineSplitter();
    expect(s.push(encodeJsonLine({ a: [1, 2] }, '\r\n')).map((l) => parseJsonObjectLine(l, 'peer'))).toEqual([{ a: [1, 2] }]);
  });

  it('names the peer and the line when a line is not a JSON object', () => {
    for (const line of ['garbage', '[1,2]', '42', 'null', '{"a":']) {
      const r = parseJsonObjectLine(line, 'QMP');
      expect(r, line).toBeInstanceOf(Error);
      expect((r as Error).message).toBe(`QMP sent a line that is not a JSON object: ${line}`);
    }
  });
});
