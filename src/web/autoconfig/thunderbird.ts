// Thunderbird autoconfiguration, config-v1.1.xml. The format is Mozilla's
// (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat): <clientConfig version="1.1">
// with one <emailProvider id=DOMAIN>, its <domain>, display names, then <incomingServer
// type="imap"> and <outgoingServer type="smtp"> elements, each with hostname, port, socketType
// ("SSL" = implicit TLS, "STARTTLS"), username and authentication. The first server of each kind
// is the preferred one, the rest are alternatives: implicit TLS first (RFC 8314 §5.1).
// The user name is the placeholder %EMAILADDRESS%, which Thunderbird replaces with the address
// the user typed: our logins are full addresses.
import type { ClientSettings, Endpoint } from "./settings.ts";
import { xmlText } from "./xml.ts";

const SOCKET: Record<Endpoint["security"], string> = { tls: "SSL", starttls: "STARTTLS" };

function server(tag: "incomingServer" | "outgoingServer", type: "imap" | "smtp", e: Endpoint): string {
  return [
    `    <${tag} type="${type}">`,
    `      <hostname>${xmlText(e.host)}</hostname>`,
    `      <port>${e.port}</port>`,
    `      <socketType>${SOCKET[e.security]}</socketType>`,
    `      <username>%EMAILADDRESS%</username>`,
    // Our SASL mechanisms are PLAIN and LOGIN, inside TLS (src/submission/sasl.ts, imap AUTHENTICATE).
    `      <authentication>password-cleartext</authentication>`,
    `    </${tag}>`,
  ].join("\n");
}

export function thunderbirdConfig(domain: string, s: ClientSettings): string {
  const d = xmlText(domain);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<clientConfig version="1.1">`,
    `  <emailProvider id="${d}">`,
    `    <domain>${d}</domain>`,
    `    <displayName>${d}</displayName>`,
    `    <displayShortName>${d}</displayShortName>`,
    ...s.imap.map((e) => server("incomingServer", "imap", e)),
    ...s.smtp.map((e) => server("outgoingServer", "smtp", e)),
    `  </emailProvider>`,
    `</clientConfig>`,
    ``,
  ].join("\n");
}
