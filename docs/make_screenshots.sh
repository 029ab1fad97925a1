#!/usr/bin/env bash
# Makes the user guide's pictures (docs/images/guide-*.png) with `featscope --screenshot`, headless.
# Usage: docs/make_screenshots.sh [BUILD_DIR]   (default: build; needs /usr/bin/python3 with torchvision
# for the ResNet-18 picture)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$tmp/config"
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
