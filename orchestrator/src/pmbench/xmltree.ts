/**
 * A tiny XML reader for pmbench's -f report: elements, attributes (single or double quoted),
 * self-closing tags, the prolog, comments and the five predefined entities plus numeric
 * character references. Text content is kept but not interpreted. No DTDs, no CDATA, no
 * namespaces: it rejects what it does not understand, with the line number.
 */
import { PmbenchParseError } from './errors.js';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  /** 1-based line of the start tag */
  line: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, line: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new PmbenchParseError(line, `unknown XML entity &${e};`);
    return v;
  });
}

export function parseXml(xml: string): XmlElement {
  let pos = 0;
  // offsets of the newlines, for 1-based line numbers by binary search
  const newlines: number[] = [];
  for (let i = xml.indexOf('\n'); i >= 0; i = xml.indexOf('\n', i + 1)) newlines.push(i);
  const lineAt = (p: number) => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const fail = (msg: string, p = pos): never => {
    throw new PmbenchParseError(lineAt(p), msg);
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const text = xml.slice(pos, lt < 0 ? xml.length : lt);
    if (text.trim() !== '') {
      const top = stack[stack.length - 1];
      if (!top) fail('text outside the root element');
      else top.text += decode(text, lineAt(pos));
    }
    if (lt < 0) break;
    pos = lt;
    if (xml.startsWith('<?', pos)) {
      const end = xml.indexOf('?>', pos);
      if (end < 0) fail('unterminated <? ... ?>');
      pos = end + 2;
    } else if (xml.startsWith('<!--', pos)) {
      const end = xml.indexOf('-->', pos);
      if (end < 0) fail('unterminated comment');
      pos = end + 3;
    } else if (xml.startsWith('<!', pos)) {
      fail('DTDs and CDATA are not supported');
    } else if (xml.startsWith('</', pos)) {
      const m = /^<\/([\w.:-]+)\s*>/.exec(xml.slice(pos));
      if (!m) fail('malformed end tag');
      const open = stack.pop();
      if (!open || open.name !== m![1]) fail(`end tag </${m![1]}> does not match <${open?.name ?? '(none)'}>`);
      pos += m![0].length;
    } else {
      const m = /^<([\w.:-]+)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(xml.slice(pos));
      if (!m) fail('malformed start tag (expected <name attr="value" ...>)');
      const line = lineAt(pos);
      const attrs: Record<string, string> = {};
      for (const a of m![2]!.matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', line);
      }
      const el: XmlElement = { name: m![1]!, attrs, children: [], text: '', line };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) fail('more than one root element');
      else root = el;
      if (m![3] !== '/') stack.push(el);
      pos += m![0].length;
    }
  }
  const open = stack[stack.length - 1];
  if (open) throw new PmbenchParseError(open.line, `<${open.name}> opened here is not closed before the end of input`);
  if (!root) fail('no root element', 0);
  return root!;
}
