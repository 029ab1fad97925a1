#!/usr/bin/python3
"""A scripted Mask R-CNN file to give featscope (random weights, seeded; no download).

    /usr/bin/python3 make_maskrcnn.py -o maskrcnn.pt
    featscope-cli extract maskrcnn.pt --return backbone.fpn=fpn -o maskrcnn_fpn.pt
    /usr/bin/python3 fpn_from_maskrcnn_file.py maskrcnn_fpn.pt IMAGE.png

Any scripted Mask R-CNN works the same way, e.g. one with trained weights:
torch.jit.script(torchvision.models.detection.maskrcnn_resnet50_fpn(weights=...).eval()).save("maskrcnn.pt").
"""
import argparse

import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="maskrcnn.pt")
    ap.add_argument("--min-size", type=int, default=800, help="MaskRCNN's min_size (default 800, torchvision's)")
    ap.add_argument("--max-size", type=int, default=1333, help="MaskRCNN's max_size (default 1333, torchvision's)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=args.min_size, max_size=args.max_size)
    torch.jit.script(model.eval()).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
