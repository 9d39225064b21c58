#!/usr/bin/env bash
# `npm run package`: builds freehold_<version>_amd64.deb with dpkg-deb, offline:
#   /usr/lib/freehold/node       the pinned Node 24 binary (npm's `node` package, node_modules/node)
#   /usr/lib/freehold/app        compiled JS (npm run build: no type stripping at start, less RSS)
#                                and the production npm dependencies only (npm ls --omit=dev)
#   /usr/bin/freehold            the CLI wrapper (packaging/freehold.wrapper)
#   /lib/systemd/system/freehold.service, /etc/freehold/freehold.yaml (conffile)
# Options: --version V (default package.json's), --out DIR (default .), --compress gzip|xz|none
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"
version=$(node -p 'require("./package.json").version')
out=.
compress=gzip
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --compress) compress=$2; shift 2 ;;
    *) echo "package: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
npm run -s build
lib="$stage/usr/lib/freehold"
app="$lib/app"
mkdir -p "$app/node_modules" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/freehold" "$stage/usr/share/doc/freehold" "$stage/DEBIAN"
cp -a dist "$app/dist"
node -e 'const p=require("./package.json"); p.version=process.argv[1]; delete p.devDependencies; delete p.scripts; require("fs").writeFileSync(process.argv[2], JSON.stringify(p,null,2)+"\n")' "$version" "$app/package.json"
# Production dependencies only, as npm resolved them (no network: copied from node_modules).
nm=$(readlink -f node_modules)
# npm ls exits non-zero on any extraneous package in the shared tree; its list is still complete.
deps=$(npm ls --omit=dev --parseable --all 2>/dev/null || true)
[ -n "$deps" ] || { echo "package: npm ls listed no dependencies" >&2; exit 1; }
printf '%s\n' "$deps" | tail -n +2 | sort -u | while read -r dir; do
  # npm prints some paths through the node_modules link, some resolved.
  rel=${dir#"$root/node_modules/"}
  rel=${rel#"$nm/"}
  case "$rel" in /*) echo "package: unexpected dependency path $dir" >&2; exit 1 ;; esac
  [ "$rel" = node ] && continue          # the runtime goes to /usr/lib/freehold/node
  [ -e "$app/node_modules/$rel" ] && continue   # came along inside its parent package
  mkdir -p "$app/node_modules/$(dirname "$rel")"
  cp -a "$nm/$rel" "$app/node_modules/$rel"
done
# Nested copies come along with their parent; drop any .bin links (nothing runs them).
find "$app/node_modules" -name .bin -prune -exec rm -rf {} +
install -m 0755 "$nm/node/bin/node" "$lib/node"
install -m 0755 packaging/freehold.wrapper "$stage/usr/bin/freehold"
install -m 0644 packaging/freehold.service "$stage/lib/systemd/system/freehold.service"
install -m 0640 packaging/freehold.yaml "$stage/etc/freehold/freehold.yaml"
install -m 0644 docs/install.md "$stage/usr/share/doc/freehold/install.md" 2>/dev/null || true
install -m 0644 docs/operations.md "$stage/usr/share/doc/freehold/operations.md"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
echo /etc/freehold/freehold.yaml > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: freehold
Version: $version
Architecture: amd64
Maintainer: Freehold <freehold@localhost>
Installed-Size: $size
Depends: adduser | passwd, util-linux
Section: mail
Priority: optional
Description: self-hosted email server for small businesses
 SMTP (MX, submission), IMAP, a queue with relays, DKIM/SPF/DMARC, health checks
 and a web admin in one process, with its own Node.js 24 runtime.
CONTROL
deb="$out/freehold_${version}_amd64.deb"
dpkg-deb --root-owner-group -Z"$compress" --build "$stage" "$deb" >/dev/null
echo "$deb"
