/**
 * The DV configuration-tree XML used in AEDAT 4 infoNode strings:
 *   <dv version="2.0"><node name=".." path=".."><attr key=".." type="..">value</attr>…<node …>…</node></node></dv>
 * A small tolerant parser (XML declaration, comments, self-closing tags, entities, any whitespace) producing a
 * tree, and the matching writer. No XML library is available; this handles only the DV subset, and reports bad
 * input with the character position.
 */

export interface DvAttr {
  type: string;
  value: string;
}

export interface DvNode {
  name: string;
  path: string;
  attrs: Map<string, DvAttr>;
  children: DvNode[];
}

export class DvXmlError extends Error {
  constructor(readonly position: number, reason: string) {
    super(`infoNode XML at character ${position}: ${reason}`);
  }
}

const MAX_DEPTH = 64;

function decodeEntities(s: string, at: number): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (_m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!(code >= 0 && code <= 0x10ffff)) throw new DvXmlError(at, `bad character reference &${e};`);
      return String.fromCodePoint(code);
    }
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: throw new DvXmlError(at, `unknown entity &${e};`);
    }
  });
}

interface Tag {
  name: string;
  attrs: Record<string, string>;
  closing: boolean;
  selfClosing: boolean;
  end: number;
}

function parseTag(xml: string, i: number): Tag {
  // xml[i] === '<'
  const end = xml.indexOf('>', i);
  if (end < 0) throw new DvXmlError(i, 'unterminated tag');
  let body = xml.slice(i + 1, end);
  const closing = body.startsWith('/');
  if (closing) body = body.slice(1);
  const selfClosing = body.endsWith('/');
  if (selfClosing) body = body.slice(0, -1);
  const m = /^\s*([A-Za-z_][\w.:-]*)/.exec(body);
  if (!m) throw new DvXmlError(i, 'tag without a name');
  const attrs: Record<string, string> = {};
  const re = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;
  let k = m[0].length;
  while (k < body.length) {
    if (/^\s*$/.test(body.slice(k))) break;
    re.lastIndex = k;
    const a = re.exec(body);
    if (!a) throw new DvXmlError(i + 1 + k, `malformed attribute in <${m[1]}>`);
    attrs[a[1]] = decodeEntities(a[3] ?? a[4] ?? '', i);
    k = re.lastIndex;
  }
  return { name: m[1], attrs, closing, selfClosing, end: end + 1 };
}

/** Parses the infoNode XML into its root node (the `<dv>` element, name ''). */
export function parseDvXml(xml: string): DvNode {
  const root: DvNode = { name: '', path: '/', attrs: new Map(), children: [] };
  const stack: { tag: string; node: DvNode | null }[] = [];
  let current: DvNode | null = null; // innermost <node> (or <dv>) element
  let attr: { key: string; type: string; start: number } | null = null;
  let sawRoot = false;
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      if (xml.slice(i).trim() !== '') throw new DvXmlError(i, 'text after the last element');
      break;
    }
    if (attr === null && xml.slice(i, lt).trim() !== '' && stack.length > 0) {
      throw new DvXmlError(i, 'unexpected text between elements');
    }
    if (xml.startsWith('<?', lt)) {
      const e = xml.indexOf('?>', lt);
      if (e < 0) throw new DvXmlError(lt, 'unterminated declaration');
      i = e + 2;
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      const e = xml.indexOf('-->', lt);
      if (e < 0) throw new DvXmlError(lt, 'unterminated comment');
      i = e + 3;
      continue;
    }
    const tag = parseTag(xml, lt);
    if (attr !== null) {
      if (!(tag.closing && tag.name === 'attr')) {
        throw new DvXmlError(lt, tag.closing ? `</${tag.name}> does not close <attr>` : `<${tag.name}> inside <attr>`);
      }
      current!.attrs.set(attr.key, { type: attr.type, value: decodeEntities(xml.slice(attr.start, lt), attr.start) });
      attr = null;
      stack.pop();
      i = tag.end;
      continue;
    }
    if (tag.closing) {
      const top = stack.pop();
      if (!top || top.tag !== tag.name) throw new DvXmlError(lt, `</${tag.name}> does not close <${top?.tag ?? 'nothing'}>`);
      current = findCurrent(stack, root);
      i = tag.end;
      continue;
    }
    if (stack.length >= MAX_DEPTH) throw new DvXmlError(lt, `nesting deeper than ${MAX_DEPTH}`);
    if (stack.length === 0) {
      if (sawRoot) throw new DvXmlError(lt, 'second root element');
      sawRoot = true;
      for (const [k, v] of Object.entries(tag.attrs)) root.attrs.set(k, { type: 'string', value: v });
      if (!tag.selfClosing) {
        stack.push({ tag: tag.name, node: root });
        current = root;
      }
    } else if (tag.name === 'node') {
      const node: DvNode = { name: tag.attrs.name ?? '', path: tag.attrs.path ?? '', attrs: new Map(), children: [] };
      current!.children.push(node);
      if (!tag.selfClosing) {
        stack.push({ tag: 'node', node });
        current = node;
      }
    } else if (tag.name === 'attr') {
      const key = tag.attrs.key;
      if (key === undefined) throw new DvXmlError(lt, '<attr> without key');
      if (tag.selfClosing) {
        current!.attrs.set(key, { type: tag.attrs.type ?? 'string', value: '' });
      } else {
        attr = { key, type: tag.attrs.type ?? 'string', start: tag.end };
        stack.push({ tag: 'attr', node: null });
      }
    } else if (!tag.selfClosing) {
      // Unknown element: keep nesting consistent, ignore its content's meaning.
      stack.push({ tag: tag.name, node: null });
    }
    i = tag.end;
  }
  if (stack.length > 0) throw new DvXmlError(n, `unclosed <${stack[stack.length - 1].tag}>`);
  if (!sawRoot) throw new DvXmlError(0, 'no root element');
  return root;
}

function findCurrent(stack: { node: DvNode | null }[], root: DvNode): DvNode | null {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k].node) return stack[k].node;
  return stack.length ? root : null;
}

export function childNode(n: DvNode, name: string): DvNode | undefined {
  return n.children.find((c) => c.name === name);
}

export function attrValue(n: DvNode | undefined, key: string): string | undefined {
  return n?.attrs.get(key)?.value;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Serialises a node tree the way DV does: 4-space indentation, LF line ends, attrs before child nodes. */
export function writeDvXml(root: DvNode, version = '2.0'): string {
  const lines: string[] = [`<dv version="${escapeXml(version)}">`];
  const walk = (node: DvNode, depth: number) => {
    const pad = '    '.repeat(depth);
    lines.push(`${pad}<node name="${escapeXml(node.name)}" path="${escapeXml(node.path)}">`);
    for (const [k, a] of node.attrs) {
      lines.push(`${pad}    <attr key="${escapeXml(k)}" type="${escapeXml(a.type)}">${escapeXml(a.value)}</attr>`);
    }
    for (const c of node.children) walk(c, depth + 1);
    lines.push(`${pad}</node>`);
  };
  for (const c of root.children) walk(c, 1);
  lines.push('</dv>');
  return lines.join('\n') + '\n';
}
