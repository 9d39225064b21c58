// rspamd, optional: when spam.rspamd.url is set, each message also goes to rspamd's HTTP
// protocol (POST /checkv2, the message as the body and the envelope in headers: IP, Helo, From,
// Rcpt, Hostname) and its score joins ours; training goes to its controller (POST /learnspam,
// /learnham, with the controller password in the Password header when one is set).
// https://rspamd.com/doc/developers/protocol.html
// Host names in the URLs are resolved through the one Resolver (its `lookup`).
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "../dns/lookup.ts";

export interface RspamdOptions {
  /** Base URL of the normal worker or the controller, e.g. http://127.0.0.1:11333. */
  url: string;
  /** Base URL of the controller for learning (default: url). */
  learnUrl?: string;
  password?: string;
  timeoutMs: number;
  lookup?: LookupFunction;
}

export interface RspamdCheck {
  score: number;
  requiredScore: number | null;
  action: string;
  symbols: string[];
}

export interface CheckEnvelope {
  ip: string;
  helo: string;
  mailFrom: string;
  recipients: readonly string[];
  hostname?: string;
}

function post(opts: RspamdOptions, base: string, path: string, headers: Record<string, string | string[]>, body: Buffer): Promise<{ status: number; reason: string; body: string }> {
  const u = new URL(path, base.endsWith("/") ? base : `${base}/`);
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: "POST", headers: { ...headers, "Content-Length": String(body.length) }, timeout: opts.timeoutMs, lookup: opts.lookup as never },
      (res) => {
        // A 204 has no body (RFC 9110 section 15.3.5), but rspamd 3.x sends one anyway (with
        // its Content-Length), which Node's parser then reports as "Data after Connection:
        // close": answer with the status line as soon as it is read, and let that error go.
        if (res.statusCode === 204) {
          resolve({ status: 204, reason: res.statusMessage ?? "", body: "" });
          res.on("error", () => undefined);
          res.resume();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 1 << 20) chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? "", body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`rspamd: no answer in ${opts.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

export async function rspamdCheck(opts: RspamdOptions, env: CheckEnvelope, message: Buffer): Promise<RspamdCheck> {
  const headers: Record<string, string | string[]> = { IP: env.ip, Helo: env.helo || "unknown", From: env.mailFrom, Rcpt: [...env.recipients] };
  if (env.hostname) headers.Hostname = env.hostname;
  if (opts.password) headers.Password = opts.password;
  const r = await post(opts, opts.url, "checkv2", headers, message);
  if (r.status !== 200) throw new Error(`rspamd /checkv2: HTTP ${r.status}`);
  const j = JSON.parse(r.body) as { score?: number; required_score?: number; action?: string; symbols?: Record<string, unknown> };
  if (typeof j.score !== "number") throw new Error("rspamd /checkv2: no score in the answer");
  return { score: j.score, requiredScore: typeof j.required_score === "number" ? j.required_score : null, action: j.action ?? "", symbols: Object.keys(j.symbols ?? {}) };
}

export async function rspamdLearn(opts: RspamdOptions, cls: "spam" | "ham", message: Buffer): Promise<void> {
  const headers: Record<string, string> = {};
  if (opts.password) headers.Password = opts.password;
  const r = await post(opts, opts.learnUrl ?? opts.url, cls === "spam" ? "learnspam" : "learnham", headers, message);
  // 208: already learned (rspamd answers with an error body that says so); not a failure.
  // rspamd 3.x answers a learn it declines (too few tokens, no Bayes backend, learn conditions)
  // with 204 and the reason in the status line only (a 204 has no body): keep that reason.
  if (r.status !== 200 && r.status !== 208 && !/already learned/i.test(r.body + r.reason))
    throw new Error(`rspamd /learn${cls}: HTTP ${r.status} ${(r.body || r.reason).slice(0, 200)}`);
}
