// The rules of the chart's Role for the kubernetes store, read from
// charts/certkeeper/templates/rbac.yaml (the block between the `store-role-rules` markers, plain
// YAML without template directives), so tests can grant the API stand-in exactly what the chart
// grants and compare it with the verbs the store used.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { K8sRule } from './k8s-standin.js';
import { REPO } from './cli.js';

interface RoleRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The store Role's rules as the chart renders them with default values. */
export function chartStoreRoleRules(): RoleRule[] {
  const text = readFileSync(path.join(REPO, 'charts/certkeeper/templates/rbac.yaml'), 'utf8');
  const block = /# store-role-rules: begin\n([\s\S]*?)\s*# store-role-rules: end/.exec(text)?.[1];
  if (!block) throw new Error('charts/certkeeper/templates/rbac.yaml has no store-role-rules block');
  if (block.includes('{{')) throw new Error('the store-role-rules block must be plain YAML');
  return parse(`rules:\n${block}`).rules as RoleRule[];
}

/** The same rules in the stand-in's terms. */
export function chartStoreRules(): K8sRule[] {
  return chartStoreRoleRules().map((rule) => ({
    resources: rule.resources,
    verbs: rule.verbs,
    ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}),
  }));
}

/** `verb resource` for every pair the rules grant, sorted (as K8sStandin.used() reports). */
export function grantedVerbs(rules: RoleRule[] = chartStoreRoleRules()): string[] {
  return [...new Set(rules.flatMap((rule) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource}`))))].sort();
}

/**
 * Renders a template of the chart (serviceaccount.yaml, rbac.yaml) with `values` as helm would,
 * for the few constructs those files use: `if`/`with` whose condition is one of `conditions`
 * (an unknown one throws, so a changed template fails the test instead of rendering wrongly),
 * `range` over the secret namespaces (the release namespace), the name helpers and the release
 * namespace; label blocks are left out. There is no helm binary here.
 */
export function renderChartTemplate(
  file: string,
  conditions: Record<string, boolean>,
  release = { name: 'certkeeper', namespace: 'certkeeper' },
): Record<string, unknown>[] {
  const text = readFileSync(path.join(REPO, 'charts/certkeeper/templates', file), 'utf8');
  const out: string[] = [];
  const stack: boolean[] = [];
  let inComment = false;
  for (const line of text.split('\n')) {
    if (inComment) {
      if (line.includes('*/}}')) inComment = false;
      continue;
    }
    const trimmed = line.trim();
    if (/^\{\{-?\s*\/\*/.test(trimmed)) {
      if (!trimmed.includes('*/}}')) inComment = true;
      continue;
    }
    const block = /^\{\{-?\s*(if|with|range|end)\b\s*(.*?)\s*-?\}\}$/.exec(trimmed);
    if (block) {
      const [, keyword, expression] = block;
      if (keyword === 'end') stack.pop();
      else if (keyword === 'range') stack.push(true);
      else {
        if (!(expression! in conditions)) throw new Error(`${file}: no value given for the condition ${expression}`);
        stack.push(conditions[expression!]!);
      }
      continue;
    }
    if (stack.includes(false)) continue;
    if (/\{\{-?\s*include "certkeeper\.labels"/.test(trimmed)) continue;
    const rendered = line
      .replace(/\{\{\s*include "certkeeper\.(fullname|serviceAccountName)" \$?\.?\s*\}\}/g, release.name)
      .replace(/\{\{\s*\$?\.Release\.Namespace\s*\}\}/g, release.namespace)
      .replace(/\{\{\s*\$namespace\s*\}\}/g, release.namespace);
    if (rendered.includes('{{')) throw new Error(`${file}: cannot render ${trimmed}`);
    if (rendered.trim() === '' && out.at(-1)?.trim() === '') continue;
    out.push(rendered);
  }
  return parseAllDocuments(out.join('\n'))
    .map((doc) => doc.toJS() as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null);
}
