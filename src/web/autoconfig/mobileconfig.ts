// Apple configuration profile (.mobileconfig) for one user's mail account: an XML property list
// (Apple's PropertyList-1.0 DTD) holding a "Configuration" profile with one com.apple.mail.managed
// payload (developer.apple.com Device Management "Mail": EmailAccountType EmailTypeIMAP,
// Incoming/OutgoingMailServer HostName, PortNumber, UseSSL, Username, Authentication).
//
// No password: neither IncomingPassword nor OutgoingPassword is written, so the file can sit in a
// downloads folder or a mail attachment without giving the account away; the device asks for the
// password (or an app password) when the profile is installed.
//
// PayloadUUIDs are name-based (UUID version 5, RFC 9562 §5.5) over this server's host name, the
// user's id and address: the same user always gets the same UUIDs, so installing a newer profile
// replaces the old one instead of adding a second account, and no two users (nor a deleted user
// and a later one of the same address: ids are never reused) share one.
import { createHash } from "node:crypto";
import type { ClientSettings } from "./settings.ts";
import { xmlText } from "./xml.ts";

export const MOBILECONFIG_CONTENT_TYPE = "application/x-apple-aspen-config";

/** A fixed namespace for Freehold's name-based UUIDs (itself random, chosen once). */
const NAMESPACE = Buffer.from("5d0c7f6a1b2e4c8d9a3f6e2b7c1d4a90", "hex");

/** RFC 9562 §5.5: SHA-1 over namespace and name, version 5, variant 10. */
export function uuidV5(name: string, namespace: Buffer = NAMESPACE): string {
  const h = createHash("sha1").update(namespace).update(name, "utf8").digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString("hex").toUpperCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface MobileconfigUser {
  id: number;
  address: string;
  displayName: string;
}

type PlistValue = string | number | boolean | PlistValue[] | { [k: string]: PlistValue };

function plist(v: PlistValue, indent: string): string {
  if (typeof v === "string") return `${indent}<string>${xmlText(v)}</string>`;
  if (typeof v === "number") return `${indent}<integer>${Math.trunc(v)}</integer>`;
  if (typeof v === "boolean") return `${indent}<${v}/>`;
  if (Array.isArray(v)) return [`${indent}<array>`, ...v.map((x) => plist(x, indent + "  ")), `${indent}</array>`].join("\n");
  const lines = [`${indent}<dict>`];
  for (const [k, x] of Object.entries(v)) lines.push(`${indent}  <key>${xmlText(k)}</key>`, plist(x, indent + "  "));
  lines.push(`${indent}</dict>`);
  return lines.join("\n");
}

/** The profile, or null when the server has no TLS IMAP or SMTP listener to put in it. */
export function mobileconfig(user: MobileconfigUser, s: ClientSettings): string | null {
  const imap = s.imap[0];
  const smtp = s.smtp[0];
  if (!imap || !smtp) return null;
  const seed = `${s.host}\0${user.id}\0${user.address}`;
  const profileUuid = uuidV5(`${seed}\0profile`);
  const mailUuid = uuidV5(`${seed}\0mail`);
  const prefix = s.host.split(".").reverse().join(".");
  const domain = user.address.slice(user.address.lastIndexOf("@") + 1);
  const mail: Record<string, PlistValue> = {
    EmailAccountDescription: user.address,
    ...(user.displayName ? { EmailAccountName: user.displayName } : {}),
    EmailAccountType: "EmailTypeIMAP",
    EmailAddress: user.address,
    IncomingMailServerAuthentication: "EmailAuthPassword",
    IncomingMailServerHostName: imap.host,
    IncomingMailServerPortNumber: imap.port,
    // TLS either way: implicit on an imaps port, STARTTLS on an imap one.
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: user.address,
    OutgoingMailServerAuthentication: "EmailAuthPassword",
    OutgoingMailServerHostName: smtp.host,
    OutgoingMailServerPortNumber: smtp.port,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: user.address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PayloadDescription: `Mail account ${user.address} (IMAP and SMTP)`,
    PayloadDisplayName: `Mail: ${user.address}`,
    PayloadIdentifier: `${prefix}.mail.account.${mailUuid}`,
    PayloadType: "com.apple.mail.managed",
    PayloadUUID: mailUuid,
    PayloadVersion: 1,
  };
  // CardDAV and CalDAV accounts (issue 11 §4) on the https listener, found from the principal.
  const principal = `/dav/principals/${encodeURIComponent(user.address).replace(/%40/g, "@")}/`;
  const cardUuid = uuidV5(`${seed}\0carddav`);
  const calUuid = uuidV5(`${seed}\0caldav`);
  const carddav: Record<string, PlistValue> = {
    CardDAVAccountDescription: `Contacts ${user.address}`,
    CardDAVHostName: s.host,
    CardDAVPort: 443,
    CardDAVPrincipalURL: principal,
    CardDAVUseSSL: true,
    CardDAVUsername: user.address,
    PayloadDescription: `Contacts of ${user.address} (CardDAV)`,
    PayloadDisplayName: `Contacts: ${user.address}`,
    PayloadIdentifier: `${prefix}.carddav.account.${cardUuid}`,
    PayloadType: "com.apple.carddav.account",
    PayloadUUID: cardUuid,
    PayloadVersion: 1,
  };
  const caldav: Record<string, PlistValue> = {
    CalDAVAccountDescription: `Calendar ${user.address}`,
    CalDAVHostName: s.host,
    CalDAVPort: 443,
    CalDAVPrincipalURL: principal,
    CalDAVUseSSL: true,
    CalDAVUsername: user.address,
    PayloadDescription: `Calendars of ${user.address} (CalDAV)`,
    PayloadDisplayName: `Calendar: ${user.address}`,
    PayloadIdentifier: `${prefix}.caldav.account.${calUuid}`,
    PayloadType: "com.apple.caldav.account",
    PayloadUUID: calUuid,
    PayloadVersion: 1,
  };
  const profile: Record<string, PlistValue> = {
    PayloadContent: [mail, carddav, caldav],
    PayloadDescription: `Sets up ${user.address} in Mail. The device asks for the password; none is stored in this file.`,
    PayloadDisplayName: `${user.address} mail`,
    PayloadIdentifier: `${prefix}.mail.profile.${profileUuid}`,
    PayloadOrganization: domain,
    PayloadRemovalDisallowed: false,
    PayloadType: "Configuration",
    PayloadUUID: profileUuid,
    PayloadVersion: 1,
  };
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<plist version="1.0">`,
    plist(profile, ""),
    `</plist>`,
    ``,
  ].join("\n");
}

/** A download name: the address with anything outside [A-Za-z0-9._@-] replaced. */
export function mobileconfigFileName(address: string): string {
  return `${address.replace(/[^A-Za-z0-9._@-]/g, "_")}.mobileconfig`;
}
