// Both servers of the differential suite, set up alike: the same users (two per script, same
// password), the same default mailboxes with their special-use attributes (Freehold creates
// them for every user; Dovecot auto-creates and subscribes them), a 100 MiB storage quota on
// both, no TLS on loopback (plaintext LOGIN allowed on both).
import { startDovecot } from "../support/dovecot.ts";
import type { DovecotPeer } from "../support/dovecot.ts";
import { startHarness } from "../imap/harness.ts";
import type { Harness } from "../imap/harness.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import type { Account } from "./play.ts";

export const PASSWORD = "diff-pass-1";
const DOMAIN = "example.test";
const QUOTA_BYTES = 100 * 1024 * 1024;

export function accountFor(index: number): Account {
  return { user1: `d${index}a@${DOMAIN}`, user2: `d${index}b@${DOMAIN}`, password: PASSWORD };
}

const SPECIAL = ["Sent", "Drafts", "Trash", "Junk", "Archive"];

export interface DiffServers {
  dovecotPort: number;
  freeholdPort: number;
  stop(): Promise<void>;
}

export async function startServers(accounts: Account[]): Promise<DiffServers> {
  const locals = accounts.flatMap((a) => [a.user1, a.user2]).map((u) => u.split("@")[0]);
  let peer: DovecotPeer | undefined;
  let h: Harness | undefined;
  try {
    peer = await startDovecot({
      users: locals.map((name) => ({ name, password: PASSWORD })),
      namespaceConfig: "  mailbox INBOX {\n    auto = subscribe\n  }\n" + SPECIAL.map((m) => `  mailbox ${m} {\n    special_use = \\${m}\n    auto = subscribe\n  }`).join("\n"),
      extraConfig: `mail_plugins = $mail_plugins quota zlib
protocol imap {
  mail_plugins = $mail_plugins imap_quota imap_zlib
  mail_max_userip_connections = 1000
}
# Speed only (no protocol change): no fsync in a throwaway test store, login and imap
# processes kept and reused instead of one fork per connection.
mail_fsync = never
service imap-login {
  service_count = 0
  process_min_avail = 2
}
service imap {
  service_count = 1000
  process_min_avail = 4
}
plugin {
  quota = count
  quota_rule = *:storage=${QUOTA_BYTES / 1024}K
  quota_vsizes = yes
  quota_max_mail_size = 50M
}
`,
    });
    h = await startHarness({
      defaultQuotaBytes: QUOTA_BYTES,
      limits: { maxConnectionsPerIp: 1000, maxConnectionsPerUser: 1000 },
    });
    const harness = h;
    // In batches: each addUser hashes a password (cheap scrypt in tests).
    const all = accounts.flatMap((a) => [a.user1, a.user2]);
    for (let i = 0; i < all.length; i += 32) {
      await Promise.all(all.slice(i, i + 32).map((address) => harness.accounts.addUser(SYSTEM, { address, password: PASSWORD })));
    }
    const dovecot = peer;
    return {
      dovecotPort: dovecot.port,
      freeholdPort: harness.port,
      async stop() {
        await harness.close();
        await dovecot.stop();
      },
    };
  } catch (e) {
    await h?.close();
    await peer?.stop();
    throw e;
  }
}
