#!/usr/bin/env bash
# The benchmark set on a Linux machine with an NVIDIA GPU, through Dawn on the Vulkan driver, with
# the PyTorch (CUDA) peers in the same run (kernels_torch.py, driven by `vireo bench all`).
# Prepare here with `node bench/gpu/pack.mjs` (fills the
# git-ignored .device/) and the Vulkan loader in .gl/ (see bench/gpu/README.md); on the GPU machine,
# from the repository root: `bash bench/gpu/run.sh OUTDIR`. Writes into OUTDIR:
#   gpu.txt          nvidia-smi's card, driver and memory
#   doctor.txt       every kernel against its CPU reference on this adapter
#   bench-kernels.json  `vireo bench all` sections limits, kernels, topk-scaling (schema of `pnpm bench`)
#   bench-train.json    `vireo bench all` sections train, ranking (DLRM peers: PyTorch CUDA)
#   log.txt          everything printed
# Then here: `node --import ./packages/trainer/bin/register.mjs bench/gpu/merge.ts OUTDIR`.
set -uo pipefail
out=${1:?usage: bash bench/gpu/run.sh OUTDIR}
mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1

. bench/gpu/env.sh

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
"$node" --version
vireo() { (cd "$w" && timeout "$1" "$node" app/vireo.mjs "${@:2}"); }

machine=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')
# Each stage has its own limit and its own file, so that one stage running long loses only itself.
# STAGES (default all three) picks stages to redo: e.g. STAGES="doctor train" bash bench/gpu/run.sh OUT.
want() { [[ " ${STAGES:-doctor kernels train} " == *" $1 "* ]]; }
if want doctor; then echo "== doctor"; vireo 60 doctor | tee "$out/doctor.txt"; fi
if want kernels; then
  echo "== bench all: yardsticks, kernels, top-k scaling"
  vireo 220 bench all --skip-browser --skip-edge --only limits,kernels,topk-scaling --machine "$machine" \
    --out "$out/bench-kernels.json"
fi
if want train; then
  echo "== bench all: training, ranking"
  vireo 150 bench all --skip-browser --skip-edge --only train,ranking --machine "$machine" --out "$out/bench-train.json"
fi
echo "== done"
