#!/usr/bin/env bash
# Publishing and architecture checks (run by .ci/run). The crates are not on crates.io
# yet, so `cargo publish --dry-run` can only succeed for aitrace-core (its dependencies
# are all published). The strongest check for the others: `cargo package --workspace`
# packages every publishable crate and builds each one from its package alone, the
# dependents against the packaged crates (cargo's temporary local registry), which is
# what crates.io would build.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-packaging: $*" >&2; exit 1; }

libs=(aitrace-core aitrace-insight aitrace-llm aitrace-tool aitrace-http aitrace-messaging aitrace-grpc aitrace)

# 1. Package and verify every publishable crate. Cargo unpacks the packaged crates of its
#    temporary registry under $CARGO_HOME/registry/src/-<hash>/ and never unpacks the
#    same name and version again, nor rebuilds a registry crate it built before: remove
#    earlier copies and their build fingerprints, or a later run verifies the dependents
#    against stale sources (a fresh clone has neither).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/aitrace*-0.*
rm -rf target/debug/.fingerprint/aitrace*
cargo package --workspace --exclude aitrace-examples --exclude aitrace-e2e --allow-dirty

# 2. A real dry-run publish where crates.io has every dependency.
cargo publish --dry-run -p aitrace-core --allow-dirty

# 3. Each package holds its README and sources, and nothing from target/.
for crate in "${libs[@]}" aitrace-cli; do
    list=$(cargo package --list -p "$crate" --allow-dirty 2>/dev/null)
    grep -qx "README.md" <<<"$list" || fail "$crate: README.md not packaged"
    grep -qx "Cargo.toml" <<<"$list" || fail "$crate: Cargo.toml not packaged"
    grep -q "^src/" <<<"$list" || fail "$crate: no sources packaged"
    if grep -q "^target/" <<<"$list"; then fail "$crate: build output packaged"; fi
done

# 4. aitrace-core has no exporter, async runtime or HTTP client, even transitively; and
#    no subscriber of its own (tracing-opentelemetry brings tracing-subscriber's
#    registry, which is not a direct dependency).
core_deps=$(cargo tree -p aitrace-core -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for banned in opentelemetry-otlp opentelemetry-appender-tracing tokio reqwest tonic hyper; do
    if grep -qx "$banned" <<<"$core_deps"; then fail "aitrace-core depends on $banned"; fi
done
direct=$(cargo tree -p aitrace-core -e normal --depth 1 --prefix none --format '{p}' | awk '{print $1}')
if grep -qx "tracing-subscriber" <<<"$direct"; then fail "aitrace-core depends on tracing-subscriber"; fi

# 5. The adapters depend on core alone (not on each other, the pipeline or the reader).
for crate in aitrace-llm aitrace-tool aitrace-http aitrace-messaging aitrace-grpc; do
    deps=$(cargo tree -p "$crate" -e normal --all-features --depth 1 --prefix none --format '{p}' | awk '{print $1}')
    for other in aitrace aitrace-insight aitrace-llm aitrace-tool aitrace-http aitrace-messaging aitrace-grpc; do
        [ "$other" = "$crate" ] && continue
        if grep -qx "$other" <<<"$deps"; then fail "$crate depends on $other"; fi
    done
done

# 6. With `tls-ring`, aws-lc-sys (cmake) is not built.
if cargo tree -p aitrace --no-default-features --features tls-ring,llm,reqwest,tool,http -e normal -i aws-lc-sys >/dev/null 2>&1; then
    fail "aitrace with tls-ring still builds aws-lc-sys"
fi
echo "check-packaging: ok"
