# The client side of network-faults.test.ts, run inside the test's network namespace: delivers
# messages to the mx port (smtplib), submits one through submission with STARTTLS and AUTH, and
# logs in over IMAP (STARTTLS) to read what arrived. Prints one JSON object; never raises, so a
# dropped connection shows up as {"error": "disconnected: ..."} for the test to assert on.
import imaplib, json, smtplib, ssl, sys, time

cfg = json.loads(sys.argv[1])
out = {"mx": [], "submission": None, "imap": None}

def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx

def outcome(fn):
    t0 = time.monotonic()
    try:
        fn()
        r = {"code": 250}
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        r = {"code": code, "text": text.decode("utf8", "replace")}
    except smtplib.SMTPResponseException as e:
        r = {"code": e.smtp_code, "text": e.smtp_error.decode("utf8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)}
    except smtplib.SMTPServerDisconnected as e:
        r = {"error": f"disconnected: {e}"}
    except Exception as e:
        r = {"error": f"{type(e).__name__}: {e}"}
    r["seconds"] = round(time.monotonic() - t0, 2)
    return r

def mx_one(i):
    def go():
        msg = (f"From: <{cfg['from']}>\r\nTo: <{cfg['to']}>\r\nSubject: {cfg['tag']}-{i}\r\n"
               f"Message-ID: <{cfg['tag']}-{i}@example.test>\r\n\r\nprobe {i}\r\n")
        with smtplib.SMTP("127.0.0.1", cfg["mx"], local_hostname="client.example.test", timeout=90) as s:
            s.sendmail(cfg["from"], [cfg["to"]], msg)
    return outcome(go)

for i in range(cfg["count"]):
    out["mx"].append(mx_one(i))

if cfg.get("submissionTo"):
    def submit():
        msg = (f"From: <{cfg['user']}>\r\nTo: <{cfg['submissionTo']}>\r\nSubject: {cfg['tag']}-out\r\n"
               f"Message-ID: <{cfg['tag']}-out@local.test>\r\n\r\noutbound\r\n")
        with smtplib.SMTP("127.0.0.1", cfg["submission"], local_hostname="laptop.local.test", timeout=90) as s:
            s.starttls(context=unverified())
            s.login(cfg["user"], cfg["password"])
            s.sendmail(cfg["user"], [cfg["submissionTo"]], msg)
    out["submission"] = outcome(submit)

try:
    t0 = time.monotonic()
    m = imaplib.IMAP4("127.0.0.1", cfg["imap"], timeout=60)
    m.starttls(ssl_context=unverified())
    typ, _ = m.login(cfg["to"], cfg["password"])
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "ALL")
    headers = []
    for num in data[0].split():
        typ, parts = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT AUTHENTICATION-RESULTS)])")
        headers.append(parts[0][1].decode("utf8", "replace"))
    m.logout()
    out["imap"] = {"login": typ, "headers": headers, "seconds": round(time.monotonic() - t0, 2)}
except Exception as e:
    out["imap"] = {"error": f"{type(e).__name__}: {e}"}

print(json.dumps(out))
