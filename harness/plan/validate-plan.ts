// What only the plan shows before anything boots: every expectation, computed for each
// planned cell as the run will compute it (a function-form one called with the cell's
// CPU and driver), names only fields the checks know and writes each installed build
// as VERSION-RELEASE.ARCH of a build the scenario's repositories offer; every known
// issue covers a scenario that exists. Each problem names the file and field. Pure.
import { isRpmArch, RPM_ARCHES } from '../levels/arch.js';
import { formatEvr } from '../packages/evr.js';
import type { AvailablePackage } from '../packages/available.js';
import { expectContextOf, stepTitle, type Expectation, type Scenario } from '../scenario/types.js';
import { closest } from '../util/suggest.js';
import type { KnownIssue } from './known-issues.js';
import { scenarioMatches } from './known-issues.js';
import type { Cell } from './plan.js';

/** Every field of an expectation; a key outside it would be read by no check and vanish. */
export const EXPECTATION_KEYS = ['refused', 'installed', 'runs', 'runsPackage', 'dies', 'loads', 'current', 'updatesListed', 'detectedArch', 'detectors', 'runnable'] as const satisfies readonly (keyof Expectation)[];
// Fails to compile when Expectation gains a field this list lacks.
const everyKey: Record<Exclude<keyof Expectation, (typeof EXPECTATION_KEYS)[number]>, never> = {};
void everyKey;

/** The packages each repository a scenario may name offers: fixture builds, or an attached repository's metadata. */
export type OfferedPackages = (scenario: Scenario, repo: string) => readonly AvailablePackage[] | undefined;

/** Offers of fixture repositories from their builds; attached ones from `attached` (name → its packages). */
export function offeredBy(attached: ReadonlyMap<string, readonly AvailablePackage[]>): OfferedPackages {
  return (scenario, repo) => {
    const spec = scenario.repos[repo];
    if (!spec) return undefined;
    if (spec.kind === 'attached') return attached.get(spec.name);
    return spec.builds.map((b) => ({ name: b.name, epoch: 0, version: b.version, release: b.release ?? '1', arch: b.arch }));
  };
}

const EVRA = /^(?:(\d+):)?([^-:\s]+)-([^-\s]+)\.([^.\s]+)$/;

/** Problems with one installed value ("1.0-1.x86_64_v3"): its form, its arch, and whether the repositories offer it. */
function installedProblems(name: string, value: string, at: string, offered: readonly AvailablePackage[]): string[] {
  const m = EVRA.exec(value);
  if (!m) {
    const withoutName = value.startsWith(`${name}-`) && EVRA.test(value.slice(name.length + 1)) ? `; did you mean '${value.slice(name.length + 1)}' (without the name)?` : '';
    return [`${at}: installed.${name}: '${value}' is not VERSION-RELEASE.ARCH${withoutName || ', e.g. 1.0-1.x86_64_v3'}`];
  }
  const arch = m[4]!;
  if (!isRpmArch(arch)) {
    const fixed = arch.replaceAll('-', '_');
    const hint = isRpmArch(fixed) ? `; did you mean '${value.slice(0, -arch.length)}${fixed}'? (rpm arches use '_')` : `; known: ${RPM_ARCHES.join(', ')}`;
    return [`${at}: installed.${name}: '${value}' has the arch '${arch}', which is not an rpm arch${hint}`];
  }
  const builds = offered.filter((p) => p.name === name);
  // A name none of the scenario's repositories offers may come with the image: nothing to compare with.
  if (builds.length === 0) return [];
  const evra = (p: AvailablePackage) => `${formatEvr(p)}.${p.arch}`;
  // Compared as the run compares it: the EVRA as rpm prints it (no epoch 0).
  if (builds.some((p) => evra(p) === value)) return [];
  return [`${at}: installed.${name}: '${value}' is offered by none of the scenario's repositories; they offer ${[...new Set(builds.map(evra))].sort().join(', ')}`];
}

function expectationProblems(expectation: unknown, at: string, offered: readonly AvailablePackage[]): string[] {
  if (typeof expectation !== 'object' || expectation === null || Array.isArray(expectation)) return [`${at}: is not an expectation object: ${JSON.stringify(expectation)}`];
  const problems: string[] = [];
  for (const key of Object.keys(expectation)) {
    if ((EXPECTATION_KEYS as readonly string[]).includes(key)) continue;
    const near = closest(key, EXPECTATION_KEYS);
    problems.push(`${at}: unknown key '${key}'${near ? `; did you mean '${near}'?` : ''} (known: ${EXPECTATION_KEYS.join(', ')})`);
  }
  const installed = (expectation as Expectation).installed;
  for (const [name, want] of Object.entries(installed ?? {})) {
    const values = typeof want === 'string' ? [want] : Array.isArray(want) ? (want as unknown[]) : [];
    for (const v of values) problems.push(...(typeof v === 'string' ? installedProblems(name, v, at, offered) : [`${at}: installed.${name}: ${JSON.stringify(v)} is not VERSION-RELEASE.ARCH`]));
  }
  return problems;
}

/**
 * Every expectation of every planned cell, computed as the run computes it. A problem
 * found in several cells is reported once, with the first cell it showed in; `lineOf`
 * gives the line a scenario's step is written on, when known.
 */
export function planProblems(cells: readonly Cell[], offered: OfferedPackages, lineOf: (scenario: Scenario, step: number) => number | undefined = () => undefined): string[] {
  const problems = new Map<string, string>();
  for (const cell of cells) {
    const { scenario } = cell;
    const repos = Object.keys(scenario.repos).flatMap((r) => offered(scenario, r) ?? []);
    for (const [i, step] of scenario.steps.entries()) {
      const source = step.expectation;
      if (source === undefined) continue;
      const line = lineOf(scenario, i);
      const where = `${scenario.source ?? 'the built-in catalog'}${line ? `:${line}` : ''}: scenario '${scenario.id}'`;
      const field = `steps[${i}] (${stepTitle(step.action)}).expect`;
      const cellPart = ` at ${cell.target.name} with ${cell.driver}`;
      const at = typeof source === 'function' ? `${where}: ${field}(cpu)${cellPart}` : `${where}: ${field}`;
      let found: string[];
      try {
        found = expectationProblems(typeof source === 'function' ? source(expectContextOf(cell.target, cell.driver)) : source, at, repos);
      } catch (error) {
        found = [`${at}: the function threw: ${error instanceof Error ? error.message : String(error)}`];
      }
      for (const p of found) if (!problems.has(p.replace(cellPart, ''))) problems.set(p.replace(cellPart, ''), p);
    }
  }
  return [...problems.values()];
}

/** Known issues naming a scenario (or a pattern) that matches none of `scenarioIds`. */
export function knownIssueProblems(issues: readonly KnownIssue[], scenarioIds: readonly string[]): string[] {
  return issues.flatMap((issue) =>
    issue.scenarios
      .filter((pattern) => !scenarioIds.some((id) => scenarioMatches(pattern, id)))
      .map((pattern) => {
        const near = closest(pattern, scenarioIds);
        return `${issue.source ?? 'knownIssues'} (${issue.id}): scenarios: '${pattern}' names no scenario of the project${near ? `; did you mean '${near}'?` : ''} (known: ${scenarioIds.slice(0, 12).join(', ')}${scenarioIds.length > 12 ? ', …' : ''})`;
      }),
  );
}
