#!/usr/bin/env bash
# The paper's experiment on the encoder, end to end: MLM Fisher on 1 % of the
# pretraining corpus, the guided plan, fine-tuning under every regime with the
# dropout rate chosen on validation, baselines, and the report.
#
#   examples/encoder/run-experiment.sh [--demo | --quick] [--out DIR] [--ckpt DIR]
#       [--seeds N] [--fractions LIST] [--jobs N]
#       [--task tsv --train F --val F --test F [--regression] [--pool mean|cls|pair]]
#
#   1. Fisher of the MLM loss on 1 % of the corpus and the guided plan
#      (p_max 0.2 down to 0; a guided run at p_max q plans from the same
#      scores at q), read back with gdropout-plan from the Fisher file.
#   2. Phase A, the rate sweep, on the first 3 seeds: none, standard at
#      p in {0.1, 0.2, 0.3}, guided at p_max in {0.1, 0.2, 0.3}.
#   3. The rates chosen on VALIDATION per task and fraction
#      (experiment/select_rates.py): p for standard and p_max for guided, each
#      with 0 (= none) among the candidates, and the best nonzero ones.
#      3b. Where the largest candidate was chosen, the next rates (0.4, 0.5)
#      on the same seeds, reported beside the sweep, not chosen from.
#   4. Phase B, every seed: none, standard and guided at the chosen rates
#      (and at the best nonzero ones, when 0 was chosen), gaussian at the best
#      nonzero p; matched, reversed, permuted and kind (the controls, with
#      the plan's own rates) at the best nonzero p_max; the same encoder from
#      scratch with standard dropout.
#   5. TF-IDF + logistic regression on the same subsets; 6. the report.
# Every fine-tuning run keeps its best-validation state (finetune.h), and
# writes its learning curve (curves-*.tsv).  Runs go in --jobs processes
# (default 2, one per core), each printing a line per run with its ETA;
# every stage resumes where it stopped.  The full run: 354 fine-tuning runs,
# three to four hours on two idle cores (the Compute line of
# examples/results/encoder/results.md).
# --demo: the README's quick start; the committed encoder, supersense at 2 %,
# 3 seeds, none / standard 0.2 / guided 0.2 (p_max) / matched (guided's mean
# rate, 0.1, everywhere), no selection (about 3
# minutes).  --quick: a tiny encoder pretrained for 300 steps and a few
# steps a run, for CI: every stage and regime produce rows.
set -euo pipefail
# The comment above; answered before env.sh, which needs a built encoder.
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
for a in "$@"; do case $a in -h | --help) usage; exit 0 ;; esac; done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/encoder/env.sh
. "$here/env.sh"
plan_tool=$build/prefix/bin/gdropout-plan
py=/usr/bin/python3

mode=full out= ckpt=$here/pretrained seeds=8 fractions=0.1,0.02 jobs=2
task=(--tasks supersense,hypernymy --pair-pool pair)
while [ $# -gt 0 ]; do
    case $1 in
    --demo) mode=demo ;;
    --quick) mode=quick ;;
    --out) out=$2; shift ;;
    --ckpt) ckpt=$2; shift ;;
    --seeds) seeds=$2; shift ;;
    --fractions) fractions=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --task) [ "$2" = tsv ] || { echo "run-experiment.sh: --task takes tsv" >&2; exit 2; }
        task=(--tasks tsv); shift ;;
    --train | --val | --test) task+=("$1" "$2"); shift ;;
    --regression) task+=(--regression) ;;
    --pool) task+=(--pool "$2" --pair-pool "$2"); shift ;;
    *) echo "run-experiment.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $seeds in '' | *[!0-9]* | 0) echo "run-experiment.sh: --seeds $seeds: a positive integer" >&2; exit 2 ;; esac
case $jobs in '' | *[!0-9]* | 0) echo "run-experiment.sh: --jobs $jobs: a positive integer" >&2; exit 2 ;; esac

sel_seeds=3
sweep_std=(0.1 0.2 0.3)
sweep_gd=(0.1 0.2 0.3)
edge_rates=(0.4 0.5)
budget=()
fisher_fraction=0.01
scratch_lr=1e-3
case $mode in
quick)
    out=${out:-$build/experiment-quick}
    mkdir -p "$out"
    ckpt=$out/tiny
    if [ ! -f "$ckpt/model.safetensors" ]; then
        echo "== quick: pretraining a tiny encoder"
        "$enc" pretrain --out "$ckpt" --layers 2 --hidden 32 --heads 2 --ffn 64 --vocab 2000 \
            --batch 64 --steps 300 --warmup 30 --log-every 100 --eval-every 300 --eval-n 500 \
            --threads 1 >"$out/pretrain.log"
        tail -n 2 "$out/pretrain.log"
    fi
    fractions=0.1 seeds=2 sel_seeds=1
    sweep_std=(0.1 0.2) sweep_gd=(0.2) edge_rates=(0.3)
    budget=(--epochs 1 --min-steps 10 --max-steps 10 --eval-every 5)
    fisher_fraction=0.002 ;;
demo)
    out=${out:-$build/demo}
    fractions=0.02 seeds=3
    task=(--tasks supersense) ;;
esac
out=${out:-$top/examples/results/encoder}
mkdir -p "$out"
start=$SECONDS
stage() { echo "== $* ($((SECONDS - start)) s so far)"; }

# grid NAME FLAGS...: one grid in $jobs processes, rows in NAME-K.tsv.
grid() {
    local name=$1 k pids=()
    shift
    # Each process's whole output into its log, and its progress lines (one
    # a run, with its ETA) here as they come: every process's, to its end
    # (a tail of the logs missed lines of a process outliving the one it
    # watched).  The subshell's status is the encoder's (pipefail).
    for ((k = 0; k < jobs; k++)); do
        ("$enc" experiment --ckpt "$ckpt" --plan "$out/guided.plan" "${task[@]}" "${budget[@]}" \
            --scratch-lr $scratch_lr --shard $k/$jobs --out "$out/$name-$k.tsv" \
            --curves "$out/curves-$name-$k.tsv" "$@" 2>&1 |
            tee -a "$out/$name-$k.log" | { grep --line-buffered -E '^\[' || true; }) &
        pids+=($!)
    done
    local rc=0
    for k in "${pids[@]}"; do wait "$k" || rc=1; done
    if [ $rc != 0 ]; then
        echo "run-experiment.sh: a grid process failed; its log:" >&2
        tail -n 5 "$out/$name"-*.log >&2
        exit 1
    fi
}

stage "1. Fisher of the MLM loss on $fisher_fraction of the corpus, and the guided plan"
"$enc" fisher --ckpt "$ckpt" --fraction $fisher_fraction --out "$out/fisher.safetensors" \
    --plan "$out/guided.plan" --sites "$out/fisher-sites.tsv" --p-max 0.2 --p-min 0 \
    --threads 1 | tee "$out/fisher.log"
# A user's route to the same plan: the tool on the Fisher file.
"$plan_tool" "$out/fisher.safetensors" --p-max 0.2 --p-min 0 -o "$out/guided-tool.plan" >/dev/null
diff <(awk '!/^#/ { print $1, $3, $4 }' "$out/guided.plan") \
    <(awk '!/^#/ { print $1, $3, $4 }' "$out/guided-tool.plan") >/dev/null ||
    { echo "gdropout-plan on the Fisher file plans other rates" >&2; exit 1; }
echo "gdropout-plan reads the Fisher file back: the same scores and rates"

if [ $mode = demo ]; then
    stage "2. fine-tuning: supersense at 2 % of the pool, $seeds seeds, none / standard 0.2 / guided 0.2 / matched 0.2"
    grid demo --fractions $fractions --seeds $seeds --regimes none,standard:0.2,guided:0.2,matched:0.2
    stage "3. the table"
    (cd "$out" && "$py" "$here/experiment/report.py" demo-*.tsv --curves curves-demo-*.tsv \
        --plan guided.plan --demo --out results.md)
    cat "$out/results.md"
    echo "demo finished in $((SECONDS - start)) s: $out/results.md"
    exit 0
fi

sweep=none
for p in "${sweep_std[@]}"; do sweep+=",standard:$p"; done
for p in "${sweep_gd[@]}"; do sweep+=",guided:$p"; done
stage "2. phase A: the rate sweep ($sweep), $sel_seeds seeds, fractions $fractions"
grid sweep --fractions "$fractions" --seeds $sel_seeds --regimes "$sweep"

stage "3. rates chosen on the validation split"
"$py" "$here/experiment/select_rates.py" "$out"/sweep-*.tsv --out "$out/selection.tsv"
cat "$out/selection.tsv"

stage "3b. the sweep's edge: the next rates (${edge_rates[*]}) where its largest was chosen"
# A rate chosen at the top of the sweep may fall short of the best one.
# There the next rates run on the sweep's seeds (edge-*.tsv); the choice
# stays the one made before they ran, and the report, reading every row,
# says where the same procedure with them would choose otherwise.
mapfile -t chosen < <(tail -n +2 "$out/selection.tsv")
for line in "${chosen[@]}"; do
    IFS=$'\t' read -r t f p_std p_gd _ <<<"$line"
    regs=()
    if [ "$p_std" = "${sweep_std[-1]}" ]; then
        for p in "${edge_rates[@]}"; do regs+=("standard:$p"); done
    fi
    if [ "$p_gd" = "${sweep_gd[-1]}" ]; then
        for p in "${edge_rates[@]}"; do regs+=("guided:$p"); done
    fi
    [ ${#regs[@]} -gt 0 ] || continue
    echo "$t at $f: ${regs[*]}"
    grid edge --tasks "$t" --fractions "$f" --seeds $sel_seeds --regimes "$(IFS=,; echo "${regs[*]}")"
done

stage "4. phase B: $seeds seeds at the chosen rates: none, standard, guided, gaussian, the controls, scratch"
# Rates by name (experiment.c): @std and @gd the chosen p and p_max, @std+
# and @gd+ the best nonzero ones; the sweep's rows of the first seeds count
# as done (--also).
also=$(ls "$out"/sweep-*.tsv | paste -sd,)
grid chosen --fractions "$fractions" --seeds "$seeds" --selection "$out/selection.tsv" \
    --also "$also" --regimes "none,standard:@std,guided:@gd,standard:@std+,guided:@gd+,\
gaussian:@std+,matched:@gd+,reversed:@gd+,permuted:@gd+,kind:@gd+,scratch:@std+"

stage "5. TF-IDF + logistic regression on the same subsets"
"$enc" experiment --ckpt "$ckpt" "${task[@]}" --fractions "$fractions" --seeds "$seeds" \
    --export "$out/export" >/dev/null
# One BLAS thread, as every fine-tuning run has: a multithreaded OpenBLAS
# spins on a busy machine (a TF-IDF cell of 400 examples took 60-100 s under
# load, against 1-2 s in the full run).
OPENBLAS_NUM_THREADS=1 "$py" "$here/experiment/baseline_tfidf.py" "$out/export" \
    --out "$out/results-tfidf.tsv" \
    --seeds "$seeds"

stage "6. the report"
# From inside $out, so the report names its sources relative to it.
(cd "$out" &&
    "$py" "$here/experiment/report.py" sweep-*.tsv $(ls edge-*.tsv 2>/dev/null) chosen-*.tsv \
        results-tfidf.tsv --curves curves-*.tsv --selection selection.tsv \
        --sites fisher-sites.tsv --figures figures --out results.md --headline headline.md)
echo "experiment finished in $((SECONDS - start)) s: $out/results.md"
