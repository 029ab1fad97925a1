#!/usr/bin/python3
"""The Python side of benchmark.py's `features` figure: what a user writes with PIL, torchvision's transforms and
torchvision's extractor, with torch's default thread count (nothing set).

    python_features.py --model resnet50|vit_b_16 --weights SCRIPTED.pt --images DIR --batch N --out OUT.npy

Prints one JSON line: {"images_per_s": ..., "threads": torch.get_num_threads(), "images": N}. The rate is over
the image loop alone (decode, preprocess, forward, pool), as featscope-cli prints its own.
ResNet-50: create_feature_extractor at layer4, average pooled. ViT-B/16: torch.fx cannot trace it ("Proxy object
cannot be iterated"), so the same value comes from a forward hook on encoder.ln, class token taken.
"""
import argparse
import glob
import json
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["resnet50", "vit_b_16"], required=True)
    ap.add_argument("--weights", required=True, help="the scripted model whose state_dict the eager model takes")
    ap.add_argument("--images", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    model = getattr(torchvision.models, args.model)()
    model.load_state_dict(torch.jit.load(args.weights).state_dict())
    model.eval()
    if args.model == "resnet50":
        from torchvision.models.feature_extraction import create_feature_extractor
        extractor = create_feature_extractor(model, {"layer4": "f"})

        def describe(x):
            return extractor(x)["f"].mean((2, 3))
    else:
        captured = {}
        model.encoder.ln.register_forward_hook(lambda module, inputs, output: captured.update(f=output))

        def describe(x):
            model(x)
            return captured["f"][:, 0]
    steps = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    paths = sorted(glob.glob(os.path.join(args.images, "*.*")))
    rows = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), args.batch):
            x = torch.stack([steps(Image.open(p).convert("RGB")) for p in paths[i:i + args.batch]])
            rows.append(describe(x).numpy())
    rate = len(paths) / (time.perf_counter() - start)
    np.save(args.out, np.concatenate(rows))
    print(json.dumps({"images_per_s": rate, "threads": torch.get_num_threads(), "images": len(paths)}))


if __name__ == "__main__":
    main()
