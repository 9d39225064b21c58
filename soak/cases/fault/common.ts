// Shared pieces of the fault cases (soak/cases/fault.ts): a real `freehold serve` on a data
// folder with mx and imap listeners, a DNS server that answers NXDOMAIN (nothing leaves the
// machine), and small clients.
import { startFaultServer } from "../../../test/support/dns-fault.ts";
import type { FaultServer } from "../../../test/support/dns-fault.ts";
import { createDataDir, logLines, startFreeholdProcess, TEST_PASSWORD } from "../../../test/support/freehold.ts";
import type { DataDir, FreeholdProcess, FreeholdSpec } from "../../../test/support/freehold.ts";
import { SmtpTestClient } from "../../../test/support/smtp-client.ts";
import { RawClient } from "../../../test/imap/raw-client.ts";

export const AREA = "fault";
export const USER = "fault@freehold.test";
export { TEST_PASSWORD };

export interface Rig {
  data: DataDir;
  dns: FaultServer;
  fh: FreeholdProcess;
  restart(env?: Record<string, string>): Promise<FreeholdProcess>;
  close(): Promise<void>;
}

export async function startRig(spec: FreeholdSpec = {}, env?: Record<string, string>): Promise<Rig> {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  let data: DataDir | undefined;
  try {
    data = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }], dnsServers: [dns.address], imap: true, ...spec });
    const rig: Rig = {
      data,
      dns,
      fh: await startFreeholdProcess(data, { env }),
      async restart(e = env) {
        await rig.fh.kill9();
        rig.fh = await startFreeholdProcess(rig.data, { env: e });
        return rig.fh;
      },
      async close() {
        await rig.fh.kill9();
        await dns.close();
        await rig.data.remove();
      },
    };
    return rig;
  } catch (e) {
    await dns.close();
    await data?.remove();
    throw e;
  }
}

export function message(token: string, bodyBytes = 200): string {
  const line = `${token} ${"y".repeat(60)}\r\n`;
  return `From: <sender@sender.test>\r\nTo: <${USER}>\r\nSubject: ${token}\r\nX-Token: ${token}\r\n\r\n${line.repeat(Math.max(1, Math.ceil(bodyBytes / line.length)))}`;
}

/** One SMTP transaction to mx; the final reply. */
export async function smtpSend(port: number, token: string, bodyBytes = 200, to = USER): Promise<{ code: number; text: string }> {
  const c = await SmtpTestClient.connect(port, "127.0.0.1", 10_000);
  try {
    await c.read();
    await c.cmd("EHLO fault.client.test");
    const r = await c.send("sender@sender.test", [to], message(token, bodyBytes));
    const bad = r.replies.find((x) => x.code >= 400);
    const final = bad ?? r.final;
    await c.quit().catch(() => undefined);
    return { code: final.code, text: final.lines.join(" | ") };
  } finally {
    c.destroy();
  }
}

export async function imapLogin(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(USER, TEST_PASSWORD);
  return c;
}

/** APPEND with a synchronizing literal; returns the tagged reply text ("OK ...", "NO ..."). */
export async function imapAppend(c: RawClient, mailbox: string, msg: string, tag = `a${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  const bytes = Buffer.byteLength(msg);
  c.send(`${tag} APPEND "${mailbox}" {${bytes}}\r\n`);
  const cont = await c.line();
  if (!cont.startsWith("+")) return cont.slice(tag.length + 1);
  c.send(msg + "\r\n");
  return (await c.until(tag)).text;
}

export function errorLogs(fh: FreeholdProcess): Array<Record<string, unknown>> {
  return logLines(fh.output()).filter((l) => typeof l.level === "number" && (l.level as number) >= 50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
