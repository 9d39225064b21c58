#!/usr/bin/env python3
# Logs in with imaplib (IMAP4_SSL: LOGIN, then AUTHENTICATE PLAIN) and smtplib (SMTP_SSL: AUTH)
# and prints one JSON line: {"imap_login": "ok" | "no: ...", "imap_auth": ..., "smtp": ...}.
# Usage: mail_login.py HOST IMAPS_PORT SUBMISSIONS_PORT USER PASSWORD
import imaplib
import json
import smtplib
import ssl
import sys

host, imaps, subs, user, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
out = {}

def imap(kind):
    try:
        c = imaplib.IMAP4_SSL(host, imaps, ssl_context=ctx, timeout=30)
    except Exception as e:  # noqa: BLE001
        return f"error: {e}"
    try:
        if kind == "login":
            c.login(user, password)
        else:
            c.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
        typ, data = c.select("INBOX")
        return "ok" if typ == "OK" else f"select: {typ}"
    except imaplib.IMAP4.error as e:
        return f"no: {e}"
    finally:
        try:
            c.logout()
        except Exception:  # noqa: BLE001
            pass

out["imap_login"] = imap("login")
out["imap_auth"] = imap("authenticate")
try:
    s = smtplib.SMTP_SSL(host, subs, context=ctx, timeout=30)
    try:
        s.login(user, password)
        out["smtp"] = "ok"
    except smtplib.SMTPAuthenticationError as e:
        out["smtp"] = f"no: {e.smtp_code}"
    finally:
        s.quit()
except Exception as e:  # noqa: BLE001
    out["smtp"] = f"error: {e}"
print(json.dumps(out))
