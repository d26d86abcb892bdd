// levelgate's built-in catalog and its known issues, for projects that run it. Loaded
// when asked for, not at import: the catalog is written with the public API
// (harness/index.ts), which exports run(); a static import here would be a cycle that
// evaluates the catalog before the API it calls exists.
import type { KnownIssue } from '../plan/known-issues.js';
import type { Scenario } from '../scenario/types.js';

export interface BuiltinCatalog {
  readonly scenarios: readonly Scenario[];
  readonly knownIssues: readonly KnownIssue[];
}

export async function builtinCatalog(): Promise<BuiltinCatalog> {
  const [{ CATALOG }, { KNOWN_ISSUES }] = await Promise.all([import('../../scenarios/index.js'), import('../../scenarios/known-issues.js')]);
  return { scenarios: CATALOG, knownIssues: KNOWN_ISSUES };
}
