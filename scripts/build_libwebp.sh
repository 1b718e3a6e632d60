#!/usr/bin/env bash
# Build the libwebp that makes WebP inputs decode bit for bit like the original program.
#
#   scripts/build_libwebp.sh DEST      e.g. DEST=.venv/lib/cropaudit-libwebp (what `make setup` does)
#
# Twitter's candidate_crops decodes WebP with libwebp's own scaled decoder, built against a
# libwebp older than 1.0.3. Upstream commit ab2dc893 ("Rescaler: fix rounding error", v1.0.3)
# changed how that rescaler rounds, so a current libwebp gives grey-level differences on
# downscaled WebP (README, fidelity table). Old libwebp builds lack the fix for CVE-2023-4863,
# so instead this takes the distribution's current libwebp source (Debian's source package,
# verified by apt, with Debian's security patches applied) and reverts only that commit
# (third_party/libwebp/ab2dc893-rescaler-rounding.patch). Nothing here is hand-written
# rescaling: it is libwebp's rescaler with its earlier rounding.
#
# Writes DEST/libwebp.so.7 and DEST/BUILD-INFO.json (cropaudit.imaging.libwebp finds both
# under the virtual environment's lib/cropaudit-libwebp). Needs apt-get (Debian or Ubuntu
# sources reachable), patch, a C compiler and make; no root (apt runs on private state
# folders). Any failure is one line on stderr and exit 1, and DEST is left as it was: the
# engine then uses the system's libwebp (near-exact) and says so.
set -euo pipefail

dest="${1:?usage: scripts/build_libwebp.sh DEST}"
case "$dest" in /*) ;; *) dest="$PWD/$dest" ;; esac  # the build runs in another folder
here="$(cd "$(dirname "$0")/.." && pwd)"
patch_file="$here/third_party/libwebp/ab2dc893-rescaler-rounding.patch"
fail() { echo "build_libwebp: $*" >&2; exit 1; }

for tool in apt-get patch make cc; do
  command -v "$tool" >/dev/null || fail "needs $tool (Debian: apt-get install build-essential)"
done
[ -r /etc/os-release ] || fail "no /etc/os-release: not a Debian-like system"
# shellcheck disable=SC1091
. /etc/os-release
codename="${VERSION_CODENAME:-}"
[ -n "$codename" ] || fail "cannot tell the distribution's release from /etc/os-release"
case "${ID:-} ${ID_LIKE:-}" in
  *debian*|*ubuntu*) ;;
  *) fail "apt source packages are needed (Debian or Ubuntu), found ${ID:-unknown}" ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
# The system's own apt sources as deb-src lines (deb822 .sources files, one-line .list files),
# keeping each source's signing key.
{
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    if [ -f "$f" ]; then sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f"; fi
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function emit() {
        if (t ~ /deb/ && u != "") print "deb-src " (k != "" ? "[signed-by=" k "] " : "") u s c
        t = u = s = c = k = ""
      }
      /^Types:/ { t = $0 } /^URIs:/ { u = $2 } /^Signed-By:/ { k = $2 }
      /^Suites:/ { $1 = ""; s = $0 } /^Components:/ { $1 = ""; c = $0 }
      /^[[:space:]]*$/ { emit() } END { emit() }' "$f"
  done
} | sort -u > "$work/sources.list"
[ -s "$work/sources.list" ] || fail "no apt sources found under /etc/apt"
apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
     -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)" -q)
apt-get "${apt[@]}" update >"$work/apt.log" 2>&1 \
  || fail "apt-get update of the source lists failed ($(tail -1 "$work/apt.log"))"
(cd "$work" && apt-get "${apt[@]}" source --download-only libwebp >>"$work/apt.log" 2>&1) \
  || fail "apt-get source libwebp failed ($(tail -1 "$work/apt.log"))"

orig="$(ls "$work"/libwebp_*.orig.tar.gz 2>/dev/null | head -1)"
debian="$(ls "$work"/libwebp_*.debian.tar.* 2>/dev/null | head -1)"
[ -n "$orig" ] && [ -n "$debian" ] || fail "unexpected source package layout in $work"
package_version="$(basename "$debian" | sed 's/^libwebp_\(.*\)\.debian\.tar\..*$/\1/')"
mkdir "$work/src"
tar -xzf "$orig" -C "$work/src" --strip-components=1
tar -xf "$debian" -C "$work/src"
cd "$work/src"
if [ -f debian/patches/series ]; then  # the distribution's fixes (CVE-2023-4863 among them)
  while read -r p; do
    case "$p" in ''|\#*) continue ;; esac
    patch -p1 -s --forward < "debian/patches/$p" || fail "Debian patch $p does not apply"
  done < debian/patches/series
fi
patch -p1 -s -R --dry-run < "$patch_file" >/dev/null 2>&1 \
  || fail "libwebp $package_version: the rescaler no longer matches commit ab2dc893"
patch -p1 -s -R < "$patch_file"

./configure --quiet --disable-static --enable-shared --disable-libwebpmux \
  --disable-libwebpdemux --disable-libwebpdecoder --disable-gl --disable-sdl --disable-png \
  --disable-jpeg --disable-tiff --disable-gif --disable-wic >"$work/build.log" 2>&1 \
  || fail "configure failed ($(tail -1 "$work/build.log"))"
jobs="$(nproc 2>/dev/null || echo 2)"
{ [ ! -d sharpyuv ] || make -j"$jobs" -C sharpyuv; make -j"$jobs" -C src; } >>"$work/build.log" 2>&1 \
  || fail "make failed ($(tail -1 "$work/build.log"))"
lib="$(ls src/.libs/libwebp.so.7.* | head -1)"
[ -f "$lib" ] || fail "make did not produce libwebp.so.7"

# Install atomically: a reader sees the old folder or the complete new one.
mkdir -p "$(dirname "$dest")"
staged="$(mktemp -d "$(dirname "$dest")/.libwebp.XXXXXX")"
cp "$lib" "$staged/libwebp.so.7"
! command -v strip >/dev/null || strip --strip-unneeded "$staged/libwebp.so.7"
for f in sharpyuv/.libs/libsharpyuv.so.0.*; do  # libwebp >= 1.3 links it
  if [ -f "$f" ]; then cp "$f" "$staged/libsharpyuv.so.0"; fi
done
patch_sha="$(sha256sum "$patch_file" | cut -d' ' -f1)"
cat > "$staged/BUILD-INFO.json" <<EOF
{"library": "libwebp", "source": "Debian source package libwebp $package_version ($codename)",
 "reverted": "ab2dc8939fe6945e11e23ef7760a06077619b1bd", "patch_sha256": "$patch_sha",
 "rounding": "original"}
EOF
chmod 0755 "$staged"
rm -rf "$dest.old"
[ ! -e "$dest" ] || mv "$dest" "$dest.old"
mv "$staged" "$dest"
rm -rf "$dest.old"
echo "build_libwebp: $dest/libwebp.so.7 (libwebp $package_version, rescaler rounding before v1.0.3)"
