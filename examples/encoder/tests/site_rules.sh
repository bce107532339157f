#!/usr/bin/env bash
# The two tensor-to-site rules of `encoder fisher --site-rule` (ctest:
# encoder_site_rules), as the Fisher file records them (metadata
# "gdropout.site.<tensor>"), against the tables written out by hand in
# model.h: module (Hugging Face's modules) and traced (gdropout.torch's data
# flow).  A tiny 2-layer checkpoint; exit 77 without WordNet.
#   site_rules.sh ENCODER WORK_DIR
set -eu
enc=$1 work=$2
. "$(dirname "$0")/lib.sh"
enc_test_begin "$work"
enc_test_tiny
for rule in module traced; do
    "$enc" fisher --ckpt t --wordnet "$wordnet" --fraction 0.0005 --threads 1 --site-rule $rule \
        --out $rule.safetensors --plan $rule.plan --sites $rule.tsv >$rule.log
done
"$python" - <<'PY'
import json, struct, sys

def sites(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))["__metadata__"]
    pre = "gdropout.site."
    return {k[len(pre):]: v for k, v in meta.items() if k.startswith(pre)}

def expect(rule, layer_l, part):
    """Site of tensor `part` of layer l (model.h), as text, or "none"."""
    s = 1 + 3 * layer_l
    module = {"attention.self.query": s, "attention.self.key": s, "attention.self.value": s,
              "attention.output.dense": s + 1, "attention.output.LayerNorm": s + 1,
              "intermediate.dense": s + 2, "output.dense": s + 2, "output.LayerNorm": s + 2}
    traced = dict(module)
    traced.update({"attention.self.value": s + 1, "attention.output.LayerNorm": s + 2,
                   "output.LayerNorm": s + 3 if layer_l + 1 < 2 else None})
    v = (module if rule == "module" else traced)[part]
    return "none" if v is None else str(v)

bad = 0
for rule in ("module", "traced"):
    got = sites(rule + ".safetensors")
    for name, site in sorted(got.items()):
        if name.startswith("embeddings."):
            want = "0"
        elif name.startswith("encoder.layer."):
            l, part = name[len("encoder.layer."):].split(".", 1)
            want = expect(rule, int(l), part.rsplit(".", 1)[0])
        else:
            want = "none"  # the MLM head
        if site != want:
            print("FAIL %s: %s on site %s, want %s" % (rule, name, site, want))
            bad += 1
    print("%s: %d tensors checked" % (rule, len(got)))
sys.exit(1 if bad else 0)
PY
# The rules rank the sites differently: the plans differ.
cmp -s module.plan traced.plan && { echo "FAIL: both rules gave one plan"; exit 1; }
echo "site_rules: both rules as model.h states them"
