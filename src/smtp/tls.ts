// The server side of a TLS handshake on an existing socket (STARTTLS, RFC 3207; or implicit
// TLS, RFC 8314), and what was negotiated.
import type tls from "node:tls";
import type { TlsInfo } from "./types.ts";

/** Waits for the handshake: "ok", "timeout", or the error (a closed socket is an error too). */
export function handshake(sock: tls.TLSSocket, timeoutMs: number): Promise<"ok" | "timeout" | Error> {
  return new Promise((resolve) => {
    const done = (r: "ok" | "timeout" | Error) => {
      clearTimeout(timer);
      sock.off("secure", onSecure);
      sock.off("error", onError);
      sock.off("close", onClose);
      resolve(r);
    };
    const onSecure = () => done("ok");
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error("connection closed during the TLS handshake"));
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    sock.on("secure", onSecure);
    sock.on("error", onError);
    sock.on("close", onClose);
  });
}

/** Protocol and cipher, or null when the protocol is older than TLS 1.2. */
export function negotiated(sock: tls.TLSSocket): TlsInfo | null {
  const protocol = sock.getProtocol() ?? "unknown";
  if (protocol !== "TLSv1.2" && protocol !== "TLSv1.3") return null;
  const c = sock.getCipher();
  return { protocol, cipher: c.standardName ?? c.name };
}
