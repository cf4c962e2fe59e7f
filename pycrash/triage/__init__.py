"""``pycrash triage``: open many dumps, sign each crash, group the duplicates.

The package's parts, each with one job: :mod:`.inputs` (what to open), :mod:`.sources`
(byte sources: local files, fsspec URLs, counting, caching), :mod:`.printk` (the kernel
log from VMCOREINFO's printk offsets), :mod:`.dumpinfo` (tier 0: a dump's facts without
debuginfo), :mod:`.logparse` (the kernel's report in its log: frames, taint),
:mod:`.signature` (signatures and the skip list, ``signature.toml``), :mod:`.debuginfo`
(the vmlinux of a build), :mod:`.extract` (the per-dump function, tiers 0-2),
:mod:`.engines` (local pool, Ray, Dask), :mod:`.outputs` and :mod:`.htmlindex` (what is
written), :mod:`.main` (the command line).
"""
