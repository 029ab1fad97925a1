#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12's archive. Run as root (or through sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev python3-torch python3-torchvision python3-torchaudio python3-numpy python3-pil
  qt6-base-dev libqcustomplot-dev libgraphviz-dev
  dataset-fashion-mnist
  python3-faiss desktop-file-utils
  xvfb xauth
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
