// Runs dominicsayers/isemail's tests.xml (../shared/vectors/addresses): an address is
// SMTP-acceptable iff its category is VALID, DNSWARN or RFC5321 (see the folder's PROVENANCE.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkSmtpMailbox } from "./smtp-address.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const file = path.resolve(repoRoot, "../shared/vectors/addresses/tests.xml");
const ACCEPT = new Set(["ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN", "ISEMAIL_RFC5321"]);

// Each entry: test id → why our verdict legitimately differs.
const SKIP = new Map<string, string>([]);

function unxml(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&")
    // PROVENANCE: U+2400+n stands for the control character n.
    .replace(/[\u2400-\u241f]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x2400));
}

test("isemail vectors: RFC 5321 mailbox acceptance", (t) => {
  if (!fs.existsSync(file)) {
    if (process.env.CI === "true") assert.fail(`vectors missing: ${file}`);
    console.log(`SKIPPED isemail vectors: ${file} missing`);
    t.skip(`vectors missing: ${file}`);
    return;
  }
  const xml = fs.readFileSync(file, "utf8");
  let ran = 0;
  let skipped = 0;
  const failures: string[] = [];
  for (const m of xml.matchAll(/<test id="(\d+)">([\s\S]*?)<\/test>/g)) {
    const id = m[1];
    const body = m[2];
    const addrM = /<address>([\s\S]*?)<\/address>/.exec(body);
    const address = addrM ? unxml(addrM[1]) : "";
    const category = /<category>([^<]*)<\/category>/.exec(body)?.[1] ?? "";
    if (SKIP.has(id)) {
      skipped++;
      continue;
    }
    ran++;
    const want = ACCEPT.has(category);
    const got = checkSmtpMailbox(address).ok;
    if (got !== want) failures.push(`#${id} ${JSON.stringify(address)} ${category}: got ${got ? "accept" : "reject"}`);
  }
  console.log(`isemail vectors: ${ran - failures.length}/${ran} pass, ${skipped} skipped`);
  assert.ok(ran > 0, "zero isemail cases ran");
  assert.deepEqual(failures, []);
});
