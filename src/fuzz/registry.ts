// Fuzzers registered in one list (STYLE.md: fuzzers beside parsers; issue 13 §4). Each fuzzer is
// a fast-check property: the parser fuzzers below run in-process (the parser throws nothing but
// its documented error type and returns within a bound per input); the session fuzzers
// (smtp-session.ts: one per SMTP command; imap-session.ts: one per IMAP state) open a server on
// loopback as their fixture; dns-records.ts fuzzes our DNS record entry points and the Resolver's
// wire path; http-api.ts is the hook for the HTTP API schema fuzzers.
// The CI test (src/fuzz/fuzz.test.ts) runs each with a fixed numRuns and seed; `npm run fuzz`
// (soak/fuzz.ts) runs them round-robin with random seeds; soak/cases/fuzz.ts puts a row per fuzzer
// into the soak table. The IMAP command parser has its own grammar fuzzer in
// src/imap/protocol/fuzz.test.ts.
import fc from "fast-check";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { only, timed, vectorsDir } from "./support.ts";
import type { Fuzzer } from "./support.ts";
import { SMTP_SESSION_FUZZERS } from "./smtp-session.ts";
import { IMAP_SESSION_FUZZERS } from "./imap-session.ts";
import { DNS_FUZZERS } from "./dns-records.ts";
import { HTTP_API_FUZZERS } from "./http-api.ts";
import { SmtpReader } from "../smtp/reader.ts";
import { parsePath, PathSyntaxError } from "../smtp/address.ts";
import { parseMailParams, parseRcptParams, decodeXtext, encodeXtext } from "../smtp/params.ts";
import { parseAddressList } from "../mail/address.ts";
import { indexMessage } from "../mail/structure.ts";
import { parseConfigText, ConfigError } from "../config/load.ts";
import { parsePct } from "../emailauth/dmarc-policy.ts";
import { txtStrings, isPublished } from "../emailauth/dkim-keys.ts";
import { OUTLOOK_SCHEMA, POX_REQUEST_NS, parsePoxRequest, poxResponse } from "../web/autoconfig/autodiscover.ts";
import { hostTarget } from "../web/autoconfig/host.ts";

export { INPUT_DEADLINE_MS, vectorsDir } from "./support.ts";
export type { Fuzzer, Fixture } from "./support.ts";

const SMTP_TOKENS = [
  "MAIL FROM:", "RCPT TO:", "EHLO ", "HELO ", "DATA", "BDAT ", "AUTH PLAIN ", "STARTTLS", "RSET", "QUIT", "VRFY ", "NOOP",
  "<", ">", "@", ".", ":", ",", "%", "!", '"', "\\", " ", "\r\n", "\n", "\r", "\x00", "[", "]", "IPv6:", "::1", "127.0.0.1",
  "SIZE=", "BODY=8BITMIME", "BODY=BINARYMIME", "SMTPUTF8", "RET=HDRS", "ENVID=", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;",
  "+2B", "+", "x", "é", "a.example", "postmaster", "\r\n.\r\n", "..", "LAST", "99999999999999999999",
];
const smtpSoup = fc.array(fc.constantFrom(...SMTP_TOKENS), { maxLength: 30 }).map((t) => t.join(""));
const withSeeds = (seeds: string[], arb: fc.Arbitrary<string>) =>
  seeds.length > 0 ? fc.oneof(arb, fc.constantFrom(...seeds), fc.tuple(fc.constantFrom(...seeds), arb).map(([a, b]) => a + b)) : arb;

function addressSeeds(): string[] | null {
  const f = join(vectorsDir(), "addresses", "tests.xml");
  if (!existsSync(f)) return null;
  const out: string[] = [];
  for (const m of readFileSync(f, "utf8").matchAll(/<address>([^<]*)<\/address>/g)) {
    out.push(m[1]!.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&"));
  }
  return out;
}

function mimeSeeds(): string[] | null {
  const d = join(vectorsDir(), "mime");
  if (!existsSync(d)) return null;
  return [];
}

/** The in-process parser fuzzers (synchronous). */
export const PARSER_FUZZERS: Fuzzer[] = [
  {
    name: "smtp command reader",
    ciRuns: 300,
    property: () =>
      fc.property(fc.array(fc.oneof(smtpSoup, fc.string({ maxLength: 200 })), { maxLength: 8 }), fc.nat(3), (chunks, modeSel) => {
        timed("smtp reader", chunks, () => {
          const r = new SmtpReader(256);
          let events = 0;
          for (const c of chunks) {
            r.push(Buffer.from(c, "latin1"));
            for (let ev = r.next(); ev; ev = r.next()) {
              if (++events > 100_000) throw new Error("reader loops");
              if (ev.kind === "line" && r.mode === "line" && modeSel === 1 && events % 3 === 0) r.startData();
              if (ev.kind === "line" && r.mode === "line" && modeSel === 2 && events % 3 === 0) r.startChunk(events % 50);
            }
          }
        });
      }),
  },
  {
    name: "smtp path (MAIL/RCPT)",
    ciRuns: 500,
    seeds: addressSeeds,
    property: (seeds) =>
      fc.property(withSeeds(seeds.map((s) => `<${s}>`), smtpSoup), fc.boolean(), (s, utf8) => {
        timed("parsePath", s, () => only([PathSyntaxError], () => void parsePath(s, { utf8 } as any)));
      }),
  },
  {
    name: "smtp MAIL/RCPT parameters",
    ciRuns: 500,
    property: () =>
      fc.property(smtpSoup, fc.boolean(), fc.boolean(), (s, utf8, dsn) => {
        timed("params", s, () => {
          only([Error], () => void parseMailParams(s, { utf8Allowed: utf8, binaryMime: true, dsn }));
          only([Error], () => void parseRcptParams(s, { utf8, dsn }));
        });
      }),
  },
  {
    name: "smtp xtext round-trip",
    ciRuns: 500,
    property: () =>
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        const printable = s.replace(/[^\x21-\x7e]/g, "");
        if (decodeXtext(encodeXtext(printable)) !== printable) throw new Error(`xtext round-trip broke: ${JSON.stringify(printable)}`);
      }),
  },
  {
    name: "address list (RFC 5322)",
    ciRuns: 500,
    seeds: addressSeeds,
    property: (seeds) =>
      fc.property(withSeeds(seeds, fc.oneof(smtpSoup, fc.string({ maxLength: 200 }))), (s) => {
        timed("parseAddressList", s, () => void parseAddressList(s));
      }),
  },
  {
    name: "MIME indexer",
    ciRuns: 200,
    seeds: mimeSeeds,
    property: () => {
      const MIME_TOKENS = [
        "Content-Type: multipart/mixed; boundary=b\r\n", "Content-Type: message/rfc822\r\n", "Content-Type: text/plain\r\n",
        "\r\n", "\n", "--b\r\n", "--b--\r\n", "--b", "boundary=\"\"", "Subject: x\r\n", " folded\r\n", "body\r\n", ":", "\x00",
        "Content-Transfer-Encoding: base64\r\n", "Content-Type: multipart/alternative; boundary=c\r\n", "--c\r\n", "--c--\r\n",
      ];
      return fc.property(fc.array(fc.constantFrom(...MIME_TOKENS), { maxLength: 60 }), (ts) => {
        const buf = Buffer.from(ts.join(""), "latin1");
        timed("indexMessage", ts, () => {
          const idx = indexMessage(buf) as any;
          const root = idx.root ?? idx.parts?.[0];
          if (root && typeof root.end === "number" && root.end > buf.length) throw new Error("part ends past the message");
        });
      });
    },
  },
  {
    name: "config loader",
    ciRuns: 200,
    property: () => {
      const YAML_TOKENS = ["hostname: ", "domains:", "\n", "  ", "- ", "a.example", "smtp:", "listen:", "port: ", "25", "-1",
        "99999999999999999999", "null", "~", "[", "]", "{", "}", ":", "&a", "*a", "<<: *a", "!!binary", "\"", "'", "#", "true", "tls:", "dataDir: "];
      return fc.property(fc.oneof(fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 40 }).map((t) => t.join("")), fc.string({ maxLength: 200 })), (s) => {
        timed("parseConfigText", s, () => only([ConfigError], () => void parseConfigText(s, { file: "fuzz.yaml", dataDir: "/nonexistent-fuzz" })));
      });
    },
  },
  {
    name: "DMARC pct tag (ours)",
    ciRuns: 500,
    property: () => {
      const T = ["v=DMARC1", ";", " ", "\t", "pct", "PCT", "=", "0", "50", "100", "101", "999", "1000", "-1", "p=reject", "x", "é"];
      return fc.property(fc.oneof(fc.array(fc.constantFrom(...T), { maxLength: 20 }).map((t) => t.join("")), fc.string({ maxLength: 100 })), (s) => {
        const n = timed("parsePct", s, () => parsePct(s));
        if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`pct out of range: ${n} for ${JSON.stringify(s)}`);
      });
    },
  },
  {
    name: "Outlook autodiscover request and Host routing (ours)",
    ciRuns: 300,
    property: () => {
      const T = ["<", ">", "/", "&", ";", "amp", "lt", "#x3c", "@", "a", ".", "test", " ", "\"", "'", "=", "\u0000", "é", "<!DOCTYPE", "<!ENTITY",
        "EMailAddress", "AcceptableResponseSchema", "Autodiscover", "Request", "xmlns", "a:", `"${POX_REQUEST_NS}"`, OUTLOOK_SCHEMA];
      const soup = fc.array(fc.constantFrom(...T), { maxLength: 40 }).map((t) => t.join(""));
      const wrapped = soup.map((e) => `<Autodiscover xmlns="${POX_REQUEST_NS}"><Request><EMailAddress>${e}</EMailAddress><AcceptableResponseSchema>${OUTLOOK_SCHEMA}</AcceptableResponseSchema></Request></Autodiscover>`);
      return fc.property(fc.oneof(soup, wrapped, fc.string({ maxLength: 300 })), (body) => {
        timed("parsePoxRequest", body, () => {
          const r = parsePoxRequest(body);
          void hostTarget(body);
          if (!r.ok) return;
          // What the parser accepts is written into XML escaped: no markup gets through.
          const login = /<LoginName>([^<]*)<\/LoginName>/.exec(poxResponse(r.address, { host: "h.test", imap: [{ host: "h.test", port: 993, security: "tls" }], smtp: [] }));
          if (!login || /[<>"]|&(?!(amp|lt|gt|quot|apos);)/.test(login[1])) throw new Error(`unescaped address in the response: ${JSON.stringify(r.address)}`);
        });
      });
    },
  },
  {
    name: "DKIM key record (ours)",
    ciRuns: 300,
    property: () => {
      const T = ["v=DKIM1", "v=DKIM2", ";", " ", "k=rsa", "k=ed25519", "p=", "QUJD", "=", "\r\n", "\t", "h=sha256", "x"];
      const rec = fc.oneof(fc.array(fc.constantFrom(...T), { maxLength: 20 }).map((t) => t.join("")), fc.string({ maxLength: 600 }));
      return fc.property(rec, fc.array(fc.array(rec, { maxLength: 3 }), { maxLength: 3 }), (r, answer) => {
        timed("dkim record", r, () => {
          // txtStrings splits for publication; joined again it is the record (round-trip).
          const parts = txtStrings(r);
          if (parts.join("") !== r || parts.some((p) => p.length > 255)) throw new Error("txtStrings round-trip broke");
          void isPublished({ type: "rsa", publicKey: "QUJD" }, answer);
          // a record we publish is recognised after a split into TXT strings
          if (!isPublished({ type: "ed25519", publicKey: "QUJD" }, [txtStrings("v=DKIM1; k=ed25519; p=QUJD")])) throw new Error("own record not recognised");
        });
      });
    },
  },
];

/**
 * Every fuzzer: the parsers above, then the session fuzzers (a server on loopback per fuzzer),
 * the DNS record and resolver fuzzers, and the HTTP API schema fuzzers (src/fuzz/http-api.ts, the
 * hook for the HTTP listeners). The CI test, `npm run fuzz` and the soak rows all read this list.
 */
export const FUZZERS: Fuzzer[] = [...PARSER_FUZZERS, ...SMTP_SESSION_FUZZERS, ...IMAP_SESSION_FUZZERS, ...DNS_FUZZERS, ...HTTP_API_FUZZERS];

export interface FuzzOutcome {
  name: string;
  tried: number;
  failed: boolean;
  seed: number;
  counterexample?: string;
  error?: string;
  seedsMissing?: boolean;
}

/** Run one fuzzer for numRuns inputs with the given seed (opening and closing its fixture). */
export async function runFuzzer(f: Fuzzer, numRuns: number, seed: number): Promise<FuzzOutcome> {
  const s = f.seeds ? f.seeds() : [];
  let tried = 0;
  const env = f.fixture ? await f.fixture.open() : undefined;
  let r: fc.RunDetails<unknown>;
  try {
    const prop = f.property(s ?? [], env);
    if (prop.isAsync()) {
      const ap = prop as fc.IAsyncPropertyWithHooks<any>;
      r = (await fc.check(ap.beforeEach(async (prev) => { tried++; await prev(); }), { numRuns, seed })) as fc.RunDetails<unknown>;
    } else {
      const sp = prop as fc.IPropertyWithHooks<any>;
      r = fc.check(sp.beforeEach((prev) => { tried++; prev(); }), { numRuns, seed }) as fc.RunDetails<unknown>;
    }
  } finally {
    if (f.fixture) await f.fixture.close(env);
  }
  return {
    name: f.name,
    tried,
    failed: r.failed,
    seed,
    counterexample: r.failed ? JSON.stringify(r.counterexample).slice(0, 2000) : undefined,
    error: r.failed ? String((r as any).errorInstance?.stack ?? (r as any).error).slice(0, 2000) : undefined,
    seedsMissing: f.seeds ? s === null : false,
  };
}
