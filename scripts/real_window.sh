#!/usr/bin/env bash
# Replays a user's session in a real X window (Xvfb + AT-SPI + xdotool; scripts/real_window_session.py):
# the steps that once hung the inspector (issue 17). Not part of CI: it needs extra packages and a scripted
# ResNet-50, and it checks what offscreen GUI tests cannot (a real event loop, focus and wheel events).
#   scripts/real_window.sh RESNET50.pt [SCREENSHOT_DIR]
# Make the model with /usr/bin/python3: torch.jit.script(torchvision.models.resnet50()).save("resnet50.pt")
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 || "$1" == "--help" || "$1" == "-h" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
for p in xvfb xdotool python3-pyatspi gir1.2-atspi-2.0 at-spi2-core dbus-daemon; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || { echo "real_window.sh needs $p: apt-get install xvfb xdotool python3-pyatspi gir1.2-atspi-2.0 at-spi2-core" >&2; exit 2; }
done
model=$(realpath "$1")
shots=$(realpath -m "${2:-build/real-window}")
mkdir -p "$shots"
cmake --build build --target featscope featscope-engine featscope-reader >/dev/null
# -displayfd: Xvfb picks a free display and writes its number once it accepts connections.
displayfile=$(mktemp)
# A fresh profile: what a user saved for these models (return nodes, images) must not change the replay.
profile=$(mktemp -d)
Xvfb -displayfd 3 -screen 0 1600x1000x24 3>"$displayfile" >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb; rm -rf "$displayfile" "$profile"' EXIT
for _ in $(seq 100); do [[ -s "$displayfile" ]] && break; sleep 0.1; done
[[ -s "$displayfile" ]] || { echo "real_window.sh: Xvfb did not start" >&2; exit 2; }
DISPLAY=":$(cat "$displayfile")" XDG_CONFIG_HOME="$profile" dbus-run-session -- /usr/bin/python3 scripts/real_window_session.py \
  build/bin/featscope "$model" "$PWD/resources/models/fashion_cnn.pt" "$shots"
