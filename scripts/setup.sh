#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12's archive. Run as root (or through sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev python3-torch python3-torchvision python3-torchaudio python3-numpy python3-pil
  libopenblas0-openmp  # LibTorch's matrix products: Debian's default libblas.so.3 is netlib's, 10-20x slower
  qt6-base-dev libqcustomplot-dev libgraphviz-dev
  dataset-fashion-mnist
  python3-faiss desktop-file-utils
  xvfb xauth
  lintian appstream
  python3-distributed python3-dask
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ((${#missing[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# OpenBLAS's OpenMP build, not its pthread build, behind libblas.so.3: the pthread build starts its workers
# when the library loads, so every program would start multithreaded and could no longer fork its model
# reader (core/src/ModuleLoader.cpp); the OpenMP build starts them on first use and shares LibTorch's pool.
for lib in libblas.so.3 liblapack.so.3; do
  $SUDO update-alternatives --quiet --set "$lib-$(dpkg-architecture -qDEB_HOST_MULTIARCH)" \
    "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/openblas-openmp/$lib"
done
