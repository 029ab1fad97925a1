#!/usr/bin/python3
"""Retrieval quality of `featscope-cli features` descriptors on Fashion-MNIST's test split.

- Same-class retrieval: every gallery image (200 per class, 2000 in all) queries the others;
  precision@1 from an intermediate node (features.block3, 128-d average-pooled and 1152-d
  flattened) must beat raw pixels by at least 5 points.
- Near-duplicates: copies moved by one pixel or enlarged by 7% (50 each) must find their original
  as nearest neighbour among the 2000 far more often than with raw pixels.

Searches with the retrieval example (examples/retrieval/retrieve.py, FAISS when installed).
Run: /usr/bin/python3 test_retrieval.py --cli build/bin/featscope-cli --images DIR --work DIR
"""
import argparse
import glob
import os
import subprocess
import sys
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402
import retrieve  # noqa: E402  (examples/retrieval, put on the path by reference)

CLI = IMAGES = WORK = None
MARGIN = 0.05


def features(name, folder, *options):
    out = os.path.join(WORK, "retrieval", name + ".npy")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = subprocess.run([CLI, "features", reference.MODEL, *options, "--l2-normalize", "-o", out, folder],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return out


def pixels(paths):
    rows = np.stack([np.asarray(Image.open(p), dtype=np.float32).ravel() / 255.0 for p in paths])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(1e-12)


def original_of(copy_path):
    name = os.path.basename(copy_path).rsplit("_", 1)[0] + ".png"
    return os.path.join(IMAGES, "gallery", os.path.basename(os.path.dirname(copy_path)), name)


class RetrievalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gallery_dir = os.path.join(IMAGES, "gallery")
        cls.copies_dir = os.path.join(IMAGES, "copies")
        cls.paths = sorted(glob.glob(os.path.join(cls.gallery_dir, "*", "*.png")))
        cls.labels = retrieve.folder_labels(cls.paths)
        cls.pixels = pixels(cls.paths)
        cls.report = []

    @classmethod
    def tearDownClass(cls):
        print("\n" + "\n".join(cls.report))

    def precision(self, rows):
        indices, _ = retrieve.search(np.ascontiguousarray(rows), None, 1)
        return retrieve.precision_at(indices, self.labels, self.labels, 1)

    def test_same_class_precision_beats_pixels(self):
        baseline = self.precision(self.pixels)
        for name, options in [("block3_avg", ["--return", "features.block3"]),
                              ("block3_flat", ["--return", "features.block3", "--pool", "none"])]:
            with self.subTest(name):
                rows, paths = retrieve.load(features(name, self.gallery_dir, *options))
                self.assertEqual([os.path.abspath(p) for p in paths], self.paths)
                p1 = self.precision(rows)
                self.report.append(f"precision@1 {name} ({rows.shape[1]}-d): {p1:.4f}  raw pixels (784-d): {baseline:.4f}")
                self.assertGreaterEqual(p1, baseline + MARGIN)

    def test_retrieval_example_prints_precision(self):
        out = features("block3_avg", self.gallery_dir, "--return", "features.block3")
        r = subprocess.run([sys.executable, os.path.join(reference.ROOT, "examples", "retrieval", "retrieve.py"),
                            out, "--precision", "-k", "5", "--show", "2"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("precision@1: 0.8", r.stdout)
        self.assertIn("2000 queries, 2000 gallery images, 128 dimensions", r.stdout)

    def test_shifted_and_rescaled_copies_find_their_original(self):
        gallery, _ = retrieve.load(features("copies_gallery", self.gallery_dir, "--return", "features.block3",
                                            "--pool", "none"))
        queries, query_paths = retrieve.load(features("copies", self.copies_dir, "--return", "features.block3",
                                                      "--pool", "none"))
        self.assertEqual(len(query_paths), 100)
        expected = np.array([self.paths.index(original_of(p)) for p in query_paths])
        found, _ = retrieve.search(gallery, queries, 1)
        found_pixels, _ = retrieve.search(self.pixels, pixels(query_paths), 1)
        for kind in ("shift", "scale"):
            mask = np.array([f"_{kind}." in p for p in query_paths])
            rate = float((found[mask, 0] == expected[mask]).mean())
            rate_pixels = float((found_pixels[mask, 0] == expected[mask]).mean())
            self.report.append(f"copies ({kind}) found as nearest neighbour: block3 {rate:.2f}, raw pixels {rate_pixels:.2f}")
            with self.subTest(kind):
                self.assertGreaterEqual(rate, 0.8)
                self.assertGreaterEqual(rate, rate_pixels + 0.2)


def main():
    global CLI, IMAGES, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    CLI, IMAGES, WORK = os.path.abspath(args.cli), os.path.abspath(args.images), os.path.abspath(args.work)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
