// The DnsProvider contract: what the ACME challenge loop needs from a DNS backend. A provider
// only adds and removes TXT values; finding CNAME delegations and checking propagation is the
// challenge loop's job (acme/), not the provider's. A provider that can write many records in one
// request (Route53, RFC 2136) also implements `changeTxtBatch`; the batcher (batcher.ts) then
// coalesces the records of many certificates into one change per zone.

import type { Clock } from '../core/clock.js';
import { CertkeeperError, type CertkeeperErrorOptions } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ResolveChallengeTargetOptions, WaitForTxtPropagationOptions } from './propagation.js';

/** What a provider gets besides its config: its config name, the clock and a logger. */
export interface DnsProviderContext {
  name: string;
  clock: Clock;
  logger: Logger;
  /** Recursive resolvers for the batch propagation check (the host's when absent). */
  resolvers?: string[] | undefined;
  /** Told about every write and batch propagation check, with its duration (metrics; dns/observed.ts). */
  onCall?: DnsCallObserver | undefined;
}

export interface TxtRecord {
  /** The name to write, absolute, lower-case, no trailing dot, e.g. `_acme-challenge.example.com`
   *  (or the CNAME target it delegates to). */
  fqdn: string;
  /** The TXT value (the base64url digest of the key authorization). */
  value: string;
  /** The domain being validated, e.g. `example.com` for both `example.com` and `*.example.com`. */
  domain: string;
}

export interface DnsProvider {
  /** The provider's config name, for logs and errors. */
  readonly name: string;
  /** Adds `record.value` to the TXT set at `record.fqdn`, keeping any value already there. */
  presentTxt(record: TxtRecord, signal?: AbortSignal): Promise<void>;
  /** Removes exactly `record.value` from the TXT set, leaving every other value. Idempotent. */
  cleanupTxt(record: TxtRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Nameservers (`host:port`) that must show the record before the CA is asked to validate.
   * Undefined means: discover the zone's authoritative nameservers.
   */
  readonly propagationNameservers?: string[] | undefined;
  /** Propagation polling, from the provider's config (ms). */
  readonly propagationTimeoutMs?: number | undefined;
  readonly propagationIntervalMs?: number | undefined;
  /**
   * True when `presentTxt` resolves only once every authoritative nameserver serves the value
   * (a batching provider checks once per batch): the challenge loop does not check again.
   */
  readonly presentWaitsForPropagation?: boolean | undefined;
  /**
   * Told how the challenge loop's propagation check of one of this provider's records went, and
   * how long it took (dns/observed.ts counts it for metrics). Not called for a check cancelled
   * by its signal, nor for a provider that waits in presentTxt (it checks, and is timed, itself).
   */
  onPropagationChecked?(result: 'success' | 'error', seconds: number): void;
  /** Optional: writes many records in one request; see TxtBatchSupport. */
  readonly batch?: TxtBatchSupport | undefined;
}

export type TxtBatchAction = 'present' | 'cleanup';

/**
 * What a provider offers for writing many records at once. The batcher groups records by
 * `zoneOf`, splits each group at `limits`, and calls `write` once per part.
 */
export interface TxtBatchSupport {
  limits: TxtBatchLimits;
  /** How long records are collected before a batch is written (ms). */
  windowMs: number;
  /** The zone (or other unit one request can change) `record` belongs to. */
  zoneOf(record: TxtRecord, signal?: AbortSignal): Promise<string>;
  /**
   * Writes every record (all in `zone`) in as few requests as the provider can: Route53 one
   * change, RFC 2136 one UPDATE. Resolves when all are written (and, for a provider that waits
   * for its change to sync, synced). Throws TxtBatchRejected when the provider refused some of
   * the records, any other error when the batch as a whole failed.
   */
  write(action: TxtBatchAction, zone: string, records: readonly TxtRecord[], signal?: AbortSignal): Promise<void>;
}

export interface TxtBatchLimits {
  /** Records per request at most. */
  maxRecords: number;
  /** Summed `cost` per request at most (Route53: characters of values; RFC 2136: message bytes). */
  maxCost: number;
  cost(record: TxtRecord, action: TxtBatchAction): number;
}

/**
 * A batch the provider refused because of some of its records (Route53 InvalidChangeBatch, an
 * RFC 2136 REFUSED): `culprits` when the answer names them, undefined when it does not. The
 * batcher writes the others again without them.
 */
export class TxtBatchRejected extends CertkeeperError {
  constructor(
    message: string,
    readonly culprits: readonly TxtRecord[] | undefined,
    options: CertkeeperErrorOptions = {},
  ) {
    super('DNS_UPDATE_FAILED', message, options);
    this.name = 'TxtBatchRejected';
  }
}

/** What a provider type declares about itself, checked when the config is validated. */
export interface DnsProviderCapabilities {
  /** Whether wildcard names (`*.example.com`) can be validated through this provider. */
  wildcard: boolean;
}

/**
 * The DNS look-ups of the ACME challenge loop, which are not a provider's job: where a name's TXT
 * record goes (after CNAMEs) and waiting until the nameservers serve it. dns/propagation.ts and
 * dns/resolver.ts implement them; the CLI hands them to the issuer, unit tests replace them.
 */
export interface ChallengeLookups {
  resolveChallengeTarget(domain: string, options: ResolveChallengeTargetOptions): Promise<string>;
  waitForTxtPropagation(options: WaitForTxtPropagationOptions): Promise<void>;
  /** The host's resolvers (`host:port`), used when none are configured. */
  systemResolvers(): string[];
}

// What a provider's calls are reported as, for metrics (observed.ts times them).
/**
 * `operation` label: `present`/`cleanup` (a provider's presentTxt/cleanupTxt), `batch_present`/
 * `batch_cleanup` (one batched write of many records), `propagation` (a batch's wait until every
 * nameserver serves its records; for a provider without batches, the challenge loop's check of
 * one record, told through DnsProvider.onPropagationChecked).
 */
export const DNS_OPERATIONS = ['present', 'cleanup', 'batch_present', 'batch_cleanup', 'propagation'] as const;
export type DnsOperation = (typeof DNS_OPERATIONS)[number];

/** One finished call: `error` when it threw. A call cancelled by its signal is not reported. */
export interface DnsCall {
  operation: DnsOperation;
  result: 'success' | 'error';
  seconds: number;
}

export type DnsCallObserver = (call: DnsCall) => void;
