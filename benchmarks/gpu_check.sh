#!/usr/bin/env bash
# The GPU path in one call on a lent device (about 6 minutes on one H100; no network, no pip):
#   bash benchmarks/gpu_check.sh             files under $OUT (/tmp/gpu-check without it)
#   SMOKE=1 bash benchmarks/gpu_check.sh     the same parts at toy shapes, on a CPU too (a check of the script)
# 1. environment: the GPU, driver and the Python packages the step needs (the device's image has its own
#    torch/transformers/sentence-transformers, not our pins);
# 2. gpu_step: benchmarks/gpu_step.py at the paper's shapes (MPNet-base with random weights, seq 384,
#    m = 10,000, chunks of 200, bf16, two passes) with dropout on and off, taking turns;
# 3. cli_training: a short bf16 training through the CLI, as the workflow runs it: the synthetic demo dataset,
#    its item split, a random MPNet-base whose vocabulary is the demo's words, 12 steps of 200 items at seq 128,
#    dropout off, the validation phase scored at steps 0, 6 and 12 (a list of max_steps, chosen on it).
# Each part has its own time limit and the script goes on after a failure; its last line says what passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT=${OUT:-/tmp/gpu-check} REPO=$PWD PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -n "${SMOKE:-}" ]; then
    export SHAPE="--layers 2 --hidden 64" STEP="--seq 32 --m 256 --chunk 64 --users 64" DEVICE=cpu
else
    export SHAPE="" STEP="" DEVICE=cuda
fi
mkdir -p "$OUT"

environment() {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "no nvidia-smi"
    echo "CPUs: $(nproc)"
    "$PYTHON" - <<'EOF'
import importlib
import sys

print("python", sys.version.split()[0])
for name in ("torch", "transformers", "sentence_transformers", "numpy", "pandas", "pyarrow", "scipy", "tqdm", "yaml"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as error:  # report, do not stop: the later parts say what they need
        print(name, "MISSING:", error)
import torch

print("cuda", torch.cuda.is_available(), torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name())
EOF
}

gpu_step() {
    # shellcheck disable=SC2086  # SHAPE and STEP are lists of arguments
    "$PYTHON" benchmarks/gpu_step.py --dropout on off --steps 2 $SHAPE $STEP
}

cli_training() {
    set -e
    cd "$(mktemp -d)"
    beeformer() { "$PYTHON" -m beeformer "$@"; }
    beeformer data --name demo --params '{"source": "synthetic"}' --interactions interactions.parquet \
        --items item_features.parquet --report data.json
    beeformer describe --features item_features.parquet --items items.parquet
    beeformer split --params '{"kind": "item", "test_items": 60, "validation_items": 30}' \
        --interactions interactions.parquet --items items.parquet --out-dir split
    # shellcheck disable=SC2086
    "$PYTHON" "$REPO/benchmarks/gpu_step.py" --save-model mpnet --vocab-from items.parquet $SHAPE
    beeformer train --params '{"base_model": "mpnet", "max_steps": [6, 12], "eval_every": 6, "batch_size": 64,
        "items_per_step": 200, "chunk_size": 100, "max_seq_length": 128, "lr": 1e-5, "precision": "bf16",
        "dropout": false, "device": "'"$DEVICE"'"}' \
        --source demo split/train.parquet items.parquet --validation demo split/validation_source.parquet \
        split/validation_target.parquet split/validation_candidates.parquet \
        --model-dir model --log-dir log --tuning tuning.json
    cp log/run-*/training_log.csv "$OUT/cli_training_log.csv"
    cp tuning.json "$OUT/cli_tuning.json"
}
export -f environment gpu_step cli_training

passed=() failed=()
for part in "environment 60" "gpu_step 300" "cli_training 240"; do
    read -r name limit <<<"$part"
    echo "== $name (limit ${limit} s)"
    started=$SECONDS
    if timeout "$limit" bash -c "$name" >"$OUT/$name.log" 2>&1; then
        passed+=("$name")
    else
        failed+=("$name (exit $?)")
    fi
    echo "   $((SECONDS - started)) s"
    grep -v -e '^Loading weights' -e 'it/s]$' "$OUT/$name.log" | tail -n 12
done
echo "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}" | tee "$OUT/summary.txt"
[ ${#failed[@]} -eq 0 ]
