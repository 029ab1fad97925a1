"""Detection models: a scripted detector (torchvision ops, List[Tensor] input, dict outputs) lists its nodes
in both modes, and the backbone and FPN nodes extracted from the whole scripted model equal forward hooks on the
eager model. torch.fx cannot trace detection models, so hooks are the reference.

Run: /usr/bin/python3 test_detection.py --cli build/bin/featscope-cli
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import torch
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

CLI = None
warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600)


class DetectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-detection-test-")
        torch.manual_seed(0)
        cls.model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None).eval()
        cls.path = os.path.join(cls.dir, "fasterrcnn.pt")
        torch.jit.script(cls.model).save(cls.path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_names_in_both_modes(self):
        result = run("nodes", self.path, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        names = json.loads(result.stdout)
        for mode in ("train", "eval"):
            self.assertEqual(names[mode][:2], ["images", "targets"], mode)
            self.assertIn("backbone.fpn", names[mode])
            self.assertEqual(len(names[mode]), len(set(names[mode])), mode)
        # Train mode computes the losses, eval mode post-processes the detections.
        self.assertTrue(any(n.startswith("rpn.") and "loss" in n for n in names["train"]))
        self.assertTrue(any(n.startswith("roi_heads.postprocess") or "box_ops" in n or "batched_nms" in n
                            for n in names["eval"]))

    def test_backbone_and_fpn_equal_forward_hooks(self):
        # Module outputs: a block of the backbone (a tensor) and the FPN (a dict of levels).
        nodes = ["backbone.body.13", "backbone.fpn"]
        out = os.path.join(self.dir, "fasterrcnn_features.pt")
        args = ["extract", self.path, "-o", out]
        for node in nodes:
            args += ["--return", node]
        result = run(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        extractor = torch.jit.load(out).eval()
        modules = dict(self.model.named_modules())
        seen = {}
        handles = [modules[n].register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in nodes]
        torch.manual_seed(1)
        images = [torch.rand(3, 240, 320)]
        with torch.no_grad():
            self.model(images)
            got = extractor(images, None)
        for h in handles:
            h.remove()
        self.assertTrue(torch.equal(got["backbone.body.13"], seen["backbone.body.13"]))
        fpn = got["backbone.fpn"]
        self.assertEqual(list(fpn), list(seen["backbone.fpn"]))
        for level in fpn:
            self.assertTrue(torch.equal(fpn[level], seen["backbone.fpn"][level]), level)
        self.assertIn("backbone", [n for n, _ in extractor.named_children()])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    args, rest = parser.parse_known_args()
    CLI = os.path.abspath(args.cli)
    unittest.main(argv=[sys.argv[0]] + rest)
