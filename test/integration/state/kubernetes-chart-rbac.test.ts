// The chart's RBAC for the kubernetes store against what the store really calls: the default
// values' ServiceAccount and Role are rendered (test/helpers/chart-rbac.ts: no helm binary here),
// the API stand-in grants exactly that Role, a store goes through everything an agent does
// (certificates, records, accounts, history, locks, watch, status reads of a fleet), and the
// verbs the stand-in recorded must be exactly the ones the Role grants: nothing refused, nothing
// granted that is not used.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { systemClock } from '../../../src/core/clock.js';
import { RepositoryStore } from '../../../src/state/repository-store.js';
import { KubernetesStorage } from '../../../src/state/storage/kubernetes/index.js';
import { makeCertificate } from '../../helpers/certs.js';
import { chartStoreRoleRules, chartStoreRules, grantedVerbs, renderChartTemplate } from '../../helpers/chart-rbac.js';
import { REPO } from '../../helpers/cli.js';
import { startK8sStandin, type K8sStandin } from '../../helpers/k8s-standin.js';

let k8s: K8sStandin;
let dir: string;

beforeAll(async () => {
  k8s = await startK8sStandin();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-k8srbac-'));
});
afterAll(async () => {
  await k8s?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const values = parse(await fs.readFile(path.join(REPO, 'charts/certkeeper/values.yaml'), 'utf8')) as {
  replicaCount: number;
  state: { type: string };
  config: Record<string, unknown>;
  rbac: { create: boolean };
  serviceAccount: { create: boolean; annotations: Record<string, string>; irsaRoleArn: string };
};

/** The conditions of serviceaccount.yaml and rbac.yaml, evaluated for values.yaml as helm would. */
const conditions = {
  '.Values.serviceAccount.create': values.serviceAccount.create,
  'or .Values.serviceAccount.annotations .Values.serviceAccount.irsaRoleArn':
    Object.keys(values.serviceAccount.annotations).length > 0 || values.serviceAccount.irsaRoleArn !== '',
  '.Values.serviceAccount.annotations': Object.keys(values.serviceAccount.annotations).length > 0,
  '.Values.serviceAccount.irsaRoleArn': values.serviceAccount.irsaRoleArn !== '',
  '.Values.rbac.create': values.rbac.create,
  'and (gt (int .Values.replicaCount) 1) (include "certkeeper.leaderElection" . | eq "true")':
    values.replicaCount > 1 && values.state.type === 'file' && !('state' in values.config),
  'and (eq .Values.state.type "kubernetes") (not (hasKey .Values.config "state"))': values.state.type === 'kubernetes' && !('state' in values.config),
};

describe('the chart Role for the kubernetes store', () => {
  it('the default values render a ServiceAccount bound to a Role holding exactly the store rules', () => {
    expect(values.state.type).toBe('kubernetes');
    expect(values.replicaCount).toBe(2);
    const [account] = renderChartTemplate('serviceaccount.yaml', conditions);
    expect(account).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'certkeeper', namespace: 'certkeeper' } });
    const rbac = renderChartTemplate('rbac.yaml', conditions);
    // Default values: the sink's Secret role in the release namespace and the store role; no leader election.
    expect(rbac.map((doc) => `${String(doc.kind)} ${String((doc.metadata as { name: string }).name)}`)).toEqual([
      'Role certkeeper-secrets',
      'RoleBinding certkeeper-secrets',
      'Role certkeeper-state',
      'RoleBinding certkeeper-state',
    ]);
    const role = rbac[2] as { metadata: { namespace: string }; rules: unknown[] };
    expect(role.metadata.namespace).toBe('certkeeper');
    expect(role.rules).toEqual(chartStoreRoleRules());
    expect(rbac[3]).toMatchObject({
      roleRef: { kind: 'Role', name: 'certkeeper-state' },
      subjects: [{ kind: 'ServiceAccount', name: 'certkeeper', namespace: 'certkeeper' }],
    });
  });

  it('grants exactly the verbs the store uses, as the stand-in records them', async () => {
    const namespace = 'certkeeper';
    const kubeconfig = k8s.kubeconfig(dir, namespace);
    k8s.allow(chartStoreRules());
    const opened: KubernetesStorage[] = [];
    const open = async (agent: string): Promise<RepositoryStore> => {
      const storage = await KubernetesStorage.open({ kubeconfig, agentId: agent, lockPollMs: 50 });
      opened.push(storage);
      return new RepositoryStore({ storage, clock: systemClock, localDir: path.join(dir, agent) });
    };
    try {
      const a = await open('a');
      const b = await open('b');
      const seen: string[] = [];
      const unwatch = opened[1]!.watch('certs/', (key) => seen.push(key));
      const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
      for (const name of names) {
        const lock = await opened[0]!.lock(`cert/${name}`, { ttlMs: 10_000, waitMs: 0 });
        await a.putCertificate(name, makeCertificate({ domains: [`${name}.example`] }), { directoryUrl: 'https://acme.test/dir', issuedAt: new Date() });
        await a.putRecord(name, { ...(await a.getRecord(name)), consecutiveFailures: 0 });
        await a.appendHistory({
          at: new Date().toISOString(),
          cert: name,
          action: 'issue',
          result: 'success',
          serial: '01',
          notAfter: null,
          durationMs: 1,
          error: null,
        });
        await lock.release();
      }
      await a.putAccount({ directoryUrl: 'https://acme.test/dir', email: null, accountUrl: null, keyPem: makeCertificate({ domains: ['x.example'] }).keyPem });
      // status of the fleet from another agent (batched reads: lists), history, a certificate in full.
      expect((await b.peekCertificates(names)).size).toBe(names.length);
      expect((await b.getRecords(names)).size).toBe(names.length);
      expect((await b.readHistory({ limit: 5 })).length).toBe(5);
      expect((await b.getCertificate('c0'))?.info.domains).toEqual(['c0.example']);
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThan(0);
      unwatch();
    } finally {
      for (const storage of opened) await storage.close();
      k8s.allow(undefined);
    }
    expect(k8s.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(k8s.used()).toEqual(grantedVerbs());
  });
});
