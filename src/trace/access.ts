// `freehold trace` for the HTTP API (docs/api.md "Trace"), with the tenant rules: server admins
// trace anything; a domain admin traces addresses of their own domain, a plain user their own
// address. A Message-ID or queue id names no tenant before the logs are read, so those queries
// are for server admins only for now (another tenant's address is "not found").
import type { Actor } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import { traceMessage } from "./service.ts";
import type { TraceOptions } from "./service.ts";
import { parseQuery } from "./trace.ts";
import type { TraceReport } from "./trace.ts";

export async function traceFor(actor: Actor, o: TraceOptions): Promise<TraceReport> {
  let q;
  try {
    q = parseQuery(o.query);
  } catch (e) {
    throw new AccountError("invalid", (e as Error).message);
  }
  if (actor.kind === "user" && actor.user.role !== "admin") {
    if (q.kind !== "address") throw new AccountError("forbidden", "only server admins trace by Message-ID or queue id; trace an address of your domain");
    const addr = q.value.toLowerCase();
    const own = actor.user.address.slice(actor.user.address.lastIndexOf("@") + 1);
    const ok = actor.user.role === "user" ? addr === actor.user.address : actor.user.role === "domain-admin" && addr.slice(addr.lastIndexOf("@") + 1) === own;
    if (!ok) throw new AccountError("not-found", `no trace for ${q.value}`);
  }
  return traceMessage(o);
}
