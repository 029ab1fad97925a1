#!/usr/bin/python3
"""torchvision's Mask R-CNN example from featscope's export, in Python and C++.

1. examples/maskrcnn/make_resnet50.py scripts a seeded ResNet-50; `featscope-cli extract` makes
   its body (layer1..layer4 as '0'..'3').
2. examples/maskrcnn/maskrcnn_from_featscope.py builds the documentation's Resnet50WithFPN +
   MaskRCNN(num_classes=91) on that body, runs it on a bundled image and scripts the FPN.
3. The same detector with torchvision's create_feature_extractor body (same weights) gives the
   same pyramid and detections.
4. examples/maskrcnn/fpn_shapes (C++, LibTorch only) loads body + FPN and prints the pyramid's
   shapes, which must be the ones Python gets.
5. The counterpart, from a scripted Mask R-CNN file: examples/maskrcnn/make_maskrcnn.py scripts one,
   `featscope-cli extract --return backbone.fpn=fpn` cuts out its FPN, and
   examples/maskrcnn/fpn_from_maskrcnn_file.py prints the levels, which equal what a forward hook on
   the eager model's backbone.fpn sees (same weights).

Run: /usr/bin/python3 test_maskrcnn.py --cli featscope-cli --fpn-shapes fpn_shapes --work DIR
"""
import argparse
import copy
import os
import re
import subprocess
import sys
import unittest

import torch
from torchvision.models import resnet50
from torchvision.models.feature_extraction import create_feature_extractor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "examples", "maskrcnn")
sys.path.insert(0, EXAMPLE)
import maskrcnn_from_featscope as example  # noqa: E402

IMAGE = os.path.join(ROOT, "resources", "images", "ankle_boot_0_rgb224.png")
CLI = FPN_SHAPES = WORK = None
MIN_SIZE = 320  # MaskRCNN resizes to min_size; smaller than torchvision's 800 to keep the test fast
torch.set_num_threads(2)


def run(args, timeout=900):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


class MaskRcnnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.resnet = os.path.join(WORK, "resnet50.pt")
        cls.body = os.path.join(WORK, "resnet50_body.pt")
        cls.fpn = os.path.join(WORK, "fpn.pt")
        run([sys.executable, os.path.join(EXAMPLE, "make_resnet50.py"), "-o", cls.resnet])
        run([CLI, "extract", cls.resnet, "--return", "layer1=0", "--return", "layer2=1", "--return", "layer3=2",
             "--return", "layer4=3", "-o", cls.body])
        cls.example_output = run([sys.executable, os.path.join(EXAMPLE, "maskrcnn_from_featscope.py"), cls.body, IMAGE,
                                  "--min-size", str(MIN_SIZE), "--save-fpn", cls.fpn])

    def test_python_example_runs_the_detector(self):
        out = self.example_output
        self.assertIn("pyramid pool: (1, 256,", out)
        for key in "0123":
            self.assertIn(f"pyramid {key}: (1, 256,", out)
        self.assertRegex(out, r"detections: \d+ \(boxes \(\d+, 4\), masks \(\d+, 1, \d+, \d+\)\)")
        self.assertTrue(os.path.getsize(self.fpn) > 0)

    def test_same_detector_as_torchvisions_extractor(self):
        torch.manual_seed(0)
        model = example.MaskRCNN(example.Resnet50WithFPN(self.body), num_classes=91, min_size=MIN_SIZE).eval()
        # The documentation's body, from torchvision, on the same weights.
        m = resnet50()
        m.load_state_dict(torch.jit.load(self.resnet).state_dict())
        reference = copy.deepcopy(model)
        reference.backbone.body = create_feature_extractor(
            m, return_nodes={f'layer{k}': str(v) for v, k in enumerate([1, 2, 3, 4])}).eval()
        image = example.load_image(IMAGE)
        with torch.no_grad():
            x = torch.randn(2, 3, 224, 224)
            ours, theirs = model.backbone.body(x), reference.backbone.body(x)
            self.assertEqual(list(ours), list(theirs))
            for key in ours:
                torch.testing.assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-4)
            got, expected = model([image])[0], reference([image])[0]
        self.assertEqual(set(got), {"boxes", "labels", "scores", "masks"})
        self.assertEqual(got["boxes"].shape, expected["boxes"].shape)
        for key in got:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-3, atol=1e-3)
        # Like torchvision's extractor, the body trains end to end inside the detector.
        model.train()
        target = {"boxes": torch.tensor([[20.0, 30.0, 120.0, 160.0]]), "labels": torch.tensor([5]),
                  "masks": torch.zeros(1, image.shape[1], image.shape[2], dtype=torch.uint8)}
        target["masks"][0, 30:160, 20:120] = 1
        losses = model([image], [target])
        sum(losses.values()).backward()
        self.assertIsNotNone(model.backbone.body.conv1.weight.grad)

    def test_cpp_example_prints_the_pyramid_shapes(self):
        out = run([FPN_SHAPES, self.body, self.fpn, "224", "288"])
        lines = dict(re.findall(r"^((?:body|pyramid) \w+): \[([\d, ]+)\]$", out, re.M))
        body, fpn = torch.jit.load(self.body).eval(), torch.jit.load(self.fpn).eval()
        with torch.no_grad():
            features = body(torch.rand(1, 3, 224, 288))
            pyramid = fpn(features)
        expected = {f"body {k}": ", ".join(map(str, v.shape)) for k, v in features.items()}
        expected.update({f"pyramid {k}": ", ".join(map(str, v.shape)) for k, v in pyramid.items()})
        self.assertEqual(lines, expected)
        self.assertEqual(lines["pyramid pool"], "1, 256, 4, 5")
        self.assertEqual(lines["body 3"], "1, 2048, 7, 9")


class MaskRcnnFileTest(unittest.TestCase):
    """The FPN of a scripted Mask R-CNN file, extracted by featscope (min_size 320 keeps it quick)."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.maskrcnn = os.path.join(WORK, "maskrcnn.pt")
        cls.extractor = os.path.join(WORK, "maskrcnn_fpn.pt")
        cls.levels = os.path.join(WORK, "maskrcnn_fpn_levels.pt")
        run([sys.executable, os.path.join(EXAMPLE, "make_maskrcnn.py"), "-o", cls.maskrcnn,
             "--min-size", str(MIN_SIZE), "--max-size", str(MIN_SIZE)])
        run([CLI, "extract", cls.maskrcnn, "--return", "backbone.fpn=fpn", "-o", cls.extractor])
        cls.example_output = run([sys.executable, os.path.join(EXAMPLE, "fpn_from_maskrcnn_file.py"), cls.extractor,
                                  IMAGE, "--save", cls.levels])

    def test_example_prints_the_levels(self):
        # 224 px resized to 320: strides 4, 8, 16, 32 and the pool level.
        for key, side in [("0", 80), ("1", 40), ("2", 20), ("3", 10), ("pool", 5)]:
            self.assertIn(f"fpn {key}: (1, 256, {side}, {side})", self.example_output)

    def test_levels_equal_a_hook_on_the_eager_model(self):
        from torchvision.models.detection import maskrcnn_resnet50_fpn
        eager = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=MIN_SIZE, max_size=MIN_SIZE)
        eager.load_state_dict(torch.jit.load(self.maskrcnn).state_dict())
        eager.eval()
        seen = {}
        eager.backbone.fpn.register_forward_hook(lambda module, inputs, output: seen.update(output))
        with torch.no_grad():
            eager([example.load_image(IMAGE)])
        levels = torch.load(self.levels)
        self.assertEqual(list(levels), list(seen))
        for key in seen:
            torch.testing.assert_close(levels[key], seen[key], rtol=1e-4, atol=1e-3)


def main():
    global CLI, FPN_SHAPES, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--fpn-shapes", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    CLI, FPN_SHAPES, WORK = map(os.path.abspath, (args.cli, args.fpn_shapes, args.work))
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
