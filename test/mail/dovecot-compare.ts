// The Dovecot comparison, reusable: the message corpus, the FETCH items to ask for, what our
// model answers for them, and the comparison with its normalisation rules. dovecot-diff.test.ts
// runs it against src/mail directly; the IMAP server tests can run it with our server's FETCH
// answers in place of `modelAnswers` (APPEND canonical(raw) to both servers, or apply R1).
//
// Normalisation rules (general, never per message):
//  R1 Line endings. Dovecot canonicalises bare LF to CRLF when it stores a message (RFC 5322 §2.3:
//     CR and LF occur only together as CRLF; RFC 3501 §6.3.11 takes an RFC 5322 message), while
//     Freehold stores the bytes as appended (issue 3: BODY[] is byte-identical). So Dovecot is
//     compared with our model of the canonical bytes, canon(raw), and separately our model of the
//     raw bytes must equal the canonical one up to that same mapping (sizes aside).
//  R2 Strings. A quoted string and a literal are the same IMAP string (RFC 3501 §4.3), so values
//     are compared after parsing, never as wire text.
//  R3 NUL octets. A literal is CHAR8 = %x01-ff (RFC 3501 §9), so BODY[...] cannot carry NUL;
//     Dovecot sends each NUL octet of section data as 0x80 (sizes are unchanged; RFC 3516 BINARY
//     is the way to get the real octets). Our module returns stored bytes and the FETCH layer must
//     do the same mapping (nulToHigh), so our section bytes are compared with NUL mapped to 0x80.
//  R4 Quoted local parts. RFC 3501 §7.4.2 sends the mailbox name, i.e. the RFC 5322 §3.4.1
//     local-part, and a quoted-string local-part includes its DQUOTEs: `"john q"@example.com`
//     must stay one address when a client joins mailbox "@" host. Freehold keeps the quotes;
//     Dovecot sends the unquoted content. Our ENVELOPE mailbox fields are compared unquoted.
//  R5 HEADER.FIELDS of a header without a blank line (cut short by a boundary, or at the end of
//     the data). RFC 2046 §5.1.1 ends the part at the boundary and RFC 3501 §6.4.5 omits the blank
//     line for "a message which has no body and no blank line"; Freehold follows both. Dovecot
//     reads on to the next blank line of the stored message (past the boundary). So for such
//     headers our lines (compared without their line endings) must be the first lines of
//     Dovecot's answer; the rest can only be lines it read past the cut.
import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mimeMessage } from "./mime-arbitrary.ts";
import { parseSexp, sexpEqual, sexpText, type Sexp } from "./imap-sexp.ts";
import { indexMessage, type MessageIndex } from "../../src/mail/structure.ts";
import { buildBodyStructure, bodyStructureValue, type BodyStructure } from "../../src/mail/bodystructure.ts";
import { buildEnvelope, envelopeValue, type Envelope, type EnvelopeAddress } from "../../src/mail/envelope.ts";
import { renderImap, type ImapValue } from "../../src/mail/imap-string.ts";
import { nulToHigh } from "../../src/mail/message.ts";
import { allPartPaths, hasBlankLine, sectionBytes, parseSectionSpec, resolvePart } from "../../src/mail/section.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const mimeDir = path.resolve(repoRoot, "../shared/vectors/mime");
const fixturesDir = path.resolve(repoRoot, "test/mail/fixtures");
const HEADER_FIELDS = "From To Subject Date Message-ID Content-Type";

export interface CorpusMessage {
  name: string;
  raw: Buffer;
}

function listEml(dir: string, subdirs: string[]): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (const d of subdirs) {
    const full = path.join(dir, d);
    if (!fs.existsSync(full)) continue;
    for (const f of fs.readdirSync(full).filter((f) => f.endsWith(".eml")).sort()) {
      out.push({ name: path.join(d, f), raw: fs.readFileSync(path.join(full, f)) });
    }
  }
  return out;
}

/**
 * The ../shared/vectors/mime messages, our fixtures, and `genCount` generated messages (fixed
 * seed, so a failure names a reproducible message). Dovecot refuses empty messages, so generated
 * empty ones are left out.
 */
export function loadCorpus(genSeed: number, genCount: number): { vectors: CorpusMessage[]; all: CorpusMessage[] } {
  const vectors = listEml(mimeDir, ["rfc", "thirdparty", "malformed"]);
  const all = [...vectors, ...listEml(fixturesDir, ["."]).map((f) => ({ ...f, name: `fixtures/${f.name}` }))];
  fc.sample(mimeMessage, { seed: genSeed, numRuns: genCount }).forEach((raw, i) => {
    if (raw.length > 0) all.push({ name: `generated#${i}`, raw });
  });
  return { vectors, all };
}

/** R1: bare LF → CRLF. */
export function canonical(raw: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(raw[i]);
  }
  return Buffer.from(out);
}

/** Section names (between the brackets) to fetch for a message: all of them, as our index sees it. */
export function sectionsFor(canon: Buffer): string[] {
  const idx = indexMessage(canon);
  const partPaths = allPartPaths(idx);
  const paths = partPaths.map((p) => p.join("."));
  // HEADER and TEXT of each encapsulated message (RFC 3501 §6.4.5: only for message/rfc822 parts).
  const messagePaths = partPaths.filter((p) => resolvePart(idx, p)?.kind === "message").map((p) => p.join("."));
  return [
    "",
    "HEADER",
    "TEXT",
    `HEADER.FIELDS (${HEADER_FIELDS})`,
    `HEADER.FIELDS.NOT (${HEADER_FIELDS})`,
    ...paths,
    ...paths.map((p) => `${p}.MIME`),
    ...messagePaths.flatMap((p) => [`${p}.HEADER`, `${p}.TEXT`, `${p}.HEADER.FIELDS (Subject From)`]),
  ];
}

/** The FETCH attribute list for those sections. */
export function fetchAttributes(sections: string[]): string {
  return ["RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", ...sections.map((s) => `BODY.PEEK[${s}]`)].join(" ");
}

/** R4: the local part as Dovecot sends it (quoted-string content, quoted-pairs undone). */
function unquoteLocal(m: string | null): string | null {
  if (m === null || !m.startsWith('"')) return m;
  return m.slice(1, -1).replace(/\\(.)/g, "$1");
}

function r4Envelope(e: Envelope): Envelope {
  const list = (l: EnvelopeAddress[] | null): EnvelopeAddress[] | null =>
    l === null ? null : l.map((a) => ({ ...a, mailbox: a.host === null ? a.mailbox : unquoteLocal(a.mailbox) }));
  return { ...e, from: list(e.from), sender: list(e.sender), replyTo: list(e.replyTo), to: list(e.to), cc: list(e.cc), bcc: list(e.bcc) };
}

function r4Structure(s: BodyStructure): BodyStructure {
  if (s.kind === "multipart") return { ...s, parts: s.parts.map(r4Structure) };
  if (s.envelope === undefined || s.body === undefined) return s;
  return { ...s, envelope: r4Envelope(s.envelope), body: r4Structure(s.body) };
}

/** R2: our value through the same wire reader as Dovecot's answer. */
function asSexp(v: ImapValue): Sexp {
  return parseSexp(renderImap(v)).value[0];
}

/** What src/mail answers for the FETCH items, keyed like fetchItems() keys a server's answer. */
export function modelAnswers(buf: Buffer, sections: string[]): Map<string, Sexp> {
  const index = indexMessage(buf);
  const bs = r4Structure(buildBodyStructure(buf, index));
  const m = new Map<string, Sexp>();
  m.set("RFC822.SIZE", String(index.size));
  m.set("ENVELOPE", asSexp(envelopeValue(r4Envelope(buildEnvelope(buf, index.root.headerStart, index.root.headerEnd)))));
  m.set("BODY", asSexp(bodyStructureValue(bs, false)));
  m.set("BODYSTRUCTURE", asSexp(bodyStructureValue(bs)));
  for (const s of sections) m.set(`BODY[${s}]`.toUpperCase(), nulToHigh(sectionBytes(buf, index, parseSectionSpec(s)!) ?? Buffer.alloc(0)));
  return m;
}

/** R5: does `theirs` begin with the lines of `mine` (line endings aside)? */
function startsWithLines(theirs: Buffer, mine: Buffer): boolean {
  const lines = (b: Buffer): string[] => {
    const l = b.toString("latin1").replace(/(\r\n)+$/, "").split("\r\n");
    return l.length === 1 && l[0] === "" ? [] : l;
  };
  const a = lines(mine);
  const b = lines(theirs);
  return a.every((l, i) => l === b[i]);
}

/**
 * Compares a server's FETCH answer with ours for one message (ours computed on canon, R1).
 * Returns the number of fields compared and a description of each unexplained difference.
 */
export function compareAnswers(name: string, canon: Buffer, sections: string[], theirs: Map<string, Sexp>, ours: Map<string, Sexp>): { compared: number; diffs: string[] } {
  const idx: MessageIndex = indexMessage(canon);
  const diffs: string[] = [];
  let compared = 0;
  const show = (v: Sexp | undefined): string => (v === undefined ? "(missing)" : sexpText(v));
  const keys = ["RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", ...sections.map((s) => `BODY[${s}]`.toUpperCase())];
  for (const [k, s] of keys.map((k, i) => [k, i >= 4 ? sections[i - 4] : null] as const)) {
    compared++;
    const t = theirs.get(k);
    const o = ours.get(k) ?? null;
    if (t !== undefined && sexpEqual(t, o)) continue;
    if (s !== null && Buffer.isBuffer(t) && Buffer.isBuffer(o)) {
      const spec = parseSectionSpec(s)!;
      if (spec.text.startsWith("HEADER.FIELDS")) {
        const m = spec.path.length === 0 ? idx.root : resolvePart(idx, spec.path)?.children[0];
        if (m && !hasBlankLine(canon, m) && startsWithLines(t, o)) continue; // R5
      }
    }
    diffs.push(`${name} ${k}\n  dovecot:  ${show(t)}\n  freehold: ${show(o)}`);
  }
  // R1 (our second half): BODY[] is what was appended, in Dovecot's canonical form.
  compared++;
  const body = theirs.get("BODY[]");
  if (!Buffer.isBuffer(body) || !body.equals(nulToHigh(canon))) diffs.push(`${name} BODY[] is not canon(appended)`);
  return { compared, diffs };
}

/** R1: our model of the raw bytes equals our model of the canonical bytes, line endings aside. */
export function compareRawWithCanonical(name: string, raw: Buffer, canon: Buffer, sections: string[]): { compared: number; diffs: string[] } {
  const diffs: string[] = [];
  let compared = 1;
  const shape = (b: Buffer): string => JSON.stringify(buildBodyStructure(b, indexMessage(b)), (k, v) => (k === "size" ? undefined : v));
  if (shape(raw) !== shape(canon)) diffs.push(`${name} raw-vs-canonical structure differs`);
  const ri = indexMessage(raw);
  const ci = indexMessage(canon);
  for (const s of sections) {
    compared++;
    const a = sectionBytes(raw, ri, parseSectionSpec(s)!);
    const b = sectionBytes(canon, ci, parseSectionSpec(s)!);
    if (!((a === null && b === null) || (a && b && canonical(a).equals(b)))) diffs.push(`${name} raw-vs-canonical BODY[${s}] differs`);
  }
  return { compared, diffs };
}
