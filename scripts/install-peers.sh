#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers (Postfix, swaks, Knot DNS, strace,
# Dovecot, isync, Python's aiosmtpd and dkimpy; iproute2's `ip netns` for the network-fault tests;
# restic, the backup engine `freehold backup` runs, which operators install too; pebble, Let's
# Encrypt's test ACME CA, for test/acme/; vdirsyncer and Radicale, the CardDAV/CalDAV peers of
# test/dav; chromium for the browser tests of test/web/ui).
# Idempotent: does nothing when all are present.
# The stock daemons are never started: the tests run their own instances on loopback.
set -euo pipefail
pkgs=(postfix swaks knot knot-dnsutils knot-dnssecutils strace dovecot-core dovecot-imapd dovecot-lmtpd isync libnet-ssleay-perl openssl
      python3-aiosmtpd python3-dkim python3-dnspython iproute2
      rspamd redis-server
      testssl.sh
      mutt restic
      chromium
      pebble
      vdirsyncer radicale
      systemd)   # systemd-analyze verify/security for the package test (test/package/)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-peers: missing ${missing[*]}; run as root (or apt-get install them) to enable the peer tests" >&2
  exit 0
fi
echo "install-peers: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# policy-rc.d keeps apt from starting the stock daemons on the standard ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ "${created_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
for svc in postfix dovecot knot rspamd redis-server; do
  if [ -d /run/systemd/system ]; then systemctl disable --now "$svc" 2>/dev/null || true; fi
done
exit 0
