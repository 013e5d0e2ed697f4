// The kubernetes-secret sink through @kubernetes/client-node against the API stand-in on loopback
// HTTPS: what it writes, optimistic concurrency (409 → read again), and the ownership rules
// (a foreign Secret is never overwritten unless adopt: true).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { CertkeeperError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseCertificate } from '../../../src/core/x509.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { memorySinkState, type DeployRequest, type Sink } from '../../../src/sinks/contract.js';
import { createSink, sinkConfigSchema } from '../../../src/sinks/registry.js';
import { makeCertificate, testCa } from '../../helpers/certs.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';

let k8s: K8sStandin;
let kubeconfig: string;

beforeAll(async () => {
  k8s = await startK8sStandin();
  kubeconfig = k8s.kubeconfig(mkdtempSync(path.join(tmpdir(), 'ck-k8s-')), 'web');
});
afterAll(async () => {
  await k8s?.stop();
});

function sink(extra: Record<string, unknown> = {}): Sink {
  const config = sinkConfigSchema.parse({ type: 'kubernetes-secret', kubeconfig, ...extra });
  return createSink(config, { name: 'k8s', clock: systemClock, logger: silentLogger, state: memorySinkState() });
}

function request(certName: string, material: CertificateMaterial = makeCertificate({ domains: [`${certName}.example.test`] })): DeployRequest {
  const info = parseCertificate(material.certPem);
  const paths = { cert: '/x/cert.pem', chain: '/x/chain.pem', fullchain: '/x/fullchain.pem', key: '/x/privkey.pem' };
  return { certName, domains: info.domains, serial: info.serial, notAfter: info.notAfter, material, paths };
}

const decode = (value: string | undefined): string => Buffer.from(value ?? '', 'base64').toString('utf8');

async function failure(promise: Promise<unknown>): Promise<CertkeeperError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(CertkeeperError);
  return error as CertkeeperError;
}

describe('kubernetes-secret sink', () => {
  it('creates a kubernetes.io/tls Secret (full chain, key, labels, annotations) in the context namespace, and replaces it on renewal', async () => {
    const first = request('www');
    const result = await sink().deploy(first);
    expect(result.detail).toBe('created Secret web/www-tls');
    const secret = k8s.object('secrets', 'web', 'www-tls')!;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(decode(secret.data!['tls.crt'])).toBe(first.material.fullchainPem);
    expect(decode(secret.data!['tls.key'])).toBe(first.material.keyPem);
    expect(secret.data!['ca.crt']).toBeUndefined();
    expect(secret.metadata.labels).toMatchObject({ 'certkeeper.io/name': 'www', 'app.kubernetes.io/managed-by': 'certkeeper' });
    expect(secret.metadata.annotations).toMatchObject({
      'certkeeper.io/name': 'www',
      'certkeeper.io/serial': first.serial,
      'certkeeper.io/not-after': first.notAfter.toISOString(),
      'certkeeper.io/domains': 'www.example.test',
    });

    // Someone adds a label and a key of their own; the renewal keeps them and bumps the version.
    k8s.seedSecret('web', {
      ...secret,
      metadata: { ...secret.metadata, labels: { ...secret.metadata.labels, team: 'web' } },
      data: { ...secret.data, extra: 'eA==' },
    });
    const before = k8s.object('secrets', 'web', 'www-tls')!.metadata.resourceVersion;
    const second = request('www');
    expect((await sink().deploy(second)).detail).toBe('replaced Secret web/www-tls');
    const renewed = k8s.object('secrets', 'web', 'www-tls')!;
    expect(decode(renewed.data!['tls.crt'])).toBe(second.material.fullchainPem);
    expect(renewed.data!.extra).toBe('eA==');
    expect(renewed.metadata.labels!.team).toBe('web');
    expect(renewed.metadata.annotations!['certkeeper.io/serial']).toBe(second.serial);
    expect(Number(renewed.metadata.resourceVersion)).toBeGreaterThan(Number(before));

    // The same certificate again writes nothing.
    const writes = k8s.requests.filter((r) => r.method !== 'GET').length;
    expect((await sink().deploy(second)).detail).toBe('unchanged Secret web/www-tls');
    expect(k8s.requests.filter((r) => r.method !== 'GET').length).toBe(writes);
  });

  it('writes ca.crt (the top of the chain), custom names, namespace, labels and annotations when configured', async () => {
    const deployed = request('Api_v2');
    await sink({ namespace: 'edge', secretName: 'tls-{cert}', includeCa: true, labels: { team: 'edge' }, annotations: { 'example.com/owner': 'ops' } }).deploy(
      deployed,
    );
    const secret = k8s.object('secrets', 'edge', 'tls-api-v2')!;
    expect(decode(secret.data!['ca.crt'])).toBe(testCa().certPem);
    expect(secret.metadata.labels).toMatchObject({ team: 'edge', 'certkeeper.io/name': 'Api_v2' });
    expect(secret.metadata.annotations).toMatchObject({ 'example.com/owner': 'ops', 'certkeeper.io/name': 'Api_v2' });
  });

  it('never overwrites a Secret it did not create, unless adopt: true (which keeps its other keys)', async () => {
    k8s.seedSecret('web', {
      metadata: { name: 'legacy-tls', labels: { app: 'legacy' } },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'b2xk', 'tls.key': 'b2xk', 'dhparam.pem': 'ZGg=' },
    });
    const refused = await failure(sink({ secretName: 'legacy-tls' }).deploy(request('legacy')));
    expect(refused.code).toBe('SINK_FAILED');
    expect(refused.retryable).toBe(false);
    expect(refused.message).toContain('not created by certkeeper');
    expect(refused.message).toContain('adopt: true');
    expect(decode(k8s.object('secrets', 'web', 'legacy-tls')!.data!['tls.crt'])).toBe('old');

    const adopted = request('legacy');
    expect((await sink({ secretName: 'legacy-tls', adopt: true }).deploy(adopted)).detail).toBe('adopted Secret web/legacy-tls');
    const secret = k8s.object('secrets', 'web', 'legacy-tls')!;
    expect(decode(secret.data!['tls.crt'])).toBe(adopted.material.fullchainPem);
    expect(secret.data!['dhparam.pem']).toBe('ZGg=');
    expect(secret.metadata.labels).toMatchObject({ app: 'legacy', 'certkeeper.io/name': 'legacy' });
    // From now on it is certkeeper's: a sink without adopt replaces it.
    expect((await sink({ secretName: 'legacy-tls' }).deploy(request('legacy'))).detail).toBe('replaced Secret web/legacy-tls');
  });

  it("refuses another certificate's Secret and a Secret of another type, even with adopt", async () => {
    await sink({ secretName: 'shared-tls' }).deploy(request('one'));
    const other = await failure(sink({ secretName: 'shared-tls', adopt: true }).deploy(request('two')));
    expect(other.message).toContain('holds certificate "one"');
    expect(other.retryable).toBe(false);

    k8s.seedSecret('web', { metadata: { name: 'opaque' }, type: 'Opaque', data: { password: 'cA==' } });
    const typed = await failure(sink({ secretName: 'opaque', adopt: true }).deploy(request('opaque')));
    expect(typed.message).toContain('has type Opaque');
    expect(k8s.object('secrets', 'web', 'opaque')!.data).toEqual({ password: 'cA==' });
  });

  it('reads again and retries when the Secret changed between read and replace (409), and gives up after 5 conflicts in a row', async () => {
    await sink({ secretName: 'busy-tls' }).deploy(request('busy'));
    k8s.conflictNext(2, 'secrets');
    const next = request('busy');
    expect((await sink({ secretName: 'busy-tls' }).deploy(next)).detail).toBe('replaced Secret web/busy-tls');
    expect(k8s.object('secrets', 'web', 'busy-tls')!.metadata.annotations!['certkeeper.io/serial']).toBe(next.serial);
    const busyPuts = k8s.requests.filter((r) => r.kind === 'secrets' && r.name === 'busy-tls' && r.method === 'PUT');
    expect(busyPuts.map((r) => r.status)).toEqual([409, 409, 200]);

    k8s.conflictNext(5, 'secrets');
    const fought = await failure(sink({ secretName: 'busy-tls' }).deploy(request('busy')));
    expect(fought.code).toBe('SINK_FAILED');
    expect(fought.retryable).toBe(true);
    expect(fought.message).toContain('5 conflicting writes');
  });

  it('reports refused permissions as not retryable, with the RBAC hint, and server errors as retryable', async () => {
    k8s.failNext(1, 403);
    const forbidden = await failure(sink({ secretName: 'denied-tls' }).deploy(request('denied')));
    expect(forbidden.code).toBe('SINK_FAILED');
    expect(forbidden.retryable).toBe(false);
    expect(forbidden.message).toContain('HTTP 403');
    expect(forbidden.message).toContain('Role/RoleBinding');
    expect(forbidden.message).toContain('sink "k8s"');

    k8s.failNext(1, 503);
    const unavailable = await failure(sink({ secretName: 'denied-tls' }).deploy(request('denied')));
    expect(unavailable.retryable).toBe(true);
  });

  it('rejects bad config: reserved keys, invalid names, unknown keys', () => {
    for (const bad of [
      { secretName: 'Has_Upper' },
      { namespace: 'Web' },
      { labels: { 'certkeeper.io/name': 'x' } },
      { annotations: { 'certkeeper.io/serial': 'x' } },
      { labels: { team: 'not a label value' } },
      { secret: 'x' },
    ]) {
      expect(sinkConfigSchema.safeParse({ type: 'kubernetes-secret', ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(sinkConfigSchema.parse({ type: 'kubernetes-secret' })).toEqual({
      type: 'kubernetes-secret',
      secretName: '{cert}-tls',
      includeCa: false,
      adopt: false,
      labels: {},
      annotations: {},
    });
  });
});
