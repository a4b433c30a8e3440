#!/usr/bin/env bash
# Runs every test of the project: unit and end-to-end tests (cargo), the aws-cli
# smoke script, a short HTTP fuzz run, and a one-minute soak of a 3-node cluster under kill -9 and shard
# corruption. Everything it needs is installed by the scripts themselves (headless
# Chromium and Firefox with their WebDriver servers, for the CORS and console
# browser tests, from here).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/need.sh
. scripts/lib/need.sh
need_cmd chromium chromium
need_cmd chromedriver chromium-driver
need_cmd firefox-esr firefox-esr
# Debian packages no geckodriver: it is built once from crates.io into target/tools/
# (where tests/src/browser.rs looks for it).
if [[ ! -x target/tools/bin/geckodriver ]]; then
    cargo install --locked --quiet geckodriver --version 0.37.1 --root target/tools
fi

cargo build --workspace --bins
cargo test --workspace --no-fail-fast -- --test-threads="${CAIRN_TEST_THREADS:-2}"
bash scripts/smoke-awscli.sh
# A short fuzz run; release checks run the full 100,000 (scripts/fuzz-http.sh alone).
bash scripts/fuzz-http.sh --count "${CAIRN_FUZZ_COUNT:-5000}"
bash scripts/soak.sh --minutes 1
