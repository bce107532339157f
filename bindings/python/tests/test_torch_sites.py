"""gdropout.torch sites and the parameter-to-site mapping: the traced rule
against tables written out by hand, explicit mappings, and the errors."""

import unittest

try:
    import torch
    from torch import nn
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout.torch as gt

from .test_torch_models import Encoder, encoder_expected_table, encoder_sites, torch_encoder


def torch_layer_table(prefix, site_attn, site_ff_inner, site_ff_out, site_norm2, norm_first):
    """nn.TransformerEncoderLayer's parameters -> sites, by hand.  Its sites
    are dropout1 (after self-attention), dropout (inside the FFN, after
    linear1 and the activation) and dropout2 (after linear2)."""
    t, pre = {}, f"{prefix}." if prefix else ""
    for p in ("self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
              "self_attn.out_proj.bias"):
        t[f"{pre}{p}"] = site_attn
    for w in ("weight", "bias"):
        t[f"{pre}linear1.{w}"] = site_ff_inner
        t[f"{pre}linear2.{w}"] = site_ff_out
        # post-LN: norm1 ends the attention block and feeds the FFN; norm2
        # ends the layer and feeds the next one.  Pre-LN: each LayerNorm
        # feeds its own sub-block.
        t[f"{pre}norm1.{w}"] = site_attn if norm_first else site_ff_inner
        t[f"{pre}norm2.{w}"] = site_ff_inner if norm_first else site_norm2
    return t


class TracedMappingTest(unittest.TestCase):
    def test_encoder_table_exact(self):
        torch.manual_seed(0)
        model = Encoder(layers=2)
        ids = torch.randint(0, 16, (2, 6))
        sites = gt.map_sites(model, ids, leave_alone=["head_drop"])
        self.assertEqual(list(sites.names), encoder_sites(2))
        self.assertEqual(sites.table(), encoder_expected_table(2))
        # every trainable parameter, in named_parameters order
        self.assertEqual(list(sites.params), [n for n, _ in model.named_parameters()])
        self.assertEqual(sites.params_of("blocks.0.drop1"),
                         ["blocks.0.attn.v.weight", "blocks.0.attn.v.bias",
                          "blocks.0.attn.out.weight", "blocks.0.attn.out.bias"])
        self.assertTrue(model.training)  # traced in eval mode, mode restored

    def test_classifier_dropout_as_a_site(self):
        # not left alone, the head dropout is fed by what reaches it first:
        # the last LayerNorm; the head after it still feeds no site
        model = Encoder(layers=1)
        sites = gt.map_sites(model, torch.zeros(1, 6, dtype=torch.long))
        self.assertEqual(sites.names[-1], "head_drop")
        self.assertEqual(sites.params_of("head_drop"),
                         ["blocks.0.norm2.weight", "blocks.0.norm2.bias"])
        self.assertIsNone(sites.table()["head.weight"])

    def test_torch_transformer_encoder_post_ln(self):
        torch.manual_seed(1)
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.1, batch_first=True)
        model = nn.Sequential(torch_encoder(layer, 2), nn.Linear(8, 2))
        x = torch.randn(1, 5, 8)
        # registration order differs from forward order in this layer
        self.assertEqual(gt.dropout_sites(model),
                         [f"0.layers.{i}.{d}" for i in range(2)
                          for d in ("dropout", "dropout1", "dropout2")])
        names = [f"0.layers.{i}.{d}" for i in range(2)
                 for d in ("dropout1", "dropout", "dropout2")]
        self.assertEqual(gt.dropout_sites(model, x), names)
        sites = gt.map_sites(model, x)
        self.assertEqual(list(sites.names), names)
        want = {}
        for i in range(2):
            nxt = f"0.layers.{i + 1}.dropout1" if i == 0 else None
            want.update(torch_layer_table(f"0.layers.{i}", f"0.layers.{i}.dropout1",
                                          f"0.layers.{i}.dropout", f"0.layers.{i}.dropout2",
                                          nxt, norm_first=False))
        want["1.weight"] = want["1.bias"] = None
        self.assertEqual(sites.table(), want)

    def test_torch_transformer_layer_pre_ln(self):
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.1, batch_first=True, norm_first=True)
        sites = gt.map_sites(layer, torch.randn(1, 5, 8))
        self.assertEqual(list(sites.names), ["dropout1", "dropout", "dropout2"])
        self.assertEqual(sites.table(), torch_layer_table("", "dropout1", "dropout", "dropout2",
                                                          None, norm_first=True))

    def test_frozen_parameters_are_left_out(self):
        model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(), nn.Linear(3, 3), nn.Dropout())
        model[0].weight.requires_grad_(False)
        sites = gt.map_sites(model, torch.randn(2, 3))
        self.assertEqual(sites.table(), {"0.bias": "1", "2.weight": "3", "2.bias": "3"})

    def test_uncalled_dropout_comes_last_and_unfed(self):
        class Skip(nn.Module):
            def __init__(self):
                super().__init__()
                self.unused = nn.Dropout()
                self.lin = nn.Linear(2, 2)
                self.drop = nn.Dropout()

            def forward(self, x):
                return self.drop(self.lin(x))

        sites = gt.map_sites(Skip(), torch.randn(1, 2))
        self.assertEqual(list(sites.names), ["drop", "unused"])
        self.assertEqual(sites.params_of("unused"), [])


class ExplicitMappingTest(unittest.TestCase):
    def setUp(self):
        self.model = Encoder(layers=1)

    def test_dict_longest_prefix_wins(self):
        mapping = {"blocks.0": "blocks.0.drop2", "blocks.0.attn": 1, "blocks.0.attn.q.bias": None,
                   "embed": "drop"}
        sites = gt.map_sites(self.model, mapping=mapping, leave_alone=["head_drop"])
        # without a sample: registration order
        self.assertEqual(list(sites.names), encoder_sites(1))
        t = sites.table()
        self.assertEqual(t["blocks.0.attn.q.weight"], "blocks.0.attn.attn_drop")
        self.assertIsNone(t["blocks.0.attn.q.bias"])
        self.assertEqual(t["blocks.0.ff1.weight"], "blocks.0.drop2")
        self.assertEqual(t["embed.weight"], "drop")
        self.assertIsNone(t["pos"])  # matches no key

    def test_callable(self):
        sites = gt.map_sites(self.model, torch.zeros(1, 6, dtype=torch.long),
                             mapping=lambda p: "drop" if p.startswith("embed") else None,
                             leave_alone=[self.model.head_drop])
        self.assertEqual(sites.params_of(0), ["embed.weight"])
        self.assertEqual(sum(s is not None for s in sites.params.values()), 1)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "'blocks.0' -> 'nope', which is not a site"):
            gt.map_sites(self.model, mapping={"blocks.0": "nope"})
        with self.assertRaisesRegex(ValueError, "'head_drop', which is not a site"):
            gt.map_sites(self.model, mapping={"head": "head_drop"}, leave_alone=["head_drop"])
        with self.assertRaisesRegex(ValueError, "neither a trainable parameter nor a module"):
            gt.map_sites(self.model, mapping={"blocks.9": 0})
        with self.assertRaisesRegex(ValueError, "an index in 0..3"):
            gt.map_sites(self.model, mapping={"head": 5}, leave_alone=["head_drop"])
        with self.assertRaisesRegex(ValueError, "no dropout module named 'head'"):
            gt.map_sites(self.model, mapping={}, leave_alone=["head"])
        with self.assertRaisesRegex(ValueError, "a sample input to trace, or an explicit"):
            gt.map_sites(self.model)
        with self.assertRaisesRegex(TypeError, "a dict or a callable"):
            gt.map_sites(self.model, mapping=[("head", 0)])


if __name__ == "__main__":
    unittest.main()
