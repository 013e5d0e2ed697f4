// The route53 provider: finds the hosted zone of a challenge name, and keeps the TXT set there
// as "what was there plus our value" — read, add or remove only ours, write the whole set back,
// wait until Route53 reports the change INSYNC. Writes to one name are serialized, because an
// apex and its wildcard present at the same name at once and a read-modify-write must not race.

import { throwIfAborted } from '../../../core/clock.js';
import { KeyedQueue } from '../../../core/keyed-queue.js';
import { CertkeeperError, isAbortError, isCertkeeperError, type ErrorCode } from '../../../core/errors.js';
import { formatDuration } from '../../../core/duration.js';
import { TxtBatchRejected, type DnsProvider, type TxtBatchAction, type TxtBatchLimits, type TxtBatchSupport, type TxtRecord } from '../../contract.js';
import type { DnsProviderContext } from '../../contract.js';
import { normalizeName } from '../../wire/message.js';
import { createRoute53Api, type HostedZoneSummary, type Route53Api, type TxtChange } from './api.js';
import { fromRoute53Name, quoteTxt, txtContent, zoneCandidates } from './records.js';
import type { Route53Config } from './schema.js';
import { propagationSettings } from '../../fields.js';

export { route53Schema, type Route53Config } from './schema.js';

/** The zone a record is written to; `name` is unknown when the id came from the config. */
export interface ZoneRef {
  id: string;
  name?: string | undefined;
}

/** Codes that mean "slow down or try again", whatever their HTTP status. */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'TimeoutError', 'RequestTimeout']);
const CREDENTIAL_CODES = new Set([
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'UnrecognizedClientException',
  'IncompleteSignature',
]);
const ACCESS_CODES = new Set(['AccessDenied', 'AccessDeniedException']);
/** Pages of zones that share one name (public, private, duplicates) before giving up. */
const MAX_ZONE_PAGES = 20;
/** Pages of 100 when listing every hosted zone (10,000 zones), and how long a listing is used. */
const MAX_LISTING_PAGES = 100;
const ZONE_LISTING_TTL_MS = 5 * 60_000;
const RETRY_BASE_DELAY_MS = 1000;
const RETRY_MAX_DELAY_MS = 20_000;

/**
 * ChangeResourceRecordSets' limits (Route 53 quotas): 1,000 ResourceRecord elements and 32,000
 * characters of Value per request, an UPSERT counting twice. Batches use CREATE and DELETE only.
 */
export const ROUTE53_BATCH_LIMITS: TxtBatchLimits = {
  maxRecords: 1000,
  maxCost: 32_000,
  cost: (record) => quoteTxt(record.value).length,
};

/** What an SDK error says, in the terms the provider decides on. */
export interface AwsFailure {
  code: string;
  message: string;
  httpStatus: number | undefined;
  requestId: string | undefined;
  retryable: boolean;
}

export function describeAwsError(error: unknown): AwsFailure {
  const facts = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  // The wire code (Code) when AWS answered; a socket error's errno code; else the SDK's class name.
  const code =
    typeof facts.Code === 'string'
      ? facts.Code
      : typeof facts.code === 'string' && NETWORK_CODES.has(facts.code)
        ? facts.code
        : typeof facts.name === 'string'
          ? facts.name
          : 'Error';
  const httpStatus = facts.$metadata?.httpStatusCode;
  const retryable = THROTTLING_CODES.has(code) || NETWORK_CODES.has(code) || (httpStatus !== undefined && (httpStatus >= 500 || httpStatus === 429));
  return {
    code,
    message: typeof facts.message === 'string' ? facts.message : String(error),
    httpStatus,
    requestId: facts.$metadata?.requestId,
    retryable,
  };
}

/** The wait before retry number `retry` (0-based): 1 s, 2 s, 4 s, … at most 20 s. */
export function retryDelayMs(retry: number): number {
  return Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** retry);
}

export class Route53Provider implements DnsProvider {
  readonly name: string;
  private api: Promise<Route53Api> | undefined;
  /** Zones found per record name, and zones per exact name, shared by every caller. */
  private readonly zoneByRecord = new Map<string, Promise<ZoneRef>>();
  private readonly zonesByName = new Map<string, Promise<HostedZoneSummary[]>>();
  /** The tail of the queue of writes per record name. */
  /** Writes to one name run one at a time (read, add, UPSERT must not interleave). */
  private readonly writes = new KeyedQueue();
  /** Zones by id, as zoneOf found them, for the batch writes' messages. */
  private readonly zoneRefs = new Map<string, ZoneRef>();
  /** Every hosted zone, for batches (zoneFromListing), and until when it is trusted. */
  private listing: { zones: Promise<HostedZoneSummary[]>; until: number } | undefined;
  /** The client's own pacing: a token bucket a little smaller and slower than Route53's (see pace()). */
  private readonly bucket = { tokens: Number.NaN, at: 0 };
  /** Many records in one ChangeResourceRecordSets per zone (dns/batcher.ts). */
  readonly batch: TxtBatchSupport;

  constructor(
    private readonly config: Route53Config,
    private readonly ctx: DnsProviderContext,
  ) {
    this.name = ctx.name;
    Object.assign(this, propagationSettings(config)); // the DnsProvider contract's propagation fields
    this.batch = {
      limits: ROUTE53_BATCH_LIMITS,
      windowMs: config.batchWindow,
      zoneOf: async (record, signal) => {
        const zone = await this.zoneFromListing(normalizeName(record.fqdn), signal);
        this.zoneRefs.set(zone.id, zone);
        return zone.id;
      },
      write: (action, zoneId, records, signal) => this.writeBatch(action, this.zoneRefs.get(zoneId) ?? { id: zoneId }, records, signal),
    };
  }

  /**
   * One change for many names in one zone: CREATE each name with its values (present) or DELETE
   * exactly those values (cleanup), then one INSYNC wait. A name whose set is not what the batch
   * assumes (it exists already; it holds other values too) makes Route53 refuse the whole batch,
   * naming it: TxtBatchRejected with those records, which the batcher writes one by one through
   * presentTxt/cleanupTxt (read, merge, UPSERT) while the rest go again as a batch.
   */
  private async writeBatch(action: TxtBatchAction, zone: ZoneRef, records: readonly TxtRecord[], signal: AbortSignal | undefined): Promise<void> {
    const byName = new Map<string, string[]>();
    for (const record of records) {
      const fqdn = normalizeName(record.fqdn);
      const values = byName.get(fqdn) ?? [];
      if (!values.includes(record.value)) values.push(record.value);
      byName.set(fqdn, values);
    }
    const changes: TxtChange[] = [...byName].map(([fqdn, values]) => ({
      action: action === 'present' ? 'CREATE' : 'DELETE',
      name: `${fqdn}.`,
      ttl: this.config.ttl,
      values: values.map(quoteTxt),
    }));
    const subject = changes.length === 1 && records.length === 1 ? `TXT ${normalizeName(records[0]!.fqdn)}` : `${records.length} TXT records`;
    const what = action === 'present' ? `adding ${subject} in ${describeZone(zone)}` : `removing ${subject} from ${describeZone(zone)}`;
    let changeId: string;
    try {
      changeId = (await this.call('ChangeResourceRecordSets', what, zone, (api) => api.changeTxtBatch(zone.id, changes, signal), signal)).changeId;
    } catch (error) {
      if (isCertkeeperError(error) && error.details?.awsErrorCode === 'InvalidChangeBatch') {
        // Route53 names each set it refused: [name='_acme-challenge.a.example.com.', type='TXT'].
        const refused = new Set([...String(describeAwsError(error.cause).message).matchAll(/name='([^']+)'/g)].map((match) => fromRoute53Name(match[1]!)));
        const culprits = records.filter((record) => refused.has(normalizeName(record.fqdn)));
        throw new TxtBatchRejected(error.message, culprits.length > 0 ? culprits : undefined, { cause: error, details: error.details });
      }
      throw error;
    }
    this.ctx.logger.debug(
      { provider: this.name, zoneId: zone.id, action, names: changes.length, records: records.length, changeId },
      'Route53 batch change submitted',
    );
    await this.waitInSync(changeId, zone, what, signal);
    this.ctx.logger.info(
      { provider: this.name, zoneId: zone.id, action, records: records.length, changeId },
      action === 'present' ? 'TXT records added' : 'TXT records removed',
    );
  }

  /**
   * Waits for a token: `requestsPerSecond` less 5 %, a burst of one second's worth less one after
   * a quiet spell. Route53's bucket is a second's worth, and a request may reach it later than it
   * was let go here (signing, connecting); the token and the 5 % of slack keep such bunching from
   * ever drawing a Throttling answer.
   */
  private async pace(signal: AbortSignal | undefined): Promise<void> {
    const rate = this.config.requestsPerSecond * 0.95;
    const capacity = Math.max(1, Math.floor(this.config.requestsPerSecond) - 1);
    for (;;) {
      const now = this.ctx.clock.now().getTime();
      const tokens = Number.isNaN(this.bucket.tokens) ? capacity : Math.min(capacity, this.bucket.tokens + ((now - this.bucket.at) / 1000) * rate);
      this.bucket.at = now;
      if (tokens >= 1) {
        this.bucket.tokens = tokens - 1;
        return;
      }
      this.bucket.tokens = tokens;
      await this.ctx.clock.sleep(Math.ceil(((1 - tokens) / rate) * 1000), signal);
    }
  }

  async presentTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    const fqdn = normalizeName(record.fqdn);
    const zone = await this.zoneFor(fqdn, signal);
    const what = `adding TXT ${fqdn} in ${describeZone(zone)}`;
    const change = await this.writes.run(fqdn, async () => {
      const current = await this.readTxtSet(zone, fqdn, what, signal);
      const values = current?.values ?? [];
      if (values.some((value) => txtContent(value) === record.value)) {
        this.ctx.logger.debug({ provider: this.name, zoneId: zone.id, fqdn }, 'TXT value already present');
        return undefined;
      }
      // Our TTL for the whole set: a sibling value is another challenge of ours or left-over.
      return this.submit(zone, { action: 'UPSERT', name: `${fqdn}.`, ttl: this.config.ttl, values: [...values, quoteTxt(record.value)] }, what, signal);
    });
    if (change === undefined) return;
    await this.waitInSync(change, zone, what, signal);
    this.ctx.logger.info({ provider: this.name, zoneId: zone.id, fqdn, changeId: change }, 'TXT record added');
  }

  async cleanupTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    const fqdn = normalizeName(record.fqdn);
    const zone = await this.zoneFor(fqdn, signal);
    const what = `removing TXT ${fqdn} from ${describeZone(zone)}`;
    const change = await this.writes.run(fqdn, async () => {
      // A DELETE must name the exact current set; if someone else changed it in between, read again once.
      for (let attempt = 1; ; attempt++) {
        const current = await this.readTxtSet(zone, fqdn, what, signal);
        const remainder = current?.values.filter((value) => txtContent(value) !== record.value);
        if (current === undefined || remainder === undefined || remainder.length === current.values.length) {
          this.ctx.logger.debug({ provider: this.name, zoneId: zone.id, fqdn }, 'TXT value already gone');
          return undefined;
        }
        const ttl = current.ttl ?? this.config.ttl;
        const change: TxtChange =
          remainder.length === 0
            ? { action: 'DELETE', name: current.name, ttl, values: current.values }
            : { action: 'UPSERT', name: current.name, ttl, values: remainder };
        try {
          return await this.submit(zone, change, what, signal);
        } catch (error) {
          const conflict = isCertkeeperError(error) && error.details?.awsErrorCode === 'InvalidChangeBatch' && change.action === 'DELETE';
          if (conflict && attempt < 2) continue;
          throw error;
        }
      }
    });
    if (change === undefined) return;
    await this.waitInSync(change, zone, what, signal);
    this.ctx.logger.info({ provider: this.name, zoneId: zone.id, fqdn, changeId: change }, 'TXT record removed');
  }

  private client(): Promise<Route53Api> {
    if (!this.api) {
      this.api = createRoute53Api(this.config, `certkeeper-${this.name}`.slice(0, 64));
      this.api.catch(() => (this.api = undefined));
    }
    return this.api;
  }

  /**
   * One API call with bounded retries on throttling and server errors (each attempt already
   * includes the SDK's own retries); anything else, or the last failure, becomes a CertkeeperError.
   */
  private async call<T>(
    operation: string,
    what: string,
    zone: ZoneRef | undefined,
    run: (api: Route53Api) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for (let retry = 0; ; retry++) {
      throwIfAborted(signal);
      await this.pace(signal);
      try {
        return await run(await this.client());
      } catch (error) {
        if (isAbortError(error) || isCertkeeperError(error)) throw error;
        const failure = describeAwsError(error);
        if (failure.retryable && retry < this.config.maxRetries) {
          const delayMs = retryDelayMs(retry);
          this.ctx.logger.warn(
            { provider: this.name, operation, zoneId: zone?.id, awsErrorCode: failure.code, httpStatus: failure.httpStatus, retry: retry + 1, delayMs },
            'Route53 request failed; retrying',
          );
          await this.ctx.clock.sleep(delayMs, signal);
          continue;
        }
        throw this.failure(operation, what, zone, failure, retry + 1, error);
      }
    }
  }

  private failure(operation: string, what: string, zone: ZoneRef | undefined, failure: AwsFailure, tries: number, cause: unknown): CertkeeperError {
    let code: ErrorCode = 'DNS_UPDATE_FAILED';
    let retryable = failure.retryable;
    let hint = '';
    if (failure.code === 'NoSuchHostedZone') {
      code = 'DNS_ZONE_NOT_FOUND';
      retryable = false;
      hint = this.config.hostedZoneId === undefined ? '' : ' (check hostedZoneId)';
    } else if (ACCESS_CODES.has(failure.code)) {
      retryable = false;
      hint = ` (the credentials lack route53:${operation}; see the IAM policy in the route53 provider README)`;
    } else if (CREDENTIAL_CODES.has(failure.code)) {
      retryable = false;
      hint = ' (no usable AWS credentials: environment, shared config/profile, web identity or instance metadata)';
    }
    const after = tries > 1 ? ` after ${tries} tries` : '';
    return new CertkeeperError(code, `route53 "${this.name}": ${what}: ${operation} failed${after}: ${failure.code}: ${failure.message}${hint}`, {
      retryable,
      cause,
      details: {
        provider: this.name,
        operation,
        ...(zone ? { zoneId: zone.id } : {}),
        awsErrorCode: failure.code,
        ...(failure.httpStatus === undefined ? {} : { httpStatus: failure.httpStatus }),
        ...(failure.requestId === undefined ? {} : { requestId: failure.requestId }),
      },
    });
  }

  private async submit(zone: ZoneRef, change: TxtChange, what: string, signal: AbortSignal | undefined): Promise<string> {
    const result = await this.call('ChangeResourceRecordSets', what, zone, (api) => api.changeTxt(zone.id, change, signal), signal);
    this.ctx.logger.debug(
      { provider: this.name, zoneId: zone.id, name: change.name, action: change.action, values: change.values.length, changeId: result.changeId },
      'Route53 change submitted',
    );
    return result.changeId;
  }

  /** Polls GetChange until INSYNC; DNS_UPDATE_FAILED (retryable) when it stays PENDING too long. */
  private async waitInSync(changeId: string, zone: ZoneRef, what: string, signal: AbortSignal | undefined): Promise<void> {
    const { clock } = this.ctx;
    const deadline = clock.now().getTime() + this.config.changeTimeout;
    for (;;) {
      const { status } = await this.call('GetChange', `${what}: change ${changeId}`, zone, (api) => api.getChange(changeId, signal), signal);
      if (status === 'INSYNC') return;
      const remaining = deadline - clock.now().getTime();
      if (remaining <= 0) {
        throw new CertkeeperError(
          'DNS_UPDATE_FAILED',
          `route53 "${this.name}": ${what}: change ${changeId} still ${status} after ${formatDuration(this.config.changeTimeout)}`,
          { retryable: true, details: { provider: this.name, zoneId: zone.id, changeId, status } },
        );
      }
      await clock.sleep(Math.min(this.config.changeInterval, remaining), signal);
    }
  }

  /** The current TXT set at exactly `fqdn` (without routing-policy sets), or undefined. */
  private async readTxtSet(zone: ZoneRef, fqdn: string, what: string, signal: AbortSignal | undefined) {
    const sets = await this.call(
      'ListResourceRecordSets',
      what,
      zone,
      (api) => api.listResourceRecordSets({ zoneId: zone.id, startName: fqdn, startType: 'TXT', maxItems: 10 }, signal),
      signal,
    );
    // The listing starts at the name and runs on past it: keep the exact match only.
    return sets.find((set) => set.type === 'TXT' && set.setIdentifier === undefined && fromRoute53Name(set.name) === fqdn);
  }

  private zoneFor(fqdn: string, signal: AbortSignal | undefined): Promise<ZoneRef> {
    if (this.config.hostedZoneId !== undefined) return Promise.resolve({ id: this.config.hostedZoneId });
    return cached(this.zoneByRecord, fqdn, () => this.discoverZone(fqdn, signal));
  }

  /**
   * As zoneFor, from one listing of every hosted zone (a page per 100 zones, kept a few minutes)
   * instead of a look-up per candidate name: a thousand challenge names in one batch would
   * otherwise cost a thousand paced requests before the first change.
   */
  private async zoneFromListing(fqdn: string, signal: AbortSignal | undefined): Promise<ZoneRef> {
    if (this.config.hostedZoneId !== undefined) return { id: this.config.hostedZoneId };
    const now = this.ctx.clock.now().getTime();
    if (!this.listing || this.listing.until < now) {
      const zones = this.listAllZones(signal);
      this.listing = { zones, until: now + ZONE_LISTING_TTL_MS };
      zones.catch(() => (this.listing = undefined));
    }
    const zones = await this.listing.zones;
    const kind = this.config.privateZone ? 'private' : 'public';
    const candidates = zoneCandidates(fqdn);
    for (const candidate of candidates) {
      const wanted = zones.filter((zone) => fromRoute53Name(zone.name) === candidate && zone.privateZone === this.config.privateZone);
      if (wanted.length > 1) {
        throw new CertkeeperError(
          'DNS_ZONE_NOT_FOUND',
          `route53 "${this.name}": ${wanted.length} ${kind} hosted zones are named ${candidate} (${wanted.map((zone) => zone.id).join(', ')}); set hostedZoneId to choose one`,
          { retryable: false, details: { provider: this.name, fqdn, zoneIds: wanted.map((zone) => zone.id) } },
        );
      }
      if (wanted[0]) return { id: wanted[0].id, name: candidate };
    }
    throw new CertkeeperError(
      'DNS_ZONE_NOT_FOUND',
      `route53 "${this.name}": no ${kind} hosted zone for TXT ${fqdn} (looked for ${candidates.join(', ')}); check the name, privateZone, or set hostedZoneId`,
      { retryable: false, details: { provider: this.name, fqdn, privateZone: this.config.privateZone } },
    );
  }

  private async listAllZones(signal: AbortSignal | undefined): Promise<HostedZoneSummary[]> {
    const found: HostedZoneSummary[] = [];
    let dnsName: string | undefined;
    let hostedZoneId: string | undefined;
    for (let page = 0; page < MAX_LISTING_PAGES; page++) {
      const result = await this.call(
        'ListHostedZonesByName',
        'listing the hosted zones',
        undefined,
        (api) => api.listHostedZonesByName({ dnsName, hostedZoneId, maxItems: 100 }, signal),
        signal,
      );
      found.push(...result.zones);
      if (!result.isTruncated || result.nextDnsName === undefined) break;
      dnsName = result.nextDnsName;
      hostedZoneId = result.nextHostedZoneId;
    }
    return found;
  }

  /** The hosted zone with the longest name that is a suffix of `fqdn` and the wanted visibility. */
  private async discoverZone(fqdn: string, signal: AbortSignal | undefined): Promise<ZoneRef> {
    const kind = this.config.privateZone ? 'private' : 'public';
    const candidates = zoneCandidates(fqdn);
    for (const candidate of candidates) {
      const named = await cached(this.zonesByName, candidate, () => this.zonesNamed(candidate, fqdn, signal));
      const wanted = named.filter((zone) => zone.privateZone === this.config.privateZone);
      if (wanted.length > 1) {
        throw new CertkeeperError(
          'DNS_ZONE_NOT_FOUND',
          `route53 "${this.name}": ${wanted.length} ${kind} hosted zones are named ${candidate} (${wanted.map((zone) => zone.id).join(', ')}); set hostedZoneId to choose one`,
          { retryable: false, details: { provider: this.name, fqdn, zoneIds: wanted.map((zone) => zone.id) } },
        );
      }
      if (wanted[0]) {
        this.ctx.logger.debug({ provider: this.name, fqdn, zoneId: wanted[0].id, zone: candidate }, 'hosted zone found');
        return { id: wanted[0].id, name: candidate };
      }
      // A zone of the other kind with this name does not hold our record: look further up.
    }
    throw new CertkeeperError(
      'DNS_ZONE_NOT_FOUND',
      `route53 "${this.name}": no ${kind} hosted zone for TXT ${fqdn} (looked for ${candidates.join(', ')}); check the name, privateZone, or set hostedZoneId`,
      { retryable: false, details: { provider: this.name, fqdn, privateZone: this.config.privateZone } },
    );
  }

  /**
   * Every hosted zone named exactly `name`. ListHostedZonesByName starts at the name and lists
   * on in reversed-label order, so the matches come first and the first other name ends them.
   */
  private async zonesNamed(name: string, fqdn: string, signal: AbortSignal | undefined): Promise<HostedZoneSummary[]> {
    const found: HostedZoneSummary[] = [];
    let hostedZoneId: string | undefined;
    for (let page = 0; page < MAX_ZONE_PAGES; page++) {
      const result = await this.call(
        'ListHostedZonesByName',
        `finding the hosted zone of TXT ${fqdn}`,
        undefined,
        (api) => api.listHostedZonesByName({ dnsName: name, hostedZoneId, maxItems: 10 }, signal),
        signal,
      );
      for (const zone of result.zones) {
        if (fromRoute53Name(zone.name) !== name) return found;
        found.push(zone);
      }
      if (!result.isTruncated || result.nextDnsName === undefined || fromRoute53Name(result.nextDnsName) !== name) return found;
      hostedZoneId = result.nextHostedZoneId;
    }
    return found;
  }
}

/** A promise per key, shared while pending and kept on success; a failure is forgotten. */
function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let value = map.get(key);
  if (!value) {
    value = load();
    map.set(key, value);
    value.catch(() => map.delete(key));
  }
  return value;
}

function describeZone(zone: ZoneRef): string {
  return zone.name === undefined ? `hosted zone ${zone.id}` : `hosted zone ${zone.id} (${zone.name})`;
}

export function createRoute53Provider(config: Route53Config, ctx: DnsProviderContext): DnsProvider {
  return new Route53Provider(config, ctx);
}
