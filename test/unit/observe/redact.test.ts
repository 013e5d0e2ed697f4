import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observe/logger.js';

describe('log redaction', () => {
  it('never writes private keys or configured secrets, by field or by value', () => {
    const lines: string[] = [];
    const { logger, redactor } = createLogger({ level: 'trace', pretty: false, destination: { write: (line: string) => lines.push(line) } });
    const tsig = 'dGhpcy1pcy1hLXRzaWctc2VjcmV0';
    const eab = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';
    redactor.add([tsig, eab]);
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    logger.info({ tsigSecret: 'plain-field-secret', nested: { hmacKey: 'nested-field-secret' } }, 'fields');
    logger.debug({ material: { keyPem } }, 'a key in a field');
    logger.warn({ detail: `server said ${tsig}` }, `message mentioning ${eab}`);
    logger.error(`raw key in a message: ${keyPem}`);
    const all = lines.join('');
    expect(lines).toHaveLength(4);
    for (const secret of [tsig, eab, 'plain-field-secret', 'nested-field-secret', 'PRIVATE KEY', keyPem.split('\n')[1]!]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain('[REDACTED]');
  });
});
