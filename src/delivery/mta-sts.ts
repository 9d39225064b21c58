// MTA-STS (RFC 8461) for direct delivery, on mailauth's helpers: the policy id comes from
// _mta-sts.<domain> TXT through our Resolver; the policy is fetched over HTTPS from
// mta-sts.<domain> (mailauth resolves that name through the same resolver and connects to the
// address with SNI) and cached per domain. mailauth's getPolicy reuses a cached policy while its
// max_age lasts and the TXT id is unchanged, and refetches when the id changes (RFC 8461 §5.1).
import type * as MtaStsModule from "mailauth/lib/mta-sts.js";
import { lazyRequire } from "../lazy.ts";
import type { MTASTSPolicy } from "mailauth";
import type { Resolver } from "../dns/resolver.ts";
import type { Logger } from "../log/logger.ts";

// Loaded on the first MTA-STS lookup, not at start (src/lazy.ts).
const mtaSts = lazyRequire<typeof MtaStsModule>("mailauth/lib/mta-sts.js");

export interface StsVerdict {
  /** "enforce": TLS with a valid certificate to an MX the policy lists, or no delivery. */
  mode: "enforce" | "testing" | "none";
  /** Whether an MX host name is allowed by the policy. */
  allows(mxHost: string): boolean;
}

const NONE: StsVerdict = { mode: "none", allows: () => true };

export class MtaStsPolicies {
  #resolver: Resolver;
  #log: Logger;
  #cache = new Map<string, MTASTSPolicy>();
  #timeoutMs: number;

  constructor(opts: { resolver: Resolver; logger: Logger; timeoutMs?: number }) {
    this.#resolver = opts.resolver;
    this.#log = opts.logger;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async verdict(domain: string): Promise<StsVerdict> {
    const known = this.#cache.get(domain) ?? null;
    try {
      const r = await mtaSts().getPolicy(domain, known, { resolver: this.#resolver.resolve as never, timeout: this.#timeoutMs });
      if (r.status === "not_found") {
        this.#cache.delete(domain);
        return NONE;
      }
      if (r.status === "errored") this.#log.warn({ domain, err: r.policy?.error?.message }, "MTA-STS policy fetch failed");
      if (!r.policy || r.policy.mode === "none") return NONE;
      this.#cache.set(domain, r.policy);
      const policy = r.policy;
      return { mode: policy.mode, allows: (mx) => mtaSts().validateMx(mx, policy).valid };
    } catch (err) {
      // RFC 8461 §5.1: a failed discovery with no cached policy means no policy applies.
      this.#log.warn({ domain, err: (err as Error).message }, "MTA-STS discovery failed");
      return known && known.mode === "enforce" ? { mode: "enforce", allows: (mx) => mtaSts().validateMx(mx, known).valid } : NONE;
    }
  }
}
