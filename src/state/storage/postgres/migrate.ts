// Brings a schema to the version this certkeeper knows. The whole upgrade is one transaction
// under a transaction-level advisory lock, so agents starting together apply each version once
// (the others wait, then find it done), and a failed step leaves the schema as it was. A schema
// newer than this certkeeper knows is refused: an older agent must not write rows it would misread.

import type pg from 'pg';
import { CertkeeperError } from '../../../core/errors.js';
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations/index.js';

export interface MigrationResult {
  from: number;
  to: number;
}

/** Quotes an identifier already checked against SCHEMA_NAME. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function migrate(pool: pg.Pool, schema: string, appliedBy: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const q = quoteIdentifier(schema);

  // Fast path, no lock: every start-up after the first finds the schema current.
  const seen = await currentVersion(pool, q);
  if (seen !== undefined) {
    refuseNewer(schema, seen, latest);
    if (seen === latest) return { from: seen, to: seen };
  }

  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Keyed by the schema, so agents of other schemas in the same database do not wait on each other.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`certkeeper.migrate.${schema}`]);
    const namespace = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (namespace.rowCount === 0) await client.query(`CREATE SCHEMA ${q}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q}.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL)`,
    );
    const from = (await currentVersion(client, q)) ?? 0;
    refuseNewer(schema, from, latest);
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      for (const statement of migration.statements(q)) await client.query(statement);
      await client.query(`INSERT INTO ${q}.schema_version (version, description, applied_by) VALUES ($1, $2, $3)`, [
        migration.version,
        migration.description,
        appliedBy,
      ]);
    }
    await client.query('COMMIT');
    client.release();
    return { from, to: Math.max(from, latest) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}

async function currentVersion(db: pg.Pool | pg.PoolClient, q: string): Promise<number | undefined> {
  const table = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`${q}.schema_version`]);
  if (!table.rows[0]?.exists) return undefined;
  const { rows } = await db.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${q}.schema_version`);
  return rows[0]?.version ?? 0;
}

function refuseNewer(schema: string, found: number, latest: number): void {
  if (found <= latest) return;
  throw new CertkeeperError(
    'STATE_IO',
    `the PostgreSQL schema "${schema}" is at version ${found}, newer than this certkeeper knows (up to ${latest}): a newer certkeeper upgraded it; upgrade this agent too, or point it at another schema`,
    { retryable: false, details: { schema, schemaVersion: found, knownVersion: latest } },
  );
}

export { LATEST_VERSION };
