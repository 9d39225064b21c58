// What every fuzzer shares (issue 13 §4): the Fuzzer shape the registry lists, the per-input
// deadline, the "only the documented error" helper, the seed corpus folder, and the fixtures that
// session fuzzers open once per run (a server on loopback) and close afterwards.
import fc from "fast-check";
import { join } from "node:path";

/** Per-input time bound: a parser that takes longer on one input counts as a hang. */
export const INPUT_DEADLINE_MS = 2000;

/** Loopback block for the session fuzzers' servers (test helpers share 127.0.0.0/8; this one is ours). */
export const FUZZ_HOST = "127.0.22.1";

/** Something a fuzzer needs for all its runs: opened before, closed after (a server, a temp dir). */
export interface Fixture<E> {
  open(): Promise<E>;
  close(env: E): Promise<void>;
}

export interface Fuzzer<E = any> {
  name: string;
  /** fast-check runs per fuzzer in CI (fixed so CI is deterministic). */
  ciRuns: number;
  /** A sync property for in-process parsers, an async one for session fuzzers (env = the fixture's). */
  property(seeds: string[], env: E): fc.IPropertyWithHooks<any> | fc.IAsyncPropertyWithHooks<any>;
  /** Seeds from ../shared/vectors, or null when that corpus is missing. */
  seeds?: () => string[] | null;
  fixture?: Fixture<E>;
}

const VECTORS = join(import.meta.dirname, "..", "..", "..", "shared", "vectors");

export function vectorsDir(): string {
  return VECTORS;
}

export function timed<T>(name: string, input: unknown, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  const ms = performance.now() - t0;
  if (ms > INPUT_DEADLINE_MS) throw new Error(`${name}: ${ms.toFixed(0)} ms on one input (bound ${INPUT_DEADLINE_MS} ms): ${JSON.stringify(input).slice(0, 200)}`);
  return r;
}

/** Like timed() for a promise: a result later than `ms` counts as a hang (the promise is left to settle). */
export async function timedAsync<T>(name: string, input: unknown, p: Promise<T>, ms = INPUT_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result within ${ms} ms: ${JSON.stringify(input).slice(0, 200)}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run f; an exception of one of the allowed types is fine, anything else propagates. */
export function only(allowed: Array<new (...a: any[]) => Error>, f: () => void): void {
  try {
    f();
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return;
    throw e;
  }
}

/** Byte-level mutations of a string (insert a token, delete, duplicate, flip case, truncate). */
export function mutated(base: fc.Arbitrary<string>, tokens: readonly string[]): fc.Arbitrary<string> {
  const op = fc.oneof(
    fc.tuple(fc.constant("ins" as const), fc.nat(), fc.constantFrom(...tokens)),
    fc.tuple(fc.constant("del" as const), fc.nat(), fc.integer({ min: 1, max: 8 })),
    fc.tuple(fc.constant("dup" as const), fc.nat(), fc.integer({ min: 1, max: 8 })),
    fc.tuple(fc.constant("case" as const), fc.nat(), fc.constant(0)),
    fc.tuple(fc.constant("cut" as const), fc.nat(), fc.constant(0)),
  );
  return fc.tuple(base, fc.array(op, { minLength: 1, maxLength: 4 })).map(([s, ops]) => {
    for (const [kind, at, arg] of ops) {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      if (kind === "ins") s = s.slice(0, i) + arg + s.slice(i);
      else if (kind === "del") s = s.slice(0, i) + s.slice(i + (arg as number));
      else if (kind === "dup") s = s.slice(0, i) + s.slice(i, i + (arg as number)) + s.slice(i);
      else if (kind === "case") s = s.slice(0, i) + s.slice(i).toLowerCase();
      else s = s.slice(0, i);
    }
    return s;
  });
}
