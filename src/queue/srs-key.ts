// The SRS key shared by the two sides of forwarding: the queue runner rewrites envelope senders
// with it (srsForward) and the mx role checks bounces to those addresses with it (srsReverse).
// The secret lives in the settings table, made on first use, so every process serving the data
// folder and every restart uses the same one (a bounce may come back up to 21 days later).
import { randomBytes } from "node:crypto";
import type { SettingsRepo } from "../store/types.ts";
import { deriveSrsKey } from "../delivery/srs.ts";

export const SRS_SECRET_SETTING = "queue.srsSecret";

export async function loadSrsKey(settings: SettingsRepo): Promise<Buffer> {
  let secret = await settings.get(SRS_SECRET_SETTING);
  if (!secret) {
    secret = randomBytes(32).toString("base64");
    await settings.set(SRS_SECRET_SETTING, secret);
  }
  return deriveSrsKey(secret);
}
