// Where something sits in the parsed YAML tree, and a problem found there: what every pass over
// the tree (bounds, ${ENV} expansion, *File secrets, cross-checks) reports before the schema runs.

export type YamlPath = (string | number)[];

export interface TreeProblem {
  path: YamlPath;
  message: string;
}
