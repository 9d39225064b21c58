#!/usr/bin/env bash
# The README's test command runs this (npm test): install the test peers, type-check, then run
# every test under Node's test runner with the loopback guard preloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Node 24 that npm installed into node_modules (the system one may be older).
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/install-peers.sh
node --version
npx tsc --noEmit -p .
# The admin UI (ui/ → dist-ui/, git-ignored): type-checked and built, the browser tests load it.
npx tsc --noEmit -p ui
npm run build:ui --silent
exec node --import ./test/support/guard.ts --test --test-concurrency=2 --test-timeout=600000 \
  'src/**/*.test.ts' 'test/**/*.test.ts'
