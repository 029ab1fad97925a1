#!/usr/bin/env bash
# The Debian package end to end: cpack builds it, apt-get installs it (resolving its Depends), the
# installed programs run from /usr/bin, and the package is removed again if it was not installed before.
# Needs root (or passwordless sudo) for apt-get; exits 77 (CTest: skipped) otherwise.
# Usage: test_package.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else echo "skipped: installing a .deb needs root"; exit 77; fi
fi
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"
(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/featscope_*.deb)
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
for lib in libtorch1.13 libqt6widgets6 libqt6gui6 libqcustomplot2.1 libgvc6 fontconfig; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/featscope ./usr/bin/featscope-cli ./usr/bin/featscope-engine ./usr/bin/featscope-reader \
         ./usr/share/applications/featscope.desktop ./usr/share/icons/hicolor/scalable/apps/featscope.svg \
         ./usr/share/man/man1/featscope.1.gz ./usr/share/man/man1/featscope-cli.1.gz \
         ./usr/share/featscope/models/fashion_cnn.pt ./usr/share/doc/featscope/docs/user-guide.md; do
  grep -q " $f\$" <<<"$contents" || fail "the package lacks $f"
done

was_installed=no
dpkg-query -W -f='${Status}' featscope 2>/dev/null | grep -q "install ok installed" && was_installed=yes
cleanup() {
  if [ "$was_installed" = no ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y -qq featscope >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$deb" >"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log"; fail "apt-get install failed"; }
echo "installed with apt-get"

cd "$work"
/usr/bin/featscope-cli --help | grep -q "Commands:" || fail "featscope-cli --help"
/usr/bin/featscope-cli nodes /usr/share/featscope/models/fashion_cnn.pt | grep -qx "features.block3.pool" \
  || fail "featscope-cli nodes on the installed model"
/usr/bin/featscope-cli features /usr/share/featscope/models/fashion_cnn.pt --return features.block3 \
  -o "$work/samples.npy" /usr/share/featscope/images 2>"$work/features.log" || { cat "$work/features.log"; fail "features"; }
[ "$(wc -l <"$work/samples.paths.txt")" -ge 6 ] || fail "features wrote too few rows"
QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$work/config" /usr/bin/featscope \
  /usr/share/featscope/models/fashion_cnn.pt --image /usr/share/featscope/images/bag_18.png \
  --select features.block3 --screenshot "$work/x.png" || fail "featscope --screenshot"
[ -s "$work/x.png" ] && [ "$(head -c 8 "$work/x.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
  || fail "no PNG screenshot"
if command -v man >/dev/null; then
  MANPAGER=cat man -P cat featscope-cli 2>/dev/null | grep -q "features-join" || fail "man featscope-cli"
fi
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/featscope.desktop || fail "desktop entry"
fi
echo "the installed featscope, featscope-cli and featscope-engine work"
