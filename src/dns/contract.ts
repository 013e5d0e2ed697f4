// The DnsProvider contract: what the ACME challenge loop needs from a DNS backend. A provider
// only adds and removes TXT values; finding CNAME delegations and checking propagation is the
// challenge loop's job (acme/), not the provider's.

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
}

/** What a provider type declares about itself, checked when the config is validated. */
export interface DnsProviderCapabilities {
  /** Whether wildcard names (`*.example.com`) can be validated through this provider. */
  wildcard: boolean;
}
