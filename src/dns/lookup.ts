// A `dns.lookup`-compatible function on top of our Resolver, for net.connect({ lookup }) and
// tls.connect({ lookup }), so that no socket ever falls back to the system's getaddrinfo.
// Node calls it as lookup(host, options, callback); with autoSelectFamily (the default since
// Node 20) options.all is true and the callback takes an array of { address, family }.
import net from "node:net";
import type { LookupAddress } from "node:dns";

export interface LookupOptions {
  family?: number | "IPv4" | "IPv6";
  all?: boolean;
  hints?: number;
  /** Node 22+: result order. Default here: IPv4 first (works on hosts without IPv6 routes). */
  order?: "ipv4first" | "ipv6first" | "verbatim";
  verbatim?: boolean;
}

export type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export interface LookupFunction {
  (hostname: string, options: LookupOptions | number, callback: LookupCallback): void;
  (hostname: string, callback: LookupCallback): void;
}

/** Resolves one address family; rejects with dns error codes (ENOTFOUND, ENODATA, ETIMEOUT...). */
export type AddressQuery = (name: string, family: 4 | 6) => Promise<string[]>;

function familyOf(opt: LookupOptions["family"]): 0 | 4 | 6 {
  if (opt === 4 || opt === "IPv4") return 4;
  if (opt === 6 || opt === "IPv6") return 6;
  return 0;
}

function codeOf(err: unknown): string {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
}

/** Resolves a host name to addresses the way getaddrinfo would, through `query`. */
export async function lookupAll(query: AddressQuery, hostname: string, options: LookupOptions = {}): Promise<LookupAddress[]> {
  const family = familyOf(options.family);
  const literal = net.isIP(hostname);
  if (literal !== 0) {
    if (family !== 0 && family !== literal) throw lookupError("ENOTFOUND", hostname);
    return [{ address: hostname, family: literal }];
  }
  const name = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  // RFC 6761 §6.3: "localhost" is answered locally and never sent to a DNS server.
  if (name.toLowerCase() === "localhost" || name.toLowerCase().endsWith(".localhost")) {
    const local: LookupAddress[] = [];
    if (family !== 6) local.push({ address: "127.0.0.1", family: 4 });
    if (family !== 4) local.push({ address: "::1", family: 6 });
    return local;
  }
  const families: Array<4 | 6> = family === 0 ? [4, 6] : [family];
  const settled = await Promise.allSettled(families.map((f) => query(name, f)));
  const v4: LookupAddress[] = [];
  const v6: LookupAddress[] = [];
  let failure: unknown = null;
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") {
      for (const address of r.value) (families[i] === 4 ? v4 : v6).push({ address, family: families[i] });
    } else if (codeOf(r.reason) !== "ENOTFOUND" && codeOf(r.reason) !== "ENODATA") {
      failure ??= r.reason;
    }
  });
  const order = options.order ?? "ipv4first";
  const all = order === "ipv6first" ? [...v6, ...v4] : [...v4, ...v6];
  if (all.length > 0) return all;
  // No address: a temporary failure of either query wins over "no such name", so a caller can
  // tell "retry later" from "this host does not exist".
  if (failure !== null) throw lookupError(codeOf(failure) || "ESERVFAIL", hostname, failure);
  throw lookupError("ENOTFOUND", hostname);
}

function lookupError(code: string, hostname: string, cause?: unknown): NodeJS.ErrnoException {
  const err = new Error(`lookup ${hostname}: ${code}`, cause === undefined ? undefined : { cause }) as NodeJS.ErrnoException & {
    hostname: string;
  };
  err.code = code;
  err.syscall = "lookup";
  err.hostname = hostname;
  return err;
}

export function createLookup(query: AddressQuery): LookupFunction {
  return function lookup(hostname: string, optionsOrCallback: LookupOptions | number | LookupCallback, maybeCallback?: LookupCallback): void {
    const callback = (typeof optionsOrCallback === "function" ? optionsOrCallback : maybeCallback) as LookupCallback;
    const options: LookupOptions =
      typeof optionsOrCallback === "number"
        ? { family: optionsOrCallback }
        : typeof optionsOrCallback === "object" && optionsOrCallback !== null
          ? optionsOrCallback
          : {};
    lookupAll(query, hostname, options).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, options.all ? [] : ""),
    );
  } as LookupFunction;
}
