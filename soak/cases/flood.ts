// Issue 13 §2, floods and slow clients, on the SMTP (mx, submission) and IMAP listeners of a
// Freehold server running as a child process. Every attack runs while a well-behaved client
// (Probe: a new SMTP session, then an IMAP NOOP, every 250 ms from another address) keeps being
// served; each row gives its latency p50/p99 and the server's peak RSS during that attack (VmHWM,
// reset before it). A row passes when the attack got the bounded, clean answer it should, the
// probe never failed, the server is still running and its peak RSS stayed under RSS_BOUND_MIB.
import fs from "node:fs/promises";
import zlib from "node:zlib";
import type { SoakCase, SoakContext, SoakMode, SoakRow } from "../support/case.ts";
import { row } from "../support/case.ts";
import {
  alive,
  attackerIp,
  imapCmd,
  imapLogin,
  inboxCount,
  LineClient,
  openFds,
  peakRssMiBSync,
  pool,
  Probe,
  probeVerdict,
  resetPeakRssSync,
  sendMessage,
  sleep,
  smtpReady,
  startFloodServer,
  USER,
} from "../support/flood-kit.ts";
import type { FloodServer, ProbeStats } from "../support/flood-kit.ts";

const AREA = "flood";
/** Peak RSS a single attack may drive the server to. */
const RSS_BOUND_MIB = 1024;
const MiB = 1024 * 1024;

const pick = <T>(mode: SoakMode, short: T, longV: T): T => (mode === "long" ? longV : short);

interface Outcome {
  what: string;
  tried: number;
  ok: boolean;
  /** What the attacker saw, for the detail column. */
  detail: string;
}

interface Measured extends Outcome {
  stats: ProbeStats;
  rss: number;
}

/**
 * The rows of one server's attacks. Each push closes a measuring window: the probe's latencies
 * and the server's peak RSS since the previous push (or the start) go with the outcomes pushed,
 * so every row shows the latency and memory of its own attack.
 */
class Meter {
  readonly rows: Measured[] = [];
  readonly #probe: Probe;
  readonly #pid: number;

  constructor(probe: Probe, pid: number) {
    this.#probe = probe;
    this.#pid = pid;
    probe.window();
  }

  /** Closes the current window (the probe's polls and peak RSS since the last push) and opens the next. */
  async push(...outcomes: Outcome[]): Promise<void> {
    const rss = peakRssMiBSync(this.#pid);
    const stats = await this.#probe.snapshot();
    resetPeakRssSync(this.#pid);
    for (const o of outcomes) this.rows.push({ ...o, stats, rss });
    this.#probe.window();
  }
}

/** Starts a server and runs the attack(s) with a probe beside them; one row per outcome. */
async function underAttack(
  ctx: SoakContext,
  config: Record<string, unknown>,
  attack: (s: FloodServer, out: Meter) => Promise<Outcome[] | void>,
  setup?: (s: FloodServer) => Promise<void>,
): Promise<SoakRow[]> {
  const s = await startFloodServer({ config });
  try {
    if (setup) await setup(s);
    resetPeakRssSync(s.proc.pid);
    const probe = new Probe(s);
    const out = new Meter(probe, s.proc.pid);
    try {
      const last = await attack(s, out);
      if (last?.length) await out.push(...last);
    } finally {
      await probe.stop();
    }
    const up = alive(s);
    return out.rows.map((o) => {
      const { stats, rss } = o;
      const probe = probeVerdict(stats);
      const pass = o.ok && probe.ok && up && rss < RSS_BOUND_MIB;
      const why = [
        o.detail,
        probe.why,
        up ? "" : "SERVER DIED",
        rss < RSS_BOUND_MIB ? "" : `RSS over ${RSS_BOUND_MIB} MiB`,
      ]
        .filter(Boolean)
        .join("; ");
      ctx.log(`${o.what}: ${why}`);
      return row(AREA, o.what, o.tried, `p50 ${stats.p50.toFixed(0)} ms, p99 ${stats.p99.toFixed(0)} ms, peak RSS ${rss} MiB`, pass, why);
    });
  } finally {
    await s.stop();
  }
}

// ---- 5,000 idle connections -----------------------------------------------------------------

const idle: SoakCase = {
  area: AREA,
  name: "idle connections",
  async run(ctx) {
    const total = pick(ctx.mode, 600, 5000);
    // Both this process (the clients) and the server (its sockets) need `total` descriptors and
    // some. Node raises its soft RLIMIT_NOFILE to the hard limit at start (and the server child
    // inherits it); if the hard limit is too low, say so instead of a row of connect failures.
    const limits = await fs.readFile("/proc/self/limits", "utf8").catch(() => "");
    const nofile = Number(/Max open files\s+(\d+|unlimited)/.exec(limits)?.[1] ?? NaN);
    if (Number.isFinite(nofile) && nofile < total + 1000) {
      return [row(AREA, `${total} idle connections (mx, submission, imap)`, 0, "—", false, `RLIMIT_NOFILE is ${nofile}, needs ${total + 1000}: run under \`ulimit -n ${total + 2000}\` (as root in CI)`)];
    }
    return underAttack(ctx, {}, async (s) => {
      // Spread over mx, submission and imap, 40 per source address (under every per-IP cap).
      const ports = [s.mx, s.submission, s.imap];
      const clients: LineClient[] = [];
      let greeted = 0;
      let failed = 0;
      await pool(
        Array.from({ length: total }, (_, i) => i),
        64,
        async (i) => {
          try {
            const c = await LineClient.connect(ports[i % 3], attackerIp(Math.floor(i / 40)));
            clients.push(c);
            if ((await c.line(30_000)) !== null) greeted++;
          } catch {
            failed++;
          }
        },
      );
      await sleep(1000);
      const open = clients.filter((c) => !c.closed).length;
      const fds = await openFds(s.proc.pid);
      for (const c of clients) c.close();
      return [
        {
          what: `${total} idle connections (mx, submission, imap)`,
          tried: total,
          ok: greeted === total && open === total,
          detail: `greeted ${greeted}, still open ${open}, connect failures ${failed}, server fds ${fds}`,
        },
      ];
    });
  },
};

// ---- connection storm from one IP -----------------------------------------------------------

const storm: SoakCase = {
  area: AREA,
  name: "connection storm",
  async run(ctx) {
    const n = pick(ctx.mode, 300, 2000);
    const smtpCap = 50;
    const imapCap = 100;
    return underAttack(ctx, {}, async (s, out) => {
      for (const [label, port, cap, okRe, refusedRe] of [
        ["mx", s.mx, smtpCap, /^220 /, /^421 4\.7\.0/],
        ["imap", s.imap, imapCap, /^\* OK/, /^\* BYE \[LIMIT\]/],
      ] as const) {
        const ip = "127.0.9.9";
        const clients: LineClient[] = [];
        let accepted = 0;
        let refused = 0;
        let other = 0;
        await Promise.all(
          Array.from({ length: n }, async () => {
            try {
              const c = await LineClient.connect(port, ip);
              clients.push(c);
              // mx greets with "220-" first when pregreet holds (not on loopback); take the last line.
              const l = label === "mx" ? await c.smtpReply(30_000) : await c.line(30_000);
              if (l !== null && okRe.test(l)) accepted++;
              else if (l !== null && refusedRe.test(l)) refused++;
              else other++;
            } catch {
              other++;
            }
          }),
        );
        // Meanwhile other addresses are served: one session from each of 20 other IPs.
        let others = 0;
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            try {
              if (label === "mx") {
                const c = await smtpReady(port, attackerIp(100 + i));
                c.close();
              } else {
                const c = await imapLogin(port, attackerIp(100 + i));
                c.close();
              }
              others++;
            } catch {
              // counted as not served
            }
          }),
        );
        for (const c of clients) c.close();
        await out.push({
          what: `storm of ${n} connections from one IP on ${label} (cap ${cap})`,
          tried: n,
          ok: accepted === cap && refused === n - cap && others === 20,
          detail: `accepted ${accepted}, refused ${refused}, other ${other}; 20 other IPs served ${others}`,
        });
        await sleep(500);
      }
    });
  },
};

// ---- slowloris ------------------------------------------------------------------------------

const slowloris: SoakCase = {
  area: AREA,
  name: "slowloris",
  async run(ctx) {
    const timeoutMs = pick(ctx.mode, 4000, 20_000);
    const clients = pick(ctx.mode, 20, 100);
    // Bound: the deadline, plus the IMAP sweep (a quarter of it) and scheduling slack.
    const bound = timeoutMs * 1.5 + 5000;
    const config = {
      smtp: { commandTimeoutMs: timeoutMs, dataTimeoutMs: timeoutMs },
      imap: { loginTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs },
    };
    return underAttack(ctx, config, async (s) => {
      const trickle = async (c: LineClient, text: string): Promise<number> => {
        const t0 = Date.now();
        for (let i = 0; !c.closed && Date.now() - t0 < bound + 5000; i++) {
          c.write(text[i % text.length]);
          await Promise.race([sleep(1000), c.done]);
        }
        return c.closed ? c.closedAt - t0 : Infinity;
      };
      let logins: Promise<unknown> = Promise.resolve();
      const variants: Array<[string, (ip: string) => Promise<number>]> = [
        [
          "SMTP command line on mx",
          async (ip) => {
            const c = await LineClient.connect(s.mx, ip);
            await c.smtpReply();
            return trickle(c, `EHLO ${"slow".repeat(100)}`);
          },
        ],
        [
          "SMTP command line on submission",
          async (ip) => {
            const c = await LineClient.connect(s.submission, ip);
            await c.smtpReply();
            return trickle(c, `EHLO ${"slow".repeat(100)}`);
          },
        ],
        [
          "SMTP DATA on mx",
          async (ip) => {
            const c = await smtpReady(s.mx, ip);
            c.write(`MAIL FROM:<slow@soak.freehold.test>\r\nRCPT TO:<${USER}>\r\n`);
            await c.smtpReply();
            await c.smtpReply();
            c.write("DATA\r\n");
            await c.smtpReply();
            return trickle(c, "Subject: slow\r\n");
          },
        ],
        [
          // imap.commandTimeoutMs: after login loginTimeoutMs no longer applies.
          "IMAP command after login",
          async (ip) => {
            // One login at a time: each connection must log in within loginTimeoutMs (the same
            // short timeout), and 20 concurrent password checks on a busy machine may not.
            const p = logins.catch(() => undefined).then(() => imapLogin(s.imap, ip));
            logins = p;
            const c = await p;
            return trickle(c, `a NOOP ${"x".repeat(200)}`);
          },
        ],
        [
          "IMAP before login",
          async (ip) => {
            const c = await LineClient.connect(s.imap, ip);
            await c.line();
            return trickle(c, `a LOGIN ${"x".repeat(200)}`);
          },
        ],
      ];
      const results: Outcome[] = [];
      await Promise.all(
        variants.map(async ([label, one], v) => {
          const times: number[] = [];
          let firstError: string | undefined;
          // Logged-in sessions stay under imap.maxConnectionsPerUser (50; the probe has one).
          const n = label.includes("after login") ? Math.min(clients, 40) : clients;
          await Promise.all(
            Array.from({ length: n }, async (_, i) => {
              try {
                times.push(await one(attackerIp(v * 50 + (i % 40))));
              } catch (e) {
                times.push(-1);
                firstError ??= (e as Error).message.slice(0, 60);
              }
            }),
          );
          const cut = times.filter((t) => t >= 0 && t <= bound);
          const worst = Math.max(...times);
          results.push({
            what: `slowloris, a byte a second: ${label}`,
            tried: n,
            ok: cut.length === n,
            detail: `${cut.length}/${n} cut off within ${(bound / 1000).toFixed(0)} s (timeout ${timeoutMs / 1000} s; slowest ${Number.isFinite(worst) ? (worst / 1000).toFixed(1) + " s" : "never"})${firstError ? `; not started: ${times.filter((t) => t < 0).length} (${firstError})` : ""}`,
          });
        }),
      );
      return results;
    });
  },
};

// ---- long lines, endless headers, many recipients, the size limit ---------------------------

const smtpInput: SoakCase = {
  area: AREA,
  name: "SMTP oversized input",
  async run(ctx) {
    const maxMessageBytes = pick(ctx.mode, 4 * MiB, 50 * MiB);
    const reps = pick(ctx.mode, 10, 100);
    const rcpts = 10_000;
    return underAttack(ctx, { smtp: { maxMessageBytes } }, async (s, out) => {
      const mib = "a".repeat(MiB);

      // 1 MiB command lines, on mx and submission: 500 5.5.2 each, the session lives on.
      for (const [label, port] of [
        ["mx", s.mx],
        ["submission", s.submission],
      ] as const) {
        let clean = 0;
        await pool(
          Array.from({ length: reps }, (_, i) => i),
          4,
          async (i) => {
            const c = await smtpReady(port, attackerIp(i % 20));
            await c.drainWrite(`NOOP ${mib}\r\n`);
            const r = await c.smtpReply();
            c.write("NOOP\r\n");
            const after = await c.smtpReply();
            if (r?.startsWith("500") && after?.startsWith("250")) clean++;
            c.close();
          },
        );
        await out.push({ what: `1 MiB command lines on ${label}`, tried: reps, ok: clean === reps, detail: `${clean}/${reps} got 5xx and the session went on` });
      }

      // 1 MiB lines inside a message: 554 5.6.0 (smtp.maxLineOctets), nothing stored.
      const before = await inboxCount(s.imap);
      let refused = 0;
      for (let i = 0; i < Math.min(reps, 10); i++) {
        const r = await sendMessage(s.mx, `Subject: long line\r\n\r\n${mib}\r\n`);
        if (r?.startsWith("554")) refused++;
      }
      let stored = (await inboxCount(s.imap)) - before;
      await out.push({ what: "1 MiB lines in DATA on mx", tried: Math.min(reps, 10), ok: refused === Math.min(reps, 10) && stored === 0, detail: `${refused} refused with 554, ${stored} stored` });

      // Endless header lines: headers past the size limit, never a blank line: 552, nothing stored.
      const headerLine = `X-Endless: ${"h".repeat(60)}\r\n`;
      const headers = headerLine.repeat(Math.ceil((maxMessageBytes + MiB) / headerLine.length));
      const r = await sendMessage(s.mx, headers);
      stored = (await inboxCount(s.imap)) - before;
      await out.push({
        what: `endless header lines (${((headers.length / MiB) | 0) + 1} MiB, limit ${maxMessageBytes / MiB} MiB)`,
        tried: Math.floor(headers.length / headerLine.length),
        ok: !!r?.startsWith("552") && stored === 0,
        detail: `reply ${r?.slice(0, 40)}; stored ${stored}`,
      });

      // 10,000 RCPTs pipelined in one transaction: 250 up to the limit, then 452, then the
      // error limit closes the session with 421; never more accepted than the limit.
      {
        const c = await smtpReady(s.mx, attackerIp(30));
        c.write("MAIL FROM:<many@soak.freehold.test>\r\n");
        await c.smtpReply();
        await c.drainWrite(`RCPT TO:<${USER}>\r\n`.repeat(rcpts));
        const codes = new Map<string, number>();
        for (;;) {
          const l = await c.smtpReply(30_000);
          if (l === null) break;
          const k = l.slice(0, 3);
          codes.set(k, (codes.get(k) ?? 0) + 1);
          if (k === "421") break;
        }
        c.close();
        const accepted = codes.get("250") ?? 0;
        const unclean = [...codes.keys()].filter((k) => !["250", "452", "421", "550", "503"].includes(k));
        await out.push({
          what: `${rcpts} RCPTs in one transaction`,
          tried: rcpts,
          ok: accepted <= 1000 && (codes.get("452") ?? 0) > 0 && unclean.length === 0,
          detail: [...codes].map(([k, v]) => `${k}×${v}`).join(" "),
        });
      }

      // BDAT in 1-octet chunks, pipelined (RFC 3030): each chunk costs a command and a reply,
      // so past smtp.maxBdatChunks (10,000) the message gets 552 5.3.4; the chunks after it
      // belong to no transaction (503, errors) and the error limit closes the session. Nothing stored.
      {
        const chunks = 10_050;
        const n0 = await inboxCount(s.imap);
        const c = await smtpReady(s.mx, attackerIp(31));
        c.write(`MAIL FROM:<chunks@soak.freehold.test>\r\nRCPT TO:<${USER}>\r\n`);
        await c.smtpReply();
        await c.smtpReply();
        const t0 = performance.now();
        await c.drainWrite(`BDAT 1\r\nx`.repeat(chunks));
        const codes = new Map<string, number>();
        for (;;) {
          const l = await c.smtpReply(30_000);
          if (l === null) break;
          const k = l.slice(0, 9);
          codes.set(k, (codes.get(k) ?? 0) + 1);
          if (k.startsWith("421")) break;
        }
        const ms = performance.now() - t0;
        c.close();
        const stored = (await inboxCount(s.imap)) - n0;
        await out.push({
          what: `BDAT in ${chunks} 1-octet chunks, pipelined`,
          tried: chunks,
          ok: codes.get("250 2.0.0") === 10_000 && codes.get("552 5.3.4") === 1 && (codes.get("421 4.7.0") ?? 0) === 1 && stored === 0,
          detail: `${[...codes].map(([k, v]) => `${k}×${v}`).join(" ")} in ${ms.toFixed(0)} ms; stored ${stored}`,
        });
      }

      // A message of exactly the size limit is taken; one octet more gets 552 and nothing is stored.
      {
        const make = (size: number): string => {
          const head = "Subject: at the limit\r\n\r\n";
          const line = `${"b".repeat(76)}\r\n`;
          let body = line.repeat(Math.floor((size - head.length) / line.length));
          const rest = size - head.length - body.length;
          // Pad with a last line of the exact length (ending in CRLF; the DATA end adds none).
          body += rest >= 2 ? `${"c".repeat(rest - 2)}\r\n` : "c".repeat(rest);
          return head + body;
        };
        const n0 = await inboxCount(s.imap);
        const at = make(maxMessageBytes);
        // sendMessage appends CRLF.CRLF; the content is what precedes that CRLF, so drop our last CRLF.
        const r1 = await sendMessage(s.mx, at.slice(0, -2));
        const n1 = await inboxCount(s.imap);
        const over = make(maxMessageBytes + 1);
        const r2 = await sendMessage(s.mx, over.slice(0, -2));
        const n2 = await inboxCount(s.imap);
        await out.push({
          what: `message at the size limit (${maxMessageBytes} octets) and 1 over`,
          tried: 2,
          ok: !!r1?.startsWith("250") && n1 === n0 + 1 && !!r2?.startsWith("552") && n2 === n1,
          detail: `at: ${r1?.slice(0, 12)}, stored ${n1 - n0}; over: ${r2?.slice(0, 16)}, stored ${n2 - n1}`,
        });
      }
    });
  },
};

// ---- IMAP: huge literals, long lines, COMPRESS bombs ----------------------------------------

const imapInput: SoakCase = {
  area: AREA,
  name: "IMAP oversized input",
  async run(ctx) {
    const bombBytes = pick(ctx.mode, 256 * MiB, 4096 * MiB);
    return underAttack(ctx, {}, async (s, out) => {
      // A literal announced at 2 GiB, synchronizing: refused at once, no "+" continuation.
      {
        let clean = 0;
        const tries = 3;
        const c = await imapLogin(s.imap, attackerIp(1));
        for (let i = 0; i < tries; i++) {
          c.write(`big${i} APPEND INBOX {2147483648}\r\n`);
          const l = await c.line(10_000);
          if (l?.startsWith(`big${i} NO`) && l.includes("TOOBIG")) clean++;
        }
        const pre = await LineClient.connect(s.imap, attackerIp(2));
        await pre.line();
        pre.write("pre LOGIN {2147483648}\r\n");
        const l = await pre.line(10_000);
        if (l?.startsWith("pre BAD") || l?.startsWith("pre NO")) clean++;
        const stillOk = (await imapCmd(c, "NOOP")).done?.includes("OK") ?? false;
        c.close();
        pre.close();
        await out.push({ what: "IMAP literal announced at 2 GiB (APPEND, and LOGIN before auth)", tried: tries + 1, ok: clean === tries + 1 && stillOk, detail: `${clean}/${tries + 1} refused before any data; session usable after: ${stillOk}` });
      }
      // A 2 GiB non-synchronizing literal (LITERAL+): refused and its data skipped, not stored;
      // we send 64 MiB of it and watch the server's memory.
      {
        const c = await imapLogin(s.imap, attackerIp(3));
        c.write("nsl APPEND INBOX {2147483648+}\r\n");
        const chunk = Buffer.alloc(MiB, 0x61);
        for (let i = 0; i < 64 && !c.closed; i++) await c.drainWrite(chunk);
        const l = await c.until(/^nsl /, 10_000);
        c.close();
        await out.push({ what: "IMAP non-synchronizing 2 GiB literal, 64 MiB sent", tried: 1, ok: !!l && /^nsl (NO|BAD)/.test(l), detail: `reply: ${l?.slice(0, 50)}` });
      }
      // 1 MiB command lines, before and after login: BAD, the session goes on.
      {
        let clean = 0;
        const n = 10;
        for (let i = 0; i < n; i++) {
          const c = i % 2 ? await imapLogin(s.imap, attackerIp(4)) : await LineClient.connect(s.imap, attackerIp(4));
          if (i % 2 === 0) await c.line();
          await c.drainWrite(`long NOOP ${"a".repeat(MiB)}\r\n`);
          const l = await c.until(/^(long |\* BAD|\* BYE)/, 10_000);
          const after = await imapCmd(c, "NOOP", 10_000);
          if (l && /BAD/.test(l) && after.done?.includes("OK")) clean++;
          c.close();
        }
        await out.push({ what: "IMAP 1 MiB command lines", tried: n, ok: clean === n, detail: `${clean}/${n} got BAD and the session went on` });
      }
      // COMPRESS=DEFLATE bombs: a few KiB on the wire inflating to bombBytes of one endless
      // line, then of NOOP commands the client never reads answers to.
      for (const kind of ["endless line", "NOOP commands"] as const) {
        const c = await imapLogin(s.imap, attackerIp(5));
        const r = await imapCmd(c, "COMPRESS DEFLATE");
        if (!r.done?.includes("OK")) {
          await out.push({ what: `COMPRESS bomb (${kind})`, tried: 0, ok: false, detail: `COMPRESS refused: ${r.done}` });
          c.close();
          continue;
        }
        const sock = c.socket;
        sock.removeAllListeners("data");
        let inflated = 0;
        const inflate = zlib.createInflateRaw();
        let text = "";
        inflate.on("data", (d: Buffer) => {
          inflated += d.length;
          text = (text + d.toString("latin1")).slice(-4096);
        });
        inflate.on("error", () => undefined);
        if (kind === "NOOP commands") sock.pause(); // never read the answers
        // LineClient set a latin1 encoding on the socket: turn the strings back into the bytes.
        else sock.on("data", (d: string | Buffer) => inflate.write(typeof d === "string" ? Buffer.from(d, "latin1") : d));
        const deflate = zlib.createDeflateRaw({ level: 9 });
        let wire = 0;
        deflate.on("data", (d: Buffer) => {
          wire += d.length;
          sock.write(d);
        });
        const unit = kind === "endless line" ? Buffer.alloc(MiB, 0x41) : Buffer.from("x NOOP\r\n".repeat(MiB / 8));
        const t0 = Date.now();
        for (let sent = 0; sent < bombBytes && !c.closed && Date.now() - t0 < 120_000; sent += unit.length) {
          if (!deflate.write(unit)) await new Promise((res) => deflate.once("drain", res));
          if (sock.writableLength > 4 * MiB) await new Promise((res) => setTimeout(res, 5));
        }
        await new Promise<void>((res) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => res()));
        let ok: boolean;
        let detail: string;
        if (kind === "endless line") {
          deflate.write("\r\nbomb NOOP\r\n");
          await new Promise<void>((res) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => res()));
          const end = Date.now() + 60_000;
          while (!/bomb OK/.test(text) && !c.closed && Date.now() < end) await sleep(100);
          ok = /BAD/.test(text) && /bomb OK/.test(text);
          detail = `${(wire / 1024) | 0} KiB on the wire → ${bombBytes / MiB} MiB; BAD then NOOP answered: ${ok}`;
        } else {
          // Nothing to read back: the figure is the server's memory and the probe beside it.
          await sleep(2000);
          ok = true;
          detail = `${(wire / 1024) | 0} KiB on the wire → ${bombBytes / MiB} MiB of NOOPs, answers unread (back-pressure)`;
        }
        c.close();
        await out.push({ what: `COMPRESS=DEFLATE bomb: ${kind}`, tried: 1, ok, detail });
      }
    });
  },
};

// ---- deep MIME, many parts, SEARCH with 10,000 ORs ------------------------------------------

function nestedMime(depth: number): string {
  let open = "";
  let close = "";
  for (let i = 0; i < depth; i++) {
    open += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--\r\n` + close;
  }
  return `Subject: nested ${depth}\r\nMIME-Version: 1.0\r\n${open}Content-Type: text/plain\r\n\r\ninnermost\r\n${close}`;
}

function manyParts(parts: number): string {
  const p = "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n";
  return `Subject: ${parts} parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n${p.repeat(parts)}--p--\r\n`;
}

const imapHeavy: SoakCase = {
  area: AREA,
  name: "IMAP heavy structure and search",
  async run(ctx) {
    const parts = pick(ctx.mode, 20_000, 100_000);
    const ors = 10_000;
    const seed = pick(ctx.mode, 20, 200);
    return underAttack(
      ctx,
      {},
      async (s, out) => {
        const c = await imapLogin(s.imap, attackerIp(7));
        const sel = await imapCmd(c, "SELECT INBOX");
        const exists = Number(/\* (\d+) EXISTS/.exec(sel.lines.join("\n"))?.[1] ?? 0);
        // The two hostile messages are the last two.
        for (const [label, seq] of [
          ["1,000-level nested MIME", exists - 1],
          [`${parts}-part message`, exists],
        ] as const) {
          const t0 = performance.now();
          const r = await imapCmd(c, `FETCH ${seq} BODYSTRUCTURE`, 120_000);
          const ms = performance.now() - t0;
          const got = r.lines.some((l) => l.includes("BODYSTRUCTURE"));
          await out.push({ what: `FETCH BODYSTRUCTURE of a ${label}`, tried: 1, ok: !!r.done?.includes("OK") && got, detail: `${r.done?.slice(0, 30)} in ${ms.toFixed(0)} ms` });
        }
        // SEARCH with 10,000 OR terms. As one 130 KiB line it is over the 64 KiB line limit
        // (Dovecot's imap_max_line_length is 64k too): BAD [TOOBIG], documented. A client that
        // means it sends the strings as literals (LITERAL+, RFC 7888), so each line is short and
        // the whole command fits maxCommandBytes (1 MiB): answered, within a bound. Nested 10,000
        // deep it is refused (MAX_SEARCH_DEPTH 64). The session goes on after each.
        {
          // 10,000 terms joined by OR as a balanced tree (depth 14, under MAX_SEARCH_DEPTH):
          // SUBJECT w0 OR BODY v0 OR SUBJECT w1 ...; every seed message matches.
          const lit = (v: string) => `{${v.length}+}\r\n${v}`;
          const orTree = (lo: number, hi: number, leaf: (i: number) => string): string => {
            if (hi - lo === 1) return leaf(lo);
            const mid = (lo + hi) >> 1;
            return `OR ${orTree(lo, mid, leaf)} ${orTree(mid, hi, leaf)}`;
          };
          const term = (i: number, v: (x: string) => string) => (i % 2 === 0 ? `SUBJECT ${v(`w${i >> 1}`)}` : `BODY ${v(`v${i >> 1}`)}`);
          const asLine = orTree(0, ors, (i) => term(i, (x) => x));
          const asLiterals = orTree(0, ors, (i) => term(i, lit));
          const bound = 60_000;
          const r0 = await imapCmd(c, `SEARCH ${asLine}`, 60_000);
          const t0 = performance.now();
          const r = await imapCmd(c, `SEARCH ${asLiterals}`, 120_000);
          const ms = performance.now() - t0;
          const hits = (r.lines.find((l) => l.startsWith("* SEARCH")) ?? "").split(" ").length - 2;
          const nested = `${"OR SUBJECT a ".repeat(ors)}SUBJECT z`.replace(/SUBJECT a /g, () => `SUBJECT ${lit("a")} `);
          const r2 = await imapCmd(c, `SEARCH ${nested}`, 60_000);
          const after = await imapCmd(c, "NOOP");
          await out.push({
            what: `SEARCH with ${ors} terms joined by OR (one line; as literals; nested ${ors} deep)`,
            tried: 3,
            ok:
              !!r0.done && /^\S+ BAD \[TOOBIG\]/.test(r0.done) &&
              !!r.done?.includes("OK") && ms < bound && hits === seed &&
              !!r2.done && /BAD|NO/.test(r2.done) &&
              !!after.done?.includes("OK"),
            detail: `line: ${r0.done?.replace(/^\S+ /, "").slice(0, 13)}; literals: ${r.done?.replace(/^\S+ /, "").slice(0, 2)}, ${hits} hits of ${seed} in ${ms.toFixed(0)} ms (bound ${bound / 1000} s) over ${exists} messages; nested: ${r2.done?.replace(/^\S+ /, "").slice(0, 36)}`,
          });
        }
        c.close();
      },
      async (s) => {
        for (let i = 0; i < seed; i++) {
          const r = await sendMessage(s.mx, `Subject: seed ${i} w${i}\r\n\r\nbody v${i}\r\n`);
          if (!r?.startsWith("250")) throw new Error(`seed message refused: ${r}`);
        }
        for (const m of [nestedMime(1000), manyParts(parts)]) {
          const r = await sendMessage(s.mx, m);
          if (!r?.startsWith("250")) throw new Error(`hostile message refused at delivery: ${r}`);
        }
      },
    );
  },
};

export const soakCases: SoakCase[] = [idle, storm, slowloris, smtpInput, imapInput, imapHeavy];
