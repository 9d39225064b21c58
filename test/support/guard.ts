// Test-time network guard (preloaded with `node --import`): tests and benchmarks may talk only
// to loopback (127.0.0.0/8, ::1) or to network namespaces they create. Any other TCP connect,
// UDP send or hostname lookup throws, so a test that strays fails loudly instead of leaking
// traffic. Child processes are real peers that we configure for loopback ourselves.
import net from "node:net";
import dgram from "node:dgram";
import dns from "node:dns";

export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const v4 = host.startsWith("::ffff:") ? host.slice(7) : host;
  return net.isIPv4(v4) && v4.startsWith("127.");
}

function refuse(what: string, host: string): never {
  throw new Error(`loopback guard: ${what} to ${host} refused (tests may only reach 127.0.0.0/8 and ::1)`);
}

type LookupCb = (err: Error | null, address: unknown, family?: number) => void;

function guardedLookup(inner: (...a: unknown[]) => void) {
  return (name: string, opts: unknown, cb: LookupCb) =>
    inner(name, opts, (err: Error | null, address: unknown, family?: number) => {
      const list = Array.isArray(address) ? (address as Array<{ address: string }>).map((a) => a.address) : [address];
      const bad = err ? undefined : list.find((a) => typeof a !== "string" || !isLoopback(a));
      if (bad !== undefined) cb(new Error(`loopback guard: TCP connect to ${name} (${String(bad)}) refused`), address, family);
      else cb(err, address, family);
    });
}

const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  let host: string | undefined;
  let isPath = false;
  // net.connect() hands us its normalised arguments: an array whose first item is the options.
  const holder: unknown[] | null = Array.isArray(first) ? first : typeof first === "object" && first !== null ? args : null;
  if (holder) {
    const o = holder[0] as { host?: string; path?: string; lookup?: (...a: unknown[]) => void } | undefined;
    host = o?.host;
    isPath = typeof o?.path === "string";
    if (o && typeof o.lookup === "function" && host !== undefined && net.isIP(host) === 0) {
      // A name resolved by our own Resolver (a `lookup` option): check the addresses it yields.
      holder[0] = { ...o, lookup: guardedLookup(o.lookup) };
      host = undefined;
    }
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    host = typeof args[1] === "string" ? (args[1] as string) : "localhost";
  } else if (typeof first === "string") {
    isPath = true; // a Unix socket path
  }
  if (!isPath && host !== undefined && !isLoopback(host)) refuse("TCP connect", host);
  return (origConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;

const origSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
  // send(msg, [offset, length,] port, address, cb) — the address is the first string after the port.
  const address = args.find((a, i) => i > 0 && typeof a === "string") as string | undefined;
  if (address !== undefined && !isLoopback(address)) refuse("UDP send", address);
  return (origSend as (...a: unknown[]) => void).apply(this, args);
} as typeof dgram.Socket.prototype.send;

// Hostname lookups must go through our Resolver; the system resolver is only allowed for names
// that are loopback literals or "localhost".
const origLookup = dns.lookup;
(dns as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  if (!isLoopback(hostname)) refuse("system DNS lookup", hostname);
  return (origLookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
};
const origPromiseLookup = dns.promises.lookup;
(dns.promises as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  if (!isLoopback(hostname)) refuse("system DNS lookup", hostname);
  return (origPromiseLookup as (...a: unknown[]) => unknown).call(dns.promises, hostname, ...rest);
};
