// One serving process per data folder.
//
// Startup recovery (src/store/open.ts) deletes every temp file and every blob file without a row
// as a crash leftover. That is only true when no other process delivers into the folder: a
// second `freehold serve` on a live folder would delete the first one's in-flight messages,
// including files already renamed into place whose commit is a moment away, leaving rows that
// point at nothing — a lost message after a 250. So the serving process holds a lock, taken
// before storage is opened.
//
// The lock is a listening Unix socket in Linux's abstract namespace, named after the folder's
// real path: the kernel drops it when the process dies, however it dies (a SIGKILLed server
// never blocks its own restart, and there is no stale file or PID-reuse guesswork), and bind(2)
// is atomic, so two servers starting at once cannot both win. It answers a connection with its
// PID, for the refusal message. (Abstract names carry no permissions: another local user could
// take the name first and keep the server from starting; the refusal names that PID. A socket
// file would avoid that but brings back stale-file races and the 108-byte path limit.) Elsewhere than Linux a socket file in the data folder does the
// same job, with a stale file (nobody listening) removed.
import net from "node:net";
import { createHash } from "node:crypto";
import { realpath, unlink } from "node:fs/promises";
import path from "node:path";
import { StoreError } from "../store/errors.ts";

export interface DataLock {
  release(): Promise<void>;
}

function lockAddress(realDir: string): string {
  if (process.platform === "linux") return `\0freehold-serve-${createHash("sha256").update(realDir).digest("hex").slice(0, 40)}`;
  return path.join(realDir, "serve.lock");
}

function listen(server: net.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The holder's PID, or null when nobody answers (a stale socket file). */
function askHolder(address: string): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect(address);
    let got = "";
    const timer = setTimeout(() => done("?"), 1000);
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => (got += d));
    sock.on("end", () => done(got.trim() || "?"));
    sock.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" || e.code === "ENOENT" ? null : "?"));
  });
}

/** Takes the data folder's serve lock, or throws StoreError("busy") naming the holder. */
export async function lockDataFolder(dataDir: string): Promise<DataLock> {
  const realDir = await realpath(dataDir);
  const address = lockAddress(realDir);
  for (let attempt = 0; ; attempt++) {
    const server = net.createServer((sock) => {
      sock.on("error", () => undefined);
      sock.end(`${process.pid}\n`);
    });
    try {
      await listen(server, address);
      // After listen only accept(2) can fail (EMFILE while another serve asks who holds the
      // lock): the lock stays held; an 'error' without a listener would end the process.
      server.on("error", () => undefined);
      // The lock must not keep a process alive that has nothing else to do.
      server.unref();
      return {
        release: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
          }),
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      const holder = await askHolder(address);
      if (holder === null && !address.startsWith("\0") && attempt === 0) {
        await unlink(address).catch(() => undefined); // a stale socket file from a crash
        continue;
      }
      throw new StoreError("busy", `another freehold serve (pid ${holder ?? "?"}) is already serving ${realDir}`);
    }
  }
}
