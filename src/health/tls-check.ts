// The certificate each TLS listener actually serves: we connect (implicit TLS, or STARTTLS over
// SMTP, RFC 3207 §4, and IMAP, RFC 9051 §6.2.1), read the certificate and compare it with the
// host name, the clock and the file on disk. A renewed file that the listener does not serve yet
// is a fail: the reload did not happen and the old certificate will expire.
import net from "node:net";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import type { CheckResult, CheckStatus } from "./types.ts";

const DAY = 86_400_000;
/** Days left at which a warning is given (the nearest one is named). */
export const WARN_DAYS = [30, 14, 7] as const;

export interface TlsTarget {
  /** Where to connect (a wildcard listen address is asked on loopback). */
  host: string;
  port: number;
  mode: "implicit" | "starttls";
  protocol: "smtp" | "imap";
  /** Listener label, e.g. "submissions 0.0.0.0:465". */
  label: string;
}

/** Reads lines until `done` says the reply is complete. */
function readReply(sock: net.Socket, done: (text: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => finish(new Error("timed out waiting for the server")), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      // A greeting or EHLO reply is a few hundred octets; never buffer without bound.
      if (buf.length > 65_536) finish(new Error("reply too long"));
      else if (done(buf)) finish(null);
    };
    const onErr = (e: Error) => finish(e);
    const onClose = () => finish(new Error("connection closed"));
    function finish(e: Error | null) {
      clearTimeout(timer);
      sock.off("data", onData).off("error", onErr).off("close", onClose);
      if (e) reject(e);
      else resolve(buf);
    }
    sock.on("data", onData).on("error", onErr).on("close", onClose);
  });
}

const smtpDone = (t: string) => /(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(t);

/** Connects and returns the served leaf certificate. */
export async function servedCertificate(t: TlsTarget, timeoutMs = 10_000): Promise<X509Certificate> {
  let socket: net.Socket | undefined;
  if (t.mode === "starttls") {
    socket = net.connect({ host: t.host, port: t.port });
    await new Promise<void>((res, rej) => socket!.once("connect", res).once("error", rej));
    if (t.protocol === "smtp") {
      await readReply(socket, smtpDone, timeoutMs);
      socket.write("EHLO freehold-check\r\n");
      await readReply(socket, smtpDone, timeoutMs);
      socket.write("STARTTLS\r\n");
      const r = await readReply(socket, smtpDone, timeoutMs);
      if (!r.startsWith("220")) throw new Error(`STARTTLS refused: ${r.trim()}`);
    } else {
      await readReply(socket, (x) => x.includes("\r\n"), timeoutMs);
      socket.write("c1 STARTTLS\r\n");
      const r = await readReply(socket, (x) => /(^|\r\n)c1 [^\r\n]*\r\n$/.test(x), timeoutMs);
      if (!/(^|\r\n)c1 OK/i.test(r)) throw new Error(`STARTTLS refused: ${r.trim()}`);
    }
  }
  const s = tls.connect({ ...(socket ? { socket } : { host: t.host, port: t.port }), rejectUnauthorized: false, servername: net.isIP(t.host) ? undefined : t.host });
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error("TLS handshake timed out")), timeoutMs);
      s.once("secureConnect", () => (clearTimeout(timer), res())).once("error", (e) => (clearTimeout(timer), rej(e)));
    });
    const c = s.getPeerX509Certificate();
    if (!c) throw new Error("no certificate served");
    return c;
  } finally {
    s.destroy();
  }
}

/** Judges one served certificate (pure): names, days left, and the file on disk. */
export function judgeCertificate(label: string, served: X509Certificate, hostname: string, now: number, onDisk: X509Certificate | null): CheckResult {
  const id = `tls.${label.replace(/\s+/g, ".")}`;
  const base = { id, subject: label, group: "tls" as const };
  const notAfter = Date.parse(served.validTo);
  const daysLeft = Math.floor((notAfter - now) / DAY);
  const data = { notAfter: new Date(notAfter).toISOString(), daysLeft, fingerprint256: served.fingerprint256, issuer: served.issuer.replace(/\n/g, ", ") };
  const res = (status: CheckStatus, message: string, fix?: string): CheckResult => ({ ...base, status, message, ...(fix ? { fix } : {}), data });
  if (onDisk && onDisk.fingerprint256 !== served.fingerprint256 && Date.parse(onDisk.validFrom) >= Date.parse(served.validFrom)) {
    return res("fail", `${label} serves an older certificate (until ${data.notAfter.slice(0, 10)}) than the renewed file on disk (until ${new Date(onDisk.validTo).toISOString().slice(0, 10)})`, "reload the certificate: kill -HUP $(pidof freehold) or restart freehold serve");
  }
  if (notAfter <= now) return res("fail", `${label} certificate expired on ${data.notAfter.slice(0, 10)}`, `renew the certificate for ${hostname} (e.g. certbot renew) and install it as tls.cert / tls.key`);
  if (served.checkHost(hostname) === undefined) {
    return res("fail", `${label} certificate is for ${served.subjectAltName ?? served.subject}, not ${hostname}: senders that verify refuse it`, `get a certificate naming ${hostname}`);
  }
  if (Date.parse(served.validFrom) > now) return res("fail", `${label} certificate is not valid before ${new Date(served.validFrom).toISOString()}`, "check the server's clock and the certificate");
  const step = [...WARN_DAYS].reverse().find((d) => daysLeft < d);
  if (step !== undefined) return res("warn", `${label} certificate expires in ${daysLeft} days (${data.notAfter.slice(0, 10)}), under ${step}`, `renew the certificate for ${hostname} (e.g. certbot renew); Freehold picks the new files up by itself`);
  if (served.issuer === served.subject && served.verify(served.publicKey)) {
    return res("warn", `${label} serves a self-signed certificate for ${hostname} (${daysLeft} days left): senders using MTA-STS and mail apps refuse it`, `get a certificate from a public CA for ${hostname} (e.g. certbot certonly --standalone -d ${hostname}) and set tls.cert / tls.key`);
  }
  return res("ok", `${label} serves a certificate for ${hostname}, ${daysLeft} days left`);
}
