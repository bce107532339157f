"""gdropout.torch on a model with the module names and structure of Hugging
Face's BertForSequenceClassification (tests/hf_bert.py; transformers is not
in Debian 12): dropout_sites and map_sites find every site, the
attention-probability dropout included, the traced mapping is the
documented one, apply_plan and replace_dropout reach every site, and the
"five lines" of bindings/python/README.md run as written."""

import os
import re
import unittest

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout.torch as gt

from . import hf_bert

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
LAYERS = 2


def model(**kw):
    torch.manual_seed(0)
    return hf_bert.BertForSequenceClassification(hf_bert.BertConfig(num_hidden_layers=LAYERS,
                                                                    **kw))


def layer_sites(i):
    p = f"bert.encoder.layer.{i}"
    return [f"{p}.attention.self.dropout", f"{p}.attention.output.dropout", f"{p}.output.dropout"]


SITES = ["bert.embeddings.dropout"] + [s for i in range(LAYERS) for s in layer_sites(i)]


def loss_fn(out, y):
    return F.cross_entropy(out.logits, y, reduction="none")


class HuggingFaceBertTest(unittest.TestCase):
    def setUp(self):
        self.model = model()
        self.batches = hf_bert.batches()
        self.sample = self.batches[0][0]

    def test_every_site_found(self):
        self.assertEqual(gt.dropout_sites(self.model), SITES + ["dropout"])
        self.assertEqual(gt.dropout_sites(self.model, self.sample), SITES + ["dropout"])
        sites = gt.map_sites(self.model, self.sample, leave_alone=["dropout"])
        self.assertEqual(list(sites.names), SITES)

    def test_traced_mapping(self):
        sites = gt.map_sites(self.model, self.sample, leave_alone=["dropout"])
        table = sites.table()
        want = {}
        for n in ("word_embeddings", "position_embeddings", "token_type_embeddings",
                  "LayerNorm"):
            for w in ("weight", "bias") if n == "LayerNorm" else ("weight",):
                want[f"bert.embeddings.{n}.{w}"] = "bert.embeddings.dropout"
        for i in range(LAYERS):
            p = f"bert.encoder.layer.{i}"
            attn, out, ffn = layer_sites(i)
            nxt = layer_sites(i + 1)[0] if i + 1 < LAYERS else None
            for mod, site in ((f"{p}.attention.self.query", attn),
                              (f"{p}.attention.self.key", attn),
                              (f"{p}.attention.self.value", out),
                              (f"{p}.attention.output.dense", out),
                              (f"{p}.attention.output.LayerNorm", ffn),
                              (f"{p}.intermediate.dense", ffn), (f"{p}.output.dense", ffn),
                              (f"{p}.output.LayerNorm", nxt)):
                want[f"{mod}.weight"] = want[f"{mod}.bias"] = site
        for mod in ("bert.pooler.dense", "classifier"):
            want[f"{mod}.weight"] = want[f"{mod}.bias"] = None
        self.assertEqual(table, want)

    def test_plan_reaches_every_site(self):
        sites = gt.map_sites(self.model, self.sample, leave_alone=["dropout"])
        for method in ("loop", "dense"):
            with self.subTest(method=method):
                with gt.estimate_fisher(self.model, loss_fn, self.batches, sites=sites,
                                        method=method) as fisher:
                    plan = gt.make_plan(fisher, sites, p_max=0.2)
                probs = plan.get_all()
                got = gt.apply_plan(self.model, plan, sites)
                plan.close()
                mods = dict(self.model.named_modules())
                self.assertEqual(list(got), SITES)
                for name, p in zip(SITES, probs):
                    self.assertEqual(mods[name].p, float(p))
                self.assertEqual(sorted(float(p) for p in probs)[0], 0.0)
                self.assertAlmostEqual(max(float(p) for p in probs), 0.2, places=6)
                self.assertEqual(mods["dropout"].p, 0.1)  # left alone
        new = gt.replace_dropout(self.model, sites, seed=1)
        self.assertEqual([d.site for d in new], list(range(len(SITES))))
        mods = dict(self.model.named_modules())
        self.assertTrue(all(isinstance(mods[n], gt.Dropout) for n in SITES))
        self.model.train()
        self.model(**self.sample).logits.sum().backward()
        self.assertEqual({mods[n].step for n in SITES}, {1})

    def test_sdpa_attention_is_named_in_the_error(self):
        # attention dropout applied functionally: the module is never called
        m = model(attn_implementation="sdpa")
        sites = gt.map_sites(m, self.sample, leave_alone=["dropout"])
        self.assertEqual(sites.params_of("bert.encoder.layer.0.attention.self.dropout"), [])
        with gt.estimate_fisher(m, loss_fn, self.batches[:1], sites=sites) as fisher:
            with self.assertRaisesRegex(ValueError, "never called.*attn_implementation"):
                gt.make_plan(fisher, sites)

    @unittest.skipUnless(os.path.exists(README), "not run from a source tree")
    def test_the_readme_five_lines(self):
        with open(README, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- hf-five-lines[^\n]*\n```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "no <!-- hf-five-lines block in bindings/python/README.md")
        code = m.group(1)
        self.assertEqual(len([ln for ln in code.splitlines() if ln.strip()
                              and not ln.lstrip().startswith("#")]), 5, code)
        env = {"model": self.model, "sample": self.sample, "batches": self.batches}
        exec(compile(code, "README.md (hf-five-lines)", "exec"), env)  # noqa: S102
        mods = dict(self.model.named_modules())
        probs = np.array([mods[n].p for n in SITES])
        self.assertEqual(probs.min(), 0.0)
        self.assertAlmostEqual(probs.max(), 0.1, places=6)


if __name__ == "__main__":
    unittest.main()
