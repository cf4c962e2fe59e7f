// SPDX-License-Identifier: GPL-2.0
/*
 * pcfix_oops - the crash zoo's test module for pycrash.
 *
 * On load it starts two kernel threads, pcfix_kt1 and pcfix_kt2, that sleep
 * inside module code (so their stacks hold module frames below __schedule),
 * and creates /proc/pcfix_oops. Writing one word to that file crashes the
 * kernel in the chosen way:
 *
 *   oops   NULL pointer write in pcfix_deref(), process context
 *   bug    BUG() in pcfix_bug()
 *   timer  arms a timer on this CPU whose callback writes through NULL in
 *          pcfix_timer_deref() (softirq context, on the IRQ stack)
 *   warn   WARN_ON(1) in pcfix_warn() (panics with panic_on_warn=1)
 *
 * Every function meant to appear in a backtrace is PCFIX_FRAME (noinline and
 * noipa: no inlining, cloning or IPA-derived noreturn), and each does work
 * after its last call, so gcc makes no tail calls and every frame exists.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/timer.h>
#include <linux/string.h>
#include <linux/smp.h>
#include <linux/version.h>

/* del_timer_sync() became timer_delete_sync() in 6.2 and was removed in 6.15 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define pcfix_del_timer_sync timer_delete_sync
#else
#define pcfix_del_timer_sync del_timer_sync
#endif

#define PCFIX_FRAME noinline __attribute__((__noipa__))

/* read at run time, so gcc cannot prove the pointer is NULL */
static int * volatile pcfix_null;
/* counters written after calls, so the calls are not tail calls */
static volatile unsigned long pcfix_wakeups;
static volatile unsigned long pcfix_crashes;

static DECLARE_WAIT_QUEUE_HEAD(pcfix_wq);
static struct task_struct *pcfix_kt[2];
static struct timer_list pcfix_timer;
static struct proc_dir_entry *pcfix_proc;

/* --- the sleeping kthreads ------------------------------------------------ */

/* kt1 waits on the module's waitqueue, kt2 in schedule_timeout() */
static PCFIX_FRAME void pcfix_sleep_inner(long which)
{
	if (which == 1)
		wait_event_interruptible(pcfix_wq, kthread_should_stop());
	else
		schedule_timeout_interruptible(HZ * 1000);
	pcfix_wakeups++;
}

static PCFIX_FRAME int pcfix_kthread_fn(void *data)
{
	long which = (long)data;

	while (!kthread_should_stop())
		pcfix_sleep_inner(which);
	return 0;
}

/* --- the crashes ----------------------------------------------------------- */

static PCFIX_FRAME void pcfix_deref(int *p)
{
	*p = 0x5a5a;		/* NULL pointer write */
	pcfix_crashes++;
}

static PCFIX_FRAME void pcfix_bug(void)
{
	pcfix_crashes++;
	BUG();
}

static PCFIX_FRAME void pcfix_warn(void)
{
	WARN_ON(1);
	pcfix_crashes++;
}

static PCFIX_FRAME void pcfix_timer_deref(int *p)
{
	*p = 0xa5a5;		/* NULL pointer write in softirq context */
	pcfix_crashes++;
}

static PCFIX_FRAME void pcfix_timer_fn(struct timer_list *t)
{
	pcfix_timer_deref(pcfix_null);
	pcfix_crashes++;
}

static PCFIX_FRAME void pcfix_arm_timer(void)
{
	int cpu = get_cpu();

	pcfix_timer.expires = jiffies + HZ / 10;
	add_timer_on(&pcfix_timer, cpu);	/* fire on the CPU that asked */
	put_cpu();
	pcfix_crashes++;
}

static PCFIX_FRAME ssize_t pcfix_write(struct file *file, const char __user *ubuf,
				       size_t count, loff_t *ppos)
{
	char word[16];
	size_t n = min(count, sizeof(word) - 1);

	if (copy_from_user(word, ubuf, n))
		return -EFAULT;
	word[n] = '\0';
	strim(word);

	pr_info("pcfix_oops: crash requested: %s (cpu %d)\n", word, raw_smp_processor_id());
	if (!strcmp(word, "oops"))
		pcfix_deref(pcfix_null);
	else if (!strcmp(word, "bug"))
		pcfix_bug();
	else if (!strcmp(word, "timer"))
		pcfix_arm_timer();
	else if (!strcmp(word, "warn"))
		pcfix_warn();
	else
		return -EINVAL;
	return count;
}

static const struct proc_ops pcfix_proc_ops = {
	.proc_write = pcfix_write,
};

/* --- load and unload ------------------------------------------------------- */

static int __init pcfix_init(void)
{
	long i;

	timer_setup(&pcfix_timer, pcfix_timer_fn, 0);
	pcfix_proc = proc_create("pcfix_oops", 0200, NULL, &pcfix_proc_ops);
	if (!pcfix_proc)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		pcfix_kt[i] = kthread_run(pcfix_kthread_fn, (void *)(i + 1), "pcfix_kt%ld", i + 1);
		if (IS_ERR(pcfix_kt[i])) {
			int err = PTR_ERR(pcfix_kt[i]);

			while (--i >= 0)
				kthread_stop(pcfix_kt[i]);
			proc_remove(pcfix_proc);
			return err;
		}
	}
	pr_info("pcfix_oops: loaded, kthreads %d %d\n", pcfix_kt[0]->pid, pcfix_kt[1]->pid);
	return 0;
}

static void __exit pcfix_exit(void)
{
	int i;

	for (i = 0; i < 2; i++)
		kthread_stop(pcfix_kt[i]);	/* wakes kt2's schedule_timeout too */
	pcfix_del_timer_sync(&pcfix_timer);
	proc_remove(pcfix_proc);
}

module_init(pcfix_init);
module_exit(pcfix_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pycrash crash zoo: kthreads sleeping in module code, and crashes on demand");
