"""Open a kernel without its vmlinux: symbols from kallsyms, types from BTF.

The dump already holds what most commands need. With CONFIG_KALLSYMS_ALL every
symbol is in memory, and since Linux 6.0 VMCOREINFO gives the kallsyms tables'
addresses (drgn's :func:`drgn.helpers.linux.kallsyms.load_vmlinux_kallsyms` reads
them; on older kernels :mod:`pycrash.kernel.kallsyms_scan` finds them); with
CONFIG_DEBUG_INFO_BTF the types lie between ``__start_BTF`` and ``__stop_BTF``
(:mod:`pycrash.kernel.btf` reads them). :func:`load` registers with drgn:

- symbol finders: the vmlinux's kallsyms, and each module's (``struct module``);
- a type finder: the vmlinux's BTF, then each module's (list ``btf_modules``);
- an object finder: enumerators from BTF; functions (BTF ``FUNC`` at the kallsyms
  address); variables at their kallsyms address, typed by BTF's ``VAR`` entries
  (the per-CPU ones) or, for other globals (BTF has no type for them), by
  :data:`VARIABLE_TYPES`, the table of the globals pycrash and drgn's helpers read.
  Another global fails in one line naming the type pycrash lacks.

Not available without DWARF: source files and lines, inlined frames, local
variables, and types BTF leaves out (macros' constants among them); commands that
need them say so and name the debuginfo package (:func:`debuginfo_hint`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drgn import (
    FindObjectFlags,
    Object,
    ObjectNotFoundError,
    Program,
    Type,
    TypeKindSet,
    TypeMember,
    sizeof,
)

from pycrash.kernel.btf import FUNC, VAR, Btf, BtfError, BtfTypes

if TYPE_CHECKING:
    from drgn import Symbol, SymbolIndex



def _tk_core(prog: Program) -> Type:
    """kernel/time/timekeeping.c's ``static struct { seqcount_raw_spinlock_t seq;
    struct timekeeper timekeeper; } tk_core``: an anonymous struct BTF cannot name."""
    seq = prog.type("seqcount_raw_spinlock_t")
    tk = prog.type("struct timekeeper")
    offset = -(-sizeof(seq) // 8) * 8
    return prog.struct_type(None, offset + sizeof(tk), [
        TypeMember(seq, "seq", 0), TypeMember(tk, "timekeeper", offset * 8)])


#: A type: its C spelling, a list of spellings tried in order (the first one this
#: kernel's BTF has wins), or a function building it (anonymous structs).
TypeSpec = str | list[str] | Callable[[Program], Type]

#: The C types of the globals BTF does not describe (it holds per-CPU variables
#: only), as DWARF declares them on the kernels pycrash is tested on (5.10 to 7.2).
#: ``T []`` is an array whose length is the kallsyms symbol's size (a string's
#: length for ``char``). Add a global here when a command needs it.
VARIABLE_TYPES: dict[str, TypeSpec] = {
    # tasks, pids, scheduling
    "init_task": "struct task_struct",
    "init_pid_ns": "struct pid_namespace",
    "init_nsproxy": "struct nsproxy",
    "init_uts_ns": "struct uts_namespace",
    "init_cred": "struct cred",
    "init_struct_pid": "struct pid",
    "panic_cpu": "atomic_t",
    "panic_on_oops": "int",
    "crash_notes": "note_buf_t *",
    "nr_cpu_ids": "unsigned int",
    "__per_cpu_offset": "long unsigned int []",
    "__cpu_online_mask": "struct cpumask",
    "__cpu_possible_mask": "struct cpumask",
    "__cpu_present_mask": "struct cpumask",
    "__cpu_active_mask": "struct cpumask",
    "sched_schedstats": "struct static_key_false",
    "sysctl_sched_features": "unsigned int",
    "avenrun": "long unsigned int [3]",
    "nr_threads": "int",
    "task_state_array": "const char * const [9]",  # R S D T t X Z P I since 4.14
    "total_forks": "long unsigned int",
    "root_task_group": "struct task_group",
    "def_root_domain": "struct root_domain",
    "rcu_state": "struct rcu_state",
    "watchdog_thresh": "int",
    "softlockup_panic": "unsigned int",
    "sysctl_hung_task_timeout_secs": "long unsigned int",
    # time
    "jiffies_64": "u64",
    "jiffies": "volatile long unsigned int",
    "tick_nsec": "long unsigned int",
    "tk_core": _tk_core,
    "timekeeper_data": "struct tk_data [1]",
    "cpu_khz": "unsigned int",
    "tsc_khz": "unsigned int",
    "sys_tz": "struct timezone",
    # memory
    "init_mm": "struct mm_struct",
    "slab_caches": "struct list_head",
    "node_data": "struct pglist_data *[]",
    "contig_page_data": "struct pglist_data",
    "node_states": "nodemask_t []",
    "vm_zone_stat": "atomic_long_t []",
    "vm_node_stat": "atomic_long_t []",
    "vm_numa_event": "atomic_long_t []",
    "vm_numa_stat": "atomic_long_t []",
    "vm_committed_as": "struct percpu_counter",
    "_totalram_pages": "atomic_long_t",
    "totalram_pages": "long unsigned int",
    "totalreserve_pages": "long unsigned int",
    "totalcma_pages": "long unsigned int",
    "total_swap_pages": "long int",
    "nr_swap_pages": "atomic_long_t",
    "nr_swapfiles": "unsigned int",
    "swap_info": "struct swap_info_struct *[]",
    "sysctl_overcommit_ratio": "int",
    "sysctl_overcommit_kbytes": "long unsigned int",
    "sysctl_overcommit_memory": "int",
    "hstates": "struct hstate []",
    "hugetlb_max_hstate": "int",
    "default_hstate_idx": "unsigned int",
    "vmap_area_list": "struct list_head",
    "vmap_area_root": "struct rb_root",
    "vmap_nodes": "struct vmap_node *",
    "nr_vmap_nodes": "unsigned int",
    "vmalloc_base": "long unsigned int",
    "vmemmap_base": "long unsigned int",
    "page_offset_base": "long unsigned int",
    "phys_base": "long unsigned int",
    "max_pfn": "long unsigned int",
    "max_low_pfn": "long unsigned int",
    "min_low_pfn": "long unsigned int",
    "high_memory": "void *",
    "mem_section": "struct mem_section **",
    "memstart_addr": "s64",
    "kimage_voffset": "u64",
    "vmcoreinfo_data": "unsigned char *",
    "vmcoreinfo_size": "size_t",
    "vmcoreinfo_note": "u32 *",
    "pcpu_base_addr": "void *",
    "pcpu_unit_offsets": "const long unsigned int *",
    "pcpu_nr_units": "int",
    "pcpu_unit_size": "int",
    "pcpu_nr_populated": "int",
    "pcpu_first_chunk": "struct pcpu_chunk *",
    "pcpu_reserved_chunk": "struct pcpu_chunk *",
    "pcpu_chunk_lists": "struct list_head *",
    "pcpu_nr_slots": "int",
    "pcpu_nr_empty_pop_pages": ["int [3]", "int"],
    "pcpu_nr_pages": "int",
    "num_poisoned_pages": "atomic_long_t",
    "memblock": "struct memblock",
    # modules, printk, symbols
    "modules": "struct list_head",
    "btf_modules": "struct list_head",
    "prb": "struct printk_ringbuffer *",
    "printk_rb_static": "struct printk_ringbuffer",
    "log_buf": "char *",
    "log_buf_len": "u32",
    "log_first_idx": "u32",
    "log_next_idx": "u32",
    "clear_seq": ["struct latched_seq", "u64"],
    "linux_banner": "const char []",
    "saved_command_line": "char *",
    "boot_command_line": "char []",
    "taint_flags": "const struct taint_flag []",
    "dmi_ident": "const char *[]",
    "tainted_mask": "long unsigned int",
    "sys_call_table": "const sys_call_ptr_t []",
    "audit_queue": "struct sk_buff_head",
    "audit_retry_queue": "struct sk_buff_head",
    "audit_hold_queue": "struct sk_buff_head",
    "oops_in_progress": "int",
    "crashing_cpu": "int",
    "crash_ipi_issued": "int",
    # files, mounts, devices, network
    "init_net": "struct net",
    "net_namespace_list": "struct list_head",
    "init_fs": "struct fs_struct",
    "init_files": "struct files_struct",
    "super_blocks": "struct list_head",
    "blockdev_superblock": "struct super_block *",
    "file_systems": "struct file_system_type *",
    "chrdevs": "struct char_device_struct *[255]",
    "major_names": "struct blk_major_name *[255]",
    "block_class": "const struct class",
    "pci_root_buses": "struct list_head",
    "ptype_all": "struct list_head",
    "ptype_base": "struct list_head [16]",
    "mount_hashtable": "struct hlist_head *",
    "init_user_ns": "struct user_namespace",
    "init_ipc_ns": "struct ipc_namespace",
    "irq_desc_tree": ["struct xarray", "struct radix_tree_root"],
    "sparse_irqs": "struct maple_tree",
    "nr_irqs": "int",
    "irq_stat": "irq_cpustat_t",
    "vector_irq": "vector_irq_t",
    "kstat": "struct kernel_stat",
    "pci_bus_type": "struct bus_type",
    "bus_kset": "struct kset *",
    "class_kset": "struct kset *",
    "cdev_map": "struct kobj_map *",
    "bdev_map": "struct kobj_map *",
    "memory_subsys": "struct bus_type",
    "memory_block_size_probed": "long unsigned int",
    "sysfs_root_kn": "struct kernfs_node *",
    "cgrp_dfl_root": "struct cgroup_root",
    "mod_tree": "struct mod_tree_root",
    "uidhash_table": "struct hlist_head [64]",
    "kernel_config_data": "const char []",
    "btf_idr": "struct idr",
    "prog_idr": "struct idr",
    "map_idr": "struct idr",
    "link_idr": "struct idr",
    "swapper_spaces": "struct address_space *[]",
    "nr_swapper_spaces": "unsigned int []",
    "task_struct_cachep": "struct kmem_cache *",
    "thread_stack_cache": "struct kmem_cache *",
    "nr_node_ids": "unsigned int",
    "max_mapnr": "long unsigned int",
    "mem_map": "struct page *",
    "__highest_present_section_nr": "long unsigned int",
    # workqueues, timers, locks
    "workqueues": "struct list_head",
    "global_trace": "struct trace_array",
    "ftrace_events": "struct list_head",
    "trace_types": "struct tracer *",
    "worker_pool_idr": "struct idr",
    "wq_online": "bool",
    "jiffies_lock": "raw_spinlock_t",
    # x86-64 stacks
    "cea_exception_stacks": "struct cea_exception_stacks *",
    "orc_lookup": "unsigned int []",
    "lookup_num_blocks": "unsigned int",
    "idt_table": "gate_desc [256]",
}

#: The per-CPU variables the commands and drgn's helpers read, for kernels whose BTF has
#: no ``VAR`` entries (Debian 11's 5.10: pahole encoded none); where BTF has them, it wins.
PERCPU_TYPES: dict[str, TypeSpec] = {
    "runqueues": "struct rq",
    "current_task": "struct task_struct *",
    "pcpu_hot": "struct pcpu_hot",
    "hardirq_stack_ptr": "struct irq_stack *",
    "irq_stack_ptr": "long unsigned int *",
    "cpu_tss_rw": "struct tss_struct",
    "timer_bases": "struct timer_base []",
    "hrtimer_bases": "struct hrtimer_cpu_base",
    "rcu_data": "struct rcu_data",
    "cpu_number": "int",
    "this_cpu_off": "long unsigned int",
    "vm_event_states": "struct vm_event_state",
    "kernel_cpustat": "struct kernel_cpustat",
    "softnet_data": "struct softnet_data",
    "ksoftirqd": "struct task_struct *",
    "idle_threads": "struct task_struct *",
    "tick_cpu_sched": "struct tick_sched",
    "tick_cpu_device": "struct tick_device",
    "cpu_worker_pools": "struct worker_pool []",
    "exception_stacks": "struct exception_stacks",
    "_cea_offset": "long unsigned int",
    "process_counts": "long unsigned int",
}

#: The debuginfo package of a kernel whose release is not Debian's.
PACKAGES = "the kernel's debuginfo package (Debian: linux-image-{rel}-dbg, Fedora/RHEL: " \
    "kernel-debuginfo-{rel})"


@dataclass
class NoDebugInfo:
    """What :func:`load` registered: the BTF types, the kallsyms indexes."""

    release: str
    build_id: str | None
    types: BtfTypes
    vmlinux_symbols: SymbolIndex | None
    module_symbols: SymbolIndex | None = None
    notes: list[str] = field(default_factory=list)
    #: the vmlinux whose symbols and BTF serve (:func:`load_with_vmlinux`), its DWARF
    #: read by drgn only when a look-up reaches it; None: no vmlinux at all
    vmlinux: str | None = None
    #: where the vmlinux's kallsyms tables were found: ``"vmcoreinfo"`` (named there,
    #: Linux 6.0 on), ``"scan"`` (:mod:`pycrash.kernel.kallsyms_scan`); empty: not used
    kallsyms: str = ""


def debuginfo_hint(release: str, build_id: str | None) -> str:
    """Where the DWARF this session lacks comes from: the package by release, and the
    file by build id."""
    import re

    debian = re.search(r"-(amd64|arm64|armmp|686|686-pae|s390x|ppc64el|riscv64)$", release)
    hint = f"linux-image-{release}-dbg" if debian else PACKAGES.format(rel=release)
    if build_id:
        hint += f", or /usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
    return hint


def info(prog: Program) -> NoDebugInfo | None:
    """The :class:`NoDebugInfo` of a program opened without a vmlinux, else None."""
    found = prog.cache.get("pycrash_nodebug")
    return found if isinstance(found, NoDebugInfo) and found.vmlinux is None else None


def dwarf_uses(prog: Program) -> list[str]:
    """In a session started from the vmlinux's BTF (:func:`load_with_vmlinux`): the
    look-ups that went on to its DWARF (so drgn indexed it), first ones first; empty
    while none has."""
    found = prog.cache.get("pycrash_dwarf_uses")
    return list(found) if isinstance(found, list) else []


def needs_dwarf(prog: Program, what: str) -> str | None:
    """The one line saying ``what`` needs the vmlinux's DWARF, in a session without it;
    None when the session has DWARF."""
    nd = info(prog)
    if nd is None:
        return None
    return (f"{what} need the kernel's debuginfo (DWARF), which this session lacks: "
            f"install {debuginfo_hint(nd.release, nd.build_id)} and name the vmlinux")


class NoTypeError(ObjectNotFoundError):
    """A kernel global whose type this session does not know (no DWARF; BTF has no
    type for it): its one line names the variable and the type, or the package."""


def _spec_type(prog: Program, spec: TypeSpec, sym: Symbol) -> Type:
    """The Type of ``spec`` for the global at kallsyms symbol ``sym``; LookupError
    (naming the type) when BTF lacks it."""
    if callable(spec):
        return spec(prog)
    tried = [spec] if isinstance(spec, str) else spec
    for i, text in enumerate(tried):
        try:
            if not text.endswith("[]"):
                return prog.type(text)
            elem = prog.type(text[:-2].strip())
        except LookupError:
            if i < len(tried) - 1:
                continue
            raise LookupError(text) from None
        size = sizeof(elem)
        if elem.unqualified().primitive is not None and size == 1:  # a string
            length = len(prog.read_c_string(sym.address, max_size=1 << 16)) + 1
        else:
            length = max(sym.size // max(size, 1), 1)
        return prog.array_type(elem, length)
    raise LookupError(str(spec))


_UNKNOWN, _MISSING = object(), object()


class _Finder:
    """drgn's object finder over kallsyms addresses and BTF types."""

    def __init__(self, nd: NoDebugInfo) -> None:
        self.nd = nd
        self._memo: dict[tuple[str, int], object] = {}
        self._symtab: bytes | None = None

    def _renamed(self, name: str) -> bool:
        """Whether the vmlinux has a symbol ``name.SUFFIX``: a static gcc renamed, which
        only DWARF knows by ``name``."""
        from pycrash.kernel import symcache

        if self._symtab is None:
            try:
                self._symtab = b"\0" + symcache.load(self.nd.vmlinux or "",
                                                      self.nd.build_id).blob
            except (OSError, LookupError, ValueError):
                self._symtab = b""
                return True  # no table to tell: DWARF's to answer
        return (b"\0" + name.encode() + b".") in self._symtab

    def _symbol(self, prog: Program, name: str) -> Symbol | None:
        try:
            return prog.symbol(name)
        except LookupError:
            return None

    def __call__(self, prog: Program, name: str, flags: FindObjectFlags,
                 filename: str | None) -> Object | None:
        key = (name, flags.value)
        found = self._memo.get(key, _UNKNOWN)
        if found is _MISSING:
            raise ObjectNotFoundError(f"could not find '{name}'", name=name)
        if found is not _UNKNOWN:
            return found
        try:
            found = self._find(prog, name, flags)
        except ObjectNotFoundError as exc:
            if not isinstance(exc, NoTypeError):
                self._memo[key] = _MISSING
            raise
        self._memo[key] = found
        return found

    def _find(self, prog: Program, name: str, flags: FindObjectFlags) -> Object | None:
        from drgn import SymbolKind

        types = self.nd.types
        sym = self._symbol(prog, name)
        if sym is None:  # not in the symbol table: an enumerator, if anything
            found = types.enumerator(name) if flags & FindObjectFlags.CONSTANT else None
            if found is None and self.nd.vmlinux and not self._renamed(name):
                # neither a global nor an enumerator (commands probe for names other
                # kernels have): said here, before drgn indexes the DWARF to miss it too
                raise ObjectNotFoundError(f"could not find '{name}'", name=name)
            return found
        if flags & FindObjectFlags.FUNCTION:
            func = types.find_named(name, FUNC)
            if func is not None:
                return Object(prog, types.type(*func), address=sym.address)
        if not flags & FindObjectFlags.VARIABLE:
            return None
        if self.nd.vmlinux and sym.kind == SymbolKind.FUNC:
            return None  # a function BTF lacks (an __init one): the DWARF has it
        spec = VARIABLE_TYPES.get(name)
        hint = debuginfo_hint(self.nd.release, self.nd.build_id)
        if spec is None:
            var = types.find_named(name, VAR)  # BTF types the per-CPU variables
            if var is not None:
                return Object(prog, types.type(*var), address=sym.address)
            spec = PERCPU_TYPES.get(name)
        if spec is None:
            if types.find_named(name, FUNC) is not None or self.nd.vmlinux:
                return None  # a function asked for as a variable; or DWARF's to find
            raise NoTypeError(
                f"{name}: its type is unknown without the kernel's debuginfo (BTF types "
                f"only per-CPU variables, and pycrash's table has no {name}); install "
                f"{hint}", name=name)
        try:
            return Object(prog, _spec_type(prog, spec, sym), address=sym.address)
        except LookupError as exc:
            if self.nd.vmlinux:
                return None  # the vmlinux's DWARF has it
            raise NoTypeError(f"{name}: its type ({exc}) is not in this kernel's BTF; "
                              f"install {hint}", name=name) from None


def _module_btfs(prog: Program, types: BtfTypes) -> list[str]:
    """Parse each loaded module's BTF into ``types``; return warnings for the ones that
    cannot be read. The kernel frees ``struct module``'s ``btf_data`` once the module
    is initialized; the parsed copy stays on the list ``btf_modules``
    (``struct btf_module`` -> ``struct btf`` ``data``, ``data_size``)."""
    from drgn import FaultError

    from pycrash.kernel.walk import WalkError, list_entries

    notes = []
    try:
        entries = list(list_entries("struct btf_module", prog["btf_modules"].address_of_(),
                                    "list", "btf_modules"))
    except (LookupError, FaultError, ValueError, WalkError):
        return []  # a kernel without CONFIG_DEBUG_INFO_BTF_MODULES
    for entry in entries:
        try:
            name = entry.module.name.string_().decode(errors="replace")
        except (FaultError, LookupError):
            name = "?"
        try:
            btf = entry.btf
            size = btf.data_size.value_()
            if size:
                blob = prog.read(btf.data.value_(), size)
                types.modules[name] = Btf(blob, types.vmlinux, name)
        except (FaultError, BtfError, LookupError) as exc:
            notes.append(f"module {name}: its BTF cannot be read ({exc})")
    return notes


def _attach(prog: Program, nd: NoDebugInfo, object_index: int) -> None:
    """Register ``nd``'s BTF as ``prog``'s first type finder and its object finder at
    ``object_index``; the modules' BTF is read when the vmlinux's lacks a name."""
    types = nd.types
    prog.cache["pycrash_nodebug"] = nd
    types.module_loader = lambda: nd.notes.extend(_module_btfs(prog, types))
    prog.register_type_finder("pycrash-btf", types.type_finder, enable_index=0)
    prog.register_object_finder("pycrash-btf", _Finder(nd), enable_index=object_index)


def load(prog: Program, release: str, build_id: str | None) -> NoDebugInfo:
    """Make ``prog`` (a kernel program with no debuginfo loaded) answer symbol, type
    and object look-ups from kallsyms and BTF. The kallsyms tables are where VMCOREINFO
    says (Linux 6.0 on), else found by scanning the kernel image. Raises ValueError
    with one line naming what the kernel lacks (kallsyms tables, BTF)."""
    import time

    from drgn import FaultError
    from drgn.helpers.linux.kallsyms import load_module_kallsyms, load_vmlinux_kallsyms

    from pycrash.kernel import kallsyms_scan

    notes = []
    if b"SYMBOL(kallsyms_names)=" in prog["VMCOREINFO"].string_():
        source = "vmcoreinfo"
        try:
            vmlinux_symbols = load_vmlinux_kallsyms(prog)
        except (LookupError, ValueError, FaultError) as exc:
            raise ValueError(f"kernel {release}: its kallsyms cannot be read ({exc}): "
                             f"a vmlinux is needed") from None
    else:  # before Linux 6.0: the tables are found in the kernel image
        source = "scan"
        started = time.monotonic()
        try:
            tables = kallsyms_scan.find_tables(prog, release)
            took = time.monotonic() - started
            vmlinux_symbols = kallsyms_scan.load_index(prog, tables)
        except (ValueError, FaultError) as exc:
            raise ValueError(f"kernel {release} names no kallsyms tables in its VMCOREINFO "
                             f"(Linux 6.0 and later do), and scanning its memory for them "
                             f"failed: {exc}: a vmlinux is needed") from None
        notes.append(f"kallsyms tables found by scanning the kernel image in {took:.2f} s "
                     f"(VMCOREINFO names them from Linux 6.0 on)")
    prog.register_symbol_finder("pycrash-kallsyms", vmlinux_symbols, enable_index=0)
    try:
        start = prog.symbol("__start_BTF").address
        stop = prog.symbol("__stop_BTF").address
    except LookupError:
        try:
            prog.symbol("init_task")
        except LookupError:
            raise ValueError(f"kernel {release}'s kallsyms has no data symbols (it was built "
                             f"without CONFIG_KALLSYMS_ALL): a vmlinux is needed") from None
        raise ValueError(f"kernel {release} was built without BTF "
                         f"(CONFIG_DEBUG_INFO_BTF, no __start_BTF in its kallsyms): "
                         f"a vmlinux is needed") from None
    try:
        vmlinux = Btf(prog.read(start, stop - start), cache_key=build_id)
    except FaultError as exc:
        raise ValueError(f"kernel {release}: its BTF cannot be read ({exc}): "
                         f"a vmlinux is needed") from None
    except BtfError as exc:
        raise ValueError(f"kernel {release}: no BTF at __start_BTF ({exc}): "
                         f"a vmlinux is needed") from None
    nd = NoDebugInfo(release, build_id, BtfTypes(prog, vmlinux), vmlinux_symbols,
                     notes=notes, kallsyms=source)
    _attach(prog, nd, -1)
    try:
        nd.module_symbols = load_module_kallsyms(prog)
        prog.register_symbol_finder("pycrash-module-kallsyms", nd.module_symbols,
                                    enable_index=1)
    except (LookupError, ValueError, FaultError) as exc:
        nd.notes.append(f"module symbols cannot be read: {exc}")
    return nd


def _vmlinux_btf(vmlinux: str, build_id: str | None) -> Btf | None:
    """The parsed ``.BTF`` section of ``vmlinux`` (None when it has none), from this
    process's memory when it was parsed before: a triage worker opening many dumps of one
    build reads and indexes the BTF once."""
    import os

    st = os.stat(vmlinux)
    return _parsed_btf(os.path.realpath(vmlinux), st.st_size, st.st_mtime_ns, build_id)


@functools.lru_cache(maxsize=4)
def _parsed_btf(path: str, _size: int, _mtime_ns: int, build_id: str | None) -> Btf | None:
    """The ``.BTF`` of the file at ``path`` as it is (size and time), parsed."""
    from pycrash.memory.elfinfo import raw_section

    data = raw_section(path, ".BTF")
    if not data:
        return None
    try:
        return Btf(data, cache_key=build_id)
    except BtfError:
        return None


def load_with_vmlinux(prog: Program, vmlinux: str, release: str,
                      build_id: str | None) -> NoDebugInfo | None:
    """Serve ``prog``'s types from the ``.BTF`` section of ``vmlinux`` (already loaded
    by drgn, its symbols drgn's), so that its DWARF is indexed only when a look-up
    reaches it: a type BTF lacks, a global of unknown type, a source line, a frame's
    variables. Return None (and register nothing) when the vmlinux has no BTF."""
    btf = _vmlinux_btf(vmlinux, build_id)
    if btf is None:
        return None
    nd = NoDebugInfo(release, build_id, BtfTypes(prog, btf, complete=True), None,
                     vmlinux=vmlinux)
    _attach(prog, nd, 1)  # after drgn's "linux" finder (PAGE_OFFSET, vmemmap...)
    uses: list[str] = []
    prog.cache["pycrash_dwarf_uses"] = uses

    def type_use(prog: Program, kinds: TypeKindSet, name: str,
                 filename: str | None) -> None:
        if len(uses) < 32:
            uses.append(f"type {name}")

    def object_use(prog: Program, name: str, flags: FindObjectFlags,
                   filename: str | None) -> None:
        if len(uses) < 32:
            uses.append(f"object {name}")

    def thread_size(prog: Program, name: str, flags: FindObjectFlags,
                    filename: str | None) -> Object | None:
        # drgn's own THREAD_SIZE first asks for "union thread_union" (gone in 4.16,
        # BTF came later), which would index the DWARF only to miss it there too
        if name != "THREAD_SIZE" or not flags & FindObjectFlags.CONSTANT:
            return None
        for start, end in (("__start_init_task", "__end_init_task"),
                           ("__start_init_stack", "__end_init_stack")):
            try:
                size = prog.symbol(end).address - prog.symbol(start).address
            except LookupError:
                continue
            return Object(prog, "unsigned long", size)
        return None

    prog.register_object_finder("pycrash-thread-size", thread_size, enable_index=0)
    prog.register_type_finder("pycrash-dwarf-use", type_use, enable_index=1)
    prog.register_object_finder("pycrash-dwarf-use", object_use, enable_index=3)
    return nd
