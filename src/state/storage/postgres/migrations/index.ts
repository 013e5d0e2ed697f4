// The schema's versions, oldest first. A new version is a new file here and one line below;
// a released version is never edited (agents that applied it will not apply it again).

import { initial } from './001-initial.js';
import { changePoll } from './002-change-poll.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';

export const MIGRATIONS: readonly Migration[] = [initial, changePoll];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
