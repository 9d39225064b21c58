// The WebDAV core with CardDAV and CalDAV on top (RFC 4918, RFC 6352, RFC 4791, RFC 6578,
// RFC 5397): a pure function from a request (method, path, headers, body bytes) and the
// authenticated user to a response. No HTTP framework here; plugin.ts adapts Fastify.
//
// URL space (every path ends in / for a collection):
//   /dav/principals/<user>/                        the principal (RFC 5397 current-user-principal)
//   /dav/addressbooks/<user>/[<book>/[<card>]]     address-book home, books, vCards
//   /dav/calendars/<user>/[<cal>/[<object>]]       calendar home, calendars, iCalendar objects
//   /dav/addressbooks/<user>/directory/            the read-only company directory of the domain
// <user> is the login address. A user reaches only their own paths; any other is 403.
import type { XmlElement, Out } from "./xml.ts";
import { CALDAV, CARDDAV, CS, APPLE, DAV, XmlError, child, children, document, el, is, parseXml } from "./xml.ts";
import type { Collection, CollectionKind, DavStore, Resource } from "./store.ts";
import { etagOf, parseSyncToken, syncToken } from "./store.ts";
import { ContentError, checkIcal, checkVcard, overlaps, parseComponents, parseIcalDate, prop } from "./content.ts";
import { busyPeriods, matchesTimeRange, parseCalendar } from "./recurrence.ts";
import type { Component } from "./content.ts";
import { directoryCards } from "./directory.ts";

export const DAV_ROOT = "/dav";
/** RFC 4918 has no size limit; ours: a PUT larger than this is 413 (issue 11). */
export const MAX_RESOURCE_BYTES = 10 * 1024 * 1024;
export const DIRECTORY = "directory";

export interface DavRequest {
  method: string;
  /** Decoded path, without the query. */
  path: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface DavResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface DavUser {
  address: string;
  displayName: string;
}

export interface DavContext {
  store: DavStore;
  /** The users of a domain, for the company directory. */
  domainUsers: (domain: string) => Promise<DavUser[]>;
}

const XML_TYPE = "application/xml; charset=utf-8";
const ALLOW = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, REPORT";

const KIND_OF: Record<string, CollectionKind> = { addressbooks: "addressbook", calendars: "calendar" };
const SEGMENT_OF: Record<CollectionKind, string> = { addressbook: "addressbooks", calendar: "calendars" };

type Target =
  | { t: "root" }
  | { t: "principals" }
  | { t: "principal"; user: string }
  | { t: "home"; user: string; kind: CollectionKind }
  | { t: "collection"; user: string; kind: CollectionKind; name: string }
  | { t: "resource"; user: string; kind: CollectionKind; coll: string; name: string };

/** A WebDAV error: a status and, where RFC 4918 §16 or the CalDAV/CardDAV preconditions name one, the condition element. */
export class DavError extends Error {
  readonly status: number;
  readonly condition: Out | null;
  constructor(status: number, condition: Out | null, message: string) {
    super(message);
    this.status = status;
    this.condition = condition;
  }
}

function errorResponse(e: DavError): DavResponse {
  // RFC 4918 §16: the body of an error is <D:error> with the precondition; we add the message.
  const kids: Out[] = e.condition ? [e.condition] : [];
  kids.push(el("http://freehold.invalid/ns", "message", e.message));
  return { status: e.status, headers: { "content-type": XML_TYPE }, body: document(el(DAV, "error", kids)) };
}

export function parseTarget(path: string): Target | null {
  if (!path.startsWith(DAV_ROOT + "/") && path !== DAV_ROOT) return null;
  const segs = path.slice(DAV_ROOT.length).split("/").filter((s) => s !== "");
  if (segs.some((s) => s === "." || s === ".." || s.length > 255 || /[\u0000-\u001f]/.test(s))) return null;
  if (segs.length === 0) return { t: "root" };
  if (segs[0] === "principals") {
    if (segs.length === 1) return { t: "principals" };
    if (segs.length === 2) return { t: "principal", user: segs[1].toLowerCase() };
    return null;
  }
  const kind = KIND_OF[segs[0]];
  if (!kind || segs.length < 2) return null;
  const user = segs[1].toLowerCase();
  if (segs.length === 2) return { t: "home", user, kind };
  if (segs.length === 3) return { t: "collection", user, kind, name: segs[2] };
  if (segs.length === 4) return { t: "resource", user, kind, coll: segs[2], name: segs[3] };
  return null;
}

const enc = (s: string) => encodeURIComponent(s).replace(/%40/g, "@");
const principalHref = (u: string) => `${DAV_ROOT}/principals/${enc(u)}/`;
const homeHref = (u: string, k: CollectionKind) => `${DAV_ROOT}/${SEGMENT_OF[k]}/${enc(u)}/`;
const collHref = (u: string, k: CollectionKind, n: string) => `${homeHref(u, k)}${enc(n)}/`;
const resHref = (u: string, k: CollectionKind, c: string, n: string) => `${collHref(u, k, c)}${enc(n)}`;

const domainOf = (a: string) => a.slice(a.lastIndexOf("@") + 1);

/** One collection as the handler sees it: stored, or the generated directory. */
interface CollView {
  kind: CollectionKind;
  name: string;
  displayname: string;
  description: string;
  color: string;
  token: string;
  readOnly: boolean;
  stored: Collection | null;
}

export async function handleDav(ctx: DavContext, user: DavUser, req: DavRequest): Promise<DavResponse> {
  try {
    return await dispatch(ctx, user, req);
  } catch (e) {
    if (e instanceof DavError) return errorResponse(e);
    if (e instanceof XmlError) return errorResponse(new DavError(400, null, e.message));
    throw e;
  }
}

async function dispatch(ctx: DavContext, user: DavUser, req: DavRequest): Promise<DavResponse> {
  const target = parseTarget(req.path);
  if (!target) throw new DavError(404, null, "no such resource");
  if ("user" in target && target.user !== user.address) {
    // RFC 4918 §16 / RFC 3744 §7.1.1: need-privileges. Another user's data is never served.
    throw new DavError(403, el(DAV, "need-privileges"), "this is another user's collection");
  }
  await ctx.store.ensureDefaults(user.address);
  switch (req.method) {
    case "OPTIONS":
      return { status: 200, headers: { allow: ALLOW, dav: "1, 3, access-control, addressbook, calendar-access, extended-mkcol" }, body: "" };
    case "PROPFIND":
      return propfind(ctx, user, target, req);
    case "PROPPATCH":
      return proppatch(ctx, user, target, req);
    case "MKCOL":
    case "MKCALENDAR":
      return mkcol(ctx, user, target, req);
    case "GET":
    case "HEAD":
      return get(ctx, user, target, req.method === "HEAD");
    case "PUT":
      return put(ctx, user, target, req);
    case "DELETE":
      return del(ctx, user, target, req);
    case "REPORT":
      return report(ctx, user, target, req);
    default:
      return { status: 405, headers: { allow: ALLOW }, body: "" };
  }
}

async function collection(ctx: DavContext, user: DavUser, kind: CollectionKind, name: string): Promise<CollView | null> {
  if (kind === "addressbook" && name === DIRECTORY) {
    const cards = await directoryCards(await ctx.domainUsers(domainOf(user.address)));
    const tag = etagOf(Buffer.from(cards.map((c) => c.etag).join(","))).slice(1, -1);
    return { kind, name, displayname: `Directory of ${domainOf(user.address)}`, description: "Every user of the domain (read-only)", color: "", token: `http://freehold.invalid/ns/sync/directory-${tag}`, readOnly: true, stored: null };
  }
  const c = await ctx.store.getCollection(user.address, kind, name);
  if (!c) return null;
  return { kind, name, displayname: c.displayname, description: c.description, color: c.color, token: syncToken(c), readOnly: false, stored: c };
}

async function resourcesOf(ctx: DavContext, user: DavUser, v: CollView): Promise<Resource[]> {
  if (v.stored) return ctx.store.listResources(v.stored.id);
  return directoryCards(await ctx.domainUsers(domainOf(user.address)));
}

async function resourceOf(ctx: DavContext, user: DavUser, v: CollView, name: string): Promise<Resource | null> {
  if (v.stored) return ctx.store.getResource(v.stored.id, name);
  return (await resourcesOf(ctx, user, v)).find((r) => r.name === name) ?? null;
}

async function collectionsOf(ctx: DavContext, user: DavUser, kind: CollectionKind): Promise<CollView[]> {
  const out: CollView[] = [];
  for (const c of await ctx.store.listCollections(user.address, kind)) out.push((await collection(ctx, user, kind, c.name))!);
  if (kind === "addressbook") out.push((await collection(ctx, user, kind, DIRECTORY))!);
  return out;
}

// ---- properties ---------------------------------------------------------------------------

type PropValue = Out[] | string | null;
interface Node {
  href: string;
  /** Property values by "ns local"; a missing key is 404 in the propstat. */
  props: Map<string, PropValue>;
}

const key = (ns: string, local: string) => `${ns} ${local}`;
const unkey = (k: string): [string, string] => {
  const i = k.lastIndexOf(" ");
  return [k.slice(0, i), k.slice(i + 1)];
};

function commonProps(user: DavUser): Map<string, PropValue> {
  const m = new Map<string, PropValue>();
  m.set(key(DAV, "current-user-principal"), [el(DAV, "href", principalHref(user.address))]);
  m.set(key(DAV, "principal-URL"), [el(DAV, "href", principalHref(user.address))]);
  m.set(key(DAV, "owner"), [el(DAV, "href", principalHref(user.address))]);
  m.set(key(CARDDAV, "addressbook-home-set"), [el(DAV, "href", homeHref(user.address, "addressbook"))]);
  m.set(key(CALDAV, "calendar-home-set"), [el(DAV, "href", homeHref(user.address, "calendar"))]);
  return m;
}

const privs = (write: boolean): Out[] =>
  (write ? ["read", "write", "write-properties", "write-content", "bind", "unbind"] : ["read"]).map((p) => el(DAV, "privilege", [el(DAV, p)]));

function reportSet(kind: CollectionKind | null): Out[] {
  const r = (ns: string, n: string) => el(DAV, "supported-report", [el(DAV, "report", [el(ns, n)])]);
  const out = [r(DAV, "sync-collection")];
  if (kind === "addressbook") out.push(r(CARDDAV, "addressbook-query"), r(CARDDAV, "addressbook-multiget"));
  if (kind === "calendar") out.push(r(CALDAV, "calendar-query"), r(CALDAV, "calendar-multiget"), r(CALDAV, "free-busy-query"));
  return out;
}

function plainNode(user: DavUser, href: string, resourcetype: Out[], displayname: string, extra: [string, PropValue][] = []): Node {
  const props = commonProps(user);
  props.set(key(DAV, "resourcetype"), resourcetype);
  props.set(key(DAV, "displayname"), displayname);
  props.set(key(DAV, "current-user-privilege-set"), privs(false));
  props.set(key(DAV, "supported-report-set"), reportSet(null));
  for (const [k, v] of extra) props.set(k, v);
  return { href, props };
}

function principalNode(user: DavUser): Node {
  return plainNode(user, principalHref(user.address), [el(DAV, "principal")], user.displayName || user.address, [
    [key(CALDAV, "calendar-user-address-set"), [el(DAV, "href", `mailto:${user.address}`)]],
    [key(CARDDAV, "principal-address"), null],
  ]);
}

function homeNode(user: DavUser, kind: CollectionKind): Node {
  const n = plainNode(user, homeHref(user.address, kind), [el(DAV, "collection")], kind === "addressbook" ? "Address books" : "Calendars");
  n.props.set(key(DAV, "current-user-privilege-set"), [el(DAV, "privilege", [el(DAV, "read")]), el(DAV, "privilege", [el(DAV, "bind")])]);
  return n;
}

function collectionNode(user: DavUser, v: CollView): Node {
  const type = v.kind === "addressbook" ? [el(DAV, "collection"), el(CARDDAV, "addressbook")] : [el(DAV, "collection"), el(CALDAV, "calendar")];
  const props = commonProps(user);
  props.set(key(DAV, "resourcetype"), type);
  props.set(key(DAV, "displayname"), v.displayname);
  props.set(key(DAV, "sync-token"), v.token);
  // RFC 4918 §15.6: a collection's ETag changes with its content, as the sync token does.
  props.set(key(DAV, "getetag"), etagOf(Buffer.from(v.token)));
  // getctag (calendarserver.org, draft-daboo-webdav-sync's predecessor): changes with every write.
  props.set(key(CS, "getctag"), v.token);
  props.set(key(DAV, "current-user-privilege-set"), privs(!v.readOnly));
  props.set(key(DAV, "supported-report-set"), reportSet(v.kind));
  if (v.kind === "addressbook") {
    props.set(key(CARDDAV, "addressbook-description"), v.description);
    props.set(key(CARDDAV, "supported-address-data"), ["3.0", "4.0"].map((version) => ({ ns: CARDDAV, local: "address-data-type", attrs: { "content-type": "text/vcard", version } })));
    props.set(key(CARDDAV, "max-resource-size"), String(MAX_RESOURCE_BYTES));
  } else {
    props.set(key(CALDAV, "calendar-description"), v.description);
    props.set(key(APPLE, "calendar-color"), v.color || null);
    props.set(key(CALDAV, "supported-calendar-component-set"), ["VEVENT", "VTODO", "VJOURNAL"].map((name) => ({ ns: CALDAV, local: "comp", attrs: { name } })));
    props.set(key(CALDAV, "max-resource-size"), String(MAX_RESOURCE_BYTES));
  }
  return { href: collHref(user.address, v.kind, v.name), props };
}

function resourceNode(user: DavUser, v: CollView, r: Resource): Node {
  const props = commonProps(user);
  props.set(key(DAV, "resourcetype"), []);
  props.set(key(DAV, "getetag"), r.etag);
  props.set(key(DAV, "getcontenttype"), r.contentType);
  props.set(key(DAV, "getcontentlength"), String(r.bytes?.length ?? 0));
  props.set(key(DAV, "current-user-privilege-set"), privs(!v.readOnly));
  const data = r.bytes ? r.bytes.toString("utf8") : "";
  if (v.kind === "addressbook") props.set(key(CARDDAV, "address-data"), data);
  else props.set(key(CALDAV, "calendar-data"), data);
  return { href: resHref(user.address, v.kind, v.name, r.name), props };
}

/** Which properties a PROPFIND/REPORT asks for: a list, or all (allprop / no body). */
type Wanted = { all: true } | { all: false; names: [string, string][] } | { all: false; namesOnly: true };

function wantedOf(root: XmlElement | null): Wanted {
  if (!root) return { all: true };
  const p = child(root, DAV, "prop");
  if (p) return { all: false, names: p.children.map((c) => [c.ns, c.local]) };
  if (child(root, DAV, "propname")) return { all: false, namesOnly: true };
  return { all: true };
}

/** Properties allprop leaves out (RFC 4918 §9.1: computed or expensive ones). */
const NOT_IN_ALLPROP = new Set([key(CARDDAV, "address-data"), key(CALDAV, "calendar-data"), key(DAV, "current-user-privilege-set"), key(DAV, "supported-report-set")]);

function responseOf(n: Node, w: Wanted): Out {
  const found: Out[] = [];
  const missing: Out[] = [];
  const add = (ns: string, local: string, v: PropValue | undefined, namesOnly = false) => {
    if (v === undefined || v === null) missing.push(el(ns, local));
    else if (namesOnly) found.push(el(ns, local));
    else found.push(compValue(ns, local, v));
  };
  if (w.all) {
    for (const [k, v] of n.props) if (!NOT_IN_ALLPROP.has(k) && v !== null) add(...unkey(k), v);
  } else if ("namesOnly" in w) {
    for (const [k, v] of n.props) if (v !== null) add(...unkey(k), v, true);
  } else {
    for (const [ns, local] of w.names) add(ns, local, n.props.get(key(ns, local)));
  }
  const stats: Out[] = [];
  if (found.length) stats.push(el(DAV, "propstat", [el(DAV, "prop", found), el(DAV, "status", "HTTP/1.1 200 OK")]));
  if (missing.length) stats.push(el(DAV, "propstat", [el(DAV, "prop", missing), el(DAV, "status", "HTTP/1.1 404 Not Found")]));
  return el(DAV, "response", [el(DAV, "href", n.href), ...stats]);
}

function compValue(ns: string, local: string, v: Out[] | string): Out {
  return typeof v === "string" ? el(ns, local, v) : el(ns, local, v);
}

const multistatus = (responses: Out[], extra: Out[] = []): DavResponse => ({
  status: 207,
  headers: { "content-type": XML_TYPE },
  body: document(el(DAV, "multistatus", [...responses, ...extra])),
});

function bodyXml(req: DavRequest): XmlElement | null {
  const text = req.body.toString("utf8").trim();
  return text === "" ? null : parseXml(text);
}

async function propfind(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  const depthHeader = req.headers["depth"] ?? "infinity";
  // RFC 4918 §9.1: a server may refuse Depth: infinity (propfind-finite-depth).
  if (depthHeader !== "0" && depthHeader !== "1") throw new DavError(403, el(DAV, "propfind-finite-depth"), "Depth must be 0 or 1");
  const depth = Number(depthHeader);
  const root = bodyXml(req);
  if (root && !is(root, DAV, "propfind")) throw new DavError(400, null, "the body must be a DAV:propfind");
  const w = wantedOf(root);
  const nodes: Node[] = [];
  switch (target.t) {
    case "root":
    case "principals":
      nodes.push(plainNode(user, target.t === "root" ? `${DAV_ROOT}/` : `${DAV_ROOT}/principals/`, [el(DAV, "collection")], "Freehold"));
      if (depth === 1 && target.t === "principals") nodes.push(principalNode(user));
      break;
    case "principal":
      nodes.push(principalNode(user));
      break;
    case "home":
      nodes.push(homeNode(user, target.kind));
      if (depth === 1) for (const v of await collectionsOf(ctx, user, target.kind)) nodes.push(collectionNode(user, v));
      break;
    case "collection": {
      const v = await collection(ctx, user, target.kind, target.name);
      if (!v) throw new DavError(404, null, "no such collection");
      nodes.push(collectionNode(user, v));
      if (depth === 1) for (const r of await resourcesOf(ctx, user, v)) nodes.push(resourceNode(user, v, r));
      break;
    }
    case "resource": {
      const v = await collection(ctx, user, target.kind, target.coll);
      const r = v ? await resourceOf(ctx, user, v, target.name) : null;
      if (!v || !r) throw new DavError(404, null, "no such resource");
      nodes.push(resourceNode(user, v, r));
      break;
    }
  }
  return multistatus(nodes.map((n) => responseOf(n, w)));
}

const WRITABLE = new Map<string, "displayname" | "description" | "color">([
  [key(DAV, "displayname"), "displayname"],
  [key(CARDDAV, "addressbook-description"), "description"],
  [key(CALDAV, "calendar-description"), "description"],
  [key(APPLE, "calendar-color"), "color"],
]);

/** Reads set/remove of the writable properties; anything else is refused (RFC 4918 §9.2: all or nothing). */
function propUpdates(root: XmlElement): { updates: Record<string, string>; names: [string, string][]; refused: boolean } {
  const updates: Record<string, string> = {};
  const names: [string, string][] = [];
  let refused = false;
  for (const op of root.children) {
    const isSet = is(op, DAV, "set");
    if (!isSet && !is(op, DAV, "remove")) continue;
    for (const p of child(op, DAV, "prop")?.children ?? []) {
      names.push([p.ns, p.local]);
      const field = WRITABLE.get(key(p.ns, p.local));
      if (!field) refused = true;
      else updates[field] = isSet ? p.text.trim() : "";
    }
  }
  return { updates, names, refused };
}

async function proppatch(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  const root = bodyXml(req);
  if (!root || !is(root, DAV, "propertyupdate")) throw new DavError(400, null, "the body must be a DAV:propertyupdate");
  if (target.t !== "collection") throw new DavError(403, el(DAV, "cannot-modify-protected-property"), "only collections have writable properties");
  const v = await collection(ctx, user, target.kind, target.name);
  if (!v) throw new DavError(404, null, "no such collection");
  if (v.readOnly || !v.stored) throw new DavError(403, el(DAV, "need-privileges"), "the directory is read-only");
  const { updates, names, refused } = propUpdates(root);
  if (!refused) await ctx.store.setProps(v.stored.id, updates);
  // RFC 4918 §9.2.1: on any refusal nothing is applied; the others are 424 Failed Dependency.
  const status = (ns: string, local: string) => (!refused ? "HTTP/1.1 200 OK" : WRITABLE.has(key(ns, local)) ? "HTTP/1.1 424 Failed Dependency" : "HTTP/1.1 403 Forbidden");
  const groups = new Map<string, Out[]>();
  for (const [ns, local] of names) {
    const s = status(ns, local);
    groups.set(s, [...(groups.get(s) ?? []), el(ns, local)]);
  }
  const stats = [...groups].map(([s, props]) => el(DAV, "propstat", [el(DAV, "prop", props), el(DAV, "status", s)]));
  return multistatus([el(DAV, "response", [el(DAV, "href", collHref(user.address, target.kind, target.name)), ...stats])]);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

async function mkcol(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  if (target.t !== "collection") throw new DavError(403, null, "collections are created in an address-book or calendar home");
  if (!NAME.test(target.name) || target.name === DIRECTORY) throw new DavError(403, null, "the collection name is not allowed");
  let kind: CollectionKind = target.kind;
  let props: Record<string, string> = {};
  const root = bodyXml(req);
  if (req.method === "MKCALENDAR") {
    if (target.kind !== "calendar") throw new DavError(403, el(CALDAV, "calendar-collection-location-ok"), "calendars are created in the calendar home");
    if (root && !is(root, CALDAV, "mkcalendar")) throw new DavError(400, null, "the body must be a CALDAV:mkcalendar");
  } else if (root) {
    // RFC 5689 extended MKCOL: the resourcetype says what is made.
    if (!is(root, DAV, "mkcol")) throw new DavError(415, null, "the body must be a DAV:mkcol");
    const rt = child(child(child(root, DAV, "set"), DAV, "prop"), DAV, "resourcetype");
    const isBook = !!child(rt, CARDDAV, "addressbook");
    const isCal = !!child(rt, CALDAV, "calendar");
    kind = isBook ? "addressbook" : isCal ? "calendar" : target.kind;
    if (kind !== target.kind || (!isBook && !isCal)) throw new DavError(403, el(DAV, "valid-resourcetype"), "only address books and calendars, each in its own home");
  } else if (target.kind !== "addressbook") {
    throw new DavError(403, el(DAV, "valid-resourcetype"), "a plain MKCOL makes an address book; use MKCALENDAR for a calendar");
  }
  if (root) {
    const { updates, refused } = propUpdates(root);
    if (refused) {
      // Unknown props in MKCOL (other than resourcetype) are ignored rather than failing the creation.
    }
    props = updates;
  }
  const made = await ctx.store.createCollection(user.address, kind, target.name, props);
  if (!made) throw new DavError(405, el(DAV, "resource-must-be-null"), "the collection exists");
  return { status: 201, headers: {}, body: "" };
}

async function get(ctx: DavContext, user: DavUser, target: Target, head: boolean): Promise<DavResponse> {
  if (target.t !== "resource") {
    return { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: head ? "" : "Freehold CardDAV/CalDAV: use a CardDAV or CalDAV client (docs/contacts.md).\n" };
  }
  const v = await collection(ctx, user, target.kind, target.coll);
  const r = v ? await resourceOf(ctx, user, v, target.name) : null;
  if (!v || !r || !r.bytes) throw new DavError(404, null, "no such resource");
  return { status: 200, headers: { "content-type": r.contentType, etag: r.etag }, body: head ? "" : r.bytes };
}

/** The one ETag of an If-Match / If-None-Match header, "*", or undefined; lists are read as their first tag. */
function tagOf(h: string | undefined): string | undefined {
  if (h === undefined) return undefined;
  const t = h.trim();
  if (t === "*") return "*";
  const m = /^(?:W\/)?("[^"]*")/.exec(t);
  return m ? m[1] : t;
}

async function put(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  if (target.t !== "resource") throw new DavError(405, null, "PUT goes to a resource inside a collection");
  const v = await collection(ctx, user, target.kind, target.coll);
  if (!v) throw new DavError(409, null, "no such collection");
  if (v.readOnly || !v.stored) throw new DavError(403, el(DAV, "need-privileges"), "the directory is read-only");
  if (req.body.length > MAX_RESOURCE_BYTES) throw new DavError(413, el(v.kind === "addressbook" ? CARDDAV : CALDAV, "max-resource-size"), `at most ${MAX_RESOURCE_BYTES} bytes`);
  if (!NAME.test(target.name)) throw new DavError(403, null, "the resource name is not allowed");
  let uid: string | null;
  let contentType: string;
  try {
    if (v.kind === "addressbook") {
      // RFC 6352 §6.3.2.1: supported-address-data and valid-address-data.
      uid = checkVcard(req.body).uid;
      contentType = "text/vcard; charset=utf-8";
    } else {
      // RFC 4791 §5.3.2.1: valid-calendar-data, valid-calendar-object-resource.
      uid = checkIcal(req.body).uid;
      contentType = "text/calendar; charset=utf-8";
    }
  } catch (e) {
    if (!(e instanceof ContentError)) throw e;
    throw new DavError(400, v.kind === "addressbook" ? el(CARDDAV, "valid-address-data") : el(CALDAV, "valid-calendar-data"), e.message);
  }
  const ifMatch = tagOf(req.headers["if-match"]);
  const ifNoneMatch = req.headers["if-none-match"]?.trim() === "*";
  const r = await ctx.store.putResource(v.stored.id, { name: target.name, uid, contentType, bytes: req.body }, { ifMatch, ifNoneMatch });
  if (!r.ok) {
    if (r.reason === "precondition") throw new DavError(412, null, ifNoneMatch ? "the resource exists (If-None-Match: *)" : "the resource has changed (If-Match)");
    throw new DavError(409, el(v.kind === "addressbook" ? CARDDAV : CALDAV, "no-uid-conflict"), "another resource in this collection has that UID");
  }
  // RFC 4791 §5.3.4 / RFC 6352: the ETag may be returned since the stored bytes are exactly the sent ones.
  return { status: r.created ? 201 : 204, headers: { etag: r.etag }, body: "" };
}

async function del(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  if (target.t === "collection") {
    const v = await collection(ctx, user, target.kind, target.name);
    if (!v) throw new DavError(404, null, "no such collection");
    if (!v.stored || v.readOnly) throw new DavError(403, el(DAV, "need-privileges"), "the directory is read-only");
    await ctx.store.deleteCollection(v.stored.id);
    return { status: 204, headers: {}, body: "" };
  }
  if (target.t !== "resource") throw new DavError(403, null, "this cannot be deleted");
  const v = await collection(ctx, user, target.kind, target.coll);
  if (!v) throw new DavError(404, null, "no such collection");
  if (!v.stored || v.readOnly) throw new DavError(403, el(DAV, "need-privileges"), "the directory is read-only");
  const r = await ctx.store.deleteResource(v.stored.id, target.name, tagOf(req.headers["if-match"]));
  if (r === "absent") throw new DavError(404, null, "no such resource");
  if (r === "precondition") throw new DavError(412, null, "the resource has changed (If-Match)");
  return { status: 204, headers: {}, body: "" };
}

// ---- REPORT -----------------------------------------------------------------------------------

async function report(ctx: DavContext, user: DavUser, target: Target, req: DavRequest): Promise<DavResponse> {
  const root = bodyXml(req);
  if (!root) throw new DavError(400, null, "REPORT needs a body");
  if (target.t !== "collection" && target.t !== "resource") throw new DavError(403, el(DAV, "supported-report"), "reports run on a collection");
  const collName = target.t === "collection" ? target.name : target.coll;
  const v = await collection(ctx, user, target.kind, collName);
  if (!v) throw new DavError(404, null, "no such collection");
  const w = wantedOf(root);
  if (is(root, DAV, "sync-collection")) return syncCollection(ctx, user, v, root, w);
  if ((is(root, CARDDAV, "addressbook-multiget") && v.kind === "addressbook") || (is(root, CALDAV, "calendar-multiget") && v.kind === "calendar")) {
    const out: Out[] = [];
    for (const h of children(root, DAV, "href")) {
      const href = decodeHref(h.text.trim());
      const prefix = collHref(user.address, v.kind, v.name);
      const name = href.startsWith(prefix) ? href.slice(prefix.length) : null;
      const r = name ? await resourceOf(ctx, user, v, decodeURIComponent(name)) : null;
      if (!r) out.push(el(DAV, "response", [el(DAV, "href", h.text.trim()), el(DAV, "status", "HTTP/1.1 404 Not Found")]));
      else out.push(responseOf(resourceNode(user, v, r), w));
    }
    return multistatus(out);
  }
  if (is(root, CARDDAV, "addressbook-query") && v.kind === "addressbook") {
    const filter = child(root, CARDDAV, "filter");
    const out: Out[] = [];
    for (const r of await resourcesOf(ctx, user, v)) if (cardMatches(r, filter)) out.push(responseOf(resourceNode(user, v, r), w));
    return multistatus(out);
  }
  if (is(root, CALDAV, "calendar-query") && v.kind === "calendar") {
    const filter = child(root, CALDAV, "filter");
    const out: Out[] = [];
    for (const r of await resourcesOf(ctx, user, v)) if (calMatches(r, filter)) out.push(responseOf(resourceNode(user, v, r), w));
    return multistatus(out);
  }
  if (is(root, CALDAV, "free-busy-query") && v.kind === "calendar") return freeBusy(ctx, user, v, root);
  throw new DavError(403, el(DAV, "supported-report"), "this report is not supported here");
}

function decodeHref(h: string): string {
  // A client may send an absolute URL (RFC 4918 §8.3): keep the path.
  const m = /^https?:\/\/[^/]+(\/.*)$/.exec(h);
  return m ? m[1] : h;
}

async function syncCollection(ctx: DavContext, user: DavUser, v: CollView, root: XmlElement, w: Wanted): Promise<DavResponse> {
  const tokenText = child(root, DAV, "sync-token")?.text.trim() ?? "";
  const out: Out[] = [];
  if (tokenText === "" || !v.stored) {
    if (tokenText !== "" && tokenText !== v.token) throw new DavError(403, el(DAV, "valid-sync-token"), "the sync token is not valid");
    if (tokenText === "") for (const r of await resourcesOf(ctx, user, v)) out.push(responseOf(resourceNode(user, v, r), w));
  } else {
    const rev = parseSyncToken(v.stored, tokenText);
    // RFC 6578 §3.2: an unknown or foreign token is 403 with valid-sync-token.
    if (rev === null) throw new DavError(403, el(DAV, "valid-sync-token"), "the sync token is not valid");
    for (const r of await ctx.store.changesSince(v.stored.id, rev)) {
      const href = resHref(user.address, v.kind, v.name, r.name);
      if (r.bytes === null) out.push(el(DAV, "response", [el(DAV, "href", href), el(DAV, "status", "HTTP/1.1 404 Not Found")]));
      else out.push(responseOf(resourceNode(user, v, r), w));
    }
  }
  return multistatus(out, [el(DAV, "sync-token", v.token)]);
}

/** RFC 6352 §10.5: prop-filter with text-match (contains/equals/starts-with/ends-with), anyof/allof. */
function cardMatches(r: Resource, filter: XmlElement | undefined): boolean {
  const pfs = children(filter, CARDDAV, "prop-filter");
  if (!filter || pfs.length === 0 || !r.bytes) return true;
  let card: Component;
  try {
    card = parseComponents(r.bytes.toString("utf8"));
  } catch {
    return false;
  }
  const allof = filter.attrs["test"] === "allof";
  const one = (pf: XmlElement): boolean => {
    const name = (pf.attrs["name"] ?? "").toUpperCase();
    const values = card.props.filter((p) => p.name === name);
    if (child(pf, CARDDAV, "is-not-defined")) return values.length === 0;
    const tms = children(pf, CARDDAV, "text-match");
    if (tms.length === 0) return values.length > 0;
    const pfAll = pf.attrs["test"] === "allof";
    const res = tms.map((tm) => values.some((p) => textMatch(p.value, tm)));
    return pfAll ? res.every(Boolean) : res.some(Boolean);
  };
  return allof ? pfs.every(one) : pfs.some(one);
}

function textMatch(value: string, tm: XmlElement): boolean {
  // RFC 4790 i;unicode-casemap approximated by case folding.
  const a = value.toLowerCase();
  const b = tm.text.toLowerCase();
  const type = tm.attrs["match-type"] ?? "contains";
  const hit = type === "equals" ? a === b : type === "starts-with" ? a.startsWith(b) : type === "ends-with" ? a.endsWith(b) : a.includes(b);
  return tm.attrs["negate-condition"] === "yes" ? !hit : hit;
}

/** RFC 4791 §9.7: comp-filter VCALENDAR > comp-filter VEVENT/VTODO with an optional time-range. */
function calMatches(r: Resource, filter: XmlElement | undefined): boolean {
  if (!r.bytes) return false;
  const top = child(filter, CALDAV, "comp-filter");
  if (!top) return true;
  let cal: Component;
  try {
    cal = parseComponents(r.bytes.toString("utf8"));
  } catch {
    return false;
  }
  if ((top.attrs["name"] ?? "").toUpperCase() !== cal.name) return false;
  const inner = children(top, CALDAV, "comp-filter");
  if (inner.length === 0) return true;
  return inner.every((cf) => {
    const name = (cf.attrs["name"] ?? "").toUpperCase();
    const comps = cal.children.filter((c) => c.name === name);
    if (child(cf, CALDAV, "is-not-defined")) return comps.length === 0;
    if (comps.length === 0) return false;
    const tr = child(cf, CALDAV, "time-range");
    if (!tr) return true;
    const { start, end } = rangeOf(tr);
    // RFC 4791 §9.9: per instance (RRULE/RDATE/EXDATE, overrides, VTIMEZONE): src/dav/recurrence.ts.
    const ical = parseCalendar(r.bytes!.toString("utf8"));
    return (ical ? matchesTimeRange(ical, name, start, end) : null) ?? comps.some((c) => overlaps(c, start, end));
  });
}

function rangeOf(tr: XmlElement): { start: number; end: number } {
  const s = tr.attrs["start"] ? parseIcalDate(tr.attrs["start"]) : -8.64e15;
  const e = tr.attrs["end"] ? parseIcalDate(tr.attrs["end"]) : 8.64e15;
  // RFC 4791 §9.9: start and end are UTC date-times.
  if (s === null || e === null) throw new DavError(400, el(CALDAV, "valid-filter"), "time-range start/end must be UTC date-times");
  return { start: s, end: e };
}

/** RFC 4791 §7.10: VFREEBUSY of the busy events in the range (TRANSP:TRANSPARENT and CANCELLED are free). */
async function freeBusy(ctx: DavContext, user: DavUser, v: CollView, root: XmlElement): Promise<DavResponse> {
  const tr = child(root, CALDAV, "time-range");
  if (!tr) throw new DavError(400, el(CALDAV, "valid-filter"), "free-busy-query needs a time-range");
  const { start, end } = rangeOf(tr);
  const fmt = (t: number) => new Date(t).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const busy: string[] = [];
  for (const r of await resourcesOf(ctx, user, v)) {
    let cal: Component;
    try {
      cal = parseComponents(r.bytes!.toString("utf8"));
    } catch {
      continue;
    }
    // One busy period per instance in the range (RFC 4791 §7.10): src/dav/recurrence.ts.
    const ical = parseCalendar(r.bytes!.toString("utf8"));
    const periods = ical ? busyPeriods(ical, start, end) : null;
    if (periods) {
      for (const p of periods) busy.push(`FREEBUSY:${fmt(p.start)}/${fmt(p.end)}`);
      continue;
    }
    for (const c of cal.children) {
      if (c.name !== "VEVENT" || prop(c, "TRANSP")?.value === "TRANSPARENT" || prop(c, "STATUS")?.value === "CANCELLED") continue;
      if (prop(c, "RRULE") || prop(c, "RDATE")) continue; // ical.js could not read it: no expansion
      if (!overlaps(c, start, end)) continue;
      const s = parseIcalDate(prop(c, "DTSTART")!.value)!;
      const de = prop(c, "DTEND");
      const e = de ? parseIcalDate(de.value) ?? s : s;
      busy.push(`FREEBUSY:${fmt(Math.max(s, start))}/${fmt(Math.min(e, end))}`);
    }
  }
  const body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Freehold//DAV//EN", "BEGIN:VFREEBUSY", `DTSTAMP:${fmt(Date.now())}`, `DTSTART:${fmt(start)}`, `DTEND:${fmt(end)}`, ...busy, "END:VFREEBUSY", "END:VCALENDAR", ""].join("\r\n");
  return { status: 200, headers: { "content-type": "text/calendar; charset=utf-8" }, body };
}
