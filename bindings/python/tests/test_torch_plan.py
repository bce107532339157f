"""gdropout.torch plans end to end: Fisher of a small encoder, the plan,
the rates applied to the model, a few training steps with the C kernels,
and the saved files read by the `gdropout-plan` tool.

The tool is $GDROPOUT_PLAN, else bin/gdropout-plan next to the loaded
library's lib/ folder, else gdropout-plan on PATH (the tool tests skip with
a message when none is found; CI sets $GDROPOUT_PLAN)."""

import copy
import math
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    raise unittest.SkipTest("torch is not installed (apt-get install python3-torch)")

import gdropout
import gdropout.torch as gt

from .helpers import BitTestCase
from .test_torch_models import Encoder, encoder_sites


def plan_tool():
    env = os.environ.get("GDROPOUT_PLAN")
    if env:
        return env  # an explicit choice must work: no silent skip
    libdir = os.path.dirname(os.path.realpath(gdropout.library_path()))
    near = os.path.join(os.path.dirname(libdir), "bin", "gdropout-plan")
    return near if os.access(near, os.X_OK) else shutil.which("gdropout-plan")


def run_tool(tool, *args):
    """The tool, finding the library the binding loaded."""
    env = dict(os.environ)
    libdir = os.path.dirname(os.path.realpath(gdropout.library_path()))
    env["LD_LIBRARY_PATH"] = libdir + (":" + env["LD_LIBRARY_PATH"]
                                       if env.get("LD_LIBRARY_PATH") else "")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False, env=env)


def ce(out, target):
    return F.cross_entropy(out, target, reduction="none")


class PlanEndToEndTest(BitTestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.model = Encoder(layers=2)
        g = torch.Generator().manual_seed(1)
        cls.ids = torch.randint(0, 16, (24, 6), generator=g)
        cls.y = torch.randint(0, 3, (24,), generator=g)
        cls.sites = gt.map_sites(cls.model, cls.ids[:2], leave_alone=["head_drop"])
        batches = [(cls.ids[i:i + 8], cls.y[i:i + 8]) for i in range(0, 24, 8)]
        cls.fisher = gt.estimate_fisher(cls.model, ce, batches, sites=cls.sites)
        cls.dir = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.fisher.close()
        cls.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_plan_applied_and_trained(self):
        with gt.make_plan(self.fisher, self.sites, p_max=0.2, p_min=0.0) as plan:
            probs = plan.get_all()
            scores = self.fisher.site_scores(gdropout.REDUCE_TENSOR_MEAN, len(self.sites))
            # rank-linear: the least informative site gets p_max, the most 0
            self.assertEqual(probs[int(np.argmin(scores))], np.float32(0.2))
            self.assertEqual(probs[int(np.argmax(scores))], 0.0)
            self.assertEqual([plan.site_info(i).name for i in range(len(plan))], encoder_sites(2))
            model = copy.deepcopy(self.model)
            applied = gt.apply_plan(model, plan, self.sites)
        mods = dict(model.named_modules())
        for i, name in enumerate(self.sites):
            self.assertEqual(mods[name].p, float(probs[i]))
            self.assertEqual(applied[name], float(probs[i]))
        self.assertEqual(mods["head_drop"].p, 0.1)  # left alone
        # the C kernels at those rates, site i on stream (step << 16) | i
        new = gt.replace_dropout(model, self.sites, seed=7)
        self.assertEqual([d.p for d in new], [float(v) for v in probs])
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(30):
            opt.zero_grad()
            loss = ce(model(self.ids), self.y).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertTrue(all(math.isfinite(v) for v in losses))
        self.assertLess(losses[-1], 0.8 * losses[0])
        self.assertEqual([d.step for d in new], [30] * len(new))

    def test_files_and_the_tool(self):
        tool = plan_tool()
        if not tool:
            self.skipTest("gdropout-plan not found (set GDROPOUT_PLAN)")
        fisher_file, scores_file = self.path("fisher.safetensors"), self.path("scores.txt")
        ours_file, tool_file = self.path("ours.txt"), self.path("tool.txt")
        self.fisher.save(fisher_file)
        gt.save_scores(scores_file, self.fisher, self.sites)
        with gt.make_plan(self.fisher, self.sites, p_max=0.15, p_min=0.01) as plan:
            plan.save(ours_file)
            want = plan.get_all()
        run = run_tool(tool, scores_file, "--p-max", "0.15", "--p-min", "0.01", "-o", tool_file)
        self.assertEqual(run.returncode, 0, run.stderr)
        # the tool's plan from our scores: the same file, byte for byte
        with open(ours_file, "rb") as a, open(tool_file, "rb") as b:
            self.assertEqual(a.read(), b.read())
        applied = gt.apply_plan(self.model, tool_file, self.sites)
        self.assertEqual(list(applied.values()), [float(v) for v in want])
        # from the Fisher file: the same probabilities, sites named after
        # their tensors' common prefix, so only check_names=False applies it
        run = run_tool(tool, fisher_file, "--p-max", "0.15", "--p-min", "0.01", "-o", tool_file)
        self.assertEqual(run.returncode, 0, run.stderr)
        with gdropout.Plan.load(tool_file) as back:
            self.assertBitsEqual(back.get_all(), want)
            self.assertEqual(back.site_info(1).name, "blocks.0.attn")
            with self.assertRaisesRegex(ValueError, r"site 1: plan 'blocks.0.attn', model "
                                                    r"'blocks.0.attn.attn_drop'.*save_scores.*"
                                                    r"check_names=False"):
                gt.apply_plan(self.model, back, self.sites)
            gt.apply_plan(self.model, back, self.sites, check_names=False)
        # and the Fisher file reads back into the same estimates
        with gdropout.Fisher.load(fisher_file) as f:
            for i in range(len(f)):
                self.assertBitsEqual(f.read(i)[0], self.fisher.read(i)[0])

    def test_mismatches(self):
        with gdropout.Plan(len(self.sites) - 1) as short:
            short.set_scores(np.arange(1, len(self.sites), dtype=np.float32))
            short.compute()
            with self.assertRaisesRegex(ValueError, "the plan has 6 sites, the model 7"):
                gt.apply_plan(self.model, short, self.sites)
        with gdropout.Plan(len(self.sites)) as named:
            for i, name in enumerate(reversed(self.sites.names)):
                named.set_site(i, float(i + 1), name=name)
            named.compute()
            with self.assertRaisesRegex(ValueError, "site 0: plan 'blocks.1.drop2', model 'drop'"):
                gt.apply_plan(self.model, named, self.sites)
        before = [m.p for m in self.sites.modules(self.model)]
        with self.assertRaisesRegex(ValueError, "outside"):
            gt.apply_plan(self.model, [0.1] * 6 + [1.5], self.sites)
        self.assertEqual([m.p for m in self.sites.modules(self.model)], before)  # untouched
        self.assertEqual(gt.apply_plan(self.model, [0.05] * 7, self.sites)["drop"], 0.05)
        for bad in ("0.1", True, [0.1, 0.2]):  # float() took the first two
            with self.subTest(bad=bad), self.assertRaisesRegex(TypeError,
                                                               r"^apply_plan: plan\[6\] must be"):
                gt.apply_plan(self.model, [0.05] * 6 + [bad], self.sites)
        self.assertEqual(gt.apply_plan(self.model, torch.full((7,), 0.25), self.sites)["drop"],
                         0.25)
        with self.assertRaisesRegex(ValueError, "is not a dropout module"):
            gt.apply_plan(self.model, [0.1], ["head"])
        with self.assertRaisesRegex(ValueError, "no module 'nope'"):
            gt.apply_plan(self.model, [0.1], ["nope"])

    def test_unfed_site_refused(self):
        sites = gt.map_sites(self.model, mapping={"embed": "drop"}, leave_alone=["head_drop"])
        with gt.estimate_fisher(self.model, ce, [(self.ids[:2], self.y[:2])], sites=sites,
                                method="loop") as f:
            with self.assertRaisesRegex(ValueError, r"no parameter feeds site\(s\) "
                                                    r"blocks.0.attn.attn_drop, "):
                gt.make_plan(f, sites)
            with self.assertRaisesRegex(ValueError, "no parameter feeds site blocks.0"):
                gt.save_scores(self.path("x.txt"), f, sites)


if __name__ == "__main__":
    unittest.main()
