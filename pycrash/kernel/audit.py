"""The audit records the kernel still held (not yet read by auditd), for ``log -a``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import Object, Program, sizeof

from pycrash.kernel.walk import bounded

#: the kernel's queues of audit messages, in crash's order (4.11 and later; before)
QUEUES = (("audit_hold_queue", "audit_retry_queue", "audit_queue"),
          ("audit_skb_hold_queue", "audit_skb_queue"))

NLMSG_ALIGNTO = 4


@dataclass(frozen=True)
class AuditMessage:
    """One netlink audit message: its ``nlmsg_type`` and text."""

    type: int
    text: bytes


def audit_queues(prog: Program) -> list[str]:
    """Return the names of the audit queues this kernel has; LookupError when none."""
    for names in QUEUES:
        if names[-1] in prog:
            return [n for n in names if n in prog]
    raise LookupError("no audit queues (audit_queue, audit_skb_queue) in this kernel")


def _skbs(head: Object) -> Iterator[Object]:
    """Yield the ``struct sk_buff *`` of a ``struct sk_buff_head``, first to last."""
    end = head.address_
    skb = head.next.read_()
    while skb.value_() != end:
        yield skb
        skb = skb.next.read_()


def queue_messages(prog: Program, name: str) -> Iterator[AuditMessage]:
    """Yield the messages of the audit queue ``name`` (a ``struct sk_buff_head``): each
    skb's netlink header type and the ``len`` minus the aligned header's bytes after it."""
    head = prog[name]
    if not int(head.qlen.value_()):
        return
    hdr = prog.type("struct nlmsghdr")
    hdr_len = (sizeof(hdr) + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)
    for skb in bounded(_skbs(head), f"the audit queue {name}"):
        data = skb.data.value_()
        length = int(skb.len.value_()) - hdr_len
        nl = Object(prog, hdr, address=data)
        text = prog.read(data + hdr_len, length) if length > 0 else b""
        yield AuditMessage(int(nl.nlmsg_type.value_()), text.split(b"\0", 1)[0])



