// Which Bochs runs v4 guests: the lean build (bochs-build.ts, Debian's source rebuilt
// without debugger, instrumentation and SMP; built on first use and cached), the host's
// Debian package, or a binary named by LEVELGATE_BOCHS=/path. LEVELGATE_BOCHS=auto (default) takes the lean one and, when it cannot be
// built, the distro's with a one-line notice: both run the same guest to the same verdicts,
// the lean one faster, so a host without a compiler or a mirror without the source still
// runs v4. The failure is remembered (no rebuild attempt per run) until `levelgate setup`.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { cacheRoot, exists, writeJson } from '../host/cache.js';
import { debianPackageVersion } from '../host/tools.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { stderrLog, type Log } from '../util/log.js';
import { leanBochsKey, leanBochsRecipe } from './bochs-build-recipe.js';
import { ensureLeanBochs, leanBochsDir, type LeanBochs } from './bochs-build.js';

export const BOCHS_BINARY = 'bochs';
export const BOCHS_ROM = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGA_ROM = '/usr/share/vgabios/vgabios.bin';

/** Which Bochs: the program (or a loader and the program), its environment and its BIOS images. */
export interface BochsProgram {
  readonly name: string;
  readonly argv0: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly romImage: string;
  readonly vgaRomImage: string;
  readonly version: string;
  /** Built with the internal debugger (Debian's is): it stops at a prompt unless an rc file says "continue". */
  readonly debugger: boolean;
}

export const BOCHS_CHOICES = ['auto', 'lean', 'distro'] as const;
/** A named choice, or a Bochs binary of one's own (an absolute path; built without the debugger). */
export type BochsChoice = (typeof BOCHS_CHOICES)[number] | { readonly binary: string };

/** LEVELGATE_BOCHS, checked. */
export function bochsChoice(env: NodeJS.ProcessEnv = process.env): BochsChoice {
  const value = env.LEVELGATE_BOCHS ?? 'auto';
  if (value.startsWith('/')) return { binary: value };
  if (!(BOCHS_CHOICES as readonly string[]).includes(value)) throw new UsageError(`LEVELGATE_BOCHS=${value} is not a Bochs choice; known: ${BOCHS_CHOICES.join(', ')}, or the absolute path of a Bochs built without the debugger`);
  return value as BochsChoice;
}

/** The host's Debian package (with its debugger compiled in). */
export function distroBochs(version: string): BochsProgram {
  return { name: 'distro', argv0: [BOCHS_BINARY], env: {}, romImage: BOCHS_ROM, vgaRomImage: BOCHS_VGA_ROM, version, debugger: true };
}

/** A binary of one's own, known by its content's digest (snapshot keys hold it). */
export function givenBochs(binary: string, sha256: string): BochsProgram {
  return { name: 'given', argv0: [binary], env: {}, romImage: BOCHS_ROM, vgaRomImage: BOCHS_VGA_ROM, version: `${binary} sha256:${sha256.slice(0, 16)}`, debugger: false };
}

/** The lean build, with the host's BIOS images (the same firmware as the distro's). */
export function leanBochsProgram(lean: Pick<LeanBochs, 'binary' | 'key'>): BochsProgram {
  return { name: 'lean', argv0: [lean.binary], env: {}, romImage: BOCHS_ROM, vgaRomImage: BOCHS_VGA_ROM, version: lean.key, debugger: false };
}

/** The engine chosen and why (doctor prints it; snapshot keys hold `program.version`). */
export interface BochsEngine {
  readonly program: BochsProgram;
  readonly why: string;
}

export interface EngineDeps {
  readonly choice: BochsChoice;
  readonly distroVersion: () => Promise<string>;
  readonly buildLean: () => Promise<Pick<LeanBochs, 'binary' | 'key'>>;
  /** SHA-256 of a given binary; throws when it cannot be read. */
  readonly digest: (file: string) => Promise<string>;
  /** The reason a build failed before, if one is remembered. */
  readonly rememberedFailure: () => Promise<string | undefined>;
  readonly rememberFailure: (reason: string) => Promise<void>;
  readonly notice: Log;
}

/** Chooses the engine (pure given its dependencies; unit tests fake them). */
export async function resolveBochsEngine(deps: EngineDeps): Promise<BochsEngine> {
  const distro = async (why: string): Promise<BochsEngine> => ({ program: distroBochs(await deps.distroVersion()), why });
  if (deps.choice === 'distro') return distro('LEVELGATE_BOCHS=distro');
  if (typeof deps.choice === 'object') {
    const { binary } = deps.choice;
    const sha256 = await deps.digest(binary).catch((error: unknown) => {
      throw new UsageError(`LEVELGATE_BOCHS=${binary}: ${errorMessage(error).split('\n')[0]}`);
    });
    return { program: givenBochs(binary, sha256), why: `LEVELGATE_BOCHS=${binary}` };
  }
  if (deps.choice === 'auto') {
    const failed = await deps.rememberedFailure();
    if (failed !== undefined) {
      deps.notice(`notice: v4 runs under the distro's Bochs (slower): the lean Bochs could not be built (${failed}); \`levelgate setup\` tries again`);
      return distro(`the lean build failed: ${failed}`);
    }
  }
  try {
    return { program: leanBochsProgram(await deps.buildLean()), why: 'the lean build of Debian\'s Bochs source (no debugger, instrumentation or SMP): faster per instruction, same guest' };
  } catch (error) {
    if (deps.choice === 'lean') throw error;
    const reason = errorMessage(error).split('\n')[0]!;
    await deps.rememberFailure(reason);
    deps.notice(`notice: v4 runs under the distro's Bochs (slower): the lean Bochs could not be built (${reason})`);
    return distro(`the lean build failed: ${reason}`);
  }
}

/** Where a failed lean build's reason is kept, beside the build's own cache entry. */
export function failureFile(cache: string = cacheRoot()): string {
  return `${leanBochsDir(leanBochsRecipe(), cache)}.failed.json`;
}

/** The reason a lean build failed before, if one is remembered. */
function rememberedFailure(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').then((t) => (JSON.parse(t) as { reason: string }).reason, () => undefined);
}

/** Forgets a remembered failure (setup does, before it builds). */
export async function forgetLeanBochsFailure(cache: string = cacheRoot()): Promise<void> {
  await rm(failureFile(cache), { force: true });
}

/** The identity of the engine without building it: what the probe cache is keyed by. */
export async function bochsEngineIdentity(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const distro = `bochs ${(await debianPackageVersion('bochs')) ?? 'not installed'}`;
  const choice = bochsChoice(env);
  if (typeof choice === 'object') return `${distro}, given ${choice.binary}`;
  return choice === 'distro' ? distro : `${distro}, lean ${leanBochsKey(leanBochsRecipe(env))}`;
}

let engine: Promise<BochsEngine> | undefined;
/** The engine of this process, chosen (and built) once; `log` shows the build's steps and the notice. */
export function bochsEngine(options: { readonly log?: Log; readonly signal?: AbortSignal } = {}): Promise<BochsEngine> {
  const log = options.log ?? stderrLog;
  const failure = failureFile();
  engine ??= resolveBochsEngine({
    choice: bochsChoice(),
    distroVersion: async () => (await debianPackageVersion('bochs')) ?? 'not installed',
    buildLean: () => ensureLeanBochs({ log, ...(options.signal ? { signal: options.signal } : {}) }),
    digest: async (file) => createHash('sha256').update(await readFile(file)).digest('hex'),
    rememberedFailure: () => rememberedFailure(failure),
    rememberFailure: async (reason) => {
      await writeJson(failure, { reason, at: new Date().toISOString() }).catch(() => undefined);
    },
    notice: log,
  });
  return engine;
}

/** What doctor says of the v4 engine, from the cache alone (nothing is built). */
export async function describeBochsEngine(cache: string = cacheRoot(), env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const choice = bochsChoice(env);
  if (choice === 'distro') return "the distro's Bochs (LEVELGATE_BOCHS=distro)";
  if (typeof choice === 'object') return `${choice.binary} (LEVELGATE_BOCHS)`;
  const recipe = leanBochsRecipe(env);
  const key = leanBochsKey(recipe);
  if (await exists(`${leanBochsDir(recipe, cache)}/bochs`)) return `the lean Bochs ${key} (built from Debian's ${recipe.source.name} ${recipe.source.version} source without debugger, instrumentation or SMP; cached)`;
  const failed = await rememberedFailure(failureFile(cache));
  if (failed !== undefined && choice === 'auto') return `the distro's Bochs (slower): the lean build failed (${failed}); \`levelgate setup\` tries again`;
  return `the lean Bochs ${key}, not built yet: the first v4 run builds it from Debian's ${recipe.source.name} ${recipe.source.version} source (a few minutes), or run \`levelgate setup\``;
}
