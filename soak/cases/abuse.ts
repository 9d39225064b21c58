// Issue 13 §1: relay and authentication abuse, on every SMTP listener (mx, submission,
// submissions) and IMAP (imap, imaps). Real `freehold serve` processes, attacked by a raw-socket
// Python client (abuse_client.py: exact bytes, NUL/CR/LF included, and the time of each answer)
// and by swaks; what leaves is caught by an smtp-sink the server's only route points at.
//
//   relay battery   every open-relay trick on mx, and on submission/submissions without AUTH and
//                   after a failed AUTH; relayed = sink messages + queue entries beyond the
//                   authenticated control message (which must arrive: the path out works)
//   AUTH pre-TLS    from a non-loopback address (a network namespace, since 127.0.0.0/8 counts as
//                   loopback for imap.allowPlaintextOnLoopback): no AUTH before TLS anywhere
//   brute force     lockout per address, per IPv6 /64 (namespace) and per account, shared by SMTP
//                   and IMAP; exponential back-off; one reply for wrong user and wrong password;
//                   password spraying; the owner's usual address exempt from the account lockout
//   timing          unknown users are not faster to reject (medians, generous bound)
//
// Short mode (CI) tries fewer names and timing samples; long mode more, plus repeated lockouts.
import fs from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import type { SoakCase, SoakContext, SoakMode, SoakRow } from "../support/case.ts";
import { row } from "../support/case.ts";
import { createDataDir, freePort, openDataDir, startFreeholdProcess } from "../../test/support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../../test/support/freehold.ts";
import { startSmtpSink } from "../../test/support/smtp-sink.ts";
import type { SmtpSink } from "../../test/support/smtp-sink.ts";
import { startFaultServer } from "../../test/support/dns-fault.ts";
import type { FaultServer } from "../../test/support/dns-fault.ts";
import { createNetns, netnsUnavailable } from "../../test/support/netns.ts";
import type { Netns } from "../../test/support/netns.ts";
import { run, sleep, waitUntil } from "../../test/support/peer-util.ts";

const AREA = "abuse";
const PY = "/usr/bin/python3";
const CLIENT = path.join(import.meta.dirname, "abuse_client.py");
const DOMAIN = "local.test";
const REMOTE = "remote.test";
const USERS = {
  alice: { address: `alice@${DOMAIN}`, password: "alice-Abuse-pw-1" },
  bob: { address: `bob@${DOMAIN}`, password: "bob-Abuse-pw-2" },
  carol: { address: `carol@${DOMAIN}`, password: "carol-Abuse-pw-3" },
};
const SPRAY_PASSWORD = "Winter2026!";

type Json = Record<string, unknown>;

interface Ports {
  mx: number;
  submission: number;
  submissions: number;
  imap: number;
  imaps: number;
}

interface AbuseServer {
  data: DataDir;
  proc: FreeholdProcess;
  ports: Ports;
  stop(): Promise<void>;
}

/** A server with every SMTP and IMAP listener; `login` goes into config.login. */
async function startAbuseServer(opts: {
  login: Json;
  dnsServers: string[];
  sinkPort?: number;
  netns?: Netns;
}): Promise<AbuseServer> {
  const data = await createDataDir({
    domains: [DOMAIN],
    users: Object.values(USERS),
    // A catch-all, so odd local parts at our domain are accepted and the message goes all the
    // way through delivery: a relay hidden in there would show up in the queue or the sink.
    aliases: [{ address: `@${DOMAIN}`, targets: [USERS.alice.address] }],
    dnsServers: opts.dnsServers,
  });
  const ports: Ports = opts.netns
    ? { mx: 25, submission: 587, submissions: 465, imap: 143, imaps: 993 }
    : { mx: data.mxPort, submission: await freePort(), submissions: await freePort(), imap: await freePort(), imaps: await freePort() };
  const address = opts.netns ? "::" : "127.0.0.1";
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await fs.readFile(file, "utf8")) as Json;
  Object.assign(doc, {
    listeners: [
      { role: "mx", address, port: ports.mx },
      { role: "submission", address, port: ports.submission },
      { role: "submissions", address, port: ports.submissions },
      { role: "imap", address, port: ports.imap },
      { role: "imaps", address, port: ports.imaps },
    ],
    smtp: { pregreet: { enabled: false } },
    login: { cacheSeconds: 0, ...opts.login },
    log: { level: "info" },
  });
  await fs.writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  if (opts.sinkPort) {
    // The only way out: every outbound recipient is routed to the sink.
    await fs.writeFile(
      path.join(data.dir, "relays.yaml"),
      YAML.stringify({ relays: [{ name: "sink", host: "127.0.0.1", port: opts.sinkPort, tls: "none" }], routes: { default: ["sink"] } }),
    );
  }
  let proc: FreeholdProcess;
  try {
    proc = await startFreeholdProcess(data, { netns: opts.netns?.name, timeoutMs: 60_000 });
  } catch (e) {
    await data.remove();
    throw e;
  }
  // startFreeholdProcess moves the mx listener when its port was taken meanwhile.
  if (!opts.netns) ports.mx = data.mxPort;
  return {
    data,
    proc,
    ports,
    async stop() {
      await proc.stop();
      await data.remove();
    },
  };
}

/** Runs abuse_client.py with a list of operations (inside `netns` when given). */
async function client(ops: Json[], netns?: Netns): Promise<Json[]> {
  const input = JSON.stringify(ops);
  const r = netns
    ? await netns.run(PY, [CLIENT], { input, timeoutMs: 600_000 })
    : await run(PY, [CLIENT], { input, timeoutMs: 600_000 });
  try {
    return JSON.parse(r.stdout) as Json[];
  } catch {
    throw new Error(`abuse_client.py failed (${r.code}): ${r.stderr.slice(0, 2000)} ${r.stdout.slice(0, 500)}`);
  }
}

// ---- relay battery ------------------------------------------------------------------------

interface Trick {
  name: string;
  /** Raw RCPT lines ("\r\n" added when missing); {V} becomes the tag naming listener and trick. */
  rcpt: string[];
  /** RCPT replies that may be 250 on mx: those for recipients in our domain (catch-all, alice). */
  local: number;
  mail?: string;
  /** DATA content (with its final "\r\n.\r\n"); default a small message. */
  data?: string;
}

const MSG = (extra = "") => `From: <spammer@spam.test>\r\nTo: <{V}@${REMOTE}>\r\nSubject: relay probe\r\n${extra}\r\nprobe\r\n.\r\n`;
const ALICE = `RCPT TO:<alice@${DOMAIN}>`;

/** Every open-relay trick we know. */
export const TRICKS: Trick[] = [
  { name: "plain external recipient", rcpt: [`RCPT TO:<{V}@${REMOTE}>`], local: 0 },
  { name: "spoofed local sender", mail: `<bob@${DOMAIN}>`, rcpt: [`RCPT TO:<{V}@${REMOTE}>`], local: 0 },
  { name: "source route", rcpt: [`RCPT TO:<@${DOMAIN}:{V}@${REMOTE}>`], local: 0 },
  { name: "source route, two hops", rcpt: [`RCPT TO:<@${DOMAIN},@mx.freehold.test:{V}@${REMOTE}>`], local: 0 },
  { name: "% hack", rcpt: [`RCPT TO:<{V}%${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "% hack behind a source route", rcpt: [`RCPT TO:<@${DOMAIN}:{V}%${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "! path at our domain", rcpt: [`RCPT TO:<${REMOTE}!{V}@${DOMAIN}>`], local: 1 },
  { name: "! path alone", rcpt: [`RCPT TO:<${REMOTE}!{V}>`], local: 0 },
  { name: "quoted local part with @", rcpt: [`RCPT TO:<"{V}@${REMOTE}"@${DOMAIN}>`], local: 1 },
  { name: "quoted local part with %", rcpt: [`RCPT TO:<"{V}%${REMOTE}"@${DOMAIN}>`], local: 1 },
  { name: "quoted address without domain", rcpt: [`RCPT TO:<"{V}@${REMOTE}">`], local: 0 },
  { name: "IPv4 literal of this host", rcpt: [`RCPT TO:<{V}@[127.0.0.1]>`], local: 0 },
  { name: "IPv6 literal of this host", rcpt: [`RCPT TO:<{V}@[IPv6:::1]>`], local: 0 },
  { name: "trailing dot on the remote domain", rcpt: [`RCPT TO:<{V}@${REMOTE}.>`], local: 0 },
  { name: "trailing dot on our domain", rcpt: [`RCPT TO:<{V}%${REMOTE}@${DOMAIN}.>`], local: 1 },
  { name: "two @", rcpt: [`RCPT TO:<{V}@${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "URL-encoded @", rcpt: [`RCPT TO:<{V}%40${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "RFC 2047 encoded-word", rcpt: [`RCPT TO:<=?utf-8?q?{V}=40${REMOTE}?=@${DOMAIN}>`], local: 1 },
  { name: "upper-case remote domain", rcpt: [`RCPT TO:<{V}@${REMOTE.toUpperCase()}>`], local: 0 },
  { name: "no angle brackets", rcpt: [`RCPT TO:{V}@${REMOTE}`], local: 0 },
  { name: "full-width @ (U+FF20)", rcpt: [`RCPT TO:<{V}\uff20${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "full-width @ with SMTPUTF8", mail: "<spammer@spam.test> SMTPUTF8", rcpt: [`RCPT TO:<{V}\uff20${REMOTE}@${DOMAIN}>`], local: 1 },
  { name: "NUL inside the path", rcpt: [`RCPT TO:<{V}@${REMOTE}\u0000@${DOMAIN}>`], local: 1 },
  { name: "NUL before a second command", rcpt: [`${ALICE}\u0000RCPT TO:<{V}@${REMOTE}>`], local: 1 },
  { name: "bare CR between two commands", rcpt: [`${ALICE}\rRCPT TO:<{V}@${REMOTE}>\r\n`], local: 1 },
  { name: "bare LF between two commands", rcpt: [`${ALICE}\nRCPT TO:<{V}@${REMOTE}>\n`], local: 1 },
  { name: "ORCPT naming the victim", rcpt: [`${ALICE} ORCPT=rfc822;{V}@${REMOTE}`], local: 1 },
  // A success DSN to an attacker-chosen sender would carry the message out (backscatter relay).
  { name: "NOTIFY=SUCCESS with the victim as sender", mail: `<{V}@${REMOTE}> RET=FULL`, rcpt: [`${ALICE} NOTIFY=SUCCESS,FAILURE,DELAY`], local: 1 },
  { name: "XCLIENT impersonating loopback", rcpt: ["XCLIENT ADDR=127.0.0.1 NAME=localhost", `RCPT TO:<{V}@${REMOTE}>`], local: 0 },
  { name: "AUTH= parameter claiming a user", mail: `<spammer@spam.test> AUTH=${USERS.alice.address}`, rcpt: [`RCPT TO:<{V}@${REMOTE}>`], local: 0 },
  { name: "Bcc/Cc headers naming the victim", rcpt: [ALICE], local: 1, data: MSG(`Bcc: <{V}@${REMOTE}>\r\nCc: <{V}@${REMOTE}>\r\n`) },
  ...["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r"].map((end) => ({
    name: `DATA smuggling (${JSON.stringify(end).slice(1, -1)})`,
    rcpt: [ALICE],
    local: 1,
    data: `Subject: smuggle\r\n\r\nfirst${end}MAIL FROM:<spammer@spam.test>\r\nRCPT TO:<{V}@${REMOTE}>\r\nDATA\r\nsmuggled\r\n.\r\n`,
  })),
];

interface ListenerPlan {
  name: string;
  port: keyof Ports;
  tls: "none" | "starttls" | "implicit";
  auth: { user: string; password: string } | null;
}

const RELAY_PLANS: ListenerPlan[] = [
  { name: "mx", port: "mx", tls: "none", auth: null },
  { name: "mx over STARTTLS with a valid password", port: "mx", tls: "starttls", auth: { user: USERS.alice.address, password: USERS.alice.password } },
  { name: "submission without AUTH", port: "submission", tls: "starttls", auth: null },
  { name: "submission after a failed AUTH", port: "submission", tls: "starttls", auth: { user: USERS.alice.address, password: "wrong" } },
  { name: "submissions without AUTH", port: "submissions", tls: "implicit", auth: null },
  { name: "submissions after a failed AUTH", port: "submissions", tls: "implicit", auth: { user: `nobody@${DOMAIN}`, password: "wrong" } },
];

function tagFor(plan: number, trick: number): string {
  return `v${plan}x${trick}`;
}

async function queueRecipients(dir: string): Promise<string[]> {
  const d = await openDataDir(dir);
  try {
    const out: string[] = [];
    for (const q of await d.store.queue.list()) for (const r of q.recipients) out.push(r.recipient);
    return out;
  } finally {
    await d.close();
  }
}

async function sinkTexts(sink: SmtpSink): Promise<string[]> {
  return Promise.all((await sink.dumps()).map((f) => fs.readFile(f, "latin1")));
}

async function relayBattery(ctx: SoakContext, srv: AbuseServer, sink: SmtpSink): Promise<SoakRow[]> {
  const rows: SoakRow[] = [];
  const repeat = ctx.mode === "long" ? 5 : 1;
  const ops: Json[] = [];
  const index: Array<{ plan: number; trick: number }> = [];
  for (let r = 0; r < repeat; r++) {
    RELAY_PLANS.forEach((plan, p) => {
      TRICKS.forEach((t, i) => {
        const tag = tagFor(p, i);
        const sub = (x: string) => x.replaceAll("{V}", tag);
        ops.push({
          op: "relay",
          port: srv.ports[plan.port],
          tls: plan.tls,
          auth: plan.auth,
          mail: sub(t.mail ?? "<spammer@spam.test>"),
          rcpt: t.rcpt.map(sub),
          data: sub(t.data ?? MSG()),
        });
        index.push({ plan: p, trick: i });
      });
    });
  }
  // swaks as a second, independent client for the plain attempts.
  const swaks: Array<{ plan: string; code: number | null; out: string }> = [];
  for (const [plan, args] of [
    ["mx", ["--server", "127.0.0.1", "--port", String(srv.ports.mx), "--to", `swaks1@${REMOTE}`]],
    ["mx", ["--server", "127.0.0.1", "--port", String(srv.ports.mx), "--to", `@${DOMAIN}:swaks2@${REMOTE}`]],
    ["submission", ["--server", "127.0.0.1", "--port", String(srv.ports.submission), "--tls", "--to", `swaks3@${REMOTE}`]],
    ["submissions", ["--server", "127.0.0.1", "--port", String(srv.ports.submissions), "--tlsc", "--to", `swaks4@${REMOTE}`]],
    ["submission", ["--server", "127.0.0.1", "--port", String(srv.ports.submission), "--tls", "--auth", "PLAIN", "--auth-user", USERS.bob.address, "--auth-password", "wrong", "--to", `swaks5@${REMOTE}`]],
  ] as const) {
    const r = await run("swaks", ["--from", "spammer@spam.test", "--helo", "swaks.abuse.test", "--timeout", "30", ...args], { timeoutMs: 60_000 });
    swaks.push({ plan, code: r.code, out: r.stdout });
  }
  const results = await client(ops);
  // The control: an authenticated submission to a remote address must reach the sink.
  const control = await client([
    {
      op: "relay",
      port: srv.ports.submission,
      tls: "starttls",
      auth: { user: USERS.alice.address, password: USERS.alice.password },
      mail: `<${USERS.alice.address}>`,
      rcpt: [`RCPT TO:<control@${REMOTE}>`],
      data: `From: <${USERS.alice.address}>\r\nTo: <control@${REMOTE}>\r\nSubject: control\r\n\r\ncontrol\r\n.\r\n`,
    },
  ]);
  const controlArrived = await waitUntil(async () => (await sinkTexts(sink)).some((t) => t.includes(`control@${REMOTE}`)), 30_000, 100);
  // Give anything else that was queued (a DSN, a forward) the time to go out too.
  await waitUntil(async () => (await queueRecipients(srv.data.dir)).length === 0, 10_000, 200);
  await sleep(1000);
  const texts = (await sinkTexts(sink)).filter((t) => !t.includes(`control@${REMOTE}`));
  const queued = (await queueRecipients(srv.data.dir)).filter((a) => a !== `control@${REMOTE}`);
  const leaked = (tag: string) => texts.some((t) => t.includes(tag)) || queued.some((a) => a.includes(tag));
  const unattributed = texts.filter((t) => !/v\d+x\d+/.test(t) && !/swaks\d/.test(t)).length + queued.filter((a) => !/v\d+x\d+/.test(a) && !/swaks\d/.test(a)).length;

  RELAY_PLANS.forEach((plan, p) => {
    const mine = results.map((r, k) => ({ r, k })).filter(({ k }) => index[k].plan === p);
    for (const { r, k } of mine) {
      ctx.log(`${plan.name} / ${TRICKS[index[k].trick].name}: MAIL ${String(r.mail)} RCPT ${JSON.stringify(r.rcpt)} DATA ${String(r.data ?? r.dataStart ?? "-")}${r.error ? ` (${String(r.error)})` : ""}`);
    }
    const errors = mine.filter(({ r }) => typeof r.error === "string" && !/closed/.test(String(r.error)));
    const relayed = TRICKS.filter((_, i) => leaked(tagFor(p, i)));
    // More RCPTs accepted than the trick has recipients of ours: an external one got 250 (a
    // relay in the making even if nothing left yet). Without AUTH, submission accepts none.
    const acceptedExternal = mine.filter(({ r, k }) => {
      const allowed = plan.port === "mx" ? TRICKS[index[k].trick].local : 0;
      return ((r.rcpt as number[] | undefined) ?? []).filter((c) => c === 250).length > allowed;
    });
    const smuggled = mine.filter(({ r }) => ((r.extraReplies as number[] | undefined) ?? []).length > 0);
    const pass = relayed.length === 0 && acceptedExternal.length === 0 && smuggled.length === 0 && errors.length === 0;
    rows.push(
      row(AREA, `open relay battery: ${plan.name}`, mine.length, `relayed ${relayed.length}`, pass, [
        relayed.length ? `relayed: ${relayed.map((t) => t.name).join("; ")}` : "",
        acceptedExternal.length ? `external RCPT accepted: ${[...new Set(acceptedExternal.map(({ k }) => TRICKS[index[k].trick].name))].join("; ")}` : "",
        smuggled.length ? `smuggled commands answered: ${smuggled.length}` : "",
        errors.length ? `client errors: ${errors.map(({ r }) => r.error).join("; ").slice(0, 200)}` : "",
        pass ? `${TRICKS.length} tricks, each refused or delivered locally` : "",
      ].filter(Boolean).join(" | ")),
    );
  });
  const swaksRelayed = swaks.filter((s, i) => leaked(`swaks${i + 1}`));
  const swaksAccepted = swaks.filter((s) => /<~\s+250[ -]2\.1\.5/.test(s.out));
  rows.push(
    row(AREA, "open relay: swaks on mx, submission, submissions", swaks.length, `relayed ${swaksRelayed.length}`, swaksRelayed.length === 0 && swaksAccepted.length === 0, swaksAccepted.length ? `RCPT accepted in ${swaksAccepted.map((s) => s.plan).join(", ")}` : "swaks exits non-zero, RCPT refused"),
  );
  const controlOk = controlArrived && (control[0]?.data as number | undefined) === 250;
  rows.push(
    row(AREA, "open relay: total (queue + loopback sink)", results.length + swaks.length, `relayed ${texts.length + queued.length}`, texts.length + queued.length === 0 && controlOk, controlOk ? `control message via authenticated submission reached the sink${unattributed ? `; ${unattributed} unattributed` : ""}` : `control message did not arrive (${JSON.stringify(control[0]).slice(0, 200)}): the count proves nothing`),
  );
  return rows;
}

// ---- brute force, lockouts, back-off -------------------------------------------------------

const BRUTE_LOGIN = {
  maxFailuresPerIp: 8,
  maxFailuresPerIpv6Prefix: 12,
  maxFailuresPerAccount: 5,
  failureWindowSeconds: 120,
  lockoutSeconds: 3,
  maxLockoutSeconds: 12,
  failureDelayMs: 20,
  maxFailureDelayMs: 320,
  trustedDays: 1,
};

const smtpLogin = (srv: AbuseServer, src: string, user: string, password: string): Json => ({ op: "smtp-login", port: srv.ports.submissions, tls: "implicit", src, user, password });
const imapLogin = (srv: AbuseServer, src: string, user: string, password: string, tls: "none" | "implicit" = "none"): Json => ({
  op: "imap-login",
  port: tls === "none" ? srv.ports.imap : srv.ports.imaps,
  tls,
  src,
  user,
  password,
});
const codeOf = (r: Json) => (r.code as number | undefined) ?? (typeof r.text === "string" ? r.text.split(" ").slice(0, 2).join(" ") : String(r.error));
const isSuccess = (r: Json) => r.code === 235 || r.status === "OK";

async function bruteForce(ctx: SoakContext, srv: AbuseServer): Promise<SoakRow[]> {
  const rows: SoakRow[] = [];
  const L = BRUTE_LOGIN;
  const penalty = (k: number) => Math.min(L.failureDelayMs * 2 ** (k - 1), L.maxFailureDelayMs);

  // 1. Per account, over SMTP AUTH, then the same account over IMAP from another address.
  const s1ops: Json[] = [];
  for (let i = 0; i < L.maxFailuresPerAccount; i++) s1ops.push(smtpLogin(srv, "127.0.0.11", USERS.alice.address, `guess-${i}`));
  s1ops.push(smtpLogin(srv, "127.0.0.11", USERS.alice.address, USERS.alice.password));
  s1ops.push(imapLogin(srv, "127.0.0.12", USERS.alice.address, USERS.alice.password));
  s1ops.push(imapLogin(srv, "127.0.0.12", USERS.alice.address, USERS.alice.password, "implicit"));
  const s1 = await client(s1ops);
  const fails = s1.slice(0, L.maxFailuresPerAccount);
  const s1ok = fails.every((r) => r.code === 535) && s1[L.maxFailuresPerAccount].code === 454 && String(s1[L.maxFailuresPerAccount + 1].text).startsWith("NO [UNAVAILABLE]") && String(s1[L.maxFailuresPerAccount + 2].text).startsWith("NO [UNAVAILABLE]");
  rows.push(
    row(AREA, "brute force: account lockout, SMTP AUTH then IMAP", s1.length, `locked after ${L.maxFailuresPerAccount}, guessed ${s1.filter(isSuccess).length}`, s1ok && !s1.some(isSuccess), `replies ${s1.map(codeOf).join(", ")}; the right password is refused while locked, on IMAP too`),
  );

  // 2. Back-off: each failed answer from one address waits at least failureDelayMs × 2^(n-1).
  const delays = fails.map((r) => Number(r.ms));
  const lowerOk = delays.every((ms, k) => ms >= penalty(k + 1) * 0.95);
  rows.push(
    row(AREA, "brute force: exponential back-off per address", delays.length, `delays ${delays.map((d) => Math.round(d)).join("/")} ms`, lowerOk, `each failure answered after ≥ ${delays.map((_, k) => penalty(k + 1)).join("/")} ms (failureDelayMs ${L.failureDelayMs}, doubling, max ${L.maxFailureDelayMs})`),
  );

  // 3. The owner's usual address is exempt from the account lockout a guesser caused.
  const s3ops: Json[] = [smtpLogin(srv, "127.0.0.20", USERS.bob.address, USERS.bob.password)];
  for (let i = 0; i < L.maxFailuresPerAccount; i++) s3ops.push(imapLogin(srv, "127.0.0.21", USERS.bob.address, `guess-${i}`));
  s3ops.push(imapLogin(srv, "127.0.0.21", USERS.bob.address, USERS.bob.password));
  s3ops.push(imapLogin(srv, "127.0.0.20", USERS.bob.address, USERS.bob.password));
  s3ops.push(smtpLogin(srv, "127.0.0.20", USERS.bob.address, USERS.bob.password));
  const s3 = await client(s3ops);
  const n = L.maxFailuresPerAccount;
  const s3ok = s3[0].code === 235 && s3.slice(1, n + 1).every((r) => String(r.text).startsWith("NO [AUTHENTICATIONFAILED]")) && String(s3[n + 1].text).startsWith("NO [UNAVAILABLE]") && s3[n + 2].status === "OK" && s3[n + 3].code === 235;
  rows.push(row(AREA, "brute force: owner's address exempt from the account lockout", s3.length, `attacker locked, owner served`, s3ok, `replies ${s3.map(codeOf).join(", ")}`));

  // 4. Password spraying: one password against many names from one address.
  const names = ctx.mode === "long" ? 200 : 14;
  const s4ops: Json[] = [];
  const real = [USERS.alice.address, USERS.bob.address, USERS.carol.address];
  for (let i = 0; i < names; i++) s4ops.push(imapLogin(srv, "127.0.0.30", i < real.length ? real[i] : `user${i}@${i % 2 ? DOMAIN : "other.test"}`, SPRAY_PASSWORD));
  s4ops.push(imapLogin(srv, "127.0.0.30", USERS.carol.address, USERS.carol.password));
  s4ops.push(smtpLogin(srv, "127.0.0.30", USERS.carol.address, USERS.carol.password));
  s4ops.push(imapLogin(srv, "127.0.0.31", USERS.carol.address, USERS.carol.password));
  const s4 = await client(s4ops);
  const checked = s4.slice(0, names).filter((r) => String(r.text).startsWith("NO [AUTHENTICATIONFAILED]")).length;
  const refused = s4.slice(0, names).filter((r) => String(r.text).startsWith("NO [UNAVAILABLE]")).length;
  const s4ok = checked === L.maxFailuresPerIp && refused === names - checked && String(s4[names].text).startsWith("NO [UNAVAILABLE]") && s4[names + 1].code === 454 && s4[names + 2].status === "OK";
  rows.push(
    row(AREA, "brute force: password spraying from one address", names, `checked ${checked}, guessed ${s4.slice(0, names).filter(isSuccess).length}`, s4ok && !s4.slice(0, names).some(isSuccess), `${refused} refused unchecked after ${L.maxFailuresPerIp} failures across accounts; the address is locked on SMTP too; another address is served`),
  );

  // 5. The same answer for a wrong password, an unknown user, an unknown domain; and when locked.
  const s5 = await client([
    smtpLogin(srv, "127.0.0.40", USERS.carol.address, "wrong"),
    smtpLogin(srv, "127.0.0.40", `nobody@${DOMAIN}`, "wrong"),
    smtpLogin(srv, "127.0.0.40", "nobody@nowhere.test", "wrong"),
    imapLogin(srv, "127.0.0.41", USERS.carol.address, "wrong"),
    imapLogin(srv, "127.0.0.41", `nobody@${DOMAIN}`, "wrong"),
    imapLogin(srv, "127.0.0.41", "nobody@nowhere.test", "wrong"),
    ...Array.from({ length: L.maxFailuresPerAccount }, (_, i) => smtpLogin(srv, "127.0.0.42", `ghost@${DOMAIN}`, `g${i}`)),
    smtpLogin(srv, "127.0.0.43", `ghost@${DOMAIN}`, "g"),
  ]);
  const smtpTexts = new Set(s5.slice(0, 3).map((r) => r.text));
  const imapTexts = new Set(s5.slice(3, 6).map((r) => String(r.text).replace(/^NO /, "")));
  const ghostLocked = s5.at(-1)!;
  const aliceLocked = s1[L.maxFailuresPerAccount];
  const s5ok = smtpTexts.size === 1 && s5[0].code === 535 && imapTexts.size === 1 && ghostLocked.text === aliceLocked.text;
  rows.push(
    row(AREA, "no user enumeration: one reply for wrong user and wrong password", s5.length, `${smtpTexts.size} SMTP reply, ${imapTexts.size} IMAP reply`, s5ok, `SMTP "${[...smtpTexts][0]}", IMAP "${[...imapTexts][0]}"; a locked unknown name answers like a locked real one`),
  );

  // 6. Lockout of an address and its expiry (long mode: repeated lockouts double).
  const cycles = ctx.mode === "long" ? 3 : 1;
  const lengths: number[] = [];
  let expiryOk = true;
  for (let c = 0; c < cycles; c++) {
    const ops: Json[] = [];
    for (let i = 0; i < L.maxFailuresPerIp; i++) ops.push(imapLogin(srv, "127.0.0.50", `spray${c}-${i}@${DOMAIN}`, "x"));
    const locked = await client(ops);
    if (!locked.every((r) => String(r.text).startsWith("NO [AUTHENTICATIONFAILED]"))) expiryOk = false;
    const t0 = Date.now();
    let served = false;
    while (Date.now() - t0 < (L.maxLockoutSeconds + 5) * 1000) {
      const [r] = await client([imapLogin(srv, "127.0.0.50", USERS.carol.address, USERS.carol.password)]);
      if (r.status === "OK") {
        served = true;
        break;
      }
      if (!String(r.text).startsWith("NO [UNAVAILABLE]")) expiryOk = false;
      await sleep(250);
    }
    if (!served) expiryOk = false;
    lengths.push((Date.now() - t0) / 1000);
  }
  const expected = lengths.map((_, c) => Math.min(L.lockoutSeconds * 2 ** c, L.maxLockoutSeconds));
  const lenOk = lengths.every((s, c) => s >= expected[c] * 0.9 && s <= expected[c] + 8);
  rows.push(
    row(AREA, "brute force: address lockout expires (doubling when repeated)", cycles * L.maxFailuresPerIp, `lockout ${lengths.map((s) => s.toFixed(1)).join("/")} s`, expiryOk && lenOk, `expected ≈ ${expected.join("/")} s (lockoutSeconds ${L.lockoutSeconds}, max ${L.maxLockoutSeconds}); the right password works again after`),
  );
  return rows;
}

// ---- timing: unknown users are not faster to reject ---------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timing(ctx: SoakContext, srv: AbuseServer): Promise<SoakRow[]> {
  const rows: SoakRow[] = [];
  const samples = ctx.mode === "long" ? 100 : 15;
  for (const proto of ["imap", "smtp"] as const) {
    const op = (user: string) => (proto === "imap" ? imapLogin(srv, "127.0.0.60", user, "not the password") : smtpLogin(srv, "127.0.0.60", user, "not the password"));
    // Warm up both paths (the dummy hash is made on first use), then interleave.
    const ops: Json[] = [op(`warm@${DOMAIN}`), op(USERS.carol.address)];
    for (let i = 0; i < samples; i++) ops.push(op(USERS.carol.address), op(i % 2 ? `nobody${i}@${DOMAIN}` : `nobody${i}@nowhere.test`));
    const rs = (await client(ops)).slice(2);
    const known = rs.filter((_, i) => i % 2 === 0).map((r) => Number(r.ms));
    const unknown = rs.filter((_, i) => i % 2 === 1).map((r) => Number(r.ms));
    const mk = median(known);
    const mu = median(unknown);
    // Without the dummy hash an unknown user is answered ~50× faster (no scrypt at all); with it
    // both cost one scrypt. The bound is generous for a loaded 2-core machine.
    const ratio = mu / mk;
    const allFailed = rs.every((r) => r.code === 535 || String(r.text).startsWith("NO [AUTHENTICATIONFAILED]"));
    rows.push(
      row(AREA, `timing: unknown vs known user (${proto === "imap" ? "IMAP LOGIN" : "SMTP AUTH"})`, rs.length, `median known ${mk.toFixed(1)} ms, unknown ${mu.toFixed(1)} ms`, ratio >= 0.5 && allFailed, `unknown/known ${ratio.toFixed(2)} (pass ≥ 0.5)`),
    );
  }
  return rows;
}

// ---- the network namespace: AUTH before TLS from a non-loopback address; IPv6 /64 ----------

const NETNS_LOGIN = {
  maxFailuresPerIp: 3,
  maxFailuresPerIpv6Prefix: 6,
  maxFailuresPerAccount: 0,
  failureWindowSeconds: 120,
  lockoutSeconds: 60,
  failureDelayMs: 10,
  maxFailureDelayMs: 40,
};
const V4 = "192.0.2.10";
const V6NET = "2001:db8:64:1";
const V6OTHER = "2001:db8:64:2::1";

async function inNamespace(ctx: SoakContext): Promise<SoakRow[]> {
  const why = netnsUnavailable();
  if (why) {
    const fail = process.env.CI === "true";
    return [row(AREA, "AUTH before TLS from a non-loopback address; IPv6 /64 lockout", 0, "—", !fail, `not run: ${why}`)];
  }
  const ns = createNetns("abuse");
  let srv: AbuseServer | null = null;
  try {
    const addrs: string[][] = [
      ["addr", "add", `${V4}/32`, "dev", "lo"],
      ["-6", "addr", "add", `${V6NET}::1/128`, "dev", "lo", "nodad"],
      ["-6", "addr", "add", `${V6OTHER}/128`, "dev", "lo", "nodad"],
    ];
    for (let i = 10; i < 30; i++) addrs.push(["-6", "addr", "add", `${V6NET}::${i.toString(16)}/128`, "dev", "lo", "nodad"]);
    for (const a of addrs) {
      const r = await ns.run("ip", a);
      if (r.code !== 0) throw new Error(`ip ${a.join(" ")}: ${r.stderr}`);
    }
    srv = await startAbuseServer({ login: NETNS_LOGIN, dnsServers: ["127.0.0.1:53"], netns: ns });
    const s = srv;
    const rows: SoakRow[] = [];
    const pre = await client(
      [
        { op: "smtp-pretls", host: V4, port: s.ports.mx, ...USERS.alice },
        { op: "smtp-pretls", host: V4, port: s.ports.submission, ...USERS.alice, starttls: true },
        { op: "imap-pretls", host: V4, port: s.ports.imap, ...USERS.alice },
      ].map((o) => ({ ...o, user: USERS.alice.address, password: USERS.alice.password })),
      ns,
    );
    const [mx, sub, imap] = pre;
    const mxOk = mx.authAdvertised === false && Number(mx.plain) >= 500 && Number(mx.login) >= 500;
    const subOk = sub.authAdvertised === false && sub.plain === 530 && sub.login === 530 && sub.mail === 530 && sub.authAfterTls === true && sub.plainAfterTls === 235;
    const imapOk = imap.loginDisabled === true && imap.authPlainAdvertised === false && String(imap.login).startsWith("NO [PRIVACYREQUIRED]") && String(imap.authenticate).startsWith("NO [PRIVACYREQUIRED]") && String(imap.loginAfterTls).startsWith("OK");
    rows.push(row(AREA, `AUTH before TLS from ${V4}: mx`, 2, `AUTH ${mx.plain}/${mx.login}`, mxOk, "mx offers no AUTH at all"));
    rows.push(row(AREA, `AUTH before TLS from ${V4}: submission`, 3, `AUTH ${sub.plain}, after STARTTLS ${sub.plainAfterTls}`, subOk, "not advertised before STARTTLS; PLAIN, LOGIN and MAIL get 530"));
    rows.push(row(AREA, `AUTH before TLS from ${V4}: imap`, 2, `${String(imap.login).split(" ").slice(0, 2).join(" ")}`, imapOk, `LOGINDISABLED until STARTTLS; LOGIN and AUTHENTICATE refused; after STARTTLS ${String(imap.loginAfterTls).split(" ")[0]}`));
    if (!(mxOk && subOk && imapOk)) rows.at(-1)!.detail += ` | ${JSON.stringify(pre).slice(0, 400)}`;

    // IPv6 /64: each address guesses once (under the per-address limit of 3); the /64 as a whole
    // is locked after 6; then IMAP from yet another address of it is refused, another /64 served.
    const ops: Json[] = [];
    const tries = NETNS_LOGIN.maxFailuresPerIpv6Prefix + 2;
    for (let i = 0; i < tries; i++) ops.push({ ...smtpLogin(s, `${V6NET}::${(10 + i).toString(16)}`, `u${i}@${DOMAIN}`, "wrong"), host: `${V6NET}::1` });
    ops.push({ ...imapLogin(s, `${V6NET}::1d`, USERS.alice.address, USERS.alice.password, "implicit"), host: `${V6NET}::1` });
    ops.push({ ...smtpLogin(s, V6OTHER, USERS.alice.address, USERS.alice.password), host: `${V6NET}::1` });
    const v6 = await client(ops, ns);
    const prefixOk = v6.slice(0, NETNS_LOGIN.maxFailuresPerIpv6Prefix).every((r) => r.code === 535) && v6.slice(NETNS_LOGIN.maxFailuresPerIpv6Prefix, tries).every((r) => r.code === 454) && String(v6[tries].text).startsWith("NO [UNAVAILABLE]") && v6[tries + 1].code === 235;
    rows.push(row(AREA, "brute force: IPv6 /64 lockout (one guess per address)", v6.length, `locked after ${NETNS_LOGIN.maxFailuresPerIpv6Prefix}, guessed ${v6.slice(0, tries).filter(isSuccess).length}`, prefixOk, `replies ${v6.map(codeOf).join(", ")}; imaps from a fresh address of the /64 refused; another /64 served`));
    return rows;
  } finally {
    await srv?.stop();
    ns.remove();
  }
}

// ---- cases ----------------------------------------------------------------------------------

async function withDns<T>(fn: (dns: FaultServer) => Promise<T>): Promise<T> {
  // Every name is NXDOMAIN: SPF/DMARC of the probes resolve quickly to "none", on loopback.
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  try {
    return await fn(dns);
  } finally {
    await dns.close();
  }
}

export const soakCases: SoakCase[] = [
  {
    area: AREA,
    name: "open relay battery and login timing",
    async run(ctx) {
      return withDns(async (dns) => {
        const sink = await startSmtpSink({ dumpDir: path.join(ctx.tmpDir, "sink"), hostname: "sink.remote.test" });
        let srv: AbuseServer | null = null;
        try {
          // Limits off here: the battery's failed AUTHs and the timing samples must not be slowed
          // or refused; the brute-force case has its own server.
          srv = await startAbuseServer({
            login: { maxFailuresPerIp: 0, maxFailuresPerIpv6Prefix: 0, maxFailuresPerAccount: 0, failureDelayMs: 0 },
            dnsServers: [dns.address],
            sinkPort: sink.port,
          });
          return [...(await relayBattery(ctx, srv, sink)), ...(await timing(ctx, srv))];
        } finally {
          await srv?.stop();
          await sink.stop();
        }
      });
    },
  },
  {
    area: AREA,
    name: "brute force, lockouts and back-off",
    async run(ctx) {
      return withDns(async (dns) => {
        const srv = await startAbuseServer({ login: BRUTE_LOGIN, dnsServers: [dns.address] });
        try {
          return await bruteForce(ctx, srv);
        } finally {
          await srv.stop();
        }
      });
    },
  },
  {
    area: AREA,
    name: "AUTH before TLS and IPv6 /64 (network namespace)",
    run: inNamespace,
  },
];

export type { SoakMode };
