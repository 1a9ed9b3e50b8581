#!/usr/bin/env bash
# The long fuzz run: every target (or those named) under AFL++, coverage-guided, each until it
# has made FUZZ_EXECS executions (10 million) or run FUZZ_SECONDS (12 hours), whichever is first,
# FUZZ_JOBS targets at a time (1), at background priority. Installs cargo-afl (which builds
# AFL++ from source) when missing, builds the driver into target/afl, seeds each target from
# its corpus (tests/fuzz/src/lib.rs: corpus_dirs), and prints per target: executions, time,
# paths found, crashes and hangs. Crashing and hanging inputs are copied to
# target/fuzz-findings/<target>/: fix the cause, then add the input to fixtures/fuzz/<target>/
# as crash-<what>, so the CI run replays it.
#
#   bash tests/fuzz/run.sh                      # every target
#   FUZZ_EXECS=100000 bash tests/fuzz/run.sh pdf sheet
set -euo pipefail
cd "$(dirname "$0")/../.."

EXECS="${FUZZ_EXECS:-10000000}"
SECONDS_EACH="${FUZZ_SECONDS:-43200}"
JOBS="${FUZZ_JOBS:-1}"
WORK="${FUZZ_WORK:-target/fuzz-work}"
mapfile -t ALL < <(sed -n '/^pub const TARGETS/,/^];/p' tests/fuzz/src/lib.rs | grep -o '"[a-z_]*"' | tr -d '"')
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

if ! cargo afl --version >/dev/null 2>&1; then
  echo "== installing cargo-afl (and building AFL++)"
  cargo install cargo-afl --locked
fi

echo "== building the driver (AFL++ instrumentation, target/afl)"
export CARGO_TARGET_DIR="$PWD/target/afl"
nice cargo afl build --release -p notify-fuzz --features afl --bin notify-fuzz
DRIVER="$CARGO_TARGET_DIR/release/notify-fuzz"

# No core dumps are collected here; don't bind to a core others may be using; no screen UI.
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1
# One input a run, in a fresh file (the jwt and config targets keep their scratch data here).
mkdir -p "$WORK"

seed_dir() {
  local target="$1" into="$2"
  mkdir -p "$into"
  local dirs
  mapfile -t dirs < <(case "$target" in pdf) echo fixtures/fuzz/pdf; echo fixtures/letters ;; *) echo "fixtures/fuzz/$target" ;; esac)
  for d in "${dirs[@]}"; do
    find "$d" -maxdepth 1 -type f ! -name README.md -exec cp {} "$into/" \;
  done
}

run_one() {
  local target="$1"
  local dir="$WORK/$target"
  rm -rf "$dir"
  seed_dir "$target" "$dir/in"
  mkdir -p "$dir/tmp"
  local started=$SECONDS
  # -E: stop after EXECS executions; -V: or after the time limit. -t: an input over 5 s is a
  # hang. -m none: memory is bounded by the targets' own limits, and a blow-up shows as a hang.
  AFL_TMPDIR="$dir/tmp" TMPDIR="$dir/tmp" nice -n 10 cargo afl fuzz \
    -i "$dir/in" -o "$dir/out" -E "$EXECS" -V "$SECONDS_EACH" -t 5000 -m none \
    -- "$DRIVER" "$target" >"$dir/afl.log" 2>&1 || {
      echo "!! $target: afl-fuzz failed, see $dir/afl.log"; tail -20 "$dir/afl.log"; return 1; }
  local stats="$dir/out/default/fuzzer_stats"
  value() { sed -n "s/^$1 *: //p" "$stats"; }
  printf '%-15s executions %12s  seconds %6s  execs/s %8s  paths %6s  crashes %3s  hangs %3s\n' \
    "$target" "$(value execs_done)" "$((SECONDS - started))" "$(value execs_per_sec)" \
    "$(value corpus_count)" "$(value saved_crashes)" "$(value saved_hangs)" | tee -a "$WORK/summary.txt"
  local found="target/fuzz-findings/$target"
  for kind in crashes hangs; do
    if compgen -G "$dir/out/default/$kind/id:*" >/dev/null; then
      mkdir -p "$found/$kind"
      cp "$dir/out/default/$kind"/id:* "$found/$kind/"
      echo "   $target: $kind copied to $found/$kind"
    fi
  done
}

: >"$WORK/summary.txt"
echo "== fuzzing ${TARGETS[*]}: $EXECS executions or $SECONDS_EACH s each, $JOBS at a time"
running=0
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
echo "== summary (also in $WORK/summary.txt)"
cat "$WORK/summary.txt"
