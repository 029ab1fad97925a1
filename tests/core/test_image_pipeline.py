#!/usr/bin/python3
"""The one image pipeline (imaging/, featscope_imaging) against torchvision's transforms.

Both ways it is used are compared with Resize / CenterCrop / ToTensor / Normalize on PIL images: the
library itself (through the preprocess_image tool, as featscope-cli features and cam call it) and the
engine's run request (what the inspector's heatmaps are computed from, read back from the run's output
of an identity-like model). Odd crop offsets and padding follow torchvision's rounding; a malformed
featscope.json or request is an error naming the file, in the library and in the engine alike.

Run: /usr/bin/python3 test_image_pipeline.py --tool build/.../preprocess_image --engine build/bin/featscope-engine
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
from test_engine import Engine  # noqa: E402

TOOL = ENGINE = None
IMAGENET = {"resize": 256, "centerCrop": 224, "channels": 3,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class Times1(torch.nn.Module):
    """Returns its input through one named node ("mul"): the engine's output is its input tensor."""

    def forward(self, x):
        return x * 1.0


def torchvision_reference(path, p):
    steps = []
    if p["resize"]:
        steps.append(transforms.Resize(p["resize"]))
    if p["centerCrop"]:
        steps.append(transforms.CenterCrop(p["centerCrop"]))
    steps += [transforms.ToTensor(), transforms.Normalize(p["mean"] * (p["channels"] // len(p["mean"])),
                                                          p["std"] * (p["channels"] // len(p["std"])))]
    return transforms.Compose(steps)(Image.open(path).convert("L" if p["channels"] == 1 else "RGB")).numpy()


class ImagePipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-image-pipeline-")
        rng = np.random.default_rng(0)
        cls.images = {}

        def save(name, array):
            cls.images[name] = os.path.join(cls.dir, name)
            Image.fromarray(array).save(cls.images[name])

        save("noise_300x256.png", rng.integers(0, 256, (300, 256, 3), dtype=np.uint8))
        save("noise_odd_229x231.png", rng.integers(0, 256, (229, 231, 3), dtype=np.uint8))  # offsets 2.5, 3.5
        save("gray_21x17.png", rng.integers(0, 256, (17, 21), dtype=np.uint8))  # smaller than the crop
        y, x = np.mgrid[0:120, 0:200]
        smooth = np.stack([x * 255 / 199, y * 255 / 119, (x + y) * 255 / 318], axis=-1)
        save("smooth_200x120.png", smooth.round().astype(np.uint8))
        cls.model = os.path.join(cls.dir, "times1.pt")
        torch.jit.script(Times1()).save(cls.model)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    # name, preprocessing, tolerance: exact where no resampling happens; Qt's smooth scaling is not
    # PIL's antialiased bilinear, so a resize is compared by its mean and largest difference (in
    # normalised units, 0.02 and 0.06 are about 1 and 3.5 grey levels; measured: 0.011 and 0.035).
    CASES = [
        ("noise_300x256.png", IMAGENET, None),
        ("noise_odd_229x231.png", {**IMAGENET, "resize": 0}, None),
        ("gray_21x17.png", {"resize": 0, "centerCrop": 40, "channels": 1, "mean": [0.5], "std": [0.25]}, None),
        ("gray_21x17.png", {"resize": 0, "centerCrop": 0, "channels": 3, "mean": [0.5], "std": [0.5]}, None),
        ("smooth_200x120.png", {**IMAGENET, "resize": 64, "centerCrop": 56}, (0.02, 0.06)),
    ]

    def assertMatches(self, got, expected, tolerance, what):
        self.assertEqual(list(got.shape), list(expected.shape), what)
        difference = np.abs(got - expected)
        if tolerance is None:
            self.assertLess(difference.max(), 1e-5, what)
        else:
            self.assertLess(difference.mean(), tolerance[0], what)
            self.assertLess(difference.max(), tolerance[1], what)

    def library(self, image, preprocessing):
        out = os.path.join(self.dir, "tool.f32")
        r = subprocess.run([TOOL, "--request", json.dumps(preprocessing), image, out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return np.fromfile(out, dtype="<f4").reshape(json.loads(r.stdout))

    def test_library_matches_torchvision(self):
        for name, preprocessing, tolerance in self.CASES:
            with self.subTest(image=name, preprocessing=preprocessing):
                path = self.images[name]
                self.assertMatches(self.library(path, preprocessing), torchvision_reference(path, preprocessing),
                                   tolerance, name)

    def test_engine_run_matches_torchvision(self):
        engine = Engine(engine=ENGINE)
        try:
            self.assertTrue(engine.request("load", path=self.model)["ok"])
            for name, preprocessing, tolerance in self.CASES:
                with self.subTest(image=name, preprocessing=preprocessing):
                    path = self.images[name]
                    response = engine.request("run", image=path, preprocessing=preprocessing,
                                              returnNodes=[{"node": "mul", "key": "x"}])
                    self.assertTrue(response["ok"], response)
                    output = response["outputs"][0]
                    values = np.frombuffer(output["values"], dtype="<f4").reshape(output["shape"])[0]
                    expected = torchvision_reference(path, preprocessing)
                    self.assertMatches(values, expected, tolerance, name)
                    # The inspector and the CLI see the same pixels, bit for bit.
                    np.testing.assert_array_equal(values, self.library(path, preprocessing))
        finally:
            engine.close()

    def test_model_metadata_is_read_strictly_by_both(self):
        image = self.images["gray_21x17.png"]
        cases = {
            "malformed.pt": ("{\"channels\": 1,", "Cannot read featscope.json in"),
            "infinite_mean.pt": ("{\"channels\": 1, \"mean\": [1e999]}", "featscope.json in"),
            "text_std.pt": ("{\"channels\": 1, \"std\": \"wide\"}", "std must be a number or a list of numbers"),
            "five_channels.pt": ("{\"channels\": 5}", "channels is 5"),
            # The engine gets the record from the reader's report, cut at 1 MB + 1 byte: still refused.
            "oversized.pt": (json.dumps({"channels": 1, "note": "x" * (1 << 20)}), "is larger than 1 MB"),
        }
        engine = Engine(engine=ENGINE)
        try:
            self.assertTrue(engine.request("load", path=self.model)["ok"])
            for name, (metadata, needle) in cases.items():
                model = os.path.join(self.dir, name)
                torch.jit.save(torch.jit.script(Times1()), model, _extra_files={"featscope.json": metadata})
                with self.subTest(model=name):
                    r = subprocess.run([TOOL, "--model", model, image, os.path.join(self.dir, "x.f32")],
                                       capture_output=True, text=True, timeout=60)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(model, r.stderr)
                    self.assertIn(needle, r.stderr)
                    response = engine.request("load", path=model)
                    self.assertFalse(response["ok"], response)
                    self.assertIn(model, response["error"])
                    self.assertIn(needle, response["error"])
            # The model loaded before the bad ones still runs.
            response = engine.request("run", image=image, preprocessing={**IMAGENET, "centerCrop": 8},
                                      returnNodes=[{"node": "mul"}])
            self.assertTrue(response["ok"], response)
            # A model's featscope.json reaches the GUI in the request's spelling.
            good = os.path.join(self.dir, "gray_model.pt")
            torch.jit.save(torch.jit.script(Times1()), good,
                           _extra_files={"featscope.json": json.dumps({"input_size": [28, 28], "channels": 1})})
            response = engine.request("load", path=good)
            self.assertTrue(response["ok"], response)
            self.assertEqual(response["preprocessing"],
                             {"resize": 28, "centerCrop": 28, "channels": 1, "mean": [0.5], "std": [0.5]})
        finally:
            engine.close()

    def test_bad_request_preprocessing_is_an_error(self):
        image = self.images["gray_21x17.png"]
        engine = Engine(engine=ENGINE)
        try:
            self.assertTrue(engine.request("load", path=self.model)["ok"])
            for preprocessing, needle in [({"mean": "half"}, "mean must be a number"),
                                          ({"std": [0.0]}, "std values must be finite and non-zero"),
                                          ({"resize": 2.5}, "resize must be a whole number"),
                                          ({"channels": 2}, "channels is 2")]:
                with self.subTest(preprocessing=preprocessing):
                    response = engine.request("run", image=image, preprocessing=preprocessing,
                                              returnNodes=[{"node": "mul"}])
                    self.assertFalse(response["ok"], response)
                    self.assertIn("preprocessing", response["error"])
                    self.assertIn(needle, response["error"])
        finally:
            engine.close()


def main():
    global TOOL, ENGINE
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    parser.add_argument("--engine", required=True)
    args, rest = parser.parse_known_args()
    TOOL, ENGINE = os.path.abspath(args.tool), os.path.abspath(args.engine)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
