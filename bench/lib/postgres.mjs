// A throw-away PostgreSQL cluster for the benches, started the way test/helpers/postgres.ts does
// it (that helper is TypeScript for vitest; the benches are plain JS run on dist/): initdb into a
// temp folder as `nobody` (the server refuses root), a free loopback port, password auth, fsync
// off. stop() stops exactly this cluster (its own data folder) and removes the folder.

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './common.mjs';

const USER = 'certkeeper';

export async function startPostgres() {
  const bin = findBinaries();
  if (!bin) throw new Error('the PostgreSQL server (initdb, pg_ctl, postgres) is not installed: apt-get install -y postgresql');
  const { uid, gid } = systemUser('nobody');
  const { freePort } = await import(path.join(REPO, 'dist/devstack/ports.js'));
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-bench-pg-'));
  await fs.chown(root, uid, gid);
  const data = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const password = `pw${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const pwFile = path.join(root, 'pwfile');
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  await fs.chown(pwFile, uid, gid);
  const run = (tool, args) =>
    new Promise((resolve, reject) => {
      execFile(
        path.join(bin, tool),
        args,
        { uid, gid, cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || error.message}`));
          else resolve();
        },
      );
    });
  const stopNow = () => spawnSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { uid, gid, cwd: root, stdio: 'ignore' });
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
      // As the test cluster, but with the server's default shared_buffers (128 MB): a bench
      // measures certkeeper against a server configured as shipped, not a squeezed one.
      [
        '',
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${root}'`,
        'fsync = off',
        'full_page_writes = off',
        'log_min_messages = warning',
        '',
      ].join('\n'),
    );
    await run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
  } catch (error) {
    stopNow();
    await fs.rm(root, { recursive: true, force: true });
    throw error;
  }
  // A bench that dies on an error must not leave its server behind.
  process.once('exit', stopNow);
  let stopped = false;
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopNow);
      await run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => stopNow());
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** Debian's newest PostgreSQL major, else the folder of `postgres` on PATH. */
function findBinaries() {
  const complete = (dir) => ['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(path.join(dir, tool)));
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) if (complete(path.join(debian, major, 'bin'))) return path.join(debian, major, 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir !== '' && complete(dir)) return dir;
  return undefined;
}

function systemUser(name) {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`no user ${name} to run PostgreSQL as`);
}
