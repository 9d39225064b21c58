// Replayed exchanges for issue 16 §2 (part b): BINARY of whole messages and quoted-printable
// trailing white space (RFC 3516, RFC 2045 §6.7), LIST-EXTENDED CHILDINFO / LSUB \Noselect /
// CREATE without subscribing (RFC 5258, RFC 3501 §6.3.9), SEARCH on addresses with comments and
// CFWS (RFC 5322 §3.4), SENT* on the Date header's own day (RFC 3501 §6.4.4), odd mailbox names
// and modified UTF-7 (RFC 3501 §5.1.3); and from §3, plaintext login on loopback. Where Dovecot
// runs here, the same exchange is replayed against it and the answers compared.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { systemClock } from "../../src/clock.ts";
import { createSelfSigned } from "../../src/tls/selfsigned.ts";
import { PASSWORD, USER, startHarness } from "./harness.ts";
import type { Harness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";
import { RawImapClient, dovecotUnavailable, startDovecot } from "../support/dovecot.ts";

const crlf = (s: string): string => s.replace(/\r?\n/g, "\r\n");

async function append(c: RawClient, mailbox: string, message: string): Promise<void> {
  const m = Buffer.from(crlf(message), "latin1");
  c.send(`a1 APPEND ${mailbox} {${m.length}+}\r\n`);
  c.send(Buffer.concat([m, Buffer.from("\r\n")]));
  const r = await c.until("a1");
  assert.equal(r.status, "OK", r.text);
}

async function session(h: Harness): Promise<RawClient> {
  const c = await RawClient.connect(h.port);
  await c.login(USER, PASSWORD);
  return c;
}

// ---- BINARY ----

const MULTIPART = `From: user@domain.org
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo"

prologue
--foo
Content-Type: text/plain
Content-Transfer-Encoding: quoted-printable

hello  
bar=
foo\t 
x=20
--foo
Content-Type: message/rfc822

Subject: inner
Content-Type: text/plain
Content-Transfer-Encoding: base64

aGVsbG8gd29ybGQ=
--foo
Content-Type: text/plain; charset=us-ascii

plain  
--foo--
epilogue
`;

const MULTIPART_DECODED = crlf(`From: user@domain.org
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo"

prologue
--foo
Content-Type: text/plain
Content-Transfer-Encoding: binary

hello
barfoo
x 
--foo
Content-Type: message/rfc822

Subject: inner
Content-Type: text/plain
Content-Transfer-Encoding: binary

hello world
--foo
Content-Type: text/plain; charset=us-ascii

plain  
--foo--
epilogue
`);

function binaryItem(line: string, name: string): string {
  const at = line.indexOf(`${name} `);
  assert.ok(at >= 0, `${name} in ${line}`);
  const m = /^~?\{(\d+)\}/.exec(line.slice(at + name.length + 1));
  assert.ok(m, `literal after ${name}`);
  const start = at + name.length + 1 + m[0].length;
  return line.slice(start, start + Number(m[1]));
}

test("BINARY[] of a multipart is the whole message with its leaves decoded; QP drops trailing white space", async () => {
  const h = await startHarness();
  try {
    const c = await session(h);
    await c.cmd("CREATE bt");
    await append(c, "bt", MULTIPART);
    await append(c, "bt", "From: a@b\nContent-Transfer-Encoding: quoted-printable\n\nhello  \nx=3Dy\n");
    await append(c, "bt", "From: a@b\nMime-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n--b--\n");
    assert.equal((await c.cmd("SELECT bt")).status, "OK");

    // RFC 3516 §4.1 / RFC 9051 §6.4.5: BINARY[] is the whole message, not [UNKNOWN-CTE].
    let r = await c.cmd("FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])");
    assert.equal(r.status, "OK", r.text);
    assert.equal(binaryItem(r.untagged[0], "BINARY[]"), MULTIPART_DECODED);
    assert.match(r.untagged[0], new RegExp(`BINARY\\.SIZE\\[\\] ${Buffer.byteLength(MULTIPART_DECODED)}\\)$`));

    // RFC 2045 §6.7 rule 3: "hello␠␠" CRLF decodes to "hello" CRLF; an encoded =20 stays.
    r = await c.cmd("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])");
    assert.equal(binaryItem(r.untagged[0], "BINARY[1]"), "hello\r\nbarfoo\r\nx ");
    assert.match(r.untagged[0], /BINARY\.SIZE\[1\] 17\)$/);
    r = await c.cmd("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[2.1] BINARY.PEEK[3])");
    const inner = "Subject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nhello world";
    assert.equal(binaryItem(r.untagged[0], "BINARY[2]"), inner);
    assert.match(r.untagged[0], new RegExp(`BINARY\\.SIZE\\[2\\] ${inner.length} `));
    assert.equal(binaryItem(r.untagged[0], "BINARY[2.1]"), "hello world");
    assert.equal(binaryItem(r.untagged[0], "BINARY[3]"), "plain  ", "7bit data is not QP: white space kept");

    // A single-part message: its header (encoding relabelled) and decoded body; partial ranges
    // are of the decoded data.
    r = await c.cmd("FETCH 2 (BINARY.PEEK[] BINARY.SIZE[] BINARY.PEEK[1] BINARY.SIZE[1])");
    assert.equal(binaryItem(r.untagged[0], "BINARY[]"), "From: a@b\r\nContent-Transfer-Encoding: binary\r\n\r\nhello\r\nx=y\r\n");
    assert.equal(binaryItem(r.untagged[0], "BINARY[1]"), "hello\r\nx=y\r\n");
    assert.match(r.untagged[0], /BINARY\.SIZE\[\] 60 .*BINARY\.SIZE\[1\] 12\)$/s);
    r = await c.cmd("FETCH 2 (BINARY.PEEK[1]<5.3>)");
    assert.equal(binaryItem(r.untagged[0], "BINARY[1]<5>"), "\r\nx");

    // An encoding nobody knows, anywhere inside: RFC 3516 §4.3 [UNKNOWN-CTE].
    r = await c.cmd("FETCH 3 (BINARY.PEEK[])");
    assert.equal(r.status, "NO");
    assert.match(r.text, /\[UNKNOWN-CTE\]/);
    r = await c.cmd("FETCH 3 (BINARY.PEEK[1])");
    assert.match(r.text, /^NO \[UNKNOWN-CTE\]/);
    assert.equal((await c.cmd("NOOP")).status, "OK", "the session goes on");

    // BINARY without PEEK sets \Seen, as BODY[] does.
    r = await c.cmd("FETCH 2 (BINARY[1])");
    // BINARY[] sets \Seen; this IMAP4rev1 session also holds the message as \Recent (RFC 3501 §2.3.2).
    assert.match(r.untagged.join("\n"), /FLAGS \(\\Seen( \\Recent)?\)/);
    c.close();
  } finally {
    await h.close();
  }
});

test("BINARY answers agree with Dovecot's (data; literal8 marking aside)", { skip: dovecotUnavailable() }, async () => {
  const dovecot = await startDovecot();
  const h = await startHarness();
  const answers = async (port: number, user: string, pass: string): Promise<string[]> => {
    const c = await RawImapClient.connect(port);
    await c.command(`LOGIN "${user}" "${pass}"`);
    await c.command("CREATE bt");
    await c.command("APPEND bt", Buffer.from(crlf(MULTIPART)));
    await c.command("APPEND bt", Buffer.from(crlf("From: a@b\nContent-Transfer-Encoding: quoted-printable\n\nhello  \nx=3Dy\n")));
    await c.command("SELECT bt");
    const out: string[] = [];
    for (const cmd of [
      "FETCH 1 (BINARY.PEEK[])",
      "FETCH 1 (BINARY.SIZE[])",
      "FETCH 1 (BINARY.PEEK[1])",
      "FETCH 1 (BINARY.SIZE[1])",
      "FETCH 1 (BINARY.PEEK[2])",
      "FETCH 1 (BINARY.PEEK[3])",
      "FETCH 2 (BINARY.PEEK[] BINARY.SIZE[])",
      "FETCH 2 (BINARY.PEEK[1]<2.6>)",
    ]) {
      const r = await c.command(cmd);
      // Dovecot marks converted data as literal8 (~{n}) even without NUL; both are allowed (RFC 3516 §4.2).
      out.push(`${cmd} -> ${r.untagged.map((u) => u.toString("latin1").replace(/~\{/g, "{")).join("")}${r.tagged.split(" ")[1]}`);
    }
    await c.close();
    return out;
  };
  try {
    const theirs = await answers(dovecot.port, dovecot.user, dovecot.password);
    const ours = await answers(h.port, USER, PASSWORD);
    assert.deepEqual(ours, theirs);
  } finally {
    await dovecot.stop();
    await h.close();
  }
});

// ---- LIST-EXTENDED, LSUB, CREATE ----

test("LIST-EXTENDED CHILDINFO, LSUB % parents \\Noselect, CREATE does not subscribe", async () => {
  const h = await startHarness();
  try {
    const c = await session(h);
    for (const n of ["lt/test1", "lt/test2/test1", "lt/test3", "lt/test6", "lt/test8/test8", "lt/test8/test9"]) assert.equal((await c.cmd(`CREATE ${n}`)).status, "OK");
    // CREATE subscribes nothing (the new mailbox nor the levels it made); the account's default
    // mailboxes are subscribed.
    let r = await c.cmd('LSUB "" *');
    assert.deepEqual(r.untagged, ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"].map((n) => `* LSUB () "/" ${n}`));
    r = await c.cmd('LIST "" lt/% RETURN (SUBSCRIBED)');
    assert.ok(r.untagged.length > 0 && r.untagged.every((l) => !l.includes("\\Subscribed")), r.untagged.join("\n"));

    for (const n of ["lt/test1", "lt/test2/test1", "lt/test6", "lt/test8/test8", "lt/test8/test9"]) await c.cmd(`SUBSCRIBE ${n}`);
    await c.cmd("DELETE lt/test6");

    // RFC 5258 §3.5: the unsubscribed parent of a subscribed child is returned with CHILDINFO.
    r = await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" lt/test2% RETURN (CHILDREN)');
    assert.deepEqual(r.untagged, ['* LIST (\\HasChildren) "/" lt/test2 ("CHILDINFO" ("SUBSCRIBED"))']);
    r = await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8');
    assert.deepEqual(r.untagged, [
      '* LIST (\\HasChildren) "/" lt/test8 ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test8/test8',
    ]);
    // RFC 5258 §3.5: no redundant CHILDINFO when the subscribed child is returned too.
    r = await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" (lt/test2 lt/test2/test1)');
    assert.deepEqual(r.untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" lt/test2/test1']);
    r = await c.cmd('LIST (SUBSCRIBED) "" lt/*');
    assert.deepEqual(r.untagged, [
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test1',
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test2/test1',
      '* LIST (\\NonExistent \\Subscribed) "/" lt/test6',
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test8/test8',
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test8/test9',
    ]);
    // A plain LIST lists mailboxes only, even with RETURN (SUBSCRIBED): the deleted name is not one.
    r = await c.cmd('LIST "" lt/% RETURN (CHILDREN SUBSCRIBED)');
    assert.deepEqual(r.untagged, [
      '* LIST (\\HasNoChildren \\Subscribed) "/" lt/test1',
      '* LIST (\\HasChildren) "/" lt/test2',
      '* LIST (\\HasNoChildren) "/" lt/test3',
      '* LIST (\\HasChildren) "/" lt/test8',
    ]);
    assert.equal((await c.cmd('LIST (RECURSIVEMATCH) "" %')).status, "BAD", "RFC 5258 §3.1: RECURSIVEMATCH alone is BAD");

    // RFC 3501 §6.3.9: LSUB with "%" returns the unsubscribed parent of a subscribed child, \Noselect.
    r = await c.cmd('LSUB "" lt/%');
    assert.deepEqual(r.untagged, [
      '* LSUB () "/" lt/test1',
      '* LSUB (\\Noselect) "/" lt/test2',
      '* LSUB (\\Noselect) "/" lt/test6',
      '* LSUB (\\Noselect) "/" lt/test8',
    ]);
    r = await c.cmd('LSUB "" %');
    assert.ok(r.untagged.includes('* LSUB (\\Noselect) "/" lt'), r.untagged.join("\n"));
    r = await c.cmd('LSUB "" *test1');
    assert.deepEqual(r.untagged, ['* LSUB () "/" lt/test1', '* LSUB () "/" lt/test2/test1']);
    await c.cmd("SUBSCRIBE lt/test8");
    r = await c.cmd('LSUB "" lt/%');
    assert.ok(r.untagged.includes('* LSUB () "/" lt/test8'), "a subscribed parent is listed as itself");

    // A kept subscription (deleted, still subscribed) stays on the name when it is created again.
    assert.equal((await c.cmd("CREATE lt/test6")).status, "OK");
    r = await c.cmd('LIST (SUBSCRIBED) "" lt/test6');
    assert.deepEqual(r.untagged, ['* LIST (\\HasNoChildren \\Subscribed) "/" lt/test6']);
    c.close();
  } finally {
    await h.close();
  }
});

// ---- SEARCH: addresses with comments and CFWS; SENT* on the Date header's own day ----

const ADDRESS_MAILS = [
  "From: user-from@domain.org\nTo: user-to@domain.org\nCc: user-cc@domain.org\nBcc: user-bcc@domain.org\n\nbody\n",
  "From: RealFrom <user-from@domain.org>\nTo: RealTo <user-to@domain.org>\nCc: RealCc <user-cc@domain.org>\nBcc: RealBcc <user-bcc@domain.org>\n\nbody2\n",
  "From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>\nCc: <user-cc@domain.org>\nBcc: <user-bcc@domain.org>\n\nbody3\n",
  "From: user-from@domain.org (RealFrom)\nTo: user-to@domain.org (RealTo)\nCc: user-cc@domain.org (RealCc)\nBcc: user-bcc@domain.org (RealBcc)\n\nbody4\n",
  "From: user-from1@domain.org, user-from2@domain.org\nCc: user-cc@domain.org\n\nbody5\n",
  "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n  groupname2: groupuser3@domain.org;\n\nbody6\n",
  "From: =?UTF-8?Q?J=C3=B6rg?= <joerg (work) @ example.org>\n\nbody7\n",
  // Which comment names a mailbox: only one after a bare addr-spec's start (as Dovecot reads it).
  "From: <a@b.org> (cmtone)\nTo: a (xname)@b.org\nCc: a@b.org (yname) (zname)\nBcc: (prename) a@b.org\n\nbody8\n",
];

const ADDRESS_SEARCHES: Array<[string, string]> = [
  ["FROM user-from@domain.org", "1 2 3 4"],
  ["TO user-to@domain.org", "1 2 3 4"],
  ["CC user-cc@domain.org", "1 2 3 4 5"],
  ["BCC user-bcc@domain.org", "1 2 3 4"],
  ["FROM realfrom", "2 4"],
  ["BCC ealbc", "2 4"],
  ["FROM ser-fro", "1 2 3 4 5"],
  ["FROM user-from2", "5"],
  ["TO groupname", "6"],
  ["TO groupuser3", "6"],
  ["TO groupuser4", ""],
  ["FROM joerg@example.org", "7"],
  ["FROM comment", ""],
  ["FROM cmtone", ""],
  ["TO xname", "8"],
  ["CC yname", ""],
  ["CC zname", "8"],
  ["BCC prename", ""],
];

// Dates around the EET→EEST change, written in their own zones (imaptest's search-date cases).
const DATE_MAILS = [
  "Sat, 24 Mar 2007 23:00:00 +0200",
  "Sun, 25 Mar 2007 00:00:00 +0200",
  "Sun, 25 Mar 2007 03:59:59 +0300",
  "Sun, 25 Mar 2007 23:59:59 +0300",
  "Mon, 26 Mar 2007 00:30:00 -0900",
  "Sun, 25 Mar 07 12:00:00 GMT (obsolete two-digit year)",
];

const DATE_SEARCHES: Array<[string, string]> = [
  ["SENTBEFORE 25-Mar-2007", "1"],
  ["SENTON 24-Mar-2007", "1"],
  ["SENTON 25-Mar-2007", "2 3 4 6"],
  ["SENTON 26-Mar-2007", "5"],
  ["SENTSINCE 25-Mar-2007", "2 3 4 5 6"],
  ["SENTSINCE 26-Mar-2007", "5"],
  ["SENTBEFORE 24-Mar-2007", ""],
];

async function searchAnswers(port: number, user: string, pass: string): Promise<string[]> {
  const c = await RawImapClient.connect(port);
  await c.command(`LOGIN "${user}" "${pass}"`);
  await c.command("CREATE addr");
  await c.command("CREATE dates");
  for (const m of ADDRESS_MAILS) await c.command("APPEND addr", Buffer.from(crlf(m)));
  for (const d of DATE_MAILS) await c.command("APPEND dates", Buffer.from(crlf(`From: a@b\nDate: ${d}\nSubject: d\n\nx\n`)));
  const out: string[] = [];
  await c.command("SELECT addr");
  const env = await c.command("FETCH 8 ENVELOPE");
  out.push(env.untagged.map((u) => u.toString("latin1").trimEnd()).join(""));
  for (const [box, searches] of [["addr", ADDRESS_SEARCHES], ["dates", DATE_SEARCHES]] as const) {
    await c.command(`SELECT ${box}`);
    for (const [q] of searches) {
      const r = await c.command(`SEARCH ${q}`);
      const line = r.untagged.map((u) => u.toString("latin1").trimEnd()).find((l) => l.startsWith("* SEARCH")) ?? "";
      out.push(`${q} -> ${line.slice("* SEARCH".length).trim()} ${r.tagged.split(" ")[1]}`);
    }
  }
  await c.close();
  return out;
}

const expected = [
  '* 8 FETCH (ENVELOPE (NIL NIL ((NIL NIL "a" "b.org")) ((NIL NIL "a" "b.org")) ((NIL NIL "a" "b.org")) (("xname" NIL "a" "b.org")) (("zname" NIL "a" "b.org")) ((NIL NIL "a" "b.org")) NIL NIL))',
  ...[...ADDRESS_SEARCHES, ...DATE_SEARCHES].map(([q, uids]) => `${q} -> ${uids} OK`),
];

test("SEARCH FROM/TO/CC/BCC ignore comments and CFWS; SENT* use the Date header's own day", async () => {
  const h = await startHarness();
  try {
    assert.deepEqual(await searchAnswers(h.port, USER, PASSWORD), expected);
  } finally {
    await h.close();
  }
});

test("SEARCH address and SENT* answers agree with Dovecot's", { skip: dovecotUnavailable() }, async () => {
  const dovecot = await startDovecot();
  try {
    assert.deepEqual(await searchAnswers(dovecot.port, dovecot.user, dovecot.password), expected);
  } finally {
    await dovecot.stop();
  }
});

// ---- Mailbox names with unusual atoms; modified UTF-7 ----

test("odd mailbox names: NO for names that are not modified UTF-7 (never BAD, never a dropped connection)", async () => {
  const h = await startHarness();
  try {
    const c = await session(h);
    const odd = "!#$&'+,-.0123456789:;<=>?@^_`|[}";
    // "&'" starts a shifted run with a character outside modified base64 (RFC 3501 §5.1.3).
    for (const cmd of [`CREATE ${odd}`, `CREATE "${odd}"`, `SELECT ${odd}`, `STATUS ${odd} (MESSAGES)`, `DELETE ${odd}`, `SUBSCRIBE ${odd}`, `RENAME INBOX ${odd}`]) {
      const r = await c.cmd(cmd);
      assert.match(r.text, /^NO \[CANNOT\] /, cmd);
    }
    // The same characters with "&" written as "&-" are a valid name: created, listed as sent.
    const valid = "!#$&-'+,-.0123456789:;<=>?@^_`|[}";
    assert.equal((await c.cmd(`CREATE ${valid}`)).status, "OK");
    let r = await c.cmd('LIST "" "!*"');
    assert.deepEqual(r.untagged, [`* LIST (\\HasNoChildren) "/" "${valid}"`]);
    assert.equal((await c.cmd(`SELECT "${valid}"`)).status, "OK");

    // What RFC 3501 §5.1.3 allows is accepted: "&-" for "&", one shifted run per non-ASCII stretch,
    // a surrogate pair in one run.
    for (const n of ["a&-&-", "&ZeVnLIqe-", "x&2D3cAA-y", "Entw&APw-rfe"]) assert.equal((await c.cmd(`CREATE ${n}`)).status, "OK", n);
    r = await c.cmd('LIST "" *');
    for (const n of ["a&-&-", "&ZeVnLIqe-", "x&2D3cAA-y", "Entw&APw-rfe"]) assert.ok(r.untagged.some((l) => l.endsWith(` ${n}`)), n);
    // ... and the rest refused with NO: unterminated, base64 for printable ASCII, a null shift
    // ("-&"), a lone surrogate, an 8-bit name outside UTF-8 mode.
    for (const n of ["a&Jjo", "x&", "&AGE-", "&Jjo-&Jjo-", "&2D0-", '"café"']) {
      r = await c.cmd(`CREATE ${n}`);
      assert.match(r.text, /^NO \[CANNOT\] /, n);
    }
    // A LIST pattern that is not modified UTF-7 matches nothing: OK, as Dovecot answers.
    r = await c.cmd('LIST "" "a&b"');
    assert.deepEqual([r.status, r.untagged], ["OK", []]);
    r = await c.cmd('LSUB "" "a&b"');
    assert.deepEqual([r.status, r.untagged], ["OK", []]);
    // APPEND to such a name: its literal is read, then NO; the session goes on.
    const msg = "From: a@b\r\n\r\nx\r\n";
    c.send(`a9 APPEND a&b {${msg.length}+}\r\n${msg}\r\n`);
    assert.match((await c.until("a9")).text, /^NO \[CANNOT\] /);
    // A syntax error elsewhere in the same command is still BAD.
    assert.equal((await c.cmd(`STATUS ${odd} (FOO)`)).status, "BAD");
    assert.equal((await c.cmd("NOOP")).status, "OK");
    assert.equal(c.closed, false);
    c.close();
  } finally {
    await h.close();
  }
});

// ---- Plaintext login on loopback (issue 16 §3; config imap.allowPlaintextOnLoopback) ----

test("LOGIN/AUTHENTICATE PLAIN without TLS on 127.0.0.1: allowed by default, refused with the switch off", async () => {
  const pem = await createSelfSigned({ hostname: "localhost", altNames: ["127.0.0.1"], clock: systemClock });
  const secureContext = tls.createSecureContext({ cert: pem.cert, key: pem.key });
  const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64");
  for (const allowPlaintextOnLoopback of [undefined, true, false]) {
    // allowPlaintextAuth: false turns the test-only override off: only the loopback rule decides.
    const h = await startHarness({ allowPlaintextAuth: false, allowPlaintextOnLoopback, listener: { tls: "starttls", secureContext } });
    const what = `allowPlaintextOnLoopback=${allowPlaintextOnLoopback}`;
    try {
      const raw = await new Promise<string>((resolve, reject) => {
        const s = net.connect(h.port, "127.0.0.1");
        s.once("data", (d) => {
          resolve(d.toString("latin1"));
          s.destroy();
        });
        s.once("error", reject);
      });
      const c = await RawClient.connect(h.port);
      const cap = (await c.cmd("CAPABILITY")).untagged[0];
      assert.match(cap, /STARTTLS/, what);
      if (allowPlaintextOnLoopback !== false) {
        assert.match(raw, /^\* OK \[CAPABILITY [^\]]*AUTH=PLAIN/, `${what}: greeting`);
        assert.match(cap, /AUTH=PLAIN/, what);
        assert.doesNotMatch(cap, /LOGINDISABLED/, what);
        assert.equal((await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)).status, "OK", what);
        const c2 = await RawClient.connect(h.port);
        assert.equal((await c2.cmd(`AUTHENTICATE PLAIN ${plain}`)).status, "OK", `${what}: SASL-IR`);
        c2.close();
      } else {
        assert.match(raw, /^\* OK \[CAPABILITY [^\]]*LOGINDISABLED/, `${what}: greeting`);
        assert.match(cap, /LOGINDISABLED/, what);
        assert.doesNotMatch(cap, /AUTH=PLAIN/, what);
        assert.match((await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)).text, /^NO \[PRIVACYREQUIRED\]/, what);
        assert.match((await c.cmd(`AUTHENTICATE PLAIN ${plain}`)).text, /^NO \[PRIVACYREQUIRED\]/, what);
      }
      c.close();
    } finally {
      await h.close();
    }
  }
});
