// Certificates from ACME (RFC 8555) on acme-client (issue 12 §4).
//
// - Account key and certificate keys are written 0600 (tls/atomic-file.ts): the account key in
//   <data>/acme/account-key.pem, the certificate and its key over tls.cert/tls.key, so the one
//   reloader (tls/reload.ts) puts the new pair into every listener at once (SMTP STARTTLS, 465,
//   993, https), without a restart; sessions already open keep theirs (an IMAP IDLE stays up).
// - Names: the mail host, then mta-sts.<domain> and autoconfig.<domain> of every enabled domain
//   (policy.ts). One certificate, as long as the names fit Let's Encrypt's 100 SANs.
// - Challenges: HTTP-01 (RFC 8555 §8.3) answered by our own http listener, TLS-ALPN-01
//   (RFC 8737) by the https listener (challenges.ts), in acme.challenges order.
// - When: policy.ts renewAt (a third of the lifetime left, with jitter), or at once when the
//   certificate in use was not issued by ACME for exactly these names (first start, a new domain);
//   earlier when the CA's ARI window (RFC 9773, ari.ts) says so.
// - Failure: the old certificate stays in service, the watcher's alert goes out (health/watch),
//   the next attempt waits policy.ts backoffMs (longer after a rate limit).
// - Time comes from the injected clock; the timer only wakes the check up.
import https from "node:https";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import acme from "acme-client";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { Config } from "../config/schema.ts";
import type { Alert } from "../health/watch/alerts.ts";
import { writeFileAtomic } from "../tls/atomic-file.ts";
import { addHttp01, addTlsAlpn01, removeHttp01, removeTlsAlpn01 } from "./challenges.ts";
import { backoffMs, certificateNames, groupNames, renewAt } from "./policy.ts";
import { AriSchedule, certId, offersAri, orderReplacing, RULE_REASON } from "./ari.ts";
import type { GetOptions, RenewalPlan } from "./ari.ts";

/** The plan's reason when the certificate in use is not ACME's for exactly the wanted names. */
export const AT_ONCE_REASON = "at once: the certificate in use was not issued by ACME for these names";

export interface AcmeDeps {
  config: Pick<Config, "acme" | "tls" | "dataDir" | "hostname">;
  clock: Clock;
  logger: Logger;
  /** The domains whose mta-sts./autoconfig. names go into the certificate (enabled ones). */
  domains: () => Promise<string[]>;
  /** Puts the files just written into service (tls/reload.ts reload). */
  reload: (reason: string) => Promise<boolean>;
  /** Raises a health alert (health/watch/start.ts Watching.alert). */
  alert: (a: Alert) => Promise<void>;
  /** The one Resolver's lookup (src/dns), for the directory's host name. */
  lookup?: import("node:net").LookupFunction;
  random?: () => number;
}

export interface AcmeState {
  names: string[];
  notBefore: number;
  notAfter: number;
  issuedAt: number;
}

export class AcmeManager {
  readonly #d: AcmeDeps;
  readonly #dir: string;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #retryAt = 0;
  #running: Promise<boolean> | null = null;
  #stopped = false;
  #alerting = false;
  #ari: AriSchedule | null = null;
  #planWritten = "";

  constructor(deps: AcmeDeps) {
    this.#d = deps;
    this.#dir = path.join(deps.config.dataDir, "acme");
  }

  /** ARI (RFC 9773, ari.ts) for the current directory URL; a new schedule when it changed (SIGHUP). */
  #ariFor(): AriSchedule {
    const url = this.#d.config.acme.directoryUrl;
    if (this.#ari?.opts.directoryUrl !== url) {
      const log = this.#d.logger.child({ component: "acme" });
      this.#ari = new AriSchedule({ directoryUrl: url, get: () => this.#getOptions(), random: () => this.#rand(), logInfo: (f, m) => log.info(f, m) });
    }
    return this.#ari;
  }

  get statePath(): string {
    return path.join(this.#dir, "state.json");
  }

  async state(): Promise<AcmeState | null> {
    try {
      return JSON.parse(await readFile(this.statePath, "utf8")) as AcmeState;
    } catch {
      return null;
    }
  }

  /** The names the certificate should cover now. */
  async wantedNames(): Promise<string[]> {
    const names = certificateNames(this.#d.config.hostname, await this.#d.domains());
    const groups = groupNames(names);
    if (groups.length > 1) this.#d.logger.warn({ names: names.length }, "acme: more than 100 names; only the first 100 are in the certificate");
    return groups[0]!;
  }

  /** When the next order is due (ms since the epoch); 0 when at once. */
  async dueAt(): Promise<number> {
    return (await this.plan()).at;
  }

  get planPath(): string {
    return path.join(this.#dir, "plan.json");
  }

  /**
   * When the next order is due and why; written to <data>/acme/plan.json when it changes, where
   * GET /api/v1/status (status/status.ts) reads it (the web may run in another process).
   */
  async plan(): Promise<RenewalPlan> {
    const p = await this.#plan();
    const text = JSON.stringify({ at: new Date(p.at).toISOString(), reason: p.reason });
    if (text !== this.#planWritten) {
      try {
        await mkdir(this.#dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(this.planPath, text, 0o644);
        this.#planWritten = text;
      } catch (err) {
        this.#d.logger.warn({ component: "acme", err: (err as Error).message }, "acme: could not write the renewal plan");
      }
    }
    return p;
  }

  async #plan(): Promise<RenewalPlan> {
    const st = await this.state();
    const names = await this.wantedNames();
    if (!st || st.names.length !== names.length || names.some((n) => !st.names.includes(n))) return { at: 0, reason: AT_ONCE_REASON };
    const rule = renewAt(st, this.#d.config.acme.renewWhenLeft, this.#jitter(st));
    // ARI (RFC 9773) when the directory offers renewalInfo: min(its choice, the rule); on any
    // failure the rule alone (ari.ts logs it once).
    let pem: string;
    try {
      pem = await readFile(this.#d.config.tls.cert, "utf8");
    } catch {
      return { at: rule, reason: RULE_REASON };
    }
    return this.#ariFor().plan(rule, pem, this.#d.clock.now());
  }

  /** Starts the schedule: a check now, then every acme.checkIntervalSeconds. */
  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      void this.check().finally(() => {
        if (this.#stopped) return;
        this.#timer = setTimeout(tick, this.#d.config.acme.checkIntervalSeconds * 1000);
        this.#timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Orders a certificate if one is due (and no back-off is running). Resolves true when a new one went into service. */
  async check(): Promise<boolean> {
    const now = this.#d.clock.now();
    if (now < this.#retryAt) return false;
    if (now < (await this.dueAt())) return false;
    return this.renew("due");
  }

  /** Orders a certificate now, whatever its due date (tests, an operator). */
  renew(reason: string): Promise<boolean> {
    this.#running ??= this.#order(reason).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #order(reason: string): Promise<boolean> {
    const { config, logger, clock } = this.#d;
    const names = await this.wantedNames();
    const log = logger.child({ component: "acme" });
    log.info({ reason, names, directory: config.acme.directoryUrl }, "acme: ordering a certificate");
    try {
      const client = new acme.Client({ directoryUrl: config.acme.directoryUrl, accountKey: await this.#accountKey() });
      await this.#trust();
      const replaces = await this.#replaces();
      if (replaces) orderReplacing(client as unknown as Parameters<typeof orderReplacing>[0], replaces, (f, m) => log.info(f, m));
      const [key, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, await acme.crypto.createPrivateKey(2048));
      const chain = await client.auto({
        csr,
        email: config.acme.email,
        termsOfServiceAgreed: true,
        challengePriority: config.acme.challenges,
        // Our own http listener answers; acme-client's pre-check would look the names up
        // outside our Resolver and connect to port 80 itself.
        skipChallengeVerification: true,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          if (challenge.type === "http-01") return addHttp01(challenge.token, keyAuthorization);
          if ((challenge.type as string) === "tls-alpn-01") {
            // RFC 8737 §3: a self-signed certificate for the name with the acmeIdentifier extension.
            const [k, c] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
            return addTlsAlpn01(authz.identifier.value, tls.createSecureContext({ key: k, cert: c }));
          }
          throw new Error(`challenge ${challenge.type} not offered by Freehold`);
        },
        challengeRemoveFn: async (authz, challenge) => {
          if (challenge.type === "http-01") removeHttp01(challenge.token);
          if ((challenge.type as string) === "tls-alpn-01") removeTlsAlpn01(authz.identifier.value);
        },
      });
      const leaf = new X509Certificate(chain);
      const st: AcmeState = { names, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), issuedAt: clock.now() };
      // Key first: a crash between the two leaves a pair that does not fit, which the reloader
      // refuses (the old context stays); the next start orders again as state.json is old.
      await writeFileAtomic(config.tls.key, key.toString(), 0o600);
      await writeFileAtomic(config.tls.cert, chain, 0o644);
      await writeFileAtomic(this.statePath, JSON.stringify(st), 0o600);
      const swapped = await this.#d.reload("acme");
      this.#failures = 0;
      this.#retryAt = 0;
      log.info({ names, notAfter: new Date(st.notAfter).toISOString(), serial: leaf.serialNumber, swapped }, "acme: certificate issued");
      // The status shows the new certificate's plan at once, not after the next check.
      await this.plan().catch(() => undefined);
      if (this.#alerting) {
        this.#alerting = false;
        await this.#raise("recovery", `Certificate for ${names[0]} issued again`);
      }
      return swapped;
    } catch (err) {
      this.#failures++;
      const msg = (err as Error).message ?? String(err);
      const rateLimited = /rateLimited|429/.test(msg);
      const wait = backoffMs(this.#failures, this.#rand(), { rateLimited });
      this.#retryAt = clock.now() + wait;
      log.error({ err: msg, failures: this.#failures, retryAt: new Date(this.#retryAt).toISOString() }, "acme: certificate order failed; the current certificate stays in use");
      this.#alerting = true;
      await this.#raise("problem", `Certificate order for ${names[0]} failed: ${msg}`).catch(() => undefined);
      return false;
    }
  }

  /**
   * RFC 9773 §5: the certID of the certificate this order replaces, when it is one we ordered
   * (state.json) and the directory offers renewalInfo; otherwise null (a plain newOrder).
   */
  async #replaces(): Promise<string | null> {
    if (!(await this.state())) return null;
    let id: string;
    try {
      id = certId(await readFile(this.#d.config.tls.cert, "utf8"));
    } catch {
      return null;
    }
    return (await offersAri(this.#d.config.acme.directoryUrl, await this.#getOptions())) ? id : null;
  }

  #raise(kind: "problem" | "recovery", message: string): Promise<void> {
    return this.#d.alert({
      kind,
      checkId: "tls.acme",
      status: kind === "problem" ? "fail" : "ok",
      previous: kind === "problem" ? null : "fail",
      message,
      fix: kind === "problem" ? "Check that port 80 reaches this server under every name of the certificate and that the CA is reachable; `freehold serve` retries with back-off and keeps the current certificate." : undefined,
      at: this.#d.clock.now(),
      hostname: this.#d.config.hostname,
    });
  }

  async #accountKey(): Promise<Buffer> {
    const file = path.join(this.#dir, "account-key.pem");
    try {
      return await readFile(file);
    } catch {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const key = await acme.crypto.createPrivateKey(2048);
      await writeFileAtomic(file, key.toString(), 0o600);
      return key;
    }
  }

  /** Names resolved by our Resolver; acme.caFile trusted beside the system roots for the directory's HTTPS. */
  async #trust(): Promise<void> {
    acme.axios.defaults.httpsAgent = new https.Agent(await this.#getOptions());
  }

  /** The trust (system roots + acme.caFile) and lookup (the Resolver) for the CA's host. */
  async #getOptions(): Promise<GetOptions> {
    const caFile = this.#d.config.acme.caFile;
    const extra = caFile ? await readFile(path.resolve(this.#d.config.dataDir, caFile), "utf8") : null;
    return { ...(extra ? { ca: [...tls.rootCertificates, extra] } : {}), ...(this.#d.lookup ? { lookup: this.#d.lookup } : {}) };
  }

  #rand(): number {
    return (this.#d.random ?? Math.random)();
  }

  /** A jitter draw fixed per certificate (so the due date does not move on every check). */
  #jitter(st: AcmeState): number {
    return ((st.notAfter / 1000) % 997) / 997;
  }
}
