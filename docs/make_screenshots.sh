#!/usr/bin/env bash
# Makes the user guide's pictures (docs/images/guide-*.png) with `featscope --screenshot`, headless.
# Usage: docs/make_screenshots.sh [BUILD_DIR]   (default: build; needs /usr/bin/python3 with torchvision
# for the ResNet-18 and ViT-B/16 pictures)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
model=resources/models/fashion_cnn.pt

"$bin/featscope" "$model" --screenshot docs/images/guide-open.png
"$bin/featscope" "$model" --image resources/images/sneaker_9.png \
  --select features.block1.relu=block1 --select features.block3=block3 --select classifier=logits \
  --screenshot docs/images/guide-run.png
/usr/bin/python3 - "$tmp/resnet18.pt" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
torch.jit.script(torchvision.models.resnet18().eval()).save(sys.argv[1])
PY
"$bin/featscope" "$tmp/resnet18.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --select layer1=0 --select layer2=1 --select layer3=2 --select layer4=3 \
  --screenshot docs/images/guide-resnet18.png
# Two images compared: the sneaker's maps pinned as the reference, the ankle boot's shown as the difference.
"$bin/featscope" "$model" --image resources/images/sneaker_9.png --compare resources/images/ankle_boot_0.png \
  --select features.block1.relu=block1 --select features.block2=block2 --screenshot docs/images/guide-compare.png
# Two models compared: ResNet-18 and a copy with layer3.1.conv2's weights scaled by 1.05.
/usr/bin/python3 - "$tmp/resnet18_a.pt" "$tmp/resnet18_b.pt" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.resnet18().eval()
torch.jit.script(model).save(sys.argv[1])
with torch.no_grad():
    model.layer3[1].conv2.weight.mul_(1.05)
torch.jit.script(model).save(sys.argv[2])
PY
"$bin/featscope" "$tmp/resnet18_a.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --compare-model "$tmp/resnet18_b.pt" --screenshot docs/images/guide-compare-models.png
# Grad-CAM++ on the trained bundled CNN; Grad-CAM on ResNet-18 and on a ViT-B/16 whose 197 tokens are drawn
# as a 14x14 grid. torchvision starts ViT's head at zero, which gives no gradient: it gets random weights here.
"$bin/featscope" "$model" --image resources/images/sneaker_9.png \
  --select features.block2=block2 --select classifier=logits --cam features.block2 --cam-method gradcam++ \
  --screenshot docs/images/guide-cam.png
"$bin/featscope" "$tmp/resnet18.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --select layer4 --cam layer4 --screenshot docs/images/guide-cam-resnet18.png
"$bin/featscope" "$tmp/resnet18.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --colour-by zeros --screenshot docs/images/guide-statistics.png
/usr/bin/python3 - "$tmp/vit_b_16.pt" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.vit_b_16().eval()
torch.nn.init.normal_(model.heads.head.weight, std=0.02)
torch.jit.script(model).save(sys.argv[1])
PY
"$bin/featscope" "$tmp/vit_b_16.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --select encoder.layers.encoder_layer_11.ln=ln --cam encoder.layers.encoder_layer_11.ln \
  --screenshot docs/images/guide-vit.png
# Top images: which images of a folder (the sample clothes and drawn stripes, checkerboards and blobs) excite
# channel 29 of the bundled CNN's last block most, each with that channel's map.
mkdir -p "$tmp/images"
cp resources/images/*.png "$tmp/images/"
/usr/bin/python3 - "$tmp/images" <<'PY'
import random, sys
from PIL import Image, ImageDraw
random.seed(0)
for period in (6, 14, 30):
    for vertical in (False, True):
        image = Image.new("L", (112, 112), 0)
        draw = ImageDraw.Draw(image)
        for start in range(0, 112, 2 * period):
            draw.rectangle((start, 0, start + period - 1, 111) if vertical else (0, start, 111, start + period - 1), fill=255)
        image.save(f"{sys.argv[1]}/stripes_{'v' if vertical else 'h'}{period:02d}.png")
for side in (8, 16, 32, 56):
    image = Image.new("L", (112, 112), 0)
    draw = ImageDraw.Draw(image)
    for y in range(0, 112, side):
        for x in range(0, 112, side):
            if (x // side + y // side) % 2:
                draw.rectangle((x, y, x + side - 1, y + side - 1), fill=255)
    image.save(f"{sys.argv[1]}/checker_{side:02d}.png")
for i in range(6):
    image = Image.new("L", (112, 112), random.randint(0, 80))
    draw = ImageDraw.Draw(image)
    for _ in range(random.randint(1, 5)):
        r, x, y = random.randint(8, 40), random.randint(0, 112), random.randint(0, 112)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=random.randint(120, 255))
    image.save(f"{sys.argv[1]}/blobs_{i}.png")
PY
"$bin/featscope" "$model" --image resources/images/sneaker_9.png --select features.block3.relu \
  --top-images "$tmp/images" --top-channel 29 --screenshot docs/images/guide-top-images.png
# Any node as an output: a scripted Mask R-CNN (torchvision's ops loaded by themselves), its FPN's
# Dict[str, Tensor] drawn as one tab of maps per level.
/usr/bin/python3 - "$tmp/maskrcnn.pt" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
torch.jit.script(model).save(sys.argv[1])
PY
"$bin/featscope" "$tmp/maskrcnn.pt" --image resources/images/ankle_boot_0_rgb224.png \
  --select backbone.fpn --screenshot docs/images/guide-maskrcnn-fpn.png
