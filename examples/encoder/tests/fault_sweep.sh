#!/usr/bin/env bash
# The fault-injection pass of issue 26 (ctest: encoder_fault_sweep; the
# write-up is tests/FAULTS.md): every durable point of the encoder's saves
# gets each fault in turn, and the files must afterwards be either the old
# ones or the whole new ones, with the run resumable to the state an
# unfaulted run reaches.
#   fault_sweep.sh ENCODER FAULTSHIM WORK_DIR
# The faults (tests/faultshim.c, LD_PRELOAD; a full disk is `ulimit -f`):
#   - EIO at the N-th fsync of a regular file, for every N a save makes;
#   - kill -9 at the N-th fsync and at the N-th rename, for every N;
#   - a full disk at every 8 KiB of the files written;
#   - ENOSPC and EIO at the N-th write(2) of the results file's appends.
# over: a fresh and a resumed pretraining's saves, the Fisher file, plan
# and site table, and the experiment's results and curves files.  Then two
# runs at once on one output: pretraining, experiment, Fisher.
# Every failure must be exit 1 with a message naming a file of the run
# (137 for a kill).  Exit 77 (skipped) without WordNet.
set -u
enc=$1 shim=$2 work=$3
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"

tiny=(--wordnet "$wordnet" --layers 1 --hidden 16 --heads 2 --ffn 32 --vocab 200 --max-len 16
      --batch 16 --warmup 2 --log-every 10 --eval-every 10 --eval-n 50 --threads 1)
resume=(pretrain --resume --stop-after 10 --threads 1 --wordnet "$wordnet")

# calls KIND CMD...: how many fsync/rename/write calls CMD makes.
calls() {
    local kind=$1
    shift
    rm -f count.txt
    env LD_PRELOAD="$shim" ENC_FAULT_COUNT="$PWD/count.txt" "$@" >/dev/null 2>&1
    grep -c "^$kind\$" count.txt 2>/dev/null || echo 0
}

# faulted STATUS_VAR FAULT CMD...: runs CMD under FAULT, one of
#   fsync-eio:N kill-fsync:N kill-rename:N ulimit:KiB write-enospc:N write-eio:N
# stderr in err.log; the status in the named variable.
faulted() {
    local var=$1 fault=$2 rc_=0
    shift 2
    local kind=${fault%%:*} n=${fault#*:}
    if [ "$kind" = ulimit ]; then
        # stderr through a pipe: a file would be under the limit too, and
        # the message naming the file would be lost
        bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$n" "$@" 2>&1 >/dev/null | cat >err.log
        printf -v "$var" '%s' "${PIPESTATUS[0]}"
        return
    fi
    case $kind in
    fsync-eio) env LD_PRELOAD="$shim" ENC_FAULT_FSYNC_EIO_AT="$n" "$@" ;;
    kill-fsync) env LD_PRELOAD="$shim" ENC_FAULT_KILL_AT_FSYNC="$n" "$@" ;;
    kill-rename) env LD_PRELOAD="$shim" ENC_FAULT_KILL_AT_RENAME="$n" "$@" ;;
    write-enospc) env LD_PRELOAD="$shim" ENC_FAULT_WRITE_AT="$n" "$@" ;;
    write-eio) env LD_PRELOAD="$shim" ENC_FAULT_WRITE_AT="$n" ENC_FAULT_WRITE_ERRNO=EIO "$@" ;;
    esac >/dev/null 2>err.log || rc_=$?
    printf -v "$var" '%s' "$rc_"
}

# said STATUS: what a run that ended with STATUS said (its first line).
said() {
    case $1 in
    1) echo "exit 1: $(sed -n 's/^encoder: //p' err.log | head -n 1 | cut -c1-70)" ;;
    *) echo "exit $1" ;;
    esac
}

# failed_right FAULT STATUS DIR: a kill is 137; anything else 0 (the fault
# did not bite) or 1 with a message naming a file in DIR.
failed_right() {
    case $2 in
    137) [[ $1 == kill-* ]] ;;
    0) [[ $1 == ulimit:* ]] ;;
    1) grep -q "^encoder: $3/" err.log ;;
    *) false ;;
    esac
}

echo "== 1. the model+optimizer pair of a resumed pretraining"
"$enc" pretrain --out base --steps 200 --stop-after 10 "${tiny[@]}" >base.log 2>&1 ||
    { cat base.log; exit 1; }
# The unfaulted runs: step 10 -> 20 -> 30, byte for byte.
cp -r base ref
"$enc" "${resume[@]}" --out ref >/dev/null 2>&1 && cp ref/model.safetensors ref20.model &&
    "$enc" "${resume[@]}" --out ref >/dev/null 2>&1 && cp ref/model.safetensors ref30.model ||
    { echo "the unfaulted resumes failed"; exit 1; }
rm -rf c && cp -r base c
n_fsync=$(calls fsync "$enc" "${resume[@]}" --out c)
rm -rf c && cp -r base c
n_rename=$(calls rename "$enc" "${resume[@]}" --out c)
faults=()
for ((i = 1; i <= n_fsync; i++)); do faults+=("fsync-eio:$i" "kill-fsync:$i"); done
for ((i = 1; i <= n_rename; i++)); do faults+=("kill-rename:$i"); done
for k in 0 8 16 24 32 40 48 56; do faults+=("ulimit:$k"); done
echo "  ${#faults[@]} faults ($n_fsync fsyncs, $n_rename renames, full disks at 0-56 KiB)"
for fault in "${faults[@]}"; do
    rm -rf w
    cp -r base w
    faulted status "$fault" "$enc" "${resume[@]}" --out w
    failed_right "$fault" "$status" w || { bad "$fault: exit $status: $(tail -n 1 err.log)"; continue; }
    # A clean resume must reach step 20 (or 30, when the faulted save went
    # through or is completed) with an unfaulted run's bytes.
    if ! "$enc" "${resume[@]}" --out w >resume.log 2>&1; then
        bad "$fault: the resume failed: $(tail -n 1 resume.log)"
        continue
    fi
    if cmp -s w/model.safetensors ref20.model || cmp -s w/model.safetensors ref30.model; then
        ok "$fault: $(said "$status"); then $(grep -Eo '(resumed|completed)[^(]*' resume.log | head -n 1)"
    else
        bad "$fault: after the resume the model differs from an unfaulted run's"
    fi
done

echo "== 1b. the first save of a fresh pretraining (vocabulary, then the pair)"
# Continued as pretrain-base.sh does: --resume when a model is there, else
# a fresh run; either must reach the unfaulted step 10.
fresh=(pretrain --steps 200 --stop-after 10 "${tiny[@]}")
rm -rf c
n_fsync=$(calls fsync "$enc" "${fresh[@]}" --out c)
rm -rf c
n_rename=$(calls rename "$enc" "${fresh[@]}" --out c)
cp base/model.safetensors ref10.model
faults=()
for ((i = 1; i <= n_fsync; i++)); do faults+=("fsync-eio:$i" "kill-fsync:$i"); done
for ((i = 1; i <= n_rename; i++)); do faults+=("kill-rename:$i"); done
faults+=(ulimit:0 ulimit:16 ulimit:40)
echo "  ${#faults[@]} faults ($n_fsync fsyncs, $n_rename renames, 3 full disks)"
for fault in "${faults[@]}"; do
    rm -rf w
    faulted status "$fault" "$enc" "${fresh[@]}" --out w
    failed_right "$fault" "$status" w || { bad "$fault: exit $status: $(tail -n 1 err.log)"; continue; }
    again=("${fresh[@]}")
    if [ -e w/model.safetensors ]; then
        again=(pretrain --resume --stop-after 10 --threads 1 --wordnet "$wordnet")
    fi
    if ! "$enc" "${again[@]}" --out w >resume.log 2>&1; then
        bad "$fault: ${again[1]} afterwards failed: $(tail -n 1 resume.log)"
    elif cmp -s w/model.safetensors ref10.model || cmp -s w/model.safetensors ref20.model; then
        ok "$fault: $(said "$status"); then ${again[1]}: $(grep -Eo '(resumed|completed)[^(]*|^checkpoint: .*' resume.log | head -n 1)"
    else
        bad "$fault: after ${again[1]} the model differs from an unfaulted run's"
    fi
done

echo "== 2. the Fisher file, the plan and the site table"
fisher=(fisher --ckpt base --wordnet "$wordnet" --fraction 0.0005 --threads 1)
mkdir -p old new
"$enc" "${fisher[@]}" --seed 2 --out old/f.safetensors --plan old/f.plan --sites old/f.tsv \
    >/dev/null 2>&1 &&
    "$enc" "${fisher[@]}" --out new/f.safetensors --plan new/f.plan --sites new/f.tsv \
        >/dev/null 2>&1 || { echo "the unfaulted Fisher runs failed"; exit 1; }
cmp -s old/f.safetensors new/f.safetensors && { echo "seeds 1 and 2 gave one Fisher file"; exit 1; }
outs=(--out w/f.safetensors --plan w/f.plan --sites w/f.tsv)
n_fsync=$(calls fsync "$enc" "${fisher[@]}" --out c.st --plan c.plan --sites c.tsv)
n_rename=$(calls rename "$enc" "${fisher[@]}" --out c.st --plan c.plan --sites c.tsv)
faults=()
for ((i = 1; i <= n_fsync; i++)); do faults+=("fsync-eio:$i" "kill-fsync:$i"); done
for ((i = 1; i <= n_rename; i++)); do faults+=("kill-rename:$i"); done
size=$(($(stat -c %s new/f.safetensors) / 1024 + 4))
for ((k = 0; k <= size; k += 8)); do faults+=("ulimit:$k"); done
echo "  ${#faults[@]} faults ($n_fsync fsyncs, $n_rename renames, full disks at 0-$size KiB)"
for fault in "${faults[@]}"; do
    rm -rf w
    cp -r old w
    faulted status "$fault" "$enc" "${fisher[@]}" "${outs[@]}"
    failed_right "$fault" "$status" w || { bad "$fault: exit $status: $(tail -n 1 err.log)"; continue; }
    which=
    for f in f.safetensors f.plan f.tsv; do
        if cmp -s "w/$f" "old/$f"; then which+=" $f old"
        elif cmp -s "w/$f" "new/$f"; then which+=" $f new"
        else bad "$fault: w/$f is neither the old file nor the new one"; fi
    done
    # Temporary files: none after an error; a kill cannot remove its own.
    left=$(ls -A w | grep -v '^f\.\(safetensors\|plan\|tsv\)$' | paste -sd' ')
    if [ -n "$left" ] && [ "$status" != 137 ]; then
        bad "$fault: left $left"
    else
        ok "$fault: $(said "$status");$which${left:+; a kill left $left}"
    fi
done

echo "== 3. the experiment's results and curves files"
grid=(experiment --ckpt base --wordnet "$wordnet" --tasks supersense --seeds 1 --epochs 1
      --min-steps 2 --max-steps 2 --eval-every 1 --regimes none,standard:0.1,standard:0.2
      --fractions 0.1,0.2)
# whole FILE FIELDS: every line ends in a newline and has FIELDS fields.
whole() {
    [ ! -s "$1" ] && return 0
    [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
    awk -F'\t' -v nf="$2" 'NF != nf { bad = 1 } END { exit bad }' "$1"
}
# The rows without the seconds column (18), sorted: what must match.
rows() { awk -F'\t' 'NR > 1 { $18 = ""; print }' "$1" | sort; }
"$enc" "${grid[@]}" --out ref.tsv --curves refc.tsv >/dev/null 2>&1 ||
    { echo "the unfaulted experiment failed"; exit 1; }
n_write=$(calls write "$enc" "${grid[@]}" --out cw.tsv --curves cwc.tsv)
n_fsync=$(calls fsync "$enc" "${grid[@]}" --out cf.tsv --curves cfc.tsv)
faults=()
# The appends go: the two headers, then a curve and a row per run.  ENOSPC
# at each of the first six (the headers, a first and a second run's curve
# and row; later runs repeat them), EIO (the same path) at a header and a
# row; EIO and a kill at the fsyncs of the same points.
[ "$n_write" -ge 6 ] && [ "$n_fsync" -ge 6 ] || { echo "only $n_write appends, $n_fsync fsyncs"; exit 1; }
for i in 1 2 3 4 5 6; do faults+=("write-enospc:$i"); done
faults+=(write-eio:1 write-eio:4)
for i in 1 2 3 4 5 6; do faults+=("fsync-eio:$i" "kill-fsync:$i"); done
echo "  ${#faults[@]} faults (of $n_write appends and $n_fsync fsyncs)"
for fault in "${faults[@]}"; do
    rm -rf w
    mkdir w
    faulted status "$fault" "$enc" "${grid[@]}" --out w/r.tsv --curves w/c.tsv
    failed_right "$fault" "$status" w || { bad "$fault: exit $status: $(tail -n 1 err.log)"; continue; }
    whole w/r.tsv 19 && whole w/c.tsv "$(head -n 1 refc.tsv | awk -F'\t' '{ print NF }')" ||
        { bad "$fault: a torn line"; continue; }
    n=$(awk 'NR > 1' w/r.tsv | wc -l)
    if ! "$enc" "${grid[@]}" --out w/r.tsv --curves w/c.tsv >resume.log 2>&1; then
        bad "$fault: the rerun failed: $(tail -n 1 resume.log)"
    elif [ "$(rows w/r.tsv)" != "$(rows ref.tsv)" ]; then
        bad "$fault: after the rerun the rows differ from an unfaulted run's"
    elif [ "$(sort -u w/c.tsv)" != "$(sort -u refc.tsv)" ]; then
        # A curve is appended before its row, so a run stopped between the
        # two is rerun and its curve appended again: the same lines, which
        # read_curves (experiment/_common.py) takes once.
        bad "$fault: after the rerun the curves differ from an unfaulted run's"
    else
        dup=$(sort w/c.tsv | uniq -d | wc -l) again=
        [ "$dup" -eq 0 ] || again=" ($dup curve lines twice)"
        ok "$fault: $(said "$status"); $n whole rows; the rerun: $(grep -o '^experiment: [0-9]* runs' resume.log)$again"
    fi
done

echo "== 4. two runs at once on one output"
# Pretraining: the folder's lock lets one through.
rm -rf w
cp -r base w
"$enc" "${resume[@]}" --out w >a.log 2>&1 &
a=$!
"$enc" "${resume[@]}" --out w >b.log 2>&1 &
b=$!
sa=0 sb=0
wait $a || sa=$?
wait $b || sb=$?
if [ $((sa + sb)) -eq 0 ]; then
    grep -h '^resumed' a.log b.log | sort | uniq -c | grep -q '^ *1 resumed at step 10 ' &&
        ok "pretraining: one after the other ($(grep -h '^resumed' a.log b.log | paste -sd';'))" ||
        bad "pretraining: both resumed from one step: $(grep -h '^resumed' a.log b.log)"
elif [ $((sa + sb)) -eq 1 ] && grep -q 'w: another run is using this folder' a.log b.log; then
    ok "pretraining: one refused: $(grep -h 'another run' a.log b.log)"
else
    bad "pretraining: exits $sa and $sb"
fi
"$enc" "${resume[@]}" --out w >resume.log 2>&1 || bad "pretraining: the folder does not resume"
# The experiment: flock on the results file; the rows stay whole and single.
rm -rf w
mkdir w
"$enc" "${grid[@]}" --out w/r.tsv --curves w/c.tsv >a.log 2>&1 &
a=$!
"$enc" "${grid[@]}" --out w/r.tsv --curves w/c.tsv >b.log 2>&1 &
b=$!
sa=0 sb=0
wait $a || sa=$?
wait $b || sb=$?
if grep -q 'another process is writing it' a.log b.log || [ $((sa + sb)) -eq 0 ]; then
    [ "$(rows w/r.tsv)" = "$(rows ref.tsv)" ] &&
        ok "experiment: exits $sa and $sb, the rows of one run ($(grep -h 'another process' a.log b.log | cut -c1-70))" ||
        bad "experiment: the rows differ from one run's (duplicates?)"
else
    bad "experiment: exits $sa and $sb: $(tail -qn 1 a.log b.log)"
fi
# The Fisher outputs: each file is written atomically, but two runs with
# other settings may leave a mixed set; the site table and plan are
# derived from the Fisher file written by the same run.
rm -rf w
mkdir w
"$enc" "${fisher[@]}" --seed 2 "${outs[@]}" >a.log 2>&1 &
a=$!
"$enc" "${fisher[@]}" "${outs[@]}" >b.log 2>&1 &
b=$!
sa=0 sb=0
wait $a || sa=$?
wait $b || sb=$?
which=
for f in f.safetensors f.plan f.tsv; do
    if cmp -s "w/$f" "old/$f"; then which+=" $f seed-2"
    elif cmp -s "w/$f" "new/$f"; then which+=" $f seed-1"
    else bad "fisher: w/$f is neither run's file"; fi
done
ok "fisher: exits $sa and $sb; whole files:$which"

enc_test_end fault_sweep
