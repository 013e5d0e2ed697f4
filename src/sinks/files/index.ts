// The files sink: writes cert.pem, chain.pem, fullchain.pem and privkey.pem into a folder as one
// set. The folder is a symlink switched atomically to a fresh version folder, so a server reading
// it never pairs a new certificate with an old key; the previous `keep` versions stay for rollback.
// Whatever certkeeper did not create at the folder's path is refused, never moved or deleted
// (core/file-set.ts); the folders it creates get modes from the configured file modes, not the umask.

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CertkeeperError, isAbortError, isCertkeeperError, toCertkeeperError } from '../../core/errors.js';
import { publishFileSet } from '../../core/file-set.js';
import type { DeployRequest, DeployResult, Sink, SinkContext } from '../contract.js';
import { filesSinkDir, filesSinkPaths } from './paths.js';
import type { FilesSinkConfig } from './schema.js';

export { filesSinkDir, filesSinkPaths } from './paths.js';

const execFileAsync = promisify(execFile);

export function createFilesSink(config: FilesSinkConfig, ctx: SinkContext): Sink {
  const label = `sink "${ctx.name}"`;
  return {
    name: ctx.name,
    type: 'files',
    locate: (certName: string) => filesSinkPaths(filesSinkDir(config, certName)),
    async deploy(request: DeployRequest, signal?: AbortSignal): Promise<DeployResult> {
      if (signal?.aborted) throw new CertkeeperError('CANCELLED', `${label}: cancelled`);
      const dir = filesSinkDir(config, request.certName);
      let uid: number | undefined;
      let gid: number | undefined;
      try {
        // Resolved on every deploy: the user or group may be created after certkeeper starts.
        uid = config.owner === undefined ? undefined : await resolveId('passwd', config.owner);
        gid = config.group === undefined ? undefined : await resolveId('group', config.group);
        const { material } = request;
        const dirMode = filesSinkFolderMode([config.mode, config.keyMode], uid !== undefined && uid !== process.geteuid?.());
        const result = await publishFileSet(
          dir,
          [
            { name: 'cert.pem', data: material.certPem, mode: config.mode },
            { name: 'chain.pem', data: material.chainPem, mode: config.mode },
            { name: 'fullchain.pem', data: material.fullchainPem, mode: config.mode },
            { name: 'privkey.pem', data: material.keyPem, mode: config.keyMode },
          ],
          { keep: config.keep, dirMode, uid, gid, label: request.serial, now: ctx.clock.now() },
        );
        ctx.logger.debug({ cert: request.certName, dir, version: path.basename(result.versionDir) }, 'wrote certificate files');
        return { paths: filesSinkPaths(dir), detail: `wrote ${dir}` };
      } catch (error) {
        if (isAbortError(error)) throw toCertkeeperError(error);
        // Refusals keep their code: retrying cannot help, the operator has to look.
        if (isCertkeeperError(error, 'SINK_TARGET_EXISTS') || isCertkeeperError(error, 'UNSAFE_PATH')) {
          throw new CertkeeperError(error.code, `${label}: ${error.message}`, { cause: error, retryable: false, details: error.details });
        }
        const hint = isChownRefusal(error) ? `: ${chownRefusal(config, uid, gid)} (certkeeper doctor checks this before a renewal)` : '';
        throw new CertkeeperError('SINK_FAILED', `${label}: cannot write ${dir}: ${toCertkeeperError(error).message}${hint}`, { cause: error });
      }
    },
  };
}

function isChownRefusal(error: unknown): boolean {
  const { code, syscall } = error as NodeJS.ErrnoException;
  return code === 'EPERM' && typeof syscall === 'string' && syscall.includes('chown');
}

/**
 * Why the kernel refused `owner:`/`group:`: a process without CAP_CHOWN (the unprivileged
 * systemd units have none) may give its files to a group it is in, and never to another user.
 */
function chownRefusal(config: Pick<FilesSinkConfig, 'owner' | 'group'>, uid: number | undefined, gid: number | undefined): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = String(process.geteuid?.());
  }
  const reasons: string[] = [];
  if (uid !== undefined && uid !== process.geteuid?.())
    reasons.push(
      `owner ${config.owner}: giving files to another user needs root or CAP_CHOWN; leave owner: out and let a group read them (group: with keyMode: "0640")`,
    );
  if (gid !== undefined && gid !== process.getegid?.() && !(process.getgroups?.() ?? []).includes(gid))
    reasons.push(
      `group ${config.group}: only a group this user (${user}) is in can be given without CAP_CHOWN: usermod -aG ${config.group} ${user}, then restart certkeeper`,
    );
  return reasons.length > 0 ? reasons.join('; ') : 'changing the owner or group of a file needs CAP_CHOWN here';
}

/**
 * Mode of the folders the sink creates (parents, the versions folder, each version): whoever may
 * read one of the files may reach it (group or others r-x), nobody else. A configured owner other
 * than certkeeper's user gets through as "others" with search only (--x, no listing), since the
 * folders stay certkeeper's: an owner able to write them could swap a version for a symlink.
 */
export function filesSinkFolderMode(fileModes: number[], foreignOwner: boolean): number {
  let mode = 0o700;
  if (fileModes.some((m) => (m & 0o040) !== 0)) mode |= 0o050;
  if (fileModes.some((m) => (m & 0o004) !== 0)) mode |= 0o005;
  else if (foreignOwner) mode |= 0o001;
  return mode;
}

/**
 * A user or group id from a number, a numeric string, or a name. Names go through `getent`, so
 * LDAP/sssd users work too; without getent (minimal images) /etc/passwd or /etc/group is read.
 */
export async function resolveId(database: 'passwd' | 'group', nameOrId: string | number): Promise<number> {
  if (typeof nameOrId === 'number') return nameOrId;
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  const what = database === 'passwd' ? 'user' : 'group';
  let entry: string | undefined;
  try {
    const { stdout } = await execFileAsync('getent', [database, nameOrId], { timeout: 10_000 });
    entry = stdout.split('\n')[0];
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') entry = await readEntry(`/etc/${database}`, nameOrId);
    else if (code !== 2) throw new Error(`cannot look up ${what} "${nameOrId}": ${(error as Error).message}`); // 2 = not found
  }
  // passwd: name:x:uid:gid:...   group: name:x:gid:members — the id is the third field either way.
  const id = entry?.split(':')[2];
  if (id === undefined || !/^\d+$/.test(id)) throw new Error(`no ${what} named "${nameOrId}"`);
  return Number(id);
}

async function readEntry(file: string, name: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').find((line) => line.startsWith(`${name}:`));
}
