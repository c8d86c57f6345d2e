# Shared by the pkg-scripts: where things are, how to talk, what is installed.
# Sourced, not run. Every script that sources it runs from the repository root.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# cargo install puts wasm-bindgen here; a fresh login shell may not have it on PATH yet.
export PATH="$HOME/.cargo/bin:$PATH"

WASM_TARGET=wasm32-unknown-unknown
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
WASM_OPT="$ROOT/node_modules/binaryen/bin/wasm-opt"
# Stamp written after `npm ci`: node_modules matches the committed package-lock.json.
NPM_STAMP="$ROOT/node_modules/.peer-commons-lock.sha256"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
warn() { printf '\033[1;33m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31m==> %s\033[0m\n' "$*" >&2; exit 1; }

# The wasm-bindgen version pinned in Cargo.toml (`wasm-bindgen = "=X.Y.Z"`): the CLI must match it.
wasm_bindgen_pinned() {
  sed -n 's/^wasm-bindgen *= *"=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n1
}

wasm_bindgen_installed() {
  { wasm-bindgen --version 2>/dev/null || true; } | awk '{print $2}'
}

wasm_target_installed() {
  rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"
}

npm_deps_current() {
  [[ -f "$NPM_STAMP" ]] && [[ "$(cat "$NPM_STAMP")" == "$(sha256sum package-lock.json | cut -d' ' -f1)" ]]
}

# True when everything setup would install is already here.
setup_complete() {
  wasm_target_installed &&
    [[ "$(wasm_bindgen_installed)" == "$(wasm_bindgen_pinned)" ]] &&
    command -v wasm-bindgen-test-runner >/dev/null &&
    [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]] &&
    command -v unshare >/dev/null && command -v ip >/dev/null &&
    cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 &&
    command -v cargo-fuzz >/dev/null &&
    npm_deps_current
}

ensure_setup() {
  if setup_complete; then
    say "setup: everything is installed already"
  else
    "$ROOT/pkg-scripts/setup"
  fi
}

# Runs a command in a fresh network namespace whose only interface is loopback, so browser test
# traffic (WebRTC candidates included) cannot leave 127.0.0.1.
in_loopback_netns() {
  local unshare=(unshare --net)
  [[ "$(id -u)" -eq 0 ]] || unshare=(unshare --user --map-root-user --net)
  "${unshare[@]}" -- bash -c 'ip link set lo up && exec "$@"' in_loopback_netns "$@"
}

# Builds target/debug/peer-commons-relay for the test stages with the features `cargo test` uses.
# Dev-dependencies unify features in test builds, so after the native-tests stage a plain
# `cargo build --bin peer-commons-relay` would compile some 30 crates (tokio, hyper, axum, ...)
# a second time. Building the browser-test targets (empty natively) builds the binary exactly as
# `cargo test` does: a no-op after native-tests, and still a complete build when run alone.
build_relay_for_tests() {
  cargo test --no-run --test 'web_*'
  [[ -x "$ROOT/target/debug/peer-commons-relay" ]] || die "target/debug/peer-commons-relay was not built"
}
