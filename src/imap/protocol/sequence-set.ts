// Sequence sets (RFC 9051 §9 sequence-set, RFC 5182 "$"): the parsed form, resolution against a
// mailbox, and the compact wire form used in responses (APPENDUID, COPYUID, VANISHED, ESEARCH).

/** A message number or UID; '*' is the largest one in use (RFC 9051 §6.4.9 "seq-number"). */
export type SeqNumber = number | '*';

/** As the client wrote it: RFC 9051 §9 allows "5:2" meaning 2:5. */
export interface SeqRange {
  start: SeqNumber;
  end: SeqNumber;
}

export type SequenceSet =
  | { kind: 'set'; ranges: SeqRange[] }
  /** RFC 5182 §2.1: "$" refers to the result saved by SEARCH RETURN (SAVE). */
  | { kind: 'saved' };

/** A closed interval lo <= hi. */
export interface Interval {
  lo: number;
  hi: number;
}

/**
 * Resolve '*' to `max` (the highest number or UID in the mailbox) and order each range.
 * RFC 9051 §6.4.9: "n:*" with n beyond the last message still includes the last one, which
 * falls out of ordering the range. With an empty mailbox ('max' 0) ranges using '*' vanish.
 * The result is sorted and merged.
 */
export function resolveSequenceSet(ranges: readonly SeqRange[], max: number): Interval[] {
  const out: Interval[] = [];
  for (const r of ranges) {
    if (max === 0 && (r.start === '*' || r.end === '*')) continue;
    const a = r.start === '*' ? max : r.start;
    const b = r.end === '*' ? max : r.end;
    out.push({ lo: Math.min(a, b), hi: Math.max(a, b) });
  }
  return mergeIntervals(out);
}

export function mergeIntervals(list: Interval[]): Interval[] {
  const sorted = [...list].sort((x, y) => x.lo - y.lo);
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.lo <= last.hi + 1) last.hi = Math.max(last.hi, iv.hi);
    else out.push({ lo: iv.lo, hi: iv.hi });
  }
  return out;
}

export function intervalsContain(list: readonly Interval[], n: number): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const iv = list[mid];
    if (n < iv.lo) hi = mid - 1;
    else if (n > iv.hi) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * The compact wire form of a set of numbers: 1,2,3,5 → "1:3,5". Input need not be sorted;
 * duplicates are dropped. Returns null for an empty set (the caller decides what to send).
 */
export function compactSequenceSet(numbers: Iterable<number>): string | null {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const parts: string[] = [];
  let lo = sorted[0];
  let prev = lo;
  for (let i = 1; i <= sorted.length; i++) {
    const n = sorted[i];
    if (n === prev + 1) {
      prev = n;
      continue;
    }
    parts.push(lo === prev ? String(lo) : `${lo}:${prev}`);
    lo = prev = n;
  }
  return parts.join(',');
}

/**
 * Like compactSequenceSet but keeps the given order, merging only ascending runs. COPYUID
 * (RFC 4315 §3) pairs source and destination UIDs by position, so both sides must keep the
 * order in which the messages were copied.
 */
export function orderedSequenceSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The wire form of a parsed set, as written (for echoing a client's set back). */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges
    .map((r) => (r.start === r.end ? String(r.start) : `${r.start}:${r.end}`))
    .join(',');
}
