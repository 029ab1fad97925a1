#!/usr/bin/python3
"""Step 1: a TorchScript ResNet-50 to give featscope (random weights, seeded; no download).

    /usr/bin/python3 make_resnet50.py -o resnet50.pt
    featscope-cli extract resnet50.pt --return layer1=0 --return layer2=1 \
        --return layer3=2 --return layer4=3 -o resnet50_body.pt

Any scripted or traced ResNet-50 works the same way, e.g. one with trained weights:
torch.jit.script(torchvision.models.resnet50(weights=...)).save("resnet50.pt").
"""
import argparse

import torch
from torchvision.models import resnet50


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="resnet50.pt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.jit.script(resnet50().eval()).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
