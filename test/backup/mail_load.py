"""Keeps a server busy until STOPFILE exists: SMTP deliveries (smtplib to the mx) and IMAP
APPENDs with flags (imaplib), each in its own thread. Prints the counts as JSON at the end.

usage: mail_load.py HOST MXPORT IMAPPORT USER PASSWORD STOPFILE
"""
import imaplib
import json
import os
import smtplib
import ssl
import sys
import threading
import time

host, mxport, imapport, user, password, stopfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
counts = {"delivered": 0, "appended": 0, "errors": []}


def stopped():
    return os.path.exists(stopfile)


def smtp_loop():
    n = 0
    while not stopped():
        try:
            with smtplib.SMTP(host, mxport, local_hostname="load.elsewhere.test", timeout=60) as s:
                while not stopped() and n % 10 != 9:
                    n += 1
                    msg = "From: load@elsewhere.test\r\nTo: %s\r\nSubject: load %d\r\nMessage-ID: <load-%d@elsewhere.test>\r\n\r\nbody %d\r\n" % (user, n, n, n)
                    s.sendmail("load@elsewhere.test", [user], msg)
                    counts["delivered"] += 1
                n += 1
        except Exception as e:  # keep going: the count says what got through
            counts["errors"].append("smtp: %r" % e)
            time.sleep(0.2)


def imap_loop():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4(host, imapport, timeout=60)
    m.starttls(ssl_context=ctx)
    m.login(user, password)
    n = 0
    while not stopped():
        n += 1
        msg = ("From: me@elsewhere.test\r\nSubject: appended %d\r\n\r\nappended body %d\r\n" % (n, n)).encode()
        typ, _ = m.append("Projects", "(\\Seen $Label%d)" % (n % 3), None, msg)
        if typ != "OK":
            counts["errors"].append("append %s" % typ)
        else:
            counts["appended"] += 1
    m.logout()


threads = [threading.Thread(target=smtp_loop), threading.Thread(target=imap_loop)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(counts))
