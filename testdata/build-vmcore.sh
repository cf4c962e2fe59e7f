#!/bin/bash
# Build a real kdump vmcore for pycrash's tests.
#
# A Debian kernel boots in QEMU with crashkernel= reserved, loads itself as the
# capture kernel (kexec -p), records its own view of the system as ground truth,
# and panics through sysrq on CPU 1. The capture kernel then saves /proc/vmcore
# with makedumpfile in several formats onto a second disk, which is unpacked
# into OUT.
#
# usage: build-vmcore.sh OUT [FLAVOUR]
# env:   MEM (768M) CRASHMEM (256M) SMP (2) FULL=1 (keep the unfiltered vmcore)
#        WORKLOAD (shell run in the guest before the crash) ACCEL (tcg) TIMEOUT (900)
set -euo pipefail
OUT=$(realpath -m "$1"); FLAVOUR=${2:-cloud-amd64}
MEM=${MEM:-768M}; CRASHMEM=${CRASHMEM:-256M}; SMP=${SMP:-2}; FULL=${FULL:-}
WORKLOAD=${WORKLOAD:-}; ACCEL=${ACCEL:-tcg}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

for tool in qemu-system-x86_64:qemu-system-x86 kexec:kexec-tools makedumpfile:makedumpfile \
            cpio:cpio debugfs:e2fsprogs xz:xz-utils; do
  command -v "${tool%%:*}" >/dev/null || { echo "missing ${tool%%:*} (apt-get install ${tool##*:})" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

# --- 1. kernel image and matching debuginfo -------------------------------
PKG=$(apt-cache depends "linux-image-$FLAVOUR" | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$PKG" ] || { echo "cannot resolve linux-image-$FLAVOUR (run apt-get update)" >&2; exit 1; }
REL=${PKG#linux-image-}
(cd "$WORK" && apt-get download "$PKG" "$PKG-dbg" >/dev/null)
dpkg-deb -x "$WORK"/${PKG}_*.deb "$WORK/img"
DBGMODS="./usr/lib/debug/lib/modules/$REL/kernel/drivers/net/dummy.ko ./usr/lib/debug/lib/modules/$REL/kernel/drivers/block/loop.ko"
dpkg-deb --fsys-tarfile "$WORK"/${PKG}-dbg_*.deb | tar x -C "$WORK" "./usr/lib/debug/boot/vmlinux-$REL" $DBGMODS
mv "$WORK/usr/lib/debug/boot/vmlinux-$REL" "$OUT/vmlinux-$REL"
mkdir -p "$OUT/modules-debug"
for m in $DBGMODS; do mv "$WORK/$m" "$OUT/modules-debug/"; done
cp "$WORK/img/boot/System.map-$REL" "$WORK/img/boot/config-$REL" "$OUT/" 2>/dev/null || true
KO="$WORK/img/lib/modules/$REL/kernel"; [ -d "$KO" ] || KO="$WORK/img/usr/lib/modules/$REL/kernel"
MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
 drivers/net/dummy drivers/block/loop"

# --- 2. two initramfs: the production system and the capture system -------
populate() {  # DIR BINARY... : busybox, the binaries with their libraries, the modules
  local dir=$1; shift
  mkdir -p "$dir"/{bin,proc,sys,dev,tmp,mods,lib64,lib/x86_64-linux-gnu}
  cp /bin/busybox "$dir/bin/"
  local bin lib m
  for bin in "$@"; do
    cp "$bin" "$dir/bin/"
    for lib in $(ldd "$bin" | grep -o '/lib[^ ]*'); do
      cp -L "$lib" "$dir$lib" 2>/dev/null || cp -L "$lib" "$dir/lib/x86_64-linux-gnu/"
    done
  done
  for m in $MODULES; do  # absent: built into this kernel
    if [ -f "$KO/$m.ko.xz" ]; then xz -dc "$KO/$m.ko.xz" > "$dir/mods/${m##*/}.ko"
    elif [ -f "$KO/$m.ko" ]; then cp "$KO/$m.ko" "$dir/mods/"; fi
  done
}
pack() { (cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$2"; }
PREAMBLE='#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  [ -f /mods/$m.ko ] && insmod /mods/$m.ko
done'

populate "$WORK/capture" "$(command -v makedumpfile)"
cat > "$WORK/capture/init" <<INIT
$PREAMBLE
mkdir /out; mount -t ext4 /dev/vda /out; cd /out
cat /proc/cmdline > capture-cmdline.txt
makedumpfile -v > mdf-version.txt 2>&1
[ -n "$FULL" ] && cp /proc/vmcore vmcore.full
makedumpfile --message-level 22 -c -d 31 /proc/vmcore vmcore.kdump > mdf.log 2>&1
makedumpfile --message-level 22 -E -d 31 /proc/vmcore vmcore.elf >> mdf.log 2>&1
makedumpfile --message-level 22 -F -l -d 31 /proc/vmcore > vmcore.flat 2>> mdf.log
makedumpfile --message-level 22 --split --splitblock-size 1024 -c -d 31 /proc/vmcore vmcore.split.1 vmcore.split.2 >> mdf.log 2>&1
cd /; umount /out; sync; echo PYCRASH-CAPTURE-DONE; poweroff -f
INIT
chmod +x "$WORK/capture/init"; pack "$WORK/capture" "$WORK/capture.cpio.gz"

populate "$WORK/prod" "$(command -v kexec)"
mkdir -p "$WORK/prod/boot"
cp "$WORK/img/boot/vmlinuz-$REL" "$WORK/prod/boot/vmlinuz"; cp "$WORK/capture.cpio.gz" "$WORK/prod/boot/"
cat > "$WORK/prod/init" <<INIT
$PREAMBLE
insmod /mods/dummy.ko; insmod /mods/loop.ko
ip link add pcfix0 type dummy 2>/dev/null; ip link set pcfix0 up 2>/dev/null
mkdir -p /tmp/work; echo pycrash-fixture > /tmp/work/hello.txt
for i in 1 2 3; do sh -c "echo -n pcfix-sleeper\$i > /proc/self/comm; while :; do sleep 1000; done" & done
sh -c 'exec 3</tmp/work/hello.txt 4>/tmp/work/out.log; echo -n pcfix-files > /proc/self/comm; while :; do sleep 1000; done' &
$WORKLOAD
echo "pycrash-fixture: marker before crash" > /dev/kmsg
sleep 1
APPEND="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=1"
kexec -p /boot/vmlinuz --initrd=/boot/capture.cpio.gz --append="\$APPEND" || kexec -p -s /boot/vmlinuz --initrd=/boot/capture.cpio.gz --append="\$APPEND"
mkdir /tmp/truth; cd /tmp/truth
uname -a > uname.txt; date +%s > date.txt; cat /proc/uptime > uptime.txt
cat /proc/meminfo > meminfo.txt; cat /proc/slabinfo > slabinfo.txt 2>/dev/null
cat /proc/modules > modules.txt; cat /proc/cmdline > cmdline.txt; cat /proc/iomem > iomem.txt
dmesg > dmesg.txt; cat /proc/mounts > mounts.txt; cat /proc/interrupts > interrupts.txt
cat /proc/[0-9]*/stat > stat.txt 2>/dev/null
cat /sys/kernel/vmcoreinfo > vmcoreinfo-addr.txt
for c in /sys/devices/system/cpu/cpu[0-9]*; do echo "\${c##*/} \$(cat \$c/crash_notes)"; done > crash-notes.txt
ps -o pid,ppid,stat,vsz,rss,comm > ps.txt 2>/dev/null || ps > ps.txt
for c in \$(grep -l pcfix /proc/[0-9]*/comm); do p=\${c%/comm}; echo "\$p \$(cat \$c)"; ls -l \$p/fd/; done > fds.txt 2>/dev/null
grep -E " (_stext|init_task|jiffies|panic)\$" /proc/kallsyms > kallsyms.txt
cd /tmp; tar cf /dev/vdb truth; sync
echo 1 > /proc/sys/kernel/sysrq
taskset 2 sh -c 'echo c > /proc/sysrq-trigger' || echo c > /proc/sysrq-trigger
INIT
chmod +x "$WORK/prod/init"; pack "$WORK/prod" "$WORK/prod.cpio.gz"

# --- 3. boot, crash, capture, unpack ---------------------------------------
truncate -s 4G "$WORK/dump.img"; mkfs.ext2 -q -F "$WORK/dump.img"; truncate -s 16M "$WORK/truth.img"
timeout "${TIMEOUT:-900}" qemu-system-x86_64 -accel "$ACCEL" -cpu max -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot -kernel "$WORK/img/boot/vmlinuz-$REL" -initrd "$WORK/prod.cpio.gz" \
  -append "console=ttyS0 crashkernel=$CRASHMEM panic=1 loglevel=6" \
  -drive file="$WORK/dump.img",if=virtio,format=raw -drive file="$WORK/truth.img",if=virtio,format=raw \
  -serial file:"$OUT/console.log" -monitor none >/dev/null 2>&1 || true
grep -q PYCRASH-CAPTURE-DONE "$OUT/console.log" || { echo "capture failed; see $OUT/console.log" >&2; exit 1; }
debugfs -R "rdump / $OUT" "$WORK/dump.img" >/dev/null 2>&1; rm -rf "$OUT/lost+found"
tar xf "$WORK/truth.img" -C "$OUT"
echo "$REL" > "$OUT/kernel-release"
echo "built $(date -u +%FT%TZ) accel=$ACCEL mem=$MEM smp=$SMP" > "$OUT/COMPLETE"
