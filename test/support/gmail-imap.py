#!/usr/bin/env python3
"""A small scripted IMAP peer playing Gmail for the X-GM-EXT-1 import path (loopback only).

It speaks only what imapflow needs for an import: CAPABILITY (IMAP4rev1 SPECIAL-USE X-GM-EXT-1),
LOGIN, LIST (Gmail's layout: INBOX, [Gmail]/All Mail \\All, Sent Mail \\Sent, Drafts \\Drafts,
Starred \\Flagged, Important \\Important, Trash \\Trash, Spam \\Junk, one folder per user label),
LSUB, STATUS, SELECT/EXAMINE, UID FETCH (UID FLAGS INTERNALDATE RFC822.SIZE X-GM-MSGID
X-GM-LABELS BODY.PEEK[] and BODY.PEEK[]<start.len>), NOOP, LOGOUT. Like Gmail, every label folder
holds the same message again under its own UIDs, so a client that walks the label folders gets
each message once per label.

The mailbox is a JSON file re-read at every LIST, STATUS and SELECT, so a test can add a message
between runs: {"uidvalidity": N, "messages": [{"msgid": "…", "box": "all"|"trash"|"spam",
"labels": ["\\\\Inbox", "Work"], "flags": ["\\\\Seen"], "date": epoch seconds, "b64": "…"}]}.

Usage: gmail-imap.py HOST SPEC.json — prints "PORT n" once listening.
"""
import asyncio
import base64
import json
import re
import sys
import time

HOST, SPEC = sys.argv[1], sys.argv[2]
LOG = bool(__import__("os").environ.get("GMAIL_IMAP_LOG"))
CAPS = "IMAP4rev1 SPECIAL-USE X-GM-EXT-1"
SYSTEM = [  # (path, special-use, label selecting its messages)
    ("INBOX", None, "\\Inbox"),
    ("[Gmail]/All Mail", "\\All", None),
    ("[Gmail]/Sent Mail", "\\Sent", "\\Sent"),
    ("[Gmail]/Drafts", "\\Drafts", "\\Draft"),
    ("[Gmail]/Starred", "\\Flagged", "\\Starred"),
    ("[Gmail]/Important", "\\Important", "\\Important"),
    ("[Gmail]/Trash", "\\Trash", None),
    ("[Gmail]/Spam", "\\Junk", None),
]


def load():
    with open(SPEC) as f:
        spec = json.load(f)
    for m in spec["messages"]:
        m["bytes"] = base64.b64decode(m["b64"])
    return spec


def folders(spec):
    """path -> (special-use, [messages in UID order]); UID = position + 1 (append-only spec)."""
    out = {}
    for path, use, label in SYSTEM:
        if use == "\\All":
            msgs = [m for m in spec["messages"] if m["box"] == "all"]
        elif use == "\\Trash":
            msgs = [m for m in spec["messages"] if m["box"] == "trash"]
        elif use == "\\Junk":
            msgs = [m for m in spec["messages"] if m["box"] == "spam"]
        else:
            msgs = [m for m in spec["messages"] if m["box"] == "all" and label in m["labels"]]
        out[path] = (use, msgs)
    users = sorted({l for m in spec["messages"] for l in m["labels"] if not l.startswith("\\")})
    for l in users:
        out[l] = (None, [m for m in spec["messages"] if m["box"] == "all" and l in m["labels"]])
    return out


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(\()|(\))|([^\s()"]+))')


def parse(s):
    """Quoted strings, atoms and parenthesised lists (enough for imapflow's commands)."""
    stack = [[]]
    pos = 0
    while pos < len(s):
        m = TOKEN.match(s, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group(1) is not None:
            stack[-1].append(re.sub(r"\\(.)", r"\1", m.group(1)))
        elif m.group(2):
            stack.append([])
        elif m.group(3):
            inner = stack.pop()
            stack[-1].append(inner)
        elif m.group(4):
            stack[-1].append(m.group(4))
    return stack[0]


def uid_set(s, uids):
    have = set(uids)
    top = max(uids) if uids else 0
    out = set()
    for part in s.split(","):
        if ":" in part:
            a, b = part.split(":")
            a = top if a == "*" else int(a)
            b = top if b == "*" else int(b)
            lo, hi = min(a, b), max(a, b)
            out |= {u for u in have if lo <= u <= hi}
        else:
            u = top if part == "*" else int(part)
            if u in have:
                out.add(u)
    return sorted(out)


def internaldate(t):
    return time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(t))


class Session:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.selected = None
        self.authed = False

    def send(self, data):
        if LOG and (isinstance(data, str) and ("BAD" in data or " NO " in data)):
            sys.stderr.write("S: " + data)
        self.w.write(data if isinstance(data, bytes) else data.encode())

    async def run(self):
        self.send(f"* OK [CAPABILITY {CAPS}] Gimap ready\r\n")
        while True:
            line = await self.r.readline()
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if LOG:
                sys.stderr.write("C: " + line + "\n")
            parts = line.split(" ", 2)
            if len(parts) < 2:
                self.send("* BAD no tag\r\n")
                continue
            tag, cmd = parts[0], parts[1].upper()
            rest = parts[2] if len(parts) > 2 else ""
            try:
                if not await self.command(tag, cmd, rest):
                    await self.w.drain()
                    return
            except Exception as e:  # a protocol error, never a crash
                self.send(f"{tag} BAD {type(e).__name__}\r\n")
            await self.w.drain()

    async def command(self, tag, cmd, rest):
        if cmd == "CAPABILITY":
            self.send(f"* CAPABILITY {CAPS}\r\n{tag} OK Success\r\n")
        elif cmd == "NOOP":
            self.send(f"{tag} OK Success\r\n")
        elif cmd == "LOGOUT":
            self.send(f"* BYE LOGOUT Requested\r\n{tag} OK 73 good day (Success)\r\n")
            return False
        elif cmd == "LOGIN":
            user, pw = parse(rest)[:2]
            if (user, pw) != ("owner@gmail.test", "app-password"):
                self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
            else:
                self.authed = True
                self.send(f"{tag} OK [CAPABILITY {CAPS}] {user} authenticated (Success)\r\n")
        elif not self.authed:
            self.send(f"{tag} BAD not authenticated\r\n")
        elif cmd == "LIST" or cmd == "LSUB":
            ref, pat = parse(rest)[:2]
            if pat == "":  # RFC 3501 §6.3.8: the hierarchy delimiter
                self.send(f'* {cmd} (\\Noselect) "/" ""\r\n{tag} OK Success\r\n')
                return True
            rx = re.compile("^" + "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in ref + pat) + "$")
            fs = folders(load())
            if cmd == "LIST" and rx.match("[Gmail]"):
                self.send('* LIST (\\HasChildren \\Noselect) "/" "[Gmail]"\r\n')
            for path, (use, _) in fs.items():
                if not rx.match(path):
                    continue
                attrs = ["\\HasNoChildren"] + ([use] if use and cmd == "LIST" else [])
                self.send(f'* {cmd} ({" ".join(attrs)}) "/" {quote(path)}\r\n')
            self.send(f"{tag} OK Success\r\n")
        elif cmd == "STATUS":
            a = parse(rest)
            fs = folders(load())
            if a[0] not in fs:
                self.send(f"{tag} NO [NONEXISTENT] Unknown Mailbox\r\n")
            else:
                n = len(fs[a[0]][1])
                self.send(f"* STATUS {quote(a[0])} (MESSAGES {n})\r\n{tag} OK Success\r\n")
        elif cmd in ("SELECT", "EXAMINE"):
            spec = load()
            fs = folders(spec)
            name = parse(rest)[0]
            if name not in fs:
                self.send(f"{tag} NO [NONEXISTENT] Unknown Mailbox: {name}\r\n")
                return True
            self.selected = (name, spec)
            n = len(fs[name][1])
            uv = spec["uidvalidity"] + list(fs).index(name)
            self.send(
                "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Important)\r\n"
                f"* OK [UIDVALIDITY {uv}] UIDs valid.\r\n* {n} EXISTS\r\n* 0 RECENT\r\n* OK [UIDNEXT {n + 1}] Predicted next UID.\r\n"
                f"{tag} OK [{'READ-ONLY' if cmd == 'EXAMINE' else 'READ-WRITE'}] {name} selected. (Success)\r\n"
            )
        elif cmd == "UID" and rest.upper().startswith("FETCH "):
            if not self.selected:
                self.send(f"{tag} BAD no mailbox selected\r\n")
                return True
            _, set_s, items = rest.split(" ", 2)
            name, spec = self.selected
            msgs = folders(spec)[name][1]
            uids = list(range(1, len(msgs) + 1))
            want = re.findall(r"BODY(?:\.PEEK)?\[\](?:<\d+\.\d+>)?|[A-Z0-9.\-]+", items.upper())
            for uid in uid_set(set_s, uids):
                m = msgs[uid - 1]
                out = [b"UID %d" % uid]
                for w in want:
                    if w == "FLAGS":
                        out.append(("FLAGS (" + " ".join(m["flags"]) + ")").encode())
                    elif w == "INTERNALDATE":
                        out.append(f'INTERNALDATE "{internaldate(m["date"])}"'.encode())
                    elif w == "RFC822.SIZE":
                        out.append(b"RFC822.SIZE %d" % len(m["bytes"]))
                    elif w == "X-GM-MSGID":
                        out.append(f"X-GM-MSGID {m['msgid']}".encode())
                    elif w == "X-GM-THRID":
                        out.append(f"X-GM-THRID {m['msgid']}".encode())
                    elif w == "X-GM-LABELS":
                        ls = [l if l.startswith("\\") else quote(l) for l in m["labels"]]
                        out.append(("X-GM-LABELS (" + " ".join(ls) + ")").encode())
                    elif w.startswith("BODY"):
                        p = re.search(r"<(\d+)\.(\d+)>", w)
                        data = m["bytes"]
                        if p:
                            start = int(p.group(1))
                            data = data[start : start + int(p.group(2))]
                            out.append(b"BODY[]<%d> {%d}\r\n" % (start, len(data)) + data)
                        else:
                            out.append(b"BODY[] {%d}\r\n" % len(data) + data)
                self.send(b"* %d FETCH (" % uid + b" ".join(out) + b")\r\n")
            self.send(f"{tag} OK Success\r\n")
        else:
            self.send(f"{tag} BAD Unknown command\r\n")
        return True


async def main():
    async def handle(r, w):
        try:
            await Session(r, w).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    server = await asyncio.start_server(handle, HOST, 0)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
