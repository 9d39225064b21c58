# Drives a Freehold IMAP server with Python's imaplib (Debian /usr/bin/python3): every basic
# command, literals, partial fetches and the error answers. Prints one line per check and
# "CHECKS n" at the end; exits non-zero on the first failed check.
import imaplib, re, sys

port = int(sys.argv[1]); user = sys.argv[2]; password = sys.argv[3]
checks = 0

def check(cond, what, got=None):
    global checks
    if not cond:
        print("FAIL", what, repr(got)); sys.exit(1)
    checks += 1
    print("ok", what)

def raw(c, line):
    """Send a raw command; return (status, untagged lines, tagged text)."""
    tag = c._new_tag().decode()
    c.send(("%s %s\r\n" % (tag, line)).encode())
    untagged = []
    while True:
        l = c._get_line().decode("utf-8", "replace")
        if l.startswith(tag + " "):
            rest = l[len(tag) + 1:]
            return rest.split(" ", 1)[0], untagged, rest
        untagged.append(l)

c = imaplib.IMAP4("127.0.0.1", port)
check("AUTH=PLAIN" in c.capabilities, "capabilities before login", c.capabilities)
# Wrong state: SELECT before login is BAD.
st, _, text = raw(c, "SELECT INBOX")
check(st == "BAD", "SELECT before login is BAD", text)
try:
    c.login(user, "wrong password")
    check(False, "bad password refused")
except imaplib.IMAP4.error as e:
    check("AUTHENTICATIONFAILED" in str(e), "bad password: NO [AUTHENTICATIONFAILED]", str(e))
# LOGIN with a literal password (imaplib sends it quoted; force a literal via raw).
tag = c._new_tag().decode()
pw = password.encode()
c.send(("%s LOGIN {%d}\r\n" % (tag, len(user))).encode())
check(c._get_line().startswith(b"+"), "continuation for a synchronizing literal")
c.send(user.encode() + (" {%d+}\r\n" % len(pw)).encode() + pw + b"\r\n")
l = c._get_line().decode()
check(l.startswith(tag + " OK") and "CAPABILITY" in l, "LOGIN with literal and LITERAL+", l)
c.state = "AUTH"

st, unt, _ = raw(c, "LIST \"\" *")
names = [re.sub(r'^\* LIST \([^)]*\) "/" ', "", u) for u in unt]
check("INBOX" in names and "Sent" in names, "LIST shows default mailboxes", names)
check(any("\\Sent" in u for u in unt), "LIST shows SPECIAL-USE attributes", unt)
st, unt, _ = raw(c, "LIST \"\" \"\"")
check(unt == ['* LIST (\\Noselect) "/" ""'], "LIST \"\" \"\" gives the delimiter", unt)
st, unt, _ = raw(c, "NAMESPACE")
check(unt == ['* NAMESPACE (("" "/")) NIL NIL'], "NAMESPACE", unt)
st, unt, _ = raw(c, 'ID ("name" "imaplib")')
check(unt and unt[0].startswith('* ID ("name"'), "ID", unt)

# Missing mailbox → NO [NONEXISTENT]; APPEND to a missing one → [TRYCREATE].
st, _, text = raw(c, "SELECT Nowhere")
check(st == "NO" and "[NONEXISTENT]" in text, "SELECT missing: NO [NONEXISTENT]", text)
typ, data = c.append("Nowhere", None, None, b"Subject: x\r\n\r\nx\r\n")
check(typ == "NO" and b"TRYCREATE" in data[0], "APPEND to missing mailbox: NO [TRYCREATE]", data)
# Bad syntax → BAD, the session goes on.
st, _, text = raw(c, "FETCH")
check(st == "BAD", "FETCH without arguments is BAD", text)
st, _, text = raw(c, "FROBNICATE")
check(st == "BAD", "unknown command is BAD", text)
st, _, text = raw(c, "FETCH 1 FLAGS")
check(st == "BAD", "FETCH in authenticated state is BAD", text)

# Mailbox names.
check(c.create("Work/Projects")[0] == "OK", "CREATE with hierarchy")
st, unt, _ = raw(c, 'LIST "" "Work/%"')
check(unt == ['* LIST (\\HasNoChildren) "/" Work/Projects'], "LIST % one level", unt)
st, unt, _ = raw(c, 'LIST "" "%"')
check(any(u.endswith(" Work") and "HasChildren" in u for u in unt), "parent has \\HasChildren", unt)
st, _, text = raw(c, "CREATE foo*bar")
check(st in ("NO", "BAD"), "CREATE with * refused", text)
st, _, text = raw(c, "CREATE &Jjo-bad&")
check(st in ("NO", "BAD"), "invalid modified UTF-7 refused", text)
check(c.create("&AOk-t&AOk-")[0] == "OK", "CREATE modified UTF-7 name")
st, unt, _ = raw(c, 'LIST "" "&AOk-t&AOk-"')
check(len(unt) == 1 and unt[0].endswith("&AOk-t&AOk-"), "mUTF-7 name listed as sent", unt)
st, _, text = raw(c, "DELETE Work")
check(st == "OK", "DELETE parent with children", text)
st, unt, _ = raw(c, 'LIST "" "Work*"')
check(unt == ['* LIST (\\Noselect \\HasChildren) "/" Work', '* LIST (\\HasNoChildren) "/" Work/Projects'], "deleted parent stays as \\Noselect", unt)
st, unt, _ = raw(c, 'LIST () "" "Work"')
check(unt == ['* LIST (\\NonExistent \\HasChildren) "/" Work'], "LIST-EXTENDED shows it \\NonExistent", unt)
st, _, text = raw(c, "DELETE Work")
check(st == "NO", "DELETE of the \\Noselect name is refused", text)
st, _, text = raw(c, "CREATE Stuff (USE (\\Flagged))")
st2, unt, _ = raw(c, 'LIST "" Stuff')
check(st == "OK" and "\\Flagged" in unt[0], "CREATE-SPECIAL-USE", (text, unt))
st, unt, _ = raw(c, 'LIST (SPECIAL-USE) "" "*"')
check(all(re.search(r"\\(Sent|Drafts|Trash|Junk|Archive|Flagged)", u) for u in unt) and len(unt) == 6, "LIST (SPECIAL-USE) selection", unt)
st, unt, _ = raw(c, 'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT))')
check(any(u.startswith("* STATUS INBOX (MESSAGES ") for u in unt), "LIST-STATUS returns STATUS lines", unt)

# Subscriptions outlive DELETE (RFC 9051 §6.3.5) and show \\NonExistent (RFC 5258 §3.1).
c.create("Gone"); c.subscribe("Gone"); c.delete("Gone")
st, unt, _ = raw(c, 'LIST (SUBSCRIBED) "" "Gone"')
check(unt == ['* LIST (\\NonExistent \\Subscribed) "/" Gone'], "subscribed-but-deleted is \\NonExistent", unt)
st, unt, _ = raw(c, 'LSUB "" "Gone"')
check(unt == ['* LSUB (\\Noselect) "/" Gone'], "LSUB shows it \\Noselect", unt)
c.unsubscribe("Gone")
st, unt, _ = raw(c, 'LIST (SUBSCRIBED) "" "Gone"')
check(unt == [], "UNSUBSCRIBE removes the name", unt)
st, unt, _ = raw(c, 'LIST "" "*" RETURN (SUBSCRIBED)')
check(any(u == '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX' for u in unt), "RETURN (SUBSCRIBED)", unt)

# DELETE then CREATE gives a new UIDVALIDITY (RFC 9051 §2.3.1.1).
c.create("Temp")
v1 = re.search(rb"UIDVALIDITY (\d+)", c.status("Temp", "(UIDVALIDITY)")[1][0]).group(1)
c.delete("Temp"); c.create("Temp")
v2 = re.search(rb"UIDVALIDITY (\d+)", c.status("Temp", "(UIDVALIDITY)")[1][0]).group(1)
check(v1 != v2, "DELETE + CREATE gives a new UIDVALIDITY", (v1, v2))

# APPEND (literal), then FETCH with partials.
msg = b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: Partial test\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--XX--\r\n"
typ, data = c.append("Temp", "(\\Flagged $Label1)", '"24-Nov-2026 09:00:00 +0100"', msg)
check(typ == "OK" and b"APPENDUID" in data[0], "APPEND answers APPENDUID", data)
typ, data = c.select("Temp")
check(typ == "OK" and data == [b"1"], "SELECT counts the message", data)
typ, data = c.fetch("1", "(BODY.PEEK[]<0.4> BODY.PEEK[]<10.5> BODY.PEEK[1] BODY.PEEK[2.MIME] RFC822.SIZE INTERNALDATE FLAGS)")
resp = data[0][0].decode()
check(data[0][1] == msg[0:4], "BODY[]<0.4>", data)
check(data[1][1] == msg[10:15], "BODY[]<10.5>", data)
check(data[2][1] == b"first part", "BODY[1]", data)
check(data[3][1].startswith(b"Content-Type: application/octet-stream"), "BODY[2.MIME]", data)
check(("RFC822.SIZE %d" % len(msg)) in data[4].decode(), "RFC822.SIZE", data[4])
check('INTERNALDATE "24-Nov-2026 08:00:00 +0000"' in data[4].decode(), "INTERNALDATE from APPEND", data[4])
check("$Label1" in data[4].decode() and "\\Flagged" in data[4].decode() and "\\Seen" not in data[4].decode(), "PEEK keeps \\Seen off; keywords stored", data[4])
typ, data = c.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
check(data[0][1] == b"\x00\x01\x02\x03" and "~{4}" in data[0][0].decode(), "BINARY decodes base64 into literal8", data)
check("BINARY.SIZE[2] 4" in data[1].decode(), "BINARY.SIZE", data)
typ, data = c.fetch("1", "(BODY[TEXT]<0.6>)")
check(data[0][1] == b"--XX\r\n" and "\\Seen" in data[1].decode(), "BODY[TEXT]<partial> sets \\Seen", data)
typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject From)])")
check(data[0][1] == b"From: Bob <bob@example.org>\r\nSubject: Partial test\r\n\r\n", "HEADER.FIELDS", data)
typ, data = c.fetch("1", "(BODY.PEEK[5])")
check(isinstance(data[0], tuple) and data[0][1] == b"", "missing section answers an empty string", data)

# STORE forms, SEARCH.
typ, data = c.store("1", "-FLAGS.SILENT", "($Label1)")
check(typ == "OK" and data == [None], "STORE .SILENT sends no FETCH", data)
typ, data = c.store("1", "FLAGS", "(\\Answered)")
# The message arrived while this IMAP4rev1 session had INBOX selected: it is \Recent here, and
# STORE FLAGS cannot take \Recent away (RFC 3501 §2.3.2).
check(data[0].decode().endswith("FLAGS (\\Answered \\Recent))"), "STORE replace", data)
typ, data = c.search(None, "ANSWERED", "SUBJECT", "partial", "BODY", "first")
check(data == [b"1"], "SEARCH flags + subject + body", data)
typ, data = c.search(None, "NOT", "ANSWERED")
check(data == [b""], "SEARCH NOT", data)
typ, data = c.search(None, "OR", "FROM", "nobody", "TO", "alice")
check(data == [b"1"], "SEARCH OR", data)
typ, data = c.search(None, "SENTON", "24-Nov-2026")
check(data == [b"1"], "SEARCH SENTON", data)
typ, data = c.search(None, "LARGER", "10000")
check(data == [b""], "SEARCH LARGER", data)
typ, data = c.search(None, "HEADER", "Subject", "test")
check(data == [b"1"], "SEARCH HEADER", data)
typ, data = c.search(None, "BODY", "ir")
check(data == [b"1"], "SEARCH BODY with a 2-character string", data)
typ, data = c.search("UTF-8", "BODY", "zzz")
check(data == [b""], "SEARCH no match", data)
st, _, text = raw(c, "SEARCH CHARSET X-UNKNOWN BODY x")
check(st == "NO" and "BADCHARSET" in text, "SEARCH unknown charset: NO [BADCHARSET]", text)
st, unt, _ = raw(c, "SEARCH RETURN (MIN MAX COUNT) ALL")
check(unt and re.match(r'^\* ESEARCH \(TAG "[^"]+"\) MIN 1 MAX 1 COUNT 1$', unt[0]), "ESEARCH", unt)
st, unt, _ = raw(c, "SEARCH RETURN (SAVE) ANSWERED")
st2, unt2, _ = raw(c, "FETCH $ (UID)")
check(unt == [] and unt2 == ["* 1 FETCH (UID 1)"], "SEARCHRES SAVE and $", (unt, unt2))
c.select("Temp")
st, unt, _ = raw(c, "FETCH $ (UID)")
check(st == "OK" and unt == [], "$ is empty after SELECT (RFC 5182 §2.1)", unt)

# COPY / UID COPY answer COPYUID; EXPUNGE.
typ, data = c.copy("1", "INBOX")
check(typ == "OK" and b"COPYUID" in data[0], "COPY answers COPYUID", data)
typ, data = c.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
check(typ == "OK" and "UID 1" in data[0].decode(), "UID STORE answers with UID", data)
typ, data = c.expunge()
check(data == [b"1"], "EXPUNGE reports the message number", data)
typ, data = c.append("Temp", None, None, b"Subject: again\r\n\r\nx\r\n")
check(b"APPENDUID" in data[0] and data[0].split()[2].rstrip(b"]") == b"2", "UIDs are not reused after EXPUNGE", data)

# RENAME INBOX moves its messages and leaves INBOX empty.
c.select("INBOX")
n_inbox = int(c.select("INBOX")[1][0])
typ, data = c.rename("INBOX", "Old-Inbox")
check(typ == "OK", "RENAME INBOX", data)
check(c.select("INBOX")[1] == [b"0"], "INBOX left empty", None)
check(c.select("Old-Inbox")[1] == [str(n_inbox).encode()], "messages moved to the new name", None)
st, _, text = raw(c, "SELECT inbox")
check(st == "OK", "INBOX is case-insensitive", text)

# QUOTA.
st, unt, _ = raw(c, "GETQUOTAROOT INBOX")
check(unt[0] == '* QUOTAROOT INBOX ""' and unt[1].startswith('* QUOTA ""'), "GETQUOTAROOT", unt)
st, unt, _ = raw(c, "STATUS Temp (MESSAGES SIZE UIDNEXT UNSEEN)")
check(re.match(r"^\* STATUS Temp \(MESSAGES 1 SIZE \d+ UIDNEXT 3 UNSEEN 1\)$", unt[0]), "STATUS with SIZE", unt)
m = re.search(r"APPENDLIMIT=(\d+)", " ".join(raw(c, "CAPABILITY")[1]))
st, unt, _ = raw(c, "STATUS INBOX (APPENDLIMIT)")
check(m and unt == ["* STATUS INBOX (APPENDLIMIT %s)" % m.group(1)], "APPENDLIMIT in CAPABILITY and STATUS (RFC 7889)", unt)
check(c.logout()[0] == "BYE", "LOGOUT")
print("CHECKS", checks)
