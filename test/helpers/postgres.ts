// A throw-away PostgreSQL cluster for tests: initdb into a temp folder, run by an unprivileged
// user (the server refuses root), listening on a free loopback port with password auth (so the
// URL carries a password whose redaction tests can check), fsync off. stop() ends exactly this
// cluster and removes its folder; restart(), stopServer() and startServer() let tests take the
// server away under a running client. Missing binaries are installed when running as root, as
// test/global-setup.ts does for Pebble and BIND; otherwise the error names the command.

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, readdirSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { installCommand } from '../../src/devstack/packages.js';
import { freePort } from '../../src/devstack/ports.js';

export interface PostgresCluster {
  /** `postgres://certkeeper:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  user: string;
  password: string;
  port: number;
  /** The folder holding its unix socket (local connections are trusted: no password). */
  socketDir: string;
  /** Runs one statement as the cluster's superuser (setup and inspection). */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** pg_ctl restart (fast: sessions are told and cut), waiting until it accepts connections. */
  restart(): Promise<void>;
  /** Takes the server down (immediate: as a crash would), keeping its data. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops this cluster and removes its folder. */
  stop(): Promise<void>;
}

const USER = 'certkeeper';
const RUN_AS = 'nobody';

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = ensurePostgresBinaries();
  const { uid, gid } = systemUser(RUN_AS);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'certkeeper-pg-'));
  await fs.chown(root, uid, gid);
  const data = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const password = `pw${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const pwFile = path.join(root, 'pwfile');
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  await fs.chown(pwFile, uid, gid);

  const run = (tool: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile(
        path.join(bin, tool),
        args,
        { uid, gid, cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || error.message}${tailOf(logFile)}`));
          else resolve();
        },
      );
    });

  let exitGuard: (() => void) | undefined;
  try {
    await run('initdb', [
      '-D',
      data,
      '-U',
      USER,
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    await fs.appendFile(
      path.join(data, 'postgresql.conf'),
      [
        '',
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${root}'`,
        // Fast, and still safe against the immediate stops tests do (only an OS crash loses data);
        // synchronous_commit stays on, or a killed server would forget its last commits.
        'fsync = off',
        'full_page_writes = off',
        'max_connections = 40',
        'shared_buffers = 16MB',
        'log_min_messages = warning',
        '',
      ].join('\n'),
    );
    const start = (): Promise<void> => run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
    await start();
    // A test process that dies without stop() must not leave a server behind.
    exitGuard = () => {
      spawnSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { uid, gid, cwd: root, stdio: 'ignore' });
    };
    process.once('exit', exitGuard);

    const url = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    let stopped = false;
    return {
      url,
      user: USER,
      password,
      port,
      socketDir: root,
      async query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]> {
        const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
        await client.connect();
        try {
          return (await client.query<T>(text, values)).rows;
        } finally {
          await client.end();
        }
      },
      restart: () => run('pg_ctl', ['-D', data, '-l', logFile, '-m', 'fast', '-w', '-t', '60', 'restart']),
      stopServer: () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
      startServer: start,
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        if (existsSync(path.join(data, 'postmaster.pid'))) await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        if (exitGuard) process.removeListener('exit', exitGuard);
        await fs.rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (exitGuard) {
      exitGuard();
      process.removeListener('exit', exitGuard);
    }
    await fs.rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** The folder holding initdb, pg_ctl and postgres: Debian's newest major, else from PATH. */
export function findPostgresBinaries(): string | undefined {
  const complete = (dir: string): boolean => ['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(path.join(dir, tool)));
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) if (complete(path.join(debian, major, 'bin'))) return path.join(debian, major, 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || !existsSync(path.join(dir, 'postgres'))) continue;
    const real = path.dirname(realpathSync(path.join(dir, 'postgres')));
    if (complete(real)) return real;
  }
  return undefined;
}

function ensurePostgresBinaries(): string {
  const found = findPostgresBinaries();
  if (found) return found;
  const asRoot = process.getuid?.() === 0;
  const command = installCommand(['postgresql'], asRoot);
  if (!asRoot) throw new Error(`the PostgreSQL server (initdb, pg_ctl, postgres) is not installed. Install it with:\n  ${command}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install =
    update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { stdio: 'inherit', env }) : update;
  const after = findPostgresBinaries();
  if (install.status !== 0 || !after) throw new Error(`installing PostgreSQL failed; run by hand: ${command}`);
  return after;
}

function systemUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`no user ${name} on this system to run PostgreSQL as`);
}

function tailOf(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text === '' ? '' : `\nserver log:\n${text.split('\n').slice(-20).join('\n')}`;
  } catch {
    return '';
  }
}
