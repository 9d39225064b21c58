// Subscriptions to names that have no mailbox (RFC 9051 §6.3.7: a subscription is a name, and
// it outlives a DELETE; LIST (SUBSCRIBED) shows such names \NonExistent, RFC 5258 §3.1).
// Subscriptions of existing mailboxes live on the mailbox row; these orphans are kept per user
// in the settings repository as a JSON list (few, small, rarely written), under a per-user key
// that is removed with the user (migration-ids.ts moved the older `imap.orphan-subscriptions.<id>`).
import type { MetadataStore } from "../store/types.ts";
import { userSettingKey } from "../store/types.ts";

const key = (userId: number): string => userSettingKey(userId, "imap.orphan-subscriptions");

export async function orphanSubscriptions(store: MetadataStore, userId: number): Promise<string[]> {
  const v = await store.settings.get(key(userId));
  if (!v) return [];
  try {
    const list = JSON.parse(v) as unknown;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export async function setOrphanSubscription(store: MetadataStore, userId: number, name: string, subscribed: boolean): Promise<void> {
  const list = new Set(await orphanSubscriptions(store, userId));
  if (subscribed === list.has(name)) return;
  if (subscribed) list.add(name);
  else list.delete(name);
  if (list.size === 0) await store.settings.delete(key(userId));
  else await store.settings.set(key(userId), JSON.stringify([...list].sort()));
}
