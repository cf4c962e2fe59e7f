"""Open a kernel without its vmlinux: symbols from kallsyms, types from BTF.

The dump already holds what most commands need. With CONFIG_KALLSYMS_ALL every
symbol is in memory, and since Linux 6.0 VMCOREINFO gives the kallsyms tables'
addresses (drgn's :func:`drgn.helpers.linux.kallsyms.load_vmlinux_kallsyms` reads
them); with CONFIG_DEBUG_INFO_BTF the types lie between ``__start_BTF`` and
``__stop_BTF`` (:mod:`pycrash.kernel.btf` reads them). :func:`load` registers with
drgn:

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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drgn import FindObjectFlags, Object, ObjectNotFoundError, Program

from pycrash.kernel.btf import FUNC, VAR, Btf, BtfError, BtfTypes

if TYPE_CHECKING:
    from drgn import SymbolIndex

#: The C types of the globals BTF does not describe (it holds per-CPU variables
#: only), as DWARF declares them on the kernels pycrash is tested on (5.10 to 7.2).
#: A name whose type differs between kernels maps to a list tried in order: the
#: first type that exists in this kernel's BTF wins. Add a global here when a
#: command needs it.
VARIABLE_TYPES: dict[str, str | list[str]] = {
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
    "__per_cpu_offset": "long unsigned int [8192]",
    "__cpu_online_mask": "struct cpumask",
    "__cpu_possible_mask": "struct cpumask",
    "__cpu_present_mask": "struct cpumask",
    "__cpu_active_mask": "struct cpumask",
    "sched_schedstats": "struct static_key_false",
    "sysctl_sched_features": "unsigned int",
    "avenrun": "long unsigned int [3]",
    "nr_threads": "int",
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
    "tk_core": "struct tk_core",
    "timekeeper_data": "struct tk_data [1]",
    "cpu_khz": "unsigned int",
    "tsc_khz": "unsigned int",
    "sys_tz": "struct timezone",
    # memory
    "init_mm": "struct mm_struct",
    "slab_caches": "struct list_head",
    "node_data": "struct pglist_data *[1024]",
    "contig_page_data": "struct pglist_data",
    "node_states": "nodemask_t [6]",
    "vm_zone_stat": "atomic_long_t [16]",
    "vm_node_stat": "atomic_long_t [64]",
    "vm_numa_event": "atomic_long_t [8]",
    "vm_committed_as": "struct percpu_counter",
    "_totalram_pages": "atomic_long_t",
    "totalram_pages": "long unsigned int",
    "totalreserve_pages": "long unsigned int",
    "totalcma_pages": "long unsigned int",
    "total_swap_pages": "long int",
    "nr_swap_pages": "atomic_long_t",
    "nr_swapfiles": "unsigned int",
    "swap_info": "struct swap_info_struct *[32]",
    "sysctl_overcommit_ratio": "int",
    "sysctl_overcommit_kbytes": "long unsigned int",
    "sysctl_overcommit_memory": "int",
    "hstates": "struct hstate [2]",
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
    "kmalloc_caches": "struct kmem_cache *[4][14]",
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
    "linux_banner": "const char [256]",
    "saved_command_line": "char *",
    "boot_command_line": "char [2048]",
    "taint_flags": "const struct taint_flag [19]",
    "tainted_mask": "long unsigned int",
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
    "irq_desc_tree": "struct radix_tree_root",
    "sparse_irqs": "struct maple_tree",
    "nr_irqs": "int",
    "irq_stat": "irq_cpustat_t",
    "vector_irq": "vector_irq_t",
    "kstat": "struct kernel_stat",
    # workqueues, timers, locks
    "workqueues": "struct list_head",
    "worker_pool_idr": "struct idr",
    "wq_online": "bool",
    "jiffies_lock": "raw_spinlock_t",
    # x86-64 stacks
    "cea_exception_stacks": "struct cea_exception_stacks *",
    "orc_lookup": "unsigned int [0]",
    "lookup_num_blocks": "unsigned int",
    "idt_table": "gate_desc [256]",
}

#: What a command that needs DWARF says, and what to install.
PACKAGES = "Debian: linux-image-{rel}-dbg; Fedora/RHEL: kernel-debuginfo-{rel}"


@dataclass
class NoDebugInfo:
    """What :func:`load` registered: the BTF types, the kallsyms indexes."""

    release: str
    build_id: str | None
    types: BtfTypes
    vmlinux_symbols: SymbolIndex
    module_symbols: SymbolIndex | None = None
    notes: list[str] = field(default_factory=list)


def debuginfo_hint(release: str, build_id: str | None) -> str:
    """Where the DWARF this session lacks comes from: the package by release, and the
    file by build id."""
    hint = PACKAGES.format(rel=release)
    if build_id:
        hint += f", or /usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
    return hint


def info(prog: Program) -> NoDebugInfo | None:
    """The :class:`NoDebugInfo` of a program opened without a vmlinux, else None."""
    found = prog.cache.get("pycrash_nodebug")
    return found if isinstance(found, NoDebugInfo) else None


def needs_dwarf(prog: Program, what: str) -> str | None:
    """The one line saying ``what`` needs the vmlinux's DWARF, in a session without it;
    None when the session has DWARF."""
    nd = info(prog)
    if nd is None:
        return None
    return (f"{what} needs the kernel's debuginfo (DWARF), and this session has none: "
            f"install {debuginfo_hint(nd.release, nd.build_id)} and name the vmlinux")


class _Finder:
    """drgn's object finder over kallsyms addresses and BTF types."""

    def __init__(self, nd: NoDebugInfo) -> None:
        self.nd = nd

    def _address(self, prog: Program, name: str) -> int | None:
        try:
            return prog.symbol(name).address
        except LookupError:
            return None

    def __call__(self, prog: Program, name: str, flags: FindObjectFlags,
                 filename: str | None) -> Object | None:
        types = self.nd.types
        if flags & FindObjectFlags.CONSTANT:
            found = types.enumerator(name)
            if found is not None:
                return found
        if flags & FindObjectFlags.FUNCTION:
            func = types.find_named(name, FUNC)
            if func is not None:
                address = self._address(prog, name)
                if address is not None:
                    return Object(prog, types.type(*func), address=address)
        if flags & FindObjectFlags.VARIABLE:
            var = types.find_named(name, VAR)
            spec = VARIABLE_TYPES.get(name)
            if var is None and spec is None:
                return None
            address = self._address(prog, name)
            if address is None:
                return None
            if var is not None:
                return Object(prog, types.type(*var), address=address)
            tried = [spec] if isinstance(spec, str) else list(spec or ())
            for i, text in enumerate(tried):
                try:
                    return Object(prog, prog.type(text), address=address)
                except LookupError:
                    if i == len(tried) - 1:
                        raise ObjectNotFoundError(
                            f"{name}: its type ({text}) is not in this kernel's BTF",
                            name=name) from None
        return None


def _module_btfs(prog: Program, types: BtfTypes) -> list[str]:
    """Parse each loaded module's BTF into ``types``; return warnings for the ones that
    cannot be read. The kernel frees ``struct module``'s ``btf_data`` once the module
    is initialized; the parsed copy stays on the list ``btf_modules``
    (``struct btf_module`` -> ``struct btf`` ``data``, ``data_size``)."""
    from drgn import FaultError
    from drgn.helpers.linux.list import list_for_each_entry

    notes = []
    try:
        entries = list(list_for_each_entry("struct btf_module", prog["btf_modules"].address_of_(),
                                           "list"))
    except (LookupError, FaultError, ValueError):
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


def load(prog: Program, release: str, build_id: str | None) -> NoDebugInfo:
    """Make ``prog`` (a kernel program with no debuginfo loaded) answer symbol, type
    and object look-ups from kallsyms and BTF. Raises ValueError with one line naming
    what the kernel lacks (kallsyms in VMCOREINFO, BTF)."""
    from drgn import FaultError
    from drgn.helpers.linux.kallsyms import load_module_kallsyms, load_vmlinux_kallsyms

    if b"SYMBOL(kallsyms_names)=" not in prog["VMCOREINFO"].string_():
        raise ValueError(
            f"kernel {release} gives no kallsyms tables in its VMCOREINFO (Linux 6.0 and "
            f"later do): without them a vmlinux is needed")
    try:
        vmlinux_symbols = load_vmlinux_kallsyms(prog)
    except (LookupError, ValueError, FaultError) as exc:
        raise ValueError(f"kernel {release}: its kallsyms cannot be read ({exc}): "
                         f"a vmlinux is needed") from None
    prog.register_symbol_finder("pycrash-kallsyms", vmlinux_symbols, enable_index=0)
    try:
        start = prog.symbol("__start_BTF").address
        stop = prog.symbol("__stop_BTF").address
    except LookupError:
        raise ValueError(f"kernel {release} was built without BTF "
                         f"(CONFIG_DEBUG_INFO_BTF, no __start_BTF in its kallsyms): "
                         f"a vmlinux is needed") from None
    try:
        vmlinux = Btf(prog.read(start, stop - start))
    except FaultError as exc:
        raise ValueError(f"kernel {release}: its BTF cannot be read ({exc}): "
                         f"a vmlinux is needed") from None
    except BtfError as exc:
        raise ValueError(f"kernel {release}: no BTF at __start_BTF ({exc}): "
                         f"a vmlinux is needed") from None
    types = BtfTypes(prog, vmlinux)
    nd = NoDebugInfo(release, build_id, types, vmlinux_symbols)
    prog.cache["pycrash_nodebug"] = nd
    prog.register_type_finder("pycrash-btf", types.type_finder, enable_index=0)
    prog.register_object_finder("pycrash-btf", _Finder(nd), enable_index=-1)
    nd.notes += _module_btfs(prog, types)
    try:
        nd.module_symbols = load_module_kallsyms(prog)
        prog.register_symbol_finder("pycrash-module-kallsyms", nd.module_symbols,
                                    enable_index=1)
    except (LookupError, ValueError, FaultError) as exc:
        nd.notes.append(f"module symbols cannot be read: {exc}")
    return nd
