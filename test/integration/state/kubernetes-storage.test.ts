// KubernetesStorage through @kubernetes/client-node against the Kubernetes API stand-in
// (test/helpers/k8s-standin.ts): the shared storage contract suite, then what only this backend
// has: which objects hold what (a certificate is one Secret and one ConfigMap, names valid for
// the API), resourceVersion conflicts re-read and retried, the 1 MiB object limit, 403 for a verb
// the Role does not grant, the bounded log with every entry also an Event, and the verbs used.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/core/clock.js';
import { isCertkeeperError } from '../../../src/core/errors.js';
import type { Storage } from '../../../src/state/storage/contract.js';
import { KubernetesStorage, type KubernetesStorageOptions } from '../../../src/state/storage/kubernetes/index.js';
import { objectName } from '../../../src/state/storage/kubernetes/names.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';
import { describeStorageContract } from '../../unit/state/storage-contract.js';

let k8s: K8sStandin;
let dir: string;
let kubeconfig: string;
let namespaces = 0;

beforeAll(async () => {
  k8s = await startK8sStandin();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-k8sstore-'));
  kubeconfig = k8s.kubeconfig(dir, 'default');
});
afterAll(async () => {
  await k8s?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const freshNamespace = (): string => `ns-${++namespaces}`;

function open(namespace: string, options: Partial<KubernetesStorageOptions> = {}): Promise<KubernetesStorage> {
  return KubernetesStorage.open({ kubeconfig, namespace, agentId: `agent-${namespace}`, lockPollMs: 50, ...options });
}

/** A clock whose waits never end: the holder's renewals stop as a frozen or killed process's would. */
const frozenClock: Clock = {
  now: () => new Date(),
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
    }),
};

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isCertkeeperError(error) ? error.code : `not a CertkeeperError: ${String(error)}`;
  }
  return 'fulfilled';
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describeStorageContract('Kubernetes API (stand-in)', async () => {
  const namespace = freshNamespace();
  const dead: Storage[] = [];
  return {
    open: () => open(namespace),
    openPollingOnly: (pollIntervalMs) => open(namespace, { notices: false, pollIntervalMs }),
    async takeLockAndDie(name, ttlMs) {
      const doomed = await open(namespace, { clock: frozenClock, agentId: 'doomed' });
      dead.push(doomed);
      await doomed.lock(name, { ttlMs, waitMs: 0 });
    },
    async dispose() {
      // A dead agent's close would release its lock; it must stay as a killed one leaves it.
      dead.length = 0;
    },
  };
});

describe('KubernetesStorage objects', () => {
  it('keeps a certificate in one Secret (material) and one ConfigMap (record, data, log), with DNS-1123 names', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    try {
      await store.put('certs/www/current', bytes('{}'));
      await store.put('certs/www/versions/20260101-01', bytes('pem'));
      await store.put('certs/www/record', bytes('{}'));
      await store.put('certs/www/data/acme.ari', bytes('{}'));
      await store.appendLog('history', { at: new Date(), subject: 'www', kind: 'renew', body: '{"result":"success"}' });
      await store.put('certs/Www_Odd.example/current', bytes('{}'));
      await store.put('accounts/abc123', bytes('key'));
      expect(
        k8s
          .objects('secrets', namespace)
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual(['certkeeper-account-abc123', 'certkeeper-cert-www', objectName('certkeeper', 'cert', 'Www_Odd.example')].sort());
      expect(k8s.objects('configmaps', namespace).map((o) => o.metadata.name)).toEqual(['certkeeper-record-www']);
      for (const kind of ['secrets', 'configmaps'] as const) {
        for (const object of k8s.objects(kind, namespace)) {
          expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
          expect(object.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'certkeeper', 'certkeeper.io/store': 'certkeeper' });
        }
      }
      expect(objectName('certkeeper', 'cert', 'Www_Odd.example')).toMatch(/^certkeeper-cert-www-odd-example-[0-9a-f]{10}$/);
      expect(objectName('certkeeper', 'cert', 'x'.repeat(128)).length).toBeLessThanOrEqual(63);
      // The log entry became an Event on the certificate's Secret.
      const events = k8s.objects('events', namespace);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ involvedObject: { kind: 'Secret', name: 'certkeeper-cert-www' }, reason: 'HistoryRenew', type: 'Normal' });
    } finally {
      await store.close();
    }
  });

  it('keeps the last 50 entries per certificate in its record object; every one is an Event', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    try {
      for (let i = 0; i < 60; i++)
        await store.appendLog('history', { at: new Date(Date.UTC(2026, 0, 1, 0, i)), subject: 'www', kind: 'renew', body: JSON.stringify({ i }) });
      const kept = await store.readLog('history', { subject: 'www' });
      expect(kept).toHaveLength(50);
      expect(JSON.parse(kept[0]!.body)).toEqual({ i: 59 });
      expect(JSON.parse(kept[49]!.body)).toEqual({ i: 10 });
      expect(k8s.objects('events', namespace)).toHaveLength(60);
    } finally {
      await store.close();
    }
  });

  it('re-reads and retries a write that lost a resourceVersion race to another key of the same object', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    try {
      const version = await store.put('certs/www/record', bytes('one'));
      k8s.conflictNext(3, 'configmaps');
      const before = k8s.requests.length;
      await store.put('certs/www/record', bytes('two'), { ifVersion: version });
      const conflicts = k8s.requests.slice(before).filter((r) => r.status === 409);
      expect(conflicts).toHaveLength(3);
      expect(new TextDecoder().decode((await store.get('certs/www/record'))!.value)).toBe('two');
    } finally {
      await store.close();
    }
  });

  it("writes from the object as last seen: a new object is one create; a stale view is re-read and keeps the other agent's keys", async () => {
    const namespace = freshNamespace();
    const a = await open(namespace);
    const b = await open(namespace);
    try {
      let before = k8s.requests.length;
      await a.put('certs/www/record', bytes('a1'));
      expect(k8s.requests.slice(before).map((r) => `${r.verb} ${r.kind} ${r.status}`)).toEqual(['create configmaps 201']);
      await b.put('certs/www/data/files', bytes('b1')); // same ConfigMap: a's view is now stale
      before = k8s.requests.length;
      await a.put('certs/www/record', bytes('a2'));
      expect(k8s.requests.slice(before).map((r) => `${r.verb} ${r.kind} ${r.status}`)).toEqual([
        'update configmaps 409',
        'get configmaps 200',
        'update configmaps 200',
      ]);
      const both = await b.getMany(['certs/www/record', 'certs/www/data/files']);
      expect([...both].map(([key, v]) => `${key}=${new TextDecoder().decode(v.value)}`).sort()).toEqual(['certs/www/data/files=b1', 'certs/www/record=a2']);
      // A delete decided on a stale view ("nothing there") is decided again on a fresh read.
      const c = await open(namespace);
      expect(await c.delete('certs/www/data/files')).toBe(true);
      expect(await a.get('certs/www/data/files')).toBeUndefined();
      await c.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses, before sending, an object past the 1 MiB limit; the stand-in refuses one sent anyway (422)', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    try {
      const error = await store.put('blobs/huge', new Uint8Array(900 * 1024)).catch((e: unknown) => e);
      expect(isCertkeeperError(error, 'STATE_IO')).toBe(true);
      expect((error as Error).message).toMatch(/1 MiB/);
      expect(await store.get('blobs/huge')).toBeUndefined();
      // What the API server itself does with a Secret whose data passes 1 MiB.
      const api = (await import('@kubernetes/client-node')).KubeConfig;
      const kc = new api();
      kc.loadFromFile(kubeconfig);
      const core = kc.makeApiClient((await import('@kubernetes/client-node')).CoreV1Api);
      const refused = await core
        .createNamespacedSecret({ namespace, body: { metadata: { name: 'big' }, data: { x: Buffer.alloc(1024 * 1024 + 1).toString('base64') } } })
        .catch((e: unknown) => e as { code?: number });
      expect((refused as { code?: number }).code).toBe(422);
      const twice = await core
        .createNamespacedSecret({ namespace, body: { metadata: { name: 'small' } } })
        .then(() => core.createNamespacedSecret({ namespace, body: { metadata: { name: 'small' } } }))
        .catch((e: unknown) => e as { code?: number; body?: string });
      expect((twice as { code?: number }).code).toBe(409);
      expect(String((twice as { body?: string }).body)).toMatch(/AlreadyExists/);
    } finally {
      await store.close();
    }
  });

  it("client-node's Watch still has the inactivity timeout the watcher raises (else an idle watch reconnects every 30 s)", async () => {
    const k8sLib = await import('@kubernetes/client-node');
    const kc = new k8sLib.KubeConfig();
    kc.loadFromFile(kubeconfig);
    expect(typeof (new k8sLib.Watch(kc) as unknown as { requestTimeoutMs?: unknown }).requestTimeoutMs).toBe('number');
  });

  it('a verb the Role does not grant is 403, a STATE_IO error naming the Role', async () => {
    const namespace = freshNamespace();
    const store = await open(namespace);
    try {
      k8s.allow([{ resources: ['secrets', 'configmaps', 'leases'], verbs: ['get', 'list', 'watch'] }]);
      const error = await store.put('certs/www/record', bytes('x')).catch((e: unknown) => e);
      expect(isCertkeeperError(error, 'STATE_IO')).toBe(true);
      expect((error as Error).message).toMatch(/HTTP 403.*cannot create resource "configmaps".*Role/);
      expect(await codeOf(store.get('certs/www/record'))).toBe('fulfilled');
    } finally {
      k8s.allow(undefined);
      await store.close();
    }
  });
});
