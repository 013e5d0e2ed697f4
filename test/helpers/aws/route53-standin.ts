// A Route53 stand-in for tests (not shipped): the REST-XML API under /2013-04-01/ that the real
// @aws-sdk/client-route-53 talks to — ChangeResourceRecordSets, GetChange, ListHostedZonesByName,
// ListResourceRecordSets — plus STS AssumeRole (query protocol) for roleArn, on a free loopback
// port. Its public zones are also served over real DNS (UDP and TCP on another loopback port),
// from the record sets whose change is INSYNC, so Pebble can validate DNS-01 against it.
//
// Semantics kept from Route53: a batch is all-or-nothing; CREATE of an existing set and DELETE
// of anything but the exact current set fail with InvalidChangeBatch; TXT values must be quoted;
// changes are PENDING, then INSYNC after a configurable delay; listings start at a name and run
// on in reversed-label order; an unknown access key is InvalidClientTokenId and an operation its
// IAM policy does not allow is AccessDenied (both 403). Faults (Throttling,
// PriorRequestNotComplete, 5xx) on demand.
//
// Knobs for realistic load (issue 18), each also settable while running:
// - `changeDelay.ms`: how long a change stays PENDING before GetChange says INSYNC and DNS serves
//   it (Route53: typically up to 60 s; the incident benchmark uses 30 s).
// - `rateLimit.requestsPerSecond`: a token bucket over every Route53 operation (AWS: 5 per second
//   per account, bucket of `burst`, default the same number); a request above it answers HTTP 400
//   `Throttling` "Rate exceeded", as Route53 does. Off when absent.
// - `batchLimits`: ChangeResourceRecordSets' real quotas, on by default: at most 1,000
//   ResourceRecord elements and 32,000 characters of Value per request, an UPSERT counting both
//   twice; above either the request is refused with InvalidChangeBatch and nothing is applied.

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { child, childrenNamed, escapeXml, parseXml, textAt, toXml, type XmlElement, type XmlValue } from './xml.js';

const XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** The account the stand-in's IAM users live in (error messages only). */
const STANDIN_ACCOUNT_ID = '123456789012';

export interface StandinRecordSet {
  /** Absolute, e.g. `_acme-challenge.example.com` (a trailing dot is fine). */
  name: string;
  type: string;
  ttl: number;
  /** Presentation format as Route53 stores it: TXT values in quotes (`"abc"`). */
  values: string[];
}

export interface StandinZoneSpec {
  name: string;
  /** Bare id (`Z…`); random when absent. */
  id?: string;
  privateZone?: boolean;
  records?: StandinRecordSet[];
}

export interface ChangeDelay {
  /** Real milliseconds a change stays PENDING at least (default 0). */
  ms?: number;
  /** GetChange answers PENDING this many times at least (default 0). */
  pendingPolls?: number;
}

export interface Route53StandinOptions {
  zones?: StandinZoneSpec[];
  changeDelay?: ChangeDelay;
  /** Access key ids Route53 calls must be signed with; any signed request passes when absent.
   *  Keys handed out by AssumeRole are always accepted. */
  accessKeyIds?: string[];
  /** Per access key id, the only operations its IAM policy allows; any other answers 403
   *  AccessDenied, as Route53 does. Keys not listed may call every operation. */
  permissions?: Record<string, Route53Operation[]>;
  /** Throttling above this rate (see the header); none when absent. */
  rateLimit?: RateLimit | undefined;
  /** ChangeResourceRecordSets' quotas; Route53's own by default. */
  batchLimits?: BatchLimits;
}

export interface RateLimit {
  requestsPerSecond: number;
  /** Requests that may arrive at once after a quiet spell (default: requestsPerSecond). */
  burst?: number;
}

export interface BatchLimits {
  /** ResourceRecord elements per request, UPSERT counting twice (Route53: 1,000). */
  maxRecords: number;
  /** Characters summed over every Value, UPSERT counting twice (Route53: 32,000). */
  maxValueChars: number;
}

/** Route 53's documented ChangeResourceRecordSets quotas. */
export const ROUTE53_BATCH_QUOTAS: BatchLimits = { maxRecords: 1000, maxValueChars: 32_000 };

export interface StandinZone {
  id: string;
  name: string;
  privateZone: boolean;
}

export type Route53Operation = 'ChangeResourceRecordSets' | 'GetChange' | 'ListHostedZonesByName' | 'ListResourceRecordSets' | 'AssumeRole' | 'Unknown';

export interface RecordedRequest {
  operation: Route53Operation;
  method: string;
  /** Path without the query string, as sent. */
  path: string;
  query: Record<string, string>;
  body: string;
  /** From the SigV4 Authorization header. */
  accessKeyId: string | undefined;
  status: number;
  /** The error code answered, if any (injected faults included). */
  errorCode: string | undefined;
  /** Date.now() when it arrived. */
  at: number;
}

export interface RecordedChange {
  changeId: string;
  zoneId: string;
  submittedAt: number;
  actions: { action: string; name: string; type: string; ttl: number | undefined; values: string[] }[];
  /** The sets at the names this change touched, right after it was committed (absent: deleted). */
  after: StandinRecordSet[];
}

export interface FaultSpec {
  code: 'Throttling' | 'PriorRequestNotComplete' | 'InternalFailure' | 'ServiceUnavailable' | (string & {});
  /** How many requests answer with it. */
  count: number;
  /** Only this operation; every Route53 operation when absent. */
  operation?: Route53Operation;
  /** Default: 400 for Throttling / PriorRequestNotComplete, 500 InternalFailure, 503 ServiceUnavailable. */
  status?: number;
}

export interface AssumedRole {
  roleArn: string;
  sessionName: string;
  accessKeyId: string;
  /** The key that signed the AssumeRole request. */
  callerAccessKeyId: string | undefined;
}

export interface Route53Standin {
  /** `http://127.0.0.1:PORT`: the `endpoint` for the SDK (and for STS). */
  endpoint: string;
  /** `127.0.0.1:PORT` answering DNS for the public zones (UDP and TCP). */
  dnsAddress: string;
  readonly requests: RecordedRequest[];
  readonly changes: RecordedChange[];
  readonly assumedRoles: AssumedRole[];
  zones(): StandinZone[];
  /** The zone with this id, or the only public (else private) zone with this name. */
  zone(idOrName: string): StandinZone;
  addZone(spec: StandinZoneSpec): StandinZone;
  /** The committed set (what the API shows), by zone id or name. */
  recordSet(zone: string, name: string, type?: string): StandinRecordSet | undefined;
  /** Replaces a set directly (not through a change), e.g. a value another tool put there. */
  putRecordSet(zone: string, set: StandinRecordSet): void;
  /** The TXT strings DNS serves at `name` right now (each value's strings joined). */
  servedTxt(name: string): string[];
  /** Called after each request is answered, before the next one is read (tests change state here). */
  onRequest(listener: ((request: RecordedRequest) => void) | undefined): void;
  /** The next matching requests answer with this error instead. */
  injectFault(fault: FaultSpec): void;
  /** Limits what `accessKeyId` may call (undefined: everything), like `options.permissions`. */
  setPermissions(accessKeyId: string, operations: Route53Operation[] | undefined): void;
  clearFaults(): void;
  setChangeDelay(delay: ChangeDelay): void;
  setRateLimit(limit: RateLimit | undefined): void;
  stop(): Promise<void>;
}

interface StoredSet {
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

interface ZoneState extends StandinZone {
  callerReference: string;
  records: Map<string, StoredSet>;
  /** What DNS serves: the records as of the last INSYNC change. */
  served: Map<string, StoredSet>;
  /** The change `served` was copied from. */
  servedFrom?: ChangeState | undefined;
}

interface ChangeState {
  id: string;
  zoneId: string;
  submittedAt: number;
  pendingAnswers: number;
  status: 'PENDING' | 'INSYNC';
  snapshot: Map<string, StoredSet>;
  comment: string | undefined;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const FAULT_DEFAULTS: Record<string, { status: number; message: string }> = {
  Throttling: { status: 400, message: 'Rate exceeded' },
  PriorRequestNotComplete: { status: 400, message: 'The request was rejected because Route 53 was still processing a prior request.' },
  InternalFailure: { status: 500, message: 'An internal error occurred.' },
  ServiceUnavailable: { status: 503, message: 'Service Unavailable' },
};

/** Our form of a name: lower-case, no trailing dot, Route53's octal escapes undone. */
export function canonicalName(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
    .replace(/\.$/, '')
    .toLowerCase();
}

/** How Route53 writes a name in responses: trailing dot, `*` as `\052`. */
function route53Name(name: string): string {
  return `${name.replace(/\*/g, '\\052')}.`;
}

function reversedLabels(name: string): string {
  return name.split('.').reverse().join('.');
}

function setKey(name: string, type: string): string {
  return `${name}\u0000${type}`;
}

function isInZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

function randomId(prefix: string, length = 14): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return prefix + Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** The character-strings of a quoted TXT value; undefined when it is not a list of quoted strings. */
export function txtStrings(value: string): Buffer[] | undefined {
  const strings: Buffer[] = [];
  const text = value.trim();
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] !== '"') return undefined;
    i++;
    const bytes: number[] = [];
    let closed = false;
    while (i < text.length) {
      const char = text[i]!;
      if (char === '"') {
        closed = true;
        i++;
        break;
      }
      if (char === '\\') {
        const octal = /^[0-7]{3}/.exec(text.slice(i + 1, i + 4));
        if (octal) {
          bytes.push(parseInt(octal[0], 8));
          i += 4;
          continue;
        }
        if (i + 1 >= text.length) return undefined;
        bytes.push(...Buffer.from(text[i + 1]!));
        i += 2;
        continue;
      }
      bytes.push(...Buffer.from(char));
      i++;
    }
    if (!closed || bytes.length > 255) return undefined;
    strings.push(Buffer.from(bytes));
  }
  return strings.length > 0 ? strings : undefined;
}

function cloneSets(sets: Map<string, StoredSet>): Map<string, StoredSet> {
  return new Map([...sets].map(([key, set]) => [key, { ...set, values: [...set.values] }]));
}

function publicSet(set: StoredSet): StandinRecordSet {
  return { name: set.name, type: set.type, ttl: set.ttl, values: [...set.values] };
}

function parseQuery(search: URLSearchParams): Record<string, string> {
  return Object.fromEntries(search.entries());
}

function accessKeyOf(authorization: string | undefined): string | undefined {
  return authorization ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1] : undefined;
}

export async function startRoute53Standin(options: Route53StandinOptions = {}): Promise<Route53Standin> {
  const zones = new Map<string, ZoneState>();
  const changes = new Map<string, ChangeState>();
  const changeOrder: ChangeState[] = [];
  const requests: RecordedRequest[] = [];
  const recordedChanges: RecordedChange[] = [];
  const assumedRoles: AssumedRole[] = [];
  const faults: FaultSpec[] = [];
  let requestListener: ((request: RecordedRequest) => void) | undefined;
  let changeDelay: Required<ChangeDelay> = { ms: options.changeDelay?.ms ?? 0, pendingPolls: options.changeDelay?.pendingPolls ?? 0 };
  const acceptedKeys = options.accessKeyIds ? new Set(options.accessKeyIds) : undefined;
  const assumedKeys = new Set<string>();
  const permissions = new Map<string, Route53Operation[]>(Object.entries(options.permissions ?? {}));
  const batchLimits = options.batchLimits ?? ROUTE53_BATCH_QUOTAS;
  let rateLimit = options.rateLimit;
  /** The token bucket of `rateLimit`: tokens left and when it was last filled. */
  const bucket = { tokens: rateLimit?.burst ?? rateLimit?.requestsPerSecond ?? 0, at: Date.now() };

  function takeToken(): boolean {
    if (!rateLimit) return true;
    const now = Date.now();
    const capacity = rateLimit.burst ?? rateLimit.requestsPerSecond;
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * rateLimit.requestsPerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  function addZone(spec: StandinZoneSpec): StandinZone {
    const name = canonicalName(spec.name);
    const id = spec.id ?? randomId('Z', 19);
    if (zones.has(id)) throw new Error(`zone id ${id} already exists`);
    const records = new Map<string, StoredSet>();
    const put = (set: StoredSet): void => {
      records.set(setKey(set.name, set.type), set);
    };
    // Route53 creates these two sets with every zone.
    put({ name, type: 'SOA', ttl: 900, values: [`ns-1.standin-dns.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`] });
    put({ name, type: 'NS', ttl: 172800, values: ['ns-1.standin-dns.test.', 'ns-2.standin-dns.test.'] });
    for (const record of spec.records ?? []) {
      const recordName = canonicalName(record.name);
      if (!isInZone(recordName, name)) throw new Error(`${record.name} is not inside zone ${name}`);
      put({ name: recordName, type: record.type.toUpperCase(), ttl: record.ttl, values: [...record.values] });
    }
    const zone: ZoneState = { id, name, privateZone: spec.privateZone ?? false, callerReference: randomId('ref-', 8), records, served: cloneSets(records) };
    zones.set(id, zone);
    return { id, name, privateZone: zone.privateZone };
  }
  for (const spec of options.zones ?? []) addZone(spec);

  function findZone(idOrName: string): ZoneState {
    const byId = zones.get(idOrName.replace(/^\/?hostedzone\//, ''));
    if (byId) return byId;
    const name = canonicalName(idOrName);
    const named = [...zones.values()].filter((zone) => zone.name === name);
    const chosen = named.find((zone) => !zone.privateZone) ?? named[0];
    if (!chosen) throw new Error(`no zone ${idOrName} in the Route53 stand-in`);
    return chosen;
  }

  /** Marks changes INSYNC whose delay is over (and every earlier one in the zone); updates DNS. */
  function settle(): void {
    const now = Date.now();
    for (const zone of zones.values()) {
      const zoneChanges = changeOrder.filter((change) => change.zoneId === zone.id);
      let lastDone = -1;
      zoneChanges.forEach((change, index) => {
        const due = now - change.submittedAt >= changeDelay.ms && change.pendingAnswers >= changeDelay.pendingPolls;
        if (change.status === 'INSYNC' || due) lastDone = index;
      });
      if (lastDone < 0) continue;
      for (const change of zoneChanges.slice(0, lastDone + 1)) change.status = 'INSYNC';
      // Copied once per change that goes INSYNC, not on every query (a thousand-record zone).
      if (zone.servedFrom === zoneChanges[lastDone]) continue;
      zone.servedFrom = zoneChanges[lastDone];
      zone.served = cloneSets(zoneChanges[lastDone]!.snapshot);
    }
  }

  // ---- HTTP API ----

  function xmlResponse(root: string, body: Record<string, XmlValue>, xmlns = XMLNS): string {
    const inner = Object.entries(body)
      .map(([key, value]) => toXml(key, value))
      .join('');
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${xmlns}">${inner}</${root}>`;
  }

  function errorBody(error: ApiError): string {
    const type = error.status >= 500 ? 'Receiver' : 'Sender';
    return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(
      error.message,
    )}</Message></Error><RequestId>${randomUUIDish()}</RequestId></ErrorResponse>`;
  }

  function operationOf(method: string, path: string, body: string): { operation: Route53Operation; zoneId?: string; changeId?: string } {
    if (method === 'POST' && (path === '/' || path === '') && /(^|&)Action=AssumeRole(&|$)/.test(body)) return { operation: 'AssumeRole' };
    const trimmed = path.replace(/\/$/, '');
    let match = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset$/.exec(trimmed);
    if (match)
      return {
        operation: method === 'POST' ? 'ChangeResourceRecordSets' : method === 'GET' ? 'ListResourceRecordSets' : 'Unknown',
        zoneId: decodeURIComponent(match[1]!),
      };
    match = /^\/2013-04-01\/change\/([^/]+)$/.exec(trimmed);
    if (match && method === 'GET') return { operation: 'GetChange', changeId: decodeURIComponent(match[1]!).replace(/^\/?change\//, '') };
    if (trimmed === '/2013-04-01/hostedzonesbyname' && method === 'GET') return { operation: 'ListHostedZonesByName' };
    return { operation: 'Unknown' };
  }

  function zoneOr404(id: string): ZoneState {
    const zone = zones.get(id.replace(/^\/?hostedzone\//, ''));
    if (!zone) throw new ApiError(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${id}`);
    return zone;
  }

  function changeResourceRecordSets(zoneId: string, body: string): string {
    const zone = zoneOr404(zoneId);
    let root: XmlElement;
    try {
      root = parseXml(body);
    } catch (error) {
      throw new ApiError(400, 'InvalidInput', `Could not parse the request body: ${(error as Error).message}`);
    }
    if (root.name !== 'ChangeResourceRecordSetsRequest') throw new ApiError(400, 'InvalidInput', `Unexpected root element ${root.name}`);
    const batch = child(root, 'ChangeBatch');
    const changeElements = childrenNamed(child(batch, 'Changes'), 'Change');
    if (changeElements.length === 0) throw new ApiError(400, 'InvalidInput', 'Invalid request: the ChangeBatch has no Changes');
    // The request's size is checked before anything in it (Route53: "InvalidChangeBatch").
    let recordCount = 0;
    let valueChars = 0;
    for (const element of changeElements) {
      const weight = textAt(element, 'Action') === 'UPSERT' ? 2 : 1;
      const values = childrenNamed(child(child(element, 'ResourceRecordSet'), 'ResourceRecords'), 'ResourceRecord').map(
        (record) => textAt(record, 'Value') ?? '',
      );
      recordCount += weight * values.length;
      valueChars += weight * values.reduce((sum, value) => sum + value.length, 0);
    }
    if (recordCount > batchLimits.maxRecords) throw new ApiError(400, 'InvalidChangeBatch', `[Number of records limit of ${batchLimits.maxRecords} exceeded.]`);
    if (valueChars > batchLimits.maxValueChars)
      throw new ApiError(400, 'InvalidChangeBatch', `[Number of characters limit of ${batchLimits.maxValueChars} in resource record values exceeded.]`);
    const next = cloneSets(zone.records);
    const problems: string[] = [];
    const actions: RecordedChange['actions'] = [];
    const touched = new Set<string>();
    for (const element of changeElements) {
      const action = textAt(element, 'Action') ?? '';
      const setElement = child(element, 'ResourceRecordSet');
      const rawName = textAt(setElement, 'Name') ?? '';
      const name = canonicalName(rawName);
      const type = (textAt(setElement, 'Type') ?? '').toUpperCase();
      const ttlText = textAt(setElement, 'TTL');
      const ttl = ttlText === undefined ? undefined : Number(ttlText);
      const values = childrenNamed(child(setElement, 'ResourceRecords'), 'ResourceRecord').map((record) => textAt(record, 'Value') ?? '');
      actions.push({ action, name, type, ttl, values });
      touched.add(setKey(name, type));
      const label = `[name='${route53Name(name)}', type='${type}']`;
      if (!['CREATE', 'DELETE', 'UPSERT'].includes(action))
        throw new ApiError(400, 'InvalidInput', `Invalid request: Action '${action}' is not one of CREATE, DELETE, UPSERT`);
      if (!name || !type) throw new ApiError(400, 'InvalidInput', 'Invalid request: ResourceRecordSet needs Name and Type');
      if (ttl === undefined || values.length === 0) {
        throw new ApiError(
          400,
          'InvalidInput',
          `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=${action}, Name=${rawName}, Type=${type}, SetIdentifier=null]`,
        );
      }
      if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) throw new ApiError(400, 'InvalidInput', `Invalid request: TTL ${ttlText} is out of range`);
      if (!isInZone(name, zone.name)) {
        problems.push(`RRSet with DNS name ${route53Name(name)} is not permitted in zone ${route53Name(zone.name)}`);
        continue;
      }
      if (type === 'TXT') {
        const bad = values.find((value) => txtStrings(value) === undefined);
        if (bad !== undefined) {
          problems.push(
            `Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with '${bad}''`,
          );
          continue;
        }
      }
      const duplicate = values.find((value, index) => values.indexOf(value) !== index);
      if (duplicate !== undefined) {
        problems.push(`Duplicate Resource Record: '${duplicate}'`);
        continue;
      }
      const key = setKey(name, type);
      const existing = next.get(key);
      if (action === 'CREATE') {
        if (existing) problems.push(`Tried to create resource record set ${label} but it already exists`);
        else next.set(key, { name, type, ttl, values });
      } else if (action === 'DELETE') {
        if (!existing) problems.push(`Tried to delete resource record set ${label} but it was not found`);
        else if (existing.ttl !== ttl || existing.values.length !== values.length || !existing.values.every((value) => values.includes(value))) {
          problems.push(`Tried to delete resource record set ${label} but the values provided do not match the current values`);
        } else next.delete(key);
      } else {
        next.set(key, { name, type, ttl, values });
      }
    }
    // A CNAME cannot share its name with any other set.
    for (const set of next.values()) {
      if (set.type !== 'CNAME') continue;
      const other = [...next.values()].find((candidate) => candidate.name === set.name && candidate.type !== 'CNAME');
      if (other && (touched.has(setKey(set.name, 'CNAME')) || touched.has(setKey(other.name, other.type)))) {
        problems.push(
          `RRSet of type ${set.type} with DNS name ${route53Name(set.name)} is not permitted because a conflicting RRSet of type ${other.type} with the same DNS name already exists in zone ${route53Name(zone.name)}`,
        );
      }
    }
    if (problems.length > 0) throw new ApiError(400, 'InvalidChangeBatch', `[${problems.join(', ')}]`);

    zone.records = next;
    const change: ChangeState = {
      id: randomId('C', 19),
      zoneId: zone.id,
      submittedAt: Date.now(),
      pendingAnswers: 0,
      status: 'PENDING',
      snapshot: cloneSets(next),
      comment: textAt(batch, 'Comment'),
    };
    changes.set(change.id, change);
    changeOrder.push(change);
    recordedChanges.push({
      changeId: change.id,
      zoneId: zone.id,
      submittedAt: change.submittedAt,
      actions,
      after: [...touched].flatMap((key) => {
        const set = next.get(key);
        return set ? [publicSet(set)] : [];
      }),
    });
    // A change with no delay is INSYNC at once (DNS serves it), but its first answer says PENDING as Route53's does.
    settle();
    return xmlResponse('ChangeResourceRecordSetsResponse', { ChangeInfo: changeInfo(change, 'PENDING') });
  }

  function changeInfo(change: ChangeState, status: string = change.status): Record<string, XmlValue> {
    return { Id: `/change/${change.id}`, Status: status, SubmittedAt: new Date(change.submittedAt).toISOString(), Comment: change.comment };
  }

  function getChange(changeId: string): string {
    const change = changes.get(changeId);
    if (!change) throw new ApiError(404, 'NoSuchChange', `A change with the specified change ID does not exist: ${changeId}`);
    settle();
    if (change.status === 'PENDING') change.pendingAnswers++;
    return xmlResponse('GetChangeResponse', { ChangeInfo: changeInfo(change) });
  }

  function maxItems(query: Record<string, string>, fallback: number): number {
    if (query.maxitems === undefined) return fallback;
    const value = Number(query.maxitems);
    if (!Number.isInteger(value) || value < 1) throw new ApiError(400, 'InvalidInput', `Invalid maxitems: ${query.maxitems}`);
    return Math.min(value, fallback);
  }

  function listHostedZonesByName(query: Record<string, string>): string {
    const limit = maxItems(query, 100);
    if (query.hostedzoneid !== undefined && query.dnsname === undefined) throw new ApiError(400, 'InvalidInput', 'The hostedzoneid parameter requires dnsname');
    const dnsName = query.dnsname === undefined ? undefined : canonicalName(query.dnsname);
    if (dnsName !== undefined && (dnsName.length > 1024 || /\s/.test(dnsName)))
      throw new ApiError(400, 'InvalidDomainName', `Invalid domain name: ${query.dnsname}`);
    // Sorted by name with the labels reversed (com.example.www), then by id.
    const sorted = [...zones.values()].sort((a, b) => {
      const ka = reversedLabels(a.name);
      const kb = reversedLabels(b.name);
      return ka < kb ? -1 : ka > kb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    let start = 0;
    if (dnsName !== undefined) {
      const startKey = reversedLabels(dnsName);
      const startId = query.hostedzoneid?.replace(/^\/?hostedzone\//, '') ?? '';
      start = sorted.findIndex((zone) => {
        const key = reversedLabels(zone.name);
        return key > startKey || (key === startKey && zone.id >= startId);
      });
      if (start < 0) start = sorted.length;
    }
    const page = sorted.slice(start, start + limit);
    const next = sorted[start + limit];
    return xmlResponse('ListHostedZonesByNameResponse', {
      HostedZones: {
        HostedZone: page.map((zone) => ({
          Id: `/hostedzone/${zone.id}`,
          Name: route53Name(zone.name),
          CallerReference: zone.callerReference,
          Config: { PrivateZone: zone.privateZone },
          ResourceRecordSetCount: zone.records.size,
        })),
      },
      DNSName: query.dnsname,
      HostedZoneId: query.hostedzoneid,
      IsTruncated: next !== undefined,
      NextDNSName: next ? route53Name(next.name) : undefined,
      NextHostedZoneId: next?.id,
      MaxItems: limit,
    });
  }

  function listResourceRecordSets(zoneId: string, query: Record<string, string>): string {
    const zone = zoneOr404(zoneId);
    const limit = maxItems(query, 300);
    if (query.type !== undefined && query.name === undefined) throw new ApiError(400, 'InvalidInput', 'The type parameter requires name');
    // Sorted by name with the labels reversed (trailing dot included), then by type.
    const sortKey = (name: string): string => `${reversedLabels(name)}.`;
    const sorted = [...zone.records.values()].sort((a, b) => {
      const ka = sortKey(a.name);
      const kb = sortKey(b.name);
      return ka < kb ? -1 : ka > kb ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
    });
    let start = 0;
    if (query.name !== undefined) {
      const startKey = sortKey(canonicalName(query.name));
      const startType = query.type?.toUpperCase() ?? '';
      start = sorted.findIndex((set) => {
        const key = sortKey(set.name);
        return key > startKey || (key === startKey && set.type >= startType);
      });
      if (start < 0) start = sorted.length;
    }
    const page = sorted.slice(start, start + limit);
    const next = sorted[start + limit];
    return xmlResponse('ListResourceRecordSetsResponse', {
      ResourceRecordSets: {
        ResourceRecordSet: page.map((set) => ({
          Name: route53Name(set.name),
          Type: set.type,
          TTL: set.ttl,
          ResourceRecords: { ResourceRecord: set.values.map((value) => ({ Value: value })) },
        })),
      },
      IsTruncated: next !== undefined,
      NextRecordName: next ? route53Name(next.name) : undefined,
      NextRecordType: next?.type,
      MaxItems: limit,
    });
  }

  function assumeRole(body: string, caller: string | undefined): string {
    const form = new URLSearchParams(body);
    const roleArn = form.get('RoleArn') ?? '';
    const sessionName = form.get('RoleSessionName') ?? '';
    if (!roleArn || !sessionName) throw new ApiError(400, 'ValidationError', 'RoleArn and RoleSessionName are required');
    const accessKeyId = randomId('ASIA', 16);
    const duration = Number(form.get('DurationSeconds') ?? 3600);
    assumedRoles.push({ roleArn, sessionName, accessKeyId, callerAccessKeyId: caller });
    assumedKeys.add(accessKeyId);
    return xmlResponse(
      'AssumeRoleResponse',
      {
        AssumeRoleResult: {
          Credentials: {
            AccessKeyId: accessKeyId,
            SecretAccessKey: randomBytes(30).toString('base64'),
            SessionToken: randomBytes(60).toString('base64'),
            Expiration: new Date(Date.now() + duration * 1000).toISOString(),
          },
          AssumedRoleUser: {
            AssumedRoleId: `AROA${randomId('', 16)}:${sessionName}`,
            Arn: `${roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${sessionName}`,
          },
        },
        ResponseMetadata: { RequestId: randomUUIDish() },
      },
      STS_XMLNS,
    );
  }
  function takeFault(operation: Route53Operation): ApiError | undefined {
    if (operation === 'AssumeRole' || operation === 'Unknown') return undefined;
    const index = faults.findIndex((fault) => fault.count > 0 && (fault.operation === undefined || fault.operation === operation));
    if (index < 0) return undefined;
    const fault = faults[index]!;
    fault.count--;
    if (fault.count <= 0) faults.splice(index, 1);
    const defaults = FAULT_DEFAULTS[fault.code] ?? { status: 400, message: fault.code };
    return new ApiError(fault.status ?? defaults.status, fault.code, defaults.message);
  }

  function handle(
    method: string,
    url: URL,
    body: string,
    authorization: string | undefined,
  ): { status: number; body: string; operation: Route53Operation; errorCode?: string } {
    const { operation, zoneId, changeId } = operationOf(method, url.pathname, body);
    const query = parseQuery(url.searchParams);
    try {
      const accessKeyId = accessKeyOf(authorization);
      if (!accessKeyId) throw new ApiError(403, 'MissingAuthenticationToken', 'Missing Authentication Token');
      const fault = takeFault(operation);
      if (fault) throw fault;
      if (operation !== 'AssumeRole' && operation !== 'Unknown' && !takeToken()) throw new ApiError(400, 'Throttling', 'Rate exceeded');
      switch (operation) {
        case 'AssumeRole':
          return { status: 200, body: assumeRole(body, accessKeyId), operation };
        case 'Unknown':
          throw new ApiError(404, 'UnknownOperationException', `No operation at ${method} ${url.pathname}`);
        default:
          break;
      }
      if (acceptedKeys && !acceptedKeys.has(accessKeyId) && !assumedKeys.has(accessKeyId)) {
        throw new ApiError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      }
      const allowed = permissions.get(accessKeyId);
      if (allowed && !allowed.includes(operation)) {
        // IAM's wording; list operations are authorized on "*", the others on the zone or change.
        const resource =
          zoneId !== undefined
            ? `arn:aws:route53:::hostedzone/${zoneId.replace(/^\/?hostedzone\//, '')}`
            : changeId !== undefined
              ? `arn:aws:route53:::change/${changeId}`
              : '*';
        throw new ApiError(
          403,
          'AccessDenied',
          `User: arn:aws:iam::${STANDIN_ACCOUNT_ID}:user/${accessKeyId} is not authorized to perform: route53:${operation} on resource: ${resource} because no identity-based policy allows the route53:${operation} action`,
        );
      }
      switch (operation) {
        case 'ChangeResourceRecordSets':
          return { status: 200, body: changeResourceRecordSets(zoneId!, body), operation };
        case 'ListResourceRecordSets':
          return { status: 200, body: listResourceRecordSets(zoneId!, query), operation };
        case 'GetChange':
          return { status: 200, body: getChange(changeId!), operation };
        case 'ListHostedZonesByName':
          return { status: 200, body: listHostedZonesByName(query), operation };
      }
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, 'InternalFailure', (error as Error).message);
      return { status: apiError.status, body: errorBody(apiError), operation, errorCode: apiError.code };
    }
  }

  const httpServer = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(request.url ?? '/', 'http://standin');
      const authorization = request.headers.authorization;
      const result = handle(request.method ?? 'GET', url, body, authorization);
      const recorded: RecordedRequest = {
        operation: result.operation,
        method: request.method ?? 'GET',
        path: url.pathname,
        query: parseQuery(url.searchParams),
        body,
        accessKeyId: accessKeyOf(authorization),
        status: result.status,
        errorCode: result.errorCode,
        at: Date.now(),
      };
      requests.push(recorded);
      requestListener?.(recorded);
      response.writeHead(result.status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUIDish() });
      response.end(result.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  const httpPort = (httpServer.address() as net.AddressInfo).port;

  // ---- DNS ----

  let dns: DnsListener;
  try {
    dns = await listenDns((packet) => answer(packet));
  } catch (error) {
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    throw error;
  }

  /** The public zone serving `name` (longest match); private zones are not on the internet. */
  function servingZone(name: string): ZoneState | undefined {
    let best: ZoneState | undefined;
    for (const zone of zones.values()) {
      if (zone.privateZone || !isInZone(name, zone.name)) continue;
      if (!best || zone.name.length > best.name.length) best = zone;
    }
    return best;
  }

  function toAnswer(set: StoredSet, owner: string): Answer[] {
    return set.values.flatMap((value): Answer[] => {
      const base = { name: owner, ttl: set.ttl, class: 'IN' as const };
      switch (set.type) {
        case 'TXT': {
          const strings = txtStrings(value);
          return strings ? [{ ...base, type: 'TXT', data: strings }] : [];
        }
        case 'CNAME':
          return [{ ...base, type: 'CNAME', data: canonicalName(value) }];
        case 'NS':
          return [{ ...base, type: 'NS', data: canonicalName(value) }];
        case 'A':
          return [{ ...base, type: 'A', data: value }];
        case 'AAAA':
          return [{ ...base, type: 'AAAA', data: value }];
        case 'SOA': {
          const [mname, rname, serial, refresh, retry, expire, minimum] = value.split(/\s+/);
          return [
            {
              ...base,
              type: 'SOA',
              data: {
                mname: canonicalName(mname ?? ''),
                rname: canonicalName(rname ?? ''),
                serial: Number(serial),
                refresh: Number(refresh),
                retry: Number(retry),
                expire: Number(expire),
                minimum: Number(minimum),
              },
            },
          ];
        }
        default:
          return [];
      }
    });
  }

  function soaOf(zone: ZoneState): Answer[] {
    const soa = zone.served.get(setKey(zone.name, 'SOA'));
    return soa ? toAnswer(soa, zone.name) : [];
  }

  function answer(request: DecodedPacket): Packet {
    settle();
    const question = request.questions?.[0];
    const rd = (request.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const respond = (rcode: number, sections: Pick<Packet, 'answers' | 'authorities'> = {}, authoritative = true): Packet => ({
      type: 'response',
      id: request.id,
      flags: (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rd | rcode,
      questions: request.questions,
      ...sections,
    });
    if (!question || (((request.flags ?? 0) >> 11) & 0xf) !== 0 /* QUERY */) return respond(4 /* NOTIMP */, {}, false);
    const qname = canonicalName(question.name);
    const qtype = question.type;
    const zone = servingZone(qname);
    if (!zone) return respond(5 /* REFUSED */, {}, false);
    const answers: Answer[] = [];
    let name = qname;
    let current: ZoneState | undefined = zone;
    for (let hop = 0; hop < 8 && current; hop++) {
      const exact = current.served.get(setKey(name, qtype));
      if (exact) {
        answers.push(...toAnswer(exact, name));
        return respond(0, { answers });
      }
      const cname = qtype === 'CNAME' ? undefined : current.served.get(setKey(name, 'CNAME'));
      if (cname) {
        answers.push(...toAnswer(cname, name));
        name = canonicalName(cname.values[0] ?? '');
        current = servingZone(name);
        continue;
      }
      const exists = [...current.served.values()].some((set) => set.name === name || set.name.endsWith(`.${name}`));
      return respond(exists ? 0 : 3 /* NXDOMAIN */, { answers, authorities: soaOf(current) });
    }
    return respond(0, { answers });
  }

  return {
    endpoint: `http://127.0.0.1:${httpPort}`,
    dnsAddress: dns.address,
    requests,
    changes: recordedChanges,
    assumedRoles,
    zones: () => [...zones.values()].map(({ id, name, privateZone }) => ({ id, name, privateZone })),
    zone: (idOrName) => {
      const { id, name, privateZone } = findZone(idOrName);
      return { id, name, privateZone };
    },
    addZone,
    recordSet: (zone, name, type = 'TXT') => {
      const set = findZone(zone).records.get(setKey(canonicalName(name), type.toUpperCase()));
      return set ? publicSet(set) : undefined;
    },
    putRecordSet: (zoneRef, set) => {
      const zone = findZone(zoneRef);
      const name = canonicalName(set.name);
      const stored = { name, type: set.type.toUpperCase(), ttl: set.ttl, values: [...set.values] };
      zone.records.set(setKey(name, stored.type), stored);
      // Out of band, as if applied long ago: INSYNC at once (and so is every earlier change).
      changeOrder.push({
        id: randomId('C', 19),
        zoneId: zone.id,
        submittedAt: 0,
        pendingAnswers: 0,
        status: 'INSYNC',
        snapshot: cloneSets(zone.records),
        comment: undefined,
      });
      settle();
    },
    servedTxt: (name) => {
      settle();
      const canonical = canonicalName(name);
      const set = servingZone(canonical)?.served.get(setKey(canonical, 'TXT'));
      return set ? set.values.map((value) => Buffer.concat(txtStrings(value) ?? []).toString('utf8')) : [];
    },
    setPermissions: (accessKeyId, operations) => {
      if (operations) permissions.set(accessKeyId, [...operations]);
      else permissions.delete(accessKeyId);
    },
    onRequest: (listener) => {
      requestListener = listener;
    },
    injectFault: (fault) => {
      faults.push({ ...fault });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    setChangeDelay: (delay) => {
      changeDelay = { ms: delay.ms ?? 0, pendingPolls: delay.pendingPolls ?? 0 };
    },
    setRateLimit: (limit) => {
      rateLimit = limit;
      bucket.tokens = limit?.burst ?? limit?.requestsPerSecond ?? 0;
      bucket.at = Date.now();
    },
    stop: async () => {
      httpServer.closeAllConnections();
      await Promise.all([new Promise<void>((resolve) => httpServer.close(() => resolve())), dns.close()]);
    },
  };
}

function randomUUIDish(): string {
  return randomBytes(16)
    .toString('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
}

interface DnsListener {
  address: string;
  close(): Promise<void>;
}

/** UDP and TCP on one free loopback port, each query answered by `answer`. */
async function listenDns(answer: (packet: DecodedPacket) => Packet): Promise<DnsListener> {
  const respond = (raw: Buffer): Buffer | undefined => {
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(raw);
    } catch {
      return undefined; // not DNS: no answer, as a real server would do
    }
    return dnsPacket.encode(answer(packet));
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const sockets = new Set<net.Socket>();
    const tcp = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
          const raw = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
          buffer = buffer.subarray(2 + raw.length);
          const out = respond(raw);
          if (!out) continue;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(out.length);
          socket.write(Buffer.concat([length, out]));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      udp.close();
      continue;
    }
    udp.on('message', (raw, peer) => {
      const out = respond(raw);
      if (out) udp.send(out, peer.port, peer.address);
    });
    return {
      address: `127.0.0.1:${port}`,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
      },
    };
  }
  throw new Error('could not bind the Route53 stand-in DNS port');
}

/** Test credentials for the SDK's default chain (environment first), and no other source. */
export const TEST_ACCESS_KEY_ID = 'AKIACERTKEEPERTEST01';

export function awsTestEnv(accessKeyId = TEST_ACCESS_KEY_ID): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'certkeeper-test-secret-not-a-real-key',
    // Nothing from the developer's machine: no profile files, no instance metadata.
    AWS_CONFIG_FILE: '/nonexistent/certkeeper-test/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/certkeeper-test/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
