// Route53's text forms, as pure functions: TXT values in its quoted presentation format, the
// names it returns (trailing dot, `\052` octal escapes) and the zone names that may hold a record.

/** The longest TXT character-string: longer values are split into several quoted strings. */
const MAX_CHARACTER_STRING = 255;

/** A TXT value as Route53 wants it: in double quotes, `"` and `\` escaped, split every 255 bytes. */
export function quoteTxt(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  const parts: string[] = [];
  for (let start = 0; start < bytes.length || parts.length === 0; start += MAX_CHARACTER_STRING) {
    const chunk = bytes.subarray(start, start + MAX_CHARACTER_STRING);
    let text = '';
    for (const byte of chunk) {
      if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
      else if (byte < 0x20 || byte > 0x7e) text += `\\${byte.toString(8).padStart(3, '0')}`;
      else text += String.fromCharCode(byte);
    }
    parts.push(`"${text}"`);
  }
  return parts.join(' ');
}

/**
 * The character-strings of one TXT value in presentation format (`"a" "b"`, or a bare word),
 * with escapes (`\"`, `\\`, `\ddd`) undone. Undefined when the text is malformed.
 */
export function parseTxtStrings(presentation: string): Buffer[] | undefined {
  const strings: Buffer[] = [];
  let i = 0;
  const text = presentation.trim();
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    const quoted = text[i] === '"';
    if (quoted) i++;
    const bytes: number[] = [];
    let closed = !quoted;
    while (i < text.length) {
      const char = text[i]!;
      if (quoted && char === '"') {
        closed = true;
        i++;
        break;
      }
      if (!quoted && (char === ' ' || char === '\t')) break;
      if (char === '\\') {
        const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
        if (digits) {
          // Route53 writes octal escapes (\052 is "*"); RFC 1035 files use decimal. Values we
          // compare are plain base64url, so the choice only matters for other tools' values.
          bytes.push(parseInt(digits[0], 8) & 0xff);
          i += 4;
        } else if (i + 1 < text.length) {
          bytes.push(...Buffer.from(text[i + 1]!, 'utf8'));
          i += 2;
        } else {
          return undefined;
        }
        continue;
      }
      bytes.push(...Buffer.from(char, 'utf8'));
      i++;
    }
    if (!closed) return undefined;
    strings.push(Buffer.from(bytes));
  }
  return strings;
}

/** The value a TXT record carries (its strings joined), or undefined when it cannot be read. */
export function txtContent(presentation: string): string | undefined {
  const strings = parseTxtStrings(presentation);
  return strings === undefined ? undefined : Buffer.concat(strings).toString('utf8');
}

/** A name as Route53 returns it (`\052.example.com.`) in our form: lower-case, no trailing dot. */
export function fromRoute53Name(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Every name that could be the zone of `fqdn`, longest first: the name itself, then each parent. */
export function zoneCandidates(fqdn: string): string[] {
  const labels = fqdn.split('.').filter(Boolean);
  return labels.map((_, index) => labels.slice(index).join('.'));
}

/** `Z123` from `/hostedzone/Z123` or `Z123`. */
export function bareZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '');
}
