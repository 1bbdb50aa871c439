#!/usr/bin/env bash
# A retrieval training sweep on the GPU machine: every config × seed trained once with `vireo train retrieval`
# and evaluated on both splits with `vireo eval retrieval --split valid|test`, JOBS at a time, until a deadline.
# Defaults are chosen on the validation figures; test is read only for the chosen row (docs/ARCHITECTURE.md §4,
# "Defaults per dataset kind").
# Prepare here as for run.sh (node bench/gpu/pack.mjs, .gl/), with the dataset ingested under .device/ (git-ignored,
# so the device tool's carry takes it), then on the GPU machine, from the repository root:
#   bash bench/gpu/sweep.sh .device/DATA CONFIGS OUTDIR
# CONFIGS: a line per config, its name then the training flags (# starts a comment), e.g.
#   e4-dim64 --epochs 4 --dim 64
# SEEDS (default "1 2 3"), JOBS (default 8), DEADLINE (seconds after the start past which no run starts; default
# 480), RUN_LIMIT (seconds one training may take; default 300). Writes OUTDIR/runs/NAME-sSEED.{valid,test}.json
# (the eval's --json), OUTDIR/runs/NAME-sSEED.train.txt (the training's output and its wall seconds) and log.txt.
# Then here: `node bench/gpu/sweep-table.mjs OUTDIR` prints the table.
set -uo pipefail
data=$(realpath "${1:?usage: bash bench/gpu/sweep.sh DATA CONFIGS OUTDIR}")
configs=$(realpath "${2:?usage: bash bench/gpu/sweep.sh DATA CONFIGS OUTDIR}")
out=$(realpath -m "${3:?usage: bash bench/gpu/sweep.sh DATA CONFIGS OUTDIR}")
mkdir -p "$out/runs"
exec > >(tee -a "$out/log.txt") 2>&1
. bench/gpu/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

export w node data out start=$(date +%s) DEADLINE=${DEADLINE:-480} RUN_LIMIT=${RUN_LIMIT:-300}
one() {
  local name=$1 seed=$2 flags=$3 id="$1-s$2" t0
  (($(date +%s) - start > DEADLINE)) && { echo "skip $id: past the deadline"; return; }
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086 # the flags are words
  (cd "$w" && timeout "$RUN_LIMIT" "$node" app/vireo.mjs train retrieval --data "$data" --out "$w/b/$id" \
    --seed "$seed" --skip-eval --quiet $flags) > "$out/runs/$id.train.txt" 2>&1 ||
    { echo "fail $id (train): $(tail -1 "$out/runs/$id.train.txt")"; return; }
  echo "wall_s $(awk "BEGIN{print $(date +%s.%N) - $t0}")" >> "$out/runs/$id.train.txt"
  for split in valid test; do
    (cd "$w" && timeout 120 "$node" app/vireo.mjs eval retrieval --data "$data" --bundle "$w/b/$id" --split $split \
      --json) > "$out/runs/$id.$split.json" 2> "$out/runs/$id.$split.err" || echo "fail $id (eval $split)"
  done
  rm -rf "${w:?}/b/$id"
  echo "done $id in $(($(date +%s) - start)) s"
}
export -f one
grep -v '^\s*\(#\|$\)' "$configs" | while read -r name flags; do
  for s in ${SEEDS:-1 2 3}; do printf '%s\t%s\t%s\n' "$name" "$s" "$flags"; done
done | xargs -P "${JOBS:-8}" -d '\n' -I{} bash -c 'IFS=$'"'"'\t'"'"' read -r n s f <<< "{}"; one "$n" "$s" "$f"'
echo "== done in $(($(date +%s) - start)) s"
