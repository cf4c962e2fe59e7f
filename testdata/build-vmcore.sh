#!/bin/bash
# Build a real kdump vmcore for pycrash's tests.
#
# A Debian kernel boots in QEMU with crashkernel= reserved, loads itself as the
# capture kernel (kexec -p), records its own view of the system as ground truth,
# and panics (by default through sysrq on CPU 1). The capture kernel then saves
# /proc/vmcore with makedumpfile in several formats onto a second disk, which is
# unpacked into OUT.
#
# usage: build-vmcore.sh OUT [FLAVOUR]
# env:   MEM (768M) CRASHMEM (256M) SMP (2) FULL=1 (keep the unfiltered vmcore)
#        WORKLOAD (shell run in the guest before the crash) ACCEL (tcg) TIMEOUT (900)
#        EXTRA_KO     paths of extra .ko files: copied into the production initramfs,
#                     loaded (in this order) before WORKLOAD, and kept in OUT/modules/
#        EXTRA_APPEND added to the production kernel's command line
#                     (e.g. "oops=panic panic_on_warn=1")
#        CRASH        the guest shell command that crashes the kernel
#                     (default: sysrq-c on CPU 1); should it return, the guest
#                     powers off after a minute and the build fails
#        FORMATS      the makedumpfile outputs to make, any of
#                     "kdump elf flat split" (default: all four)
#        SUITE        the Debian suite whose kernel boots: bookworm (default, the
#                     host's own apt), bullseye or trixie (looked up and downloaded
#                     through suite-apt.sh's private apt configuration); the
#                     capture side uses the host's kexec and makedumpfile
#        QEMU_DUMP    instead of crashing, let QEMU save the running guest (as
#                     "virsh dump --memory-only" does): the guest records its truth,
#                     then idles; the host stops it and runs dump-guest-memory once
#                     per format listed, any of "elf kdump-zlib kdump-lzo
#                     kdump-snappy", into OUT/vmcore.qemu.FORMAT (QEMU 7.2 writes
#                     the kdump ones flattened; OUT/vmcore.qemu.kdump is
#                     kdump-zlib reassembled by makedumpfile -R). No kexec, no
#                     capture kernel, no panic; the guest has -device vmcoreinfo
#                     unless QEMU_VMCOREINFO=0
#        DUMP_LEVEL   makedumpfile's -d (default 31: zero, cache, user and free pages
#                     left out)
#        MAKEDUMPFILE_SUITE  take the capture system's makedumpfile (and its
#                     libraries) from a chroot of this suite (suite-chroot.sh)
#                     instead of the host: bookworm's 1.7.2 reads kernels up to
#                     6.1, and on 6.12 takes slab pages for free ones (-d 16)
#
# OUT gets vmlinux-REL, System.map-REL, config-REL, modules-debug/ (debuginfo of
# dummy.ko, loop.ko), modules/ (the EXTRA_KO files), vmcore.kdump and the other
# FORMATS (vmcore.elf, vmcore.flat, vmcore.split.1 + .2), vmcore.full with FULL=1,
# console.log (the serial console of both kernels: the crash report is there),
# mdf.log, capture-cmdline.txt, kernel-release, COMPLETE, and truth/: the
# production guest's own records (from /proc and /sys) taken just before the crash.
#
# truth/stacks.txt holds every thread's kernel stack, read from /proc just before
# the crash. One block per thread, blocks separated by an empty line:
#
#     task TID TGID STATE COMM
#     [<0>] pcfix_sleep_inner+0xaa/0xf0 [pcfix_oops]
#     [<0>] pcfix_kthread_fn+0x13/0x30 [pcfix_oops]
#     [<0>] kthread+0xda/0x100
#     [<0>] ret_from_fork+0x22/0x30
#
# TID is the thread id (crash's PID), TGID its process, STATE the one-letter
# state of /proc/TGID/task/TID/stat, COMM the rest of the line (it may hold
# spaces); the frame lines are /proc/TGID/task/TID/stack verbatim (no lines for
# a thread whose stack was empty or unreadable). The kernel leaves scheduler
# functions (.sched.text: __schedule, schedule, schedule_timeout, ...) out of a
# sleeping task's /proc stack, so a sleeper's first line is the function that
# called into the scheduler; crash's bt shows those frames too. Threads come in
# the order of the glob /proc/[0-9]*/task/[0-9]* (ids sorted as strings); the
# awk that reads the stacks shows itself running (state R, in proc_pid_stack).
#
# truth/modules/NAME/ holds, for each EXTRA_KO module, sections.txt (the module's
# section addresses from /sys/module/NAME/sections: "NAME ADDRESS") and
# kallsyms.txt (its lines of /proc/kallsyms).
set -euo pipefail
OUT=$(realpath -m "$1"); FLAVOUR=${2:-cloud-amd64}
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=${SUITE:-bookworm}
QEMU_DUMP=${QEMU_DUMP:-}; QEMU_VMCOREINFO=${QEMU_VMCOREINFO:-1}
APT=(bash "$HERE/suite-apt.sh" "$SUITE")  # apt-get / apt-cache for SUITE
MEM=${MEM:-768M}; CRASHMEM=${CRASHMEM:-256M}; SMP=${SMP:-2}; FULL=${FULL:-}
WORKLOAD=${WORKLOAD:-}; ACCEL=${ACCEL:-tcg}
EXTRA_KO=${EXTRA_KO:-}; EXTRA_APPEND=${EXTRA_APPEND:-}
CRASH=${CRASH:-"taskset 2 sh -c 'echo c > /proc/sysrq-trigger' || echo c > /proc/sysrq-trigger"}
FORMATS=${FORMATS:-kdump elf flat split}
for f in $FORMATS; do
  case $f in kdump|elf|flat|split) ;; *) echo "unknown format $f in FORMATS" >&2; exit 1;; esac
done
for ko in $EXTRA_KO; do
  [ -f "$ko" ] || { echo "EXTRA_KO: no such file $ko" >&2; exit 1; }
done
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

for tool in qemu-system-x86_64:qemu-system-x86 kexec:kexec-tools makedumpfile:makedumpfile \
            cpio:cpio debugfs:e2fsprogs xz:xz-utils; do
  command -v "${tool%%:*}" >/dev/null || { echo "missing ${tool%%:*} (apt-get install ${tool##*:})" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

# --- 1. kernel image and matching debuginfo -------------------------------
PKG=$("${APT[@]}" apt-cache depends "linux-image-$FLAVOUR" | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$PKG" ] || { echo "cannot resolve linux-image-$FLAVOUR in $SUITE (run apt-get update)" >&2; exit 1; }
REL=${PKG#linux-image-}
(cd "$WORK" && "${APT[@]}" apt-get download "$PKG" "$PKG-dbg" >/dev/null)
dpkg-deb -x "$WORK"/${PKG}_*.deb "$WORK/img"
# Debian 14 splits the kernel: linux-image-REL depends on linux-binary-REL (vmlinuz),
# linux-modules-REL and linux-base-REL (System.map, config)
PARTS=$("${APT[@]}" apt-cache depends "$PKG" | awk '/Depends: linux-(binary|modules|base)-/{print $2}')
if [ -n "$PARTS" ]; then
  (cd "$WORK" && "${APT[@]}" apt-get download $PARTS >/dev/null)
  for p in $PARTS; do dpkg-deb -x "$WORK"/${p}_*.deb "$WORK/img"; done
fi
# vmlinuz, System.map and config may live in /usr/lib/linux/REL/ or /usr/lib/modules/REL/
for f in vmlinuz System.map config; do
  [ -e "$WORK/img/boot/$f-$REL" ] && continue
  found=$(find "$WORK/img/usr/lib" \( -name "$f-$REL" -o -path "*/$REL/$f" \) 2>/dev/null | head -1)
  [ -n "$found" ] && { mkdir -p "$WORK/img/boot"; cp "$found" "$WORK/img/boot/$f-$REL"; }
done
DBGMODS="./usr/lib/debug/lib/modules/$REL/kernel/drivers/net/dummy.ko ./usr/lib/debug/lib/modules/$REL/kernel/drivers/block/loop.ko"
dpkg-deb --fsys-tarfile "$WORK"/${PKG}-dbg_*.deb | tar x -C "$WORK" "./usr/lib/debug/boot/vmlinux-$REL" $DBGMODS
if [ -L "$WORK/usr/lib/debug/boot/vmlinux-$REL" ]; then  # Debian 14: a link into lib/modules/REL
  target=$(realpath -m --relative-to="$WORK" "$WORK/usr/lib/debug/boot/$(readlink "$WORK/usr/lib/debug/boot/vmlinux-$REL")")
  dpkg-deb --fsys-tarfile "$WORK"/${PKG}-dbg_*.deb | tar x -C "$WORK" "./$target"
  mv "$WORK/$target" "$WORK/usr/lib/debug/boot/vmlinux-$REL"
fi
mv "$WORK/usr/lib/debug/boot/vmlinux-$REL" "$OUT/vmlinux-$REL"
mkdir -p "$OUT/modules-debug"
for m in $DBGMODS; do mv "$WORK/$m" "$OUT/modules-debug/"; done
cp "$WORK/img/boot/System.map-$REL" "$WORK/img/boot/config-$REL" "$OUT/" 2>/dev/null || true
KO="$WORK/img/lib/modules/$REL/kernel"; [ -d "$KO" ] || KO="$WORK/img/usr/lib/modules/$REL/kernel"
MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
 drivers/net/dummy drivers/block/loop"
# QEMU dumps: the guest tells QEMU where its VMCOREINFO is through fw_cfg
[ -z "$QEMU_DUMP" ] || MODULES+=" drivers/firmware/qemu_fw_cfg"

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
add_from_root() {  # DIR ROOT BINARY... : ROOT's binaries with ROOT's libraries (and loader)
  local dir=$1 root=$2; shift 2
  local chroot=(chroot "$root") bin lib
  [ "$(id -u)" = 0 ] || chroot=(sudo "${chroot[@]}")
  for bin in "$@"; do  # read through the chroot, so its absolute links resolve in it
    "${chroot[@]}" cat "$bin" > "$dir/bin/${bin##*/}"; chmod +x "$dir/bin/${bin##*/}"
    for lib in $("${chroot[@]}" ldd "$bin" | grep -o '/lib[^ ]*'); do
      # (executable: the kernel runs the loader, ld-linux, only if it may execute it)
      mkdir -p "$dir${lib%/*}"; "${chroot[@]}" cat "$lib" > "$dir$lib"; chmod 755 "$dir$lib"
    done
  done
}
PREAMBLE='#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  [ -f /mods/$m.ko ] && insmod /mods/$m.ko
done'

# the capture system's makedumpfile runs, one per wanted format
MDF="makedumpfile --message-level 22"; SAVE=""; L=${DUMP_LEVEL:-31}
for f in $FORMATS; do
  case $f in
    kdump) SAVE+="$MDF -c -d $L /proc/vmcore vmcore.kdump >> mdf.log 2>&1"$'\n';;
    elf)   SAVE+="$MDF -E -d $L /proc/vmcore vmcore.elf >> mdf.log 2>&1"$'\n';;
    flat)  SAVE+="$MDF -F -l -d $L /proc/vmcore > vmcore.flat 2>> mdf.log"$'\n';;
    split) SAVE+="$MDF --split --splitblock-size 1024 -c -d $L /proc/vmcore vmcore.split.1 vmcore.split.2 >> mdf.log 2>&1"$'\n';;
  esac
done

if [ -n "${MAKEDUMPFILE_SUITE:-}" ]; then
  MDFROOT=$(bash "$HERE/suite-chroot.sh" "$MAKEDUMPFILE_SUITE" makedumpfile)
  populate "$WORK/capture"; add_from_root "$WORK/capture" "$MDFROOT" /usr/bin/makedumpfile
else
  populate "$WORK/capture" "$(command -v makedumpfile)"
fi
cat > "$WORK/capture/init" <<INIT
$PREAMBLE
mkdir /out; mount -t ext4 /dev/vda /out; cd /out
cat /proc/cmdline > capture-cmdline.txt
makedumpfile -v > mdf-version.txt 2>&1
[ -n "$FULL" ] && cp /proc/vmcore vmcore.full
: > mdf.log
$SAVE
cd /; umount /out; sync; echo PYCRASH-CAPTURE-DONE; poweroff -f
INIT
chmod +x "$WORK/capture/init"; pack "$WORK/capture" "$WORK/capture.cpio.gz"

populate "$WORK/prod" "$(command -v kexec)"
mkdir -p "$WORK/prod/boot"
cp "$WORK/img/boot/vmlinuz-$REL" "$WORK/prod/boot/vmlinuz"; cp "$WORK/capture.cpio.gz" "$WORK/prod/boot/"

# the extra modules: into the initramfs (loaded at boot) and into OUT/modules/
LOAD_EXTRA=""; EXTRA_NAMES=""
if [ -n "$EXTRA_KO" ]; then
  mkdir -p "$WORK/prod/mods/extra" "$OUT/modules"
  for ko in $EXTRA_KO; do
    name=$(basename "$ko" .ko)
    cp "$ko" "$WORK/prod/mods/extra/"; cp "$ko" "$OUT/modules/"
    LOAD_EXTRA+="insmod /mods/extra/$name.ko"$'\n'
    EXTRA_NAMES+=" ${name//-/_}"  # the kernel's name for the module
  done
fi

# record-stacks: truth/stacks.txt (format above), one awk for all threads, so
# thousands of threads cost no fork each
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
$LOAD_EXTRA
ip link add pcfix0 type dummy 2>/dev/null; ip link set pcfix0 up 2>/dev/null
mkdir -p /tmp/work; echo pycrash-fixture > /tmp/work/hello.txt
for i in 1 2 3; do sh -c "echo -n pcfix-sleeper\$i > /proc/self/comm; while :; do sleep 1000; done" & done
sh -c 'exec 3</tmp/work/hello.txt 4>/tmp/work/out.log; echo -n pcfix-files > /proc/self/comm; while :; do sleep 1000; done' &
$WORKLOAD
echo "pycrash-fixture: marker before crash" > /dev/kmsg
sleep 1
APPEND="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=1"
$( [ -n "$QEMU_DUMP" ] || echo 'kexec -p /boot/vmlinuz --initrd=/boot/capture.cpio.gz --append="$APPEND" || kexec -p -s /boot/vmlinuz --initrd=/boot/capture.cpio.gz --append="$APPEND"' )
mkdir /tmp/truth; cd /tmp/truth
# the stacks first: reading them allocates a proc inode per thread, which the
# slab counts read next must include; uptime-stacks.txt says when they were read
cat /proc/uptime > uptime-stacks.txt; record-stacks > stacks.txt
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
for m in $EXTRA_NAMES; do
  mkdir -p modules/\$m
  for s in /sys/module/\$m/sections/.* /sys/module/\$m/sections/*; do
    [ -f "\$s" ] && echo "\${s##*/} \$(cat \$s)"
  done > modules/\$m/sections.txt
  grep "\\[\$m\\]" /proc/kallsyms > modules/\$m/kallsyms.txt
done
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

# --- 3. boot, crash, capture, unpack ---------------------------------------
truncate -s 4G "$WORK/dump.img"; mkfs.ext2 -q -F "$WORK/dump.img"; truncate -s 64M "$WORK/truth.img"
QEMU_ARGS=(-accel "$ACCEL" -cpu max -m "$MEM" -smp "$SMP"
  -nographic -no-reboot -kernel "$WORK/img/boot/vmlinuz-$REL" -initrd "$WORK/prod.cpio.gz"
  -append "console=ttyS0 crashkernel=$CRASHMEM panic=1 loglevel=6${EXTRA_APPEND:+ $EXTRA_APPEND}"
  -drive file="$WORK/dump.img",if=virtio,format=raw -drive file="$WORK/truth.img",if=virtio,format=raw
  -serial file:"$OUT/console.log" -monitor none)
if [ -z "$QEMU_DUMP" ]; then
  timeout "${TIMEOUT:-900}" qemu-system-x86_64 "${QEMU_ARGS[@]}" >/dev/null 2>&1 || true
  grep -q PYCRASH-CAPTURE-DONE "$OUT/console.log" || { echo "capture failed; see $OUT/console.log" >&2; exit 1; }
  debugfs -R "rdump / $OUT" "$WORK/dump.img" >/dev/null 2>&1; rm -rf "$OUT/lost+found"
  # every wanted format was saved (a makedumpfile that failed still lets the guest finish)
  for f in $FORMATS; do
    case $f in split) f=split.1;; esac
    [ -s "$OUT/vmcore.$f" ] || { echo "no vmcore.$f; see $OUT/mdf.log" >&2; exit 1; }
  done
else
  [ "$QEMU_VMCOREINFO" = 0 ] || QEMU_ARGS+=(-device vmcoreinfo)
  timeout "${TIMEOUT:-900}" qemu-system-x86_64 "${QEMU_ARGS[@]}" \
    -qmp unix:"$WORK/qmp.sock",server=on,wait=off >/dev/null 2>&1 &
  QEMU_PID=$!
  for _ in $(seq 600); do
    grep -q PYCRASH-READY-FOR-QEMU-DUMP "$OUT/console.log" 2>/dev/null && break
    kill -0 $QEMU_PID 2>/dev/null || break; sleep 1
  done
  grep -q PYCRASH-READY-FOR-QEMU-DUMP "$OUT/console.log" || { kill $QEMU_PID 2>/dev/null; echo "the guest never got ready; see $OUT/console.log" >&2; exit 1; }
  python3 "$HERE/qmp-dump.py" "$WORK/qmp.sock" "$OUT" $QEMU_DUMP
  wait $QEMU_PID || true
  if [ -s "$OUT/vmcore.qemu.kdump-zlib" ]; then
    makedumpfile -R "$OUT/vmcore.qemu.kdump" < "$OUT/vmcore.qemu.kdump-zlib" >/dev/null
  fi
fi
tar xf "$WORK/truth.img" -C "$OUT"
echo "$REL" > "$OUT/kernel-release"
echo "built $(date -u +%FT%TZ) accel=$ACCEL mem=$MEM smp=$SMP" > "$OUT/COMPLETE"
