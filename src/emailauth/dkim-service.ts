// The DKIM key service: the one path the CLI, the server (rotation job, signing) and later the
// HTTP API use to create, list, rotate and check a domain's keys. Decisions live in
// dkim-keys.ts (pure); this file reads and writes rows and asks DNS.
//
//   createDomainKeys  a new domain gets one RSA-2048 and one Ed25519 key, state "new".
//   rotate            a new pair of keys ("new"), the current ones keep signing meanwhile.
//   check             for every key: new → published when our Resolver sees the exact TXT
//                     record; the newest published key of each type → active (the previous
//                     active one → retiring); retiring → retired after 7 days.
// A domain whose keys are all "new" signs nothing yet: a signature whose key a verifier cannot
// find fails DKIM, which is worse than no signature (RFC 6376 §6.1.2: no key → PERMFAIL).
import { createPrivateKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { SqliteDkimKeys } from "../store/sqlite/dkim.ts";
import type { DkimKey, DkimKeyType } from "./dkim-keys.ts";
import { activate, dkimRecordName, generateDkimKey, isPublished, markPublished, nextRotationActions, retire } from "./dkim-keys.ts";
import type { DkimSigningKey } from "./dkim-sign.ts";

export const KEY_TYPES: readonly DkimKeyType[] = ["rsa", "ed25519"];

/** A TXT lookup as our Resolver has it (`resolver.txt`): string[][] or a node:dns error. */
export type TxtLookup = (name: string) => Promise<string[][]>;

export interface CheckStep {
  selector: string;
  type: DkimKeyType;
  /** What happened to the key in this check. */
  outcome: "published" | "not-live" | "lookup-failed" | "activated" | "retiring" | "retired";
  detail?: string;
}

export class DkimService {
  #keys: SqliteDkimKeys;
  #clock: Clock;
  /** Parsed private keys by selector@domain: parsing the PEM costs ~0.2 ms per message. */
  #parsed = new Map<string, { pem: string; key: KeyObject }>();

  constructor(deps: { keys: SqliteDkimKeys; clock: Clock }) {
    this.#keys = deps.keys;
    this.#clock = deps.clock;
  }

  list(domain?: string): DkimKey[] {
    return this.#keys.list(domain);
  }

  /** The keys that sign mail from `domain` now (the active RSA and Ed25519 keys). */
  signingKeys(domain: string): DkimSigningKey[] {
    return this.#keys.active(domain).map((k) => ({
      domain: k.domain,
      selector: k.selector,
      type: k.type,
      privateKeyPem: k.privateKeyPem,
      privateKey: this.#parsedKey(`${k.selector}@${k.domain}`, k.privateKeyPem),
    }));
  }

  #parsedKey(id: string, pem: string): KeyObject {
    const hit = this.#parsed.get(id);
    if (hit && hit.pem === pem) return hit.key;
    // Only active keys are asked for, a handful per domain; drop the cache if it ever grows.
    if (this.#parsed.size > 1000) this.#parsed.clear();
    const key = createPrivateKey(pem);
    this.#parsed.set(id, { pem, key });
    return key;
  }

  /** A new key of each type for a domain that has none (called when the domain is added). */
  async createDomainKeys(domain: string): Promise<DkimKey[]> {
    const existing = this.#keys.list(domain);
    if (existing.some((k) => k.state !== "retired")) return [];
    return this.rotate(domain);
  }

  /** Starts a rotation: one new key per type. The current keys sign until `check` activates. */
  async rotate(domain: string): Promise<DkimKey[]> {
    const now = this.#clock.now();
    const taken = this.#keys.list(domain).map((k) => k.selector);
    const made: DkimKey[] = [];
    for (const type of KEY_TYPES) {
      const k = await generateDkimKey(domain, type, now, [...taken, ...made.map((m) => m.selector)]);
      made.push(k);
    }
    this.#keys.save(made);
    return made;
  }

  /**
   * Looks up the record of every new key through `txt` and advances the states of the domain's
   * keys as far as they can go now. Returns what happened, key by key.
   */
  async check(domain: string, txt: TxtLookup): Promise<CheckStep[]> {
    const now = this.#clock.now();
    let keys = this.#keys.list(domain);
    const steps: CheckStep[] = [];
    // new → published: the exact record must be live (isPublished compares k= and p=).
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k.state !== "new") continue;
      let answer: string[][];
      try {
        answer = await txt(dkimRecordName(k));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "";
        const missing = code === "ENOTFOUND" || code === "ENODATA";
        steps.push({ selector: k.selector, type: k.type, outcome: missing ? "not-live" : "lookup-failed", detail: missing ? "no TXT record" : code || String(err) });
        continue;
      }
      if (isPublished(k, answer)) {
        keys[i] = markPublished(k, answer, now);
        steps.push({ selector: k.selector, type: k.type, outcome: "published" });
      } else {
        steps.push({ selector: k.selector, type: k.type, outcome: "not-live", detail: "the TXT record differs from the key" });
      }
    }
    for (const action of nextRotationActions(keys, now)) {
      if (action.kind === "activate") {
        const before = keys;
        keys = activate(keys, action.selector, now);
        for (let i = 0; i < keys.length; i++) {
          if (keys[i].state === before[i].state) continue;
          if (keys[i].state === "active") steps.push({ selector: keys[i].selector, type: keys[i].type, outcome: "activated" });
          if (keys[i].state === "retiring") steps.push({ selector: keys[i].selector, type: keys[i].type, outcome: "retiring" });
        }
      } else if (action.kind === "retire") {
        keys = keys.map((k) => (k.selector === action.selector ? retire(k, now) : k));
        const k = keys.find((x) => x.selector === action.selector)!;
        steps.push({ selector: k.selector, type: k.type, outcome: "retired" });
      }
    }
    this.#keys.save(keys);
    return steps;
  }

  removeDomain(domain: string): void {
    this.#keys.removeDomain(domain);
  }
}
