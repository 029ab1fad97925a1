#!/usr/bin/python3
"""Writes Fashion-MNIST test images as PNG files for the features and retrieval tests.

  OUT/gallery/<class>/<test index>.png   the first --per-class test images of every class (28x28 gray)
  OUT/copies/<class>/<test index>_shift.png  and _scale.png: slightly moved / enlarged copies of the
                                         first --copies-per-class of them (near-duplicate queries)

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Idempotent: existing files are kept.
Run: /usr/bin/python3 make_fashion_images.py --out DIR [--per-class 200] [--copies-per-class 5]
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "resources", "training"))
from train_fashion_cnn import CLASSES, DATA_DIR, load_split  # noqa: E402


def slug(label):
    return CLASSES[label].lower().replace("t-shirt/top", "tshirt_top").replace(" ", "_")


def shifted(image, dx=1, dy=0):
    """The image moved right by dx and down by dy pixels, zero-filled."""
    out = np.zeros_like(image)
    out[dy:, dx:] = image[:image.shape[0] - dy, :image.shape[1] - dx]
    return out


def rescaled(image, factor=1.07):
    """The image enlarged by `factor` (bicubic) and centre-cropped back to its size."""
    h, w = image.shape
    big = Image.fromarray(image).resize((round(w * factor), round(h * factor)), Image.BICUBIC)
    left, top = (big.width - w) // 2, (big.height - h) // 2
    return np.asarray(big.crop((left, top, left + w, top + h)))


def save(array, path):
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(array, mode="L").save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=DATA_DIR)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--copies-per-class", type=int, default=5)
    args = ap.parse_args()
    images, labels = load_split(args.data, "test")
    for label in range(len(CLASSES)):
        indices = np.nonzero(labels == label)[0][:args.per_class]
        for rank, index in enumerate(indices):
            save(images[index], os.path.join(args.out, "gallery", slug(label), f"{index:05d}.png"))
            if rank < args.copies_per_class:
                base = os.path.join(args.out, "copies", slug(label), f"{index:05d}")
                save(shifted(images[index]), base + "_shift.png")
                save(rescaled(images[index]), base + "_scale.png")
    print(f"{args.out}: {args.per_class * len(CLASSES)} gallery images, "
          f"{2 * args.copies_per_class * len(CLASSES)} copies")


if __name__ == "__main__":
    main()
