// Benchmark: the ISA audit against Debian's elfx86exts on every ELF file of the default
// guest image — the same extension set per file, or each difference explained — and
// the throughput of both in MB of code per second (median of the runs). The image is
// copied read-only with debugfs into a scratch directory that is removed at the end.
// Usage: npm run bench:audit [-- --runs 3 --jobs 2 --cap-gb 6]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import icedX86 from 'iced-x86';
import PQueue from 'p-queue';
import { ICED_TO_PSABI } from '../harness/audit/features.js';
import { readBytes, readElf } from '../harness/audit/elf.js';
import { codeInfo } from '../harness/audit/isa.js';
import type { AuditRun, FileAudit } from '../harness/audit/types.js';
import { listElfFiles, unpackImage } from '../harness/audit/unpack.js';
import { findImage } from '../harness/image/build.js';
import { median } from './median.js';

const { Decoder, DecoderOptions, Instruction, Mnemonic, Code } = icedX86;
const CLI = fileURLToPath(new URL('../runners/cli.js', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, jobs: { type: 'string', default: String(os.availableParallelism()) }, 'cap-gb': { type: 'string', default: '6' } } });
const runs = Number(values.runs);
const jobs = Number(values.jobs);
const capKb = Math.round(Number(values['cap-gb']) * 1024 * 1024);

// elfx86exts names capstone's instruction groups; iced names CPUID features. The bridge
// (from the tool research, /tmp/lgiced/src/capmap.mts); features with no entry have no capstone group.
const ICED_TO_CAP: Record<string, string> = {
  VMX: 'VT-x/AMD-V', SVM: 'VT-x/AMD-V', D3NOW: '3DNow', D3NOWEXT: '3DNow', AES: 'AES', ADX: 'ADX', AVX: 'AVX', AVX2: 'AVX2', AVX512F: 'AVX512', BMI1: 'BMI', BMI2: 'BMI2',
  CMOV: 'CMOV', F16C: 'F16C', FMA: 'FMA', FMA4: 'FMA4', FSGSBASE: 'FSGSBASE', HLE: 'HLE', MMX: 'MMX', RTM: 'RTM', HLE_or_RTM: 'RTM', SHA: 'SHA', SSE: 'SSE1', SSE2: 'SSE2',
  SSE3: 'SSE3', SSE4_1: 'SSE41', SSE4_2: 'SSE42', SSE4A: 'SSE4A', SSSE3: 'SSSE3', PCLMULQDQ: 'PCLMUL', XOP: 'XOP', AVX512CD: 'CDI', AVX512ER: 'ERI', TBM: 'TBM', SGX1: 'SGX',
  AVX512DQ: 'DQI', AVX512BW: 'BWI', AVX512PF: 'PFI', AVX512VL: 'VLX', SMAP: 'SMAP',
};
/** iced features of instructions newer than elfx86exts's capstone (capstone-sys 0.15): checked on this host's libcrypto and padlock.so with the tool research's capscan. */
const CAPSTONE_CANNOT = /^(PADLOCK|AVX_IFMA|AVX_VNNI|AVX_NE_CONVERT|AVX512_FP16|AMX_|SERIALIZE|TSXLDTRK|HRESET|UINTR|KL$|AESKLE|WIDE_KL|CMPCCXADD|RAO_INT|PREFETCHITI|SHA512|SM3|SM4|MSRLIST|WRMSRNS)/;
/** capstone groups that name an encoding or mode, not a CPU feature; FPU is every x86-64's. */
const NOT_FEATURES = new Set(['MODE32', 'MODE64', '16BITMODE', 'NOT64BITMODE', 'NOVLX', 'FPU']);
/** levelgate reports psABI names for features in a level: back to iced's. */
const PSABI_TO_ICED = new Map<string, string>();
for (const [iced, psabi] of Object.entries(ICED_TO_PSABI)) if (!PSABI_TO_ICED.has(psabi)) PSABI_TO_ICED.set(psabi, iced);
PSABI_TO_ICED.set('FPU', 'FPU');
const capGroup = (feature: string): string | undefined => ICED_TO_CAP[PSABI_TO_ICED.get(feature) ?? feature];

const cpuSeconds = (line: string) => line.split(' ').slice(1, 3).reduce((n, v) => n + Number(v), 0);

interface ElfxResult {
  readonly exitCode: number;
  readonly groups: Map<string, string>; // group → the example mnemonic elfx86exts prints
  readonly wall: number;
  readonly cpu: number;
}

async function elfx86exts(file: string, scratch: string, slot: number): Promise<ElfxResult> {
  const timing = path.join(scratch, `time-${slot}`);
  const result = await execa('/usr/bin/time', ['-f', '%e %U %S', '-o', timing, 'bash', '-c', `ulimit -v ${capKb}; exec elfx86exts "$1"`, 'elfx86exts', file], { reject: false, stderr: 'ignore' });
  const [wall, cpu] = await readFile(timing, 'utf8').then((t) => {
    const line = t.trim().split('\n').at(-1) ?? '0 0 0';
    return [Number(line.split(' ')[0]), cpuSeconds(line)];
  });
  const groups = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const m = /^(\S+) \((\S+)\)$/.exec(line.trim());
    if (m && !NOT_FEATURES.has(m[1]!)) groups.set(m[1]!, m[2]!);
  }
  return { exitCode: result.exitCode ?? -1, groups, wall: wall!, cpu: cpu! };
}

/** What a linear sweep of the code sections sees (as elfx86exts decodes, but past undecodable bytes): with iced-x86. */
function sweep(file: string): { firstInvalid: number | undefined; firstAt: Map<number, number> } {
  const elf = readElf(file);
  const instr = new Instruction();
  const firstAt = new Map<number, number>();
  let firstInvalid: number | undefined;
  for (const range of elf.code) {
    const decoder = new Decoder(elf.bits, readBytes(file, range.offset, range.size), DecoderOptions.None);
    decoder.ip = BigInt(range.addr);
    try {
      for (;;) {
        decoder.decodeOut(instr);
        const code = instr.code;
        if (code === Code.INVALID) {
          if (instr.length === 0) break;
          firstInvalid ??= Number(instr.ip);
          continue;
        }
        if (!firstAt.has(code)) firstAt.set(code, Number(instr.ip));
      }
    } finally {
      decoder.free();
    }
  }
  instr.free();
  return { firstInvalid, firstAt };
}

let probe: InstanceType<typeof Instruction> | undefined;
const mnemonicOf = (code: number): string => {
  probe ??= new Instruction();
  probe.code = code;
  return (Mnemonic[probe.mnemonic] ?? '').toLowerCase();
};

/** Why the two tools disagree on one capstone group of one file. */
function explain(group: string, side: 'levelgate' | 'elfx86exts', file: FileAudit, elfx: ElfxResult, sw: ReturnType<typeof sweep>): string {
  const bits = file.bits ?? 64;
  const groupsOf = (code: number) => new Set(codeInfo(code, bits).iced.map((f) => ICED_TO_CAP[f]).filter(Boolean));
  const firstOfGroup = Math.min(...[...sw.firstAt].filter(([code]) => groupsOf(code).has(group)).map(([, at]) => at));
  if (side === 'levelgate') {
    if (elfx.exitCode !== 0) return `elfx86exts failed (exit ${elfx.exitCode}; ${Math.round(capKb / 1024 / 1024)} GB address-space cap)`;
    if (group === 'FMA') return 'capstone has no FMA group (it files vfmadd… under none)';
    if (sw.firstInvalid !== undefined && sw.firstInvalid < firstOfGroup) return 'elfx86exts stops at the first undecodable byte, before the first such instruction';
    // Instructions newer than elfx86exts's capstone (VIA PadLock, AVX-IFMA, …): it stops at the first one.
    const unknown = [...sw.firstAt].filter(([code]) => codeInfo(code, bits).iced.some((f) => CAPSTONE_CANNOT.test(f))).sort((a, b) => a[1] - b[1])[0];
    if (unknown && unknown[1] < firstOfGroup) return `elfx86exts stops at ${mnemonicOf(unknown[0])} (${codeInfo(unknown[0], bits).iced.join('/')}), which its capstone cannot decode, before the first such instruction`;
    const mnemonics = [...new Set([...sw.firstAt.keys()].filter((c) => groupsOf(c).has(group)).map(mnemonicOf))].slice(0, 3).join('/');
    return `capstone decodes ${mnemonics} but does not group it as ${group}`;
  }
  const mnemonic = elfx.groups.get(group)!;
  const codes = [...sw.firstAt.keys()].filter((c) => mnemonicOf(c) === mnemonic);
  if (mnemonic === 'tzcnt') return 'tzcnt: capstone counts it as BMI, levelgate as rep bsf (runs anywhere)';
  if (mnemonic === 'xgetbv') return 'xgetbv: CPU detection, listed but not counted by levelgate';
  if (Number.isFinite(firstOfGroup)) return 'in bytes levelgate leaves out: data between functions, alignment padding';
  if (codes.length && !codes.some((c) => groupsOf(c).has(group))) return `capstone files ${mnemonic} under ${group}; iced under ${[...new Set(codes.flatMap((c) => codeInfo(c, bits).iced))].join('/') || 'no feature'}`;
  if (!codes.length) return `capstone's ${mnemonic} is no instruction iced decodes there (a pseudo-op or data decoded as code)`;
  return 'unexplained';
}

const uptime = async () => (await execa('uptime', [])).stdout.trim();
if ((await execa('which', ['elfx86exts'], { reject: false })).exitCode !== 0) {
  process.stderr.write('bench:audit: elfx86exts is missing: apt-get install elfx86exts\n');
  process.exit(3);
}
const image = await findImage();
if (!image) {
  process.stderr.write('bench:audit: the default image is not built: run ./levelgate setup first\n');
  process.exit(3);
}
const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-audit-'));
try {
  const tree = path.join(scratch, 'root');
  await execa('mkdir', [tree]);
  await unpackImage(image.rootDisk, tree);
  const listing = await listElfFiles(tree, new Set(['/proc', '/sys', '/dev', '/run', '/tmp', '/lost+found']));
  const loadBefore = await uptime();
  process.stderr.write(`bench:audit: image ${image.digest}, ${listing.elf.length} ELF files; ${loadBefore}\n`);

  const lg: { wall: number; cpu: number; run: AuditRun }[] = [];
  const ex: { wall: number; cpu: number; results: Map<string, ElfxResult> }[] = [];
  for (let r = 0; r < runs; r++) {
    const json = path.join(scratch, `audit-${r}.json`);
    const timing = path.join(scratch, 'time-levelgate');
    const started = performance.now();
    await execa('/usr/bin/time', ['-f', '%e %U %S', '-o', timing, 'node', CLI, 'audit', tree, '--jobs', String(jobs), '--json', json], { reject: false, stdout: 'ignore', stderr: 'ignore' });
    const wall = (performance.now() - started) / 1000;
    lg.push({ wall, cpu: cpuSeconds((await readFile(timing, 'utf8')).trim().split('\n').at(-1)!), run: JSON.parse(await readFile(json, 'utf8')) as AuditRun });
    process.stderr.write(`  levelgate run ${r + 1}: ${wall.toFixed(1)} s\n`);

    const queue = new PQueue({ concurrency: jobs });
    const results = new Map<string, ElfxResult>();
    const exStarted = performance.now();
    let slot = 0;
    await Promise.all(listing.elf.map((f) => queue.add(async () => results.set(f.path, await elfx86exts(f.file, scratch, slot++)))));
    const exWall = (performance.now() - exStarted) / 1000;
    ex.push({ wall: exWall, cpu: [...results.values()].reduce((n, x) => n + x.cpu, 0), results });
    process.stderr.write(`  elfx86exts run ${r + 1}: ${exWall.toFixed(1)} s\n`);
  }
  const loadAfter = await uptime();

  // Compare the extension sets of the first runs, file by file.
  const files = lg[0]!.run.packages.flatMap((p) => p.files).filter((f) => f.status === 'audited');
  const codeBytes = files.reduce((n, f) => n + f.codeBytes, 0);
  const reasons = new Map<string, { count: number; examples: string[] }>();
  let same = 0;
  let differing = 0;
  const exFailed = [...ex[0]!.results.values()].filter((r) => r.exitCode !== 0).length;
  for (const f of files) {
    const elfx = ex[0]!.results.get(f.path);
    if (!elfx) continue;
    const mine = new Set((f.all?.features ?? []).map((x) => capGroup(x.feature)).filter((g): g is string => g !== undefined && !NOT_FEATURES.has(g)));
    const theirs = new Set(elfx.groups.keys());
    const onlyMine = [...mine].filter((g) => !theirs.has(g));
    const onlyTheirs = [...theirs].filter((g) => !mine.has(g));
    if (!onlyMine.length && !onlyTheirs.length) {
      same++;
      continue;
    }
    differing++;
    const sw = sweep(path.join(tree, f.path));
    for (const [groups, side] of [
      [onlyMine, 'levelgate'],
      [onlyTheirs, 'elfx86exts'],
    ] as const) {
      for (const g of groups) {
        const key = `only ${side} sees ${g}: ${explain(g, side, f, elfx, sw)}`;
        const entry = reasons.get(key) ?? { count: 0, examples: [] };
        entry.count++;
        if (entry.examples.length < 3) entry.examples.push(path.basename(f.path));
        reasons.set(key, entry);
      }
    }
  }

  const mb = codeBytes / 1e6;
  const lgWall = median(lg.map((x) => x.wall));
  const exWall = median(ex.map((x) => x.wall));
  const lines = [
    `Machine: ${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB. Image ${image.digest}: ${files.length} ELF files, ${mb.toFixed(1)} MB of code. ${runs} runs each, ${jobs} at a time.`,
    `Load before: \`${loadBefore}\`; after: \`${loadAfter}\`.`,
    '',
    '| tool | wall, median (runs) | MB of code / s (wall) | CPU s, median | MB / CPU-s |',
    '|---|---|---|---|---|',
    `| levelgate audit --jobs ${jobs} | ${lgWall.toFixed(1)} s (${lg.map((x) => x.wall.toFixed(1)).join(', ')}) | ${(mb / lgWall).toFixed(1)} | ${median(lg.map((x) => x.cpu)).toFixed(1)} | ${(mb / median(lg.map((x) => x.cpu))).toFixed(1)} |`,
    `| elfx86exts, ${jobs} files at a time | ${exWall.toFixed(1)} s (${ex.map((x) => x.wall.toFixed(1)).join(', ')}) | ${(mb / exWall).toFixed(1)} | ${median(ex.map((x) => x.cpu)).toFixed(1)} | ${(mb / median(ex.map((x) => x.cpu))).toFixed(1)} |`,
    '',
    `Extension sets (capstone's group names; FPU and mode groups left out): ${same} files the same, ${differing} different; elfx86exts failed on ${exFailed}.`,
    '',
    '| difference: why | files | e.g. |',
    '|---|---|---|',
    ...[...reasons.entries()].sort((a, b) => b[1].count - a[1].count).map(([why, e]) => `| ${why} | ${e.count} | ${e.examples.join(', ')} |`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
} finally {
  await rm(scratch, { recursive: true, force: true });
}
