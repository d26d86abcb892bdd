// The real third-party binaries the bisection benchmark re-measures, in the shape of the
// shared truth table (test/fixtures/audit-truth.ts, owned by the audit-static branch):
// where each comes from, the file inside, what its publisher documents, and the dynamic
// answer measured in pinned guests. Until the branches meet, this small local list
// stands in for it: `TRUTH` is the one name the benchmark reads.
// The dynamic answers were measured here on 2026-12-07 (levelgate exec and audit --run
// bisect, `--version`). They differ in detail from issue 20's account, which named other
// builds: @oven/bun-linux-x64@1.1.0 dies at v2 on vmovups (AVX; the issue saw
// vzeroupper, also AVX); the baseline build dies at v1 on pinsrd (SSE4_1) in 1.4.5 (the
// issue saw pshufb, SSSE3) and runs at v1 in 1.1.0; the registry here serves the same
// binary for both 1.4.5 builds, so x64 is pinned at 1.1.0 and baseline at 1.4.5.

export interface TruthEntry {
  readonly id: string;
  readonly source: { readonly kind: 'npm' | 'deb'; readonly name: string; readonly version: string };
  /** The file inside the unpacked package. */
  readonly path: string;
  /** The CPU requirement its publisher documents. */
  readonly documented: string;
  readonly dynamic: {
    readonly runsAt: 'v1' | 'v2' | 'v3' | 'v4';
    /** What kills it one level below `runsAt` (absent at v1). */
    readonly killedBelowBy?: { readonly mnemonic: string; readonly extension: string };
  };
}

export const TRUTH: readonly TruthEntry[] = [
  {
    id: 'bun-x64',
    source: { kind: 'npm', name: '@oven/bun-linux-x64', version: '1.1.0' },
    path: 'package/bin/bun',
    documented: 'x64 build: needs AVX2 (Haswell, 2013, or newer); the -baseline build is for older CPUs',
    dynamic: { runsAt: 'v3', killedBelowBy: { mnemonic: 'vmovups', extension: 'AVX' } },
  },
  {
    id: 'bun-x64-baseline',
    source: { kind: 'npm', name: '@oven/bun-linux-x64-baseline', version: '1.4.5' },
    path: 'package/bin/bun',
    documented: 'baseline build: for x64 CPUs without AVX2 (Nehalem, 2008, or newer)',
    dynamic: { runsAt: 'v2', killedBelowBy: { mnemonic: 'pinsrd', extension: 'SSE4_1' } },
  },
  {
    id: 'esbuild-x64',
    source: { kind: 'npm', name: '@esbuild/linux-x64', version: '0.28.2' },
    path: 'package/bin/esbuild',
    documented: 'Go GOAMD64=v1 (the Go default): any x86-64',
    dynamic: { runsAt: 'v1' },
  },
];
