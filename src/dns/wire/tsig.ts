// TSIG (RFC 8945): signing requests with a shared HMAC key and verifying the server's signed
// response. dns-packet has no TSIG record type, so the RR is built and parsed here by hand.

import { createHmac, timingSafeEqual } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { CLASS_ANY, nameToWire, normalizeName, readName } from './message.js';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from './tsig-algorithms.js';

export { TSIG_ALGORITHMS, type TsigAlgorithm };

const TYPE_TSIG = 250;
/** RFC 8945 §5.2.3 recommends 300 s of allowed clock skew. */
export const DEFAULT_FUDGE_SECONDS = 300;

/** TSIG error codes (RFC 8945 §3): carried in the TSIG RR, not in the header RCODE. */
const TSIG_ERROR_NAMES: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export function tsigErrorName(code: number): string {
  return TSIG_ERROR_NAMES[code] ?? `TSIG error ${code}`;
}

/** A shared key. `secret` is key material: never log it or put it in an error. */
export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export function tsigKey(name: string, algorithm: TsigAlgorithm, secretBase64: string): TsigKey {
  return { name: normalizeName(name), algorithm, secret: Buffer.from(secretBase64.trim(), 'base64') };
}

function digestOf(algorithm: TsigAlgorithm): string {
  return algorithm.slice('hmac-'.length);
}

function uint16(value: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(value);
  return buf;
}

function uint48(value: number): Buffer {
  const buf = Buffer.alloc(6);
  buf.writeUIntBE(value, 0, 6);
  return buf;
}

interface TsigVariables {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  otherData: Buffer;
}

/** The TSIG variables of the MAC input (§4.3.3): names canonical, class ANY, TTL 0. */
function variablesToWire(vars: TsigVariables): Buffer {
  return Buffer.concat([
    nameToWire(vars.keyName, true),
    uint16(CLASS_ANY),
    Buffer.alloc(4), // TTL
    nameToWire(vars.algorithm, true),
    uint48(vars.timeSigned),
    uint16(vars.fudge),
    uint16(vars.error),
    uint16(vars.otherData.length),
    vars.otherData,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const mac = createHmac(digestOf(key.algorithm), key.secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

export interface SignedMessage {
  bytes: Buffer;
  /** Needed to verify the response, whose MAC covers the request's MAC. */
  mac: Buffer;
  id: number;
}

/** Appends a TSIG RR signing `message` (which must not carry one) at time `now`. */
export function signMessage(message: Buffer, key: TsigKey, now: Date, fudge = DEFAULT_FUDGE_SECONDS): SignedMessage {
  const id = message.readUInt16BE(0);
  const vars: TsigVariables = {
    keyName: key.name,
    algorithm: key.algorithm,
    timeSigned: Math.floor(now.getTime() / 1000),
    fudge,
    error: 0,
    otherData: Buffer.alloc(0),
  };
  const mac = hmac(key, [message, variablesToWire(vars)]);
  const rdata = Buffer.concat([
    nameToWire(vars.algorithm, true),
    uint48(vars.timeSigned),
    uint16(fudge),
    uint16(mac.length),
    mac,
    uint16(id), // original ID
    uint16(0), // error
    uint16(0), // other len
  ]);
  const rr = Buffer.concat([nameToWire(key.name, true), uint16(TYPE_TSIG), uint16(CLASS_ANY), Buffer.alloc(4), uint16(rdata.length), rdata]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10); // ARCOUNT
  return { bytes: signed, mac, id };
}

export interface TsigRecord extends TsigVariables {
  /** Where the TSIG RR starts: the signed part of the message is everything before it. */
  offset: number;
  mac: Buffer;
  originalId: number;
}

/** Finds and parses the TSIG RR, which must be the last additional record; undefined if none. */
export function readTsig(message: Buffer): TsigRecord | undefined {
  const arcount = message.readUInt16BE(10);
  if (arcount === 0) return undefined;
  // Decoding with one additional fewer tells exactly where the last record begins.
  const head = Buffer.from(message);
  head.writeUInt16BE(arcount - 1, 10);
  dnsPacket.decode(head);
  const offset = dnsPacket.decode.bytes;
  const owner = readName(message, offset);
  let p = owner.end;
  if (message.readUInt16BE(p) !== TYPE_TSIG) return undefined;
  p += 2 + 2 + 4; // type, class, TTL
  const rdlength = message.readUInt16BE(p);
  p += 2;
  if (p + rdlength !== message.length) throw new Error('TSIG record is not at the end of the message');
  const algorithm = readName(message, p);
  p = algorithm.end;
  const timeSigned = message.readUIntBE(p, 6);
  const fudge = message.readUInt16BE(p + 6);
  const macSize = message.readUInt16BE(p + 8);
  p += 10;
  const mac = message.subarray(p, p + macSize);
  p += macSize;
  const originalId = message.readUInt16BE(p);
  const error = message.readUInt16BE(p + 2);
  const otherLength = message.readUInt16BE(p + 4);
  const otherData = message.subarray(p + 6, p + 6 + otherLength);
  return { offset, keyName: owner.name, algorithm: algorithm.name, timeSigned, fudge, mac, originalId, error, otherData };
}

/** The outcome of checking a response's TSIG; the caller turns failures into errors. */
export type TsigCheck =
  | { status: 'verified' }
  | { status: 'unsigned' }
  /** The server could not verify our request (BADKEY, BADSIG) or our time (BADTIME). */
  | { status: 'server-error'; error: number; errorName: string }
  | { status: 'invalid'; reason: string };

/** Verifies a response to `request` (RFC 8945 §5.3); `now` checks the server's time stamp. */
export function verifyResponse(response: Buffer, key: TsigKey, request: SignedMessage, now: Date): TsigCheck {
  let tsig: TsigRecord | undefined;
  try {
    tsig = readTsig(response);
  } catch (error) {
    return { status: 'invalid', reason: `malformed TSIG record (${(error as Error).message})` };
  }
  if (!tsig) return { status: 'unsigned' };
  if (tsig.error !== 0) return { status: 'server-error', error: tsig.error, errorName: tsigErrorName(tsig.error) };
  if (normalizeName(tsig.keyName) !== key.name) return { status: 'invalid', reason: `signed with key "${tsig.keyName}", expected "${key.name}"` };
  if (normalizeName(tsig.algorithm) !== key.algorithm) return { status: 'invalid', reason: `signed with ${tsig.algorithm}, expected ${key.algorithm}` };
  // The MAC covers the message as it was before the TSIG RR was added, under the original ID.
  const unsigned = Buffer.from(response.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(response.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [uint16(request.mac.length), request.mac, unsigned, variablesToWire(tsig)]);
  // A truncated MAC (RFC 8945 §5.2.2.1) is at least 10 bytes and half the full length.
  const minimum = Math.max(10, Math.ceil(expected.length / 2));
  if (tsig.mac.length < minimum || tsig.mac.length > expected.length) return { status: 'invalid', reason: `MAC of ${tsig.mac.length} bytes` };
  if (!timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length))) {
    return { status: 'invalid', reason: 'MAC does not match (wrong secret or algorithm, or the response was altered)' };
  }
  const skew = Math.abs(Math.floor(now.getTime() / 1000) - tsig.timeSigned);
  if (skew > tsig.fudge) return { status: 'invalid', reason: `signed ${skew} s away from our clock (fudge ${tsig.fudge} s)` };
  return { status: 'verified' };
}
