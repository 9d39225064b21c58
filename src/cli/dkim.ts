// `freehold dkim list|rotate|check`: a domain's DKIM keys, the TXT records to publish, and the
// rotation (src/emailauth/dkim-keys.ts has the states; dkim-service.ts the one service path).
import type { Command } from "commander";
import { createResolver } from "../dns/resolver.ts";
import { dkimRecordName, dkimTxtRecord, txtStrings } from "../emailauth/dkim-keys.ts";
import type { DkimKey } from "../emailauth/dkim-keys.ts";
import type { CliIo } from "./context.ts";
import { CliError, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { DkimAdmin } from "../emailauth/dkim-admin.ts";

function day(ms: number | undefined): string {
  return ms === undefined ? "" : new Date(ms).toISOString().slice(0, 10);
}

function since(k: DkimKey): string {
  switch (k.state) {
    case "new":
      return day(k.createdAt);
    case "published":
      return day(k.publishedAt);
    case "active":
      return day(k.activatedAt);
    case "retiring":
      return day(k.retiringAt);
    case "retired":
      return day(k.retiredAt);
  }
}

const HINT: Record<DkimKey["state"], string> = {
  new: "publish this record, then run: freehold dkim check",
  published: "live in DNS; becomes active at the next check",
  active: "signing",
  retiring: "no longer signing; keep published for at least 7 days",
  retired: "may be removed from DNS",
};

export function registerDkim(program: Command, io: CliIo): void {
  const dkim = program.command("dkim").description("DKIM signing keys: records to publish and rotation");

  dkim
    .command("list")
    .description("list keys with their state and the TXT record each needs")
    .argument("[domain]", "only this domain")
    .option("--json", "print JSON (without private keys)")
    .action(async function (this: Command, domain: string | undefined) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ dkim: svc }) => {
        const keys = svc.list(domain);
        if (json) {
          const out = keys.map(({ privateKeyPem: _p, ...k }) => ({ ...k, name: dkimRecordName(k), txt: dkimTxtRecord(k) }));
          return print(io, JSON.stringify(out, null, 2));
        }
        if (keys.length === 0) return print(io, domain ? `No DKIM keys for ${domain}: freehold dkim rotate ${domain}` : "No DKIM keys yet.");
        print(io, table(["DOMAIN", "SELECTOR", "ALGORITHM", "STATE", "SINCE"], keys.map((k) => [k.domain, k.selector, k.type === "rsa" ? "rsa-2048" : "ed25519", k.state, since(k)])));
        const live = keys.filter((k) => k.state !== "retired");
        if (live.length > 0) print(io, "\nTXT records (zone-file syntax; strings of at most 255 characters):");
        for (const k of live) {
          print(io, `\n; ${k.state}: ${HINT[k.state]}`);
          print(io, `${dkimRecordName(k)}. IN TXT ${txtStrings(dkimTxtRecord(k)).map((s) => `"${s}"`).join(" ")}`);
        }
      });
    });

  dkim
    .command("rotate")
    .description("start a rotation: new RSA and Ed25519 keys (the current keys sign until the new ones are live)")
    .argument("<domain>", "domain name")
    .action(async function (this: Command, domain: string) {
      await withDataDir(this, io, async ({ dkim: svc, store }) => {
        if (!(await store.accounts.getDomain(domain.toLowerCase()))) throw new CliError(`no domain ${domain}`);
        // Through DkimAdmin, so the rotation is in the audit log; the keys are read back for printing.
        const selectors = new Set((await new DkimAdmin({ store, dkim: svc }).rotate(SYSTEM, domain)).map((k) => k.selector));
        const made = svc.list(domain).filter((k) => selectors.has(k.selector));
        for (const k of made) {
          print(io, `New ${k.type} key ${k.selector} for ${k.domain}. Publish:`);
          print(io, `${dkimRecordName(k)}. IN TXT ${txtStrings(dkimTxtRecord(k)).map((s) => `"${s}"`).join(" ")}`);
        }
        print(io, "Then run: freehold dkim check " + domain.toLowerCase());
      });
    });

  dkim
    .command("check")
    .description("look the records up in DNS and advance key states (new → published → active; retiring → retired after 7 days)")
    .argument("<domain>", "domain name")
    .action(async function (this: Command, domain: string) {
      await withDataDir(this, io, async ({ dkim: svc, config }) => {
        const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries });
        try {
          const steps = await svc.check(domain, resolver.txt);
          if (steps.length === 0) print(io, `Nothing to do for ${domain.toLowerCase()}.`);
          for (const s of steps) print(io, `${s.selector} (${s.type}): ${s.outcome}${s.detail ? ` (${s.detail})` : ""}`);
        } finally {
          resolver.cancel();
        }
      });
    });
}
