"""Dumps what an IMAP server serves for one account, as JSON on stdout: per mailbox UIDVALIDITY,
UIDNEXT, HIGHESTMODSEQ (RFC 7162 CONDSTORE) and per message UID, FLAGS, INTERNALDATE and the
SHA-256 of BODY[]. Two servers serve the same mail when their dumps are equal.

usage: imap_state.py HOST PORT USER PASSWORD
"""
import hashlib
import imaplib
import json
import re
import ssl
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4(host, port, timeout=60)
m.starttls(ssl_context=ctx)
m.login(user, password)
m.enable("CONDSTORE")
typ, lines = m.list()
names = []
for line in lines:
    mm = re.match(rb'\((.*?)\) (?:"[^"]*"|NIL) (.*)$', line)
    name = mm.group(2).decode()
    if name.startswith('"'):
        name = name[1:-1]
    names.append(name)
out = {}
for name in sorted(names):
    typ, _ = m.select('"%s"' % name, readonly=True)
    assert typ == "OK", name
    box = {
        "uidvalidity": int(m.response("UIDVALIDITY")[1][0]),
        "uidnext": int(m.response("UIDNEXT")[1][0]),
        "highestmodseq": int(m.response("HIGHESTMODSEQ")[1][0]),
        "messages": {},
    }
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        flags = sorted(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
        date = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()
        box["messages"][str(uid)] = {"flags": flags, "internaldate": date, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    out[name] = box
m.logout()
print(json.dumps(out, sort_keys=True))
