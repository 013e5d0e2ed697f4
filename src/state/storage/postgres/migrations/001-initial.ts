// Version 1: values with a version for compare-and-set, the append-only logs, lease rows for locks.
// `key` sorts bytewise (COLLATE "C") so `list` returns keys in the same order as every other
// backend, and a prefix LIKE can use the primary key's index.

import type { Migration } from './types.js';

export const initial: Migration = {
  version: 1,
  description: 'kv, log and locks tables',
  statements: (s) => [
    `CREATE SEQUENCE ${s}.kv_version`,
    `CREATE TABLE ${s}.kv (
      key text COLLATE "C" PRIMARY KEY,
      value bytea NOT NULL,
      version bigint NOT NULL,
      modified_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE ${s}.log (
      id bigserial PRIMARY KEY,
      log text NOT NULL,
      at timestamptz NOT NULL,
      subject text NOT NULL,
      kind text NOT NULL DEFAULT '',
      body text NOT NULL
    )`,
    // readLog by subject (one certificate's history) and without (the whole log), newest first;
    // id breaks ties between entries of the same instant in insertion order.
    `CREATE INDEX log_by_subject ON ${s}.log (log, subject, at DESC, id DESC)`,
    `CREATE INDEX log_by_time ON ${s}.log (log, at DESC, id DESC)`,
    `CREATE TABLE ${s}.locks (
      name text PRIMARY KEY,
      holder text NOT NULL,
      token text NOT NULL,
      expires_at timestamptz NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now()
    )`,
  ],
};
