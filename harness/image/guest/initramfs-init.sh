#!/bin/busybox sh
# levelgate initramfs, the guest's whole init: load the modules the root disk needs,
# mount it read-write (it is the guest's own overlay), prepare the mounts commands
# need and the read-only data disks, then hand PID 1 to the command agent.
# Two kinds of machine: QEMU's virtio disks and ports (the default), and Bochs's IDE
# disks and serial ports (levelgate.disk=ata levelgate.agent=/dev/ttyS1), where disks
# are told apart by their model string (lg-root, lg-NAME).
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
disk=virtio
agent=
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    levelgate.disk=*) disk=${arg#*=} ;;
    levelgate.agent=*) agent=${arg#*=} ;;
  esac
done
# Polling the disk costs a fork per look: every 10 ms under QEMU, 50 ms under Bochs.
order=/modules/order nap=10000 looks=1000
[ "$disk" = ata ] && order=/modules/order.ata nap=50000 looks=200
while read -r module; do
  busybox insmod "/modules/$module" || fail "insmod $module"
done < $order
root=
i=0
while [ -z "$root" ]; do
  if [ "$disk" = ata ]; then
    for m in /sys/block/sd*/device/model; do
      [ -r "$m" ] && read -r name < "$m" && [ "$name" = lg-root ] && root=${m#/sys/block/} && root=/dev/${root%%/*}
    done
  elif [ -b /dev/vda ]; then
    root=/dev/vda
  fi
  [ -n "$root" ] && break
  i=$((i + 1))
  [ "$i" -gt $looks ] && fail "no root disk ($disk) after 10 s"
  busybox usleep $nap
done
r=/newroot
busybox mount -t ext4 -o rw,noatime $root $r || fail "mount $root"
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
# SIGILL forensics: the kernel pipes a dying process's core to the agent, which
# records the process's executable, mappings and faulting ip (/run/levelgate/sigill/TID)
# while /proc/PID still exists (%P: its pid, %I: the thread's, %s: the signal).
echo '|/usr/lib/levelgate/agent --core %P %I %s' > $r/proc/sys/kernel/core_pattern || fail "set core_pattern"
# Data disks: every virtio disk whose serial (IDE disk whose model) starts with lg- is
# mounted read-only at /mnt/NAME (no udev: the names come from sysfs).
for serial in $r/sys/block/vd*/serial $r/sys/block/sd*/device/model; do
  [ -r "$serial" ] || continue
  read -r name < "$serial"
  case "$name" in lg-root) continue ;; lg-*) ;; *) continue ;; esac
  dev=${serial#$r/sys/block/}
  dev=/dev/${dev%%/*}
  busybox mkdir -p "$r/mnt/${name#lg-}"
  busybox mount -t ext4 -o ro,noload "$r$dev" "$r/mnt/${name#lg-}" || fail "cannot mount data disk $name"
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
set -- /usr/lib/levelgate/agent
[ -n "$agent" ] && set -- "$@" "$agent"
exec busybox switch_root $r "$@"
