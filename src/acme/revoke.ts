// Revoking a certificate through ACME (RFC 8555 §7.6), signed with the stored account of the
// directory that issued it (registered first when none is stored: a CA accepts revocation from
// any account that holds valid authorizations for every name in the certificate).

import type { Clock } from '../core/clock.js';
import { isCertkeeperError, toCertkeeperError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AccountStore } from '../issuers/contract.js';
import { ensureAccount } from './account.js';
import { registerWith, sessionOpener, type Eab } from './session.js';

/** CRL reason codes (RFC 5280 §5.3.1) that ACME CAs accept from subscribers. */
export const REVOCATION_REASONS = { unspecified: 0, keyCompromise: 1, superseded: 4, cessationOfOperation: 5 } as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function isRevocationReason(value: string): value is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, value);
}

export interface RevokeOptions {
  directoryUrl: string;
  email: string | null;
  eab?: Eab | undefined;
  caBundlePem?: string | undefined;
  /** Where the account lives (the state store). */
  store: AccountStore;
  clock: Clock;
  logger: Logger;
  certPem: string;
  reason: RevocationReason;
  signal?: AbortSignal | undefined;
  onRequest?: ((status: number | undefined) => void) | undefined;
}

export interface RevokeResult {
  /** The CA said the certificate was revoked before (a repeated command is not a failure). */
  alreadyRevoked: boolean;
}

export async function revokeCertificate(options: RevokeOptions): Promise<RevokeResult> {
  const { directoryUrl, email, logger, signal } = options;
  const open = sessionOpener(options);
  try {
    const account = await ensureAccount({
      store: options.store,
      directoryUrl,
      email,
      logger,
      register: registerWith(open, email, signal),
    });
    const session = await open(account.keyPem, account.accountUrl, signal);
    try {
      await session.revokeCertificate(options.certPem, REVOCATION_REASONS[options.reason]);
      logger.info({ directoryUrl, reason: options.reason }, 'certificate revoked');
      return { alreadyRevoked: false };
    } catch (error) {
      if (isCertkeeperError(error) && error.details?.acmeType === 'alreadyRevoked') return { alreadyRevoked: true };
      throw error;
    } finally {
      session.close();
    }
  } catch (error) {
    throw toCertkeeperError(error);
  }
}
