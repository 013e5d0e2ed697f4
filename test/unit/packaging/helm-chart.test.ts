// There is no helm binary here, so the chart is checked by reading it: Chart.yaml's fields,
// every `.Values.x` a template uses exists in values.yaml, values.yaml validates against
// values.schema.json (with a small JSON-schema checker below: the keywords the schema uses),
// the config the chart renders is a valid certkeeper config, and the alerts use real metrics.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { REPO } from '../../helpers/cli.js';

const CHART = path.join(REPO, 'charts/certkeeper');
const read = (file: string): string => readFileSync(path.join(CHART, file), 'utf8');
const templateFiles = readdirSync(path.join(CHART, 'templates'), { recursive: true, encoding: 'utf8' }).filter((file) => /\.(yaml|tpl|txt)$/.test(file));
const templates = Object.fromEntries(templateFiles.map((file) => [file, read(path.join('templates', file))]));
const values = parse(read('values.yaml')) as Record<string, unknown>;
const schema = JSON.parse(read('values.schema.json')) as JsonSchema;

// ---- a JSON-schema subset: type, properties, required, additionalProperties, items, enum, pattern, min/max ----

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  [key: string]: unknown;
}

const SUPPORTED = new Set([
  '$schema',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'minItems',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function validate(value: unknown, rule: JsonSchema, at = '$'): string[] {
  const problems: string[] = [];
  for (const keyword of Object.keys(rule)) if (!SUPPORTED.has(keyword)) problems.push(`${at}: schema keyword "${keyword}" is not checked by this test`);
  const actual = typeOf(value);
  if (rule.type) {
    const allowed = Array.isArray(rule.type) ? rule.type : [rule.type];
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number')))
      return [...problems, `${at}: is ${actual}, not ${allowed.join('|')}`];
  }
  if (rule.enum && !rule.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(rule.enum)}`);
  if (typeof value === 'string') {
    if (rule.pattern && !new RegExp(rule.pattern, 'u').test(value)) problems.push(`${at}: "${value}" does not match ${rule.pattern}`);
    if (rule.minLength !== undefined && value.length < rule.minLength) problems.push(`${at}: shorter than ${rule.minLength}`);
  }
  if (typeof value === 'number') {
    if (rule.minimum !== undefined && value < rule.minimum) problems.push(`${at}: ${value} < ${rule.minimum}`);
    if (rule.maximum !== undefined && value > rule.maximum) problems.push(`${at}: ${value} > ${rule.maximum}`);
  }
  if (Array.isArray(value)) {
    if (rule.minItems !== undefined && value.length < rule.minItems) problems.push(`${at}: fewer than ${rule.minItems} items`);
    if (rule.items) value.forEach((item, i) => problems.push(...validate(item, rule.items!, `${at}[${i}]`)));
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of rule.required ?? []) if (!(key in object)) problems.push(`${at}.${key}: is required`);
    for (const [key, child] of Object.entries(object)) {
      const property = rule.properties?.[key];
      if (property) problems.push(...validate(child, property, `${at}.${key}`));
      else if (rule.additionalProperties === false) problems.push(`${at}.${key}: is not allowed`);
      else if (typeof rule.additionalProperties === 'object') problems.push(...validate(child, rule.additionalProperties, `${at}.${key}`));
    }
  }
  return problems;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** What templates/_helpers.tpl "certkeeper.config" renders: values.config plus the keys the chart owns. */
function renderedConfig(chartValues: Record<string, unknown>, namespace = 'certkeeper', release = 'certkeeper'): Record<string, unknown> {
  const managed: Record<string, unknown> = { http: { listen: `0.0.0.0:${(chartValues.service as { port: number }).port}` } };
  // A state: in values.config (a store the replicas share) is the operator's; else state.type:
  // the cluster (no leader election: every replica takes part), or the file store on the pod's volume.
  const sharedState = Object.hasOwn(chartValues.config as object, 'state');
  const chartState = chartValues.state as { type: string; prefix: string };
  if (!sharedState && chartState.type === 'kubernetes')
    managed.state = { type: 'kubernetes', namespace, prefix: chartState.prefix || release.slice(0, 24).replace(/-$/, ''), localDir: '/var/lib/certkeeper' };
  else if (!sharedState) managed.stateDir = '/var/lib/certkeeper';
  if ((chartValues.replicaCount as number) > 1 && !sharedState && chartState.type === 'file') {
    const election = chartValues.leaderElection as { leaseName: string; leaseDuration: string; renewInterval: string };
    managed.ha = {
      kubernetes: { leaseName: election.leaseName || release, namespace, leaseDuration: election.leaseDuration, renewInterval: election.renewInterval },
    };
  }
  return { ...clone(chartValues.config as Record<string, unknown>), ...managed };
}

describe('charts/certkeeper', () => {
  it('Chart.yaml has the fields helm needs, and the appVersion of the package', () => {
    const chart = parse(read('Chart.yaml')) as Record<string, unknown>;
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'certkeeper', type: 'application', appVersion: pkg.version });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    expect(typeof chart.description).toBe('string');
  });

  it('every .Values path used in a template exists in values.yaml', () => {
    const used = new Set<string>();
    for (const text of Object.values(templates)) for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) used.add(match[1]!.slice(1));
    expect(used.size).toBeGreaterThan(30);
    const missing = [...used].filter((dotted) => {
      let node: unknown = values;
      for (const part of dotted.split('.')) {
        if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return true;
        node = (node as Record<string, unknown>)[part];
      }
      return false;
    });
    expect(missing).toEqual([]);
  });

  it('values.yaml validates against values.schema.json, and the schema refuses bad values', () => {
    expect(validate(values, schema)).toEqual([]);
    const bad: [string, (v: Record<string, any>) => void][] = [
      ['replicaCount 0', (v) => (v.replicaCount = 0)],
      ['pullPolicy', (v) => (v.image.pullPolicy = 'Sometimes')],
      ['unknown top-level key', (v) => (v.replicas = 2)],
      ['lease duration', (v) => (v.leaderElection.leaseDuration = 'fifteen')],
      ['IRSA role', (v) => (v.serviceAccount.irsaRoleArn = 'my-role')],
      ['credentials.env without key', (v) => (v.credentials.env = [{ name: 'X', secretName: 's' }])],
      ['service port', (v) => (v.service.port = 70000)],
    ];
    for (const [what, change] of bad) {
      const changed = clone(values) as Record<string, any>;
      change(changed);
      expect(validate(changed, schema).length, what).toBeGreaterThan(0);
    }
  });

  it('renders a valid certkeeper config: the kubernetes store by default (two replicas, no leader election), a file store with leader election', () => {
    const defaults = parseConfig(JSON.stringify(renderedConfig(values)), '/etc/certkeeper/certkeeper.yaml', { env: {} });
    expect(values.replicaCount).toBe(2);
    expect(defaults.state).toEqual({ type: 'kubernetes', namespace: 'certkeeper', prefix: 'certkeeper', localDir: '/var/lib/certkeeper', lockTtl: 120_000 });
    expect(defaults.daemon.http?.listen).toBe('0.0.0.0:9107');
    expect(defaults.daemon.ha).toBeUndefined();
    const fileStore = (v: Record<string, unknown>): Record<string, unknown> => ({ ...v, state: { type: 'file', prefix: '' } });
    const single = parseConfig(JSON.stringify(renderedConfig(fileStore({ ...clone(values), replicaCount: 1 }))), '/etc/certkeeper/certkeeper.yaml', {
      env: {},
    });
    expect(single.stateDir).toBe('/var/lib/certkeeper');
    expect(single.daemon.ha).toBeUndefined();
    const replicated: Record<string, unknown> = fileStore({ ...clone(values), replicaCount: 3 });
    (replicated.config as Record<string, unknown>).sinks = { ingress: { type: 'kubernetes-secret', namespace: 'web' } };
    const ha = parseConfig(JSON.stringify(renderedConfig(replicated)), '/etc/certkeeper/certkeeper.yaml', { env: {} });
    expect(ha.daemon.ha).toEqual({ kubernetes: { leaseName: 'certkeeper', namespace: 'certkeeper', leaseDuration: 15_000, renewInterval: 5_000 } });
    // With state: postgres the replicas share the store: no stateDir, no ha, each replica takes part.
    const shared: Record<string, unknown> = { ...clone(values), replicaCount: 3 };
    (shared.config as Record<string, unknown>).state = { type: 'postgres', url: 'postgres://certkeeper@db/certkeeper' };
    const pooled = parseConfig(JSON.stringify(renderedConfig(shared)), '/etc/certkeeper/certkeeper.yaml', { env: {} });
    expect(pooled.state).toMatchObject({ type: 'postgres', localDir: '/var/lib/certkeeper' });
    expect(pooled.daemon.ha).toBeUndefined();
    // The helper renders exactly these keys.
    expect(templates['_helpers.tpl']).toContain('$managed := dict "http" (dict "listen" (printf "0.0.0.0:%d"');
    expect(templates['_helpers.tpl']).toContain('$sharedState := hasKey .Values.config "state"');
    expect(templates['_helpers.tpl']).toContain('set $managed "stateDir" "/var/lib/certkeeper"');
    expect(templates['_helpers.tpl']).toContain(
      'set $managed "state" (dict "type" "kubernetes" "namespace" .Release.Namespace "prefix" (include "certkeeper.statePrefix" .) "localDir" "/var/lib/certkeeper")',
    );
    expect(templates['_helpers.tpl']).toContain('(eq .Values.state.type "file") | toString');
    expect(templates['_helpers.tpl']).toContain('"leaseName" (include "certkeeper.leaseName" .) "namespace" .Release.Namespace "leaseDuration"');
  });

  it('has every object the issue asks for, with balanced template blocks', () => {
    const kinds = Object.entries(templates)
      .filter(([file]) => file.endsWith('.yaml'))
      .flatMap(([, text]) => [...text.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]));
    for (const kind of [
      'Deployment',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'ConfigMap',
      'Service',
      'ServiceMonitor',
      'PrometheusRule',
      'PersistentVolumeClaim',
      'Pod',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    expect(templateFiles).toContain('NOTES.txt');
    expect(templateFiles).toContain(path.join('tests', 'test-healthz.yaml'));
    expect(templates[path.join('tests', 'test-healthz.yaml')]).toContain('helm.sh/hook: test');
    for (const [file, text] of Object.entries(templates)) {
      const opens = [...text.matchAll(/\{\{-?\s*(if|range|with|define)\b/g)].length;
      const ends = [...text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
      expect(ends, file).toBe(opens);
      const actionsOpen = (text.match(/\{\{/g) ?? []).length;
      const actionsClose = (text.match(/\}\}/g) ?? []).length;
      expect(actionsClose, file).toBe(actionsOpen);
    }
  });

  it('runs non-root with a read-only root filesystem, probes /healthz and /readyz, and mounts state, tmp and config', () => {
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(values.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const dockerUser = /^USER (\d+)/m.exec(readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'))?.[1];
    expect(String((values.podSecurityContext as { runAsUser: number }).runAsUser)).toBe(dockerUser);
    const deployment = templates['deployment.yaml']!;
    expect(deployment).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(deployment).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    for (const mount of ['/var/lib/certkeeper', '/tmp', '/etc/certkeeper/certkeeper.yaml']) expect(deployment).toContain(`mountPath: ${mount}`);
    expect(deployment).toContain('persistentVolumeClaim:');
    expect(deployment).toContain('emptyDir: {}');
    expect(deployment).toContain('secretKeyRef:');
    expect(templates['serviceaccount.yaml']).toContain('eks.amazonaws.com/role-arn');
  });

  it('grants exactly what the kubernetes-secret sink and leader election call (the store Role: kubernetes-chart-rbac.test.ts)', () => {
    const rbac = templates['rbac.yaml']!;
    expect(rbac).toContain('resources: ["secrets"]\n    verbs: ["get", "create", "update"]');
    expect(rbac).toContain('apiGroups: ["coordination.k8s.io"]\n    resources: ["leases"]\n    verbs: ["get", "create", "update"]');
    const outsideStore = rbac.replace(/# store-role-rules: begin[\s\S]*# store-role-rules: end/, '');
    expect(outsideStore).not.toMatch(/"(\*|delete|list|watch)"/);
    expect(rbac).not.toMatch(/"(\*|delete|patch)"/);
  });

  it('the values schema passes ajv in strict mode and accepts `global` (the chart as a subchart)', async () => {
    const { Ajv } = await import('ajv');
    const ajv = new Ajv({ strict: true, allErrors: true });
    const check = ajv.compile(schema);
    expect(check(values), JSON.stringify(check.errors)).toBe(true);
    expect(check({ ...clone(values), global: { imageRegistry: 'registry.example' } }), JSON.stringify(check.errors)).toBe(true);
    expect(check({ ...clone(values), extraEnv: [{ name: 'A', value: 'b' }] }), JSON.stringify(check.errors)).toBe(true);
    expect(check({ ...clone(values), extraEnv: [{ value: 'b' }] })).toBe(false);
    expect(check({ ...clone(values), state: { type: 'postgres' } })).toBe(false);
  });

  it('alerts on metrics the agent exports', () => {
    const rule = templates['prometheusrule.yaml']!;
    const exported = readFileSync(path.join(REPO, 'src/observe/metrics.ts'), 'utf8') + readFileSync(path.join(REPO, 'src/ha/index.ts'), 'utf8');
    const used = new Set([...rule.matchAll(/\b(certkeeper_[a-z_]+)\{/g)].map((m) => m[1]!));
    expect([...used].sort()).toEqual(
      [
        'certkeeper_certificate_expiration_timestamp_seconds',
        'certkeeper_certificate_ready',
        'certkeeper_config_last_reload_successful',
        'certkeeper_certificate_consecutive_failures',
        'certkeeper_leader',
      ].sort(),
    );
    for (const name of used) expect(exported, name).toContain(`'${name}'`);
    for (const alert of ['CertkeeperCertificateExpiringSoon', 'CertkeeperRenewalsFailing']) expect(rule).toContain(`alert: ${alert}`);
  });
});
