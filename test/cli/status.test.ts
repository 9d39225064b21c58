// `freehold status` (issue 19 §3): disk use by category. A message delivered through the MX
// (nodemailer over SMTP) gives a blob under messages; each database is its own line; a rotated log
// file counts under logs; a backup-staging folder with a hard link to that blob and a database
// copy counts only the copy (the linked blob stays under messages, counted once).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import { createDataDir, runFreeholdCli } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

test("status: disk use by category, hard-linked staging files counted once, the queue", async (t) => {
  const data = await createDataDir({ domains: ["st.test"], users: [{ address: "ann@st.test" }] });
  t.after(() => data.remove());
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server = await startServer(services, { starters: protocolStarters() });
  const mxPort = server.listeners.find((l) => l.role === "mx")!.port;
  const mx = nodemailer.createTransport({ host: "127.0.0.1", port: mxPort, secure: false, ignoreTLS: true, name: "client.example.test" });
  await mx.sendMail({ envelope: { from: "x@example.test", to: ["ann@st.test"] }, raw: `From: x@example.test\r\nTo: ann@st.test\r\nSubject: big\r\n\r\n${"0123456789abcdef\r\n".repeat(20_000)}` });
  mx.close();
  await server.stop();

  const blobs = await files(path.join(data.dir, "blobs"));
  assert.ok(blobs.length >= 1);
  await fs.mkdir(path.join(data.dir, "logs"), { recursive: true });
  await fs.writeFile(path.join(data.dir, "logs", "freehold.log.1"), "x".repeat(50_000));
  await fs.mkdir(path.join(data.dir, ".backup-staging"));
  await fs.link(blobs[0], path.join(data.dir, ".backup-staging", "linked-blob"));
  await fs.writeFile(path.join(data.dir, ".backup-staging", "meta.sqlite"), "y".repeat(30_000));

  const r = await runFreeholdCli(["status", "--json", "--data", data.dir]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { usage: Array<{ category: string; bytes: number; files: number }>; totalBytes: number; freeBytes: number; queue: { messages: number } };
  const by = new Map(s.usage.map((u) => [u.category, u]));
  assert.equal(by.get("messages")!.files, blobs.length, "blobs counted once");
  assert.ok(by.get("messages")!.bytes >= 340_000, "the 340 KiB message is under messages");
  assert.ok(by.get("database meta.sqlite")!.bytes > 0);
  assert.ok(by.has("database suppression.sqlite"), "each database on its own line");
  assert.ok(by.get("logs")!.bytes >= 50_000);
  assert.deepEqual([by.get("backup staging")!.files, by.get("backup staging")!.bytes >= 30_000], [1, true], "only the copy, not the hard link");
  assert.equal(s.totalBytes, s.usage.reduce((n, u) => n + u.bytes, 0));
  assert.ok(s.freeBytes > 0);
  assert.equal(s.queue.messages, 0);
  assert.equal(s.usage[0].category, "messages");

  const text = await runFreeholdCli(["status", "--data", data.dir]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^messages\s+\d/m);
  assert.match(text.stdout, /^database meta\.sqlite\s+/m);
  assert.match(text.stdout, /^Queue: 0 message\(s\)/m);
});
