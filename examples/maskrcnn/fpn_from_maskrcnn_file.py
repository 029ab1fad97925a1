#!/usr/bin/python3
"""The FPN features of a scripted Mask R-CNN file, extracted with featscope: no model code, no hooks.

The counterpart of maskrcnn_from_featscope.py: there featscope makes a backbone body for a detector
written in Python; here the detector is already a TorchScript file (make_maskrcnn.py, or yours), and
featscope cuts out what its FPN computes:

    /usr/bin/python3 make_maskrcnn.py -o maskrcnn.pt
    featscope-cli extract maskrcnn.pt --return backbone.fpn=fpn -o maskrcnn_fpn.pt
    /usr/bin/python3 fpn_from_maskrcnn_file.py maskrcnn_fpn.pt IMAGE.png [--save levels.pt]

The extractor takes what the detector takes, a list of [3, H, W] images in [0, 1] (its transform
normalizes and resizes them), and returns {'fpn': {'0': ..., '1': ..., '2': ..., '3': ..., 'pool': ...}}:
the values a forward hook on the eager model's backbone.fpn sees. The file keeps code that calls
torchvision's C++ ops, so loading it needs them registered: `import torchvision` here, the op library
(featscope loads it by itself) elsewhere. --save writes the levels as a dict of tensors (torch.save).
"""
import argparse

import torch
import torchvision  # noqa: F401  (registers torchvision's ops, which the detector's code names)

from maskrcnn_from_featscope import load_image  # the same [3, H, W] image in [0, 1] as the other example


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("extractor", help="the file featscope-cli extract wrote (--return backbone.fpn=fpn)")
    ap.add_argument("image", help="an image")
    ap.add_argument("--key", default="fpn", help="the output key given to backbone.fpn (default: fpn)")
    ap.add_argument("--save", help="save the levels here (torch.save of a dict of tensors)")
    args = ap.parse_args()

    extractor = torch.jit.load(args.extractor).eval()
    image = load_image(args.image)
    with torch.no_grad():
        levels = extractor([image])[args.key]
    print(f"image {tuple(image.shape)}")
    for name, value in levels.items():
        print(f"{args.key} {name}: {tuple(value.shape)}")
    if args.save:
        torch.save(dict(levels), args.save)
        print(f"wrote {args.save}")


if __name__ == "__main__":
    main()
