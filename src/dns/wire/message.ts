// DNS messages as bytes: building queries and RFC 2136 UPDATEs, decoding responses, and the
// small wire-format helpers (names, RCODE names) the client and TSIG share. dns-packet does the
// record encoding; what it lacks (opcode, class NONE, rcode on decode) is handled here.

import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Answer, Question, RecordType } from 'dns-packet';

export const OPCODE_QUERY = 0;
export const OPCODE_UPDATE = 5;
export const CLASS_IN = 1;
/** RFC 2136 §2.5.4: "delete an RR from an RRset" uses class NONE. */
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;

const FLAG_RD = 1 << 8;
const FLAG_TC = 1 << 9;
const FLAG_AA = 1 << 10;

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** Lower-case, no trailing dot: the form every name takes inside certkeeper. */
export function normalizeName(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

/** True when `name` is `zone` or below it. */
export function isInZone(name: string, zone: string): boolean {
  const n = normalizeName(name);
  const z = normalizeName(zone);
  return z === '' || n === z || n.endsWith(`.${z}`);
}

/** A name in uncompressed wire format; lower-cased when `canonical` (RFC 4034 §6.2). */
export function nameToWire(name: string, canonical = false): Buffer {
  const text = name.trim().replace(/\.$/, '');
  const labels = text === '' ? [] : text.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(canonical ? label.toLowerCase() : label, 'utf8');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name "${name}": label "${label}" must be 1–63 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`invalid DNS name "${name}": longer than 255 bytes`);
  return wire;
}

/** Reads a (possibly compressed) name at `offset`; returns it and the offset just after it. */
export function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  let end = -1;
  for (let jumps = 0; jumps < 64;) {
    const length = message[position];
    if (length === undefined) throw new Error('truncated name');
    if (length === 0) {
      return { name: labels.join('.'), end: end === -1 ? position + 1 : end };
    }
    if ((length & 0xc0) === 0xc0) {
      if (end === -1) end = position + 2;
      position = message.readUInt16BE(position) & 0x3fff;
      jumps++;
      continue;
    }
    if (length & 0xc0) throw new Error('bad label type in name');
    labels.push(message.toString('utf8', position + 1, position + 1 + length));
    position += 1 + length;
  }
  throw new Error('too many compression pointers in name');
}

/** A random 16-bit message ID: off-path spoofing needs to guess it. */
export function randomId(): number {
  return randomInt(0, 0x10000);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(flags, 2);
  counts.forEach((count, i) => buf.writeUInt16BE(count, 4 + 2 * i));
  return buf;
}

function encodeQuestion(question: Question): Buffer {
  return dnsPacket.encode({ questions: [question] }).subarray(12);
}

/** One resource record; `klass` overrides the class dns-packet can name (it has no NONE). */
function encodeRecord(record: Answer, klass?: number): Buffer {
  const bytes = Buffer.from(dnsPacket.encode({ answers: [record] }).subarray(12));
  // dns-packet never compresses, so the class sits right after the owner name and the type.
  if (klass !== undefined) bytes.writeUInt16BE(klass, nameToWire(record.name).length + 2);
  return bytes;
}

export interface QueryMessage {
  id: number;
  bytes: Buffer;
}

export function encodeQuery(name: string, type: RecordType, options: { recursionDesired?: boolean; id?: number } = {}): QueryMessage {
  const id = options.id ?? randomId();
  const flags = (OPCODE_QUERY << 11) | (options.recursionDesired ? FLAG_RD : 0);
  const bytes = Buffer.concat([header(id, flags, [1, 0, 0, 0]), encodeQuestion({ name: normalizeName(name), type, class: 'IN' })]);
  return { id, bytes };
}

/** Splits a TXT value into character-strings of at most 255 bytes (RFC 1035 §3.3.14). */
export function txtStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

/** A TXT record's value: its character-strings joined, as resolvers present it to ACME CAs. */
export function txtValue(data: unknown): string {
  const parts = Array.isArray(data) ? data : [data];
  return parts.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part))).join('');
}

export interface TxtUpdate {
  action: 'add' | 'delete';
  fqdn: string;
  value: string;
  ttl: number;
}

/**
 * An UPDATE for `zone` that adds one TXT RR (class IN) or deletes exactly that RR (class NONE,
 * same rdata, TTL 0), leaving any other value at the name alone.
 */
export function encodeTxtUpdate(zone: string, updates: TxtUpdate[], id = randomId()): QueryMessage {
  const zoneSection = encodeQuestion({ name: normalizeName(zone), type: 'SOA', class: 'IN' });
  const records = updates.map((update) =>
    encodeRecord(
      { name: normalizeName(update.fqdn), type: 'TXT', class: 'IN', ttl: update.action === 'add' ? update.ttl : 0, data: txtStrings(update.value) },
      update.action === 'add' ? CLASS_IN : CLASS_NONE,
    ),
  );
  // Sections of an UPDATE: zone (QDCOUNT), prerequisites (ANCOUNT), updates (NSCOUNT), additional.
  const bytes = Buffer.concat([header(id, OPCODE_UPDATE << 11, [1, 0, records.length, 0]), zoneSection, ...records]);
  return { id, bytes };
}

/** A record's decoded rdata (dns-packet's OPT pseudo-record has none). */
export function rdata(record: Answer): unknown {
  return 'data' in record ? record.data : undefined;
}

export interface DnsResponse {
  id: number;
  opcode: number;
  rcode: number;
  authoritative: boolean;
  truncated: boolean;
  questions: Question[];
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export function decodeMessage(bytes: Buffer): DnsResponse {
  const packet = dnsPacket.decode(bytes);
  const flags = bytes.readUInt16BE(2);
  return {
    id: bytes.readUInt16BE(0),
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    authoritative: (flags & FLAG_AA) !== 0,
    truncated: (flags & FLAG_TC) !== 0,
    questions: packet.questions ?? [],
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals: packet.additionals ?? [],
  };
}

export function isTruncated(bytes: Buffer): boolean {
  return bytes.length >= 4 && (bytes.readUInt16BE(2) & FLAG_TC) !== 0;
}
