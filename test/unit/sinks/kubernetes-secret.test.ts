// The kubernetes-secret sink's pure parts: names, label values, the data keys, and how API
// errors become CertkeeperErrors. The wire behaviour is in test/integration/kubernetes/.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/core/errors.js';
import { kubeFailure, kubeMessage } from '../../../src/kube/client.js';
import { ownerOf, secretData } from '../../../src/sinks/kubernetes-secret/index.js';
import { labelValueFor, secretNameFor } from '../../../src/sinks/kubernetes-secret/schema.js';
import { makeCertificate, makeSelfSigned, testCa } from '../../helpers/certs.js';
import { REPO } from '../../helpers/cli.js';

const hash = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('kubernetes-secret sink helpers', () => {
  it('names the Secret from the template, lower-cased and without "_"', () => {
    expect(secretNameFor({ secretName: '{cert}-tls' }, 'www')).toBe('www-tls');
    expect(secretNameFor({ secretName: 'tls-{cert}' }, 'Api_V2')).toBe('tls-api-v2');
    expect(secretNameFor({ secretName: 'fixed' }, 'www')).toBe('fixed');
  });

  it('labels with the certificate name when it is a valid label value, else a shortened hashed form', () => {
    expect(labelValueFor('www', hash)).toBe('www');
    const long = `${'a'.repeat(70)}.example`;
    const value = labelValueFor(long, hash);
    expect(value.length).toBeLessThanOrEqual(63);
    expect(value).toMatch(/^a+-[0-9a-f]{8}$/);
    expect(labelValueFor('trailing-', hash)).toMatch(/^trailing-[0-9a-f]{8}$/);
    expect(labelValueFor(long, hash)).toBe(value); // stable
  });

  it('writes tls.crt as the full chain and tls.key; ca.crt only when asked and when there is a chain', () => {
    const material = makeCertificate({ domains: ['a.example'] });
    const data = secretData({ material }, false);
    expect(Object.keys(data).sort()).toEqual(['tls.crt', 'tls.key']);
    expect(Buffer.from(data['tls.crt']!, 'base64').toString()).toBe(material.fullchainPem);
    expect(Buffer.from(secretData({ material }, true)['ca.crt']!, 'base64').toString()).toBe(testCa().certPem);
    expect(secretData({ material: makeSelfSigned({ domains: ['b.example'] }) }, true)['ca.crt']).toBeUndefined();
  });

  it('tells its own Secrets by the label, and whose they are by the annotation', () => {
    expect(ownerOf({ metadata: { labels: { app: 'x' } } })).toBeUndefined();
    expect(ownerOf({ metadata: { labels: { 'certkeeper.io/name': 'www' } } })).toBe('www');
    expect(ownerOf({ metadata: { labels: { 'certkeeper.io/name': 'short-1234abcd' }, annotations: { 'certkeeper.io/name': 'the.long.name' } } })).toBe(
      'the.long.name',
    );
  });

  it('maps API errors: refusals are final, throttling, server and network errors are retryable', () => {
    const apiError = (code: number, message: string) =>
      Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: 'Status', message }) });
    const forbidden = kubeFailure(apiError(403, 'secrets "x" is forbidden'), 'SINK_FAILED', 'sink "k": read Secret web/x');
    expect(forbidden).toMatchObject({ code: 'SINK_FAILED', retryable: false });
    expect(forbidden.message).toBe(
      'sink "k": read Secret web/x failed: HTTP 403: secrets "x" is forbidden (forbidden: check the Role/RoleBinding of the service account)',
    );
    expect(describeError(forbidden)).toBe(forbidden.message); // the multi-line ApiException is not chained
    expect(kubeFailure(apiError(422, 'invalid'), 'SINK_FAILED', 'x').retryable).toBe(false);
    expect(kubeFailure(apiError(429, 'slow down'), 'SINK_FAILED', 'x').retryable).toBe(true);
    expect(kubeFailure(apiError(503, 'unavailable'), 'SINK_FAILED', 'x').retryable).toBe(true);
    const network = kubeFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'SINK_FAILED', 'x');
    expect(network.retryable).toBe(true);
    expect(network.message).toContain('ECONNREFUSED');
    expect(kubeMessage({ code: 500, body: 'plain text' })).toBe('plain text');
  });

  it('loads @kubernetes/client-node only on use: every static import of it is type-only', () => {
    const src = path.join(REPO, 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const users = files.filter((file) => readFileSync(path.join(src, file), 'utf8').includes('@kubernetes/client-node'));
    expect(users.length).toBeGreaterThan(0);
    for (const file of users) {
      const text = readFileSync(path.join(src, file), 'utf8');
      for (const line of text.split('\n').filter((l) => /^import\b.*['"]@kubernetes\/client-node['"]/.test(l))) expect(line, file).toMatch(/^import type /);
    }
  });
});
