// Which addresses an authenticated user may send as (the input of sender-policy.ts):
//   - their own address;
//   - every alias that delivers to them (resolved as RCPT would: an alias of an alias counts,
//     a catch-all `@domain` does not — receiving everything for a domain is not owning it);
//   - any address of their domain when they are a domain admin (or the server admin).
import { resolveRecipient } from "../accounts/resolve.ts";
import type { MetadataStore, UserRecord } from "../store/types.ts";
import type { SenderAuthority } from "./sender-policy.ts";

export async function senderAuthority(store: MetadataStore, user: UserRecord): Promise<SenderAuthority> {
  const addresses = [user.address];
  for (const alias of await store.accounts.listAliases()) {
    if (alias.localPart === "") continue;
    const r = await resolveRecipient(store.accounts, alias.address);
    if (r.kind === "deliver" && r.local.some((t) => t.user.id === user.id)) addresses.push(alias.address);
  }
  const domains: string[] = [];
  if (user.role === "domain-admin" || user.role === "admin") {
    const d = await store.accounts.getDomainById(user.domainId);
    if (d) domains.push(d.name);
  }
  return { addresses, domains };
}
