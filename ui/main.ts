// The Freehold admin and account pages (issue 9 items 3 and 4; docs/web.md "Admin UI").
// Vanilla TypeScript, no framework: every page is built with h() (text is always set as text,
// never as HTML, so nothing an API returns can inject markup). All data comes from /api/v1 with
// the session cookie; state changes carry the X-CSRF-Token the login returned.

type Role = "admin" | "domain-admin" | "user";
interface Me {
  address: string;
  role: Role;
  csrfToken: string;
}
type Child = Node | string | null | undefined | false;

let me: Me | null = null;

// ---------- DOM helpers ----------
function h(tag: string, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
const main = () => document.getElementById("main") as HTMLElement;

function show(title: string, ...children: Child[]): void {
  document.title = `${title} · Freehold`;
  main().replaceChildren(h("h1", {}, title), ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  main().focus({ preventScroll: true });
}
function notice(text: string, kind: "error" | "ok" = "error"): HTMLElement {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
function empty(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}
function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
function table(head: string[], rows: Child[][], caption: string): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, h("caption", { class: "sr-only" }, caption), h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => h("td", { "data-label": head[i] ?? "" }, c)))))),
  );
}
function field(label: string, input: HTMLElement): HTMLElement {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}
function form(label: string, fields: HTMLElement[], submit: string, onSubmit: (f: HTMLFormElement) => Promise<void>): HTMLFormElement {
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const f = h("form", { "aria-label": label }, ...fields, h("button", { type: "submit" }, submit), status) as HTMLFormElement;
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.replaceChildren();
    try {
      await onSubmit(f);
    } catch (err) {
      status.replaceChildren(notice(errText(err)));
    }
  });
  return f;
}
function input(name: string, type = "text", extra: Record<string, string | boolean> = {}): HTMLInputElement {
  return h("input", { name, type, ...extra }) as HTMLInputElement;
}
function val(f: HTMLFormElement, name: string): string {
  return ((f.elements.namedItem(name) as HTMLInputElement | null)?.value ?? "").trim();
}
function button(text: string, onClick: () => Promise<void> | void, cls = ""): HTMLButtonElement {
  const b = h("button", { type: "button", class: cls }, text) as HTMLButtonElement;
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (err) {
      b.after(notice(errText(err)));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
function copyButton(text: string, what: string): HTMLButtonElement {
  const b = button(
    "Copy",
    async () => {
      await navigator.clipboard?.writeText(text).catch(() => undefined);
    },
    "small",
  );
  b.setAttribute("aria-label", `Copy ${what}`);
  return b;
}
function download(name: string, text: string, type = "text/plain"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name }) as HTMLAnchorElement;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------- API ----------
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
function errText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}
async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && me) headers["x-csrf-token"] = me.csrfToken;
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (res.status === 204) return null as T;
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== "/session") {
      me = null;
      location.hash = "#/login";
    }
    throw new ApiError(res.status, json?.detail ?? json?.title ?? res.statusText);
  }
  return json as T;
}
const enc = encodeURIComponent;

// ---------- jobs ----------
interface Job {
  id: string;
  kind: string;
  state: "running" | "done" | "failed";
  progress: number;
  message: string;
  result: unknown;
  error: string | null;
}
/** Starts a job and shows its progress in `where` until it ends (polling every 500 ms). */
async function runJob(where: HTMLElement, body: Record<string, unknown>): Promise<Job> {
  const started = await api<Job>("POST", "/jobs", body);
  const bar = h("progress", { max: "100", value: "0", "aria-label": `${started.kind} progress` }) as HTMLProgressElement;
  const text = h("span", { class: "job-text" }, "started");
  const box = h("div", { class: "job", role: "status", "aria-live": "polite" }, h("strong", {}, `Job ${started.kind}: `), text, bar);
  where.replaceChildren(box);
  let job = started;
  for (;;) {
    bar.value = job.progress;
    text.textContent = `${job.state} — ${job.message}`;
    if (job.state !== "running") break;
    await new Promise((r) => setTimeout(r, 500));
    job = await api<Job>("GET", `/jobs/${enc(job.id)}`);
  }
  box.classList.add(job.state);
  if (job.state === "failed") text.textContent = `failed — ${job.error ?? "unknown error"}`;
  return job;
}

// ---------- navigation ----------
interface Page {
  path: string;
  title: string;
  roles: Role[];
  render: (arg: string) => Promise<void>;
}
const ADMINS: Role[] = ["admin", "domain-admin"];
const ALL: Role[] = ["admin", "domain-admin", "user"];
const pages: Page[] = [
  { path: "", title: "Dashboard", roles: ADMINS, render: dashboard },
  { path: "domains", title: "Domains", roles: ADMINS, render: domains },
  { path: "users", title: "Users", roles: ADMINS, render: users },
  { path: "aliases", title: "Aliases", roles: ADMINS, render: aliases },
  { path: "dkim", title: "DKIM", roles: ADMINS, render: dkim },
  { path: "checks", title: "Checks", roles: ["admin"], render: checks },
  { path: "queue", title: "Queue", roles: ADMINS, render: queue },
  { path: "relays", title: "Relays", roles: ["admin"], render: relays },
  { path: "trace", title: "Trace", roles: ADMINS, render: trace },
  { path: "audit", title: "Audit log", roles: ADMINS, render: audit },
  { path: "account", title: "My account", roles: ALL, render: account },
];

function renderNav(current: string): void {
  const nav = document.getElementById("nav") as HTMLElement;
  if (!me) {
    nav.replaceChildren();
    return;
  }
  const role = me.role;
  const links = pages.filter((p) => p.roles.includes(role)).map((p) => h("li", {}, h("a", { href: `#/${p.path}`, ...(p.path === current ? { "aria-current": "page" } : {}) }, p.title)));
  const logout = button("Log out", async () => {
    await api("DELETE", "/session").catch(() => undefined);
    me = null;
    location.hash = "#/login";
  }, "link");
  nav.replaceChildren(h("ul", {}, ...links, h("li", { class: "who" }, h("span", {}, `${me.address} (${role})`), logout)));
}

async function route(): Promise<void> {
  const [path = "", arg = ""] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (path === "login") {
    renderNav("");
    return login();
  }
  if (!me) {
    try {
      me = await api<Me>("GET", "/session");
    } catch {
      location.hash = "#/login";
      return;
    }
  }
  const home = me.role === "user" ? "account" : "";
  const page = pages.find((p) => p.path === path && p.roles.includes(me!.role)) ?? pages.find((p) => p.path === home)!;
  renderNav(page.path);
  try {
    await page.render(arg);
  } catch (err) {
    show(page.title, notice(`Could not load this page: ${errText(err)}`));
  }
}

// ---------- pages ----------
async function login(): Promise<void> {
  show(
    "Log in",
    form("Log in", [field("Email address", input("address", "email", { autocomplete: "username", required: true })), field("Password", input("password", "password", { autocomplete: "current-password", required: true }))], "Log in", async (f) => {
      me = await api<Me>("POST", "/session", { address: val(f, "address"), password: (f.elements.namedItem("password") as HTMLInputElement).value });
      location.hash = me.role === "user" ? "#/account" : "#/";
    }),
  );
}

async function dashboard(): Promise<void> {
  const isAdmin = me!.role === "admin";
  const [doms, usrs, q, jobs, status] = await Promise.all([
    api("GET", "/domains?limit=500"),
    api("GET", "/users?limit=500"),
    api("GET", "/queue?limit=500"),
    api<{ items: Job[] }>("GET", "/jobs"),
    // Server admins only (GET /api/v1/status); a failure leaves those two cards "unknown".
    isAdmin ? api<ServerStatus>("GET", "/status").catch((e: Error) => e) : Promise.resolve(null),
  ]);
  const states: Record<string, number> = {};
  for (const e of q.items) for (const r of e.recipients) states[r.state] = (states[r.state] ?? 0) + 1;
  const card = (title: string, value: string, note = "") => h("section", { class: "card", "aria-label": title }, h("h2", {}, title), h("p", { class: "big" }, value), note ? h("p", { class: "muted" }, note) : null);
  show(
    "Dashboard",
    h(
      "div",
      { class: "cards" },
      card("Domains", String(doms.items.length) + (doms.next ? "+" : "")),
      card("Users", String(usrs.items.length) + (usrs.next ? "+" : ""), `${usrs.items.filter((u: any) => u.disabled).length} disabled`),
      card("Queue", `${q.items.length}${q.next ? "+" : ""} messages`, Object.entries(states).map(([k, v]) => `${v} ${k}`).join(", ") || "empty"),
      checksCard(jobs.items),
      ...(status === null ? [] : statusCards(status)),
    ),
    h("h2", {}, "Recent jobs"),
    jobs.items.length === 0 ? empty("No jobs have run since the server started.") : table(["Job", "State", "Progress", "Message"], jobs.items.map((j) => [j.kind, j.state, `${j.progress}%`, j.message]), "Recent jobs"),
  );
}

interface ServerStatus {
  certificates: Array<{ use: string; subject: string; names: string[]; issuer: string | null; notAfter: string; daysLeft: number; renewal?: { at: string; reason: string } }>;
  disk: { sizeBytes: number; freeBytes: number; freePercent: number; databaseBytes: number };
  thresholds: { daysLeft: number; freePercent: number };
}

/** Certificate expiry and disk from GET /api/v1/status; the warning style below its thresholds. */
function statusCards(s: ServerStatus | Error): HTMLElement[] {
  const card = (title: string, value: string, note: string, warn: boolean) =>
    h("section", { class: warn ? "card warn" : "card", "aria-label": title }, h("h2", {}, title), h("p", { class: "big" }, value), h("p", { class: "muted" }, warn ? "Attention: " : "", note));
  if (s instanceof Error) return [card("Certificate expiry", "unknown", `status unavailable: ${s.message}`, false), card("Disk", "unknown", `status unavailable: ${s.message}`, false)];
  const certs = [...s.certificates].sort((a, b) => a.daysLeft - b.daysLeft);
  const first = certs[0];
  // The ACME manager's plan for the main certificate (docs/tls.md "Planned renewal").
  const renewal = s.certificates.find((c) => c.use === "main")?.renewal;
  const days = (n: number) => (n < 0 ? `expired ${-n} day${n === -1 ? "" : "s"} ago` : `${n} day${n === 1 ? "" : "s"} left`);
  const certCard = first
    ? card(
        "Certificate expiry",
        days(first.daysLeft),
        `${first.names.join(", ") || first.subject} · until ${first.notAfter.slice(0, 10)}${first.issuer ? ` · issuer ${first.issuer}` : ""}${certs.length > 1 ? ` · ${certs.length - 1} more, the next ${days(certs[1].daysLeft)}` : ""}${renewal ? ` · ACME renews ${renewal.at.slice(0, 16).replace("T", " ")} UTC (${renewal.reason})` : ""}`,
        first.daysLeft < s.thresholds.daysLeft,
      )
    : card("Certificate expiry", "none loaded", "no TLS certificate is loaded", false);
  const d = s.disk;
  const diskCard = card("Disk", `${d.freePercent}% free`, `${bytes(d.freeBytes)} free of ${bytes(d.sizeBytes)} · databases ${bytes(d.databaseBytes)}`, d.freePercent < s.thresholds.freePercent);
  return [certCard, diskCard];
}

function checksCard(jobs: Job[]): HTMLElement {
  const last = jobs.find((j) => j.kind === "checks" && j.state === "done");
  const r = last?.result as { ok: number; warn: number; fail: number; unknown: number } | undefined;
  const body = r ? `${r.fail} fail, ${r.warn} warn` : "unknown";
  const note = r ? `${r.ok} ok, ${r.unknown} unknown — blocklists included` : "no check run since the server started";
  return h("section", { class: "card", "aria-label": "Checks" }, h("h2", {}, "Checks and blocklists"), h("p", { class: "big" }, body), h("p", { class: "muted" }, note, " · ", me!.role === "admin" ? h("a", { href: "#/checks" }, "run checks") : null));
}

async function domains(arg: string): Promise<void> {
  if (arg) return domainDetail(arg);
  const list = await api("GET", "/domains?limit=500");
  const addForm = me!.role === "admin"
    ? form("Add a domain", [field("Domain name", input("name", "text", { required: true, placeholder: "example.com" }))], "Add domain", async (f) => {
        await api("POST", "/domains", { name: val(f, "name") });
        await domains("");
      })
    : null;
  show(
    "Domains",
    list.items.length === 0
      ? empty("No domains yet. Add the first one below.")
      : table(["Domain", "State", "Added", ""], list.items.map((d: any) => [h("a", { href: `#/domains/${enc(d.name)}` }, d.name), d.disabled ? "disabled" : "active", when(d.createdAt), h("a", { href: `#/domains/${enc(d.name)}`, "aria-label": `DNS records of ${d.name}` }, "DNS records")]), "Domains"),
    addForm ? h("h2", {}, "Add a domain") : null,
    addForm,
  );
}

async function domainDetail(name: string): Promise<void> {
  const recs = await api("GET", `/domains/${enc(name)}/dns-records`);
  const zone = recs.items.map((r: any) => `${r.name.endsWith(".") ? r.name : r.name + "."} 3600 IN ${r.type} ${r.type === "TXT" ? zoneQuote(r.value) : r.value}`).join("\n") + "\n";
  show(
    `Domain ${name}`,
    h("p", {}, h("a", { href: "#/domains" }, "← All domains")),
    h("h2", {}, "DNS records to publish"),
    recs.items.length === 0
      ? empty("No records known for this domain.")
      : table(["Name", "Type", "Value", "Purpose", ""], recs.items.map((r: any) => [r.name, r.type, h("code", { class: "wrap" }, r.value), r.purpose, copyButton(r.value, `${r.type} ${r.name}`)]), `DNS records of ${name}`),
    button("Download zone file", () => download(`${name}.zone`, zone)),
  );
}
function zoneQuote(v: string): string {
  const parts: string[] = [];
  for (let i = 0; i < v.length; i += 255) parts.push(`"${v.slice(i, i + 255).replace(/["\\]/g, "\\$&")}"`);
  return parts.join(" ");
}

async function users(): Promise<void> {
  const list = await api("GET", "/users?limit=500");
  const rows = list.items.map((u: any) => {
    const quota = u.quotaBytes > 0 ? `${bytes(u.usedBytes)} of ${bytes(u.quotaBytes)}` : `${bytes(u.usedBytes)} (no quota)`;
    const reset = button("Reset password", async () => {
      const pw = prompt(`New password for ${u.address} (at least 8 characters). Their web sessions end.`);
      if (!pw) return;
      await api("PATCH", `/users/${enc(u.address)}`, { password: pw });
      alert(`Password of ${u.address} changed.`);
    }, "small");
    const toggle = button(u.disabled ? "Enable" : "Disable", async () => {
      const msg = u.disabled
        ? `Enable ${u.address}? They can log in again.`
        : `Disable ${u.address}? They cannot log in and their sessions end. Their mail is kept and still received; nothing is deleted.`;
      if (!confirm(msg)) return;
      await api("PATCH", `/users/${enc(u.address)}`, { disabled: !u.disabled });
      await users();
    }, "small");
    const del = button("Delete", async () => {
      if (!confirm(`Delete ${u.address}? All their mail (${u.messages} messages, ${bytes(u.usedBytes)}) is deleted permanently, and new mail to the address is refused. This cannot be undone.`)) return;
      await api("DELETE", `/users/${enc(u.address)}`);
      await users();
    }, "small danger");
    return [u.address, u.role, u.disabled ? "disabled" : "active", quota, String(u.messages), h("span", { class: "actions" }, reset, toggle, del)];
  });
  show(
    "Users",
    list.items.length === 0 ? empty("No users yet.") : table(["Address", "Role", "State", "Quota use", "Messages", "Actions"], rows, "Users"),
    h("h2", {}, "Add a user"),
    form("Add a user", [field("Address", input("address", "email", { required: true })), field("Password (at least 8 characters)", input("password", "password", { required: true, minlength: "8", autocomplete: "new-password" }))], "Add user", async (f) => {
      await api("POST", "/users", { address: val(f, "address"), password: (f.elements.namedItem("password") as HTMLInputElement).value });
      await users();
    }),
  );
}

async function aliases(): Promise<void> {
  const list = await api("GET", "/aliases?limit=500");
  show(
    "Aliases",
    list.items.length === 0
      ? empty("No aliases yet.")
      : table(["Alias", "Delivers to", ""], list.items.map((a: any) => [a.address, a.targets.join(", "), button("Delete", async () => {
          if (!confirm(`Delete the alias ${a.address}? Mail to it is refused from then on; mail already delivered stays.`)) return;
          await api("DELETE", `/aliases/${enc(a.address)}`);
          await aliases();
        }, "small danger")]), "Aliases"),
    h("h2", {}, "Add an alias"),
    form("Add an alias", [field("Alias address", input("address", "email", { required: true })), field("Delivers to (comma-separated addresses)", input("targets", "text", { required: true }))], "Add alias", async (f) => {
      await api("POST", "/aliases", { address: val(f, "address"), targets: val(f, "targets").split(",").map((s) => s.trim()).filter(Boolean) });
      await aliases();
    }),
  );
}

async function dkim(): Promise<void> {
  const doms = await api("GET", "/domains?limit=500");
  const sections: HTMLElement[] = [];
  for (const d of doms.items) {
    const keys = await api("GET", `/domains/${enc(d.name)}/dkim`);
    const jobBox = h("div");
    sections.push(
      h(
        "section",
        { "aria-label": `DKIM keys of ${d.name}` },
        h("h2", {}, d.name),
        keys.items.length === 0 ? empty("No DKIM keys.") : table(["Selector", "Algorithm", "State", "DNS record"], keys.items.map((k: any) => [k.selector, k.type, k.state, h("div", {}, h("code", { class: "wrap" }, `${k.name} TXT`), h("br"), h("code", { class: "wrap" }, k.txt))]), `DKIM keys of ${d.name}`),
        button(`Rotate keys of ${d.name}`, async () => {
          if (!confirm(`Rotate the DKIM keys of ${d.name}? New keys are made; publish their records before they sign.`)) return;
          await runJob(jobBox, { kind: "dkim-rotate", domain: d.name });
        }),
        jobBox,
      ),
    );
  }
  show("DKIM", ...(sections.length ? sections : [empty("No domains, so no DKIM keys.")]));
}

const STATUS_TEXT: Record<string, string> = { ok: "✓ ok", warn: "⚠ warn", fail: "✗ fail", unknown: "? unknown" };
function resultsTable(results: any[], caption: string): HTMLElement {
  return table(["Check", "Status", "Found", "Fix"], results.map((r) => [r.id, h("span", { class: `status ${r.status}` }, STATUS_TEXT[r.status] ?? r.status), r.message, r.fix ? h("code", { class: "wrap" }, r.fix) : ""]), caption);
}

async function checks(): Promise<void> {
  const [jobs, hist] = await Promise.all([api<{ items: Job[] }>("GET", "/jobs"), api("GET", "/checks/history?limit=200")]);
  const jobBox = h("div");
  const resultBox = h("div");
  const last = jobs.items.find((j) => j.kind === "checks" && j.state === "done");
  if (last) resultBox.replaceChildren(h("h2", {}, "Latest run"), resultsTable((last.result as any).results, "Latest check results"));
  show(
    "Checks",
    h("p", { class: "muted" }, "DNS records, reverse DNS, TLS certificates, blocklists, relays, queue age and disk space — what `freehold check` runs."),
    button("Run checks now", async () => {
      const j = await runJob(jobBox, { kind: "checks" });
      if (j.state === "done") resultBox.replaceChildren(h("h2", {}, "Latest run"), resultsTable((j.result as any).results, "Latest check results"));
    }),
    jobBox,
    resultBox,
    h("h2", {}, "History (scheduled checks)"),
    hist.items.length === 0
      ? empty("No stored results of the scheduled checks yet (the watcher in `freehold serve` stores them).")
      : table(["When", "Check", "Status", "Found"], hist.items.map((r: any) => [when(r.at), r.checkId, h("span", { class: `status ${r.status}` }, STATUS_TEXT[r.status] ?? r.status), r.message]), "Check history"),
  );
}

async function queue(): Promise<void> {
  const list = await api("GET", "/queue?limit=200");
  const jobBox = h("div");
  const rows = list.items.map((e: any) => [
    String(e.id),
    e.mailFrom || "<>",
    h("ul", { class: "plain" }, ...e.recipients.map((r: any) => h("li", {}, `${r.recipient}: ${r.state}, ${r.attempts} attempts`, r.lastReply ? h("br") : null, r.lastReply ? h("small", {}, `last reply: ${r.lastReply}`) : null))),
    when(e.createdAt),
    h(
      "span",
      { class: "actions" },
      button("Retry now", async () => {
        const r = await api("POST", `/queue/${e.id}/retry`);
        jobBox.replaceChildren(notice(`Message ${e.id}: ${r.due} recipient(s) due now.`, "ok"));
      }, "small"),
      button("Remove", async () => {
        if (!confirm(`Remove message ${e.id} from the queue? It is not delivered and no bounce is sent.`)) return;
        await api("DELETE", `/queue/${e.id}`);
        await queue();
      }, "small danger"),
    ),
  ]);
  show(
    "Queue",
    me!.role === "admin" ? button("Retry all now (flush)", async () => void (await runJob(jobBox, { kind: "queue-flush" }))) : null,
    jobBox,
    list.items.length === 0 ? empty("The queue is empty: nothing is waiting to be delivered.") : table(["Id", "From", "Recipients", "Queued", "Actions"], rows, "Queued messages"),
  );
}

async function relays(): Promise<void> {
  const r = await api("GET", "/relays");
  const jobBox = h("div", {});
  const admin = me!.role === "admin";
  // The test connects, negotiates TLS and logs in (no mail is sent), one step per line.
  const test = (name: string) => async () => {
    const j = await runJob(jobBox, { kind: "relay-test", relay: name });
    const res = j.result as { ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> } | null;
    if (res) jobBox.append(table(["Step", "Result", "Detail"], res.steps.map((st) => [st.step, st.ok ? "ok" : "FAILED", st.detail]), `Test of relay ${name}: ${res.ok ? "ready" : "failed"}`));
  };
  show(
    "Relays",
    r.relays.length === 0
      ? empty("No relays: mail is delivered directly to each recipient's MX.")
      : table(["Name", "Host", "Port", "TLS", "Login", ""], r.relays.map((x: any) => [x.name, x.host, String(x.port), String(x.tls ?? ""), x.username ?? "none", admin ? button(`Test ${x.name}`, test(x.name)) : ""]), "Relays"),
    jobBox,
    h("p", { class: "muted" }, "Relays and routes are changed with `freehold relay` or the API (PUT /api/v1/relays/NAME, /api/v1/routes/…)."),
    h("h2", {}, "Routes"),
    h("pre", { class: "wrap" }, JSON.stringify(r.routes, null, 2)),
  );
}

// One message's path (freehold trace, GET /api/v1/trace): by Message-ID, queue id or address.
async function trace(): Promise<void> {
  const out = h("div", { "aria-live": "polite" });
  show(
    "Trace a message",
    h("p", { class: "muted" }, "Did it arrive, why did it bounce: every step from the log, in order. Domain admins trace addresses of their domains."),
    form("Trace", [field("Message-ID, queue id or address", input("q", "text", { required: true, maxlength: "998" })), field("Since (e.g. 2d, 12h)", input("since", "text", { value: "2d", maxlength: "40" }))], "Trace", async (f) => {
      const q = new URLSearchParams({ q: val(f, "q"), since: val(f, "since") || "2d" });
      out.replaceChildren(h("p", { class: "muted" }, "Reading the log…"));
      const r = await api("GET", `/trace?${q}`);
      out.replaceChildren(
        r.events.length === 0 ? empty(`Nothing about ${r.query} in the log since ${r.since}.`) : table(["When", "Where", "Event", "Detail"], r.events.map((e: any) => [e.time, e.where, e.event, h("span", { class: "wrap" }, e.detail)]), `Trace of ${r.query}`),
        ...(r.queue.length ? [h("h2", {}, "Still in the queue"), table(["Queue id", "From", "Recipient", "State", "Attempts", "Last reply"], r.queue.flatMap((qe: any) => qe.recipients.map((x: any) => [String(qe.id), qe.mailFrom, x.recipient, x.state, String(x.attempts), x.lastReply ?? ""])), "Still in the queue")] : []),
      );
    }),
    out,
  );
}

async function audit(): Promise<void> {
  const list = await api("GET", "/audit?limit=100");
  show(
    "Audit log",
    list.items.length === 0 ? empty("No audit entries yet.") : table(["When", "Actor", "Source", "Action", "Object"], list.items.map((a: any) => [when(a.at), a.actor, a.source, a.action, a.target ?? a.object ?? ""]), "Audit log"),
  );
}

async function account(): Promise<void> {
  const [u, cs] = await Promise.all([api("GET", `/users/${enc(me!.address)}`), api("GET", "/client-settings")]);
  const quota = u.quotaBytes > 0 ? `${bytes(u.usedBytes)} of ${bytes(u.quotaBytes)} used` : `${bytes(u.usedBytes)} used (no quota)`;
  const appBox = h("div");
  const renderApps = async () => {
    const list = await api("GET", `/users/${enc(me!.address)}/app-passwords`);
    appBox.replaceChildren(
      list.items.length === 0
        ? empty("No app passwords.")
        : table(["Name", "Created", "Last used", ""], list.items.map((a: any) => [a.name, when(a.createdAt), a.lastUsedAt ? when(a.lastUsedAt) : "never", button(`Revoke ${a.name}`, async () => {
            if (!confirm(`Revoke the app password "${a.name}"? Apps using it are refused at their next login.`)) return;
            await api("DELETE", `/users/${enc(me!.address)}/app-passwords/${a.id}`);
            await renderApps();
          }, "small danger")]), "App passwords"),
    );
  };
  await renderApps();
  show(
    "My account",
    h("p", {}, `Signed in as ${u.address}. ${quota}, ${u.messages} messages.`),
    h("h2", {}, "Change password"),
    form("Change password", [field("Current password", input("current", "password", { required: true, autocomplete: "current-password" })), field("New password (at least 8 characters)", input("password", "password", { required: true, minlength: "8", autocomplete: "new-password" }))], "Change password", async (f) => {
      const pw = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;
      await api("POST", "/account/password", { current: pw("current"), password: pw("password") });
      me = null;
      alert("Password changed. Log in again with the new password.");
      location.hash = "#/login";
    }),
    h("h2", {}, "iPhone, iPad and Mac"),
    h("p", {}, h("a", { href: "/api/v1/account/mobileconfig", download: "freehold.mobileconfig" }, "Download the configuration profile"), " — it holds no password: the device asks for one when you install it (an app password is best)."),
    h("h2", {}, "Downloads"),
    h(
      "ul",
      {},
      h("li", {}, h("a", { href: "/api/v1/account/export?format=eml-zip", download: "mail.zip" }, "Download my mail (.zip)")),
      h("li", {}, h("a", { href: "/api/v1/account/contacts", download: "contacts.vcf" }, "Download address book (.vcf)")),
      h("li", {}, h("a", { href: "/api/v1/account/calendar", download: "calendar.ics" }, "Download calendar (.ics)")),
    ),
    h("h2", {}, "App passwords"),
    h("p", { class: "muted" }, "For mail apps (IMAP and SMTP) only; they never open this web page. A revoked one stops working at the next login."),
    appBox,
    form("Add an app password", [field("Name (e.g. phone)", input("name", "text", { required: true, maxlength: "100" }))], "Create app password", async (f) => {
      const r = await api("POST", `/users/${enc(me!.address)}/app-passwords`, { name: val(f, "name") });
      await renderApps();
      appBox.prepend(h("div", { class: "notice ok", role: "status" }, `App password "${r.item.name}": `, h("code", { class: "secret" }, r.secret), " — shown only now; type it into your mail app."));
      f.reset();
    }),
    h("h2", {}, "Set up a mail client by hand"),
    cs.imap.length + cs.smtp.length === 0
      ? empty("This server has no TLS listener for IMAP or SMTP submission.")
      : table(
          ["Protocol", "Server", "Port", "Security", "User name"],
          [...cs.imap.map((e: any) => ["IMAP", e.host, String(e.port), e.security === "tls" ? "TLS" : "STARTTLS", u.address]), ...cs.smtp.map((e: any) => ["SMTP (submission)", e.host, String(e.port), e.security === "tls" ? "TLS" : "STARTTLS", u.address])],
          "Client settings",
        ),
    h("p", { class: "muted" }, "Thunderbird and Outlook find these settings by themselves from your address (autoconfig)."),
  );
}

window.addEventListener("hashchange", () => void route());
void route();
