// Whether a hook's program can be started: a path (relative to the hook's cwd) or a name on PATH,
// pointing at an executable file.

import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/** A problem with starting `program`, or undefined when it is an executable file. */
export async function executableProblem(program: string, cwd: string, pathEnv: string | undefined): Promise<string | undefined> {
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (pathEnv ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    const stat = await fs.stat(candidate).catch(() => undefined);
    if (!stat?.isFile()) continue;
    try {
      await fs.access(candidate, constants.X_OK);
      return undefined;
    } catch {
      return `${candidate} is not executable`;
    }
  }
  return program.includes('/') ? `${path.resolve(cwd, program)} does not exist` : `"${program}" is not on PATH`;
}
