#!/usr/bin/env bash
# The BERT-style encoder trainer (examples/encoder), built against an
# INSTALLED libgdropout like the other examples (31-examples.sh):
#   1. ctest in the examples build: the gradient check, the PyTorch parity
#      test (Debian's python3-torch; installed here so it is not skipped) and
#      the reliability test (tests/reliability.sh: hostile targets and
#      inputs, full disks, fsync errors, kill -9 during saves, concurrent
#      runs, non-finite values, MPI ranks that disagree: Open MPI installed
#      here so that part runs) and the fault sweep (tests/fault_sweep.sh:
#      EIO and kill -9 at every fsync and rename of the saves, full disks,
#      failed appends; tests/FAULTS.md);
#   2. a tiny pretraining run of a few hundred steps, plain and under
#      ASan/UBSan, whose MLM loss must fall by more than LOSS_DROP nats;
#   3. bad input (WordNet missing or malformed, a vocabulary that does not
#      match the checkpoint, a truncated checkpoint, bad flags) must end with
#      status 1 and a message, plain and under ASan/UBSan, never a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps

# wordnet-base: the corpus; python3-torch (+ numpy): the parity test.
# openmpi: encoder-mpi for the reliability test's MPI part.
need_pkgs wordnet-base python3-torch python3-numpy openmpi-bin libopenmpi-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
build="build-ci-encoder"
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" >/dev/null
export LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# A sanitizer report must not look like the trainer's own "exit 1".
export ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1

# The loss of a uniform guess over the 500-entry vocabulary is ln 500 = 6.2;
# 300 steps of this configuration reach about 4.5 (first progress line, an
# average over steps 1-25: about 6.1), so a fall of 1.0 nat leaves room for
# noise yet fails a model that does not learn.
LOSS_DROP=1.0
tiny=(--layers 2 --hidden 32 --heads 2 --ffn 64 --vocab 500 --max-len 32 --batch 32
      --steps 300 --warmup 30 --log-every 25 --eval-every 300 --eval-n 200 --threads 1)

loss_falls() { # log file
    awk -v margin="$LOSS_DROP" '
        $1 == "step" && $3 == "loss" { if (n++ == 0) first = $4; last = $4 }
        END {
            if (n < 2) { print "  no progress lines"; exit 1 }
            printf "  MLM loss %s -> %s over %d progress lines (must fall by > %s)\n",
                   first, last, n, margin
            exit !(first - last > margin)
        }' "$1"
}

for flavour in plain asan; do
    bin=$work/examples-$flavour
    flags=()
    [ "$flavour" = asan ] && flags=(-DGDX_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
    cmake -S examples -B "$bin" -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" >/dev/null
    cmake --build "$bin" -j "$(nproc)" --target encoder encoder_gradcheck
    if [ "$flavour" = plain ]; then
        cmake --build "$bin" -j "$(nproc)" --target encoder-mpi encoder_faultshim
        echo "== plain: ctest (gradient check, PyTorch parity, reliability)"
        ctest --test-dir "$bin" --output-on-failure -R '^encoder_' | tee "$work/ctest.log"
        if grep -q 'Skipped' "$work/ctest.log"; then
            echo "a test was skipped although torch, WordNet and Open MPI are installed"
            exit 1
        fi
        if grep -q 'MPI ranks agree: skipped' "$bin/Testing/Temporary/LastTest.log"; then
            echo "the reliability test's MPI part was skipped although Open MPI is installed"
            exit 1
        fi
    else
        echo "== asan: gradient check"
        "$bin/encoder/encoder_gradcheck" | tail -n 1
    fi
    echo "== $flavour: tiny pretraining, ${tiny[*]}"
    start=$SECONDS
    "$bin/encoder/encoder" pretrain --out "$work/ckpt-$flavour" "${tiny[@]}" >"$work/pretrain-$flavour.log"
    grep -E '^(eval|checkpoint)' "$work/pretrain-$flavour.log"
    loss_falls "$work/pretrain-$flavour.log" || { cat "$work/pretrain-$flavour.log"; exit 1; }
    echo "  ($((SECONDS - start)) s)"
done

echo "== bad input: status 1 and a message, never a crash"
ckpt=$work/ckpt-plain
# A malformed data.noun: the four files with one synset line's offset
# replaced by letters.
mkdir -p "$work/wn-bad"
cp /usr/share/wordnet/data.{noun,verb,adj,adv} "$work/wn-bad/"
line=$(grep -n -m1 -v '^ ' "$work/wn-bad/data.noun" | cut -d: -f1)
sed -i "${line}s/^[0-9]*/x0x0x0x0/" "$work/wn-bad/data.noun"
# A vocabulary one entry short of the checkpoint's.
mkdir -p "$work/vocab-bad"
cp "$ckpt"/* "$work/vocab-bad/"
head -n -1 "$ckpt/vocab.txt" >"$work/vocab-bad/vocab.txt"
# Truncated checkpoints: inside the data, and inside the header length.
mkdir -p "$work/trunc" "$work/trunc4"
cp "$ckpt"/* "$work/trunc/"
cp "$ckpt"/* "$work/trunc4/"
head -c 100000 "$ckpt/model.safetensors" >"$work/trunc/model.safetensors"
head -c 4 "$ckpt/model.safetensors" >"$work/trunc4/model.safetensors"

# The same vocabulary with two lines swapped; a FIFO; TSV files.
mkdir -p "$work/vocab-swap"
cp "$ckpt"/* "$work/vocab-swap/"
awk 'NR == 11 { held = $0; next } NR == 12 { print; print held; next } { print }' \
    "$ckpt/vocab.txt" >"$work/vocab-swap/vocab.txt"
mkfifo "$work/fifo"
printf 'a\tthe dog\nb\ta cat\n' >"$work/ok.tsv"
printf '1.5\tthe dog\n0x10\ta cat\n' >"$work/hex.tsv"

for flavour in plain asan; do
    enc=$work/examples-$flavour/encoder/encoder
    expect_fail() { # what, then the command's arguments
        local what=$1 status=0
        shift
        "$enc" "$@" >/dev/null 2>"$work/err" || status=$?
        if [ "$status" -ne 1 ]; then
            cat "$work/err"
            echo "FAIL ($flavour): $what: exit status $status, expected 1: encoder $*"
            exit 1
        fi
        grep -q '^encoder: ' "$work/err" || { cat "$work/err"; echo "FAIL: no message: $what"; exit 1; }
        echo "  ok ($flavour) $what: $(grep -m1 '^encoder: ' "$work/err")"
    }
    expect_fail "missing WordNet folder" pretrain --wordnet "$work/no-wordnet" --out "$work/x" "${tiny[@]}"
    expect_fail "malformed data.noun line $line" pretrain --wordnet "$work/wn-bad" --out "$work/x" "${tiny[@]}"
    expect_fail "vocabulary/checkpoint mismatch (dump)" dump --ckpt "$work/vocab-bad" --out "$work/x.st"
    expect_fail "vocabulary/checkpoint mismatch (resume)" pretrain --resume --out "$work/vocab-bad" "${tiny[@]}"
    expect_fail "truncated checkpoint (100000 bytes)" dump --ckpt "$work/trunc" --out "$work/x.st"
    expect_fail "truncated checkpoint (4 bytes)" dump --ckpt "$work/trunc4" --out "$work/x.st"
    expect_fail "unknown flag" pretrain --bogus
    expect_fail "flag without its value" pretrain --steps
    expect_fail "flag out of range" pretrain --layers 0
    expect_fail "--heads that does not divide --hidden" pretrain --out "$work/h" --heads 3
    expect_fail "resume with another --seed" pretrain --resume --out "$ckpt" --seed 99
    expect_fail "a swapped vocabulary" dump --ckpt "$work/vocab-swap" --out "$work/x.st"
    expect_fail "a FIFO as the dump target" dump --ckpt "$ckpt" --out "$work/fifo"
    expect_fail "/dev/zero as a TSV file" finetune --ckpt "$ckpt" --task tsv --train /dev/zero \
        --val "$work/ok.tsv" --test "$work/ok.tsv"
    expect_fail "a hex regression label" finetune --ckpt "$ckpt" --task tsv --regression \
        --train "$work/hex.tsv" --val "$work/hex.tsv" --test "$work/hex.tsv"
    expect_fail "unknown command" bogus
    expect_fail "unknown pooling" finetune --ckpt "$ckpt" --pool bogus
    expect_fail "pair pooling of single texts (experiment)" experiment --ckpt "$ckpt" --pool pair
    expect_fail "pair pooling of single texts (finetune)" finetune --ckpt "$ckpt" --task supersense \
        --pool pair --max-steps 1
done
echo "encoder OK"
