// Whether a files sink's `owner:` and `group:` can be applied by this process, before a deploy
// fails with EPERM. Linux lets a process without CAP_CHOWN change the group of its own files to
// a group it belongs to, and never their owner: so under the unprivileged units a group that
// certkeeper's user is in works, and `owner:` (another user) needs root or CAP_CHOWN.

import { describeUser, type ProcessIdentity } from './identity.js';

export type IdLookup = (database: 'passwd' | 'group', nameOrId: string | number) => Promise<number>;

/** Why `owner`/`group` would fail for `identity`, or undefined when the deploy may apply them. */
export async function ownershipProblem(
  settings: { owner?: string | number | undefined; group?: string | number | undefined },
  identity: ProcessIdentity,
  lookup: IdLookup,
): Promise<string | undefined> {
  const problems: string[] = [];
  const who = describeUser(identity);
  if (settings.owner !== undefined) {
    const uid = await lookup('passwd', settings.owner).catch((error: Error) => error);
    if (uid instanceof Error) problems.push(`owner ${settings.owner}: ${uid.message}`);
    else if (uid !== identity.uid && !identity.capChown) {
      problems.push(
        `owner ${settings.owner} (uid ${uid}): only root or a process with CAP_CHOWN may give files to another user, and ${who} has no CAP_CHOWN, so the deploy fails with EPERM; ` +
          `leave owner: out and let a group read the files (group: with keyMode: "0640"), or grant the unit CAP_CHOWN (CapabilityBoundingSet=CAP_CHOWN and AmbientCapabilities=CAP_CHOWN)`,
      );
    }
  }
  if (settings.group !== undefined) {
    const gid = await lookup('group', settings.group).catch((error: Error) => error);
    if (gid instanceof Error) problems.push(`group ${settings.group}: ${gid.message}`);
    else if (gid !== identity.gid && !identity.groups.includes(gid) && !identity.capChown) {
      const name = identity.user ?? String(identity.uid);
      problems.push(
        `group ${settings.group} (gid ${gid}): ${who} is not a member, so it may not give files to that group and the deploy fails with EPERM; ` +
          `add it (usermod -aG ${settings.group} ${name}) and restart certkeeper, as groups are read when a process starts`,
      );
    }
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}
