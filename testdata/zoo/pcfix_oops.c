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
 * Other words hang the kernel instead, for the hung-task and lockup detectors
 * to panic it (the fixture sets their sysctls):
 *
 *   hung   pcfix_holder takes pcfix_mutex and sleeps (state S) holding it;
 *          pcfix_waiter1..3 then block on it (state D), one every 200 ms
 *   abba   pcfix_abba_a takes pcfix_mutex_a then pcfix_mutex_b, pcfix_abba_b
 *          the other way round: each ends blocked on the lock the other holds
 *   rwsem  pcfix_writer holds pcfix_rwsem for write and sleeps; pcfix_reader1..3
 *          block in down_read(), one every 200 ms, then a work item on the
 *          system workqueue (pcfix_work_fn): its kworker is stuck the same way
 *   spin   spins in pcfix_spin() with preemption off (a soft lockup)
 *
 * Each task about to block logs "pcfix_oops: NAME blocks on LOCK", so the log
 * in the dump says when the wait began.
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
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/preempt.h>
#include <linux/workqueue.h>

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

/* --- the hangs --------------------------------------------------------------- */

static DEFINE_MUTEX(pcfix_mutex);
static DEFINE_MUTEX(pcfix_mutex_a);
static DEFINE_MUTEX(pcfix_mutex_b);
static DECLARE_RWSEM(pcfix_rwsem);
static DECLARE_COMPLETION(pcfix_held);
static volatile unsigned long pcfix_locks;

/* sleeps (state S) for good: the lock holders' and blocked tasks' last frame */
static PCFIX_FRAME void pcfix_hold_forever(void)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ * 1000);
	pcfix_wakeups++;
}

static PCFIX_FRAME void pcfix_lock_mutex(struct mutex *lock, const char *name)
{
	pr_info("pcfix_oops: %s blocks on %s\n", current->comm, name);
	mutex_lock(lock);
	pcfix_locks++;
}

static PCFIX_FRAME int pcfix_holder_fn(void *data)
{
	pcfix_lock_mutex(&pcfix_mutex, "pcfix_mutex");
	complete(&pcfix_held);
	pcfix_hold_forever();
	return 0;
}

static PCFIX_FRAME int pcfix_waiter_fn(void *data)
{
	pcfix_lock_mutex(&pcfix_mutex, "pcfix_mutex");
	pcfix_hold_forever();
	return 0;
}

static PCFIX_FRAME int pcfix_abba_fn(void *data)
{
	long a_first = (long)data;
	struct mutex *first = a_first ? &pcfix_mutex_a : &pcfix_mutex_b;
	struct mutex *second = a_first ? &pcfix_mutex_b : &pcfix_mutex_a;

	pcfix_lock_mutex(first, a_first ? "pcfix_mutex_a" : "pcfix_mutex_b");
	msleep(500);	/* the other thread takes its first lock meanwhile */
	pcfix_lock_mutex(second, a_first ? "pcfix_mutex_b" : "pcfix_mutex_a");
	pcfix_hold_forever();
	return 0;
}

static PCFIX_FRAME void pcfix_down_read(struct rw_semaphore *sem)
{
	pr_info("pcfix_oops: %s blocks on pcfix_rwsem\n", current->comm);
	down_read(sem);
	pcfix_locks++;
}

static PCFIX_FRAME int pcfix_writer_fn(void *data)
{
	down_write(&pcfix_rwsem);
	complete(&pcfix_held);
	pcfix_hold_forever();
	return 0;
}

static PCFIX_FRAME int pcfix_reader_fn(void *data)
{
	pcfix_down_read(&pcfix_rwsem);
	pcfix_hold_forever();
	return 0;
}

/* a work item stuck behind the writer: its kworker stays busy in pcfix_work_fn */
static PCFIX_FRAME void pcfix_work_fn(struct work_struct *work)
{
	pcfix_down_read(&pcfix_rwsem);
	pcfix_locks++;
}
static DECLARE_WORK(pcfix_work, pcfix_work_fn);

/* start a kthread (never stopped: the kernel panics with it) and return its error */
static int pcfix_start(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *t = kthread_run(fn, data, "%s", name);

	return IS_ERR(t) ? PTR_ERR(t) : 0;
}

static PCFIX_FRAME int pcfix_hang(const char *word)
{
	char name[16];
	int i, err = 0;

	if (!strcmp(word, "abba")) {
		err = pcfix_start(pcfix_abba_fn, (void *)1L, "pcfix_abba_a");
		return err ? err : pcfix_start(pcfix_abba_fn, (void *)0L, "pcfix_abba_b");
	}
	/* hung, rwsem: the holder first, then three waiters, oldest first */
	if (!strcmp(word, "hung"))
		err = pcfix_start(pcfix_holder_fn, NULL, "pcfix_holder");
	else
		err = pcfix_start(pcfix_writer_fn, NULL, "pcfix_writer");
	if (err)
		return err;
	wait_for_completion(&pcfix_held);
	for (i = 1; i <= 3 && !err; i++) {
		msleep(200);
		if (!strcmp(word, "hung")) {
			snprintf(name, sizeof(name), "pcfix_waiter%d", i);
			err = pcfix_start(pcfix_waiter_fn, NULL, name);
		} else {
			snprintf(name, sizeof(name), "pcfix_reader%d", i);
			err = pcfix_start(pcfix_reader_fn, NULL, name);
		}
	}
	if (!err && strcmp(word, "hung")) {
		msleep(200);
		schedule_work(&pcfix_work);
	}
	msleep(200);	/* the last one blocks before the write returns */
	return err;
}

/* a soft lockup: this CPU never schedules again */
static PCFIX_FRAME void pcfix_spin(void)
{
	preempt_disable();
	for (;;) {
		pcfix_crashes++;
		cpu_relax();
	}
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
	else if (!strcmp(word, "spin"))
		pcfix_spin();
	else if (!strcmp(word, "hung") || !strcmp(word, "abba") || !strcmp(word, "rwsem")) {
		int err = pcfix_hang(word);

		if (err)
			return err;
	} else
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
MODULE_DESCRIPTION("pycrash crash zoo: kthreads sleeping in module code, crashes and hangs on demand");
