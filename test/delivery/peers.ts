// Test peers for outbound delivery: a scripted aiosmtpd (scripted_smtp.py) and a test CA with a
// certificate for given names (openssl), all on loopback.
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort, spawnManaged } from "../support/peer-util.ts";

const PY = "/usr/bin/python3";
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "scripted_smtp.py");

export interface ScriptedPeerOptions {
  host: string;
  port?: number;
  hostname?: string;
  tls?: { cert: string; key: string };
  requireTls?: boolean;
  users?: Record<string, string>;
  /** Replies to DATA for the first messages, in order (then 250). */
  dataReplies?: string[];
  /** More recipients in one transaction get 452 4.5.3. */
  maxRcptsPerTx?: number;
  /** Wait before answering DATA (ms). */
  dataDelayMs?: number;
  /** Advertise SMTPUTF8 (default true). */
  smtputf8?: boolean;
  /** Address (lower-case) → RCPT reply. */
  rcptReplies?: Record<string, string>;
}

export interface ReceivedMessage {
  mail_from: string;
  rcpt_tos: string[];
  mail_options: string[];
  authenticated: boolean;
  tls: boolean;
  /** The most transactions the peer had inside DATA at once, so far. */
  maxConcurrent: number;
  data: string;
}

export interface ScriptedPeer {
  host: string;
  port: number;
  received(): Promise<ReceivedMessage[]>;
  /** How many messages reached the end of DATA (final dot seen), whether or not answered yet. */
  dataStarted(): Promise<number>;
  stop(): Promise<void>;
}

export async function startScriptedPeer(opts: ScriptedPeerOptions): Promise<ScriptedPeer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-peer-"));
  const log = path.join(dir, "received.jsonl");
  await fs.writeFile(log, "");
  const startedLog = path.join(dir, "data-started.log");
  await fs.writeFile(startedLog, "");
  const child = spawnManaged(PY, [SCRIPT, JSON.stringify({ ...opts, port: opts.port ?? (await freePort(opts.host)), log, startedLog })]);
  let stderr = "";
  child.child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`scripted peer did not start: ${stderr}`)), 15_000);
    child.child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.child.once("exit", () => reject(new Error(`scripted peer exited: ${stderr}`)));
  });
  return {
    host: opts.host,
    port,
    async received() {
      const text = await fs.readFile(log, "utf8");
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as ReceivedMessage);
    },
    async dataStarted() {
      return (await fs.readFile(startedLog, "utf8")).length / 2;
    },
    async stop() {
      await child.stop(3000);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A CA and a leaf certificate for `names`, as PEM files in a temp dir. */
export async function makeTestCa(names: string[]): Promise<{ dir: string; caCert: string; cert: string; key: string; certFile: string; keyFile: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-ca-"));
  const p = (f: string) => path.join(dir, f);
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=Freehold Test CA", "-keyout", "ca.key", "-out", "ca.pem"]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${names[0]}`, "-keyout", "leaf.key", "-out", "leaf.csr"]);
  await fs.writeFile(p("ext.cnf"), `subjectAltName=${names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",")}\n`);
  run(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "leaf.pem"]);
  await fs.chmod(dir, 0o755); // peers running as other users read the files
  return {
    dir,
    caCert: await fs.readFile(p("ca.pem"), "utf8"),
    cert: await fs.readFile(p("leaf.pem"), "utf8"),
    key: await fs.readFile(p("leaf.key"), "utf8"),
    certFile: p("leaf.pem"),
    keyFile: p("leaf.key"),
  };
}
