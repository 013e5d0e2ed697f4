// Just enough XML for the AWS REST-XML stand-ins: parse a request body into a tree of elements
// (no DTDs, no processing beyond the declaration, attributes kept but unused) and escape text
// for responses. Strict about what it accepts, so a malformed SDK body fails loudly.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    const known = ENTITIES[entity];
    if (known === undefined) throw new Error(`unknown XML entity ${whole}`);
    return known;
  });
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Parses a document with one root element; throws on anything it does not understand. */
export function parseXml(source: string): XmlElement {
  let i = 0;
  const skipSpace = (): void => {
    while (i < source.length && /\s/.test(source[i]!)) i++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipSpace();
      if (source.startsWith('<?', i)) {
        const end = source.indexOf('?>', i);
        if (end < 0) throw new Error('unterminated XML declaration');
        i = end + 2;
      } else if (source.startsWith('<!--', i)) {
        const end = source.indexOf('-->', i);
        if (end < 0) throw new Error('unterminated XML comment');
        i = end + 3;
      } else {
        return;
      }
    }
  };
  const readName = (): string => {
    const match = /^[A-Za-z_][\w.:-]*/.exec(source.slice(i, i + 200));
    if (!match) throw new Error(`expected an XML name at offset ${i}`);
    i += match[0].length;
    return match[0];
  };
  const readElement = (): XmlElement => {
    if (source[i] !== '<') throw new Error(`expected "<" at offset ${i}`);
    i++;
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (source.startsWith('/>', i)) {
        i += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (source[i] === '>') {
        i++;
        break;
      }
      const attribute = readName();
      skipSpace();
      if (source[i] !== '=') throw new Error(`expected "=" after attribute ${attribute}`);
      i++;
      skipSpace();
      const quote = source[i];
      if (quote !== '"' && quote !== "'") throw new Error(`expected a quoted value for attribute ${attribute}`);
      const end = source.indexOf(quote, i + 1);
      if (end < 0) throw new Error(`unterminated attribute ${attribute}`);
      attributes[attribute] = decodeEntities(source.slice(i + 1, end));
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (i >= source.length) throw new Error(`element <${name}> is not closed`);
      if (source.startsWith('</', i)) {
        i += 2;
        const closing = readName();
        if (closing !== name) throw new Error(`<${name}> closed by </${closing}>`);
        skipSpace();
        if (source[i] !== '>') throw new Error(`expected ">" closing </${name}>`);
        i++;
        return { name, attributes, children, text: children.length > 0 ? text.trim() : text };
      }
      if (source.startsWith('<!--', i)) {
        const end = source.indexOf('-->', i);
        if (end < 0) throw new Error('unterminated XML comment');
        i = end + 3;
      } else if (source.startsWith('<![CDATA[', i)) {
        const end = source.indexOf(']]>', i);
        if (end < 0) throw new Error('unterminated CDATA section');
        text += source.slice(i + 9, end);
        i = end + 3;
      } else if (source[i] === '<') {
        children.push(readElement());
      } else {
        const end = source.indexOf('<', i);
        if (end < 0) throw new Error(`element <${name}> is not closed`);
        text += decodeEntities(source.slice(i, end));
        i = end;
      }
    }
  };
  skipMisc();
  const root = readElement();
  skipMisc();
  if (i !== source.length) throw new Error(`unexpected content after the root element at offset ${i}`);
  return root;
}

/** The first child called `name`, if any. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((candidate) => candidate.name === name);
}

/** Every child called `name`. */
export function childrenNamed(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((candidate) => candidate.name === name) ?? [];
}

/** The text of the child at `path` (e.g. `ResourceRecordSet`, `Name`), if present. */
export function textAt(element: XmlElement | undefined, ...path: string[]): string | undefined {
  let current = element;
  for (const name of path) current = child(current, name);
  return current?.text;
}

/** Serializes a plain object tree: arrays repeat the element, objects nest, `undefined` is left out. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [name: string]: XmlValue };

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((item) => toXml(name, item)).join('');
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value)
      .map(([key, inner]) => toXml(key, inner))
      .join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}
