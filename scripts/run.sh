#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds featscope and opens the inspector on the bundled
# Fashion-MNIST model and image. Extra arguments go to featscope (e.g. --screenshot out.png).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/bin/featscope resources/models/fashion_cnn.pt --image resources/images/ankle_boot_0.png "$@"
