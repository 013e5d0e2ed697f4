// A stand-in for the Kubernetes API server on a loopback HTTPS port (its certificate from the test
// CA, bearer-token auth), serving just what certkeeper calls: core/v1 Secrets, ConfigMaps and
// Events and coordination.k8s.io/v1 Leases — get, list (label selector), watch, create, replace —
// with the API server's rules that matter here: resourceVersion changes on every write, a replace
// naming an old resourceVersion is a 409 Conflict, a create of an existing name is 409
// AlreadyExists, a Secret's type is immutable (422), a Secret's or ConfigMap's data over 1 MiB is
// 422 and a request body over 3 MiB is 413 (etcd's limit), MicroTime fields need six fractional
// digits, and, once a test gives the allowed rules (`allow`, RBAC's verbs/resources/resourceNames),
// anything else is 403 Forbidden. Every request is recorded with its RBAC verb and resource
// (`used()`: what a Role must allow). Used through @kubernetes/client-node with a kubeconfig file
// from `kubeconfig()`. Test code, not shipped.
//
//   const k8s = await startK8sStandin();
//   const file = k8s.kubeconfig(dir, 'web');      KUBECONFIG=file, or the sink's `kubeconfig:`
//   k8s.seedSecret('web', { metadata: { name: 'x' }, type: 'Opaque', data: {} })
//   k8s.conflictNext(2)                          the next 2 replaces answer 409
//   k8s.allow([{ resources: ['secrets'], verbs: ['get'] }])   everything else: 403
//   k8s.object('secrets', 'web', 'x'); k8s.requests; k8s.used(); await k8s.stop()

import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { makeCertificate, testCa } from './certs.js';

export type K8sKind = 'secrets' | 'leases' | 'configmaps' | 'events';

/** An RBAC verb as the API server derives it from a request. */
export type K8sVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** One rule of a Role: `resourceNames` limits it to those names (as RBAC does, never a list, watch or create). */
export interface K8sRule {
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  type?: string;
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface K8sRequest {
  method: string;
  kind: K8sKind | undefined;
  namespace: string | undefined;
  name: string | undefined;
  status: number;
  /** The RBAC verb this request needs. */
  verb: K8sVerb;
  /** For writes: the holder a Lease body names. */
  holder?: string;
}

export interface K8sStandin {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly caPem: string;
  readonly token: string;
  readonly requests: K8sRequest[];
  /** Writes a kubeconfig for this server (namespace: the context's default) and returns its path. */
  kubeconfig(dir: string, namespace?: string, file?: string): string;
  object(kind: K8sKind, namespace: string, name: string): K8sObject | undefined;
  seedSecret(namespace: string, secret: K8sObject): K8sObject;
  /** The next `times` replaces (of `kind`, or any) answer 409 Conflict, as if someone wrote first. */
  conflictNext(times: number, kind?: K8sKind): void;
  /** The next `times` requests answer this status (e.g. 403, 500). */
  failNext(times: number, status: number, reason?: string): void;
  /** RBAC from now on: only what these rules allow, 403 for the rest; `undefined` allows everything again. */
  allow(rules: K8sRule[] | undefined): void;
  /** Every `verb resource` requested so far (whatever the answer), sorted: what a Role must allow. */
  used(): string[];
  /** Objects of a kind in a namespace. */
  objects(kind: K8sKind, namespace: string): K8sObject[];
  /** Open watch connections. */
  readonly watchers: number;
  stop(): Promise<void>;
}

const SERVER_NAME = 'kubernetes.certkeeper.test';
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** What the API server allows in a Secret's or ConfigMap's data (validation: "Too long"). */
export const K8S_DATA_LIMIT = 1024 * 1024;
/** etcd's request limit as the API server enforces it on a body (413). */
const BODY_LIMIT = 3 * 1024 * 1024;
const KINDS: Record<K8sKind, { apiVersion: string; kind: string }> = {
  secrets: { apiVersion: 'v1', kind: 'Secret' },
  configmaps: { apiVersion: 'v1', kind: 'ConfigMap' },
  events: { apiVersion: 'v1', kind: 'Event' },
  leases: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
};

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: K8sKind;
  namespace: string;
  version: number;
  object: K8sObject;
}

export async function startK8sStandin(options: { token?: string } = {}): Promise<K8sStandin> {
  const token = options.token ?? randomBytes(16).toString('hex');
  const ca = testCa();
  const tls = makeCertificate({ domains: [SERVER_NAME] });
  const store = new Map<string, K8sObject>();
  const requests: K8sRequest[] = [];
  let version = 1000;
  let conflicts: { times: number; kind: K8sKind | undefined } = { times: 0, kind: undefined };
  let failures: { times: number; status: number; reason: string } = { times: 0, status: 500, reason: 'InternalError' };
  let rules: K8sRule[] | undefined;
  const history: WatchEvent[] = [];
  const watching = new Set<{ kind: K8sKind; namespace: string; selector: Map<string, string>; send(event: WatchEvent): void }>();
  const changed = (type: WatchEvent['type'], kind: K8sKind, namespace: string, object: K8sObject): void => {
    const event: WatchEvent = { type, kind, namespace, version: Number(object.metadata.resourceVersion), object };
    history.push(event);
    for (const watcher of watching) if (watcher.kind === kind && watcher.namespace === namespace && selects(watcher.selector, object)) watcher.send(event);
  };
  const key = (kind: K8sKind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
  const nextVersion = (): string => String(++version);

  const server = createServer({ key: tls.keyPem, cert: tls.fullchainPem }, (request, response) => {
    void handle(request, response).catch((error: unknown) => status(response, 500, 'InternalError', String(error)));
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function status(response: ServerResponse, code: number, reason: string, message: string): void {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(body);
  }
  function send(response: ServerResponse, code: number, object: K8sObject): void {
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(JSON.stringify(object));
  }

  /** The body's text; undefined past etcd's request limit. */
  async function readText(request: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size <= BODY_LIMIT) chunks.push(chunk as Buffer);
    }
    return size > BODY_LIMIT ? undefined : Buffer.concat(chunks).toString('utf8');
  }

  function parse(text: string): K8sObject | undefined {
    if (!text) return undefined;
    try {
      return JSON.parse(text) as K8sObject;
    } catch {
      return undefined;
    }
  }

  /** What the real API server would refuse in a body (400/422), or undefined. */
  function invalid(kind: K8sKind, body: K8sObject, previous: K8sObject | undefined): { code: number; reason: string; message: string } | undefined {
    if (kind === 'secrets' || kind === 'configmaps') {
      const size = dataSize(kind, body);
      if (size > K8S_DATA_LIMIT)
        return {
          code: 422,
          reason: 'Invalid',
          message: `${KINDS[kind].kind} "${body.metadata.name}" is invalid: data: Too long: must have at most ${K8S_DATA_LIMIT} bytes`,
        };
    }
    if (kind === 'secrets') {
      for (const [field, value] of Object.entries(body.data ?? {})) {
        if (typeof value !== 'string' || !BASE64.test(value)) return { code: 400, reason: 'BadRequest', message: `data[${field}]: illegal base64 data` };
      }
      if (previous && (previous.type ?? 'Opaque') !== (body.type ?? 'Opaque'))
        return { code: 422, reason: 'Invalid', message: 'type: Invalid value: field is immutable' };
      // Like the API server: both keys must be there (they may be empty).
      if (body.type === 'kubernetes.io/tls' && (body.data?.['tls.crt'] === undefined || body.data['tls.key'] === undefined)) {
        return { code: 422, reason: 'Invalid', message: 'data[tls.crt] and data[tls.key]: Required value' };
      }
    } else if (kind === 'leases') {
      for (const field of ['acquireTime', 'renewTime']) {
        const value = body.spec?.[field];
        if (value !== undefined && (typeof value !== 'string' || !MICRO_TIME.test(value))) {
          return { code: 400, reason: 'BadRequest', message: `spec.${field}: parsing time ${JSON.stringify(value)} as RFC3339Micro failed` };
        }
      }
    }
    return undefined;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'https://localhost');
    const match =
      /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps|events)(?:\/([^/]+))?$/.exec(url.pathname) ??
      /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/(leases)(?:\/([^/]+))?$/.exec(url.pathname);
    const method = request.method ?? 'GET';
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb: K8sVerb =
      method === 'GET'
        ? match?.[3]
          ? 'get'
          : isWatch
            ? 'watch'
            : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : 'delete';
    const record = (code: number, holder?: string): void => {
      requests.push({
        method,
        verb,
        kind: match?.[2] as K8sKind | undefined,
        namespace: match?.[1],
        name: match?.[3],
        status: code,
        ...(holder !== undefined ? { holder } : {}),
      });
    };
    if (request.headers.authorization !== `Bearer ${token}`) {
      record(401);
      return status(response, 401, 'Unauthorized', 'Unauthorized');
    }
    if (failures.times > 0) {
      failures.times--;
      record(failures.status);
      return status(response, failures.status, failures.reason, `injected ${failures.status}`);
    }
    if (!match) {
      record(404);
      return status(response, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    const namespace = match[1]!;
    const kind = match[2] as K8sKind;
    const name = match[3];
    const { apiVersion, kind: kindName } = KINDS[kind];

    const text = await readText(request);
    if (text === undefined) {
      record(413);
      return status(response, 413, 'RequestEntityTooLarge', 'etcdserver: request is too large');
    }
    const body = parse(text);
    const holder = typeof body?.spec?.holderIdentity === 'string' ? body.spec.holderIdentity : undefined;

    // RBAC: the name a create is for is in its body, but RBAC never sees it (resourceNames cannot limit create).
    if (rules && !rules.some((rule) => allows(rule, verb, kind, verb === 'create' || verb === 'list' || verb === 'watch' ? undefined : name))) {
      record(403, holder);
      const group = kind === 'leases' ? 'coordination.k8s.io' : '';
      return status(
        response,
        403,
        'Forbidden',
        `${kind}${name ? ` "${name}"` : ''} is forbidden: User "system:serviceaccount:${namespace}:certkeeper" cannot ${verb} resource "${kind}" in API group "${group}" in the namespace "${namespace}"`,
      );
    }

    if (method === 'GET' && name) {
      const found = store.get(key(kind, namespace, name));
      record(found ? 200 : 404);
      if (!found) return status(response, 404, 'NotFound', `${kind} "${name}" not found`);
      return send(response, 200, found);
    }
    if (method === 'GET' && !name) {
      const selector = parseSelector(url.searchParams.get('labelSelector') ?? '');
      if (isWatch) {
        const from = Number(url.searchParams.get('resourceVersion') || version);
        if (history.length > 0 && from < history[0]!.version - 1) {
          record(410);
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(
            `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } })}\n`,
          );
          return;
        }
        record(200);
        response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        response.flushHeaders(); // as the API server does: the watch is open before its first event
        const watcher = {
          kind,
          namespace,
          selector,
          send(event: WatchEvent): void {
            response.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
          },
        };
        for (const event of history)
          if (event.version > from && event.kind === kind && event.namespace === namespace && selects(selector, event.object)) watcher.send(event);
        watching.add(watcher);
        const timeout = Number(url.searchParams.get('timeoutSeconds') || 0);
        const timer = timeout > 0 ? setTimeout(() => response.end(), timeout * 1000) : undefined;
        response.on('close', () => {
          if (timer) clearTimeout(timer);
          watching.delete(watcher);
        });
        return;
      }
      const items = [...store.entries()]
        .filter(([id]) => id.startsWith(`${kind}/${namespace}/`))
        .map(([, object]) => object)
        .filter((object) => selects(selector, object))
        .sort((x, y) => x.metadata.name.localeCompare(y.metadata.name));
      record(200);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ apiVersion, kind: `${kindName}List`, metadata: { resourceVersion: String(version) }, items }));
      return;
    }
    if (method === 'POST' && !name) {
      const objectName =
        body?.metadata?.name ??
        (typeof body?.metadata?.generateName === 'string' ? `${body.metadata.generateName}${randomBytes(3).toString('hex')}` : undefined);
      if (!body || !objectName) {
        record(400);
        return status(response, 400, 'BadRequest', 'metadata.name: Required value');
      }
      if (store.has(key(kind, namespace, objectName))) {
        record(409, holder);
        return status(response, 409, 'AlreadyExists', `${kind} "${objectName}" already exists`);
      }
      const problem = invalid(kind, body, undefined);
      if (problem) {
        record(problem.code, holder);
        return status(response, problem.code, problem.reason, problem.message);
      }
      const created: K8sObject = {
        ...body,
        apiVersion,
        kind: kindName,
        metadata: {
          ...body.metadata,
          name: objectName,
          namespace,
          uid: randomUUID(),
          resourceVersion: nextVersion(),
          creationTimestamp: new Date().toISOString(),
        },
      };
      store.set(key(kind, namespace, objectName), created);
      changed('ADDED', kind, namespace, created);
      record(201, holder);
      return send(response, 201, created);
    }
    if (method === 'PUT' && name) {
      const existing = store.get(key(kind, namespace, name));
      if (!body || body.metadata?.name !== name) {
        record(400, holder);
        return status(response, 400, 'BadRequest', 'the name of the object does not match the name on the URL');
      }
      if (!existing) {
        record(404, holder);
        return status(response, 404, 'NotFound', `${kind} "${name}" not found`);
      }
      const wanted = body.metadata.resourceVersion;
      const injected = conflicts.times > 0 && (conflicts.kind === undefined || conflicts.kind === kind);
      if (injected) conflicts.times--;
      if (injected || (wanted !== undefined && wanted !== '' && wanted !== existing.metadata.resourceVersion)) {
        if (injected) existing.metadata.resourceVersion = nextVersion(); // as if someone else wrote
        record(409, holder);
        return status(
          response,
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      const problem = invalid(kind, body, existing);
      if (problem) {
        record(problem.code, holder);
        return status(response, problem.code, problem.reason, problem.message);
      }
      const replaced: K8sObject = {
        ...body,
        apiVersion,
        kind: kindName,
        metadata: {
          ...body.metadata,
          name,
          namespace,
          uid: existing.metadata.uid,
          creationTimestamp: existing.metadata.creationTimestamp,
          resourceVersion: nextVersion(),
        },
      };
      store.set(key(kind, namespace, name), replaced);
      changed('MODIFIED', kind, namespace, replaced);
      record(200, holder);
      return send(response, 200, replaced);
    }
    if (method === 'DELETE' && name) {
      const existing = store.get(key(kind, namespace, name));
      if (!existing) {
        record(404);
        return status(response, 404, 'NotFound', `${kind} "${name}" not found`);
      }
      store.delete(key(kind, namespace, name));
      changed('DELETED', kind, namespace, { ...existing, metadata: { ...existing.metadata, resourceVersion: nextVersion() } });
      record(200);
      return send(response, 200, existing);
    }
    record(405);
    return status(response, 405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  return {
    url,
    caPem: ca.certPem,
    token,
    requests,
    kubeconfig(dir, namespace = 'default', file = 'kubeconfig.yaml') {
      const target = path.join(dir, file);
      const text = [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '  - name: standin',
        '    cluster:',
        `      server: ${url}`,
        `      certificate-authority-data: ${Buffer.from(ca.certPem).toString('base64')}`,
        `      tls-server-name: ${SERVER_NAME}`,
        'users:',
        '  - name: certkeeper',
        '    user:',
        `      token: ${token}`,
        'contexts:',
        '  - name: standin',
        '    context: { cluster: standin, user: certkeeper, namespace: ' + namespace + ' }',
        'current-context: standin',
        '',
      ].join('\n');
      writeFileSync(target, text, { mode: 0o600 });
      return target;
    },
    object(kind, namespace, name) {
      const found = store.get(key(kind, namespace, name));
      return found ? (JSON.parse(JSON.stringify(found)) as K8sObject) : undefined;
    },
    seedSecret(namespace, secret) {
      const seeded: K8sObject = {
        ...secret,
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { ...secret.metadata, namespace, uid: randomUUID(), resourceVersion: nextVersion() },
      };
      store.set(key('secrets', namespace, secret.metadata.name), seeded);
      return seeded;
    },
    allow(next) {
      rules = next;
    },
    used() {
      return [...new Set(requests.filter((r) => r.kind !== undefined).map((r) => `${r.verb} ${r.kind}`))].sort();
    },
    objects(kind, namespace) {
      return [...store.entries()].filter(([id]) => id.startsWith(`${kind}/${namespace}/`)).map(([, object]) => JSON.parse(JSON.stringify(object)) as K8sObject);
    },
    get watchers() {
      return watching.size;
    },
    conflictNext(times, kind) {
      conflicts = { times, kind };
    },
    failNext(times, code, reason = code === 403 ? 'Forbidden' : code >= 500 ? 'InternalError' : 'BadRequest') {
      failures = { times, status: code, reason };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        watching.clear();
        server.close(() => resolve());
      }),
  };
}

/** Equality-based label selectors (`a=b,c=d`), which is all certkeeper sends. */
function parseSelector(text: string): Map<string, string> {
  const selector = new Map<string, string>();
  for (const part of text.split(',').filter(Boolean)) {
    const [name, value] = part.split(/==?/);
    selector.set(name!.trim(), (value ?? '').trim());
  }
  return selector;
}

function selects(selector: Map<string, string>, object: K8sObject): boolean {
  for (const [name, value] of selector) if (object.metadata.labels?.[name] !== value) return false;
  return true;
}

function allows(rule: K8sRule, verb: K8sVerb, kind: K8sKind, name: string | undefined): boolean {
  if (!rule.resources.includes(kind) && !rule.resources.includes('*')) return false;
  if (!rule.verbs.includes(verb) && !rule.verbs.includes('*')) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) return name !== undefined && rule.resourceNames.includes(name);
  return true;
}

/** Bytes of a Secret's (decoded) or ConfigMap's data, as the API server's validation counts them. */
function dataSize(kind: K8sKind, body: K8sObject): number {
  let size = 0;
  for (const [field, value] of Object.entries(body.data ?? {})) {
    size += field.length + (kind === 'secrets' ? Buffer.from(String(value), 'base64').length : Buffer.byteLength(String(value)));
  }
  const binary = (body as { binaryData?: Record<string, string> }).binaryData ?? {};
  for (const [field, value] of Object.entries(binary)) size += field.length + Buffer.from(value, 'base64').length;
  return size;
}
