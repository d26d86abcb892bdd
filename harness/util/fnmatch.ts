// fnmatch(3) with flags 0, the matcher libzypp runs a modalias() glob through: `*` any
// run of characters ('/' and '.' included), `?` one character, `[...]` a bracket
// expression (`!` or `^` negates, `a-z` ranges), `\` quotes the next character. Pure.

/** The bracket expression at `pattern[start]` ('['): whether `ch` is in it, and where it ends; undefined when it does not close (then '[' is literal). */
function bracket(pattern: string, start: number, ch: string): { matches: boolean; end: number } | undefined {
  let i = start + 1;
  const negated = pattern[i] === '!' || pattern[i] === '^';
  if (negated) i++;
  let matches = false;
  let first = true;
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false;
    let low = pattern[i]!;
    if (low === '\\' && i + 1 < pattern.length) low = pattern[++i]!;
    let high = low;
    if (pattern[i + 1] === '-' && i + 2 < pattern.length && pattern[i + 2] !== ']') {
      high = pattern[i + 2]!;
      if (high === '\\' && i + 3 < pattern.length) high = pattern[++i + 2]!;
      i += 2;
    }
    if (low <= ch && ch <= high) matches = true;
    i++;
  }
  if (i >= pattern.length) return undefined;
  return { matches: matches !== negated, end: i + 1 };
}

/** True when `text` matches the glob `pattern` as fnmatch(pattern, text, 0) == 0. */
export function fnmatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  // The last '*' seen and the text position it is trying; backtrack there on a mismatch.
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === '*') {
      starP = p++;
      starT = t;
      continue;
    }
    let step: number | undefined;
    if (c === '?') step = 1;
    else if (c === '[') {
      const b = bracket(pattern, p, text[t]!);
      if (b === undefined) step = text[t] === '[' ? 1 : undefined;
      else if (b.matches) step = b.end - p;
    } else if (c === '\\' && p + 1 < pattern.length) {
      if (pattern[p + 1] === text[t]) step = 2;
    } else if (c !== undefined && c === text[t]) step = 1;
    if (step !== undefined) {
      p += step;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
