#!/usr/bin/env bash
# Import and re-parse speed (issue 17), with the release binary: a simulator mirror (what wget
# --mirror saves of simulated days) imported into SQLite on one parsing thread and on every core,
# into PostgreSQL when DNMSCOPE_BENCH_POSTGRES_URL is set, and then re-parsed after every
# definition's version is bumped. Prints pages per second, parallel efficiency and peak memory.
#
#   cargo build --release --bin dnmscope
#   crates/dnmscope-crawl/benches/import.sh
#
# DNMSCOPE_BIN (default target/release/dnmscope, or $CARGO_TARGET_DIR/release/dnmscope),
# DNMSCOPE_BENCH_VENDORS (default 1000: about 25,000 pages a day), DNMSCOPE_BENCH_DAYS (5..6),
# DNMSCOPE_BENCH_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test; a schema of its own
# is made and dropped). Only loopback and local files are touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="${DNMSCOPE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/dnmscope}"
vendors="${DNMSCOPE_BENCH_VENDORS:-1000}"
days="${DNMSCOPE_BENCH_DAYS:-5..6}"
cores="$(nproc)"
work="$(mktemp -d /var/tmp/dnmscope-bench-import.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

"$bin" sim mirror --seed 3 --vendors "$vendors" --days "$days" --out mirror --no-warc
markets=(mirror/*)
pages=$(find mirror -type f | wc -l)
echo "mirror: $pages files, $(du -sm mirror | cut -f1) MiB"

# One import: prints "threads pages/s peak-MiB".
run_import() {
    local db="$1" threads="$2" config="$3"
    "$bin" --config "$config" --db "$db" db migrate >/dev/null 2>&1
    local out
    out=$(/usr/bin/time -f 'rss %M' "$bin" --config "$config" --db "$db" import --progress none \
        --threads "$threads" "${markets[@]}" 2>&1)
    local rate rss
    rate=$(grep -o '([0-9]* pages/s)' <<<"$out" | tr -dc '0-9')
    rss=$(( $(grep -o 'rss [0-9]*' <<<"$out" | tr -dc '0-9') / 1024 ))
    echo "$threads $rate $rss"
    grep '^imported' <<<"$out" >&2
}

: > plain.toml
read -r _ one one_rss < <(run_import one.sqlite 1 plain.toml)
read -r _ all all_rss < <(run_import all.sqlite "$cores" plain.toml)
efficiency=$(python3 -c "print(f'{$all / ($cores * $one):.2f}')")
echo "sqlite import: 1 thread $one pages/s (peak $one_rss MiB); $cores threads $all pages/s (peak $all_rss MiB); parallel efficiency $efficiency"

if [ -n "${DNMSCOPE_BENCH_POSTGRES_URL:-}" ]; then
    schema="dnmscope_bench_import_$$"
    printf '[store]\npostgres_schema = "%s"\n' "$schema" > pg.toml
    read -r _ pg pg_rss < <(run_import "$DNMSCOPE_BENCH_POSTGRES_URL" "$cores" pg.toml)
    PGOPTIONS="--client-min-messages=warning" psql "$DNMSCOPE_BENCH_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
    echo "postgres import: $cores threads $pg pages/s (peak $pg_rss MiB)"
fi

# Re-parse after a version bump of every built-in definition.
mkdir defs
for file in "$root"/config/markets/*.toml; do
    python3 - "$file" "defs/$(basename "$file")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'^version = (\d+)$', lambda m: f'version = {int(m.group(1)) + 1}', text, count=1, flags=re.M)
open(sys.argv[2], 'w').write(text)
PY
done
printf '[crawl]\ndefinitions_dir = "defs"\n' > bumped.toml
out=$(/usr/bin/time -f 'rss %M' "$bin" --config bumped.toml --db all.sqlite reparse --threads "$cores" 2>&1)
grep '^re-parsed' <<<"$out"
echo "re-parse: $cores threads $(grep -o '([0-9]* pages/s)' <<<"$out" | tr -dc '0-9') pages/s (peak $(( $(grep -o 'rss [0-9]*' <<<"$out" | tr -dc '0-9') / 1024 )) MiB)"
