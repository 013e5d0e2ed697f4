// The real DNS look-ups of the ACME challenge loop, as the CLI hands them to the issuer
// (cli/issuers.ts), for tests that build an ACME issuer directly.

import type { ChallengeLookups } from '../../src/dns/contract.js';
import { resolveChallengeTarget, waitForTxtPropagation } from '../../src/dns/propagation.js';
import { systemResolvers } from '../../src/dns/resolver.js';

export const challengeLookups: ChallengeLookups = { resolveChallengeTarget, waitForTxtPropagation, systemResolvers };
