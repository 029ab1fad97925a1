#!/usr/bin/python3
"""`featscope-cli top-images`: which images excite a channel most, against values computed here.

A scripted model that average-pools its input (node `pool`) and clamps it (node `relu`) runs on solid
colour images, whose preprocessed values are known exactly: (value / 255 - mean) / std per channel
(ImageNet's normalisation; resizing and cropping a solid image keeps it solid). So each channel's
ranking, every score and the maps are predictable here; ties keep the images' sorted order. Also: the
CSV table, a second command reusing the scores instead of running the model, an unreadable image
skipped, a channel out of range and malformed command lines.

Run: /usr/bin/python3 test_top_images.py --cli build/bin/featscope-cli --work DIR
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import unittest

import torch
from PIL import Image

CLI = WORK = None
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
COLOURS = {"blue": (0, 0, 255), "green": (0, 255, 0), "grey": (128, 128, 128), "orange": (200, 100, 0),
           "red": (250, 0, 0)}


class PoolAndClamp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AvgPool2d(8)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        return self.relu(self.pool(x))


def normalised(name, channel):
    return (COLOURS[name][channel] / 255.0 - MEAN[channel]) / STD[channel]


def run(*args):
    return subprocess.run([CLI, "top-images", *args], capture_output=True, text=True, timeout=300)


class TopImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.model = os.path.join(WORK, "pool_and_clamp.pt")
        torch.jit.script(PoolAndClamp()).save(cls.model)
        cls.images = os.path.join(WORK, "images")
        os.makedirs(cls.images, exist_ok=True)
        for name, colour in COLOURS.items():
            Image.new("RGB", (64, 48), colour).save(os.path.join(cls.images, name + ".png"))
        with open(os.path.join(cls.images, "broken.png"), "wb") as f:
            f.write(b"not a png")

    def ranked(self, out, *args):
        result = run(self.model, *args, "--threads", "2", "-o", out, self.images)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def names(self, top):
        return [os.path.splitext(os.path.basename(entry["image"]))[0] for entry in top]

    def test_rankings_scores_and_maps(self):
        out = os.path.join(WORK, "pool.json")
        result = self.ranked(out, "--return", "pool", "-k", "3", "--channel", "0", "--channel", "2")
        self.assertIn("broken.png", result.stderr)  # skipped with a warning
        with open(out) as f:
            report = json.load(f)
        self.assertEqual((report["format"], report["node"], report["score"], report["k"], report["images"]),
                         ("featscope-top-images/1", "pool", "mean", 3, 5))
        channels = {c["channel"]: c["top"] for c in report["channels"]}
        self.assertEqual(sorted(channels), [0, 2])
        self.assertEqual(self.names(channels[0]), ["red", "orange", "grey"])
        # Blue first, then grey; the three images without blue tie, and keep their sorted order.
        self.assertEqual(self.names(channels[2]), ["blue", "grey", "green"])
        for channel, top in channels.items():
            for entry, name in zip(top, self.names(top)):
                expected = normalised(name, channel)
                self.assertAlmostEqual(entry["score"], expected, places=4, msg=f"{name} channel {channel}")
                grid = entry["map"]
                self.assertEqual((grid["height"], grid["width"]), (28, 28))  # 224 / 8
                self.assertEqual(len(grid["values"]), 28 * 28)
                self.assertLess(max(abs(v - expected) for v in grid["values"]), 1e-4)

    def test_every_channel_csv_and_reuse(self):
        out = os.path.join(WORK, "relu.csv")
        self.ranked(out, "--return", "relu", "-k", "2", "--score", "max")
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 3 * 2)
        by_channel = {}
        for row in rows:
            by_channel.setdefault(int(row["channel"]), []).append(row)
        for channel, top in by_channel.items():
            self.assertEqual([int(r["rank"]) for r in top], [1, 2])
            best = max(COLOURS, key=lambda n: (max(normalised(n, channel), 0.0), -sorted(COLOURS).index(n)))
            self.assertEqual(os.path.basename(top[0]["image"]), best + ".png")
            self.assertAlmostEqual(float(top[0]["score"]), max(normalised(best, channel), 0.0), places=4)
        # Another -k: the scores are read again, not computed.
        result = self.ranked(out, "--return", "relu", "-k", "4", "--score", "max")
        self.assertIn("up to date", result.stderr)
        with open(out, newline="") as f:
            self.assertEqual(len(list(csv.DictReader(f))), 3 * 4)

    def test_bad_input(self):
        out = os.path.join(WORK, "bad.json")
        result = run(self.model, "--return", "pool", "--channel", "3", "--threads", "2", "-o", out, self.images)
        self.assertEqual(result.returncode, 1)
        self.assertIn("has 3 channels (0 to 2); there is no channel 3", result.stderr)
        self.assertFalse(os.path.exists(out))
        for args, message in [(("--return", "pool", "-o", os.path.join(WORK, "x.txt"), self.images), "OUT.json or OUT.csv"),
                              (("--return", "pool", "--score", "median", "-o", out, self.images), "--score must be mean or max"),
                              (("--return", "pool", "-k", "0", "-o", out, self.images), "-k"),
                              (("-o", out, self.images), "--return NODE")]:
            result = run(self.model, *args)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(message, result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--work", required=True)
    options, rest = parser.parse_known_args()
    CLI, WORK = options.cli, options.work
    torch.manual_seed(0)
    unittest.main(argv=[sys.argv[0], *rest])
