#!/usr/bin/env bash
# The GPU check of issue 4, within 10 minutes on one GPU machine.
#
# Those machines have PyTorch and JAX but not TensorFlow, and no network, so
# keras and the project travel as wheels prepared beforehand on a machine with
# network access:
#
#   bash benchmarks/gpu.sh prepare     # here: fills $WHEELS (default .whl/)
#   bash benchmarks/gpu.sh             # there, from the repository root
#
# The run installs the wheels into /tmp/rnnkit-site (no dependencies resolved:
# the machine's numpy, jax, torch, h5py, rich, ... are used), checks on the GPU
# that the torch and JAX fast paths of ElmanRNN and JordanRNN equal the generic path (forward and
# gradients: benchmarks/gpu_check.py), then runs the benchmark at the GPU size
# (B=256, T=1000, D=64, H=512) against PyTorch's cuDNN nn.RNN. Results go to
# $RESULTS (default: $OUT if set, else gpu-results/): check.log, bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-.whl}
PYTHON=${PYTHON:-python3}

if [[ "${1:-}" == "prepare" ]]; then
    # keras's own dependencies that the GPU image lacks: namex, optree.
    keras_version=$($PYTHON -c "import keras; print(keras.__version__)")
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    $PYTHON -m pip wheel -q --no-deps -w "$WHEELS" .
    for platform in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
        args+=(--platform "$platform")
    done
    $PYTHON -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${args[@]}" -d "$WHEELS" \
        "keras==$keras_version" namex optree
    ls -l "$WHEELS"
    exit 0
fi

RESULTS=${RESULTS:-${OUT:-gpu-results}}
mkdir -p "$RESULTS"
start=$SECONDS
$PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/rnnkit-site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/rnnkit-site${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$RESULTS/gpu.txt"

# Time limits add up to under 10 minutes: 2 x 120 s of checks, 300 s of benchmark.
# A failed check does not stop the benchmark; the exit code reports it.
status=0
echo "== fast paths against the generic path, on the GPU"
for backend in torch jax; do
    KERAS_BACKEND=$backend timeout 120 $PYTHON benchmarks/gpu_check.py 2>&1 \
        | tee -a "$RESULTS/check.log" || status=1
done

echo "== benchmark at the GPU size (against cuDNN nn.RNN in the torch process)"
# The parent process imports keras_rnnkit too: not with TensorFlow, absent here.
KERAS_BACKEND=torch timeout 300 $PYTHON benchmarks/run.py --backends torch,jax \
    --sizes gpu --groups elman --lengths --warmup 2 --repeats 5 \
    --out "$RESULTS/bench" --overwrite || status=1
echo "== done in $((SECONDS - start)) s, exit code $status; results in $RESULTS/"
exit $status
