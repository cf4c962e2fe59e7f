#!/bin/bash
# Build a real arm64 kdump vmcore for pycrash's tests.
#
# The arm64 counterpart of build-vmcore.sh, made on any host (x86-64 included):
# Debian's arm64 kernel boots in QEMU (TCG, machine virt) with crashkernel=
# reserved, loads itself as the capture kernel (kexec -p), records its own view
# of the system as ground truth, and panics (by default through sysrq on CPU 1).
# The capture kernel then saves /proc/vmcore with makedumpfile (-c -d 31) onto a
# second disk, which is unpacked into OUT.
#
# Every arm64 file comes from Debian packages fetched with a private apt
# configuration (in a temporary directory: the machine's apt setup is not
# touched): the kernel and its -dbg package, busybox-static, kexec-tools,
# makedumpfile and the libraries they need (found by their ELF DT_NEEDED
# entries, so only those go into the initramfs).
#
# usage: build-vmcore-arm64.sh OUT
# env:   MEM (1G) CRASHMEM (256M) SMP (2) CPU (max,pauth-impdef=on; or cortex-a57)
#        TIMEOUT (1800: TCG emulation of arm64 is slow) SUITE (bookworm)
#        MIRROR (http://deb.debian.org/debian)
#        WORKLOAD     shell run in the guest before the crash
#        EXTRA_APPEND added to the production kernel's command line
#        CRASH        the guest shell command that crashes the kernel
#                     (default: sysrq-c on CPU 1); should it return, the guest
#                     powers off after a minute and the build fails
#        QEMU_DUMP    instead of crashing, QEMU saves the running guest with
#                     dump-guest-memory, as build-vmcore.sh's QEMU_DUMP (formats
#                     "elf kdump-zlib ...", OUT/vmcore.qemu.FORMAT, and
#                     OUT/vmcore.qemu.kdump reassembled); -device vmcoreinfo
#
# OUT gets vmlinux-REL, config-REL, modules-debug/ (debuginfo of dummy.ko,
# loop.ko), vmcore.kdump, console.log (the serial console of both kernels: the
# crash report is there), mdf.log, mdf-version.txt, capture-cmdline.txt,
# kernel-release, COMPLETE (written last), and truth/: the production guest's
# own records (from /proc and /sys) taken just before the crash, the same files
# as build-vmcore.sh writes (uname.txt, dmesg.txt, stacks.txt, ...).
#
# truth/stacks.txt holds every thread's kernel stack, read from /proc just before
# the crash, in build-vmcore.sh's format. One block per thread, blocks separated
# by an empty line:
#
#     task TID TGID STATE COMM
#     [<0>] do_nanosleep+0x9c/0x1a0
#     [<0>] hrtimer_nanosleep+0x90/0x140
#     ...
#
# TID is the thread id (crash's PID), TGID its process, STATE the one-letter
# state of /proc/TGID/task/TID/stat, COMM the rest of the line (it may hold
# spaces); the frame lines are /proc/TGID/task/TID/stack verbatim (no lines for
# a thread whose stack was empty or unreadable). The kernel leaves scheduler
# functions (.sched.text) out of a sleeping task's /proc stack; crash's bt shows
# them too. Threads come in the order of the glob /proc/[0-9]*/task/[0-9]*.
#
# Host needs: qemu-system-aarch64 (qemu-system-arm), apt-get, dpkg-deb, readelf
# (binutils), cpio, debugfs + mkfs.ext2 (e2fsprogs), xz (xz-utils).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
OUT=$(realpath -m "$1")
MEM=${MEM:-1G}; CRASHMEM=${CRASHMEM:-256M}; SMP=${SMP:-2}; CPU=${CPU:-max,pauth-impdef=on}
SUITE=${SUITE:-bookworm}; MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORKLOAD=${WORKLOAD:-}; EXTRA_APPEND=${EXTRA_APPEND:-}
CRASH=${CRASH:-"taskset 2 sh -c 'echo c > /proc/sysrq-trigger' || echo c > /proc/sysrq-trigger"}
TRIPLET=aarch64-linux-gnu
die() { echo "build-vmcore-arm64: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/arm64-build.XXXXXX); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"; rm -f "$OUT/COMPLETE"  # (a failed rebuild must not look complete)

for tool in qemu-system-aarch64:qemu-system-arm apt-get:apt dpkg-deb:dpkg readelf:binutils \
            cpio:cpio debugfs:e2fsprogs mkfs.ext2:e2fsprogs xz:xz-utils; do
  command -v "${tool%%:*}" >/dev/null || die "missing ${tool%%:*} (apt-get install ${tool##*:})"
done

# --- 1. arm64 packages through a private apt configuration ------------------
# Lists, cache and sources live in $WORK/apt; APT::Architecture=arm64 makes the
# arm64 packages the native ones there, so plain names resolve to arm64.
A=$WORK/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/debs"; : > "$A/status"
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" > "$A/sources.list"
APT=(-q -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o APT::Sandbox::User=root
     -o Dir::State::Lists="$A/lists" -o Dir::State::status="$A/status" -o Dir::Cache="$A/cache"
     -o Dir::Etc::sourcelist="$A/sources.list" -o Dir::Etc::sourceparts=/nonexistent)
apt-get "${APT[@]}" update >"$WORK/apt.log" 2>&1 || die "apt-get update (arm64 $SUITE) failed; see $WORK/apt.log"
PKG=$(apt-cache "${APT[@]}" depends linux-image-arm64 | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$PKG" ] || die "cannot resolve linux-image-arm64 in $SUITE"
REL=${PKG#linux-image-}
# the libraries of kexec (zlib, and Xen's libraries on arm64) and makedumpfile
LIBS=$(apt-cache "${APT[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
         --no-breaks --no-replaces --no-enhances kexec-tools makedumpfile | grep -E '^(lib|zlib)' | sort -u)
(cd "$A/debs" && apt-get "${APT[@]}" download "$PKG" "$PKG-dbg" busybox-static kexec-tools \
   makedumpfile $LIBS >>"$WORK/apt.log" 2>&1) || die "apt-get download failed; see $WORK/apt.log"

# the arm64 userland, unpacked together: the initramfs trees take from it
ROOT=$WORK/root; mkdir -p "$ROOT"
for deb in "$A"/debs/*.deb; do
  case ${deb##*/} in linux-image-*) ;; *) dpkg-deb -x "$deb" "$ROOT";; esac
done
dpkg-deb -x "$A"/debs/${PKG}_*.deb "$WORK/img"

# --- 2. kernel image and matching debuginfo -------------------------------
DBGMODS="./usr/lib/debug/lib/modules/$REL/kernel/drivers/net/dummy.ko ./usr/lib/debug/lib/modules/$REL/kernel/drivers/block/loop.ko"
dpkg-deb --fsys-tarfile "$A"/debs/${PKG}-dbg_*.deb | tar x -C "$WORK" "./usr/lib/debug/boot/vmlinux-$REL" $DBGMODS
mv "$WORK/usr/lib/debug/boot/vmlinux-$REL" "$OUT/vmlinux-$REL"
mkdir -p "$OUT/modules-debug"
for m in $DBGMODS; do mv "$WORK/$m" "$OUT/modules-debug/"; done
cp "$WORK/img/boot/config-$REL" "$OUT/"  # (the package's System.map is a stub)
rm -f "$A"/debs/${PKG}-dbg_*.deb
# _stext - _text (the image header before the text), for the kexec work-around below
TEXT_GAP=$(readelf -sW "$OUT/vmlinux-$REL" | awk '$8=="_text"{t=$2} $8=="_stext"{s=$2} END{if (t && s) print "0x" s, "0x" t}')
[ -n "$TEXT_GAP" ] || die "no _text/_stext in vmlinux-$REL"
TEXT_GAP=$(printf '0x%x' $(( ${TEXT_GAP% *} - ${TEXT_GAP#* } )))

# QEMU's -kernel and kexec's arm64 loader both take the plain Image. Debian 12's
# vmlinuz is one already ("MZ" EFI stub, "ARMd" at 0x38); a gzipped Image is
# inflated, an EFI zboot image ("zimg" at 4) has its gzip payload cut out.
VMLINUZ=$WORK/img/boot/vmlinuz-$REL; IMAGE=$WORK/Image
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
if [ "$(head -c 2 "$VMLINUZ" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
  gzip -dc "$VMLINUZ" > "$IMAGE"
elif [ "$(dd if="$VMLINUZ" bs=1 skip=4 count=4 2>/dev/null)" = zimg ]; then
  [ "$(dd if="$VMLINUZ" bs=1 skip=24 count=4 2>/dev/null)" = gzip ] || die "EFI zboot image not gzip-compressed"
  tail -c +$(( $(u32 "$VMLINUZ" 8) + 1 )) "$VMLINUZ" | head -c "$(u32 "$VMLINUZ" 12)" | gzip -dc > "$IMAGE" 2>/dev/null || true
else
  cp "$VMLINUZ" "$IMAGE"
fi
[ "$(dd if="$IMAGE" bs=1 skip=56 count=4 2>/dev/null)" = ARMd ] || die "no arm64 Image in $PKG"

# Debian's arm64 kernel has virtio, virtio_ring, PCI and the PL011 console
# built in; the disks need these modules, and the capture kernel's ext2 mount
# needs ext4 (EXT4_USE_FOR_EXT2) with its dependencies.
KO="$WORK/img/lib/modules/$REL/kernel"; [ -d "$KO" ] || KO="$WORK/img/usr/lib/modules/$REL/kernel"
MODULES="drivers/virtio/virtio_mmio drivers/virtio/virtio_pci_legacy_dev
 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
 lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4
 drivers/net/dummy drivers/block/loop"
QEMU_DUMP=${QEMU_DUMP:-}
# QEMU dumps: the guest tells QEMU where its VMCOREINFO is through fw_cfg
[ -z "$QEMU_DUMP" ] || MODULES+=" drivers/firmware/qemu_fw_cfg"

# --- 3. two initramfs: the production system and the capture system -------
copy_libs() {  # ELF DIR: the ELF's libraries (DT_NEEDED, recursively) from ROOT into DIR
  local so d f
  for so in $(readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    f=""
    for d in /lib/$TRIPLET /usr/lib/$TRIPLET; do [ -e "$ROOT$d/$so" ] && { f=$d/$so; break; }; done
    [ -n "$f" ] || die "no arm64 library $so (needed by ${1##*/})"
    [ -e "$2$f" ] && continue
    mkdir -p "$2${f%/*}"; cp -L "$ROOT$f" "$2$f"; copy_libs "$ROOT$f" "$2"
  done
}
populate() {  # DIR BINARY... (paths in ROOT): busybox, the binaries with their libraries, the modules
  local dir=$1; shift
  mkdir -p "$dir"/{bin,proc,sys,dev,tmp,mods,lib}
  cp "$ROOT/bin/busybox" "$dir/bin/"
  local bin m
  for bin in "$@"; do
    [ -f "$ROOT$bin" ] || die "no $bin in the arm64 packages"
    cp "$ROOT$bin" "$dir/bin/"; copy_libs "$ROOT$bin" "$dir"
  done
  ln -sf $TRIPLET/ld-linux-aarch64.so.1 "$dir/lib/ld-linux-aarch64.so.1"  # the ELF interpreter
  for m in $MODULES; do  # absent: built into this kernel
    if [ -f "$KO/$m.ko.xz" ]; then xz -dc "$KO/$m.ko.xz" > "$dir/mods/${m##*/}.ko"
    elif [ -f "$KO/$m.ko" ]; then cp "$KO/$m.ko" "$dir/mods/"; fi
  done
}
pack() { (cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$2"; }
PREAMBLE='#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk crc16 mbcache jbd2 crc32c_generic ext4; do
  [ -f /mods/$m.ko ] && insmod /mods/$m.ko
done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vdb ] && break; sleep 1; done'

populate "$WORK/capture" /usr/bin/makedumpfile
cat > "$WORK/capture/init" <<INIT
$PREAMBLE
mkdir /out; mount -t ext4 /dev/vda /out; cd /out
cat /proc/cmdline > capture-cmdline.txt
makedumpfile -v > mdf-version.txt 2>&1
makedumpfile --message-level 22 -c -d 31 /proc/vmcore vmcore.kdump > mdf.log 2>&1
echo "makedumpfile exit \$?" >> mdf.log
cd /; umount /out; sync; echo PYCRASH-CAPTURE-DONE; poweroff -f
INIT
chmod +x "$WORK/capture/init"; pack "$WORK/capture" "$WORK/capture.cpio.gz"

populate "$WORK/prod" /sbin/kexec
mkdir -p "$WORK/prod/boot"
cp "$IMAGE" "$WORK/prod/boot/Image"; cp "$WORK/capture.cpio.gz" "$WORK/prod/boot/"

# record-stacks: truth/stacks.txt (format above), one awk for all threads
cat > "$WORK/prod/bin/record-stacks" <<'STACKS'
#!/bin/busybox sh
exec awk '
function dump(dir,   s, i, j, part, line) {
  if ((getline s < (dir "/stat")) <= 0) return          # the thread has exited
  close(dir "/stat")
  i = index(s, "("); j = length(s)                      # comm is between ( and the last )
  while (j > i && substr(s, j, 1) != ")") j--
  split(dir, part, "/")                                 # /proc/TGID/task/TID
  print "task " part[5] " " part[3] " " substr(s, j + 2, 1) " " substr(s, i + 1, j - i - 1)
  while ((getline line < (dir "/stack")) > 0) print line
  close(dir "/stack")
  print ""
}
BEGIN { for (k = 1; k < ARGC; k++) dump(ARGV[k]) }' /proc/[0-9]*/task/[0-9]*
STACKS
chmod +x "$WORK/prod/bin/record-stacks"

cat > "$WORK/prod/init" <<INIT
$PREAMBLE
insmod /mods/dummy.ko; insmod /mods/loop.ko
$( [ -z "$QEMU_DUMP" ] || echo '[ -f /mods/qemu_fw_cfg.ko ] && insmod /mods/qemu_fw_cfg.ko' )
ip link add pcfix0 type dummy 2>/dev/null; ip link set pcfix0 up 2>/dev/null
mkdir -p /tmp/work; echo pycrash-fixture > /tmp/work/hello.txt
for i in 1 2 3; do sh -c "echo -n pcfix-sleeper\$i > /proc/self/comm; while :; do sleep 1000; done" & done
sh -c 'exec 3</tmp/work/hello.txt 4>/tmp/work/out.log; echo -n pcfix-files > /proc/self/comm; while :; do sleep 1000; done' &
$WORKLOAD
echo "pycrash-fixture: marker before crash" > /dev/kmsg
sleep 1
# kexec-tools takes the kernel's virtual start (for the crash ELF header's kernel
# text segment and for PAGE_OFFSET) from _text in /proc/kallsyms; Debian's arm64
# kernel (no CONFIG_KALLSYMS_ALL) lists only _stext there, and without _text the
# header is garbage (makedumpfile: "Can't read pgd"). So kexec reads, for the
# load only, a /proc/kallsyms with _text added: _stext less the gap in vmlinux.
if ! grep -q ' _text\$' /proc/kallsyms; then
  S=\$(awk '\$3 == "_stext" { print \$1; exit }' /proc/kallsyms)
  { printf '%016x T _text\n' \$((0x\$S - $TEXT_GAP)); cat /proc/kallsyms; } > /tmp/kallsyms
  mount --bind /tmp/kallsyms /proc/kallsyms
fi
# the capture kernel: arm64 has no kexec_file_load in this kernel, kexec_load
# builds its device tree (elfcorehdr, usable memory) from /sys/firmware/fdt
APPEND="console=ttyAMA0 irqpoll nr_cpus=1 reset_devices panic=1"
$( [ -n "$QEMU_DUMP" ] || echo 'kexec -p /boot/Image --initrd=/boot/capture.cpio.gz --append="$APPEND" || echo PYCRASH-KEXEC-FAILED' )
umount /proc/kallsyms 2>/dev/null; rm -f /tmp/kallsyms
mkdir /tmp/truth; cd /tmp/truth
# the stacks first (as build-vmcore.sh): uptime-stacks.txt says when they were read
cat /proc/uptime > uptime-stacks.txt; record-stacks > stacks.txt
uname -a > uname.txt; date +%s > date.txt; cat /proc/uptime > uptime.txt
cat /proc/meminfo > meminfo.txt; cat /proc/slabinfo > slabinfo.txt 2>/dev/null
cat /proc/modules > modules.txt; cat /proc/cmdline > cmdline.txt; cat /proc/iomem > iomem.txt
dmesg > dmesg.txt; cat /proc/mounts > mounts.txt; cat /proc/interrupts > interrupts.txt
cat /proc/[0-9]*/stat > stat.txt 2>/dev/null
cat /sys/kernel/vmcoreinfo > vmcoreinfo-addr.txt
cat /sys/kernel/kexec_crash_loaded > kexec-crash-loaded.txt
for c in /sys/devices/system/cpu/cpu[0-9]*; do echo "\${c##*/} \$(cat \$c/crash_notes)"; done > crash-notes.txt
ps -o pid,ppid,stat,vsz,rss,comm > ps.txt 2>/dev/null || ps > ps.txt
for c in \$(grep -l pcfix /proc/[0-9]*/comm); do p=\${c%/comm}; echo "\$p \$(cat \$c)"; ls -l \$p/fd/; done > fds.txt 2>/dev/null
grep -E " (_stext|_text|init_task|jiffies|panic)\$" /proc/kallsyms > kallsyms.txt
cd /tmp; tar cf /dev/vdb truth; sync
$( if [ -n "$QEMU_DUMP" ]; then
     echo 'echo PYCRASH-READY-FOR-QEMU-DUMP; while :; do sleep 1000; done'
   else
     printf '%s\n' 'echo 1 > /proc/sys/kernel/sysrq' "$CRASH"
   fi )
# the crash command returned without crashing: fail the build rather than
# let init exit (that panic would make a dump of the wrong crash)
sleep 60; echo PYCRASH-CRASH-RETURNED; poweroff -f
INIT
chmod +x "$WORK/prod/init"; pack "$WORK/prod" "$WORK/prod.cpio.gz"

# --- 4. boot, crash, capture, unpack ---------------------------------------
# Both disks are virtio-blk on PCI (vda: the dump, vdb: the truth tar). The
# capture kernel powers off through PSCI; -no-reboot ends QEMU should it panic.
truncate -s 4G "$WORK/dump.img"; mkfs.ext2 -q -F "$WORK/dump.img"; truncate -s 64M "$WORK/truth.img"
START=$(date +%s)
QEMU_ARGS=(-M virt -accel tcg -cpu "$CPU" -m "$MEM" -smp "$SMP"
  -nographic -no-reboot -kernel "$IMAGE" -initrd "$WORK/prod.cpio.gz"
  -append "console=ttyAMA0 crashkernel=$CRASHMEM panic=1 loglevel=6${EXTRA_APPEND:+ $EXTRA_APPEND}"
  -drive file="$WORK/dump.img",if=none,id=dump,format=raw -device virtio-blk-pci,drive=dump
  -drive file="$WORK/truth.img",if=none,id=truth,format=raw -device virtio-blk-pci,drive=truth
  -serial file:"$OUT/console.log" -monitor none)
if [ -z "$QEMU_DUMP" ]; then
  timeout "${TIMEOUT:-1800}" qemu-system-aarch64 "${QEMU_ARGS[@]}" >/dev/null 2>&1 || true
  grep -q PYCRASH-KEXEC-FAILED "$OUT/console.log" && die "kexec -p failed in the guest; see $OUT/console.log"
  grep -q PYCRASH-CAPTURE-DONE "$OUT/console.log" || die "capture failed; see $OUT/console.log"
  debugfs -R "rdump / $OUT" "$WORK/dump.img" >/dev/null 2>&1; rm -rf "$OUT/lost+found"
  [ "$(head -c 8 "$OUT/vmcore.kdump" 2>/dev/null)" = "KDUMP   " ] || die "no kdump file; see $OUT/mdf.log"
else
  bash "$(dirname "$0")/qemu-dump.sh" "$OUT" "$WORK/qmp.sock" "${TIMEOUT:-1800}" "$QEMU_DUMP" \
    qemu-system-aarch64 "${QEMU_ARGS[@]}" -device vmcoreinfo || die "QEMU's dump failed"
fi
tar xf "$WORK/truth.img" -C "$OUT"
[ -s "$OUT/truth/stacks.txt" ] || die "no truth/stacks.txt"
echo "$REL" > "$OUT/kernel-release"
echo "built $(date -u +%FT%TZ) arch=arm64 accel=tcg cpu=$CPU mem=$MEM smp=$SMP guest=$(( $(date +%s) - START ))s" > "$OUT/COMPLETE"
