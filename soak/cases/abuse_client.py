# The client side of soak/cases/abuse.ts (issue 13 §1): raw SMTP and IMAP over plain sockets and
# Python's ssl module, so the battery can send exactly the bytes an attacker would (NUL, bare CR,
# bare LF, smuggled DATA ends) and time each answer. Reads a JSON list of operations from stdin,
# prints a JSON list of results; never raises (an error becomes {"error": ...}).
#
# Operations:
#   {"op": "relay", "port", "tls": "none|starttls|implicit", "auth": null|{"user","password"},
#    "mail": "<...>", "rcpt": [raw RCPT lines as str, may hold \r \n \0], "data": str|null}
#       → replies to every command, the RCPT codes, the final DATA code
#   {"op": "smtp-login", "port", "tls", "src", "user", "password", "mech": "PLAIN|LOGIN"}
#   {"op": "imap-login", "port", "tls", "src", "user", "password", "cmd": "LOGIN|AUTHENTICATE"}
#       → {"code"|"status", "text", "ms"}: ms from sending the credentials to the answer
#   {"op": "smtp-pretls", "port", "user", "password"} / {"op": "imap-pretls", ...}
#       → what a client that never starts TLS sees when it offers a password, and (control) the
#         same after STARTTLS
import base64, json, socket, ssl, sys, time

HOST = "127.0.0.1"


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Conn:
    def __init__(self, host, port, tls, src=None, timeout=30):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.connect((host, port))
        if tls == "implicit":
            s = ctx().wrap_socket(s)
        self.s = s
        self.buf = b""

    def starttls(self):
        self.s = ctx().wrap_socket(self.s)

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        i = self.buf.index(b"\n")
        ln, self.buf = self.buf[:i], self.buf[i + 1 :]
        return ln.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One SMTP reply (multi-line joined): (code, text)."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def close(self):
        try:
            self.s.close()
        except Exception:
            pass


def smtp_open(port, tls, src=None, host=HOST):
    c = Conn(host, port, tls, src)
    c.reply()
    c.send("EHLO client.abuse.test\r\n")
    code, ehlo = c.reply()
    if tls == "starttls":
        c.send("STARTTLS\r\n")
        code, _ = c.reply()
        if code != 220:
            raise RuntimeError(f"STARTTLS refused: {code}")
        c.starttls()
        c.send("EHLO client.abuse.test\r\n")
        code, ehlo = c.reply()
    return c, ehlo


def b64(s):
    return base64.b64encode(s.encode()).decode()


def op_relay(o):
    host = o.get("host", HOST)
    c, _ = smtp_open(o["port"], o["tls"], o.get("src"), host)
    r = {"replies": [], "rcpt": [], "data": None}
    try:
        if o.get("auth"):
            a = o["auth"]
            c.send(f"AUTH PLAIN {b64(chr(0) + a['user'] + chr(0) + a['password'])}\r\n")
            r["auth"] = c.reply()[0]
        c.send(f"MAIL FROM:{o['mail']}\r\n")
        r["mail"] = c.reply()[0]
        # Raw RCPT bytes (maybe several commands, maybe smuggled ones), then HELP as a sentinel:
        # every reply before the 214 answers something we sent.
        for raw in o["rcpt"]:
            c.send(raw if raw.endswith("\n") else raw + "\r\n")
        c.send("HELP\r\n")
        while True:
            code, text = c.reply()
            if code == 214:
                break
            r["replies"].append(text)
            r["rcpt"].append(code)
        if o.get("data") is not None:
            c.send("DATA\r\n")
            code, _ = c.reply()
            r["dataStart"] = code
            if code == 354:
                c.send(o["data"])
                c.send("HELP\r\n")
                extra = []
                while True:
                    code, text = c.reply()
                    if code == 214:
                        break
                    extra.append(code)
                r["data"] = extra[0] if extra else None
                # Replies beyond the one for the message: the server saw smuggled commands.
                r["extraReplies"] = extra[1:]
        c.send("QUIT\r\n")
    except (EOFError, OSError) as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        c.close()
    return r


def op_smtp_login(o):
    c, ehlo = smtp_open(o["port"], o["tls"], o.get("src"), o.get("host", HOST))
    try:
        mech = o.get("mech", "PLAIN")
        t0 = time.monotonic()
        if mech == "PLAIN":
            c.send(f"AUTH PLAIN {b64(chr(0) + o['user'] + chr(0) + o['password'])}\r\n")
        else:
            c.send("AUTH LOGIN\r\n")
            c.reply()
            c.send(b64(o["user"]) + "\r\n")
            c.reply()
            t0 = time.monotonic()
            c.send(b64(o["password"]) + "\r\n")
        code, text = c.reply()
        ms = (time.monotonic() - t0) * 1000
        c.send("QUIT\r\n")
        return {"code": code, "text": text, "ms": round(ms, 2)}
    finally:
        c.close()


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_open(port, tls, src=None, host=HOST):
    c = Conn(host, port, tls, src)
    c.line()
    if tls == "starttls":
        c.send("s1 STARTTLS\r\n")
        while True:
            ln = c.line()
            if ln.startswith("s1 "):
                break
        c.starttls()
    return c


def imap_tagged(c, tag):
    untagged = []
    while True:
        ln = c.line()
        if ln.startswith(tag + " "):
            return ln[len(tag) + 1 :], untagged
        untagged.append(ln)


def op_imap_login(o):
    c = imap_open(o["port"], o["tls"], o.get("src"), o.get("host", HOST))
    try:
        t0 = time.monotonic()
        if o.get("cmd", "LOGIN") == "LOGIN":
            c.send(f"a1 LOGIN {imap_quote(o['user'])} {imap_quote(o['password'])}\r\n")
        else:
            c.send(f"a1 AUTHENTICATE PLAIN {b64(chr(0) + o['user'] + chr(0) + o['password'])}\r\n")
        text, _ = imap_tagged(c, "a1")
        ms = (time.monotonic() - t0) * 1000
        c.send("a2 LOGOUT\r\n")
        return {"status": text.split(" ")[0], "text": text, "ms": round(ms, 2)}
    finally:
        c.close()


def op_smtp_pretls(o):
    host = o.get("host", HOST)
    c = Conn(host, o["port"], "none")
    r = {}
    try:
        c.reply()
        c.send("EHLO client.abuse.test\r\n")
        _, ehlo = c.reply()
        r["authAdvertised"] = any(l[4:].upper().startswith("AUTH") for l in ehlo.split("\n"))
        c.send(f"AUTH PLAIN {b64(chr(0) + o['user'] + chr(0) + o['password'])}\r\n")
        r["plain"] = c.reply()[0]
        c.send("AUTH LOGIN\r\n")
        r["login"] = c.reply()[0]
        c.send("MAIL FROM:<" + o["user"] + ">\r\n")
        r["mail"] = c.reply()[0]
        c.send("RSET\r\n")
        c.reply()
        if o.get("starttls"):
            c.send("STARTTLS\r\n")
            r["starttls"] = c.reply()[0]
            if r["starttls"] == 220:
                c.starttls()
                c.send("EHLO client.abuse.test\r\n")
                _, ehlo = c.reply()
                r["authAfterTls"] = any(l[4:].upper().startswith("AUTH") for l in ehlo.split("\n"))
                c.send(f"AUTH PLAIN {b64(chr(0) + o['user'] + chr(0) + o['password'])}\r\n")
                r["plainAfterTls"] = c.reply()[0]
        c.send("QUIT\r\n")
    except (EOFError, OSError) as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        c.close()
    return r


def op_imap_pretls(o):
    host = o.get("host", HOST)
    c = Conn(host, o["port"], "none")
    r = {}
    try:
        c.line()
        c.send("c1 CAPABILITY\r\n")
        text, untagged = imap_tagged(c, "c1")
        caps = " ".join(untagged).upper()
        r["loginDisabled"] = "LOGINDISABLED" in caps
        r["authPlainAdvertised"] = "AUTH=PLAIN" in caps
        c.send(f"a1 LOGIN {imap_quote(o['user'])} {imap_quote(o['password'])}\r\n")
        r["login"] = imap_tagged(c, "a1")[0]
        c.send(f"a2 AUTHENTICATE PLAIN {b64(chr(0) + o['user'] + chr(0) + o['password'])}\r\n")
        r["authenticate"] = imap_tagged(c, "a2")[0]
        c.send("a3 STARTTLS\r\n")
        r["starttls"] = imap_tagged(c, "a3")[0]
        if r["starttls"].startswith("OK"):
            c.starttls()
            c.send(f"a4 LOGIN {imap_quote(o['user'])} {imap_quote(o['password'])}\r\n")
            r["loginAfterTls"] = imap_tagged(c, "a4")[0]
        c.send("a5 LOGOUT\r\n")
    except (EOFError, OSError) as e:
        r["error"] = f"{type(e).__name__}: {e}"
    finally:
        c.close()
    return r


OPS = {
    "relay": op_relay,
    "smtp-login": op_smtp_login,
    "imap-login": op_imap_login,
    "smtp-pretls": op_smtp_pretls,
    "imap-pretls": op_imap_pretls,
}

out = []
for o in json.load(sys.stdin):
    try:
        out.append(OPS[o["op"]](o))
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})
print(json.dumps(out))
