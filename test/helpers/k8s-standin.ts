// A stand-in for the Kubernetes API server on a loopback HTTPS port (its certificate from the test
// CA, bearer-token auth), serving just what certkeeper calls: core/v1 Secrets and
// coordination.k8s.io/v1 Leases — get, create, replace — with the API server's rules that matter
// here: resourceVersion changes on every write, a replace naming an old resourceVersion is a 409
// Conflict, a create of an existing name is 409 AlreadyExists, a Secret's type is immutable (422),
// and MicroTime fields need six fractional digits. Used through @kubernetes/client-node with a
// kubeconfig file from `kubeconfig()`. Test code, not shipped.
//
//   const k8s = await startK8sStandin();
//   const file = k8s.kubeconfig(dir, 'web');      KUBECONFIG=file, or the sink's `kubeconfig:`
//   k8s.seedSecret('web', { metadata: { name: 'x' }, type: 'Opaque', data: {} })
//   k8s.conflictNext(2)                          the next 2 replaces answer 409
//   k8s.object('secrets', 'web', 'x'); k8s.requests; await k8s.stop()

import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { makeCertificate, testCa } from './certs.js';

export type K8sKind = 'secrets' | 'leases';

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown };
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
  stop(): Promise<void>;
}

const SERVER_NAME = 'kubernetes.certkeeper.test';
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export async function startK8sStandin(options: { token?: string } = {}): Promise<K8sStandin> {
  const token = options.token ?? randomBytes(16).toString('hex');
  const ca = testCa();
  const tls = makeCertificate({ domains: [SERVER_NAME] });
  const store = new Map<string, K8sObject>();
  const requests: K8sRequest[] = [];
  let version = 1000;
  let conflicts: { times: number; kind: K8sKind | undefined } = { times: 0, kind: undefined };
  let failures: { times: number; status: number; reason: string } = { times: 0, status: 500, reason: 'InternalError' };
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

  async function readBody(request: IncomingMessage): Promise<K8sObject | undefined> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return undefined;
    try {
      return JSON.parse(text) as K8sObject;
    } catch {
      return undefined;
    }
  }

  /** What the real API server would refuse in a body (400/422), or undefined. */
  function invalid(kind: K8sKind, body: K8sObject, previous: K8sObject | undefined): { code: number; reason: string; message: string } | undefined {
    if (kind === 'secrets') {
      for (const [field, value] of Object.entries(body.data ?? {})) {
        if (typeof value !== 'string' || !BASE64.test(value)) return { code: 400, reason: 'BadRequest', message: `data[${field}]: illegal base64 data` };
      }
      if (previous && (previous.type ?? 'Opaque') !== (body.type ?? 'Opaque')) return { code: 422, reason: 'Invalid', message: 'type: Invalid value: field is immutable' };
      if (body.type === 'kubernetes.io/tls' && (!body.data?.['tls.crt'] || !body.data['tls.key'])) {
        return { code: 422, reason: 'Invalid', message: 'data[tls.crt] and data[tls.key]: Required value' };
      }
    } else {
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
      /^\/api\/v1\/namespaces\/([^/]+)\/(secrets)(?:\/([^/]+))?$/.exec(url.pathname) ??
      /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/(leases)(?:\/([^/]+))?$/.exec(url.pathname);
    const method = request.method ?? 'GET';
    const record = (code: number, holder?: string): void => {
      requests.push({ method, kind: match?.[2] as K8sKind | undefined, namespace: match?.[1], name: match?.[3], status: code, ...(holder !== undefined ? { holder } : {}) });
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
    const apiVersion = kind === 'secrets' ? 'v1' : 'coordination.k8s.io/v1';
    const kindName = kind === 'secrets' ? 'Secret' : 'Lease';

    if (method === 'GET' && name) {
      const found = store.get(key(kind, namespace, name));
      record(found ? 200 : 404);
      if (!found) return status(response, 404, 'NotFound', `${kind} "${name}" not found`);
      return send(response, 200, found);
    }
    if (method === 'POST' && !name) {
      const body = await readBody(request);
      const objectName = body?.metadata?.name;
      if (!body || !objectName) {
        record(400);
        return status(response, 400, 'BadRequest', 'metadata.name: Required value');
      }
      const holder = typeof body.spec?.holderIdentity === 'string' ? body.spec.holderIdentity : undefined;
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
        metadata: { ...body.metadata, name: objectName, namespace, uid: randomUUID(), resourceVersion: nextVersion(), creationTimestamp: new Date().toISOString() },
      };
      store.set(key(kind, namespace, objectName), created);
      record(201, holder);
      return send(response, 201, created);
    }
    if (method === 'PUT' && name) {
      const body = await readBody(request);
      const holder = typeof body?.spec?.holderIdentity === 'string' ? body.spec.holderIdentity : undefined;
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
        return status(response, 409, 'Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
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
        metadata: { ...body.metadata, name, namespace, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp, resourceVersion: nextVersion() },
      };
      store.set(key(kind, namespace, name), replaced);
      record(200, holder);
      return send(response, 200, replaced);
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
    conflictNext(times, kind) {
      conflicts = { times, kind };
    },
    failNext(times, code, reason = code === 403 ? 'Forbidden' : code >= 500 ? 'InternalError' : 'BadRequest') {
      failures = { times, status: code, reason };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
