#!/bin/sh
# levelgate stage-2 init (PID 1 on the root disk): the mounts commands need, the
# read-only data disks, then the command agent takes over as PID 1.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
hostname levelgate
# Runtime messages at KERN_INFO ("traps: prog[pid] trap invalid opcode") reach the
# console, where the host watches for them; boot itself stays quiet.
echo 7 > /proc/sys/kernel/printk
# Data disks: every virtio disk whose serial starts with lg- is mounted read-only at
# /mnt/NAME (no udev here: the serial comes from sysfs).
for serial in /sys/block/vd*/serial; do
  [ -r "$serial" ] || continue
  name=$(cat "$serial")
  case "$name" in
    lg-*) ;;
    *) continue ;;
  esac
  dev=${serial%/serial}
  dev=/dev/${dev##*/}
  mkdir -p "/mnt/${name#lg-}"
  mount -t ext4 -o ro,noload "$dev" "/mnt/${name#lg-}" || echo "levelgate: cannot mount data disk $name"
done
exec /usr/lib/levelgate/agent
