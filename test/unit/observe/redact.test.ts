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

  it("censors secret fields at any depth, in arrays, errors and child bindings, without touching the caller's objects", () => {
    const lines: string[] = [];
    const { logger } = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => lines.push(line) } });
    const deep = { a: { b: { c: { d: { e: { password: 'deep-password' } } } } } };
    const listed = { targets: [{ name: 'ops', url: 'https://hooks.example/T000/B000/deep-url-token' }] };
    const error = Object.assign(new Error('the hook failed'), { code: 'HOOK_FAILED', details: { apiToken: 'error-detail-token' } });
    const child = logger.child({ provider: { type: 'rfc2136', tsigSecret: 'binding-secret' } });
    logger.info(deep, 'deep');
    logger.info(listed, 'listed');
    logger.error({ err: error }, 'errored');
    child.info('from the child');
    const all = lines.join('');
    for (const secret of ['deep-password', 'deep-url-token', 'error-detail-token', 'binding-secret']) expect(all).not.toContain(secret);
    const errored = JSON.parse(lines[2]!) as { err: { message: string; code: string; stack: string; details: { apiToken: string } } };
    expect(errored.err).toMatchObject({ message: 'the hook failed', code: 'HOOK_FAILED', details: { apiToken: '[REDACTED]' } });
    expect(errored.err.stack).toContain('the hook failed');
    expect(JSON.parse(lines[3]!)).toMatchObject({ provider: { type: 'rfc2136', tsigSecret: '[REDACTED]' }, msg: 'from the child' });
    // What the caller logged is left as it was.
    expect(deep.a.b.c.d.e.password).toBe('deep-password');
    expect(listed.targets[0]!.url).toContain('deep-url-token');
    expect(error.details.apiToken).toBe('error-detail-token');
  });
});
