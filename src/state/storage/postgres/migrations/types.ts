// One version of the PostgreSQL schema: what each numbered file here exports and index.ts lists.

export interface Migration {
  version: number;
  description: string;
  /** The statements, given the schema's quoted name; run in order inside one transaction. */
  statements(schema: string): string[];
}
