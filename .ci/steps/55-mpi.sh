#!/usr/bin/env bash
# The Fisher pass across processes with Debian's Open MPI (issue 13):
#  - the examples built against an INSTALLED libgdropout, with MPI found;
#  - test_fisher_mpi (gdx_fisher_allreduce against exact totals, refusals)
#    under mpirun -np 1, 2, 3;
#  - gdropout-fisher-mpi under mpirun -np 1, 2, 3 (3 ranks get 9, 10 and 10
#    of the 29 batches) and -np 3 --root 2, each compared with the
#    single-process file of --serial: same tensors, sites and weights,
#    estimates at most 1 unit in the last place apart, the same plan;
#  - a bad input file on one rank ends the job with that rank's message and
#    a non-zero exit, within a timeout;
#  - the encoder trainer's Fisher pass (encoder-mpi fisher) under -np 2 and 3
#    against one process (encoder fisher) on a tiny pretrained encoder: the
#    same bound (sequences are whole examples, so the same argument holds),
#    the same plan; a missing checkpoint ends the job with a message.
# Why 1 ulp: shards are whole batches, so every sgemm sums the same rows in
# float as in one process, and the ranks differ only in the order their
# double sums are added: every term is >= 0, so each total is within
# (ranks + batches) * 2^-53 relative of the exact one, and rounding two such
# doubles to float gives the same float or two neighbours.  Weights are
# integer counts, exact in double: they must match exactly.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
need_build_deps
need_pkgs openmpi-bin libopenmpi-dev python3 wordnet-base

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
build="build-ci-mpi"
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" -DGD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" >/dev/null
export LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

bin=$work/examples
cmake -S examples -B "$bin" -DCMAKE_PREFIX_PATH="$prefix" | grep MPI
cmake --build "$bin" -j "$(nproc)"
[ -x "$bin/gdropout-fisher-mpi" ] || { echo "MPI not found: gdropout-fisher-mpi not built"; exit 1; }

# Open MPI refuses root without this flag; CI runs as root.  Oversubscribe:
# 3 ranks on a 2-core runner.  The timeout turns a hang into a failure.
mpirun=(timeout 300 mpirun --allow-run-as-root --oversubscribe)
fm=$bin/gdropout-fisher-mpi
small=(--pretrain-steps 100 --batch 64 --p 0.2)

# compare.py A B: A and B are Fisher files (.st) or plan files (.plan).
# Reads safetensors with the standard library only (no gdropout code), so
# the check does not trust the reader it checks.
cat >"$work/compare.py" <<'EOF'
import json, struct, sys

def fisher(path):
    data = open(path, 'rb').read()
    (n,) = struct.unpack_from('<Q', data, 0)
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {})
    body = data[8 + n:]
    out = []
    for name, t in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        a, b = t['data_offsets']
        assert t['dtype'] == 'F32', name
        bits = struct.unpack_from('<%dI' % ((b - a) // 4), body, a)
        out.append((name, t['shape'], meta.get('gdropout.site.' + name),
                    meta.get('gdropout.weight.' + name), bits))
    return meta.get('gdropout.format'), out

def bits_of(x):
    return struct.unpack('<I', struct.pack('<f', float(x)))[0]

def ulps(a, b):
    # Estimates are >= 0: their bit patterns are ordered like their values.
    assert a >> 31 == 0 and b >> 31 == 0
    return abs(a - b)

def compare_fisher(pa, pb):
    fa, ta = fisher(pa)
    fb, tb = fisher(pb)
    if fa != fb or [t[:4] for t in ta] != [t[:4] for t in tb]:
        return 'tensors, shapes, sites or weights differ:\n  %s\n  %s' % (
            [t[:4] for t in ta], [t[:4] for t in tb])
    worst, differ, total = 0, 0, 0
    for x, y in zip(ta, tb):
        for a, b in zip(x[4], y[4]):
            d = ulps(a, b)
            worst, differ, total = max(worst, d), differ + (d != 0), total + 1
    print('  %d tensors, %d estimates: %d differ, by at most %d ulp; weights %s'
          % (len(ta), total, differ, worst, sorted({t[3] for t in ta})))
    return None if worst <= 1 else 'estimates %d ulp apart (bound: 1)' % worst

def plan(path):
    rows = [l.split() for l in open(path) if l.strip() and not l.startswith('#')]
    return [(r[0], r[1], bits_of(r[2]), r[3]) for r in rows]

def compare_plan(pa, pb):
    a, b = plan(pa), plan(pb)
    same = len(a) == len(b) and all(
        x[0] == y[0] and x[1] == y[1] and x[3] == y[3] and ulps(x[2], y[2]) <= 1
        for x, y in zip(a, b))
    print('  plan: %s' % ', '.join('%s p=%s' % (r[1], r[3]) for r in a))
    return None if same else 'plans differ:\n  %s\n  %s' % (a, b)

pa, pb = sys.argv[1], sys.argv[2]
err = (compare_plan if pa.endswith('.plan') else compare_fisher)(pa, pb)
if err:
    print('%s vs %s: %s' % (pa, pb, err))
    sys.exit(1)
EOF
compare() { /usr/bin/python3 "$work/compare.py" "$@"; }

echo "== test_fisher_mpi"
for np in 1 2 3; do
    "${mpirun[@]}" -np "$np" "$bin/test_fisher_mpi" >"$work/test.log" 2>"$work/test.err" ||
        { cat "$work/test.log" "$work/test.err"; echo "test_fisher_mpi -np $np failed"; exit 1; }
    sort "$work/test.log"
done
grep -m 1 'registered tensors differ' "$work/test.err"

echo "== the single-process reference: gdropout-fisher-mpi --serial ${small[*]}"
"$fm" --serial "${small[@]}" --fisher-out "$work/ref.st" --plan-out "$work/ref.plan" |
    tail -n 1

# The comparison must be able to fail: a run on fewer examples (other
# weights) and one from one more pretraining step (other estimates).
"$fm" --serial "${small[@]}" --fisher-n 1700 --fisher-out "$work/fewer.st" \
    --plan-out "$work/fewer.plan" >/dev/null
"$fm" --serial --pretrain-steps 101 --batch 64 --p 0.2 --fisher-out "$work/later.st" \
    --plan-out "$work/later.plan" >/dev/null
for other in fewer later; do
    if compare "$work/ref.st" "$work/$other.st" >"$work/cmp.log"; then
        cat "$work/cmp.log"
        echo "the comparison does not tell $other.st from ref.st"
        exit 1
    fi
    echo "  ok, told apart: $(tail -n 1 "$work/cmp.log" | cut -c1-100)"
done

run_np() { # name np extra-flags...
    local name=$1 np=$2
    shift 2
    echo "== mpirun -np $np gdropout-fisher-mpi ${small[*]} $*"
    "${mpirun[@]}" -np "$np" "$fm" "${small[@]}" "$@" --fisher-out "$work/$name.st" \
        --plan-out "$work/$name.plan" >"$work/$name.log"
    grep -E '^rank [0-9]+: batches' "$work/$name.log" | sort
    # The shards cover every example once.
    local sum
    sum=$(awk '/^rank [0-9]+: batches/ { for (i = 1; i < NF; i++) if ($(i + 1) == "examples,")
        s += $i } END { print s + 0 }' "$work/$name.log")
    [ "$sum" = 1797 ] || { echo "shards add up to $sum examples, not 1797"; exit 1; }
    compare "$work/ref.st" "$work/$name.st"
    compare "$work/ref.plan" "$work/$name.plan"
}
# Messages of 40 bytes (5 doubles): every tensor goes in many pieces, the
# last one short (fc0.weight: 8192 + 1 weight = 1638 * 5 + 3).
run_np np1 1 --chunk-bytes 40
run_np np2 2 --chunk-bytes 40
run_np np3 3 --chunk-bytes 40
run_np np3root 3 --root 2
# The installed gdropout-plan tool, reading the reduced file, plans the same
# rates (its site names come from the tensors: compare index and p).
"$prefix/bin/gdropout-plan" --p-max 0.2 "$work/np3.st" -o "$work/tool.plan" >/dev/null 2>&1
diff <(awk '!/^#/ { print $1, $4 }' "$work/np3.plan") \
    <(awk '!/^#/ { print $1, $4 }' "$work/tool.plan")
echo "  gdropout-plan on the -np 3 file: the same rates"

echo "== a bad input file on one rank"
expect_fail() { # description, expected message (grep -E), data file of rank 1
    local what=$1 want=$2
    rm -f "$work/d1.csv.gz" "$work/bad.st" "$work/bad.plan"
    cp "$3" "$work/d1.csv.gz"
    local start=$SECONDS rc=0
    "${mpirun[@]}" -np 3 "$fm" "${small[@]}" --data "$work/d{rank}.csv.gz" \
        --fisher-out "$work/bad.st" --plan-out "$work/bad.plan" >/dev/null 2>"$work/err" ||
        rc=$?
    if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
        cat "$work/err"
        echo "$what: exit status $rc (0: not refused; 124: hung until the timeout)"
        exit 1
    fi
    grep -E "$want" "$work/err" >/dev/null || { cat "$work/err"; echo "$what: no '$want'"; exit 1; }
    grep -q 'rank 0: stopping after .*: rank 1 failed' "$work/err" ||
        { cat "$work/err"; echo "$what: rank 0 does not name rank 1"; exit 1; }
    if [ -e "$work/bad.st" ] || [ -e "$work/bad.plan" ]; then
        echo "$what: files written although a rank failed"
        exit 1
    fi
    echo "  ok ($what): exit $rc after $((SECONDS - start)) s:"
    grep 'gdropout-fisher-mpi: rank' "$work/err" | sed 's/^/    /'
}
data=examples/data/digits.csv.gz
ln -s "$PWD/$data" "$work/d0.csv.gz"
ln -s "$PWD/$data" "$work/d2.csv.gz"
printf 'not,a,digit\n' | gzip >"$work/junk.csv.gz"
expect_fail "not digits" 'rank 1: cannot load the digits from .*d1\.csv\.gz' "$work/junk.csv.gz"
printf 'not gzip\n' >"$work/fake.csv.gz"
expect_fail "not gzip" 'rank 1: cannot load the digits from .*d1\.csv\.gz' "$work/fake.csv.gz"
# sed reads to the end: head would leave gzip -dc to die of SIGPIPE,
# which pipefail makes a failure whenever head exits first.
gzip -dc "$data" | sed -n 1,1700p | gzip >"$work/short.csv.gz"
expect_fail "other rows" "rank 1: .*d1\.csv\.gz holds other rows than rank 0's" \
    "$work/short.csv.gz"
echo "== the same under ASan and UBSan"
asan=$work/examples-asan
cmake -S examples -B "$asan" -DCMAKE_PREFIX_PATH="$prefix" -DGDX_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$asan" -j "$(nproc)" --target gdropout-fisher-mpi test_fisher_mpi
# Leaks: checked in --serial, which makes no MPI call; under mpirun, Open
# MPI's own allocations (some in plugins unloaded before exit, so no
# suppression can name them) would drown ours.
"$asan/gdropout-fisher-mpi" --serial "${small[@]}" --fisher-out "$work/asan-ref.st" \
    --plan-out "$work/asan-ref.plan" | tail -n 1
compare "$work/ref.st" "$work/asan-ref.st"
export ASAN_OPTIONS=detect_leaks=0
"${mpirun[@]}" -x ASAN_OPTIONS -np 3 "$asan/test_fisher_mpi" 2>"$work/test.err" | sort ||
    { cat "$work/test.err"; exit 1; }
"${mpirun[@]}" -x ASAN_OPTIONS -np 3 "$asan/gdropout-fisher-mpi" "${small[@]}" --chunk-bytes 40 \
    --fisher-out "$work/asan.st" --plan-out "$work/asan.plan" | tail -n 1
compare "$work/ref.st" "$work/asan.st"
echo "== the encoder's Fisher pass across ranks"
enc=$bin/encoder/encoder
[ -x "$bin/encoder/encoder-mpi" ] || { echo "encoder-mpi not built"; exit 1; }
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
"$enc" pretrain --out "$work/tiny" --layers 2 --hidden 32 --heads 2 --ffn 64 --vocab 1000 \
    --batch 32 --steps 30 --warmup 5 --log-every 30 --eval-every 30 --eval-n 100 --threads 1 |
    tail -n 1
efisher=(fisher --ckpt "$work/tiny" --fraction 0.003 --threads 1 --log-every 100000)
"$enc" "${efisher[@]}" --out "$work/enc1.st" --plan "$work/enc1.plan" --sites "$work/s1.tsv" |
    grep 'process'
for np in 2 3; do
    "${mpirun[@]}" -np $np "$bin/encoder/encoder-mpi" "${efisher[@]}" --out "$work/enc$np.st" \
        --plan "$work/enc$np.plan" --sites "$work/s$np.tsv" | grep 'process'
    compare "$work/enc1.st" "$work/enc$np.st"
    compare "$work/enc1.plan" "$work/enc$np.plan"
done
if "${mpirun[@]}" -np 2 "$bin/encoder/encoder-mpi" fisher --ckpt "$work/missing" \
    >/dev/null 2>"$work/err"; then
    echo "encoder-mpi fisher accepted a missing checkpoint"
    exit 1
fi
grep -q 'encoder: .*missing/model.safetensors' "$work/err" || { cat "$work/err"; exit 1; }
echo "  ok: a missing checkpoint -> $(grep -m1 'encoder:' "$work/err")"
echo "MPI OK"
