#!/bin/sh
# PyTorch parity of the C encoder (ctest: encoder_parity).
#   parity.sh ENCODER PARITY_PY WORK_DIR [WORDNET_DIR]
# Pretrains a tiny checkpoint, dumps one training step four ways (MLM;
# classifier with mean and with [CLS] pooling on supersense, with pair
# pooling on hypernymy) and has parity.py rebuild each
# step in PyTorch.  Then proves the comparison can fail: a copy of the MLM
# dump with one gradient element moved by 1e-3 of its tensor's scale, and one
# with a single dropout element flipped, must both be rejected.
# Exit 77 (ctest: skipped) when torch or WordNet is missing.
set -eu
enc=$1 py=$2 work=$3 wordnet=${4:-/usr/share/wordnet}
python=${GDX_PYTHON3:-/usr/bin/python3}

if ! "$python" -c 'import numpy, torch' 2>/dev/null; then
    echo "skipped: torch not importable by $python (apt-get install python3-torch)"
    exit 77
fi
if [ ! -r "$wordnet/data.noun" ]; then
    echo "skipped: no WordNet in $wordnet (apt-get install wordnet-base)"
    exit 77
fi
rm -rf "$work"
mkdir -p "$work"

"$enc" pretrain --wordnet "$wordnet" --out "$work/tiny" --layers 2 --hidden 32 --heads 2 \
    --ffn 64 --vocab 500 --batch 32 --steps 20 --warmup 5 --log-every 10 --eval-every 20 \
    --eval-n 100 --threads 1 >"$work/pretrain.log"

for mode in mlm cls-mean cls-cls cls-pair; do
    case $mode in
        mlm) flags="--mode mlm" ;;
        cls-mean) flags="--mode cls --pool mean" ;;
        cls-cls) flags="--mode cls --pool cls" ;;
        cls-pair) flags="--mode cls --pool pair" ;;
    esac
    # shellcheck disable=SC2086 # flags are words
    "$enc" dump --wordnet "$wordnet" --ckpt "$work/tiny" --out "$work/$mode.safetensors" \
        --batch 6 $flags
    "$python" "$py" --skip-status 77 "$work/$mode.safetensors"
done

echo "== the comparison catches a wrong gradient and a wrong dropout mask"
for tensor in grad.embeddings.LayerNorm.weight drop.0; do
    "$python" "$py" --perturb "$work/mlm.safetensors" "$work/bad.safetensors" --tensor "$tensor"
    status=0
    "$python" "$py" "$work/bad.safetensors" >"$work/bad.log" 2>&1 || status=$?
    if [ "$status" -ne 1 ]; then
        cat "$work/bad.log"
        echo "FAIL: parity.py exited $status on a dump with $tensor perturbed (expected 1)"
        exit 1
    fi
    echo "  ok: $tensor perturbed -> $(grep -m1 '^FAIL' "$work/bad.log")"
done
echo "parity OK"
