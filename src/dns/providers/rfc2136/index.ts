// The rfc2136 provider: TSIG-signed dynamic UPDATEs (RFC 2136) to a primary server. Present adds
// one TXT RR; cleanup deletes exactly that RR (class NONE, same rdata), so an apex and its
// wildcard can hold two values on one name and each cleanup removes only its own.

import { CertkeeperError, isCertkeeperError } from '../../../core/errors.js';
import { TxtBatchRejected, type DnsProvider, type TxtBatchLimits, type TxtBatchSupport, type TxtRecord } from '../../contract.js';
import type { DnsProviderContext } from '../../contract.js';
import { findZone } from '../../resolver.js';
import { exchangeSigned } from '../../wire/client.js';
import { RCODE, encodeTxtUpdate, isInZone, normalizeName, rcodeName, type TxtUpdate } from '../../wire/message.js';
import { tsigKey, type TsigCheck, type TsigKey } from '../../wire/tsig.js';
import type { Rfc2136Config } from './schema.js';
import { propagationSettings } from '../../fields.js';

/**
 * An UPDATE goes over TCP once it passes 512 bytes, where a message may be 65,535 bytes. A batch
 * stays well below that, leaving room for the header, the zone, the TSIG record and the server's
 * own limits; a record costs its wire size (name, type/class/TTL/length, the value's strings).
 */
export const RFC2136_BATCH_LIMITS: TxtBatchLimits = {
  maxRecords: 1000,
  maxCost: 48_000,
  cost: (record) => record.fqdn.length + 2 + 10 + Buffer.byteLength(record.value) + Math.ceil(Math.max(1, Buffer.byteLength(record.value)) / 255),
};

export class Rfc2136Provider implements DnsProvider {
  readonly name: string;
  private readonly key: TsigKey;
  /** Discovered zones by record name: one SOA walk per name, shared by present and cleanup. */
  private readonly zones = new Map<string, Promise<string>>();
  /** Many records in one UPDATE per zone (dns/batcher.ts). */
  readonly batch: TxtBatchSupport;

  constructor(
    private readonly config: Rfc2136Config,
    private readonly ctx: DnsProviderContext,
  ) {
    this.name = ctx.name;
    this.key = tsigKey(config.tsigKeyName, config.tsigAlgorithm, config.tsigSecret);
    Object.assign(this, propagationSettings(config)); // the DnsProvider contract's propagation fields
    this.batch = {
      limits: RFC2136_BATCH_LIMITS,
      windowMs: config.batchWindow,
      zoneOf: (record, signal) => this.zoneFor(normalizeName(record.fqdn), signal),
      write: async (action, zone, records, signal) => {
        try {
          await this.send(action === 'present' ? 'add' : 'delete', zone, records, signal);
        } catch (error) {
          // REFUSED (an update-policy that does not cover one name) and NOTZONE are about some
          // records; which ones the server does not say, so the batcher narrows it down.
          if (isCertkeeperError(error) && (error.details?.rcode === 'REFUSED' || error.details?.rcode === 'NOTZONE') && records.length > 1) {
            throw new TxtBatchRejected(error.message, undefined, { cause: error, details: error.details });
          }
          throw error;
        }
      },
    };
  }

  presentTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    return this.update('add', record, signal);
  }

  cleanupTxt(record: TxtRecord, signal?: AbortSignal): Promise<void> {
    return this.update('delete', record, signal);
  }

  private async update(action: TxtUpdate['action'], record: TxtRecord, signal: AbortSignal | undefined): Promise<void> {
    const fqdn = normalizeName(record.fqdn);
    const zone = await this.zoneFor(fqdn, signal);
    await this.send(action, zone, [{ ...record, fqdn }], signal);
  }

  /** One signed UPDATE adding (or deleting) every record, all in `zone`. */
  private async send(action: TxtUpdate['action'], zone: string, records: readonly TxtRecord[], signal: AbortSignal | undefined): Promise<void> {
    const { server } = this.config;
    const fqdn = records.length === 1 ? normalizeName(records[0]!.fqdn) : undefined;
    const subject = fqdn ?? `${records.length} TXT records`;
    const what = `${action === 'add' ? 'adding' : 'deleting'} ${fqdn ? `TXT ${fqdn}` : subject} in zone ${zone} on ${server}`;
    const message = encodeTxtUpdate(
      zone,
      records.map((record) => ({ action, fqdn: normalizeName(record.fqdn), value: record.value, ttl: this.config.ttl })),
    );
    let result;
    try {
      result = await exchangeSigned(server, message.bytes, this.key, { timeoutMs: this.config.timeout, signal, now: () => this.ctx.clock.now() });
    } catch (error) {
      if (!isCertkeeperError(error)) throw error; // an AbortError stays one
      throw this.failure('DNS_UPDATE_FAILED', `${what}: ${error.message}`, error.retryable, error);
    }
    const { response, tsig } = result;
    const tsigProblem = describeTsig(tsig, this.key, response.rcode);
    if (tsigProblem) throw this.failure('DNS_UPDATE_FAILED', `${what}: ${tsigProblem.message}`, tsigProblem.retryable);
    if (response.rcode !== RCODE.NOERROR) {
      const { code, retryable, reason } = explainRcode(response.rcode);
      throw this.failure(code, `${what}: ${rcodeName(response.rcode)} (${reason})`, retryable, undefined, { rcode: rcodeName(response.rcode) });
    }
    if (fqdn) this.ctx.logger.info({ provider: this.name, server, zone, fqdn, action }, action === 'add' ? 'TXT record added' : 'TXT record removed');
    else
      this.ctx.logger.info(
        { provider: this.name, server, zone, records: records.length, action },
        action === 'add' ? 'TXT records added' : 'TXT records removed',
      );
  }

  private zoneFor(fqdn: string, signal: AbortSignal | undefined): Promise<string> {
    if (this.config.zone !== undefined) {
      const zone = normalizeName(this.config.zone);
      if (!isInZone(fqdn, zone)) {
        return Promise.reject(this.failure('DNS_ZONE_NOT_FOUND', `TXT ${fqdn} is outside the configured zone ${zone} (server ${this.config.server})`, false));
      }
      return Promise.resolve(zone);
    }
    let zone = this.zones.get(fqdn);
    if (!zone) {
      zone = this.discoverZone(fqdn, signal);
      this.zones.set(fqdn, zone);
      zone.catch(() => this.zones.delete(fqdn)); // a failed discovery is retried next time
    }
    return zone;
  }

  private async discoverZone(fqdn: string, signal: AbortSignal | undefined): Promise<string> {
    try {
      return await findZone(fqdn, [this.config.server], { timeoutMs: this.config.timeout, signal, clock: this.ctx.clock });
    } catch (error) {
      if (isCertkeeperError(error, 'DNS_ZONE_NOT_FOUND')) {
        throw this.failure('DNS_ZONE_NOT_FOUND', `no zone for TXT ${fqdn} on ${this.config.server}; set "zone" in the config or check the name`, false, error);
      }
      if (isCertkeeperError(error)) {
        throw this.failure('DNS_UPDATE_FAILED', `finding the zone of TXT ${fqdn} on ${this.config.server}: ${error.message}`, error.retryable, error);
      }
      throw error;
    }
  }

  private failure(
    code: 'DNS_UPDATE_FAILED' | 'DNS_ZONE_NOT_FOUND',
    message: string,
    retryable: boolean,
    cause?: unknown,
    extra: Record<string, unknown> = {},
  ): CertkeeperError {
    return new CertkeeperError(code, `rfc2136 "${this.name}": ${message}`, {
      retryable,
      cause,
      details: { provider: this.name, server: this.config.server, keyName: this.key.name, ...extra },
    });
  }
}

export function createRfc2136Provider(config: Rfc2136Config, ctx: DnsProviderContext): DnsProvider {
  return new Rfc2136Provider(config, ctx);
}

/** Why a signed exchange cannot be trusted, or undefined when the signature is fine. */
function describeTsig(tsig: TsigCheck, key: TsigKey, rcode: number): { message: string; retryable: boolean } | undefined {
  switch (tsig.status) {
    case 'verified':
      return undefined;
    case 'server-error': {
      const hint =
        tsig.errorName === 'BADKEY'
          ? `the server does not know key "${key.name}" with ${key.algorithm}`
          : tsig.errorName === 'BADSIG'
            ? `the signature did not verify: wrong TSIG secret or algorithm for key "${key.name}"`
            : tsig.errorName === 'BADTIME'
              ? 'our clock and the server’s differ by more than the allowed fudge'
              : `key "${key.name}"`;
      // BADTIME can pass once clocks are corrected; a wrong key never will.
      return { message: `server rejected the TSIG signature: ${tsig.errorName} (${hint})`, retryable: tsig.errorName === 'BADTIME' };
    }
    case 'unsigned':
      // An unsigned error reply still tells what went wrong; an unsigned success is not trusted.
      return rcode === RCODE.NOERROR ? { message: 'the server answered without a TSIG signature', retryable: false } : undefined;
    case 'invalid':
      return { message: `the response's TSIG signature is invalid: ${tsig.reason}`, retryable: false };
  }
}

function explainRcode(rcode: number): { code: 'DNS_UPDATE_FAILED' | 'DNS_ZONE_NOT_FOUND'; retryable: boolean; reason: string } {
  switch (rcode) {
    case RCODE.NOTAUTH:
      return { code: 'DNS_ZONE_NOT_FOUND', retryable: false, reason: 'the server is not authoritative for the zone' };
    case RCODE.NOTZONE:
      return { code: 'DNS_ZONE_NOT_FOUND', retryable: false, reason: 'the record is not inside the zone' };
    case RCODE.REFUSED:
      return { code: 'DNS_UPDATE_FAILED', retryable: false, reason: 'the server refused: check allow-update/update-policy for this key' };
    case RCODE.SERVFAIL:
      return { code: 'DNS_UPDATE_FAILED', retryable: true, reason: 'server failure' };
    case RCODE.NOTIMP:
      return { code: 'DNS_UPDATE_FAILED', retryable: false, reason: 'the server does not support dynamic updates' };
    case RCODE.FORMERR:
      return { code: 'DNS_UPDATE_FAILED', retryable: false, reason: 'the server could not parse the update' };
    default:
      return { code: 'DNS_UPDATE_FAILED', retryable: false, reason: 'unexpected response code' };
  }
}
