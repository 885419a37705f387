// "Did you mean": the known name closest to a mistyped one, for commands and flags alike.

/** The candidate at most two edits (Levenshtein) from `name`, the closest first; undefined when none is. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    // One row at a time: names are short.
    let row = Array.from({ length: candidate.length + 1 }, (_, i) => i);
    for (let i = 1; i <= name.length; i++) {
      const next = [i];
      for (let j = 1; j <= candidate.length; j++) {
        const cost = name[i - 1] === candidate[j - 1] ? 0 : 1;
        next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost));
      }
      row = next;
    }
    const distance = row[candidate.length] ?? Infinity;
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}
