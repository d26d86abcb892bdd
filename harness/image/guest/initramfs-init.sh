#!/bin/busybox sh
# levelgate initramfs: load the modules the root disk needs, mount it read-write
# (it is the guest's own overlay), and hand over to the root's init.
# A failure prints "levelgate: BOOT FAILED: ..." and powers off, so the host sees why.
export PATH=/bin
fail() {
  echo "levelgate: BOOT FAILED: $*"
  busybox poweroff -f
}
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev
while read -r module; do
  busybox insmod "/modules/$module" || fail "insmod $module"
done < /modules/order
i=0
while [ ! -b /dev/vda ]; do
  i=$((i + 1))
  [ "$i" -gt 1000 ] && fail "no root disk /dev/vda after 10 s"
  busybox usleep 10000
done
busybox mount -t ext4 -o rw,noatime /dev/vda /newroot || fail "mount /dev/vda"
busybox mount --move /dev /newroot/dev
busybox mount --move /proc /newroot/proc
busybox mount --move /sys /newroot/sys
exec busybox switch_root /newroot /usr/lib/levelgate/init
