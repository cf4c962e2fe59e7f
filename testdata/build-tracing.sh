#!/bin/bash
# Build the tracing fixture: build-vmcore.sh's dump of Debian 12's kernel (sysrq crash on
# CPU 1), with a guest that, before its truth is recorded,
#
#   - runs the function tracer (filtered to a few system calls of pcfix-ipc) and the sched
#     events sched_switch, sched_wakeup, sched_process_fork and sched_process_exec, writes
#     a line into trace_marker, then stops tracing (tracing_on = 0) so that the ring buffer
#     holds what it saves: truth/tracing/trace, per_cpu/cpuN.trace and cpuN.stats, the
#     formats (events/header_page, header_event, events/SYSTEM/EVENT/format of the events
#     used), saved_cmdlines, printk_formats, trace_clock, current_tracer,
#     set_ftrace_filter, buffer_size_kb;
#   - runs pcfix-ipc (testdata/tracing/pcfix_ipc.c, built here, linked against the host's
#     glibc, which the guest's initramfs holds for kexec): System V shared memory,
#     semaphores and message queues, an eBPF program and two maps, held until the crash;
#     truth/sysvipc/{shm,sem,msg} (/proc/sysvipc), truth/bpf.txt (the bpf() syscall's own
#     description, see pcfix_ipc.c) and truth/bpf-fdinfo.txt (/proc/PID/fdinfo of its
#     bpf descriptors: "FD", then the fdinfo lines).
#
# usage: build-tracing.sh OUT [FLAVOUR]; the environment is build-vmcore.sh's (WORKLOAD
# is set here).
set -euo pipefail
OUT=$1; FLAVOUR=${2:-cloud-amd64}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
command -v gcc >/dev/null || { echo "missing gcc (apt-get install gcc)" >&2; exit 1; }
gcc -O2 -Wall -o "$WORK/pcfix-ipc" "$HERE/tracing/pcfix_ipc.c"
BIN=$(gzip -9n < "$WORK/pcfix-ipc" | base64 -w0)

FUNCS="__x64_sys_msgsnd __x64_sys_shmat __x64_sys_semctl __x64_sys_bpf"
EVENTS="sched/sched_switch sched/sched_wakeup sched/sched_process_fork sched/sched_process_exec"
FORMATS_SAVED="$EVENTS ftrace/function ftrace/print ftrace/bprint"
WORKLOAD=$(cat <<EOF
echo '$BIN' | base64 -d | gunzip > /bin/pcfix-ipc; chmod +x /bin/pcfix-ipc
T=/sys/kernel/tracing; mount -t tracefs nodev \$T
R=/tmp/truth; mkdir -p \$R/tracing/per_cpu \$R/sysvipc
echo 256 > \$T/buffer_size_kb
for f in $FUNCS; do echo \$f >> \$T/set_ftrace_filter; done
for e in $EVENTS; do echo 1 > \$T/events/\$e/enable; done
echo function > \$T/current_tracer
/bin/pcfix-ipc \$R &
i=0; while [ ! -e \$R/ready ] && [ \$i -lt 600 ]; do usleep 100000; i=\$((i+1)); done
echo pycrash-tracing-marker > \$T/trace_marker
echo 0 > \$T/tracing_on
cat \$T/trace > \$R/tracing/trace
for c in \$T/per_cpu/cpu*; do
  cat \$c/trace > \$R/tracing/per_cpu/\${c##*/}.trace; cat \$c/stats > \$R/tracing/per_cpu/\${c##*/}.stats
done
mkdir -p \$R/tracing/events
cat \$T/events/header_page > \$R/tracing/events/header_page
cat \$T/events/header_event > \$R/tracing/events/header_event
for e in $FORMATS_SAVED; do mkdir -p \$R/tracing/events/\$e; cat \$T/events/\$e/format > \$R/tracing/events/\$e/format; done
for f in saved_cmdlines printk_formats trace_clock current_tracer set_ftrace_filter buffer_size_kb; do
  cat \$T/\$f > \$R/tracing/\$f
done
for f in shm sem msg; do cat /proc/sysvipc/\$f > \$R/sysvipc/\$f; done
P=\$(awk '/^pid /{print \$2}' \$R/bpf.txt)
for fd in /proc/\$P/fdinfo/*; do
  if grep -q -e '^prog_type' -e '^map_type' \$fd; then echo "FD \${fd##*/}"; cat \$fd; fi
done > \$R/bpf-fdinfo.txt
rm -f \$R/ready
EOF
)
export WORKLOAD
exec bash "$HERE/build-vmcore.sh" "$OUT" "$FLAVOUR"
