"""featscope-cli against the image and node-name corpus: unusual but valid images (grayscale, RGBA,
16-bit, 1x1, palette, CMYK) are converted and used; corrupt, truncated, hostile (a header claiming
50,000 x 50,000 pixels) or missing images and empty, 10,000-character or non-ASCII node names give a
clear error naming the input and a non-zero exit, never a signal or a memory blow-up.

/usr/bin/python3 test_bad_inputs.py --cli build/bin/featscope-cli
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from measured_run import run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = None
MEMORY_BOUND_KB = 1024 * 1024  # decoding a 50,000 x 50,000 image would need 10 GB

VALID_IMAGES = ["gray.png", "gray.jpg", "rgba.png", "gray16.png", "one_pixel.png", "palette.png", "cmyk.jpg",
                "wide.png"]
BROKEN_IMAGES = ["corrupt.jpg", "corrupt.png", "truncated.jpg", "huge_header.png", "huge_header.jpg",
                 "not_an_image.png", "zero_bytes.jpg", "thin.png"]
NAMES = ["", "x" * 10_000, "conv\u00e9\u4e2d\U0001F600", "conv.", "=key", "conv=", "conv\tx", "-conv"]


def run(args):
    return run_measured([CLI, *args])


class BadInputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-bad-inputs-")
        for script in ("make_bad_models.py", "make_bad_images.py"):
            subprocess.run([sys.executable, os.path.join(HERE, script), "--out", cls.dir], check=True)
        cls.model = os.path.join(cls.dir, "good.pt")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def features(self, image, out):
        return run(["features", self.model, "--return", "conv", "--pool", "avg", "-o", out, image])

    def test_unusual_images_are_converted(self):
        for name in VALID_IMAGES:
            with self.subTest(image=name):
                out = os.path.join(self.dir, "valid-" + name)
                code, stderr, rss = self.features(os.path.join(self.dir, name), out)
                self.assertEqual(code, 0, stderr)
                descriptors = np.load(out + ".npy")
                self.assertEqual(descriptors.shape, (1, 4))
                self.assertTrue(np.isfinite(descriptors).all())
                self.assertLess(rss, MEMORY_BOUND_KB)

    def test_broken_images_are_named(self):
        for name in BROKEN_IMAGES + ["missing.png"]:
            with self.subTest(image=name):
                path = os.path.join(self.dir, name)
                out = os.path.join(self.dir, "broken-" + name)
                code, stderr, rss = self.features(path, out)
                self.assertEqual(code, 1, stderr)
                self.assertIn(path, stderr)
                self.assertNotIn("terminate called", stderr)
                self.assertLess(rss, MEMORY_BOUND_KB, f"peak RSS {rss} KB")
                self.assertFalse(os.path.exists(out + ".npy"))

    def test_huge_header_is_refused_before_decoding(self):
        code, stderr, _ = self.features(os.path.join(self.dir, "huge_header.png"), os.path.join(self.dir, "huge"))
        self.assertEqual(code, 1)
        self.assertIn("50000 x 50000", stderr)

    def test_a_broken_image_among_good_ones_is_skipped_with_a_warning(self):
        folder = os.path.join(self.dir, "mixed")
        os.makedirs(folder, exist_ok=True)
        for name in ("gray.png", "rgba.png", "corrupt.png"):
            shutil.copy(os.path.join(self.dir, name), folder)
        out = os.path.join(self.dir, "mixed-out")
        code, stderr, _ = self.features(folder, out)
        self.assertEqual(code, 0, stderr)
        self.assertIn(os.path.join(folder, "corrupt.png"), stderr)
        self.assertEqual(np.load(out + ".npy").shape, (2, 4))

    def test_bad_node_names(self):
        for name in NAMES:
            for command in (["extract", self.model, "--return", name, "-o", os.path.join(self.dir, "n.pt")],
                            ["features", self.model, "--return", name, "-o", os.path.join(self.dir, "n"),
                             os.path.join(self.dir, "gray.png")]):
                with self.subTest(name=name[:20], command=command[0]):
                    code, stderr, _ = run(command)
                    self.assertIn(code, (1, 2), stderr)
                    self.assertTrue(stderr.strip(), "no message")
                    self.assertNotIn("terminate called", stderr)
                    self.assertNotIn("x" * 200, stderr, "the message repeats a 10,000-character name whole")
                    self.assertFalse(os.path.exists(os.path.join(self.dir, "n.pt")))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    args, rest = parser.parse_known_args()
    CLI = os.path.abspath(args.cli)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
