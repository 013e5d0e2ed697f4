import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeQuery, encodeTxtUpdate, isInZone, nameToWire, readName, txtStrings, txtValue } from '../../../src/dns/wire/message.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// `_acme-challenge.example.test` and `example.test` in wire format.
const CHALLENGE = '0f5f61636d652d6368616c6c656e6765 076578616d706c65 0474657374 00';
const ZONE = '076578616d706c65 0474657374 00';

describe('encodeTxtUpdate', () => {
  it('adds one TXT RR in class IN under an UPDATE header with the zone SOA as zone section', () => {
    const { bytes, id } = encodeTxtUpdate('Example.Test.', [{ action: 'add', fqdn: '_acme-challenge.example.test', value: 'abc', ttl: 60 }], 0x1234);
    expect(id).toBe(0x1234);
    expect(bytes.toString('hex')).toBe(
      hex(`
        1234 2800 0001 0000 0001 0000
        ${ZONE} 0006 0001
        ${CHALLENGE} 0010 0001 0000003c 0004 03616263
      `).toString('hex'),
    );
  });

  it('deletes exactly one RR: class NONE, TTL 0, the same rdata', () => {
    const { bytes } = encodeTxtUpdate('example.test', [{ action: 'delete', fqdn: '_acme-challenge.example.test', value: 'abc', ttl: 60 }], 7);
    expect(bytes.toString('hex')).toBe(
      hex(`
        0007 2800 0001 0000 0001 0000
        ${ZONE} 0006 0001
        ${CHALLENGE} 0010 00fe 00000000 0004 03616263
      `).toString('hex'),
    );
  });

  it('uses a random ID when none is given', () => {
    const ids = new Set(Array.from({ length: 20 }, () => encodeTxtUpdate('a.test', [{ action: 'add', fqdn: 'a.test', value: 'v', ttl: 1 }]).id));
    expect(ids.size).toBeGreaterThan(1);
  });
});

describe('encodeQuery', () => {
  it('sets RD only when asked and encodes one IN question', () => {
    const plain = encodeQuery('Example.test', 'TXT', { id: 1 });
    expect(plain.bytes.toString('hex')).toBe(hex(`0001 0000 0001 0000 0000 0000 ${ZONE} 0010 0001`).toString('hex'));
    const recursive = encodeQuery('example.test', 'SOA', { id: 2, recursionDesired: true });
    expect(recursive.bytes.readUInt16BE(2)).toBe(0x0100);
  });
});

describe('decodeMessage', () => {
  it('exposes rcode, opcode and flags dns-packet leaves in the header', () => {
    const raw = dnsPacket.encode({
      type: 'response',
      id: 9,
      flags: (5 << 11) | dnsPacket.AUTHORITATIVE_ANSWER | 9,
      questions: [{ name: 'example.test', type: 'SOA' }],
    });
    const decoded = decodeMessage(raw);
    expect(decoded).toMatchObject({ id: 9, opcode: 5, rcode: 9, authoritative: true, truncated: false });
  });
});

describe('names and TXT data', () => {
  it('writes canonical (lower-case) wire names for TSIG and keeps case otherwise', () => {
    expect(nameToWire('A.Test.', true).toString('hex')).toBe('0161047465737400');
    expect(nameToWire('A.Test').toString('hex')).toBe('0141045465737400');
    expect(() => nameToWire(`${'x'.repeat(64)}.test`)).toThrow(/1–63/);
  });

  it('reads compressed names', () => {
    // "example.test" at 0, then "www" + pointer to 0.
    const message = Buffer.concat([hex(ZONE), hex('03777777 c000')]);
    expect(readName(message, 14)).toEqual({ name: 'www.example.test', end: 20 });
  });

  it('splits long TXT values into 255-byte strings and joins them back', () => {
    const value = 'x'.repeat(600);
    const strings = txtStrings(value);
    expect(strings.map((s) => s.length)).toEqual([255, 255, 90]);
    expect(txtValue(strings)).toBe(value);
  });

  it('knows which names are inside a zone', () => {
    expect(isInZone('_acme-challenge.example.test', 'example.test.')).toBe(true);
    expect(isInZone('example.test', 'example.test')).toBe(true);
    expect(isInZone('badexample.test', 'example.test')).toBe(false);
  });
});
