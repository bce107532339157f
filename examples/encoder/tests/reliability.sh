#!/usr/bin/env bash
# Reliability of the encoder's files (ctest: encoder_reliability; issues 26
# and 27): every case is an attack or an accident that once went through
# with exit 0 or a torn file.
#   reliability.sh ENCODER FAULTSHIM WORK_DIR [ENCODER_MPI]
# FAULTSHIM is tests/faultshim.c built as a preloadable module (fsync EIO,
# a failing or a killing rename); full disks are `ulimit -f`.  The MPI case
# runs when ENCODER_MPI and mpirun are there.  Exit 77 (skipped) without
# WordNet.  Every failure must be exit status 1 with a message naming the
# file, and must leave the last good files as they were.
set -u
enc=$1 shim=$2 work=$3 enc_mpi=${4:-}
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"

same_file() { cmp -s "$1" "$2"; }
sum_dir() { (cd "$1" && sha256sum model.safetensors optimizer.safetensors vocab.txt); }

tiny=(--wordnet "$wordnet" --layers 1 --hidden 16 --heads 2 --ffn 32 --vocab 200 --max-len 16
      --batch 16 --warmup 2 --log-every 10 --eval-every 10 --eval-n 50 --threads 1)
fisher=(fisher --wordnet "$wordnet" --fraction 0.0005 --threads 1)

echo "== a tiny checkpoint"
"$enc" pretrain --out t --steps 20 "${tiny[@]}" >t.log 2>&1 || { cat t.log; exit 1; }
grep -q '"vocab_digest":"[0-9a-f]\{16\}"' t/model.safetensors && ok "vocab_digest stored" ||
    bad "no vocab_digest in the metadata"
grep -q '"steps":"20","warmup":"2","batch":"16"' t/model.safetensors && ok "schedule stored" ||
    bad "no schedule in the metadata"

echo "== #26.1: the atomic writer refuses anything but a regular file or nothing"
mkdir -p dev
echo keep >dev/reg
mkfifo dev/fifo
ln -s reg dev/link
ln -s /proc/self/fd/1 dev/stdout
targets=(dev/fifo dev/link dev/stdout)
if mknod dev/null c 1 3 2>/dev/null; then targets+=(dev/null); fi
for target in "${targets[@]}"; do
    before=$(stat -c %F "$target")
    expect 1 "$target: is (not a regular file|a symbolic link)" "fisher --sites $target" -- \
        "$enc" "${fisher[@]}" --ckpt t --sites "$target"
    [ "$(stat -c %F "$target")" = "$before" ] || bad "$target changed to $(stat -c %F "$target")"
    expect 1 "$target: is" "dump --out $target" -- "$enc" dump --wordnet "$wordnet" --ckpt t \
        --out "$target"
done
same_file dev/reg <(echo keep) && ok "the symlink's target is untouched" || bad "dev/reg changed"
ls -A dev | grep -q '^\.enc-' && bad "a temporary file was left in dev/" || ok "no temporary file left"

# The pair's targets are checked before any work and before either file is
# replaced: an optimizer target refused after the model's rename left a
# model without its optimizer.
mkdir -p slink
ln -s /proc/self/fd/1 slink/optimizer.safetensors
expect 1 "slink/optimizer.safetensors: is a symbolic link" "pretrain --out with a symlinked optimizer" -- \
    "$enc" pretrain --out slink --steps 3 "${tiny[@]}"
[ -e slink/model.safetensors ] && bad "a model was saved without its optimizer" || ok "no model saved"
"$enc" pretrain --out rlink --steps 200 --stop-after 2 "${tiny[@]}" >rlink.log 2>&1 ||
    bad "pretrain --out rlink: $(tail -n 1 rlink.log)"
mv rlink/optimizer.safetensors rlink/opt.real
ln -s opt.real rlink/optimizer.safetensors
cp rlink/model.safetensors rlink.model
expect 1 "rlink/optimizer.safetensors: is a symbolic link" "resume with a symlinked optimizer" -- \
    "$enc" pretrain --out rlink --resume --stop-after 1 --threads 1 --wordnet "$wordnet"
same_file rlink/model.safetensors rlink.model && ok "the model is untouched" ||
    bad "the model was replaced: the pair is split"

echo "== #26.13: the Fisher outputs are checked before the pass and named"
expect 1 "/nonexistent/f.safetensors: cannot create" "fisher --out in a missing folder" -- \
    "$enc" "${fisher[@]}" --ckpt t --out /nonexistent/f.safetensors
grep -q 'Fisher of the MLM loss' out.log && bad "the pass ran before the path was checked" ||
    ok "no pass before the check"
expect 1 "dev/fifo: is not a regular file" "fisher --plan FIFO" -- \
    "$enc" "${fisher[@]}" --ckpt t --plan dev/fifo
# A save that fails after the pass (an fsync error in the library's save)
# names its file and leaves nothing in the folder.
mkdir -p feio
expect 1 "^encoder: feio/f\.safetensors: cannot save the Fisher file: GD_EIO" \
    "fsync EIO in gd_fisher_save" -- env LD_PRELOAD="$shim" ENC_FAULT_FSYNC_EIO=1 "$enc" \
    "${fisher[@]}" --ckpt t --out feio/f.safetensors --plan feio/f.plan --sites feio/f.tsv
[ -z "$(ls -A feio)" ] && ok "no Fisher file, plan or temporary file left" ||
    bad "files left: $(ls -A feio)"

echo "== #26.4: a full disk, an fsync error, a failed rename or kill -9 during a save"
"$enc" pretrain --out r --steps 200 --stop-after 10 "${tiny[@]}" >r.log 2>&1 || { cat r.log; exit 1; }
# ulimit -f 40: the model (28 KB) fits, the optimizer (50 KB) does not.
sum_dir r >r.sum
expect 1 "optimizer.safetensors.new: write failed" "full disk while saving the optimizer" -- \
    bash -c 'trap "" XFSZ; ulimit -f 40; exec "$@"' _ "$enc" pretrain --out r --resume \
    --stop-after 10 --threads 1 --wordnet "$wordnet"
sum_dir r | cmp -s - r.sum && ok "the last pair is unchanged" || bad "the pair changed"
[ -e r/model.safetensors.new ] || bad "expected the staged model of the failed save"
expect 1 "model.safetensors.new: fsync failed: Input/output error" "fsync EIO" -- \
    env LD_PRELOAD="$shim" ENC_FAULT_FSYNC_EIO=1 "$enc" pretrain --out r --resume --stop-after 10 \
    --threads 1 --wordnet "$wordnet"
sum_dir r | cmp -s - r.sum && ok "the last pair is unchanged" || bad "the pair changed"
# The second rename of the commit fails: model at 20, optimizer at 10.
expect 1 "optimizer.safetensors.new: cannot rename" "a failed rename between the pair" -- \
    env LD_PRELOAD="$shim" ENC_FAULT_RENAME_EIO=/optimizer.safetensors "$enc" pretrain --out r \
    --resume --stop-after 10 --threads 1 --wordnet "$wordnet"
expect 0 "" "resume completes the interrupted save" -- "$enc" pretrain --out r --resume \
    --stop-after 10 --threads 1 --wordnet "$wordnet"
grep -q 'completed the interrupted save of step 20' out.log && grep -q 'resumed at step 20 ' out.log &&
    ok "resumed at step 20 from the completed pair" || bad "$(grep -E 'completed|resumed' out.log)"
ls r | grep -q '\.new$' && bad "files of failed saves are left: $(ls r)" ||
    ok "a successful save removed what the failed ones left"
# kill -9 at each of a save's four renames (model.new, optimizer.new, model,
# optimizer): every time a later resume finds a consistent pair.
for k in 1 2 3 4; do
    step=$(grep -ao '"step":"[0-9]*"' r/model.safetensors | grep -o '[0-9]*')
    status=0
    { env LD_PRELOAD="$shim" ENC_FAULT_KILL_AT_RENAME=$k "$enc" pretrain --out r --resume \
        --stop-after 10 --threads 1 --wordnet "$wordnet" >/dev/null 2>&1 || status=$?; } 2>/dev/null
    [ "$status" -eq 137 ] || bad "kill at rename $k: exit $status, expected 137 (SIGKILL)"
    expect 0 "" "resume after kill -9 at rename $k (model was at step $step)" -- \
        "$enc" pretrain --out r --resume --stop-after 10 --threads 1 --wordnet "$wordnet"
    if [ "$k" = 4 ]; then # killed between the model's rename and the optimizer's
        grep -q "completed the interrupted save of step $((step + 10))" out.log &&
            ok "the interrupted save was completed" || bad "$(grep -E 'completed|resumed' out.log)"
    else
        grep -q "resumed at step $step " out.log && ok "resumed from the previous pair" ||
            bad "$(grep resumed out.log)"
    fi
done

# The first save of a run killed between its two renames: no
# optimizer.safetensors yet, only its *.new (once unresumable).
status=0
{ env LD_PRELOAD="$shim" ENC_FAULT_KILL_AT_RENAME=5 "$enc" pretrain --out k5 --steps 200 \
    --stop-after 10 "${tiny[@]}" >/dev/null 2>&1 || status=$?; } 2>/dev/null
[ "$status" -eq 137 ] && [ -e k5/model.safetensors ] && [ ! -e k5/optimizer.safetensors ] ||
    bad "kill at the first save's last rename: exit $status, $(ls k5 | paste -sd' ')"
expect 0 "" "resume after kill -9 between the first save's renames" -- \
    "$enc" pretrain --out k5 --resume --stop-after 10 --threads 1 --wordnet "$wordnet"
grep -q 'completed the interrupted save of step 10' out.log && grep -q 'resumed at step 10 ' out.log &&
    ok "the first pair was completed" || bad "$(grep -E 'completed|resumed' out.log)"

echo "== #26.4: two runs on one folder"
"$enc" pretrain --out busy "${tiny[@]}" --steps 100000000 --log-every 100000000 >bg.log 2>&1 &
bg=$!
for _ in $(seq 100); do grep -q '^model:' bg.log 2>/dev/null && break; sleep 0.1; done
expect 1 "busy: another run is using this folder" "a second run on a busy folder" -- \
    "$enc" pretrain --out busy "${tiny[@]}" --steps 1
kill -9 "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
expect 0 "" "a run after the first one was killed (the lock went with it)" -- \
    "$enc" pretrain --out busy "${tiny[@]}" --steps 1

echo "== #27.3 and #26.13: a resumed run keeps its schedule and seed"
expect 1 "--seed 2 differs" "resume with another --seed" -- "$enc" pretrain --out r --resume --seed 2 \
    --wordnet "$wordnet"
expect 1 "--steps 80 differs" "resume with other --steps" -- "$enc" pretrain --out r --resume \
    --steps 80 --wordnet "$wordnet"
expect 1 "--warmup 7 differs" "resume with other --warmup" -- "$enc" pretrain --out r --resume \
    --warmup 7 --wordnet "$wordnet"
expect 1 "--hidden 32 differs" "resume with another --hidden" -- "$enc" pretrain --out r --resume \
    --hidden 32 --wordnet "$wordnet"
expect 0 "" "resume without flags takes the stored schedule" -- "$enc" pretrain --out r --resume \
    --stop-after 1 --threads 1 --wordnet "$wordnet"
grep -Eq '^resumed at step [0-9]+ of 200 \(seed 1\)' out.log && ok "$(grep resumed out.log)" ||
    bad "resume: $(grep resumed out.log)"
expect 1 "already holds a checkpoint" "a fresh run over a checkpoint" -- "$enc" pretrain --out r \
    "${tiny[@]}" --steps 5

echo "== a resumed run's stored schedule is bound by the flags' ranges"
# remeta DIR KEY VALUE: DIR a copy of t whose metadata says KEY is VALUE
# (and 40 steps, so that a resume has work left).  Once taken unchecked:
# batch 0 divided by zero, lr 1e39 or weight_decay 1e30 overflowed, lr -1
# climbed the loss with exit 0, p 2 failed later as GD_EDOMAIN.
remeta() {
    rm -rf "$1"
    mkdir -p "$1"
    cp t/model.safetensors t/optimizer.safetensors t/vocab.txt "$1/"
    "$python" - "$1/model.safetensors" "$2" "$3" <<'EOF'
import json, struct, sys
p, key, val = sys.argv[1:]
b = open(p, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['__metadata__'].update({'steps': '40', key: val})
text = json.dumps(h, separators=(',', ':')).encode()
text += b' ' * (-len(text) % 8)
open(p, 'wb').write(struct.pack('<Q', len(text)) + text + b[8 + n:])
EOF
}
for kv in batch=0 batch=100000 lr=1e39 lr=-1 weight_decay=1e30 p=2 steps=0 \
    warmup=1000000000000000 seed=1000000000000000001; do
    key=${kv%%=*} val=${kv#*=}
    remeta meta "$key" "$val"
    cp meta/model.safetensors meta.model
    expect 1 "meta/model.safetensors: metadata \"$key\" is [^ ]+, outside \[.*\] \(--${key//_/-}'s range\)" \
        "resume with \"$key\":\"$val\" stored" -- \
        "$enc" pretrain --out meta --resume --stop-after 1 --threads 1 --wordnet "$wordnet"
    same_file meta/model.safetensors meta.model || bad "the model changed"
done
remeta meta lr 0.0005
expect 0 "" "resume with \"lr\":\"0.0005\" stored (in range)" -- \
    "$enc" pretrain --out meta --resume --stop-after 1 --threads 1 --wordnet "$wordnet"

echo "== #27.4: --init-from starts a new schedule from a model"
expect 0 "" "--init-from" -- "$enc" pretrain --out i --init-from t --steps 5 --warmup 1 --batch 16 \
    --threads 1 --wordnet "$wordnet" --log-every 5 --eval-every 5 --eval-n 20
grep -q 'initialised from t/model.safetensors (its step 20); a new schedule of 5 steps' out.log &&
    same_file i/vocab.txt t/vocab.txt && grep -q '"step":"5"' i/model.safetensors &&
    ok "i/ at step 5 with t's vocabulary" || bad "--init-from: $(head -3 out.log)"
expect 1 "--hidden 32 differs" "--init-from with other sizes" -- "$enc" pretrain --out i2 \
    --init-from t --hidden 32 --wordnet "$wordnet"

echo "== #27.12: flags are validated before any work"
expect 1 "--heads must divide --hidden" "--heads 3 (before WordNet is read)" -- \
    "$enc" pretrain --out h --heads 3 --wordnet /nonexistent
[ -e h ] && bad "the output folder was created" || ok "nothing written"
# Integer flags are read as integers: through a double, 2^53 + 1 became 2^53
# and 10^18 + 1 passed the range check as 10^18.
for seed in 9007199254740993 999999999999999999; do
    "$enc" pretrain --seed "$seed" --help | grep -q -- "--seed .*\[$seed\]$" &&
        ok "--seed $seed is kept exactly" || bad "--seed $seed: $("$enc" pretrain --seed "$seed" --help | grep -- --seed)"
done
expect 1 "--seed: 1000000000000000001 is outside \[0, 1e\+18\]" "--seed 10^18 + 1" -- \
    "$enc" pretrain --seed 1000000000000000001 --help
expect 1 "--seed: 99999999999999999999999 is outside" "--seed past 2^64" -- \
    "$enc" pretrain --seed 99999999999999999999999 --help
for val in 1e3 20.0 +20 020 -1; do
    expect 1 "--steps: \"${val/+/[+]}\" is not a whole decimal number" "--steps $val" -- \
        "$enc" pretrain --steps "$val" --help
done

echo "== #26.3: non-finite values"
cp -r t neg
"$python" - neg/optimizer.safetensors <<'EOF'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
at = 8 + n + h['adam.v']['data_offsets'][0]
b[at:at + 4] = struct.pack('<f', -1.0)
open(p, 'wb').write(b)
EOF
cp neg/model.safetensors neg.model
expect 1 "adam.v\[0\] is -1: a second moment cannot be negative" "a negative second moment" -- \
    "$enc" pretrain --out neg --resume --stop-after 1 --wordnet "$wordnet"
same_file neg/model.safetensors neg.model && ok "the model is untouched" || bad "the model changed"
mkdir -p huge
cp t/vocab.txt huge/
"$python" - t/model.safetensors huge/model.safetensors <<'EOF'
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
b[8 + n:] = struct.pack('<2f', 3e37, -3e37) * ((len(b) - 8 - n) // 8)
open(sys.argv[2], 'wb').write(b)
EOF
expect 1 "(training loss|gradient norm) is (-?nan|inf)" "huge finite weights" -- \
    "$enc" pretrain --out hugerun --init-from huge --steps 5 --threads 1 --wordnet "$wordnet"
[ -e hugerun/model.safetensors ] && bad "a checkpoint was saved" || ok "nothing saved"
expect 1 "gradient norm is (-?nan|inf)" "huge finite weights (finetune)" -- "$enc" finetune \
    --ckpt huge --max-steps 3 --min-steps 1 --threads 1 --wordnet "$wordnet"

echo "== #26.9: the vocabulary digest"
cp -r t swap
"$python" - swap/vocab.txt <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
lines[10], lines[11] = lines[11], lines[10]
open(sys.argv[1], 'w').write('\n'.join(lines))
EOF
expect 1 "swap/vocab.txt is not the vocabulary swap/model.safetensors was trained with" \
    "two vocabulary lines swapped (fisher)" -- "$enc" "${fisher[@]}" --ckpt swap
expect 1 "is not the vocabulary" "two vocabulary lines swapped (finetune)" -- \
    "$enc" finetune --ckpt swap --max-steps 1 --wordnet "$wordnet"

echo "== #26.5, #26.8, #26.13, #27.7: TSV task files"
printf 'a\tthe dog\nb\ta cat\n' >ok.tsv
tsv() { "$enc" finetune --ckpt t --task tsv --max-steps 1 --min-steps 1 --threads 1 "$@"; }
expect 1 "/dev/zero: not a regular file" "--train /dev/zero" -- tsv --train /dev/zero --val ok.tsv \
    --test ok.tsv
# A read error is not an end of file (/proc/self/mem: a regular file whose
# first read fails with EIO, as address 0 is never mapped).
expect 1 "/proc/self/mem:1: read error: Input/output error" "a read error in --train" -- \
    tsv --train /proc/self/mem --val ok.tsv --test ok.tsv
expect 1 "dev/fifo: not a regular file" "--train FIFO (no hang)" -- timeout 20 \
    "$enc" finetune --ckpt t --task tsv --train dev/fifo --val ok.tsv --test ok.tsv
cp -r t vfifo
rm vfifo/vocab.txt
mkfifo vfifo/vocab.txt
expect 1 "vfifo/vocab.txt: not a regular file" "vocab.txt a FIFO (no hang)" -- timeout 20 \
    "$enc" "${fisher[@]}" --ckpt vfifo
"$python" -c "import sys; sys.stdout.write('a\t' + 'x ' * 600000 + '\n')" >long.tsv
cat ok.tsv >>long.tsv
expect 1 "long.tsv:1: line longer than 1048576 bytes" "a 1.2 MB line" -- tsv --train long.tsv \
    --val ok.tsv --test ok.tsv
printf '1\tthe dog\n2.5\ta cat\n' >num.tsv
printf '1.5\tthe dog\n0x10\ta cat\n' >hex.tsv
expect 1 "hex.tsv:2: label \"0x10\" is not a finite decimal number" "a hex label" -- \
    tsv --regression --train hex.tsv --val num.tsv --test num.tsv
printf '0x10\tthe dog\n1.5\ta cat\n' >hex1.tsv
expect 1 "hex1.tsv:1: label \"0x10\" is not a finite decimal number" "a hex label on line 1" -- \
    tsv --regression --train hex1.tsv --val num.tsv --test num.tsv
printf '1e39\tthe dog\n1.5\ta cat\n' >big.tsv
expect 1 "big.tsv:1: label 1e39 is out of the range of a float" "label 1e39" -- \
    tsv --regression --train big.tsv --val num.tsv --test num.tsv
printf 'a \tthe dog\nb\ta cat\na\ta bird\n' >space.tsv
expect 0 "" "a label with a trailing space" -- tsv --train space.tsv --val ok.tsv --test ok.tsv
grep -q ', 2 classes' out.log && ok "\"a \" and \"a\" are one class" || bad "$(grep classes out.log)"
printf 'label\ttext\na\tthe dog\nb\ta cat\n' >head.tsv
expect 0 "head.tsv: line 1 .* header" "a header line" -- tsv --train head.tsv --val head.tsv \
    --test ok.tsv
grep -q '2 training, 2 validation, 2 test examples, 2 classes' out.log && ok "skipped, not a class" ||
    bad "$(grep classes out.log)"
printf 'label\ttext\nlabel\tthe dog\nb\ta cat\n' >head2.tsv
expect 1 "head2.tsv:2: label \"label\" is also line 1's" "a header whose name is also a class" -- \
    tsv --train head2.tsv --val ok.tsv --test ok.tsv
printf 'score\ttext\n1.5\tthe dog\n2\ta cat\n' >rhead.tsv
expect 0 "rhead.tsv: line 1" "a regression header" -- tsv --regression --train rhead.tsv \
    --val rhead.tsv --test rhead.tsv

echo "== #26.7: a 16 MiB header of 244k entries parses in linear time"
mkdir -p wide
cp t/vocab.txt wide/
"$python" - wide/model.safetensors <<'EOF'
import json, struct, sys
n = 244000
meta = {"format": "gdx-encoder-1", "vocab": "200", "hidden": "16", "layers": "1",
        "heads": "2", "ffn": "32", "max_len": "16", "classes": "0", "step": "0", "seed": "1"}
parts = ['"__metadata__":' + json.dumps(meta, separators=(',', ':'))]
for i in range(n):
    parts.append('"t%05x":{"dtype":"F32","shape":[],"data_offsets":[%d,%d]}'
                 % (i, 4 * i, 4 * i + 4))
text = ('{' + ','.join(parts) + '}').encode()
text += b' ' * (-len(text) % 8)
assert len(text) <= 1 << 24, len(text)
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<Q', len(text)) + text + bytes(4 * n))
print(len(text), 'header bytes', file=sys.stderr)
EOF
start=$(date +%s%N)
expect 1 "is not part of this model|is missing" "a 244k-entry header" -- "$enc" "${fisher[@]}" --ckpt wide
ms=$((($(date +%s%N) - start) / 1000000))
# Linear: about 0.2 s here (0.6 s under ASan); the quadratic parser took
# over 10 minutes.  30 s leaves room for a loaded or sanitized run.
[ "$ms" -lt 30000 ] && ok "parsed and refused in $ms ms" || bad "took $ms ms"
echo "header_ms=$ms"

echo "== #26.13: evaluation with no masked targets"
expect 0 "" "a vocabulary of one word" -- "$enc" pretrain --out v6 "${tiny[@]}" --vocab 6 \
    --steps 1 --eval-n 1
grep -q 'nan' out.log && bad "$(grep nan out.log)" || ok "no nan printed: $(grep '^eval' out.log)"

if [ -n "$enc_mpi" ] && [ -x "$enc_mpi" ] && command -v mpirun >/dev/null; then
    echo "== #26.6: MPI ranks agree on the weights and settings"
    mpi=(mpirun --allow-run-as-root --oversubscribe)
    expect 0 "" "two ranks, one checkpoint" -- "${mpi[@]}" -np 2 "$enc_mpi" "${fisher[@]}" --ckpt t \
        --out same.safetensors --plan same.plan --sites same.tsv
    mkdir -p t2
    cp t/vocab.txt t2/
    "$python" - t/model.safetensors t2/model.safetensors <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[-4:] = b'\x00\x00\x80\x3f'   # the last weight becomes 1.0: same sizes, other weights
open(sys.argv[2], 'wb').write(b)
EOF
    expect 1 "rank 1: the checkpoint's weights differ" "ranks with other weights" -- \
        "${mpi[@]}" -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t --out mixed.safetensors : \
        -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t2 --out mixed.safetensors
    [ -e mixed.safetensors ] && bad "a Fisher file was written" || ok "no Fisher file"
    expect 1 "rank 1: --seed differ" "ranks with other seeds" -- \
        "${mpi[@]}" -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t --out mixed.safetensors : \
        -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t --out mixed.safetensors --seed 8
    expect 1 "rank 1: --fraction differ" "ranks with other fractions" -- \
        "${mpi[@]}" -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t --out mixed.safetensors : \
        -np 1 "$enc_mpi" "${fisher[@]}" --ckpt t --out mixed.safetensors --fraction 0.0006
    [ -e mixed.safetensors ] && bad "a Fisher file was written" || ok "no Fisher file"
else
    echo "== #26.6: MPI ranks agree: skipped (no encoder-mpi or mpirun)"
fi

echo "== a report lost on a full disk is a failure, not exit 0"
expect 1 "standard output: write failed" "dump with its standard output on /dev/full" -- \
    bash -c 'exec "$@" >/dev/full' _ "$enc" dump --wordnet "$wordnet" --ckpt t --out full-out.st
expect 1 "standard output: write failed" "encoder --help with its standard output on /dev/full" -- \
    bash -c 'exec "$@" >/dev/full' _ "$enc" --help

enc_test_end reliability
