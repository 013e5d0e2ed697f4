// examples/kubernetes/sidecar.yaml: the manifests parse, the certkeeper config inside the
// ConfigMap is valid and keeps its state in the cluster (the kubernetes store, with exactly the
// chart's Role), three replicas without leader election, and the pod wiring holds together
// (shared volumes, shared process namespace, one user for both containers so the reload signal
// is allowed, probes).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { chartStoreRoleRules } from '../../helpers/chart-rbac.js';
import { REPO } from '../../helpers/cli.js';

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
  securityContext?: { readOnlyRootFilesystem?: boolean };
}

const file = path.join(REPO, 'examples/kubernetes/sidecar.yaml');
const documents = parseAllDocuments(readFileSync(file, 'utf8'));
const objects = documents.map((doc) => {
  expect(doc.errors).toEqual([]);
  return doc.toJS() as {
    kind: string;
    metadata: { name: string };
    data?: Record<string, string>;
    spec?: Record<string, unknown>;
    rules?: unknown[];
    roleRef?: { name: string };
    subjects?: { kind: string; name: string }[];
  };
});
const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { replicas: number; template: { spec: PodSpec } } };
interface PodSpec {
  serviceAccountName: string;
  shareProcessNamespace: boolean;
  securityContext: { runAsUser: number; runAsNonRoot: boolean };
  containers: Container[];
  volumes: { name: string; configMap?: { name: string } }[];
}
const pod = { spec: deployment.spec.template.spec };
const container = (name: string): Container => pod.spec.containers.find((c) => c.name === name)!;
const mountOf = (c: Container, volume: string) => c.volumeMounts.find((m) => m.name === volume);

describe('examples/kubernetes/sidecar.yaml', () => {
  it('is a ServiceAccount with the store Role, a ConfigMap and a Deployment of 3 pods', () => {
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment']);
    expect(deployment.spec.replicas).toBe(3);
    const account = objects.find((o) => o.kind === 'ServiceAccount')!;
    const role = objects.find((o) => o.kind === 'Role')!;
    const binding = objects.find((o) => o.kind === 'RoleBinding')!;
    expect(pod.spec.serviceAccountName).toBe(account.metadata.name);
    // Exactly the chart's Role: what the store uses (kubernetes-chart-rbac.test.ts checks that against the API).
    expect(role.rules).toEqual(chartStoreRoleRules());
    expect(binding.roleRef?.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name }]);
  });

  it('embeds a valid certkeeper config whose files sink writes where nginx reads, then reloads nginx', () => {
    const config = parseConfig(configMap.data!['certkeeper.yaml']!, '/etc/certkeeper/certkeeper.yaml', {
      env: { TSIG_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' },
    });
    expect(config.state).toMatchObject({ type: 'kubernetes', prefix: 'web', localDir: '/var/lib/certkeeper' });
    expect(config.daemon.ha).toBeUndefined();
    expect(config.daemon.http?.listen).toBe('0.0.0.0:9107');
    const www = config.certificates.find((c) => c.name === 'www')!;
    expect(www.sinks).toEqual(['shared', 'reload-nginx']);
    const files = config.sinks.shared!;
    expect(files).toMatchObject({ type: 'files', dir: '/certs/{cert}' });
    const reload = config.sinks['reload-nginx']!;
    expect(reload.type).toBe('exec');
    const nginxConf = configMap.data!['nginx.conf']!;
    expect(nginxConf).toContain('ssl_certificate     /certs/www/fullchain.pem;');
    expect(nginxConf).toContain('ssl_certificate_key /certs/www/privkey.pem;');
    const pidFile = /^pid (\S+);$/m.exec(nginxConf)![1]!;
    expect(JSON.stringify(reload)).toContain(pidFile);
    expect(JSON.stringify(reload)).toContain('kill -HUP');
  });

  it('shares the certificate folder, the pid file and the process namespace, as one non-root user', () => {
    expect(pod.spec.shareProcessNamespace).toBe(true);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101 });
    const nginx = container('nginx');
    const certkeeper = container('certkeeper');
    expect(mountOf(nginx, 'certs')).toMatchObject({ mountPath: '/certs', readOnly: true });
    expect(mountOf(certkeeper, 'certs')?.mountPath).toBe('/certs'); // same path: the sink's symlinks resolve in both
    expect(mountOf(nginx, 'nginx-run')?.mountPath).toBe('/run/nginx');
    expect(mountOf(certkeeper, 'nginx-run')?.mountPath).toBe('/run/nginx');
    expect(mountOf(certkeeper, 'state')?.mountPath).toBe('/var/lib/certkeeper');
    expect(mountOf(certkeeper, 'config')).toMatchObject({ mountPath: '/etc/certkeeper/certkeeper.yaml', subPath: 'certkeeper.yaml' });
    expect(pod.spec.volumes.find((v) => v.name === 'config')?.configMap?.name).toBe(configMap.metadata.name);
    for (const c of [nginx, certkeeper]) expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(certkeeper.args).toEqual(['--config', '/etc/certkeeper/certkeeper.yaml', 'run']);
    expect(certkeeper.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(certkeeper.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(certkeeper.env?.find((e) => e.name === 'TSIG_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'certkeeper-tsig', key: 'secret' });
  });
});
