// Normalization of one server's responses, so that what RFC 9051 lets two correct servers say
// differently does not count as a difference:
//  N1 strings: quoted, literal and atom forms of the same astring print alike (§4.3: "string"
//     is either form); NIL stays NIL.
//  N2 resp-text after the status and its code is dropped (§7.1: human-readable, server-specific).
//  N3 UIDVALIDITY values print as V (RFC 9051 §2.3.1.1 lets the server choose them; Dovecot's
//     are timestamps, so two mailboxes made in the same second share one and any numbering by
//     identity would depend on the clock); mod-sequences become M1, M2 … by rank among those
//     the script saw on that server (RFC 7162 §3.1.2: only their order matters).
//  N4 INTERNALDATE within two days of now (APPEND without a date) prints as <now>.
//  N5 sequence sets print as sorted, merged ranges ("1,2,3" = "1:3", RFC 9051 §9 seq-set).
//  N6 the items of a FETCH response are sorted by name and several FETCH responses for one
//     message in one command are merged (§7.5.2 lets the data come in any order and split);
//     flag and attribute lists are sorted and system flags lowercased (flags are
//     case-insensitive, §2.3.2); STATUS items sorted; SEARCH numbers sorted.
//  N7 untagged responses between two command-side events (continuation, tagged reply) are
//     sorted, except that EXPUNGEs keep their order among themselves (each renumbers the next).
//  N8 CAPABILITY and ENABLED lists are reduced to the capabilities compared (the intended-
//     differences file lists them), sorted; APPENDLIMIT=n prints as APPENDLIMIT; ID data as <id>.

export type Value =
  | { t: "atom"; v: string }
  | { t: "str"; v: Buffer }
  | { t: "nil" }
  | { t: "list"; v: Value[] };

/** Parses response data: atoms (with [..] sections and <..> partials), strings, literals, lists. */
export function parseValues(b: Buffer, start = 0): Value[] {
  let i = start;
  const skipSp = (): void => {
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0d || b[i] === 0x0a)) i++;
  };
  const read = (): Value | undefined => {
    skipSp();
    if (i >= b.length) return undefined;
    const c = b[i];
    if (c === 0x28) {
      i++;
      const list: Value[] = [];
      for (;;) {
        skipSp();
        if (i >= b.length) return { t: "list", v: list };
        if (b[i] === 0x29) {
          i++;
          return { t: "list", v: list };
        }
        const v = read();
        if (v === undefined) return { t: "list", v: list };
        list.push(v);
      }
    }
    if (c === 0x29) {
      i++; // stray ")": skip
      return { t: "atom", v: ")" };
    }
    if (c === 0x22) {
      i++;
      const out: number[] = [];
      while (i < b.length && b[i] !== 0x22) {
        if (b[i] === 0x5c) i++;
        out.push(b[i]);
        i++;
      }
      i++;
      return { t: "str", v: Buffer.from(out) };
    }
    if (c === 0x7b || (c === 0x7e && b[i + 1] === 0x7b)) {
      if (c === 0x7e) i++;
      const close = b.indexOf(0x7d, i);
      const n = Number(b.toString("latin1", i + 1, close).replace("+", ""));
      const s = close + 3;
      i = s + n;
      return { t: "str", v: Buffer.from(b.subarray(s, s + n)) };
    }
    const st = i;
    let depth = 0;
    while (i < b.length) {
      const ch = b[i];
      if (ch === 0x5b) depth++;
      else if (ch === 0x5d) depth--;
      else if (depth <= 0 && (ch === 0x20 || ch === 0x28 || ch === 0x29 || ch === 0x0d || ch === 0x0a)) break;
      i++;
    }
    const atom = b.toString("latin1", st, i);
    return atom.toUpperCase() === "NIL" ? { t: "nil" } : { t: "atom", v: atom };
  };
  const out: Value[] = [];
  for (;;) {
    const v = read();
    if (v === undefined) break;
    out.push(v);
  }
  return out;
}

const ATOMIC = /^[A-Za-z0-9!#$&'+\-.\/:;<=>?@^_`|}~]+$/;
const SET = /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/;

/** N5: "3,1:2,5" → "1:3,5" ("*" kept as is). */
export function canonSet(s: string): string {
  if (s.includes("*")) return s;
  const ranges = s.split(",").map((p) => {
    const [a, b = a] = p.split(":").map(Number);
    return a <= b ? [a, b] : [b, a];
  });
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: number[][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  return merged.map(([a, b]) => (a === b ? `${a}` : `${a}:${b}`)).join(",");
}

export function print(v: Value): string {
  switch (v.t) {
    case "nil":
      return "NIL";
    case "list":
      return `(${v.v.map(print).join(" ")})`;
    case "str": {
      const s = v.v.toString("latin1");
      if (ATOMIC.test(s) && s.toUpperCase() !== "NIL" && !s.startsWith("\\")) return s;
      return JSON.stringify(s);
    }
    case "atom": {
      if (v.v.startsWith("\\")) return v.v.toLowerCase();
      if (SET.test(v.v) && /[,:]/.test(v.v)) return canonSet(v.v);
      return v.v;
    }
  }
}

const atom = (v: string): Value => ({ t: "atom", v });
const text = (v: Value | undefined): string => (v === undefined ? "" : v.t === "atom" ? v.v : v.t === "str" ? v.v.toString("latin1") : print(v));

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function parseInternalDate(s: string): number | undefined {
  const m = /^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) return undefined;
  const mon = MONTHS.indexOf(m[2]);
  const off = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === "-" ? -1 : 1);
  return Date.UTC(Number(m[3]), mon, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - off * 60_000;
}

export interface NormalizeOptions {
  /** Upper-case capability names that are compared (N8). */
  capabilities: ReadonlySet<string>;
  now?: number;
}

/** One server's normalizer for one script (N3's numbering lives here). */
export class Normalizer {
  #opts: NormalizeOptions;
  #codeCaps: string | undefined;
  #now: number;
  /** Raw last-seen values, for $UIDVALIDITY and $HIGHESTMODSEQ in scripts. */
  lastUidValidity = "0";
  lastHighestModseq = "0";

  constructor(opts: NormalizeOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now();
  }

  #v(n: string): string {
    this.lastUidValidity = n;
    return "V";
  }

  /** A mod-sequence: a marker now, its rank among all those the script saw in finish(). */
  #m(n: string): string {
    return `\u0001${n}\u0001`;
  }

  /**
   * N3 for mod-sequences, once the script is over: each value becomes M<rank> among the
   * distinct values that server sent in the script, so one response that only one server sends
   * does not renumber all the others (as first-appearance numbering would).
   */
  finish(lines: string[]): string[] {
    const seen = new Set<bigint>();
    for (const l of lines) for (const m of l.matchAll(/\u0001(\d+)\u0001/g)) seen.add(BigInt(m[1]));
    const rank = new Map([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((v, i) => [v.toString(), `M${i + 1}`]));
    return lines.map((l) => l.replace(/\u0001(\d+)\u0001/g, (_, v: string) => rank.get(BigInt(v).toString()) ?? v));
  }

  #caps(vals: Value[]): string {
    const out = new Set<string>();
    for (const v of vals) {
      let c = text(v).toUpperCase();
      if (c.startsWith("APPENDLIMIT=")) c = "APPENDLIMIT";
      if (this.#opts.capabilities.has(c)) out.add(c);
    }
    return [...out].sort().join(" ");
  }

  #flags(v: Value | undefined): string {
    if (v?.t !== "list") return v ? print(v) : "";
    return `(${v.v.map(print).sort().join(" ")})`;
  }

  /** A status response's code and nothing of its text (N2). */
  #status(b: Buffer, at: number): string {
    while (b[at] === 0x20) at++;
    if (b[at] !== 0x5b) return "";
    let depth = 0;
    let end = at;
    for (; end < b.length; end++) {
      if (b[end] === 0x5b) depth++;
      else if (b[end] === 0x5d && --depth === 0) break;
    }
    const vals = parseValues(Buffer.from(b.subarray(at + 1, end)));
    const name = text(vals[0]).toUpperCase();
    const rest = vals.slice(1);
    let args: string;
    switch (name) {
      case "CAPABILITY":
        // N8: the code is the untagged response in another place (RFC 9051 §7.1).
        this.#codeCaps = this.#caps(rest);
        return "";
      case "UIDVALIDITY":
        args = this.#v(text(rest[0]));
        break;
      case "HIGHESTMODSEQ":
        this.lastHighestModseq = text(rest[0]);
        args = this.#m(text(rest[0]));
        break;
      case "APPENDUID":
      case "COPYUID":
        args = [this.#v(text(rest[0])), ...rest.slice(1).map(print)].join(" ");
        break;
      case "PERMANENTFLAGS":
      case "BADCHARSET":
        args = this.#flags(rest[0]);
        break;
      default:
        args = rest.map(print).join(" ");
    }
    return ` [${name}${args ? ` ${args}` : ""}]`;
  }

  #fetchItems(list: Value | undefined): Map<string, string> {
    const m = new Map<string, string>();
    if (list?.t !== "list") return m;
    for (let k = 0; k + 1 < list.v.length; k += 2) {
      const name = text(list.v[k]).toUpperCase();
      const val = list.v[k + 1];
      let out: string;
      if (name === "FLAGS") out = this.#flags(val);
      else if (name === "MODSEQ" && val.t === "list") out = `(${this.#m(text(val.v[0]))})`;
      else if (name === "INTERNALDATE") {
        const t = parseInternalDate(text(val));
        // date-day-fixed is (SP DIGIT) / 2DIGIT (RFC 9051 §9): " 1-Jan" = "01-Jan".
        out = t !== undefined && Math.abs(t - this.#now) < 2 * 86_400_000 ? "<now>" : print(val).replace(/^" (\d)-/, '"0$1-');
      } else out = print(val);
      m.set(name, out);
    }
    return m;
  }

  /** One response (line plus literals) → its normalized text, or undefined to drop it. */
  response(b: Buffer): { text: string; extra?: string; fetch?: { seq: string; items: Map<string, string> } } {
    const first = b.toString("latin1", 0, Math.min(b.length, 64));
    if (first.startsWith("+")) return { text: "+" };
    const sp = first.indexOf(" ");
    const tag = sp < 0 ? first.trim() : first.slice(0, sp);
    const vals = parseValues(b, sp < 0 ? b.length : sp + 1);
    const w0 = text(vals[0]).toUpperCase();
    const prefix = tag === "*" ? "*" : tag;
    if (["OK", "NO", "BAD", "BYE", "PREAUTH"].includes(w0)) {
      const at = b.indexOf(text(vals[0]), sp + 1, "latin1") + w0.length;
      this.#codeCaps = undefined;
      const t = `${prefix} ${w0}${this.#status(b, at)}`;
      return { text: t, extra: this.#codeCaps !== undefined ? `* CAPABILITY ${this.#codeCaps}`.trimEnd() : undefined };
    }
    if (tag !== "*") return { text: `${prefix} ${vals.map(print).join(" ")}` };
    const w1 = text(vals[1]).toUpperCase();
    if (/^\d+$/.test(w0) && w1 === "FETCH") {
      return { text: "", fetch: { seq: w0, items: this.#fetchItems(vals[2]) } };
    }
    if (/^\d+$/.test(w0)) return { text: `* ${w0} ${w1}${vals.length > 2 ? " " + vals.slice(2).map(print).join(" ") : ""}` };
    const rest = vals.slice(1);
    switch (w0) {
      case "CAPABILITY":
      case "ENABLED":
        return { text: `* ${w0} ${this.#caps(rest)}`.trimEnd() };
      case "ID":
        return { text: "* ID <id>" };
      case "FLAGS":
        return { text: `* FLAGS ${this.#flags(rest[0])}` };
      case "LIST":
      case "LSUB":
        return { text: `* ${w0} ${this.#flags(rest[0])} ${rest.slice(1).map(print).join(" ")}` };
      case "STATUS": {
        const items = rest[1]?.t === "list" ? rest[1].v : [];
        const pairs: string[] = [];
        for (let k = 0; k + 1 < items.length; k += 2) {
          const n = text(items[k]).toUpperCase();
          const v = text(items[k + 1]);
          if (n === "HIGHESTMODSEQ") this.lastHighestModseq = v;
          pairs.push(`${n} ${n === "UIDVALIDITY" ? this.#v(v) : n === "HIGHESTMODSEQ" ? this.#m(v) : v}`);
        }
        return { text: `* STATUS ${print(rest[0] ?? atom(""))} (${pairs.sort().join(" ")})` };
      }
      case "SEARCH": {
        const nums = rest.filter((v) => v.t === "atom").map((v) => Number(text(v)));
        const mod = rest.find((v) => v.t === "list");
        const ms = mod?.t === "list" ? ` (MODSEQ ${this.#m(text(mod.v[1]))})` : "";
        return { text: `* SEARCH${nums.sort((a, b) => a - b).map((n) => ` ${n}`).join("")}${ms}` };
      }
      case "ESEARCH": {
        const parts: string[] = [];
        let k = 0;
        if (rest[0]?.t === "list") parts.push(print(rest[k++]));
        if (text(rest[k]).toUpperCase() === "UID") parts.push(text(rest[k++]).toUpperCase());
        for (; k < rest.length; k += 2) {
          const n = text(rest[k]).toUpperCase();
          parts.push(`${n} ${n === "MODSEQ" ? this.#m(text(rest[k + 1])) : print(rest[k + 1] ?? atom(""))}`);
        }
        return { text: `* ESEARCH ${parts.join(" ")}`.trimEnd() };
      }
      default:
        return { text: `* ${vals.map(print).join(" ")}` };
    }
  }

  /** N6 + N7 on the responses of one step. */
  step(responses: Buffer[]): string[] {
    const out: string[] = [];
    let fetches = new Map<string, Map<string, string>>();
    const flush = (): void => {
      for (const [seq, items] of fetches) {
        const body = [...items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k} ${v}`);
        out.push(`* ${seq} FETCH (${body.join(" ")})`);
      }
      fetches = new Map();
    };
    for (const r of responses) {
      const n = this.response(r);
      if (n.extra) out.push(n.extra);
      if (n.fetch) {
        let m = fetches.get(n.fetch.seq);
        if (!m) fetches.set(n.fetch.seq, (m = new Map()));
        for (const [k, v] of n.fetch.items) m.set(k, v);
        continue;
      }
      if (!n.text.startsWith("*")) flush();
      out.push(n.text);
    }
    flush();
    return sortSegments(out);
  }
}

function sortKey(line: string): string {
  const m = /^\* (\d+) (EXISTS|RECENT|EXPUNGE|FETCH)/.exec(line);
  if (!m) return line;
  // Every EXPUNGE has the same key: the stable sort keeps their order (each renumbers the next).
  return m[2] === "EXPUNGE" ? "* ~EXPUNGE" : `* ${m[1].padStart(8, "0")} ${m[2]}`;
}

/** N7: untagged lines sorted within each run between two non-untagged lines. */
export function sortSegments(lines: string[]): string[] {
  const out: string[] = [];
  let seg: string[] = [];
  const flush = (): void => {
    const keyed = seg.map((l) => ({ k: sortKey(l), l }));
    keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    out.push(...keyed.map((x) => x.l));
    seg = [];
  };
  for (const l of lines) {
    if (l.startsWith("*")) seg.push(l);
    else {
      flush();
      out.push(l);
    }
  }
  flush();
  return out;
}
