#!/bin/bash
# Build the live fixture: pycrash run inside a Debian guest, on its own running kernel
# and, after a crash, in the capture kernel on the crashed one.
#
# A Debian 12 root file system (live-rootfs.sh: debootstrap, cached) gets pycrash
# installed from a wheel of this checkout (pip wheel on the host; pip install
# --no-index in the tree), the kernel's -dbg vmlinux in /usr/lib/debug/boot/ (where
# pycrash finds it by release) and the scripts below; it becomes a read-only ext4
# disk (mkfs.ext4 -d). QEMU (TCG) boots bookworm's cloud kernel with a busybox
# initramfs that loads the virtio modules, mounts that disk read-only and
# switch_roots to /pycrash-live/stage.sh (no systemd, no network; HOME is read-only, /tmp
# a tmpfs):
#
#   prod     the production kernel (crashkernel= reserved): loads the same kernel
#            and initramfs as the capture kernel (kexec -p), records its own truth
#            from /proc, runs pycrash --live, records /proc again, writes live/ to
#            the second disk (tar) and crashes with sysrq-c on CPU 1; the shell that
#            crashes records its pid and every /proc/PID/stat first.
#   capture  the capture kernel (the initramfs tells it by /proc/vmcore): runs
#            pycrash on /proc/vmcore as it is (nothing saved first), then
#            pycrash --oldmem /dev/mem (elfcorehdr= from /proc/cmdline), with the
#            kernel's own answer to reading /dev/mem at that address; writes
#            capture/ to the third disk (tar) and powers off.
#
# usage: build-live.sh OUT
# env:   VMLINUX  the -dbg vmlinux of bookworm's current cloud kernel (fixture.py
#                 passes the small fixture's); without it the -dbg package is downloaded
#        PYTHON   a python with pip that builds the wheels (default python3)
#        MEM (2560M) CRASHMEM (768M) SMP (2) ACCEL (tcg) TIMEOUT (2400)
#        CAPTURE_APPEND  added to the capture kernel's command line (iomem=relaxed lets
#                 /dev/mem serve the ELF core header's page; without it Debian refuses it)
#
# OUT gets kernel-release, console.log (both kernels' serial console), COMPLETE, and
#   live/     uname.txt, stat-before.txt and stat-after.txt (every /proc/PID/stat just
#             before and after pycrash ran), sleeper.txt (the pid of a `sleep`),
#             stack-PID.txt (/proc/PID/stack of that sleep and of kthreadd, pid 2),
#             pycrash-pid.txt; pycrash --live's sys.txt, ps.txt, bt-PID.txt, err.txt,
#             rc.txt, time.txt (/usr/bin/time -v); kexec.txt, panic-pid.txt (the shell
#             that crashes) and stat-crash.txt (/proc/PID/stat, read by that shell)
#   capture/  cmdline.txt, iomem.txt, meminfo.txt; vmcore-*.txt (pycrash /proc/vmcore:
#             sys, ps, bt -p, err, rc, time) and oldmem-*.txt (pycrash --oldmem
#             /dev/mem: the same); devmem.txt (what reading /dev/mem gives, one line
#             a page: "elfcorehdr ADDR RESULT" for the ELF core header's, then "load ADDR
#             RESULT" for the first of each PT_LOAD of /proc/vmcore; RESULT is "ok 4096"
#             or the errno's name)
set -euo pipefail
# the root file system is made as root (chroot, its root-owned files): run as root
[ "$(id -u)" = 0 ] || exec sudo -E bash "$0" "$@"
OUT=$(realpath -m "$1")
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(dirname "$HERE")
PYTHON=${PYTHON:-python3}
MEM=${MEM:-2560M}; CRASHMEM=${CRASHMEM:-768M}; SMP=${SMP:-2}; ACCEL=${ACCEL:-tcg}
for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio mkfs.ext4:e2fsprogs xz:xz-utils; do
  command -v "${tool%%:*}" >/dev/null || { echo "missing ${tool%%:*} (apt-get install ${tool##*:})" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# --- 1. the kernel, its virtio modules and its debuginfo --------------------
PKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$PKG" ] || { echo "cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
REL=${PKG#linux-image-}
(cd "$WORK" && apt-get download "$PKG" >/dev/null)
dpkg-deb -x "$WORK"/${PKG}_*.deb "$WORK/img"
if [ -z "${VMLINUX:-}" ]; then
  (cd "$WORK" && apt-get download "$PKG-dbg" >/dev/null)
  dpkg-deb --fsys-tarfile "$WORK"/${PKG}-dbg_*.deb | tar x -C "$WORK" "./usr/lib/debug/boot/vmlinux-$REL"
  VMLINUX=$WORK/usr/lib/debug/boot/vmlinux-$REL
fi
[ "$(basename "$VMLINUX")" = "vmlinux-$REL" ] || { echo "VMLINUX is not vmlinux-$REL: $VMLINUX" >&2; exit 1; }

# --- 2. the initramfs of both kernels ----------------------------------------
mkdir -p "$WORK/initrd"/{bin,proc,sys,dev,mods,root}
cp /bin/busybox "$WORK/initrd/bin/"
VIRTIO="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
for m in $VIRTIO; do  # absent: built into this kernel
  ko=$(find "$WORK/img/lib/modules/$REL/kernel" -name "$m.ko*" | head -1)
  case $ko in *.xz) xz -dc "$ko" > "$WORK/initrd/mods/$m.ko";; ?*) cp "$ko" "$WORK/initrd/mods/";; esac
done
cat > "$WORK/initrd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $VIRTIO; do [ -f /mods/\$m.ko ] && insmod /mods/\$m.ko; done
for i in \$(seq 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 -o ro /dev/vda /root || { echo PYCRASH-LIVE-NO-ROOT; poweroff -f; }
stage=prod; [ -e /proc/vmcore ] && stage=capture
umount /sys /proc; mount --move /dev /root/dev
exec switch_root /root /pycrash-live/stage.sh \$stage
INIT
chmod +x "$WORK/initrd/init"
(cd "$WORK/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$WORK/initrd.gz"

# --- 3. the root file system: Debian 12, pycrash from a wheel, the vmlinux ----
BASE=$(bash "$HERE/live-rootfs.sh")
ROOT=$WORK/root
cp -a "$BASE" "$ROOT"; rm -f "$ROOT/.pycrash-complete"
mkdir -p "$ROOT/wheels" "$WORK/src"
# the wheel is built from a copy of what makes the package (the checkout gets no build/)
cp -r "$REPO"/{pyproject.toml,README.md,LICENSE,pycrash,commands,plugins} "$WORK/src/"
"$PYTHON" -m pip wheel -q "$WORK/src" -w "$ROOT/wheels" >&2
chroot "$ROOT" python3 -m venv /opt/pycrash
chroot "$ROOT" /opt/pycrash/bin/pip install -q --no-index --find-links /wheels pycrash-kdump >&2
ln -s /opt/pycrash/bin/pycrash "$ROOT/usr/local/bin/pycrash"
rm -rf "$ROOT/wheels"
mkdir -p "$ROOT/usr/lib/debug/boot" "$ROOT/pycrash-live"
cp -l "$VMLINUX" "$ROOT/usr/lib/debug/boot/" 2>/dev/null || cp "$VMLINUX" "$ROOT/usr/lib/debug/boot/"
cp "$WORK/img/boot/vmlinuz-$REL" "$ROOT/pycrash-live/vmlinuz"; cp "$WORK/initrd.gz" "$ROOT/pycrash-live/"
cat > "$ROOT/pycrash-live/stage.sh" <<'STAGE'
#!/bin/sh
# PID 1 of both kernels (see build-live.sh); it must never exit (init's death panics)
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /tmp
fail() { echo "PYCRASH-LIVE-FAILED: $*"; busybox poweroff -f; sleep 1000; }
# pycrash -s ... -x CMDS: stdout, stderr, exit status and /usr/bin/time -v into $R/NAME-*
run_pycrash() {  # NAME ARGS...
  name=$1; shift
  # (the shell under time writes its pid, which pycrash then takes over: exec)
  /usr/bin/time -v -o "$R/$name-time.txt" sh -c 'echo $$ > "$0"; exec pycrash -s "$@"' \
    "$R/$name-pid.txt" "$@" > "$R/$name-out.txt" 2> "$R/$name-err.txt"
  echo $? > "$R/$name-rc.txt"
  echo "pycrash $name: exit $(cat "$R/$name-rc.txt"), $(grep Elapsed "$R/$name-time.txt")"
}
case $1 in
prod)
  R=/tmp/live; mkdir $R; cd $R
  sleep 100000 & echo $! > sleeper.txt
  APPEND="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=1 $(cat /pycrash-live/capture-append)"
  { kexec -p /pycrash-live/vmlinuz --initrd=/pycrash-live/initrd.gz --append="$APPEND" ||
    kexec -p -s /pycrash-live/vmlinuz --initrd=/pycrash-live/initrd.gz --append="$APPEND"; } > kexec.txt 2>&1
  [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "kexec -p: $(cat kexec.txt)"
  sleep 2  # the sleeper asleep
  SLEEPER=$(cat sleeper.txt)
  uname -r > uname.txt
  for p in $SLEEPER 2; do cat /proc/$p/stack > stack-$p.txt; done
  cat /proc/[0-9]*/stat > stat-before.txt 2>/dev/null
  run_pycrash live --live -x "sys > $R/sys.txt" -x "ps > $R/ps.txt" \
    -x "bt $SLEEPER > $R/bt-$SLEEPER.txt" -x "bt 2 > $R/bt-2.txt"
  cat /proc/[0-9]*/stat > stat-after.txt 2>/dev/null
  cp live-pid.txt pycrash-pid.txt
  echo 1 > /proc/sys/kernel/sysrq
  taskset 2 sh -c 'echo $$ > panic-pid.txt; cat /proc/[0-9]*/stat > stat-crash.txt 2>/dev/null
    tar cf /dev/vdb -C /tmp live; sync; echo PYCRASH-LIVE-CRASHING; echo c > /proc/sysrq-trigger'
  fail "sysrq-c returned";;
capture)
  R=/tmp/capture; mkdir $R; cd $R
  cat /proc/cmdline > cmdline.txt; cat /proc/iomem > iomem.txt; cat /proc/meminfo > meminfo.txt
  run_pycrash vmcore /proc/vmcore -x "sys > $R/vmcore-sys.txt" -x "ps > $R/vmcore-ps.txt" \
    -x "bt -p > $R/vmcore-bt.txt"
  run_pycrash oldmem --oldmem /dev/mem -x "sys > $R/oldmem-sys.txt" -x "ps > $R/oldmem-ps.txt" \
    -x "bt -p > $R/oldmem-bt.txt"
  # the kernel's own answer: a read through /dev/mem of the ELF core header's page and of
  # the first page of each old RAM range (/proc/vmcore's PT_LOADs)
  python3 - > devmem.txt <<'PY'
import errno, os, re, struct
m = re.search(r"elfcorehdr=(?:\S+@)?(0x[0-9a-fA-F]+|\d+)([KMG]?)", open("/proc/cmdline").read())
hdr = int(m.group(1), 0) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]
with open("/proc/vmcore", "rb") as f:
    eh = f.read(64)
    phoff, (phentsize, phnum) = struct.unpack_from("<Q", eh, 32)[0], struct.unpack_from("<HH", eh, 54)
    f.seek(phoff)
    phs = [struct.unpack_from("<IIQQQQQ", f.read(phentsize)) for _ in range(phnum)]
fd = os.open("/dev/mem", os.O_RDONLY)
for what, addr in [("elfcorehdr", hdr)] + [("load", p[4]) for p in phs if p[0] == 1]:
    try:
        print(what, hex(addr), "ok", len(os.pread(fd, 4096, addr)))
    except OSError as exc:
        print(what, hex(addr), errno.errorcode[exc.errno])
PY
  tar cf /dev/vdc -C /tmp capture; sync
  echo PYCRASH-LIVE-CAPTURE-DONE; busybox poweroff -f; sleep 1000;;
esac
fail "unknown stage $1"
STAGE
chmod +x "$ROOT/pycrash-live/stage.sh"; echo "${CAPTURE_APPEND:-}" > "$ROOT/pycrash-live/capture-append"
SIZE=$(( $(du -sm "$ROOT" | cut -f1) * 12 / 10 + 64 ))
mkfs.ext4 -q -F -L pycrash-live -d "$ROOT" "$WORK/root.img" "${SIZE}M"
rm -rf "$ROOT"

# --- 4. boot, run, crash, capture, unpack ----------------------------------
truncate -s 64M "$WORK/live.img" "$WORK/capture.img"
timeout "${TIMEOUT:-2400}" qemu-system-x86_64 -accel "$ACCEL" -cpu max -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot -nic none -kernel "$WORK/img/boot/vmlinuz-$REL" -initrd "$WORK/initrd.gz" \
  -append "console=ttyS0 crashkernel=$CRASHMEM panic=1 loglevel=6" \
  -drive file="$WORK/root.img",if=virtio,format=raw,readonly=on \
  -drive file="$WORK/live.img",if=virtio,format=raw \
  -drive file="$WORK/capture.img",if=virtio,format=raw \
  -serial file:"$OUT/console.log" -monitor none >/dev/null 2>&1 || true
grep -q PYCRASH-LIVE-CAPTURE-DONE "$OUT/console.log" || { echo "the live run failed; see $OUT/console.log" >&2; exit 1; }
tar xf "$WORK/live.img" -C "$OUT"; tar xf "$WORK/capture.img" -C "$OUT"
echo "$REL" > "$OUT/kernel-release"
echo "built $(date -u +%FT%TZ) accel=$ACCEL mem=$MEM crashkernel=$CRASHMEM smp=$SMP" > "$OUT/COMPLETE"
