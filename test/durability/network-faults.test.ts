// Issue 17: the real server in a network that is not all there. Each case makes its own network
// namespace (test/support/netns.ts: `ip netns add`, only lo up), starts inside it a DNS server
// that misbehaves as the case says (test/support/dns-fault-child.ts), an SMTP sink for outbound
// mail on 127.0.0.71:25, and `freehold serve`; then, also inside, a client (netns_client.py:
// smtplib and imaplib) delivers to mx, logs in over IMAP, submits mail for a remote domain, and
// `freehold queue list/show` reads the queue. In every case:
//   - each delivery to mx gets a reply, 250 (with temperror results, src/emailauth/disposition.ts)
//     or 4xx, never a dropped connection; IMAP login and submission work; the CLI works;
//   - the outbound message waits in the queue with the DNS failure as its last reply;
//   - the process is alive at the end, logged nothing at fatal, and stops cleanly (exit 0).
// Where the case says so the network then comes back (an address appears, the DNS server
// answers again) and, without a restart, the queued message goes out — past an IPv6 MX address
// that has no route (ENETUNREACH) to the IPv4 one — and new mail gets real SPF results.
//
// Needs root (namespaces). Without it the cases are skipped with the reason; under CI=true
// they fail instead, as CI must run them.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import type { ChildProcess } from "node:child_process";
import { ROOT, TEST_PASSWORD, createDataDir, logLines, startFreeholdProcess } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";
import { createNetns, netnsUnavailable } from "../support/netns.ts";
import type { Netns } from "../support/netns.ts";

const unavailable = netnsUnavailable();
const inCi = process.env.CI === "true";
const skip = unavailable !== null && !inCi ? unavailable : false;

const PY = "/usr/bin/python3";
const CLIENT = path.join(import.meta.dirname, "netns_client.py");
const SINK = path.join(ROOT, "test/delivery/scripted_smtp.py");
const RESETTER = path.join(import.meta.dirname, "reset_listener.py");
const DNS_CHILD = path.join(ROOT, "test/support/dns-fault-child.ts");
const MAIN = path.join(ROOT, "src/cli/main.ts");
const PORTS = { mx: 25, submission: 587, imap: 143 };
const USER = "alice@local.test";
const REMOTE_RCPT = "carol@remote.test";

/** What the DNS server answers when it answers: SPF/DMARC of the sender, the remote MX. */
const RECORDS = {
  "example.test TXT": [{ type: "TXT", name: "example.test", ttl: 60, data: ["v=spf1 ip4:127.0.0.0/8 -all"] }],
  "_dmarc.example.test TXT": [{ type: "TXT", name: "_dmarc.example.test", ttl: 60, data: ["v=DMARC1; p=none"] }],
  "remote.test MX": [{ type: "MX", name: "remote.test", ttl: 60, data: { preference: 10, exchange: "mx.remote.test" } }],
  // In this order: no route to the first (an `unreachable` route: EHOSTUNREACH), the second
  // accepts and resets (ECONNRESET), the third is the sink.
  "mx.remote.test A": [
    { type: "A", name: "mx.remote.test", ttl: 60, data: "198.51.100.25" },
    { type: "A", name: "mx.remote.test", ttl: 60, data: "127.0.0.72" },
    { type: "A", name: "mx.remote.test", ttl: 60, data: "127.0.0.71" },
  ],
  // Tried first (RFC 6724 order) and unreachable: the namespace has no IPv6 route but ::1.
  "mx.remote.test AAAA": [{ type: "AAAA", name: "mx.remote.test", ttl: 60, data: "2001:db8::25" }],
};

interface Case {
  name: string;
  /** dns.servers in the config. */
  servers: string[];
  /** A DNS server inside the namespace, from the start. */
  dns?: { host: string; port: number; mode: string };
  /** Whether DNS answers in this case (false: every lookup fails). */
  dnsWorks: boolean;
  /** Brings the network back (without restarting the server). */
  recover?: (env: Env) => Promise<void>;
}

interface Env {
  ns: Netns;
  dnsChild: ChildProcess | null;
  startDns(spec: { host: string; port: number; mode: string }): Promise<ChildProcess>;
}

const CASES: Case[] = [
  {
    name: "no route to the nameserver (ENETUNREACH), then the address appears",
    servers: ["192.0.2.53"],
    dnsWorks: false,
    recover: async (env) => {
      const r = await env.ns.run("ip", ["addr", "add", "192.0.2.53/32", "dev", "lo"]);
      assert.equal(r.code, 0, r.stderr);
      await env.startDns({ host: "192.0.2.53", port: 53, mode: "answer" });
    },
  },
  {
    name: "a nameserver that drops every query (timeouts), then answers again",
    servers: ["127.0.0.53:53"],
    dns: { host: "127.0.0.53", port: 53, mode: "drop" },
    dnsWorks: false,
    recover: async (env) => {
      env.dnsChild!.stdin!.write("mode answer\n");
    },
  },
  { name: "nothing listens on the nameserver's port (ICMP port unreachable)", servers: ["127.0.0.53:53"], dnsWorks: false },
  { name: "a nameserver that answers SERVFAIL", servers: ["127.0.0.53:53"], dns: { host: "127.0.0.53", port: 53, mode: "servfail" }, dnsWorks: false },
  {
    name: "a nameserver that truncates over UDP and resets the TCP retry",
    servers: ["127.0.0.53:53"],
    dns: { host: "127.0.0.53", port: 53, mode: "truncate-reset" },
    dnsWorks: false,
  },
  {
    name: "the first nameserver is an unreachable IPv6 address, the second answers",
    servers: ["[2001:db8::53]:53", "127.0.0.53:53"],
    dns: { host: "127.0.0.53", port: 53, mode: "answer" },
    dnsWorks: true,
  },
];

interface ClientResult {
  mx: Array<{ code?: number; text?: string; error?: string; seconds: number }>;
  submission: { code?: number; text?: string; error?: string } | null;
  imap: { login?: string; headers?: string[]; error?: string } | null;
}

// Cases run side by side (each in its own namespace, so the same ports): most of their time is
// waiting for timeouts and child processes, and CI has to finish them in under two minutes.
describe("network faults", { concurrency: 3 }, () => {
  let template: DataDir | null = null;

  before(async () => {
    if (skip || unavailable) return;
    template = await createDataDir({
      domains: ["local.test"],
      users: [{ address: USER }],
      config: {
        listeners: [
          { role: "mx", address: "127.0.0.1", port: PORTS.mx },
          { role: "submission", address: "127.0.0.1", port: PORTS.submission },
          { role: "imap", address: "127.0.0.1", port: PORTS.imap },
        ],
        queue: { holdOutbound: false },
      },
    });
  });
  after(() => template?.remove());

  for (const c of CASES) {
    test(`network fault: ${c.name}`, { skip, timeout: 120_000 }, async (t) => {
      if (unavailable) assert.fail(`CI=true and network namespaces are unavailable: ${unavailable}`);
      const tag = CASES.indexOf(c).toString();
      const ns = createNetns(`nf${tag}`);
      t.after(() => ns.remove());
      const children: ChildProcess[] = [];
      t.after(() => {
        for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill("SIGKILL");
      });
      const work = await mkdtemp(path.join(os.tmpdir(), "freehold-netfault-"));
      t.after(() => rm(work, { recursive: true, force: true }));

      const env: Env = {
        ns,
        dnsChild: null,
        startDns: async (spec) => {
          const child = ns.spawn(process.execPath, [DNS_CHILD, JSON.stringify({ ...spec, records: RECORDS })], { stdio: ["pipe", "pipe", "pipe"] });
          children.push(child);
          await waitForLine(child, /^READY /, "DNS server");
          env.dnsChild = child;
          return child;
        },
      };
      if (c.dns) await env.startDns(c.dns);

      const route = await ns.run("ip", ["route", "add", "unreachable", "198.51.100.0/24"]);
      assert.equal(route.code, 0, route.stderr);
      const resetter = ns.spawn(PY, [RESETTER, "127.0.0.72", "25"], { stdio: ["ignore", "pipe", "pipe"] });
      children.push(resetter);
      await waitForLine(resetter, /READY/, "resetting listener");

      const sinkLog = path.join(work, "sink.jsonl");
      await writeFile(sinkLog, "");
      const sink = ns.spawn(PY, [SINK, JSON.stringify({ host: "127.0.0.71", port: 25, log: sinkLog, startedLog: path.join(work, "sink-started.log") })], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(sink);
      await waitForLine(sink, /READY \d+/, "SMTP sink");

      // The data folder: a copy of the template with this case's nameservers.
      const dir = path.join(work, "data");
      await cp(template!.dir, dir, { recursive: true });
      const file = path.join(dir, "freehold.yaml");
      const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
      doc.dns = { servers: c.servers, timeoutMs: 400, tries: 2 };
      await writeFile(file, YAML.stringify(doc), { mode: 0o600 });

      const fh = await startFreeholdProcess({ dir, mxPort: PORTS.mx }, { netns: ns.name, timeoutMs: 60_000 });
      t.after(() => fh.kill9());

      const cli = async (...args: string[]): Promise<string> => {
        const r = await ns.run(process.execPath, [MAIN, "--data", dir, ...args]);
        assert.equal(r.code, 0, `freehold ${args.join(" ")}: ${r.stderr}${r.stdout}`);
        return r.stdout;
      };
      const client = async (tag2: string, count: number, submit: boolean): Promise<ClientResult> => {
        const cfg = { mx: PORTS.mx, submission: PORTS.submission, imap: PORTS.imap, count, tag: tag2, from: "sender@example.test", to: USER, user: USER, password: TEST_PASSWORD, submissionTo: submit ? REMOTE_RCPT : null };
        const r = await ns.run(PY, [CLIENT, JSON.stringify(cfg)], { timeoutMs: 100_000 });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as ClientResult;
      };
      const alive = (): void => assert.ok(fh.child.exitCode === null && fh.child.signalCode === null, `serve died:\n${fh.output()}`);

      // --- the fault ---------------------------------------------------------------------------
      const first = await client(`c${tag}`, 2, true);
      t.diagnostic(`mx: ${first.mx.map((r) => `${r.code ?? r.error} in ${r.seconds}s`).join(", ")}; submission ${first.submission?.code}; imap ${first.imap?.login}`);
      for (const r of first.mx) {
        assert.equal(r.error, undefined, `mx delivery must get a reply, not a dropped connection: ${JSON.stringify(first)}`);
        assert.ok(r.code === 250 || (r.code! >= 400 && r.code! < 500), `mx reply ${r.code} ${r.text}`);
      }
      assert.equal(first.imap?.error, undefined, JSON.stringify(first.imap));
      assert.equal(first.imap?.login, "OK");
      const got = first.imap!.headers!.filter((h) => h.includes(`c${tag}-`));
      assert.equal(got.length, first.mx.filter((r) => r.code === 250).length, "each accepted message is in the INBOX");
      for (const h of got) assert.match(h, c.dnsWorks ? /spf=pass/ : /spf=temperror/, h);
      assert.equal(first.submission?.error, undefined, JSON.stringify(first.submission));
      assert.equal(first.submission?.code, 250, JSON.stringify(first.submission));

      if (!c.dnsWorks) {
        // The message waits, with the DNS failure (the resolver's code) as the reason.
        // The runner logs each deferral; the CLI (a separate process) then reads it from the store.
        const deferred = await waitFor(async () => logLines(fh.output()).some((l) => l.msg === "deferred" && l.rcpt === REMOTE_RCPT), 60_000);
        assert.ok(deferred, `the first attempt was made:\n${fh.output().slice(-4000)}`);
        const entry = (JSON.parse(await cli("queue", "list", "--json")) as QueueEntry[]).find((q) => q.recipients.some((r) => r.recipient === REMOTE_RCPT));
        assert.ok(entry, "the submitted message is queued");
        const rc = entry.recipients[0];
        t.diagnostic(`queue: ${rc.state}, last reply: ${rc.lastReply}`);
        assert.equal(rc.state, "pending", JSON.stringify(rc));
        assert.match(rc.lastReply ?? "", /MX lookup for remote\.test failed: E[A-Z]+/, JSON.stringify(rc));
        const shown = await cli("queue", "show", String(entry.id));
        assert.match(shown, /MX lookup for remote\.test failed: E[A-Z]+/, shown);
        assert.match(await cli("queue", "list"), /MX lookup for remote\.test/);
        alive();
      }

      // --- the network comes back (same process) -----------------------------------------------
      if (c.recover) {
        await c.recover(env);
        await cli("queue", "flush");
      }
      if (c.dnsWorks || c.recover) {
        const sent = await waitFor(async () => logLines(fh.output()).some((l) => l.msg === "delivered" && l.rcpt === REMOTE_RCPT), 60_000);
        assert.ok(sent, `the queued message reached the remote MX:\n${fh.output().slice(-4000)}`);
        assert.match(await readFile(sinkLog, "utf8"), /carol@remote\.test/, "the sink has it");
        // It went past every address that failed, in order, to the one that works.
        const failed = logLines(fh.output()).filter((l) => l.msg === "outbound session failed");
        const reply = (address: string): string => String(failed.find((l) => l.address === address)?.reply);
        t.diagnostic(`outbound: ${["2001:db8::25", "198.51.100.25", "127.0.0.72"].map((a) => `[${a}] ${reply(a)}`).join("; ")}; then 127.0.0.71 took it`);
        assert.match(reply("2001:db8::25"), /ENETUNREACH/, "the IPv6 address (no route) was tried first");
        assert.match(reply("198.51.100.25"), /EHOSTUNREACH/, "then the unreachable IPv4 address");
        assert.match(reply("127.0.0.72"), /ECONNRESET|closed/i, "then the one that resets");
        // "delivered" is logged just before the outcome's transaction commits: allow a moment.
        assert.ok(await waitFor(async () => !/remote\.test/.test(await cli("queue", "list")), 20_000, 1000), "it left the queue");
      }
      if (c.recover) {
        const again = await client(`r${tag}`, 1, false);
        assert.equal(again.mx[0].code, 250, JSON.stringify(again));
        const fresh = again.imap!.headers!.filter((h) => h.includes(`r${tag}-`));
        assert.equal(fresh.length, 1);
        assert.match(fresh[0], /spf=pass/, "new mail gets real results once DNS answers");
      }

      alive();
      const fatal = logLines(fh.output()).filter((l) => (l.level as number) >= 60);
      assert.deepEqual(fatal, [], "nothing logged at fatal");
      assert.equal(await fh.stop(), 0, fh.output().slice(-4000));
    });
  }
});

interface QueueEntry {
  id: number;
  recipients: Array<{ recipient: string; state: string; lastReply: string | null }>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => Promise<boolean>, ms: number, everyMs = 250): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return cond();
}

function waitForLine(child: ChildProcess, re: RegExp, what: string, ms = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const t = setTimeout(() => reject(new Error(`${what} did not start: ${out}${err}`)), ms);
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code}): ${out}${err}`));
    });
  });
}
