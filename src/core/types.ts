// Domain types shared by every layer. Plain data, no behaviour.

export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** When to renew: a fraction of the lifetime remaining, or a fixed duration before notAfter. */
export type RenewBefore =
  | {
      kind: 'fraction';
      fraction: number;
      /** The default policy's rule for lifetimes under 10 days (Let's Encrypt: renew at half). */
      shortLifetimeFraction?: number;
    }
  | { kind: 'duration'; ms: number };

/** One certificate as the operator declared it, after config resolution. */
export interface CertificateSpec {
  name: string;
  domains: string[];
  dns: string;
  sinks: string[];
  renewBefore: RenewBefore;
  keyType: KeyType;
  reuseKey: boolean;
  /** Endpoints that must serve this certificate after a deploy (src/verify); absent or empty: none. */
  verify?: EndpointSpec[];
  /** Issuer names to use, in order (the config's `issuers:` list when absent). */
  issuers?: string[];
  /** ACME profile to request (overrides the issuer's). */
  profile?: string;
  /** Requested lifetime in ms (ACME `notAfter`; overrides the issuer's). */
  lifetimeMs?: number;
}

/** At most `limit` events in any `windowMs`. */
export interface Budget {
  limit: number;
  windowMs: number;
}

/** Local budgets of a CA's published limits, per account (plan/budget.ts). */
export interface RateLimits {
  /** New orders per account. */
  newOrders?: Budget;
  /** Failed authorizations per name per account. */
  failedAuthorizations?: Budget;
}

/** How a TLS endpoint is reached: direct TLS, or STARTTLS inside a plaintext protocol. */
export const TLS_PROTOCOLS = ['tls', 'starttls-smtp', 'starttls-imap', 'postgres'] as const;
export type TlsProtocol = (typeof TLS_PROTOCOLS)[number];

/** One TLS endpoint to probe (a certificate's `verify:` entry or a `watch:` entry). */
export interface EndpointSpec {
  /** "host:port" as configured (IPv6 in brackets). */
  address: string;
  host: string;
  port: number;
  /** Server name sent in the handshake and checked against the certificate (default: host, unless an IP). */
  sni?: string;
  protocol: TlsProtocol;
  /** Deploy verification: how long to keep retrying for a reload to take effect. */
  settleMs: number;
  /** A name for tables, metrics and alerts (default: the address). */
  label?: string;
}

/** The PEM material of one issued certificate. `keyPem` is a secret: never log it. */
export interface CertificateMaterial {
  certPem: string; // the leaf alone
  chainPem: string; // intermediates, without the leaf
  fullchainPem: string; // leaf + intermediates
  keyPem: string;
}

/** What is known about a stored certificate, parsed from the leaf. */
export interface CertificateInfo {
  serial: string; // upper-case hex, no separators
  notBefore: Date;
  notAfter: Date;
  domains: string[]; // subjectAltName DNS names, in order
  keyType: KeyType | 'unknown';
  issuer: string;
}

/** The current certificate of a name, as held in the state store. */
export interface StoredCertificate {
  name: string;
  info: CertificateInfo;
  material: CertificateMaterial;
  /** Absolute paths of the stored PEM files, for hooks when no files sink ran. */
  paths: CertificatePaths;
  issuedAt: Date;
  directoryUrl: string;
}

export interface CertificatePaths {
  cert: string;
  chain: string;
  fullchain: string;
  key: string;
}

export type HistoryAction = 'issue' | 'renew' | 'deploy' | 'dry-run' | 'verify' | 'revoke';
export type HistoryResult = 'success' | 'failure';

/** One line of history.jsonl. */
export interface HistoryEntry {
  at: string; // ISO 8601
  cert: string;
  action: HistoryAction;
  result: HistoryResult;
  serial: string | null;
  notAfter: string | null;
  durationMs: number;
  error: string | null;
  /** Optional extras: the reason for the order, the sink name, the error code. */
  reason?: string;
  /** The operator's words for a forced run (`renew --force --reason TEXT`), e.g. an incident id. */
  note?: string;
  sink?: string;
  code?: string;
  /** The ACME orders this attempt placed (one per CA tried), for the local rate-limit budgets. */
  orders?: OrderRecord[];
}

/** One ACME order as history keeps it: which CA and account, and what it cost. */
export interface OrderRecord {
  issuer: string;
  directoryUrl: string;
  email: string | null;
  /** Carried ARI `replaces`: exempt from the CA's limits. */
  replaced: boolean;
  /** Names whose authorization the CA found invalid in this order. */
  failedNames?: string[];
}

/** What the operator sees as the state of a certificate. */
export type CertState = 'valid' | 'due' | 'missing' | 'failing' | 'expired';

/** Per-certificate bookkeeping besides the certificate itself. */
export interface CertRecord {
  /** For each sink name, the serial last deployed there successfully. */
  deployed: Record<string, string>;
  /** Consecutive failed attempts (order or deploy); 0 after a success. */
  consecutiveFailures: number;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  /** The last outcome, as shown by `status`. */
  lastResult: { at: string; action: string; result: 'success' | 'failure'; error: string | null } | null;
  /** Earliest time the next automatic order may run (backoff); null when none. */
  nextAttemptAt: string | null;
  /** The certificate's config fingerprint at the last failed order: a change lifts the backoff. */
  configFingerprint: string | null;
}
