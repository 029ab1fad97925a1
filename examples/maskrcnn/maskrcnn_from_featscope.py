#!/usr/bin/python3
"""torchvision's Mask R-CNN example (feature_extraction docs), with the backbone body made by featscope.

torchvision builds the body with create_feature_extractor(resnet50(), return_nodes=...). Here it is
the TorchScript file `featscope-cli extract` wrote, loaded with torch.jit.load; everything else is
the documentation's code unchanged:

    /usr/bin/python3 make_resnet50.py -o resnet50.pt
    featscope-cli extract resnet50.pt --return layer1=0 --return layer2=1 \
        --return layer3=2 --return layer4=3 -o resnet50_body.pt
    /usr/bin/python3 maskrcnn_from_featscope.py resnet50_body.pt IMAGE.png [--save-fpn fpn.pt]

It prints the pyramid's shapes and the detections (with random weights they mean nothing; train the
model, body included, as with torchvision's extractor). --save-fpn writes the FPN as TorchScript for
the C++ example (fpn_shapes.cpp).
"""
import argparse

import numpy as np
import torch
from PIL import Image
from torchvision.models.detection.backbone_utils import LastLevelMaxPool
from torchvision.models.detection.mask_rcnn import MaskRCNN
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork


# MaskRCNN requires a backbone with an attached FPN
class Resnet50WithFPN(torch.nn.Module):
    def __init__(self, body_path):
        super(Resnet50WithFPN, self).__init__()
        # The 4 main layers, extracted by featscope (MaskRCNN needs this particular name
        # mapping for return nodes: layer1..layer4 as '0'..'3')
        self.body = torch.jit.load(body_path)
        # Dry run to get number of channels for FPN
        inp = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            out = self.body(inp)
        in_channels_list = [o.shape[1] for o in out.values()]
        # Build FPN
        self.out_channels = 256
        self.fpn = FeaturePyramidNetwork(
            in_channels_list, out_channels=self.out_channels,
            extra_blocks=LastLevelMaxPool())

    def forward(self, x):
        x = self.body(x)
        x = self.fpn(x)
        return x


def load_image(path):
    """A [3, H, W] float tensor in [0, 1], as MaskRCNN takes it (it normalizes and resizes itself)."""
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("body", help="the body featscope-cli extract wrote (layer1..layer4 as '0'..'3')")
    ap.add_argument("image", help="an image to run the detector on")
    ap.add_argument("--min-size", type=int, default=800, help="MaskRCNN's min_size (default 800, torchvision's)")
    ap.add_argument("--max-size", type=int, default=1333, help="MaskRCNN's max_size (default 1333, torchvision's)")
    ap.add_argument("--save-fpn", help="also save the FPN as TorchScript here (for fpn_shapes.cpp)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    # Now we can build our model!
    model = MaskRCNN(Resnet50WithFPN(args.body), num_classes=91,
                     min_size=args.min_size, max_size=args.max_size).eval()

    image = load_image(args.image)
    with torch.no_grad():
        resized, _ = model.transform([image])
        pyramid = model.backbone(resized.tensors)
        detections = model([image])[0]
    print(f"image {tuple(image.shape)} -> model input {tuple(resized.tensors.shape)}")
    for key, value in pyramid.items():
        print(f"pyramid {key}: {tuple(value.shape)}")
    print(f"detections: {len(detections['boxes'])} (boxes {tuple(detections['boxes'].shape)}, "
          f"masks {tuple(detections['masks'].shape)})")
    for box, label, score in list(zip(detections["boxes"], detections["labels"], detections["scores"]))[:5]:
        print(f"  label {int(label):2d}  score {float(score):.3f}  box {[round(float(v), 1) for v in box]}")
    if args.save_fpn:
        torch.jit.script(model.backbone.fpn).save(args.save_fpn)
        print(f"wrote {args.save_fpn}")


if __name__ == "__main__":
    main()
