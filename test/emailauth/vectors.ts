// Where the third-party test vectors live and how a suite runner reacts when they are absent:
// ../shared/vectors from the repository root (CI has them there too). Under CI=true a missing
// folder or a suite that ran zero cases fails; elsewhere a missing folder skips loudly.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import type { TestContext } from "node:test";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const vectorsDir = path.resolve(repoRoot, "../shared/vectors");

const isCI = () => process.env.CI === "true";

/** Returns the folder, or null after skipping `t` (failing under CI) when it is missing. */
export function requireVectors(t: TestContext, sub: string): string | null {
  const dir = path.join(vectorsDir, sub);
  if (existsSync(dir)) return dir;
  const msg = `TEST VECTORS MISSING: ${dir} not found — the ${sub} conformance suite did not run`;
  if (isCI()) assert.fail(msg);
  console.warn(`\n!!!!! ${msg} (would fail under CI=true) !!!!!\n`);
  t.skip(msg);
  return null;
}

export interface SuiteCounts {
  total: number;
  passed: number;
  skipped: number;
  failed: number;
}

/** Prints the counts and fails when nothing ran (a parsing or path problem, never a pass). */
export function reportCounts(name: string, c: SuiteCounts): void {
  console.log(`${name}: ${c.total} cases, ${c.passed} passed, ${c.skipped} skipped (listed with reasons), ${c.failed} failed`);
  assert.ok(c.total > 0 && c.passed > 0, `${name}: zero cases ran`);
}
