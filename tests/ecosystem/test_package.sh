#!/usr/bin/env bash
# The Debian packages end to end: cpack builds featscope and featscope-dev, lintian finds no error and no
# warning in either, apt-get installs them (resolving their Depends), the installed programs run from
# /usr/bin (their helpers from /usr/libexec/featscope), a program outside the tree builds against the
# installed SDK (tests/consumer), and the packages are removed again if they were not installed before.
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
dev=$(ls "$work"/featscope-dev_*.deb)
for d in "$deb" "$dev"; do echo "built $(basename "$d") ($(du -h "$d" | cut -f1))"; done

# Debian's own checks: any error or warning fails (info and pedantic notes do not).
lintian --fail-on error,warning --tag-display-limit 0 "$deb" "$dev" >"$work/lintian.log" 2>&1 \
  || { cat "$work/lintian.log"; fail "lintian reports errors or warnings"; }
echo "lintian: no errors or warnings in $(basename "$deb") and $(basename "$dev")"

depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
for lib in libtorch1.13 libqt6widgets6 libqt6gui6 libqcustomplot2.1 libgvc6 fontconfig; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done
version=$(dpkg-deb --field "$deb" Version)
dev_depends=$(dpkg-deb --field "$dev" Depends)
[[ $dev_depends == *"featscope (= $version)"* && $dev_depends == *libtorch-dev* ]] \
  || fail "featscope-dev's Depends ($dev_depends) lacks featscope (= $version) or libtorch-dev"
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/featscope ./usr/bin/featscope-cli ./usr/libexec/featscope/featscope-engine \
         ./usr/libexec/featscope/featscope-reader \
         ./usr/share/applications/featscope.desktop ./usr/share/icons/hicolor/scalable/apps/featscope.svg \
         ./usr/share/metainfo/example.r-seed-3e64e5f4.featscope.metainfo.xml \
         ./usr/share/man/man1/featscope.1.gz ./usr/share/man/man1/featscope-cli.1.gz \
         ./usr/share/doc/featscope/copyright ./usr/share/doc/featscope/changelog.gz \
         ./usr/share/featscope/models/fashion_cnn.pt ./usr/share/doc/featscope/docs/user-guide.md \
         ./usr/share/doc/featscope/examples/dask/featscope_dask.py; do
  grep -q " $f\$" <<<"$contents" || fail "featscope lacks $f"
done
! grep -q " ./usr/bin/featscope-\(engine\|reader\)$" <<<"$contents" || fail "helpers belong in /usr/libexec/featscope"
dev_contents=$(dpkg-deb --contents "$dev")
for f in ./usr/include/featscope/FeatureExtraction.h ./usr/include/featscope/ModuleLoader.h \
         "./usr/lib/.*libfeatscope_core.a" "./usr/lib/.*cmake/featscope/featscopeConfig.cmake" \
         "./usr/lib/.*cmake/featscope/featscopeTargets.cmake" ./usr/share/doc/featscope-dev/copyright; do
  grep -q " $f\$" <<<"$dev_contents" || fail "featscope-dev lacks $f"
done

# The AppStream metadata as a software centre reads it.
mkdir -p "$work/unpacked" && dpkg-deb -x "$deb" "$work/unpacked"
appstreamcli validate --no-net "$work"/unpacked/usr/share/metainfo/*.metainfo.xml || fail "AppStream metadata"

was_installed=()
for p in featscope featscope-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && was_installed+=("$p")
done
cleanup() {
  local remove=()
  for p in featscope-dev featscope; do
    [[ " ${was_installed[*]-} " == *" $p "* ]] || remove+=("$p")
  done
  ((${#remove[@]})) && DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y -qq "${remove[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$deb" "$dev" >"$work/apt.log" 2>&1 \
  || { cat "$work/apt.log"; fail "apt-get install failed"; }
echo "installed with apt-get"

cd "$work"
/usr/bin/featscope-cli --help | grep -q "Commands:" || fail "featscope-cli --help"
/usr/bin/featscope-cli nodes /usr/share/featscope/models/fashion_cnn.pt | grep -qx "features.block3.pool" \
  || fail "featscope-cli nodes on the installed model"
/usr/bin/featscope-cli features /usr/share/featscope/models/fashion_cnn.pt --return features.block3 \
  -o "$work/samples.npy" /usr/share/featscope/images 2>"$work/features.log" || { cat "$work/features.log"; fail "features"; }
[ "$(wc -l <"$work/samples.paths.txt")" -ge 6 ] || fail "features wrote too few rows"
# The GUI starts /usr/libexec/featscope/featscope-engine, which starts the reader beside it.
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

# The SDK as a user gets it: find_package(featscope) from /usr, featscope::core, the reader from libexec.
"$src/tests/consumer/test_consumer.sh" "$work/consumer" /usr/share/featscope/models/fashion_cnn.pt \
  || fail "a program built against the installed featscope-dev"
