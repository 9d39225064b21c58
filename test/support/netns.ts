// Network namespaces made by a test (root only): `ip netns add`, loopback up, nothing else, so
// a process started inside sees exactly the network the test builds (no route at all, a local
// DNS server, an address that appears later). The loopback guard (guard.ts) checks this test
// process's own sockets, which stay in the host namespace and never talk to the children; what
// runs inside is started with `ip netns exec`, a child process the guard does not patch, and it
// can only reach what exists inside the namespace (by construction: no link but lo).
import { execFile, execFileSync, spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface Netns {
  readonly name: string;
  /** Starts `cmd` inside the namespace. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Runs `cmd` inside the namespace to its end. */
  run(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Deletes the namespace (processes still inside keep it alive until they end). */
  remove(): void;
}

/**
 * Whether this process may create namespaces; the reason when not. Under CI=true the caller
 * fails instead of skipping (CI runs as root and must run these tests).
 */
export function netnsUnavailable(): string | null {
  if (process.platform !== "linux") return "network namespaces are Linux only";
  if (process.getuid?.() !== 0) return "creating network namespaces needs root (ip netns add)";
  const probe = `fh-probe-${randomBytes(3).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
    return null;
  } catch (e) {
    return `ip netns add is not permitted here: ${(e as Error).message.split("\n")[0]}`;
  }
}

/** A fresh namespace with only `lo`, up (127.0.0.1/8 and ::1, no other route). */
export function createNetns(tag: string): Netns {
  const name = `fh-${tag}-${randomBytes(3).toString("hex")}`;
  execFileSync("ip", ["netns", "add", name], { stdio: "pipe" });
  execFileSync("ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"], { stdio: "pipe" });
  return {
    name,
    spawn: (cmd, args, opts = {}) => spawn("ip", ["netns", "exec", name, cmd, ...args], opts),
    run: (cmd, args, opts = {}) =>
      new Promise((resolve) => {
        const child = execFile(
          "ip",
          ["netns", "exec", name, cmd, ...args],
          { timeout: opts.timeoutMs ?? 60_000, env: opts.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
        if (opts.input !== undefined) child.stdin?.end(opts.input);
      }),
    remove: () => {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "pipe" });
      } catch {
        // already gone
      }
    },
  };
}
