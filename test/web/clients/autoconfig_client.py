#!/usr/bin/env python3
# Fetches Freehold's client-configuration documents over HTTP the way clients do (Host header
# naming the autoconfig/autodiscover host) and parses them with the standard library:
# xml.etree for Thunderbird's config-v1.1.xml and Outlook's POX autodiscover, plistlib for the
# Apple profile. Prints one JSON object with what it found, for the Node test to check.
# Usage: autoconfig_client.py ADDRESS PORT DOMAIN EMAIL
import http.client
import json
import plistlib
import sys
import xml.etree.ElementTree as ET

addr, port, domain, email = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def request(method, path, host, body=None, headers=None):
    c = http.client.HTTPConnection(addr, port, timeout=30)
    h = {"Host": host}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", data


def thunderbird(path, host):
    status, ctype, data = request("GET", path, host)
    out = {"status": status, "type": ctype}
    if status != 200:
        return out
    root = ET.fromstring(data)
    out["root"] = root.tag
    out["version"] = root.get("version")
    providers = root.findall("emailProvider")
    out["providers"] = len(providers)
    p = providers[0]
    out["id"] = p.get("id")
    out["domains"] = [d.text for d in p.findall("domain")]
    out["displayName"] = p.findtext("displayName")

    def servers(tag):
        return [
            {
                "type": s.get("type"),
                "hostname": s.findtext("hostname"),
                "port": int(s.findtext("port")),
                "socketType": s.findtext("socketType"),
                "username": s.findtext("username"),
                "authentication": s.findtext("authentication"),
            }
            for s in p.findall(tag)
        ]

    out["incoming"] = servers("incomingServer")
    out["outgoing"] = servers("outgoingServer")
    return out


result = {
    "tb_autoconfig": thunderbird(f"/mail/config-v1.1.xml?emailaddress={email}", f"autoconfig.{domain}"),
    "tb_wellknown": thunderbird(f"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={email}", domain),
}

REQ_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESP_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
pox = f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="{REQ_NS}">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{OUTLOOK}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""
status, ctype, data = request("POST", "/autodiscover/autodiscover.xml", f"autodiscover.{domain}", pox.encode(), {"Content-Type": "text/xml"})
ad = {"status": status, "type": ctype}
if status == 200:
    root = ET.fromstring(data)
    ns = {"r": RESP_NS, "o": OUTLOOK}
    ad["root"] = root.tag
    # <Response xmlns="…2006a"> puts Response itself in the Outlook namespace.
    acct = root.find("o:Response/o:Account", ns)
    ad["accountType"] = acct.findtext("o:AccountType", namespaces=ns)
    ad["action"] = acct.findtext("o:Action", namespaces=ns)
    ad["protocols"] = [
        {k: pr.findtext(f"o:{k}", namespaces=ns) for k in ("Type", "Server", "Port", "LoginName", "SSL", "Encryption", "AuthRequired", "SPA")}
        for pr in acct.findall("o:Protocol", ns)
    ]
result["autodiscover"] = ad


def profile(user):
    status, ctype, data = request("GET", "/api/v1/account/mobileconfig", domain, headers={"X-Test-User": user})
    out = {"status": status, "type": ctype}
    if status == 200:
        pl = plistlib.loads(data)
        out["plist"] = pl
    return out


result["mobileconfig"] = profile(email)
result["mobileconfig_again"] = profile(email)
result["mobileconfig_other"] = profile(f"bob@{domain}")
result["mobileconfig_anonymous"] = profile("")
print(json.dumps(result, default=str))
