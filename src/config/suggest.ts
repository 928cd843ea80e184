// "Did you mean …?" for misspelt configuration keys and environment variables.

/** Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one edit each. */
export function editDistance(a: string, b: string): number {
  // Optimal string alignment: Levenshtein plus adjacent transposition, because "prot" for "port" is one slip.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/**
 * The known name a person most likely meant by `unknown`, or undefined when none is close enough to be a
 * useful guess. Tries, in order: the same name in another case or with "-" for "_"; the one name within a
 * small edit distance; the one name that `unknown` is the first or last word of ("port" → "listen_port").
 */
export function closestName(unknown: string, known: readonly string[]): string | undefined {
  const u = normalise(unknown);
  const same = known.find((k) => normalise(k) === u);
  if (same !== undefined) return same;

  // Allow about one slip per four characters, at most three: beyond that guesses are mostly wrong.
  const limit = Math.max(1, Math.min(3, Math.floor(u.length / 4)));
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const k of known) {
    const dist = editDistance(u, normalise(k));
    if (dist < bestDistance) [best, bestDistance, tie] = [k, dist, false];
    else if (dist === bestDistance) tie = true;
  }
  if (best !== undefined && bestDistance <= limit && !tie) return best;

  const words = known.filter((k) => normalise(k).endsWith(`_${u}`) || normalise(k).startsWith(`${u}_`));
  return words.length === 1 ? words[0] : undefined;
}
