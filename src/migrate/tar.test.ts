// The streaming tar writer read back by Python's tarfile (a real, strict reader): long names
// through pax `path` records, empty files, nested folders, bytes and sizes exact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { tarDirectory } from "./tar.ts";

test("tarDirectory: Python's tarfile reads every entry, long names and empty files included", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "freehold-tar-"));
  try {
    const root = path.join(tmp, "src");
    const long = "n".repeat(150) + ",S=1234:2,S";
    await mkdir(path.join(root, ".Work", "cur"), { recursive: true });
    await mkdir(path.join(root, "new"), { recursive: true });
    await writeFile(path.join(root, ".Work", "cur", long), "Subject: long\r\n\r\nx\r\n");
    await writeFile(path.join(root, "empty"), "");
    await writeFile(path.join(root, "block"), Buffer.alloc(512, 0x61));
    await writeFile(path.join(root, "é.mbox"), "From a\n");
    const out = path.join(tmp, "x.tar");
    await pipeline(Readable.from(tarDirectory(root, "u@a.test.maildir")), createWriteStream(out));
    const script = String.raw`
import sys, tarfile, json
with tarfile.open(sys.argv[1]) as t:
    print(json.dumps([[m.name, m.type.decode(), m.size, (t.extractfile(m).read().decode() if m.isfile() else None)] for m in t.getmembers()]))
`;
    const listed = await new Promise<Array<[string, string, number, string | null]>>((resolve, reject) =>
      execFile("python3", ["-c", script, out], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)))),
    );
    const byName = new Map(listed.map((e) => [e[0].replace(/\/$/, ""), e]));
    const p = "u@a.test.maildir";
    assert.equal(byName.get(`${p}/.Work/cur/${long}`)?.[3], "Subject: long\r\n\r\nx\r\n", JSON.stringify(listed.map((e) => e[0])));
    assert.equal(byName.get(`${p}/empty`)?.[2], 0);
    assert.equal(byName.get(`${p}/block`)?.[3], "a".repeat(512));
    assert.equal(byName.get(`${p}/é.mbox`)?.[3], "From a\n");
    assert.equal(byName.get(`${p}/new`)?.[1], "5", "directories are kept (Maildir's new/ may be empty)");
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
