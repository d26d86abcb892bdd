// What glibc's dynamic loader says about levels: where it is, the copy of a library its
// `--list` selects, and the level a glibc-hwcaps directory stands for (the loader picks
// the highest such directory the CPU supports).
import { escapeRegExp } from '../util/regexp.js';
import type { LevelName } from './table.js';

export const LDSO = '/lib64/ld-linux-x86-64.so.2';

/** Asks the loader which copy of `soname` it selects, `dir` searched first. */
export const listArgv = (soname: string, dir: string): string[] => [LDSO, '--library-path', dir, '--list', '--preload', soname, '/bin/true'];
/** Loads `copy` into a program, so its initialiser runs. */
export const loadArgv = (copy: string): string[] => [LDSO, '--preload', copy, '/bin/true'];

/** "libfoo.so.1 => /usr/lib64/glibc-hwcaps/x86-64-v3/libfoo.so.1 (0x…)" in `ld.so --list`: the copy of `soname`. */
export const selectedCopy = (stdout: string, soname: string): string | undefined => new RegExp(`^\\s*${escapeRegExp(soname)} => (\\S+)`, 'm').exec(stdout)?.[1];

const HWCAPS_DIR = /(?:^|\/)glibc-hwcaps\/x86-64-(v[234])\//;

/** The level of the glibc-hwcaps directory `file` lies in; undefined outside one. */
export const hwcapsDirLevel = (file: string): LevelName | undefined => HWCAPS_DIR.exec(file)?.[1] as LevelName | undefined;
