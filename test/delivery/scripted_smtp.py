# A scriptable SMTP peer for the outbound tests (Debian's aiosmtpd): optional STARTTLS, AUTH
# (PLAIN/LOGIN, only after TLS), DATA replies scripted per message, every accepted message
# appended as a JSON line to a log file. Config: one JSON argument. Prints "READY <port>".
import asyncio, json, signal, sys, ssl
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cfg = json.loads(sys.argv[1])
script = list(cfg.get("dataReplies", []))  # replies for the first messages, e.g. "451 4.3.0 try later"
rcpt_replies = cfg.get("rcptReplies", {})   # address -> reply
users = cfg.get("users")
max_rcpts = cfg.get("maxRcptsPerTx")      # more recipients in one transaction get 452 4.5.3
data_delay = cfg.get("dataDelayMs", 0) / 1000.0
in_data = [0, 0]  # transactions inside DATA now, most seen at once

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        r = rcpt_replies.get(address.lower())
        if r:
            return r
        if max_rcpts is not None and len(envelope.rcpt_tos) >= max_rcpts:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        # The final dot has arrived; the reply is still to come (tests kill the sender now).
        with open(cfg["startedLog"], "a") as f:
            f.write("1\n")
        in_data[0] += 1
        in_data[1] = max(in_data[1], in_data[0])
        try:
            if data_delay:
                await asyncio.sleep(data_delay)
        finally:
            in_data[0] -= 1
        if script:
            return script.pop(0)
        with open(cfg["log"], "a") as f:
            f.write(json.dumps({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "authenticated": bool(session.authenticated),
                "tls": session.ssl is not None,
                "maxConcurrent": in_data[1],
                "data": envelope.original_content.decode("latin1"),
            }) + "\n")
        return "250 2.0.0 OK queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    ok = users is not None and users.get(auth_data.login.decode()) == auth_data.password.decode()
    return AuthResult(success=ok, handled=False)

kwargs = {"enable_SMTPUTF8": cfg.get("smtputf8", True), "server_hostname": cfg.get("hostname", "peer.test")}
if cfg.get("tls"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["tls"]["cert"], cfg["tls"]["key"])
    kwargs["tls_context"] = ctx
    kwargs["require_starttls"] = bool(cfg.get("requireTls"))
if users is not None:
    kwargs["authenticator"] = authenticator
    kwargs["auth_required"] = True
    kwargs["auth_require_tls"] = True

controller = Controller(Handler(), hostname=cfg["host"], port=cfg["port"], **kwargs)
controller.start()
print("READY", cfg["port"], flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    signal.pause()
finally:
    controller.stop()
