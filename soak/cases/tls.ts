// Issue 13 §5: TLS hardening, checked with `openssl s_client` on every TLS listener of a real
// `freehold serve` child process: STARTTLS on mx, submission and imap (`-starttls smtp|imap`),
// implicit TLS on submissions and imaps; the cipher check is a scripted sweep: every TLS 1.2
// cipher this openssl knows (`openssl ciphers -s -tls1_2 ALL:COMPLEMENTOFALL@SECLEVEL=0`), each
// offered alone. testssl.sh (Debian's package) then checks the same from its own handshake code,
// which also probes SSLv2/SSLv3 and ciphers this openssl no longer builds.
//
//   protocols       TLS 1.0 and 1.1 refused (the client is put at SECLEVEL=0 so that it really
//                   offers them), TLS 1.2 and 1.3 accepted
//   cipher sweep    accepted ⊆ the intended strong list (src/tls/context.ts TLS12_CIPHERS);
//                   accepted weak = 0, and at least one strong suite accepted; swept with the
//                   install's ECDSA certificate and again with an RSA one; TLS 1.3's five suites
//                   each alone: exactly our three accepted
//   renegotiation   client-initiated renegotiation (s_client's `R` command) over TLS 1.2 fails
//   reload          a new pair written into tls/cert.pem + tls/key.pem and SIGHUP: new
//                   connections present the new certificate, a connection opened before still
//                   works; a bad pair (a key that does not fit) logs an error and the previous
//                   certificate stays in service; files replaced without a signal are picked up
//                   by the 5 s poll
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import tls from "node:tls";
import type { SoakCase, SoakContext, SoakRow } from "../support/case.ts";
import { row } from "../support/case.ts";
import { alive, pool, startFloodServer } from "../support/flood-kit.ts";
import type { FloodServer } from "../support/flood-kit.ts";
import { logLines } from "../../test/support/freehold.ts";
import { TLS12_CIPHERS, TLS13_CIPHERS } from "../../src/tls/context.ts";

const AREA = "tls";
const OPENSSL = "openssl";

interface TlsListener {
  name: string;
  port: number;
  /** `-starttls` protocol, or undefined for implicit TLS. */
  starttls?: "smtp" | "imap";
}

function listenersOf(s: FloodServer): TlsListener[] {
  return [
    { name: "mx", port: s.mx, starttls: "smtp" },
    { name: "submission", port: s.submission, starttls: "smtp" },
    { name: "imap", port: s.imap, starttls: "imap" },
    { name: "submissions", port: s.submissions! },
    { name: "imaps", port: s.imaps! },
  ];
}

interface SClientResult {
  code: number | null;
  out: string;
  /** The negotiated cipher, or null when no handshake completed. */
  cipher: string | null;
  protocol: string | null;
}

/** One `openssl s_client` run; `input` is written after the handshake (then stdin closes). */
function sClient(l: TlsListener, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<SClientResult> {
  const argv = ["s_client", "-connect", `127.0.0.1:${l.port}`, "-servername", "mx.freehold.test", ...(l.starttls ? ["-starttls", l.starttls] : []), ...args];
  return new Promise((resolve) => {
    const child = spawn(OPENSSL, argv, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let sent = opts.input === undefined;
    const onData = (d: Buffer): void => {
      out += d.toString("latin1");
      if (!sent && /SSL-Session:[\s\S]*\n---\n/.test(out)) {
        sent = true;
        // s_client reads its commands from stdin; give it a moment after the session print.
        setTimeout(() => child.stdin.write(opts.input!), 200);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.stdin.on("error", () => undefined);
    if (opts.input === undefined) child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const m = /Cipher is (\S+)/.exec(out);
      const cipher = m && m[1] !== "(NONE)" ? m[1] : null;
      const p = /^New, (\S+), Cipher is/m.exec(out) ?? /Protocol\s*:\s*(\S+)/.exec(out);
      resolve({ code, out, cipher, protocol: cipher ? (p?.[1]?.replace(/,$/, "") ?? null) : null });
    });
    // Renegotiation case: close stdin a while after the command so s_client ends.
    if (opts.input !== undefined) setTimeout(() => child.stdin.end(), (opts.timeoutMs ?? 20_000) - 3000);
  });
}

const handshakeOk = (r: SClientResult): boolean => r.code === 0 && r.cipher !== null;

/** Every TLS 1.2 (and older) cipher this openssl can offer, OpenSSL names. */
async function sweepCiphers(): Promise<string[]> {
  const r = await new Promise<string>((resolve, reject) => {
    const c = spawn(OPENSSL, ["ciphers", "-s", "-tls1_2", "ALL:COMPLEMENTOFALL@SECLEVEL=0"]);
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("error", reject);
    c.on("close", () => resolve(out));
  });
  return r
    .trim()
    .split(":")
    .filter((c) => c !== "" && !c.startsWith("TLS_"));
}

// ---- protocols, cipher sweep, renegotiation -----------------------------------------------------

const hardening: SoakCase = {
  area: AREA,
  name: "protocols, ciphers, renegotiation",
  async run(ctx: SoakContext): Promise<SoakRow[]> {
    const s = await startFloodServer({ implicitTls: true });
    const rows: SoakRow[] = [];
    try {
      const ls = listenersOf(s);
      // Protocol versions. SECLEVEL=0 so the client offers what we want the server to refuse.
      const versions: Array<{ flag: string; name: string; want: boolean }> = [
        { flag: "-tls1", name: "TLS 1.0", want: false },
        { flag: "-tls1_1", name: "TLS 1.1", want: false },
        { flag: "-tls1_2", name: "TLS 1.2", want: true },
        { flag: "-tls1_3", name: "TLS 1.3", want: true },
      ];
      for (const v of versions) {
        const bad: string[] = [];
        let n = 0;
        await pool(ls, 5, async (l) => {
          const r = await sClient(l, [v.flag, ...(v.flag === "-tls1_3" ? [] : ["-cipher", "DEFAULT@SECLEVEL=0"])]);
          if (handshakeOk(r)) n++;
          if (handshakeOk(r) !== v.want) bad.push(`${l.name}: ${v.want ? "refused" : `accepted ${r.cipher}`}`);
          // Refused for the version itself (a protocol_version alert, RFC 8446 §E.5 / RFC 5246
          // §E.1), not by accident of the cipher list or the certificate type.
          else if (!v.want && !/alert protocol version/i.test(r.out)) bad.push(`${l.name}: refused without a protocol_version alert`);
        });
        rows.push(row(AREA, `${v.name} ${v.want ? "accepted" : "refused"} on every TLS listener`, ls.length, `${v.want ? "accepted" : "accepted (must be 0)"} ${n}/${ls.length}`, bad.length === 0, bad.join("; ") || undefined));
      }

      // Cipher sweep: each TLS 1.2 cipher alone, on every listener; first with the install's
      // ECDSA certificate, then with an RSA one (reloaded), since static-RSA and ECDHE-RSA suites
      // can only be chosen by a server holding an RSA key.
      const ciphers = await sweepCiphers();
      const strong = new Set(TLS12_CIPHERS);
      const sweeps: Array<{ cert: string; l: TlsListener }> = [
        ...ls.map((l) => ({ cert: "ECDSA", l })),
        // Short mode (CI, < 90 s on a loaded 2-core machine): the RSA sweep on one STARTTLS and
        // one implicit-TLS listener; long mode on all of them.
        ...ls.filter((l) => ctx.mode === "long" || l.name === "mx" || l.name === "imaps").map((l) => ({ cert: "RSA", l })),
      ];
      const total = { tried: 0, accepted: 0, weak: 0 };
      for (const { cert, l } of sweeps) {
        if (cert === "RSA" && l === ls[0]) {
          // ls[0] (mx) is always the first RSA sweep: switch the certificate now.
          const rsa = await newPair(ctx.tmpDir, "sweep-rsa", "rsa");
          const n = countLog(s, RELOADED);
          await fs.writeFile(path.join(s.data.dir, "tls", "key.pem"), rsa.key, { mode: 0o600 });
          await fs.writeFile(path.join(s.data.dir, "tls", "cert.pem"), rsa.cert);
          process.kill(s.proc.pid, "SIGHUP");
          if (!(await waitCount(s, RELOADED, n + 1))) {
            rows.push(row(AREA, "RSA certificate for the second sweep", 1, "not loaded", false));
            break;
          }
        }
        ctx.log(`sweeping ${ciphers.length} TLS 1.2 ciphers on ${l.name} (${cert} certificate)`);
        const accepted: string[] = [];
        const failed: string[] = [];
        await pool(ciphers, 4, async (c) => {
          const r = await sClient(l, ["-tls1_2", "-cipher", `${c}@SECLEVEL=0`], { timeoutMs: 30_000 });
          if (handshakeOk(r)) {
            if (r.cipher === c) accepted.push(c);
            else failed.push(`${c} negotiated as ${r.cipher}`);
          }
        });
        const weak = accepted.filter((c) => !strong.has(c));
        total.tried += ciphers.length;
        total.accepted += accepted.length;
        total.weak += weak.length;
        const pass = weak.length === 0 && failed.length === 0 && accepted.length > 0;
        rows.push(
          row(
            AREA,
            `TLS 1.2 cipher sweep on ${l.name}, ${cert} certificate`,
            ciphers.length,
            `accepted ${accepted.length}, weak accepted ${weak.length}`,
            pass,
            [weak.length ? `weak: ${weak.join(",")}` : "", failed.join("; "), accepted.length ? `accepted: ${accepted.sort().join(",")}` : "none accepted"].filter(Boolean).join("; "),
          ),
        );
      }

      rows.push(row(AREA, "TLS 1.2 cipher sweep, all listeners and certificates", total.tried, `accepted ${total.accepted}, weak accepted ${total.weak}`, total.weak === 0 && total.accepted > 0));

      // TLS 1.3: each of RFC 8446's five suites alone (§B.4); CCM ones are not in our list.
      const all13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"];
      const allowed13 = new Set(TLS13_CIPHERS);
      const acc13: string[] = [];
      const odd13: string[] = [];
      await pool(
        ls.flatMap((l) => all13.map((c) => ({ l, c }))),
        4,
        async ({ l, c }) => {
          const r = await sClient(l, ["-tls1_3", "-ciphersuites", c]);
          if (handshakeOk(r)) {
            if (!allowed13.has(r.cipher!)) odd13.push(`${l.name}: ${r.cipher}`);
            else acc13.push(`${l.name}:${c}`);
          }
        },
      );
      rows.push(
        row(AREA, "TLS 1.3 suite sweep on every TLS listener", ls.length * all13.length, `accepted ${acc13.length}, outside the list ${odd13.length}`, odd13.length === 0 && acc13.length === ls.length * TLS13_CIPHERS.length, odd13.join("; ") || undefined),
      );

      // Client-initiated renegotiation over TLS 1.2 (TLS 1.3 has none).
      const renegBad: string[] = [];
      await pool(ls, 5, async (l) => {
        const r = await sClient(l, ["-tls1_2"], { input: "R\n", timeoutMs: 12_000 });
        if (!handshakeOk(r) && r.cipher === null) {
          renegBad.push(`${l.name}: first handshake failed`);
          return;
        }
        const after = r.out.slice(r.out.indexOf("RENEGOTIATING"));
        if (!r.out.includes("RENEGOTIATING")) renegBad.push(`${l.name}: R was not sent`);
        // A refused renegotiation ends in an alert/error; an accepted one prints a new verify line.
        else if (!/no renegotiation|alert/i.test(after) || /verify return:\d/.test(after)) renegBad.push(`${l.name}: renegotiation not refused`);
      });
      rows.push(row(AREA, "client-initiated renegotiation refused on every TLS listener", ls.length, `renegotiated ${renegBad.length}`, renegBad.length === 0, renegBad.join("; ") || undefined));
      rows.push(row(AREA, "server alive after the TLS battery", 1, alive(s) ? "running" : "exited", alive(s)));
    } finally {
      await s.stop();
    }
    return rows;
  },
};

// ---- certificate reload ----------------------------------------------------------------------

async function newPair(dir: string, name: string, kind: "ec" | "rsa"): Promise<{ cert: string; key: string; fingerprint: string }> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const keyArgs = kind === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"];
  await new Promise<void>((resolve, reject) => {
    const c = spawn(OPENSSL, ["req", "-x509", ...keyArgs, "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=mx.freehold.test/O=${name}`, "-addext", "subjectAltName=DNS:mx.freehold.test"], { stdio: "ignore" });
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`openssl req exited ${code}`))));
  });
  const cert = await fs.readFile(certFile, "utf8");
  return { cert, key: await fs.readFile(keyFile, "utf8"), fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** The fingerprint of the certificate a new connection is shown (null if no handshake). */
async function servedFingerprint(l: TlsListener): Promise<string | null> {
  const r = await sClient(l, []);
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.out);
  return m ? new X509Certificate(m[0]).fingerprint256 : null;
}

/** An IMAP session over implicit TLS, kept open across the reload. */
async function openImaps(port: number): Promise<{ fingerprint: string; noop(): Promise<boolean>; close(): void }> {
  const sock = tls.connect({ host: "127.0.0.1", port, servername: "mx.freehold.test", rejectUnauthorized: false });
  let buf = "";
  sock.setEncoding("latin1");
  sock.on("data", (d: string) => (buf += d));
  sock.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once("secureConnect", resolve);
    sock.once("error", reject);
  });
  const waitFor = async (re: RegExp, ms = 10_000): Promise<boolean> => {
    const end = Date.now() + ms;
    while (!re.test(buf)) {
      if (Date.now() > end || sock.destroyed) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  };
  await waitFor(/^\* OK/m);
  let tag = 0;
  return {
    fingerprint: sock.getPeerX509Certificate()!.fingerprint256,
    async noop() {
      const t = `n${++tag}`;
      buf = "";
      sock.write(`${t} NOOP\r\n`);
      return waitFor(new RegExp(`^${t} OK`, "m"));
    },
    close: () => sock.destroy(),
  };
}

const countLog = (s: FloodServer, msg: string): number => logLines(s.proc.output()).filter((l) => l.msg === msg).length;

async function waitCount(s: FloodServer, msg: string, atLeast: number, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (countLog(s, msg) < atLeast) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const RELOADED = "TLS certificate reloaded";
const RELOAD_FAILED = "TLS certificate reload failed; the previous certificate stays in use";

const reload: SoakCase = {
  area: AREA,
  name: "certificate reload",
  async run(ctx: SoakContext): Promise<SoakRow[]> {
    const s = await startFloodServer({ implicitTls: true });
    const rows: SoakRow[] = [];
    const certPath = path.join(s.data.dir, "tls", "cert.pem");
    const keyPath = path.join(s.data.dir, "tls", "key.pem");
    try {
      const ls = listenersOf(s);
      const initial = new X509Certificate(await fs.readFile(certPath, "utf8")).fingerprint256;
      const before = await Promise.all(ls.map(servedFingerprint));
      const old = await openImaps(s.imaps!);

      // A good new pair (RSA, so the ECDHE-RSA suites get exercised too), then SIGHUP.
      const next = await newPair(ctx.tmpDir, "renewed", "rsa");
      const reloads = countLog(s, RELOADED);
      await fs.writeFile(keyPath, next.key, { mode: 0o600 });
      await fs.writeFile(certPath, next.cert);
      process.kill(s.proc.pid, "SIGHUP");
      const logged = await waitCount(s, RELOADED, reloads + 1);
      const after = await Promise.all(ls.map(servedFingerprint));
      const stale = ls.filter((_, i) => after[i] !== next.fingerprint).map((l) => l.name);
      const oldWorks = await old.noop();
      const beforeOk = before.every((f) => f === initial) && old.fingerprint === initial;
      rows.push(
        row(
          AREA,
          "certificate reload on SIGHUP: new connections get the new certificate",
          ls.length,
          `new cert on ${ls.length - stale.length}/${ls.length} listeners`,
          logged && stale.length === 0 && beforeOk,
          [!beforeOk ? "initial certificate not served before the reload" : "", !logged ? `no "${RELOADED}" log line` : "", stale.length ? `still old on ${stale.join(",")}` : ""].filter(Boolean).join("; ") || undefined,
        ),
      );
      rows.push(row(AREA, "connection opened before the reload keeps working", 1, oldWorks ? "NOOP OK" : "NOOP failed", oldWorks && old.fingerprint === initial));
      old.close();
      const rsa = await sClient(ls[0], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]);
      rows.push(row(AREA, "ECDHE-RSA suite with the reloaded RSA certificate (mx)", 1, rsa.cipher ?? "refused", rsa.cipher === "ECDHE-RSA-AES128-GCM-SHA256"));

      // A bad pair: a certificate with a key that does not fit it.
      const other = await newPair(ctx.tmpDir, "mismatch", "ec");
      const third = await newPair(ctx.tmpDir, "third", "ec");
      const failures = countLog(s, RELOAD_FAILED);
      await fs.writeFile(keyPath, third.key, { mode: 0o600 });
      await fs.writeFile(certPath, other.cert);
      process.kill(s.proc.pid, "SIGHUP");
      const errLogged = await waitCount(s, RELOAD_FAILED, failures + 1);
      const errLine = logLines(s.proc.output()).filter((l) => l.msg === RELOAD_FAILED).at(-1);
      const keep = await Promise.all(ls.map(servedFingerprint));
      const changed = ls.filter((_, i) => keep[i] !== next.fingerprint).map((l) => l.name);
      rows.push(
        row(
          AREA,
          "bad pair written: error logged, previous certificate kept",
          ls.length,
          `previous cert on ${ls.length - changed.length}/${ls.length} listeners`,
          errLogged && changed.length === 0 && errLine?.level === 50 && alive(s),
          [!errLogged ? "no error log line" : "", changed.length ? `not the previous cert on ${changed.join(",")}` : "", !alive(s) ? "server exited" : ""].filter(Boolean).join("; ") || String(errLine?.err ?? ""),
        ),
      );

      // A renewal that just replaces the files (certbot's deploy without a hook): picked up by
      // the stat poll (every 5 s) without any signal.
      const polled = await newPair(ctx.tmpDir, "polled", "ec");
      const n = countLog(s, RELOADED);
      const t0 = Date.now();
      await fs.writeFile(keyPath, polled.key, { mode: 0o600 });
      await fs.writeFile(certPath, polled.cert);
      const seen = await waitCount(s, RELOADED, n + 1, 30_000);
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      const now = await Promise.all(ls.map(servedFingerprint));
      const notYet = ls.filter((_, i) => now[i] !== polled.fingerprint).map((l) => l.name);
      rows.push(
        row(AREA, "certificate reload on file change (no signal)", ls.length, seen ? `reloaded after ${secs} s, new cert on ${ls.length - notYet.length}/${ls.length}` : "not reloaded in 30 s", seen && notYet.length === 0 && alive(s), notYet.length ? `still old on ${notYet.join(",")}` : undefined),
      );
    } finally {
      await s.stop();
    }
    return rows;
  },
};

// ---- testssl.sh ------------------------------------------------------------------------------

/** testssl.sh findings that must hold (its JSON ids), and the finding each must start with. */
const TESTSSL_EXPECT: Array<[string, string]> = [
  ["SSLv2", "not offered"],
  ["SSLv3", "not offered"],
  ["TLS1", "not offered"],
  ["TLS1_1", "not offered"],
  ["TLS1_2", "offered"],
  ["TLS1_3", "offered"],
  ["cipherlist_NULL", "not offered"],
  ["cipherlist_aNULL", "not offered"],
  ["cipherlist_EXPORT", "not offered"],
  ["cipherlist_LOW", "not offered"],
  ["cipherlist_3DES_IDEA", "not offered"],
  ["cipherlist_AVERAGE", "not offered"],
  ["cipherlist_STRONG", "offered"],
  ["PFS", "offered"],
  ["secure_client_renego", "not vulnerable"],
];

function testssl(l: TlsListener, jsonFile: string): Promise<{ code: number | null; out: string }> {
  // testssl.sh speaks its own handshakes over sockets, so SSLv2/SSLv3 and ciphers this openssl
  // no longer builds are probed too. -p protocols, -s cipher categories, -f forward secrecy,
  // -R renegotiation.
  const args = ["--quiet", "--color", "0", "--warnings", "off", "--sneaky", "-p", "-s", "-f", "-R", "--jsonfile", jsonFile, ...(l.starttls ? ["--starttls", l.starttls] : []), `127.0.0.1:${l.port}`];
  return new Promise((resolve) => {
    const c = spawn("testssl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => c.kill("SIGKILL"), 300_000);
    c.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out: String(e) });
    });
    c.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const testsslCase: SoakCase = {
  area: AREA,
  name: "testssl.sh",
  async run(ctx: SoakContext): Promise<SoakRow[]> {
    const s = await startFloodServer({ implicitTls: true });
    const rows: SoakRow[] = [];
    try {
      // Short mode: one STARTTLS and one implicit-TLS listener (~15 s each); long mode: all.
      const ls = listenersOf(s).filter((l) => ctx.mode === "long" || l.name === "mx" || l.name === "imaps");
      await pool(ls, 2, async (l) => {
        const jsonFile = path.join(ctx.tmpDir, `testssl-${l.name}.json`);
        const r = await testssl(l, jsonFile);
        let found: Array<{ id: string; finding: string }> = [];
        try {
          found = JSON.parse(await fs.readFile(jsonFile, "utf8")) as typeof found;
        } catch {
          rows.push(row(AREA, `testssl.sh on ${l.name}`, 0, "no result", false, r.code === -1 ? "testssl not installed (scripts/install-peers.sh)" : r.out.slice(-300)));
          return;
        }
        const bad: string[] = [];
        for (const [id, want] of TESTSSL_EXPECT) {
          const f = found.find((e) => e.id === id)?.finding;
          if (f === undefined) bad.push(`${id} missing`);
          else if (!f.startsWith(want) || (want === "offered" && f.startsWith("not"))) bad.push(`${id}: ${f}`);
        }
        rows.push(row(AREA, `testssl.sh on ${l.name}`, TESTSSL_EXPECT.length, `checks failed ${bad.length}`, bad.length === 0 && alive(s), bad.join("; ") || undefined));
      });
    } finally {
      await s.stop();
    }
    return rows;
  },
};

export const soakCases: SoakCase[] = [hardening, reload, testsslCase];
