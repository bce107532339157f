#!/usr/bin/env bash
# The paper's experiment on the encoder, end to end (issue: MLM Fisher,
# guided fine-tuning on WordNet tasks, honest numbers).
#
#   examples/encoder/run-experiment.sh [--quick] [--out DIR] [--ckpt DIR] [--seeds N]
#
#   1. hyperparameters chosen on the VALIDATION split (never test) at 10 %
#      of the training pool, 3 seeds, standard dropout: the learning rate and
#      the pooling (mean or [CLS]) of the pretrained encoder, then for the
#      pair task whether the pair head (each text's mean, [u, v, |u-v|, u*v])
#      does better, the dropout rate p, and the scratch baseline's learning
#      rate;
#   2. Fisher of the MLM loss on 1 % of the pretraining corpus, the guided
#      plan from p_max = the chosen p down to 0, and the same plan read back
#      with gdropout-plan from the Fisher file;
#   3. every seed x task x fraction x regime, in two processes (one per core);
#   4. the TF-IDF + logistic regression baseline on the same subsets;
#   5. the report (tables, paired differences, figures).
# --quick: a tiny encoder pretrained for 300 steps, 2 seeds, one fraction, a
# few steps per run: checks that every stage and every regime produce rows.
# Progress lines carry an ETA; every stage resumes where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/encoder/env.sh
. "$here/env.sh"
plan_tool=$build/prefix/bin/gdropout-plan
py=/usr/bin/python3

quick=0 out= ckpt=$here/pretrained seeds=10
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --ckpt) ckpt=$2; shift ;;
    --seeds) seeds=$2; shift ;;
    *) echo "run-experiment.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

fractions=1,0.5,0.25,0.1,0.05,0.02
regimes=none,standard,gaussian,guided,matched,scratch
# Steps: 10 epochs over the subset, at least 60 and at most 150 (2 % of the
# pool is 3 steps an epoch; all of it 125): every regime the same budget.
steps=(--epochs 10 --min-steps 60 --max-steps 150)
sel_seeds=3
if [ $quick = 1 ]; then
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
    steps=(--epochs 1 --min-steps 5 --max-steps 10)
fi
out=${out:-$top/examples/results/encoder}
mkdir -p "$out"
start=$SECONDS
stage() { echo "== $* ($((SECONDS - start)) s so far)"; }

stage "1. hyperparameters on the validation split (10 % of the pool, $sel_seeds seeds)"
common=(--ckpt "$ckpt" --fractions 0.1 --seeds $sel_seeds "${steps[@]}")
# mean_val FILE: the mean validation accuracy of its rows (its tasks, all seeds).
mean_val() { awk -F'\t' 'NR > 1 { s += $7; n++ } END { printf "%.6f\n", s / n }' "$1"; }
# better A B: whether A > B (ties keep the earlier candidate).
better() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
sel() { # name, flags...: one selection run, printing its mean validation accuracy
    local name=$1
    shift
    "$enc" experiment "${common[@]}" "$@" --out "$out/sel-$name.tsv" >/dev/null
    local v
    v=$(mean_val "$out/sel-$name.tsv")
    printf '%s\t%s\n' "$name" "$v" >>"$out/selection.tsv"
    echo "  $name: validation accuracy $v" >&2
    echo "$v"
}
: >"$out/selection.tsv"
best=-1 lr= pool=
for l in 3e-4 1e-3; do
    for q in mean cls; do
        v=$(sel "lr$l-pool$q" --regimes standard --lr $l --pool $q)
        if better "$v" "$best"; then best=$v lr=$l pool=$q; fi
    done
done
# The pair task (hypernymy) alone: the pooling just chosen, or the pair head.
best=-1 ppool=
for q in "$pool" pair; do
    v=$(sel "hypernymy-pool$q" --tasks hypernymy --regimes standard --lr "$lr" --pool "$pool" \
        --pair-pool $q)
    if better "$v" "$best"; then best=$v ppool=$q; fi
done
pools=(--pool "$pool" --pair-pool "$ppool")
best=-1 p=
for r in 0.05 0.1 0.2; do
    v=$(sel "p$r" --regimes standard --lr "$lr" "${pools[@]}" --p $r)
    if better "$v" "$best"; then best=$v p=$r; fi
done
best=-1 slr=
for l in 3e-4 1e-3; do
    v=$(sel "scratch-lr$l" --regimes scratch --scratch-lr $l "${pools[@]}")
    if better "$v" "$best"; then best=$v slr=$l; fi
done
printf 'lr %s\npool %s\npair_pool %s\np %s\nscratch_lr %s\n' "$lr" "$pool" "$ppool" "$p" "$slr" \
    >"$out/selection.txt"
echo "chosen on validation: lr $lr, pool $pool (pairs: $ppool), p $p, scratch lr $slr"

stage "2. Fisher of the MLM loss and the guided plan (p_max $p, the chosen rate)"
# Ten seconds of work, rerun every time so the plan always follows the p
# chosen above.
fraction=0.01
[ $quick = 1 ] && fraction=0.002
"$enc" fisher --ckpt "$ckpt" --fraction $fraction --out "$out/fisher.safetensors" \
    --plan "$out/guided.plan" --sites "$out/fisher-sites.tsv" --p-max "$p" --p-min 0 \
    --threads 1 | tee "$out/fisher.log"
# A user's route to the same plan: the tool on the Fisher file.
"$plan_tool" "$out/fisher.safetensors" --p-max "$p" --p-min 0 -o "$out/guided-tool.plan" >/dev/null
# The same scores and rates, site by site (the tool names sites after their
# tensors' common prefix, the trainer after BERT's modules).
diff <(awk '!/^#/ { print $1, $3, $4 }' "$out/guided.plan") \
    <(awk '!/^#/ { print $1, $3, $4 }' "$out/guided-tool.plan") >/dev/null ||
    { echo "gdropout-plan on the Fisher file plans other rates" >&2; exit 1; }
echo "gdropout-plan reads the Fisher file back: the same scores and rates"

stage "3. the comparison: $seeds seeds x fractions $fractions x regimes $regimes (two processes)"
grid=(--ckpt "$ckpt" --plan "$out/guided.plan" --fractions $fractions --regimes $regimes
      --seeds "$seeds" --lr "$lr" "${pools[@]}" --p "$p" --scratch-lr "$slr" "${steps[@]}")
"$enc" experiment "${grid[@]}" --shard 0/2 --out "$out/results-0.tsv" >>"$out/run-0.log" &
pid=$!
"$enc" experiment "${grid[@]}" --shard 1/2 --out "$out/results-1.tsv" | tee -a "$out/run-1.log" | grep -E '^\[' || true
wait $pid
tail -n 1 "$out/run-0.log"

stage "4. TF-IDF + logistic regression on the same subsets"
"$enc" experiment --ckpt "$ckpt" --fractions $fractions --seeds "$seeds" --export "$out/export" >/dev/null
"$py" "$here/experiment/baseline_tfidf.py" "$out/export" --out "$out/results-tfidf.tsv" --seeds "$seeds"

stage "5. the report"
# From inside $out, so the report names its sources relative to it; a second
# copy with links relative to the repository, for scripts/paste-results.
(cd "$out" &&
    report=("$py" "$here/experiment/report.py" results-*.tsv --sites fisher-sites.tsv
            --selection selection.txt --figures figures) &&
    "${report[@]}" --out results.md && "${report[@]}" --out readme.md --link-base "$top")
for r in ${regimes//,/ }; do
    grep -q "	$r	" "$out"/results-[01].tsv || { echo "no rows for regime $r" >&2; exit 1; }
done
echo "experiment finished in $((SECONDS - start)) s: $out/results.md"
