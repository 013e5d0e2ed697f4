// The schema's versions, oldest first. A new version is a new file here and one line below;
// a released version is never edited (agents that applied it will not apply it again).

import { initial } from './001-initial.js';
import { changePoll } from './002-change-poll.js';

export interface Migration {
  version: number;
  description: string;
  /** The statements, given the schema's quoted name; run in order inside one transaction. */
  statements(schema: string): string[];
}

export const MIGRATIONS: readonly Migration[] = [initial, changePoll];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
