// PostgresStorage's pieces that need no server: the URL and sslmode translation, error mapping
// and redaction, the lease margin, and the migration registry matching its folder.

import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeError, isCertkeeperError } from '../../../src/core/errors.js';
import { resolveConnection, storageError } from '../../../src/state/storage/postgres/connection.js';
import { PostgresStorage } from '../../../src/state/storage/postgres/index.js';
import { lostMarginMs } from '../../../src/state/storage/postgres/lease-lock.js';
import { LATEST_VERSION, MIGRATIONS } from '../../../src/state/storage/postgres/migrations/index.js';

function thrown(step: () => unknown): Error {
  try {
    step();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('PostgreSQL connection settings', () => {
  it('takes user, password, host, port and database from the URL, and shows it without the password', async () => {
    const resolved = resolveConnection({ url: 'postgres://agent:s3cret-pw@db.internal:6432/fleet', sslmode: 'disable' });
    expect(resolved.client).toMatchObject({ user: 'agent', password: 's3cret-pw', host: 'db.internal', port: 6432, database: 'fleet', ssl: false });
    expect(resolved.display).toBe('postgres://agent@db.internal:6432/fleet');
    expect(resolved.secrets).toContain('s3cret-pw');
    expect(resolved.client.statement_timeout).toBe(15_000);
    expect(resolved.client.query_timeout).toBe(16_000);
    expect(resolved.client.connectionTimeoutMillis).toBe(5_000);

    const storage = new PostgresStorage({ url: 'postgres://agent:s3cret-pw@db.internal/fleet', sslmode: 'disable', schema: 'fleet_state' });
    expect(storage.description).toBe('postgres://agent@db.internal/fleet (schema fleet_state)');
    await storage.close();
  });

  it('decodes a percent-encoded password and redacts both of its forms', () => {
    const resolved = resolveConnection({ url: 'postgresql://agent:p%40ss%2Fw0rd@127.0.0.1/db' });
    expect(resolved.client.password).toBe('p@ss/w0rd');
    expect(resolved.secrets).toEqual(expect.arrayContaining(['p@ss/w0rd', 'p%40ss%2Fw0rd']));
    expect(resolveConnection({ url: 'postgres://agent:from-url@127.0.0.1/db', password: 'from-file' }).client.password).toBe('from-file');
  });

  it('reaches a unix socket folder given as ?host=, or the default one with no host', () => {
    const resolved = resolveConnection({ url: 'postgres://agent@/db?host=/run/postgresql' });
    expect(resolved.client).toMatchObject({ host: '/run/postgresql', database: 'db', ssl: false });
    expect(resolved.display).toBe('postgres://agent@[/run/postgresql]/db');
    // The port names the socket file (.s.PGSQL.<port>), given in the URL or as ?port=.
    expect(resolveConnection({ url: 'postgres://agent@:6543/db?host=/run/pg' }).client).toMatchObject({ host: '/run/pg', port: 6543 });
    expect(resolveConnection({ url: 'postgres://agent@/db?host=/run/pg&port=6544' }).client).toMatchObject({ host: '/run/pg', port: 6544 });
    expect(resolveConnection({ url: 'postgres://agent@/db?host=/run/pg&port=6544' }).display).toBe('postgres://agent@[/run/pg]:6544/db');
    expect(
      isCertkeeperError(
        thrown(() => resolveConnection({ url: 'postgres://agent@/db?port=http' })),
        'CONFIG_INVALID',
      ),
    ).toBe(true);
    // No host at all: libpq's default socket folder.
    expect(resolveConnection({ url: 'postgres:///db' }).client).toMatchObject({ host: '/var/run/postgresql', database: 'db', ssl: false });
  });

  it('refuses an unparsable URL, another scheme, or an unknown parameter, without repeating the password', () => {
    for (const url of ['postgres://agent:Hidden-Pw-1@[bad/db', 'mysql://agent:Hidden-Pw-1@db/x', 'postgres://agent:Hidden-Pw-1@db/x?sslcert=/tmp/c']) {
      const error = thrown(() => resolveConnection({ url }));
      expect(isCertkeeperError(error, 'CONFIG_INVALID'), url).toBe(true);
      expect(inspect(error, { depth: 10 })).not.toContain('Hidden-Pw-1');
    }
  });

  it('refuses a schema name that is not a plain identifier', () => {
    for (const schema of ['Cert', 'a-b', 'x;drop', '1abc', 'a'.repeat(49)]) {
      expect(
        isCertkeeperError(
          thrown(() => new PostgresStorage({ url: 'postgres://a@127.0.0.1/db', schema })),
          'CONFIG_INVALID',
        ),
        schema,
      ).toBe(true);
    }
  });
});

describe('PostgreSQL sslmode', () => {
  it('defaults to no TLS on loopback and a socket, and to verify-full elsewhere', () => {
    expect(resolveConnection({ url: 'postgres://a@127.0.0.1/db' }).client.ssl).toBe(false);
    expect(resolveConnection({ url: 'postgres://a@localhost/db' }).client.ssl).toBe(false);
    expect(resolveConnection({ url: 'postgres://a@[::1]/db' }).client.ssl).toBe(false);
    expect(resolveConnection({ url: 'postgres://a@db.internal/db' }).client.ssl).toEqual({ rejectUnauthorized: true, servername: 'db.internal' });
  });

  it('maps libpq modes: require encrypts without checking, verify-ca checks the chain only, verify-full the name too', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-pg-ca-'));
    try {
      const caFile = path.join(dir, 'ca.pem');
      await fs.writeFile(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      expect(resolveConnection({ url: 'postgres://a@db.internal/db?sslmode=require' }).client.ssl).toEqual({ rejectUnauthorized: false });
      const verifyCa = resolveConnection({ url: 'postgres://a@db.internal/db', sslmode: 'verify-ca', sslrootcert: caFile }).client.ssl as Record<
        string,
        unknown
      >;
      expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
      expect(typeof verifyCa.checkServerIdentity).toBe('function');
      // libpq: require with a root certificate verifies the chain.
      expect(resolveConnection({ url: `postgres://a@db.internal/db?sslmode=require&sslrootcert=${caFile}` }).client.ssl).toMatchObject({
        rejectUnauthorized: true,
      });
      expect(resolveConnection({ url: 'postgres://a@db.internal/db?sslmode=disable', sslmode: 'verify-full', sslrootcert: caFile }).client.ssl).toMatchObject({
        rejectUnauthorized: true,
        servername: 'db.internal',
        ca: expect.stringContaining('BEGIN CERTIFICATE'),
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses prefer/allow (node-postgres cannot fall back) and an unreadable sslrootcert', () => {
    for (const url of [
      'postgres://a@db.internal/db?sslmode=prefer',
      'postgres://a@db.internal/db?sslmode=allow',
      'postgres://a@db.internal/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem',
    ]) {
      expect(
        isCertkeeperError(
          thrown(() => resolveConnection({ url })),
          'CONFIG_INVALID',
        ),
        url,
      ).toBe(true);
    }
  });
});

describe('PostgreSQL errors', () => {
  const secrets = ['Top-Secret-9'];
  const databaseError = (code: string, message: string): pg.DatabaseError => Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code });

  it('maps connection failures to STATE_UNREACHABLE (retryable) and other server errors to STATE_IO', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(storageError('read x', refused, secrets)).toMatchObject({ code: 'STATE_UNREACHABLE', retryable: true });
    expect(storageError('read x', new Error('Connection terminated unexpectedly'), secrets).code).toBe('STATE_UNREACHABLE');
    expect(storageError('read x', databaseError('57P01', 'terminating connection due to administrator command'), secrets).code).toBe('STATE_UNREACHABLE');
    expect(storageError('read x', databaseError('57P03', 'the database system is starting up'), secrets).code).toBe('STATE_UNREACHABLE');
    expect(storageError('read x', databaseError('57014', 'canceling statement due to statement timeout'), secrets).code).toBe('STATE_UNREACHABLE');
    expect(storageError('read x', databaseError('53300', 'sorry, too many clients already'), secrets).code).toBe('STATE_UNREACHABLE');
    const denied = storageError('read x', databaseError('42501', 'permission denied for table kv'), secrets);
    expect(denied).toMatchObject({ code: 'STATE_IO', retryable: false, details: { sqlState: '42501' } });
    expect(denied.message).toBe('PostgreSQL: cannot read x: permission denied for table kv');
  });

  it('takes the password out of the message and of the cause it keeps', () => {
    const leaky = Object.assign(new Error('cannot connect to postgres://a:Top-Secret-9@db/x'), { code: 'EWHATEVER', input: 'postgres://a:Top-Secret-9@db/x' });
    const error = storageError('read x', leaky, secrets);
    for (const shown of [error.message, describeError(error), inspect(error, { depth: 10 }), JSON.stringify(error)])
      expect(shown).not.toContain('Top-Secret-9');
    expect(error.message).toContain('postgres://a:[REDACTED]@db/x');
    expect((error.cause as { code?: string }).code).toBe('EWHATEVER');
  });
});

describe('PostgreSQL lease timing', () => {
  it('gives up a lock after at least two missed renewals and before its lease can expire', () => {
    for (const ttl of [300, 1_000, 3_000, 30_000, 60_000, 600_000]) {
      const margin = lostMarginMs(ttl);
      expect(margin, `ttl ${ttl}`).toBeGreaterThan(0);
      expect(2 * Math.floor(ttl / 3), `ttl ${ttl}`).toBeLessThan(ttl - margin);
    }
  });
});

describe('PostgreSQL migrations', () => {
  it('lists every file of migrations/ once, in version order', () => {
    const folder = path.join(import.meta.dirname, '../../../src/state/storage/postgres/migrations');
    const files = readdirSync(folder)
      .filter((name) => /^\d{3}-.+\.ts$/.test(name))
      .sort();
    expect(MIGRATIONS.map((m) => m.version)).toEqual(files.map((name) => Number(name.slice(0, 3))));
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, n) => n + 1));
    expect(LATEST_VERSION).toBe(files.length);
  });
});
