"""Seeded torchvision models for the CAM and token-pooling tests, scripted for featscope and kept
eager for the Python references (forward/backward hooks), plus a test image.

The scripted files carry featscope.json with input_size 224, so featscope-cli neither resizes nor
crops the 224 x 224 test image and both sides see the same preprocessed input.
"""
import argparse
import json
import os
import sys
import unittest

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PREPROCESSING = {"input_size": 224, "channels": 3, "mean": MEAN.tolist(), "std": STD.tolist()}


def make_model(name):
    """torchvision model `name` with weights seeded by its name, in eval mode."""
    torch.manual_seed(sum(map(ord, name)))
    model = getattr(torchvision.models, name)().eval()
    if name.startswith("vit_"):
        # torchvision starts the head at zero, which would make every gradient zero.
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)
        torch.nn.init.normal_(model.heads.head.bias, std=0.02)
    return model


def scripted_path(model, name, folder):
    """Saves torch.jit.script(model) with featscope.json into folder (reused when present)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".pt")
    if not os.path.exists(path):
        temporary = path + ".tmp"
        torch.jit.save(torch.jit.script(model), temporary, _extra_files={"featscope.json": json.dumps(PREPROCESSING)})
        os.replace(temporary, path)
    return path


def test_image(folder, name="input.png", seed=0):
    """A 224 x 224 RGB image of smooth blobs (not noise, so maps have structure) and its tensor
    [1, 3, 224, 224] preprocessed as featscope does."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:224, 0:224].astype(np.float32)
    image = np.zeros((224, 224, 3), np.float32)
    for _ in range(6):
        cy, cx, radius = rng.uniform(30, 194), rng.uniform(30, 194), rng.uniform(15, 50)
        image += rng.uniform(0, 1, 3) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))[..., None]
    pixels = np.clip(image / image.max() * 255, 0, 255).astype(np.uint8)
    path = os.path.join(folder, name)
    Image.fromarray(pixels).save(path)
    normalised = (pixels.astype(np.float32) / 255.0 - MEAN) / STD
    return path, torch.from_numpy(normalised).permute(2, 0, 1).unsqueeze(0).contiguous()


def module_at(model, path):
    for part in path.split("."):
        model = getattr(model, part)
    return model


def main(test_module):
    """Sets test_module.CLI and WORK from --cli and --work, then runs its tests."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--work", required=True)
    args, rest = parser.parse_known_args()
    test_module.CLI, test_module.WORK = os.path.abspath(args.cli), os.path.abspath(args.work)
    unittest.main(module=test_module, argv=[sys.argv[0], *rest], verbosity=2)
