// `certkeeper schema`: the config's JSON Schema (config/json-schema.ts), for editors and tools. The
// build writes the same text to dist/certkeeper.schema.json, which the package ships.

import { configJsonSchemaText } from '../../config/json-schema.js';
import { EXIT_OK, type CommandIo } from '../io.js';

export function schemaCommand(io: CommandIo): number {
  io.stdout.write(configJsonSchemaText());
  return EXIT_OK;
}
