// Private keys sealed at rest (`encryptionKeyFile:`): AES-256-GCM from node:crypto, a fresh
// 96-bit nonce per write, and the storage key as additional data, so a sealed value copied onto
// another certificate's key does not open. Only values holding a private key are sealed; a
// database dump then shows certificates and records, but no key.
//
// A value that does not open is a configuration problem (CONFIG_INVALID: no key, or not the key
// the other agents use), never damage: damage makes the engine order afresh, and one agent with
// the wrong key would otherwise re-order certificates and mark them failing for all the others.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CertkeeperError } from '../core/errors.js';

const MAGIC = Buffer.from('CKS1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealer {
  seal(key: string, plain: Uint8Array): Uint8Array;
  /** Opens a sealed value; a value that was stored before sealing was turned on is returned as it is. */
  open(key: string, stored: Uint8Array): Uint8Array;
}

/** Values pass through unchanged: no encryptionKeyFile configured. */
export const plainSealer: Sealer = {
  seal: (_key, plain) => plain,
  open: (key, stored) => {
    if (isSealed(stored))
      throw new CertkeeperError('CONFIG_INVALID', `stored ${key} is sealed, and no state.encryptionKeyFile is configured to open it`, { retryable: false });
    return stored;
  },
};

function isSealed(value: Uint8Array): boolean {
  return value.length > MAGIC.length && Buffer.from(value.subarray(0, MAGIC.length)).equals(MAGIC);
}

/** A 32-byte key: the file holds 32 raw bytes, or 64 hex digits, or base64 of 32 bytes (a trailing newline is ignored). */
export function parseSealKey(content: Buffer, file: string): Buffer {
  if (content.length === 32) return content;
  const text = content.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length === 32 && /^[A-Za-z0-9+/]+=*$/.test(text)) return decoded;
  throw new CertkeeperError('CONFIG_INVALID', `${file} must hold a 256-bit key: 32 bytes, 64 hex digits or base64 (make one with: openssl rand -base64 32)`, {
    retryable: false,
  });
}

export function readSealKeyFile(file: string): Buffer {
  try {
    return parseSealKey(readFileSync(file), file);
  } catch (error) {
    if (error instanceof CertkeeperError) throw error;
    throw new CertkeeperError('CONFIG_INVALID', `cannot read the state encryption key ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      retryable: false,
    });
  }
}

export function aesGcmSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
  return {
    seal(storageKey, plain) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(storageKey));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([MAGIC, nonce, cipher.getAuthTag(), body]);
    },
    open(storageKey, stored) {
      if (!isSealed(stored)) return stored; // written before sealing was turned on; sealed at its next write
      const bytes = Buffer.from(stored);
      const nonce = bytes.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
      const tag = bytes.subarray(MAGIC.length + NONCE_BYTES, MAGIC.length + NONCE_BYTES + TAG_BYTES);
      const body = bytes.subarray(MAGIC.length + NONCE_BYTES + TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(Buffer.from(storageKey));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch (error) {
        throw new CertkeeperError(
          'CONFIG_INVALID',
          `stored ${storageKey} does not open with the configured state.encryptionKeyFile (another agent's key differs, or the value was altered)`,
          { cause: error, retryable: false },
        );
      }
    },
  };
}
