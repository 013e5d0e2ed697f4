// The StateStore contract (the same suite the file store and PostgreSQL pass) on the repositories
// over the Kubernetes API stand-in, through @kubernetes/client-node; then what a cluster operator
// sees: a certificate is one Secret and one ConfigMap, and a config with `state.type: kubernetes`
// opens the store (openStateStore).

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { openStateStore } from '../../../src/state/open.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { stateSchema } from '../../../src/state/schema.js';
import { KubernetesStorage } from '../../../src/state/storage/kubernetes/index.js';
import { makeCertificate } from '../../helpers/certs.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';
import { stateStoreContract } from '../../unit/state/state-store-contract.js';

let k8s: K8sStandin;
let dir: string;
let kubeconfig: string;
let namespaces = 0;

beforeAll(async () => {
  k8s = await startK8sStandin();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-k8sstate-'));
  kubeconfig = k8s.kubeconfig(dir, 'default');
});
afterAll(async () => {
  await k8s?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

async function openStore(namespace: string, localDir: string, opened: KubernetesStorage[]): Promise<RepositoryStore> {
  const storage = await KubernetesStorage.open({ kubeconfig, namespace, agentId: `agent-${opened.length}`, lockPollMs: 50 });
  opened.push(storage);
  return new RepositoryStore({ storage, clock: systemClock, localDir });
}

stateStoreContract('repositories on the Kubernetes API (stand-in)', async () => {
  const namespace = `state-${++namespaces}`;
  const tmp = await fs.mkdtemp(path.join(dir, 'store-'));
  const opened: KubernetesStorage[] = [];
  return {
    store: await openStore(namespace, path.join(tmp, 'a'), opened),
    other: () => openStore(namespace, path.join(tmp, 'b'), opened),
    async close() {
      for (const storage of opened) await storage.close();
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
});

describe('state.type kubernetes', () => {
  it('opens from the config section, and a stored certificate is one Secret and one ConfigMap', async () => {
    const namespace = `state-${++namespaces}`;
    const state = stateSchema.parse({ type: 'kubernetes', namespace, kubeconfig, prefix: 'ck' });
    const store = await openStateStore({ state, agentId: 'agent-a', clock: systemClock, logger: silentLogger });
    try {
      const material = makeCertificate({ domains: ['www.example'] });
      await store.putCertificate('www', material, { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
      await store.putAccount({ directoryUrl: 'https://acme.test/dir', email: null, accountUrl: null, keyPem: material.keyPem });
      expect(
        k8s
          .objects('secrets', namespace)
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual([expect.stringMatching(/^ck-account-/), 'ck-cert-www']);
      expect((await store.getCertificate('www'))?.material.certPem).toBe(material.certPem);
    } finally {
      await store.storage.close();
    }
  });

  it('the certificate Secret is kubernetes.io/tls with the live material and its recorded details; a PEM changed behind our back is a mismatch', async () => {
    const namespace = `state-${++namespaces}`;
    const localDir = await fs.mkdtemp(path.join(dir, 'local-'));
    const opened: KubernetesStorage[] = [];
    const store = await openStore(namespace, localDir, opened);
    try {
      const first = makeCertificate({ domains: ['www.example'] });
      await store.putCertificate('www', first, { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
      const second = makeCertificate({ domains: ['www.example', 'api.example'] });
      const stored = await store.putCertificate('www', second, { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
      const secret = k8s.object('secrets', namespace, 'certkeeper-cert-www')!;
      expect(secret.type).toBe('kubernetes.io/tls');
      expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).toBe(second.fullchainPem);
      expect(Buffer.from(secret.data!['tls.key']!, 'base64').toString()).toBe(second.keyPem);
      expect(secret.metadata.annotations).toMatchObject({
        'certkeeper.io/serial': stored.info.serial,
        'certkeeper.io/domains': 'www.example,api.example',
        'certkeeper.io/not-after': stored.info.notAfter.toISOString(),
      });

      // Someone replaces the PEM (kubectl edit, another tool): the live version no longer matches.
      const other = makeCertificate({ domains: ['evil.example'] });
      k8s.seedSecret(namespace, {
        ...secret,
        data: { ...secret.data, 'tls.crt': Buffer.from(other.fullchainPem).toString('base64'), 'tls.key': Buffer.from(other.keyPem).toString('base64') },
      });
      const error = await store.getCertificate('www').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STATE_CORRUPT' });
      expect((error as Error).message).toMatch(/tls\.crt was changed outside certkeeper/);
      // Planning still reads the recorded details (peek), and the next certificate stored heals it.
      expect((await store.peekCertificate('www'))?.info.serial).toBe(stored.info.serial);
      await store.putCertificate('www', first, { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
      expect((await store.getCertificate('www'))?.material.certPem).toBe(first.certPem);
    } finally {
      for (const storage of opened) await storage.close();
    }
  });

  it('rejects a prefix or namespace that cannot name Kubernetes objects', () => {
    expect(stateSchema.safeParse({ type: 'kubernetes', prefix: 'Cert_Keeper' }).success).toBe(false);
    expect(stateSchema.safeParse({ type: 'kubernetes', namespace: 'Not A Namespace' }).success).toBe(false);
    expect(stateSchema.parse({ type: 'kubernetes' })).toMatchObject({ type: 'kubernetes', prefix: 'certkeeper' });
  });
});
