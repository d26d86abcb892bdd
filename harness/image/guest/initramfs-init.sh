#!/bin/busybox sh
# levelgate initramfs, the guest's whole init: load the modules the root disk needs,
# mount it read-write (it is the guest's own overlay), prepare the mounts commands
# need and the read-only data disks, then hand PID 1 to the command agent.
# Everything here runs the static busybox: under emulation every dynamically linked
# process costs ~20 ms of ld.so work, so the root's own tools are not used for boot.
# A failure prints "levelgate: BOOT FAILED: ..." (the host stops the boot with that
# line as the reason) and powers off.
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
r=/newroot
busybox mount -t ext4 -o rw,noatime /dev/vda $r || fail "mount /dev/vda"
busybox mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $r/run || fail "mount /run"
busybox mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $r/tmp || fail "mount /tmp"
busybox mount --move /dev $r/dev
busybox mount --move /proc $r/proc
busybox mount --move /sys $r/sys
busybox mkdir -p $r/dev/pts $r/dev/shm
busybox mount -t devpts -o gid=5,mode=620 devpts $r/dev/pts || fail "mount /dev/pts"
busybox mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $r/dev/shm || fail "mount /dev/shm"
busybox ln -sf /proc/self/fd $r/dev/fd
busybox hostname levelgate
# Runtime messages at KERN_INFO ("traps: prog[pid] trap invalid opcode") reach the
# console, where the host watches for them; boot itself stays quiet.
echo 7 > $r/proc/sys/kernel/printk || fail "set the console log level"
# Data disks: every virtio disk whose serial starts with lg- is mounted read-only at
# /mnt/NAME (no udev: the serial comes from sysfs).
for serial in $r/sys/block/vd*/serial; do
  [ -r "$serial" ] || continue
  read -r name < "$serial"
  case "$name" in lg-*) ;; *) continue ;; esac
  dev=${serial%/serial}
  dev=/dev/${dev##*/}
  busybox mkdir -p "$r/mnt/${name#lg-}"
  busybox mount -t ext4 -o ro,noload "$r$dev" "$r/mnt/${name#lg-}" || fail "cannot mount data disk $name"
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
exec busybox switch_root $r /usr/lib/levelgate/agent
