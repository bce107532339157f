#!/usr/bin/env bash
# Pretrains (or resumes) the committed base checkpoint in
# examples/encoder/pretrained/: the encoder the experiment, the demo and users
# start from.  Long: run it in the background, it checkpoints every 5 minutes
# and appends to pretrained/pretrain.log:
#
#   nohup examples/encoder/pretrain-base.sh >/dev/null 2>&1 &
#   tail -f examples/encoder/pretrained/pretrain.log
#
# Configuration (the encoder's defaults unless named): L = 4, hidden 128,
# 4 heads, FFN 512, max_len 64, vocabulary 8000, MLM 15 % (80/10/10),
# dropout 0.1 at every site, AdamW lr 1e-3, 300 warm-up steps then linear
# decay to 0 at step 8000, batch 256 glosses, seed 1, one OpenBLAS thread
# (on a shared 2-core machine two threads lost 4x to synchronisation: 2.5k
# tokens/s against 12.5k with one, measured in this run's log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/encoder/env.sh
. "$here/env.sh"
out=$here/pretrained
mkdir -p "$out"
resume=()
# On the model, not the optimizer: a first save killed between its two
# renames leaves the model beside optimizer.safetensors.new, which --resume
# completes (a fresh run would refuse the folder).
[ -f "$out/model.safetensors" ] && resume=(--resume)
echo "# $(date -u +%FT%TZ) $(uname -n): pretrain-base.sh ${resume[*]}" >>"$out/pretrain.log"
exec "$enc" pretrain --out "$out" --batch 256 --steps 8000 --warmup 300 --lr 1e-3 \
    --threads 1 --log-every 25 --eval-every 250 --eval-n 2000 --ckpt-minutes 5 --seed 1 \
    "${resume[@]}" >>"$out/pretrain.log" 2>&1
