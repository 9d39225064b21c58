// XML in and out for WebDAV (RFC 4918 §14), with namespaces resolved.
//
// Parsing uses fast-xml-parser with entity processing off, and refuses any DOCTYPE outright:
// WebDAV bodies never need one, and that closes XXE and entity-expansion bombs (RFC 4918 §20.6).
// Output is built by the typed builder below, never by scattered concatenation.
import { XMLParser, XMLValidator } from "fast-xml-parser";

export const DAV = "DAV:";
export const CARDDAV = "urn:ietf:params:xml:ns:carddav";
export const CALDAV = "urn:ietf:params:xml:ns:caldav";
export const CS = "http://calendarserver.org/ns/";
export const APPLE = "http://apple.com/ns/ical/";

export interface XmlElement {
  ns: string;
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export class XmlError extends Error {}

/** At most this many elements in one request body (a PROPFIND lists tens; a multiget hundreds). */
const MAX_ELEMENTS = 20_000;
const MAX_DEPTH = 64;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

type Node = Record<string, unknown> & { ":@"?: Record<string, string> };

/** Parses a request body; throws XmlError on anything not well-formed or with a DOCTYPE. */
export function parseXml(body: string): XmlElement {
  if (/<!DOCTYPE/i.test(body) || /<!ENTITY/i.test(body)) throw new XmlError("DOCTYPE is not allowed");
  const v = XMLValidator.validate(body);
  if (v !== true) throw new XmlError(`not well-formed XML: ${v.err.msg}`);
  // The validator lets some broken input through (`<prop/`, found by the fuzzer below), which
  // the parser then refuses with a plain Error: that is malformed XML too, a 400, never a 500.
  let nodes: Node[];
  try {
    nodes = parser.parse(body) as Node[];
  } catch (err) {
    throw new XmlError(`not well-formed XML: ${(err as Error).message}`);
  }
  let count = 0;
  const convert = (node: Node, scope: Map<string, string>, depth: number): XmlElement | null => {
    const tag = Object.keys(node).find((k) => k !== ":@");
    if (!tag || tag === "#text" || tag.startsWith("?") || tag === "#comment") return null;
    if (++count > MAX_ELEMENTS || depth > MAX_DEPTH) throw new XmlError("the XML body is too large or too deep");
    const rawAttrs = node[":@"] ?? {};
    const local = new Map(scope);
    const attrs: Record<string, string> = {};
    for (const [k, val] of Object.entries(rawAttrs)) {
      if (k === "xmlns") local.set("", val);
      else if (k.startsWith("xmlns:")) local.set(k.slice(6), val);
      else attrs[k] = val;
    }
    const i = tag.indexOf(":");
    const prefix = i < 0 ? "" : tag.slice(0, i);
    const name = i < 0 ? tag : tag.slice(i + 1);
    const ns = local.get(prefix);
    if (ns === undefined && prefix !== "") throw new XmlError(`undeclared namespace prefix ${prefix}`);
    const el: XmlElement = { ns: ns ?? "", local: name, attrs, children: [], text: "" };
    for (const child of (node[tag] as Node[]) ?? []) {
      if ("#text" in child) el.text += decodeText(String(child["#text"]));
      else {
        const c = convert(child, local, depth + 1);
        if (c) el.children.push(c);
      }
    }
    return el;
  };
  const roots = nodes.map((n) => convert(n, new Map(), 0)).filter((e): e is XmlElement => e !== null);
  if (roots.length !== 1) throw new XmlError("expected one root element");
  return roots[0];
}

/** The predefined entities and character references (XML 1.0 §4.6, §4.1); nothing else. */
function decodeText(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-f]{1,6}|#[0-9]{1,7});/gi, (_m, e: string) => {
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (e in named) return named[e];
    const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
  });
}

export function child(el: XmlElement | undefined, ns: string, local: string): XmlElement | undefined {
  return el?.children.find((c) => c.ns === ns && c.local === local);
}

export function children(el: XmlElement | undefined, ns: string, local: string): XmlElement[] {
  return el?.children.filter((c) => c.ns === ns && c.local === local) ?? [];
}

export const is = (el: XmlElement, ns: string, local: string): boolean => el.ns === ns && el.local === local;

// ---- output ---------------------------------------------------------------------------------

const PREFIX: Record<string, string> = { [DAV]: "d", [CARDDAV]: "card", [CALDAV]: "cal", [CS]: "cs", [APPLE]: "ical" };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"));
}

/** An element to write: a name in a namespace with text, children, or nothing. */
export interface Out {
  ns: string;
  local: string;
  text?: string;
  children?: Out[];
  attrs?: Record<string, string>;
}

export const el = (ns: string, local: string, content?: string | Out[]): Out =>
  typeof content === "string" ? { ns, local, text: content } : { ns, local, children: content };

function write(o: Out, extra: Map<string, string>): string {
  let prefix = PREFIX[o.ns];
  let decl = "";
  if (prefix === undefined) {
    // A namespace we do not know (a client's own property): declared on the element itself.
    prefix = extra.get(o.ns) ?? `x${extra.size}`;
    extra.set(o.ns, prefix);
    decl = ` xmlns:${prefix}="${escapeXml(o.ns)}"`;
  }
  const name = o.ns === "" ? o.local : `${prefix}:${o.local}`;
  if (o.ns === "") decl = "";
  for (const [k, v] of Object.entries(o.attrs ?? {})) decl += ` ${k}="${escapeXml(v)}"`;
  if (o.text !== undefined) return `<${name}${decl}>${escapeXml(o.text)}</${name}>`;
  if (!o.children || o.children.length === 0) return `<${name}${decl}/>`;
  return `<${name}${decl}>${o.children.map((c) => write(c, extra)).join("")}</${name}>`;
}

/** A whole document with every known namespace declared on the root. */
export function document(root: Out): string {
  const decls = Object.entries(PREFIX).map(([ns, p]) => ` xmlns:${p}="${ns}"`).join("");
  const body = write(root, new Map());
  const i = body.search(/[ />]/);
  return `<?xml version="1.0" encoding="utf-8"?>\n${body.slice(0, i)}${decls}${body.slice(i)}`;
}
