// The list's own reference tests (../shared/vectors/psl/tests.txt): skipped loudly outside CI
// when the vectors are missing, failed under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { requireVectors } from "../../test/emailauth/vectors.ts";
import { PublicSuffixList } from "./psl.ts";

test("registrable domain: the PSL reference tests", (t) => {
  const dir = requireVectors(t, "psl");
  if (!dir) return;
  const psl = new PublicSuffixList(readFileSync(path.join(dir, "public_suffix_list.dat"), "utf8"));
  let n = 0;
  for (const line of readFileSync(path.join(dir, "tests.txt"), "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("//")) continue;
    const [input, want] = line.trim().split(/\s+/);
    // IDN cases in U-labels: we only handle A-labels (config domains are A-labels).
    if (/[^\x00-\x7f]/.test(input)) continue;
    assert.equal(psl.registrableDomain(input === "null" ? null : input), want === "null" ? null : want, input);
    n++;
  }
  assert.ok(n > 50, `only ${n} cases ran`);
});
