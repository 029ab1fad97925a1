#!/usr/bin/python3
"""`featscope-cli values`: any node's value for one image, against forward hooks on the eager model.

A scripted model whose nodes hold a dict of tensors (a torchvision FeaturePyramidNetwork with a pool level),
a Tuple[Tensor, Optional[Tensor]] (MultiheadAttention without weights) and an int (a size) runs on a solid
colour image, whose preprocessed input is known exactly, so the eager model gives the reference: the dict
and the tuple are split into parts named with Python's subscript, each tensor's shape, min, max and mean
equal the hook's, None and the int are printed as text. Also the table output and malformed command lines.

Run: /usr/bin/python3 test_values.py --cli build/bin/featscope-cli --work DIR
"""
import argparse
import json
import os
import subprocess
import sys
import unittest
from collections import OrderedDict

import torch
import torchvision
from PIL import Image
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

CLI = WORK = None
COLOUR = (200, 40, 120)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Structured(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 3, stride=4, padding=1)
        self.down = torch.nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.fpn = torchvision.ops.FeaturePyramidNetwork([4, 8], 4, extra_blocks=LastLevelMaxPool())
        self.attn = torch.nn.MultiheadAttention(4, 1, batch_first=True)

    def forward(self, x):
        c1 = self.stem(x)
        levels = self.fpn(OrderedDict([("0", c1), ("1", self.down(c1))]))
        tokens = levels["pool"].flatten(2).transpose(1, 2)
        attended = self.attn(tokens, tokens, tokens, need_weights=False)
        return attended[0].sum(1) * tokens.size(1)


def run(*args):
    return subprocess.run([CLI, "values", *args], capture_output=True, text=True, timeout=300)


class ValuesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        torch.manual_seed(0)
        cls.model = Structured().eval()
        cls.path = os.path.join(WORK, "structured.pt")
        torch.jit.script(cls.model).save(cls.path)
        cls.image = os.path.join(WORK, "solid.png")
        Image.new("RGB", (300, 260), COLOUR).save(cls.image)
        # ImageNet's preprocessing of a solid image: the colour, normalised, at 224 x 224.
        x = torch.empty(1, 3, 224, 224)
        for c in range(3):
            x[:, c] = (COLOUR[c] / 255.0 - MEAN[c]) / STD[c]
        seen = {}
        cls.model.fpn.register_forward_hook(lambda m, i, o: seen.__setitem__("fpn", o))
        cls.model.attn.register_forward_hook(lambda m, i, o: seen.__setitem__("attn", o))
        with torch.no_grad():
            cls.model(x)
        cls.seen = seen

    def values(self, *returns):
        args = [self.path, self.image, "--json", "--threads", "2"]
        for r in returns:
            args += ["--return", r]
        result = run(*args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["outputs"]

    def assertTensorPart(self, part, reference):
        self.assertEqual(part["shape"], list(reference.shape))
        self.assertEqual(part["dtype"], "Float")
        for key, value in (("min", reference.min()), ("max", reference.max()), ("mean", reference.mean())):
            self.assertAlmostEqual(part[key], float(value), places=5, msg=f"{part['key']}{part['path']} {key}")

    def test_dict_tuple_and_int(self):
        names = subprocess.run([CLI, "nodes", self.path, "--json"], capture_output=True, text=True, timeout=300)
        self.assertEqual(names.returncode, 0, names.stderr)
        size_node = next(n for n in json.loads(names.stdout)["eval"] if n.startswith("size"))
        outputs = self.values("fpn=levels", "attn", size_node + "=count")
        parts = {(o["key"], o["path"]): o for o in outputs}
        fpn = self.seen["fpn"]
        self.assertEqual([p for k, p in parts if k == "levels"], [f"['{level}']" for level in fpn])
        for level, tensor in fpn.items():
            self.assertTensorPart(parts[("levels", f"['{level}']")], tensor)
            self.assertEqual(parts[("levels", f"['{level}']")]["node"], "fpn")
        self.assertTensorPart(parts[("attn", "[0]")], self.seen["attn"][0])
        self.assertEqual((parts[("attn", "[1]")]["type"], parts[("attn", "[1]")]["text"]), ("NoneType", "None"))
        count = parts[("count", "")]
        self.assertEqual(count["type"], "int")
        self.assertEqual(int(count["text"]), fpn["pool"].flatten(2).shape[2])

    def test_table(self):
        result = run(self.path, self.image, "--return", "attn", "--threads", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith("attn[0]") and "Tensor [1, " in lines[0] and "mean" in lines[0], lines[0])
        self.assertTrue(lines[1].startswith("attn[1]") and lines[1].endswith("NoneType = None"), lines[1])

    def test_bad_input(self):
        for args, message in [((self.path, "--return", "fpn"), "give MODEL.pt and one IMAGE"),
                              ((self.path, self.image), "--return NODE[=KEY]"),
                              ((self.path, self.image, "--return", "fpn", "--mode", "both"), "--mode must be train or eval")]:
            result = run(*args)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(message, result.stderr)
        result = run(self.path, self.image, "--return", "no.such.node")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no.such.node", result.stderr)
        self.assertIn(self.path, result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--work", required=True)
    options, rest = parser.parse_known_args()
    CLI, WORK = options.cli, options.work
    torch.set_num_threads(2)
    unittest.main(argv=[sys.argv[0], *rest])
