// Outlook autodiscover, two forms:
//
// 1. POX ("plain old XML", Exchange 2007's Autodiscover, which Outlook still uses for IMAP/SMTP
//    accounts): Outlook POSTs to https://autodiscover.<domain>/autodiscover/autodiscover.xml
//      <Autodiscover xmlns="…/outlook/requestschema/2006"><Request>
//        <EMailAddress>…</EMailAddress>
//        <AcceptableResponseSchema>…/outlook/responseschema/2006a</AcceptableResponseSchema>
//      </Request></Autodiscover>
//    and gets an <Account> with <AccountType>email</AccountType>, <Action>settings</Action> and a
//    <Protocol> per service (learn.microsoft.com "POX Autodiscover XML elements for Exchange":
//    Type IMAP/SMTP, Server, Port, LoginName, SPA, SSL, Encryption, AuthRequired,
//    DomainRequired). Encryption "SSL" is implicit TLS and "TLS" is STARTTLS; when Encryption is
//    present SSL is ignored, so both are given for older clients. Only the preferred endpoint of
//    each kind (implicit TLS first, RFC 8314 §5.1): Outlook takes the first Protocol of a Type.
//
// 2. JSON "Autodiscover v2": GET /autodiscover/autodiscover.json?Email=…&Protocol=AutodiscoverV1
//    (or …/autodiscover.json/v1.0/<address>?Protocol=…) answers {"Protocol","Url"} naming the POX
//    endpoint; other protocols (EWS, ActiveSync) are not offered, as Exchange Online answers them
//    with 400 InvalidProtocol.
//
// The request body is parsed with bounded regular expressions, not a general XML parser: no DTD,
// no entities beyond the five predefined ones, nothing fetched — a DOCTYPE is refused outright.
import type { ClientSettings, Endpoint } from "./settings.ts";
import { parseClientAddress, xmlText } from "./xml.ts";

export const POX_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
export const POX_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
export const OUTLOOK_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
export const MAX_POX_REQUEST = 16 * 1024;

export type PoxRequest =
  | { ok: true; address: string; domain: string }
  | { ok: false; reason: "malformed" | "schema" | "address" };

function element(xml: string, name: string): string | null {
  const re = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]{0,512})</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`);
  const m = re.exec(xml);
  return m ? decodeEntities(m[1].trim()) : null;
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" })[e]!);
}

/** Parses Outlook's POX request (see the header). */
export function parsePoxRequest(body: string): PoxRequest {
  if (body.length > MAX_POX_REQUEST || /<!(DOCTYPE|ENTITY)/i.test(body)) return { ok: false, reason: "malformed" };
  const root = /<(?:[A-Za-z_][\w.-]*:)?Autodiscover\b[^>]*\bxmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']/.exec(body);
  if (!root || root[1] !== POX_REQUEST_NS) return { ok: false, reason: "malformed" };
  const schema = element(body, "AcceptableResponseSchema");
  if (schema !== OUTLOOK_SCHEMA) return { ok: false, reason: "schema" };
  const raw = element(body, "EMailAddress");
  const a = raw === null ? null : parseClientAddress(raw);
  if (!a) return { ok: false, reason: "address" };
  return { ok: true, ...a };
}

function protocol(type: "IMAP" | "SMTP", e: Endpoint, login: string): string {
  return [
    `      <Protocol>`,
    `        <Type>${type}</Type>`,
    `        <Server>${xmlText(e.host)}</Server>`,
    `        <Port>${e.port}</Port>`,
    `        <DomainRequired>off</DomainRequired>`,
    `        <LoginName>${xmlText(login)}</LoginName>`,
    `        <SPA>off</SPA>`,
    `        <SSL>on</SSL>`,
    `        <Encryption>${e.security === "tls" ? "SSL" : "TLS"}</Encryption>`,
    `        <AuthRequired>on</AuthRequired>`,
    `      </Protocol>`,
  ].join("\n");
}

/** The POX answer for one address (already checked to be in a domain we serve). */
export function poxResponse(address: string, s: ClientSettings): string {
  return [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<Autodiscover xmlns="${POX_RESPONSE_NS}">`,
    `  <Response xmlns="${OUTLOOK_SCHEMA}">`,
    `    <Account>`,
    `      <AccountType>email</AccountType>`,
    `      <Action>settings</Action>`,
    ...(s.imap[0] ? [protocol("IMAP", s.imap[0], address)] : []),
    ...(s.smtp[0] ? [protocol("SMTP", s.smtp[0], address)] : []),
    `    </Account>`,
    `  </Response>`,
    `</Autodiscover>`,
    ``,
  ].join("\n");
}

/** The POX error answer (Exchange's code 600 "Invalid Request"; 601 for an unsupported schema). */
export function poxError(code: 600 | 601, message: string): string {
  return [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<Autodiscover xmlns="${POX_RESPONSE_NS}">`,
    `  <Response>`,
    `    <Error>`,
    `      <ErrorCode>${code}</ErrorCode>`,
    `      <Message>${xmlText(message)}</Message>`,
    `      <DebugData />`,
    `    </Error>`,
    `  </Response>`,
    `</Autodiscover>`,
    ``,
  ].join("\n");
}

export type JsonAutodiscover =
  | { status: 200; body: { Protocol: "AutodiscoverV1"; Url: string } }
  | { status: 400; body: { ErrorCode: "InvalidProtocol" | "InvalidEmail"; ErrorMessage: string } };

/** The JSON v2 answer; the domain check (404) is the caller's. */
export function jsonAutodiscover(domain: string, protocolName: string | undefined): JsonAutodiscover {
  if ((protocolName ?? "").toLowerCase() !== "autodiscoverv1") {
    return { status: 400, body: { ErrorCode: "InvalidProtocol", ErrorMessage: "The given protocol value is invalid. Supported values are 'AutodiscoverV1'." } };
  }
  return { status: 200, body: { Protocol: "AutodiscoverV1", Url: `https://autodiscover.${domain}/autodiscover/autodiscover.xml` } };
}
