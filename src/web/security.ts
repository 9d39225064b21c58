// Security headers and cookies of every HTTP response (docs/web.md "Security").
import type { FastifyReply } from "fastify";

/**
 * A strict CSP: only our own origin's scripts, styles and fetches, no inline script or style,
 * no plugins, no framing (frame-ancestors 'none' also covers what X-Frame-Options did).
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** RFC 6797: browsers remember for a year to use https only. Sent on https responses only (§7.2). */
export const HSTS = "max-age=31536000";

export function setSecurityHeaders(reply: FastifyReply, secure: boolean): void {
  reply.header("content-security-policy", CSP);
  reply.header("referrer-policy", "no-referrer");
  reply.header("x-content-type-options", "nosniff");
  reply.header("x-frame-options", "DENY");
  reply.header("cross-origin-opener-policy", "same-origin");
  reply.header("cross-origin-resource-policy", "same-origin");
  reply.header("permissions-policy", "camera=(), microphone=(), geolocation=()");
  if (secure) reply.header("strict-transport-security", HSTS);
}

/**
 * The session cookie's name. On https it carries the `__Host-` prefix (RFC 6265bis §4.1.3.2):
 * browsers accept it only with Secure, Path=/ and no Domain, so a sibling host cannot plant one.
 * Browsers refuse `__Host-` cookies over plain http, so dev (http 8080) uses the bare name.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-freehold-session" : "freehold-session";
}

export function sessionCookieOptions(secure: boolean, maxAgeSeconds?: number) {
  return {
    path: "/",
    httpOnly: true,
    secure,
    sameSite: "strict" as const,
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}
