// Starts test/support/gmail-imap.py, a scripted IMAP peer that plays Gmail (X-GM-EXT-1) on a
// loopback address, serving the mailbox described by a JSON file (re-read on every LIST, STATUS
// and SELECT, so a test can add a message between runs). Login: owner@gmail.test / app-password.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";

export interface GmailMessage {
  msgid: string;
  box: "all" | "trash" | "spam";
  /** X-GM-LABELS: system labels as "\\Inbox", "\\Sent", …; user labels as they are. */
  labels: string[];
  flags: string[];
  /** INTERNALDATE, seconds since the epoch. */
  date: number;
  bytes: Buffer;
}

export interface GmailPeer {
  port: number;
  /** Rewrites the mailbox the peer serves (optionally under a new UIDVALIDITY base). */
  set(messages: GmailMessage[], uidValidity?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startGmailImap(host: string, specFile: string, messages: GmailMessage[], uidValidity = 600): Promise<GmailPeer> {
  const set = (ms: GmailMessage[], uv = uidValidity) =>
    writeFile(specFile, JSON.stringify({ uidvalidity: uv, messages: ms.map(({ bytes, ...m }) => ({ ...m, b64: bytes.toString("base64") })) }));
  await set(messages);
  const child = spawn("python3", [path.join(import.meta.dirname, "gmail-imap.py"), host, specFile], { stdio: ["ignore", "pipe", process.env.GMAIL_IMAP_LOG ? "inherit" : "pipe"] });
  child.stderr?.on("data", (d) => (err += d));
  let err = "";
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`gmail-imap.py did not start: ${err}`)), 30_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`gmail-imap.py exited ${code}: ${err}`));
    });
  });
  return {
    port,
    set,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
  };
}
