#!/bin/sh
# mmdebstrap customize hook: download (not install) the suite's kernel packages into
# $LEVELGATE_DEBS with the bootstrap's own apt configuration. Installing them would
# pull an initramfs generator into the guest; levelgate builds its own initramfs.
# Handles both layouts: the kernel inside linux-image-VERSION, or split out into
# linux-binary-VERSION and linux-modules-VERSION (sid since 2026).
set -eu
: "${LEVELGATE_DEBS:?}" "${LEVELGATE_KERNEL_PACKAGE:?}"
export APT_CONFIG="$MMDEBSTRAP_APT_CONFIG"
image=$(apt-cache depends "$LEVELGATE_KERNEL_PACKAGE" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$image" ] || { echo "levelgate: $LEVELGATE_KERNEL_PACKAGE depends on no linux-image-VERSION" >&2; exit 1; }
version=${image#linux-image-}
packages=$image
for candidate in "linux-binary-$version" "linux-modules-$version"; do
  if apt-cache show "$candidate" >/dev/null 2>&1; then packages="$packages $candidate"; fi
done
cd "$LEVELGATE_DEBS"
# shellcheck disable=SC2086 # a list of package names
apt-get download $packages
