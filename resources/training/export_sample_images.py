#!/usr/bin/python3
"""Export featscope's sample images from Debian's Fashion-MNIST test split.

Writes resources/images/<class>_<test index>.png (28x28 grayscale, the raw test images) for six
classes, plus one upscaled RGB copy (224x224, bicubic) for GUI demos.

Run from the repository root:  /usr/bin/python3 resources/training/export_sample_images.py
"""
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fashion_cnn import CLASSES, DATA_DIR, RESOURCES, load_split  # noqa: E402

# Classes to export (label index); the first test image of each class is used.
WANTED = [9, 0, 1, 2, 7, 8]  # ankle boot, t-shirt/top, trouser, pullover, sneaker, bag
RGB_SOURCE = 9               # class whose sample also gets a 224x224 RGB version


def slug(label):
    return CLASSES[label].lower().replace("t-shirt/top", "tshirt_top").replace(" ", "_")


def main():
    out = os.path.join(RESOURCES, "images")
    os.makedirs(out, exist_ok=True)
    images, labels = load_split(DATA_DIR, "test")
    for label in WANTED:
        idx = int((labels == label).nonzero()[0][0])
        img = Image.fromarray(images[idx], mode="L")
        path = os.path.join(out, f"{slug(label)}_{idx}.png")
        img.save(path, optimize=True)
        print(path)
        if label == RGB_SOURCE:
            rgb = img.convert("RGB").resize((224, 224), Image.BICUBIC)
            path = os.path.join(out, f"{slug(label)}_{idx}_rgb224.png")
            rgb.save(path, optimize=True)
            print(path)


if __name__ == "__main__":
    main()
