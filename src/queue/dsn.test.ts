import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { composeDsn, decodeXtext, rfc5322Date, returnedContent } from "./dsn.ts";
import type { DsnInput } from "./dsn.ts";

// Debian's Python (not a pyenv one) parses what we compose: an independent MIME reader.
const PY = "/usr/bin/python3";
const PARSER = String.raw`
import sys, json, email
from email import policy
raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw, policy=policy.compat32)
out = {"headers": {k: str(v) for k, v in m.items()}, "type": m.get_content_type(),
       "report_type": m.get_param("report-type"), "defects": [type(d).__name__ for d in m.defects],
       "parts": []}
for p in m.get_payload():
    d = {"type": p.get_content_type(), "cte": p.get("Content-Transfer-Encoding"),
         "defects": [type(x).__name__ for x in p.defects]}
    if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
        blocks = p.get_payload()
        d["blocks"] = [[[k, " ".join(str(v).split())] for k, v in b.items()] for b in blocks] if isinstance(blocks, list) else None
        d["raw"] = p.as_string() if not isinstance(blocks, list) else None
    elif p.get_content_type() in ("message/rfc822", "message/global"):
        inner = p.get_payload()
        inner = inner[0] if isinstance(inner, list) else inner
        d["inner_headers"] = {k: str(v) for k, v in inner.items()} if hasattr(inner, "items") else None
        d["inner_body"] = inner.get_payload(decode=False) if hasattr(inner, "get_payload") else None
    else:
        d["text"] = p.get_payload(decode=True).decode("utf-8", "replace")
    out["parts"].append(d)
print(json.dumps(out))
`;

interface Parsed {
  headers: Record<string, string>;
  type: string;
  report_type: string;
  defects: string[];
  parts: {
    type: string;
    cte: string;
    defects: string[];
    blocks?: [string, string][][];
    inner_headers?: Record<string, string>;
    inner_body?: string;
    text?: string;
  }[];
}

function pyParse(msg: Buffer): Parsed {
  const r = spawnSync(PY, ["-c", PARSER], { input: msg, encoding: "buffer" });
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString("utf8")) as Parsed;
}

const field = (block: [string, string][], name: string) => block.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

const original = Buffer.from(
  [
    "From: Alice <alice@sender.example>",
    "To: bob@dest.example, carol@dest.example",
    "Subject: Quarterly report",
    "Message-ID: <orig-1@sender.example>",
    "Date: Mon, 23 Nov 2026 10:00:00 +0000",
    "",
    "Hello Bob,",
    "the numbers are attached.",
    "",
  ].join("\r\n"),
);

const T0 = Date.UTC(2026, 10, 23, 10, 0, 5);

function failedInput(extra: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: "mail.us.example",
    to: "alice@sender.example",
    now: T0 + 60_000,
    arrivalDate: T0,
    envid: "QQ314159+2Bx",
    ret: "FULL",
    original,
    recipients: [
      {
        orcpt: "rfc822;Bob+2Bwork@dest.example",
        finalRecipient: "bob+work@dest.example",
        action: "failed",
        status: "5.1.1",
        remoteMta: "mx1.dest.example",
        smtpReply: ["550-5.1.1 The email account that you tried to reach does not exist.", "550 5.1.1 Please check the address."],
        lastAttemptDate: T0 + 30_000,
      },
    ],
    ...extra,
  };
}

test("a failure DSN is a multipart/report that Python's email package reads field by field", () => {
  const dsn = composeDsn(failedInput());
  assert.equal(dsn.mailFrom, "");
  assert.equal(dsn.rcptTo, "alice@sender.example");
  assert.equal(dsn.returned, "full");
  const p = pyParse(dsn.message);
  assert.deepEqual(p.defects, []);
  assert.equal(p.type, "multipart/report");
  assert.equal(p.report_type, "delivery-status");
  assert.equal(p.headers["Auto-Submitted"], "auto-replied");
  assert.equal(p.headers["To"], "<alice@sender.example>");
  assert.match(p.headers["From"], /MAILER-DAEMON@mail\.us\.example/);
  assert.equal(p.headers["References"], "<orig-1@sender.example>");
  assert.equal(p.headers["Date"], "Mon, 23 Nov 2026 10:01:05 +0000");
  assert.deepEqual(
    p.parts.map((x) => x.type),
    ["text/plain", "message/delivery-status", "message/rfc822"],
  );
  for (const part of p.parts) assert.deepEqual(part.defects, []);

  const [perMessage, rcpt] = p.parts[1].blocks!;
  assert.equal(field(perMessage, "Original-Envelope-Id"), "QQ314159+x", "xtext decoded");
  assert.equal(field(perMessage, "Reporting-MTA"), "dns; mail.us.example");
  assert.equal(field(perMessage, "Arrival-Date"), rfc5322Date(T0));
  assert.equal(field(rcpt, "Original-Recipient"), "rfc822;Bob+work@dest.example");
  assert.equal(field(rcpt, "Final-Recipient"), "rfc822;bob+work@dest.example");
  assert.equal(field(rcpt, "Action"), "failed");
  assert.equal(field(rcpt, "Status"), "5.1.1");
  assert.equal(field(rcpt, "Remote-MTA"), "dns; mx1.dest.example");
  assert.equal(
    field(rcpt, "Diagnostic-Code"),
    "smtp; 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 Please check the address.",
  );
  assert.equal(field(rcpt, "Last-Attempt-Date"), rfc5322Date(T0 + 30_000));
  assert.equal(field(rcpt, "Will-Retry-Until"), undefined);

  assert.equal(p.parts[2].inner_headers!["Subject"], "Quarterly report");
  assert.match(p.parts[2].inner_body!, /the numbers are attached/);
  assert.match(p.parts[0].text!, /bob\+work@dest\.example/);
  assert.match(p.parts[0].text!, /550 5\.1\.1 Please check the address\./);
});

test("RET=HDRS returns only the header as text/rfc822-headers", () => {
  const dsn = composeDsn(failedInput({ ret: "HDRS" }));
  assert.equal(dsn.returned, "headers");
  const p = pyParse(dsn.message);
  assert.equal(p.parts[2].type, "text/rfc822-headers");
  assert.match(p.parts[2].text!, /^Subject: Quarterly report\r?$/m);
  assert.doesNotMatch(p.parts[2].text!, /numbers are attached/);
});

test("a delay warning carries Will-Retry-Until and returns headers only", () => {
  const until = T0 + 5 * 86_400_000;
  const input = failedInput({ envid: undefined, ret: undefined });
  input.recipients = [
    { finalRecipient: "bob@dest.example", action: "delayed", status: "4.4.1", lastAttemptDate: T0 + 4 * 3600_000, willRetryUntil: until },
    { finalRecipient: "carol@dest.example", action: "delayed", status: "4.7.0", remoteMta: "mx2.dest.example", smtpReply: ["421 4.7.0 Try again later"] },
  ];
  const dsn = composeDsn(input);
  const p = pyParse(dsn.message);
  assert.equal(p.headers["Subject"], "Delayed Mail (still being retried)");
  const blocks = p.parts[1].blocks!;
  assert.equal(blocks.length, 3, "per-message block and one block per recipient");
  assert.equal(field(blocks[0], "Original-Envelope-Id"), undefined);
  assert.equal(field(blocks[1], "Action"), "delayed");
  assert.equal(field(blocks[1], "Will-Retry-Until"), rfc5322Date(until));
  assert.equal(field(blocks[1], "Original-Recipient"), undefined);
  assert.equal(field(blocks[2], "Diagnostic-Code"), "smtp; 421 4.7.0 Try again later");
  assert.equal(p.parts[2].type, "text/rfc822-headers");
});

test("without RET a failure returns the full message; above the size limit only the header", () => {
  assert.equal(returnedContent({ recipients: failedInput().recipients, original, ret: undefined }), "full");
  const dsn = composeDsn(failedInput({ maxFullBytes: 50 }));
  assert.equal(dsn.returned, "headers");
  const p = pyParse(dsn.message);
  assert.equal(p.parts[2].type, "text/rfc822-headers");
  assert.match(p.parts[0].text!, /too large/);
});

test("relayed and delivered reports name their action", () => {
  const input = failedInput();
  input.recipients = [{ finalRecipient: "bob@dest.example", action: "relayed", status: "2.0.0", remoteMta: "relay.example" }];
  const p = pyParse(composeDsn(input).message);
  assert.equal(p.headers["Subject"], "Mail Relayed (no further notifications)");
  assert.equal(field(p.parts[1].blocks![1], "Action"), "relayed");
  assert.equal(p.parts[2].type, "text/rfc822-headers", "success reports carry headers only");
});

test("a remote reply cannot inject fields into the report", () => {
  const input = failedInput();
  input.recipients = [
    { finalRecipient: "bob@dest.example", action: "failed", status: "5.0.0", smtpReply: ["550 no\r\nAction: delivered"] },
  ];
  const p = pyParse(composeDsn(input).message);
  const block = p.parts[1].blocks![1];
  assert.equal(block.filter(([k]) => k === "Action").length, 1);
  assert.equal(field(block, "Action"), "failed");
});

test("an 8-bit original is attached as 8bit and flagged; UTF-8 addresses switch to RFC 6533 types", () => {
  const eight = Buffer.concat([original.subarray(0, original.indexOf("\r\n\r\n") + 4), Buffer.from("Grüße aus Köln\r\n", "utf8")]);
  const d1 = composeDsn(failedInput({ original: eight }));
  assert.equal(d1.eightBit, true);
  assert.equal(d1.requiresSmtpUtf8, false);
  const p1 = pyParse(d1.message);
  assert.equal(p1.parts[2].type, "message/rfc822");
  assert.equal(p1.parts[2].cte, "8bit");
  assert.ok(d1.message.includes(Buffer.from("Grüße aus Köln", "utf8")), "original bytes unchanged");

  const input = failedInput({ to: "jörg@sender.example" });
  input.recipients = [{ finalRecipient: "ünïcode@dest.example", action: "failed", status: "5.1.1" }];
  const d2 = composeDsn(input);
  assert.equal(d2.requiresSmtpUtf8, true);
  const p2 = pyParse(d2.message);
  assert.equal(p2.parts[1].type, "message/global-delivery-status");
});

test("xtext decoding and dates", () => {
  assert.equal(decodeXtext("a+2Bb+3Dc"), "a+b=c");
  assert.equal(decodeXtext("plain"), "plain");
  assert.equal(rfc5322Date(Date.UTC(2026, 0, 5, 3, 4, 5)), "Mon, 5 Jan 2026 03:04:05 +0000");
  assert.throws(() => composeDsn(failedInput({ recipients: [] })));
});

test("a double bounce goes to the postmaster and says so", () => {
  const input = failedInput({ to: "postmaster@mail.us.example", toPostmaster: true, envid: "bad+C3+A9id" });
  const dsn = composeDsn(input);
  assert.equal(dsn.rcptTo, "postmaster@mail.us.example");
  const p = pyParse(dsn.message);
  assert.equal(p.headers["Subject"], "Undeliverable bounce (postmaster notice)");
  assert.match(p.parts[0].text!, /could not be delivered to its recipient/);
  assert.equal(field(p.parts[1].blocks![0], "Original-Envelope-Id"), "bad?id", "a non-ASCII ENVID character is replaced");
  assert.equal(p.parts[1].cte, "7bit");
});
