import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesGcmSealer, parseSealKey, plainSealer } from '../../../src/state/seal.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('sealing private keys at rest (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const sealer = aesGcmSealer(key);
  const secret = new TextEncoder().encode('-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n');

  it('round-trips, and the sealed bytes do not contain the plain text', () => {
    const sealed = sealer.seal('certs/www/versions/1', secret);
    expect(text(sealed)).not.toContain('PRIVATE KEY');
    expect(text(sealer.open('certs/www/versions/1', sealed))).toBe(text(secret));
  });

  it('uses a fresh nonce per write', () => {
    expect(Buffer.from(sealer.seal('k', secret)).equals(Buffer.from(sealer.seal('k', secret)))).toBe(false);
  });

  it('does not open under another storage key, another encryption key, or after tampering', () => {
    const sealed = sealer.seal('certs/www/versions/1', secret);
    expect(() => sealer.open('certs/api/versions/1', sealed)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => aesGcmSealer(randomBytes(32)).open('certs/www/versions/1', sealed)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const tampered = Uint8Array.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => sealer.open('certs/www/versions/1', tampered)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('reads a value stored before sealing was turned on; without a key, a sealed value is an error, not garbage', () => {
    expect(text(sealer.open('k', secret))).toBe(text(secret));
    expect(() => plainSealer.open('k', sealer.seal('k', secret))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('takes a key as 32 raw bytes, 64 hex digits or base64, and refuses anything else', () => {
    expect(parseSealKey(key, 'f')).toEqual(key);
    expect(parseSealKey(Buffer.from(`${key.toString('hex')}\n`), 'f')).toEqual(key);
    expect(parseSealKey(Buffer.from(`${key.toString('base64')}\n`), 'f')).toEqual(key);
    expect(() => parseSealKey(Buffer.from('too short'), 'f')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
