// The /metrics listener (issue 8 §5): plain node:http, GET /metrics only. Loopback-only unless a
// bearer token is configured: the figures name checks, relays and volumes an outsider should not
// read. The web server may mount the same Metrics.render() later.
import http from "node:http";
import net from "node:net";
import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "./registry.ts";

export const DEFAULT_METRICS_LISTEN = "127.0.0.1:9225";

export function parseListen(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s);
  if (!m || !net.isIP(m[1]) || Number(m[2]) > 65535) throw new Error(`metrics.listen: expected ip:port, got ${s}`);
  return { host: m[1], port: Number(m[2]) };
}

const isLoopback = (ip: string) => ip === "::1" || (net.isIPv4(ip) && ip.startsWith("127."));

/** Compares hashes so the comparison time says nothing about the token's length or prefix. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m) return false;
  const a = createHash("sha256").update(m[1]).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

export interface MetricsListener {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsListener(metrics: Metrics, opts: { listen: string; token?: string; logger: Logger }): Promise<MetricsListener> {
  const { host, port } = parseListen(opts.listen);
  if (!isLoopback(host) && !opts.token) throw new Error(`metrics.listen ${opts.listen} is not loopback: set metrics.token`);
  const server = http.createServer((req, res) => {
    if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) {
      res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"' }).end();
      return;
    }
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
      (err) => {
        opts.logger.error({ err }, "metrics collection failed");
        res.writeHead(500).end();
      },
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok());
  });
  const a = server.address() as AddressInfo;
  opts.logger.info({ address: a.address, port: a.port, token: !!opts.token }, "metrics listener");
  return {
    address: a.address,
    port: a.port,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
