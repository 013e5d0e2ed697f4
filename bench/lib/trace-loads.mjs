// `node --import ./bench/lib/trace-loads.mjs …`: appends every module URL the process loads (ESM
// imports and CommonJS requires) to $TRACE_LOADS_FILE, to check what a command pulls in.
import { register } from 'node:module';
import { appendFileSync } from 'node:fs';
import Module from 'node:module';

const file = process.env.TRACE_LOADS_FILE;
if (file) {
  register(
    `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(file)}, url + '\\n'); return next(url, context); }
`)}`,
  );
  const original = Module.prototype.require;
  Module.prototype.require = function (id) {
    const loaded = original.apply(this, arguments);
    try {
      appendFileSync(file, `${Module._resolveFilename(id, this)}\n`);
    } catch {
      /* builtins */
    }
    return loaded;
  };
}
