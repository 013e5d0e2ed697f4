// A stand-in for AWS Certificate Manager on a loopback port, speaking ACM's wire protocol (JSON 1.1:
// `POST /`, `x-amz-target: CertificateManager.<Op>`) well enough for @aws-sdk/client-acm. It keeps
// ACM's rules for ImportCertificate — the re-import rules above all — so a sink that skipped a
// pre-check would be caught here too. It checks no signature; only the region scope and, when
// given `accessKeyIds`, the access key. Test code, not shipped.
//
//   const acm = await startAcmStandin({ region: 'eu-west-1' });
//   new ACMClient({ region: 'eu-west-1', endpoint: acm.endpoint, credentials: TEST_AWS_CREDENTIALS })
//   acm.throttle(5)            next 5 requests answer ThrottlingException (the SDK tries 3 times)
//   acm.inject({ kind: 'error', operation: 'ImportCertificate', type: 'ValidationException', message: '…' })
//   acm.requests / acm.countOf('ImportCertificate') / acm.certificates()
//   await acm.stop()

import { X509Certificate, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type AcmOperation = 'ImportCertificate' | 'DescribeCertificate' | 'ListCertificates' | 'ListTagsForCertificate';

/** Static credentials for the SDK against a stand-in (it checks no signature, only the region scope). */
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'AKIACERTKEEPERTEST', secretAccessKey: 'certkeeper-test-secret' } as const;

/** The same as environment variables, for the default credential chain (in-process or a CLI child). */
export const TEST_AWS_ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

export interface AcmStandinOptions {
  /** The region this stand-in is (ARNs, and the SigV4 scope it accepts). Default us-east-1. */
  region?: string;
  /** Default 123456789012. */
  accountId?: string;
  /** ACM's clock: validity checks, ImportedAt, EXPIRED status. Default: real time. */
  now?: () => Date;
  /** ListCertificates returns at most this many per page, whatever MaxItems says (default 1000). */
  maxPageSize?: number;
  /** Access key ids ACM knows; a request signed with another answers UnrecognizedClientException
   *  (HTTP 400, as ACM does). Any signed request passes when absent. */
  accessKeyIds?: string[];
}

export interface AcmRecordedRequest {
  operation: string;
  /** The JSON body as sent (blobs stay base64). */
  body: Record<string, unknown>;
  /** The region of the SigV4 credential scope, when signed. */
  signingRegion: string | undefined;
  /** What the stand-in answered: 200, or the error's status and type. */
  status: number;
  errorType: string | undefined;
}

export interface AcmStoredCertificate {
  arn: string;
  certificatePem: string;
  chainPem: string;
  privateKeyPem: string;
  tags: { Key: string; Value?: string }[];
  /** ACM's format: colon-separated lower-case hex bytes. */
  serial: string;
  keyAlgorithm: string;
  importedAt: Date;
  inUseBy: string[];
  /** 1 after the first import; +1 per accepted re-import. */
  importCount: number;
}

export type AcmFault =
  /** The next `times` (default: every) matching requests fail with this AWS error. */
  | { kind: 'error'; operation?: AcmOperation; times?: number; type: string; message?: string; status?: number }
  /** A re-import answers success but keeps the old certificate (DescribeCertificate shows the old serial). */
  | { kind: 'stale-reimport'; times?: number };

export interface AcmStandin {
  /** http://127.0.0.1:<port> — the SDK's `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** Every request received, in order, including those answered with an injected fault. */
  readonly requests: AcmRecordedRequest[];
  countOf(operation: AcmOperation): number;
  certificates(): AcmStoredCertificate[];
  certificate(arn: string): AcmStoredCertificate | undefined;
  /** Puts a certificate in without ACM's checks (pre-existing certificates, decoys); returns its ARN. */
  seed(input: { certificatePem: string; privateKeyPem?: string; chainPem?: string; tags?: Record<string, string>; inUseBy?: string[] }): string;
  /** Associates the certificate with resources (load balancers, distributions), as InUseBy shows. */
  setInUse(arn: string, resources: string[]): void;
  /** The next `times` requests (of `operation`, or any) answer HTTP 400 ThrottlingException. */
  throttle(times: number, operation?: AcmOperation): void;
  inject(fault: AcmFault): void;
  clearFaults(): void;
  /** Closes the server and every connection it accepted. */
  stop(): Promise<void>;
}

const KEY_ALGORITHMS = new Set(['RSA_1024', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1', 'EC_secp521r1']);
const MAX_KEY_BYTES = 5120;

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function keyAlgorithmOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `RSA_${details?.modulusLength ?? 0}`;
  if (key.asymmetricKeyType === 'ec') {
    const curve = details?.namedCurve ?? '';
    return `EC_${curve}`;
  }
  return key.asymmetricKeyType ?? 'unknown';
}

/** ACM shows serials as colon-separated lower-case hex bytes, e.g. "0a:1b:2c". */
export function acmSerial(serialNumber: string): string {
  const hex = serialNumber.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  const even = hex.length % 2 ? `0${hex}` : hex;
  return even.match(/../g)!.join(':');
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function decodeBlob(value: unknown, member: string): string {
  if (typeof value !== 'string') {
    throw new AwsError('ValidationException', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return Buffer.from(value, 'base64').toString('utf8');
}

function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => part.slice(4));
}

function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
}

export async function startAcmStandin(options: AcmStandinOptions = {}): Promise<AcmStandin> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const now = options.now ?? (() => new Date());
  const maxPageSize = options.maxPageSize ?? 1000;
  const knownKeys = options.accessKeyIds ? new Set(options.accessKeyIds) : undefined;
  const store = new Map<string, AcmStoredCertificate>(); // insertion order = list order
  const requests: AcmRecordedRequest[] = [];
  let faults: (AcmFault & { remaining: number })[] = [];
  const sockets = new Set<Socket>();

  function newArn(): string {
    return `arn:aws:acm:${region}:${accountId}:certificate/${randomUUID()}`;
  }

  function find(arn: unknown): AcmStoredCertificate {
    if (typeof arn !== 'string' || !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/.+$/.test(arn)) {
      throw new AwsError('InvalidArnException', `String '${String(arn)}' is not a valid ARN.`);
    }
    const found = store.get(arn);
    if (!found) throw new AwsError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    return found;
  }

  /** The first injected error that matches, counted down; re-import faults are taken on re-import. */
  function takeError(operation: string): Extract<AcmFault, { kind: 'error' }> | undefined {
    for (const fault of faults) {
      if (fault.kind !== 'error' || fault.remaining <= 0) continue;
      if (fault.operation !== undefined && fault.operation !== operation) continue;
      fault.remaining--;
      return fault;
    }
    return undefined;
  }

  function status(cert: X509Certificate): string {
    return now().getTime() > new Date(cert.validTo).getTime() ? 'EXPIRED' : 'ISSUED';
  }

  // ---- ImportCertificate, with ACM's checks in roughly ACM's order ----

  function importCertificate(body: Record<string, unknown>): unknown {
    const certificatePem = decodeBlob(body.Certificate, 'certificate');
    const privateKeyPem = decodeBlob(body.PrivateKey, 'privateKey');
    const chainPem = body.CertificateChain === undefined ? '' : decodeBlob(body.CertificateChain, 'certificateChain');
    const arn = body.CertificateArn as string | undefined;
    const tags = (body.Tags as { Key: string; Value?: string }[] | undefined) ?? undefined;
    if (arn !== undefined && tags !== undefined) throw new AwsError('ValidationException', 'Tagging is not permitted on re-import.');
    const existing = arn === undefined ? undefined : find(arn);

    if (Buffer.byteLength(privateKeyPem, 'utf8') > MAX_KEY_BYTES) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at 'privateKey' failed to satisfy constraint: Member must have length less than or equal to ${MAX_KEY_BYTES}`,
      );
    }
    const leafBlocks = certificatePem.match(PEM_BLOCK) ?? [];
    if (leafBlocks.length !== 1) throw new AwsError('ValidationException', 'Unable to parse certificate. Please ensure the certificate is in PEM format.');
    let leaf: X509Certificate;
    let chain: X509Certificate[];
    try {
      leaf = new X509Certificate(leafBlocks[0]!);
      chain = (chainPem.match(PEM_BLOCK) ?? []).map((pem) => new X509Certificate(pem));
    } catch {
      throw new AwsError('ValidationException', 'Unable to parse certificate. Please ensure the certificate is in PEM format.');
    }
    if (chainPem.trim() !== '' && chain.length === 0) throw new AwsError('ValidationException', 'The certificate chain provided is not in a valid PEM format.');
    let key: KeyObject;
    try {
      if (/ENCRYPTED/.test(privateKeyPem)) throw new Error('encrypted');
      key = createPrivateKey(privateKeyPem);
    } catch {
      throw new AwsError('ValidationException', 'The private key is not supported.');
    }
    const algorithm = keyAlgorithmOf(leaf.publicKey);
    if (!KEY_ALGORITHMS.has(algorithm)) throw new AwsError('ValidationException', `The certificate key algorithm (${algorithm}) is not supported.`);
    const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(key)).equals(spki(leaf.publicKey)))
      throw new AwsError('ValidationException', 'The private key did not match the public key in the certificate.');
    const t = now().getTime();
    if (t < new Date(leaf.validFrom).getTime()) throw new AwsError('ValidationException', 'The certificate is not valid yet.');
    if (t > new Date(leaf.validTo).getTime()) throw new AwsError('ValidationException', 'The certificate has expired.');
    if (chain.length === 0 && !(leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey))) {
      throw new AwsError('ValidationException', 'The certificate is not self-signed; a certificate chain is required.');
    }
    const links = [leaf, ...chain];
    for (let i = 0; i + 1 < links.length; i++) {
      if (!links[i]!.checkIssued(links[i + 1]!) || !links[i]!.verify(links[i + 1]!.publicKey)) {
        throw new AwsError('ValidationException', 'Could not validate the certificate with the certificate chain.');
      }
    }

    if (existing) {
      if (existing.keyAlgorithm !== algorithm) {
        throw new AwsError(
          'ValidationException',
          `The certificate field 'Public Key Algorithm' must match: the existing certificate has ${existing.keyAlgorithm}, the new one ${algorithm}.`,
        );
      }
      const stale = faults.find((f) => f.kind === 'stale-reimport' && f.remaining > 0);
      if (stale) {
        stale.remaining--;
        return { CertificateArn: existing.arn };
      }
      Object.assign(existing, {
        certificatePem: leafBlocks[0]!,
        chainPem,
        privateKeyPem,
        serial: acmSerial(leaf.serialNumber),
        importedAt: now(),
        importCount: existing.importCount + 1,
      });
      return { CertificateArn: existing.arn }; // ARN, tags and InUseBy stay
    }

    const tagList = tags ?? [];
    if (tagList.length > 50) throw new AwsError('TooManyTagsException', 'The request contains too many tags.');
    for (const tag of tagList) {
      if (
        typeof tag.Key !== 'string' ||
        tag.Key.length === 0 ||
        tag.Key.length > 128 ||
        (tag.Value ?? '').length > 256 ||
        tag.Key.toLowerCase().startsWith('aws:')
      ) {
        throw new AwsError('InvalidTagException', `The tag '${String(tag.Key)}' is not valid.`);
      }
    }
    const created: AcmStoredCertificate = {
      arn: newArn(),
      certificatePem: leafBlocks[0]!,
      chainPem,
      privateKeyPem,
      tags: tagList.map((tag) => ({ Key: tag.Key, ...(tag.Value !== undefined ? { Value: tag.Value } : {}) })),
      serial: acmSerial(leaf.serialNumber),
      keyAlgorithm: algorithm,
      importedAt: now(),
      inUseBy: [],
      importCount: 1,
    };
    store.set(created.arn, created);
    return { CertificateArn: created.arn };
  }

  // ---- the read operations ----

  const seconds = (date: Date | string): number => new Date(date).getTime() / 1000;

  function describe(stored: AcmStoredCertificate): Record<string, unknown> {
    const cert = new X509Certificate(stored.certificatePem);
    const names = dnsNames(cert);
    const domain = commonName(cert) ?? names[0] ?? '';
    return {
      CertificateArn: stored.arn,
      DomainName: domain,
      SubjectAlternativeNames: names.length > 0 ? names : [domain],
      Serial: stored.serial,
      Subject: cert.subject.replace(/\n/g, ','),
      Issuer: commonName(new X509Certificate(stored.chainPem.match(PEM_BLOCK)?.[0] ?? stored.certificatePem)) ?? cert.issuer,
      ImportedAt: seconds(stored.importedAt),
      Status: status(cert),
      NotBefore: seconds(cert.validFrom),
      NotAfter: seconds(cert.validTo),
      KeyAlgorithm: stored.keyAlgorithm,
      InUseBy: [...stored.inUseBy],
      Type: 'IMPORTED',
      RenewalEligibility: 'INELIGIBLE',
    };
  }

  function listCertificates(body: Record<string, unknown>): unknown {
    const includes = (body.Includes ?? {}) as { keyTypes?: string[] };
    // As real ACM: without Includes.keyTypes only RSA_2048 certificates are listed.
    const keyTypes = new Set(includes.keyTypes && includes.keyTypes.length > 0 ? includes.keyTypes : ['RSA_2048']);
    const statuses = body.CertificateStatuses as string[] | undefined;
    const maxItems = typeof body.MaxItems === 'number' ? body.MaxItems : 1000;
    if (maxItems < 1 || maxItems > 1000)
      throw new AwsError('ValidationException', "Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000");
    let offset = 0;
    if (body.NextToken !== undefined) {
      const decoded = /^offset:(\d+)$/.exec(Buffer.from(String(body.NextToken), 'base64url').toString('utf8'));
      if (!decoded) throw new AwsError('InvalidArgsException', 'The NextToken is not valid.');
      offset = Number(decoded[1]);
    }
    const matching = [...store.values()].filter((stored) => {
      if (!keyTypes.has(stored.keyAlgorithm)) return false;
      return !statuses || statuses.includes(status(new X509Certificate(stored.certificatePem)));
    });
    const page = matching.slice(offset, offset + Math.min(maxItems, maxPageSize));
    const next = offset + page.length;
    return {
      CertificateSummaryList: page.map((stored) => {
        const detail = describe(stored);
        return {
          CertificateArn: stored.arn,
          DomainName: detail.DomainName,
          SubjectAlternativeNameSummaries: detail.SubjectAlternativeNames,
          HasAdditionalSubjectAlternativeNames: false,
          Status: detail.Status,
          Type: 'IMPORTED',
          KeyAlgorithm: stored.keyAlgorithm,
          InUse: stored.inUseBy.length > 0,
          NotBefore: detail.NotBefore,
          NotAfter: detail.NotAfter,
          ImportedAt: detail.ImportedAt,
        };
      }),
      ...(next < matching.length ? { NextToken: Buffer.from(`offset:${next}`).toString('base64url') } : {}),
    };
  }

  function handle(operation: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case 'ImportCertificate':
        return importCertificate(body);
      case 'DescribeCertificate':
        return { Certificate: describe(find(body.CertificateArn)) };
      case 'ListCertificates':
        return listCertificates(body);
      case 'ListTagsForCertificate':
        return { Tags: find(body.CertificateArn).tags.map((tag) => ({ ...tag })) };
      default:
        throw new AwsError('UnknownOperationException', `The stand-in does not implement ${operation}.`);
    }
  }

  function answer(response: ServerResponse, status: number, payload: unknown): void {
    const text = JSON.stringify(payload);
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    response.end(text);
  }

  async function onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('CertificateManager.') ? target.slice('CertificateManager.'.length) : target;
    const signingRegion = /Credential=[^/]+\/\d{8}\/([^/]+)\/acm\/aws4_request/.exec(String(request.headers.authorization ?? ''))?.[1];
    let body: Record<string, unknown> = {};
    const record: AcmRecordedRequest = { operation, body, signingRegion, status: 200, errorType: undefined };
    requests.push(record);
    try {
      if (request.method !== 'POST' || request.url !== '/')
        throw new AwsError('UnknownOperationException', `${request.method} ${request.url} is not an ACM request.`, 404);
      if (!target.startsWith('CertificateManager.')) throw new AwsError('UnknownOperationException', `Unknown target '${target}'.`);
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new AwsError('SerializationException', 'Expected content-type application/x-amz-json-1.1.');
      }
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new AwsError('SerializationException', 'The request body is not JSON.');
      }
      record.body = body;
      const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(request.headers.authorization ?? ''))?.[1];
      if (knownKeys && (accessKeyId === undefined || !knownKeys.has(accessKeyId))) {
        throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      if (signingRegion !== undefined && signingRegion !== region) {
        throw new AwsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${signingRegion}' (this is ${region}).`);
      }
      const fault = takeError(operation);
      if (fault) throw new AwsError(fault.type, fault.message ?? `Injected ${fault.type}.`, fault.status ?? 400);
      answer(response, 200, handle(operation, body));
    } catch (error) {
      const aws = error instanceof AwsError ? error : new AwsError('InternalFailure', (error as Error).message, 500);
      record.status = aws.status;
      record.errorType = aws.type;
      answer(response, aws.status, { __type: aws.type, message: aws.message });
    }
  }

  const server = createServer((request, response) => {
    onRequest(request, response).catch((error: unknown) => {
      if (!response.headersSent) answer(response, 500, { __type: 'InternalFailure', message: String(error) });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    accountId,
    requests,
    countOf: (operation) => requests.filter((r) => r.operation === operation).length,
    certificates: () => [...store.values()],
    certificate: (arn) => store.get(arn),
    seed(input) {
      const leaf = new X509Certificate(input.certificatePem);
      const stored: AcmStoredCertificate = {
        arn: newArn(),
        certificatePem: input.certificatePem,
        chainPem: input.chainPem ?? '',
        privateKeyPem: input.privateKeyPem ?? '',
        tags: Object.entries(input.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        serial: acmSerial(leaf.serialNumber),
        keyAlgorithm: keyAlgorithmOf(leaf.publicKey),
        importedAt: now(),
        inUseBy: [...(input.inUseBy ?? [])],
        importCount: 1,
      };
      store.set(stored.arn, stored);
      return stored.arn;
    },
    setInUse(arn, resources) {
      const stored = store.get(arn);
      if (!stored) throw new Error(`no certificate ${arn} in the ACM stand-in`);
      stored.inUseBy = [...resources];
    },
    throttle(times, operation) {
      faults.push({ kind: 'error', type: 'ThrottlingException', message: 'Rate exceeded', status: 400, remaining: times, ...(operation ? { operation } : {}) });
    },
    inject(fault) {
      faults.push({ ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults = [];
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
