// Where each certificate's sinks write, checked across the whole config: two certificates (or
// two sinks of one) writing one place would overwrite each other, the last writer silently
// winning, and a files sink writing into the state directory would have certkeeper move its own
// state aside for a link. Both are config errors, found before anything runs.

import path from 'node:path';
import type { CertificateSpec } from '../core/types.js';
import type { SinkConfig } from '../sinks/schema.js';
import { secretNameFor } from '../sinks/kubernetes-secret/schema.js';
import type { TreeProblem } from './tree-problem.js';

interface Target {
  /** Equal keys: the same place. */
  key: string;
  /** "/srv/tls/www", "Secret default/www-tls", "ACM certificate arn:…". */
  label: string;
  /** A files sink's folder (absolute), for the checks on nesting and the state directory. */
  dir?: string;
}

/** `{cert}` is replaced as the files sink does (sinks/files), in a folder already made absolute by the loader. */
function targetOf(sink: SinkConfig, cert: string): Target | undefined {
  switch (sink.type) {
    case 'files': {
      const dir = path.resolve(sink.dir.replaceAll('{cert}', cert));
      return { key: `files:${dir}`, label: dir, dir };
    }
    case 'kubernetes-secret': {
      const name = secretNameFor(sink, cert);
      const namespace = sink.namespace ?? "(the context's namespace)";
      return { key: `secret:${sink.kubeconfig ?? ''}\0${sink.context ?? ''}\0${sink.namespace ?? ''}\0${name}`, label: `Secret ${namespace}/${name}` };
    }
    case 'acm':
      return sink.certificateArn ? { key: `acm:${sink.certificateArn}`, label: `ACM certificate ${sink.certificateArn}` } : undefined;
    default:
      return undefined; // exec: a command, not a place
  }
}

/** True when `inner` is `outer` or inside it (both absolute and normalized, as path.resolve leaves them). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : `${outer}${path.sep}`);
}

interface Owner {
  index: number;
  cert: string;
  sink: string;
}

function owner(o: Owner): string {
  return `certificates[${o.index}] ("${o.cert}") through sink "${o.sink}"`;
}

export function sinkTargetProblems(config: { stateDir: string; sinks: Record<string, SinkConfig>; certificates: CertificateSpec[] }): TreeProblem[] {
  const problems: TreeProblem[] = [];
  const owners = new Map<string, Owner>();
  const dirs: { dir: string; at: TreeProblem['path']; who: Owner }[] = [];
  config.certificates.forEach((cert, index) => {
    cert.sinks.forEach((sinkName, j) => {
      const sink = Object.hasOwn(config.sinks, sinkName) ? config.sinks[sinkName] : undefined;
      const target = sink && targetOf(sink, cert.name);
      if (!target) return;
      const at = ['certificates', index, 'sinks', j];
      const who = { index, cert: cert.name, sink: sinkName };
      const previous = owners.get(target.key);
      if (previous) {
        const hint = sink.type === 'files' && !sink.dir.includes('{cert}') ? ' (put {cert} in the dir of the sink)' : '';
        problems.push({
          path: at,
          message: `sink "${sinkName}" writes ${target.label}, which ${owner(previous)} writes too: the last writer would win${hint}`,
        });
        return;
      }
      owners.set(target.key, who);
      if (target.dir === undefined) return;
      if (within(target.dir, config.stateDir) || within(config.stateDir, target.dir)) {
        const relation = target.dir === config.stateDir ? 'is' : within(target.dir, config.stateDir) ? 'is inside' : 'holds';
        problems.push({ path: at, message: `sink "${sinkName}" writes ${target.dir}, which ${relation} the state directory ${config.stateDir}` });
        return;
      }
      dirs.push({ dir: target.dir, at, who });
    });
  });
  // A files sink's folder becomes a link to a version folder on every deploy: nothing else may live inside it.
  for (const { dir, at, who } of dirs) {
    for (let parent = path.dirname(dir), child = dir; parent !== child; child = parent, parent = path.dirname(parent)) {
      const outer = owners.get(`files:${parent}`);
      if (outer) {
        problems.push({ path: at, message: `sink "${who.sink}" writes ${dir}, inside ${parent}, which ${owner(outer)} writes (and replaces on every deploy)` });
        break;
      }
    }
  }
  return problems;
}
