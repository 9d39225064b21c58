// The relay test (`freehold relay test NAME`, the admin UI's "Test" button as a job): resolve the
// relay's host through the one Resolver, connect, read the greeting and EHLO, negotiate TLS as
// configured (RFC 3207 STARTTLS or RFC 8314 implicit TLS, the certificate verified for the host)
// and authenticate (RFC 4954) when credentials are set. No mail is sent. Each step is reported as
// it happens, so a terminal prints lines and a job shows progress.
import fs from "node:fs/promises";
import type { Config } from "../config/schema.ts";
import { createResolver } from "../dns/resolver.ts";
import { silentLogger } from "../log/logger.ts";
import { loadRelayFile, loadRelaySecrets } from "./relays.ts";
import { relayAddresses } from "./transport.ts";
import { openSession } from "./smtp-client.ts";
import type { SessionError, TlsPolicy } from "./smtp-client.ts";

export interface RelayTestStep {
  step: "resolve" | "connect" | "tls" | "ehlo" | "auth" | string;
  ok: boolean;
  detail: string;
}

export interface RelayTestResult {
  relay: string;
  ok: boolean;
  steps: RelayTestStep[];
}

/** Thrown when the relay does not exist (a "not found", not a failed test). */
export class NoSuchRelayError extends Error {}

const STEPS = 5;

export async function testRelay(
  dataDir: string,
  config: Pick<Config, "dns" | "hostname">,
  name: string,
  opts: { caFile?: string; onStep?: (s: RelayTestStep, done: number, total: number) => void } = {},
): Promise<RelayTestResult> {
  const file = await loadRelayFile(dataDir);
  const r = file.relays.find((x) => x.name === name);
  if (!r) throw new NoSuchRelayError(`no relay ${name}`);
  const creds = (await loadRelaySecrets(dataDir))[name];
  const steps: RelayTestStep[] = [];
  const step = (ok: boolean, what: string, detail: string) => {
    const s = { step: what, ok, detail };
    steps.push(s);
    opts.onStep?.(s, steps.length, STEPS);
  };
  const result = (ok: boolean): RelayTestResult => ({ relay: name, ok, steps });
  const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries });
  try {
    let addresses: string[];
    try {
      addresses = await relayAddresses(resolver, r.host);
      if (addresses.length === 0) throw new Error("no A or AAAA record");
      step(true, "resolve", `${r.host} → ${addresses.join(", ")}`);
    } catch (e) {
      step(false, "resolve", `${r.host}: ${(e as Error).message}`);
      return result(false);
    }
    const tls: TlsPolicy = r.tls === "implicit" ? "implicit-verified" : r.tls === "starttls" ? "starttls-verified" : "none";
    const tlsOptions = opts.caFile ? { ca: await fs.readFile(opts.caFile, "utf8") } : undefined;
    const target = { address: addresses[0], port: r.port, servername: r.host, tls, localName: config.hostname, tlsOptions, timeouts: { connectMs: 15_000, greetingMs: 30_000, socketMs: 30_000 } };
    try {
      const s = await openSession(target, silentLogger());
      step(true, "connect", `${addresses[0]}:${r.port}, greeting and EHLO answered`);
      if (r.tls === "none") step(true, "tls", "none (loopback relay)");
      else step(s.secure, "tls", s.secure ? `${r.tls}, certificate valid for ${r.host}` : "not negotiated");
      step(true, "ehlo", [...s.extensions].join(" ") || "(no extensions)");
      s.close();
      if (r.tls !== "none" && !s.secure) return result(false);
    } catch (e) {
      const err = e as SessionError;
      step(false, err.stage ?? "connect", err.reply ?? err.message);
      return result(false);
    }
    if (!creds) {
      step(true, "auth", "no credentials configured; skipped");
    } else {
      try {
        const s = await openSession({ ...target, auth: { user: creds.username, pass: creds.password } }, silentLogger());
        step(true, "auth", `accepted for ${creds.username}`);
        s.close();
      } catch (e) {
        const err = e as SessionError;
        step(false, err.stage ?? "auth", err.reply ?? err.message);
        return result(false);
      }
    }
    return result(true);
  } finally {
    resolver.cancel();
  }
}
