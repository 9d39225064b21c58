import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSize, parseSize } from "./size.ts";
import { CliError } from "./context.ts";

test("sizes: binary units, plain bytes, unlimited", () => {
  assert.equal(parseSize("1048576"), 1048576);
  assert.equal(parseSize("500M"), 500 * 1024 ** 2);
  assert.equal(parseSize("2g"), 2 * 1024 ** 3);
  assert.equal(parseSize("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("10 KB"), 10 * 1024);
  assert.equal(parseSize("1T"), 1024 ** 4);
  assert.equal(parseSize("unlimited"), 0);
  assert.equal(parseSize("0"), 0);
  for (const bad of ["", "lots", "-5M", "5X", "1e9", "M"]) assert.throws(() => parseSize(bad), CliError, bad);
  assert.throws(() => parseSize("99999999999T"), /too large/);
});

test("formatSize picks the largest whole-ish unit", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536), "1.5 KiB");
  assert.equal(formatSize(5 * 1024 ** 3), "5 GiB");
  assert.equal(formatSize(500 * 1024 ** 2), "500 MiB");
});
