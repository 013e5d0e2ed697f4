// A read-only view of a certkeeper 0.1 state directory (layout.ts), for the one-time copy into
// the storage layout (migrate-file-layout.ts) and for `doctor` on a folder not copied yet
// (read-only-store.ts). It never creates, writes, moves or deletes anything.

import { silentLogger, type Logger } from '../../core/logger.js';
import { LegacyAccounts } from './accounts.js';
import { LegacyCertificates } from './certificates.js';
import { LegacyHistory } from './history.js';
import { LegacyIssuers } from './issuers.js';
import { LegacyLayout } from './layout.js';
import { LegacyRecords } from './records.js';

export class LegacyState {
  readonly layout: LegacyLayout;
  readonly certificates: LegacyCertificates;
  readonly records: LegacyRecords;
  readonly accounts: LegacyAccounts;
  readonly issuers: LegacyIssuers;
  readonly history: LegacyHistory;

  constructor(dir: string, logger: Logger = silentLogger) {
    this.layout = new LegacyLayout(dir);
    this.certificates = new LegacyCertificates(this.layout);
    this.records = new LegacyRecords(this.layout);
    this.accounts = new LegacyAccounts(this.layout);
    this.issuers = new LegacyIssuers(this.layout);
    this.history = new LegacyHistory(this.layout, logger);
  }
}
