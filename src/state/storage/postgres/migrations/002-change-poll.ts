// Version 2: what a watcher's poll reads (poller.ts), so a change whose NOTIFY was lost is still
// found without reading every row: an index on `version`, which every write takes from the one
// sequence; `writer`, so an agent's poll skips its own writes; a trigger that gives a row a new
// version when something other than certkeeper updates it without one (a plain SQL client), so
// such a write is seen too and compare-and-set never writes over it; and a short-lived tombstone
// per deleted row, with a version from the same sequence, kept for a day.

import type { Migration } from './types.js';

/** How long a deleted key's tombstone is kept: a poller away longer re-reads everything (poller.ts). */
export const TOMBSTONE_RETENTION_HOURS = 24;

export const changePoll: Migration = {
  version: 2,
  description: 'change poll: version index, writer, tombstones',
  statements: (s) => [
    `CREATE INDEX kv_by_version ON ${s}.kv (version)`,
    `ALTER TABLE ${s}.kv ADD COLUMN writer text`,
    // A row inserted by hand gets a version too.
    `ALTER TABLE ${s}.kv ALTER COLUMN version SET DEFAULT nextval('${s}.kv_version'::regclass)`,
    `CREATE FUNCTION ${s}.kv_touch() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NEW.version IS NOT DISTINCT FROM OLD.version THEN
         NEW.version := nextval('${s}.kv_version'::regclass);
         NEW.modified_at := now();
         NEW.writer := NULL;
       END IF;
       RETURN NEW;
     END $$`,
    `CREATE TRIGGER kv_touch BEFORE UPDATE ON ${s}.kv FOR EACH ROW EXECUTE FUNCTION ${s}.kv_touch()`,
    `CREATE TABLE ${s}.kv_removed (
      version bigint PRIMARY KEY,
      key text COLLATE "C" NOT NULL,
      removed_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE INDEX kv_removed_by_time ON ${s}.kv_removed (removed_at)`,
    `CREATE FUNCTION ${s}.kv_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       INSERT INTO ${s}.kv_removed (version, key) VALUES (nextval('${s}.kv_version'::regclass), OLD.key);
       RETURN NULL;
     END $$`,
    `CREATE TRIGGER kv_tombstone AFTER DELETE ON ${s}.kv FOR EACH ROW EXECUTE FUNCTION ${s}.kv_tombstone()`,
    // Once per deleting statement: the tombstones past their day go.
    `CREATE FUNCTION ${s}.kv_tombstone_prune() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       DELETE FROM ${s}.kv_removed WHERE removed_at < now() - interval '${TOMBSTONE_RETENTION_HOURS} hours';
       RETURN NULL;
     END $$`,
    `CREATE TRIGGER kv_tombstone_prune AFTER DELETE ON ${s}.kv FOR EACH STATEMENT EXECUTE FUNCTION ${s}.kv_tombstone_prune()`,
  ],
};
