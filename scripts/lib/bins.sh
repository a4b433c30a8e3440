# shellcheck shell=bash
# Sourced by the bench scripts:
#
#   release_bins [DIR]   sets BIN to the absolute path of a directory holding cairnd
#                        and cairn: DIR if given, else $CARGO_TARGET_DIR/release (or
#                        target/release), built with `cargo build --release --bins`
#                        when either binary is missing. Needs ROOT.

release_bins() {
    BIN="${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
    [[ -x "$BIN/cairnd" && -x "$BIN/cairn" ]] || (cd "$ROOT" && cargo build --release --bins)
    BIN="$(realpath "$BIN")"
}
