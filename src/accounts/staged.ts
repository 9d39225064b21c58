// Staged domains (issue 10 §2): a domain being moved to this server before its MX points here.
// While staged, accounts are prepared and mail is imported (freehold import writes straight into
// the store), but the domain receives nothing from the internet (the MX answers RCPT with a
// temporary failure, so a stray sender retries and reaches the old provider through its MX) and
// sends nothing (submission refuses MAIL FROM the domain). `freehold domain unstage` makes it
// live in one step. Kept as a setting (domain.staged.<name> = ISO time it was staged), read by
// the MX and submission in every serving process through their own store connection.
import type { SettingsRepo } from "../store/types.ts";

export const stagedKey = (domain: string): string => `domain.staged.${domain.toLowerCase().replace(/\.$/, "")}`;

/** When the domain was staged (ISO 8601), or null when it is live. */
export function stagedSince(settings: Pick<SettingsRepo, "get">, domain: string): Promise<string | null> {
  return settings.get(stagedKey(domain));
}

/** The domain part of an address, lower case ("" for none): the suppression list's helper. */
export { domainOf as domainPart } from "../suppression/policy.ts";
