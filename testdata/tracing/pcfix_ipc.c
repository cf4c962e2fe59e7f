/* pcfix-ipc: the tracing fixture's guest program (testdata/build-tracing.sh).
 *
 * It creates System V IPC objects and loads an eBPF program and two maps, records what
 * the kernel says of them (the bpf() syscall's own info) into DIR, writes DIR/ready, then
 * sleeps holding them all: the dump shows them as the guest's truth describes them.
 *
 *   shm  key 0x70630001  90000 bytes  0666  attached, its first 3 pages touched
 *   shm  IPC_PRIVATE      8192 bytes  0600  attached, then removed (status "dest")
 *   shm  key 0x70630003   4096 bytes  0640  SHM_LOCKed (status "locked"), not attached
 *   sem  key 0x70630010   3 semaphores 0600 (values 1 2 3)
 *   sem  IPC_PRIVATE      1 semaphore  0644
 *   msg  key 0x70630020   0666, 3 messages of 10, 100 and 1000 bytes
 *   msg  IPC_PRIVATE      0600, empty
 *   bpf  ARRAY map "pcfix_array" (4-byte keys, 8-byte values, 4 entries), HASH map
 *        "pcfix_hash" (8/16, 64 entries, BPF_F_NO_PREALLOC), SOCKET_FILTER program
 *        "pcfix_prog" (GPL) counting packets in the array's entry 0, attached to a socket
 *
 * DIR/bpf.txt: "prog ID TYPE TAG XLATED JITED NAME", "xlated HEX..." (8 bytes per
 * instruction, as BPF_OBJ_GET_INFO_BY_FD translates it), "jited HEX" (the JIT's bytes),
 * "jited_ksym ADDR", "map ID TYPE KEY VALUE MAX FLAGS NAME" per map, and "pid PID".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "pcfix-ipc: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int map_create(int type, int key, int value, int max, int flags, const char *name)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = key;
	a.value_size = value;
	a.max_entries = max;
	a.map_flags = flags;
	strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	int fd = sys_bpf(BPF_MAP_CREATE, &a);
	if (fd < 0)
		die(name);
	return fd;
}

static void hex(FILE *f, const char *tag, const unsigned char *p, size_t n)
{
	fprintf(f, "%s ", tag);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('\n', f);
}

struct msgbuf_ { long mtype; char mtext[1000]; };

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	char path[512];

	/* shared memory */
	int shm1 = shmget(0x70630001, 90000, IPC_CREAT | 0666);
	if (shm1 < 0)
		die("shmget 1");
	char *p1 = shmat(shm1, NULL, 0);
	if (p1 == (void *)-1)
		die("shmat 1");
	for (int i = 0; i < 3; i++)
		p1[i * 4096] = 'p';
	int shm2 = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	if (shm2 < 0)
		die("shmget 2");
	char *p2 = shmat(shm2, NULL, 0);
	if (p2 == (void *)-1)
		die("shmat 2");
	p2[0] = 'q';
	if (shmctl(shm2, IPC_RMID, NULL) < 0)
		die("shmctl rmid");
	int shm3 = shmget(0x70630003, 4096, IPC_CREAT | 0640);
	if (shm3 < 0)
		die("shmget 3");
	if (shmctl(shm3, SHM_LOCK, NULL) < 0)
		die("shmctl lock");

	/* semaphores */
	int sem1 = semget(0x70630010, 3, IPC_CREAT | 0600);
	if (sem1 < 0)
		die("semget 1");
	for (int i = 0; i < 3; i++)
		if (semctl(sem1, i, SETVAL, i + 1) < 0)
			die("semctl");
	if (semget(IPC_PRIVATE, 1, IPC_CREAT | 0644) < 0)
		die("semget 2");

	/* message queues */
	int msq = msgget(0x70630020, IPC_CREAT | 0666);
	if (msq < 0)
		die("msgget 1");
	static struct msgbuf_ m;
	int sizes[] = {10, 100, 1000};
	for (int i = 0; i < 3; i++) {
		m.mtype = i + 1;
		memset(m.mtext, 'a' + i, sizeof(m.mtext));
		if (msgsnd(msq, &m, sizes[i], 0) < 0)
			die("msgsnd");
	}
	if (msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0)
		die("msgget 2");

	/* eBPF: two maps and a socket filter using the first */
	int array = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, "pcfix_array");
	int hash = map_create(BPF_MAP_TYPE_HASH, 8, 16, 64, BPF_F_NO_PREALLOC, "pcfix_hash");
	struct bpf_insn insns[] = {
		/* r6 = r1; *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4 */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1 },
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4 },
		/* r1 = map[array] (ld_imm64 of the map's fd) */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = array },
		{ .code = 0 },
		/* r0 = bpf_map_lookup_elem(r1, r2); if r0 == 0 goto out */
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .off = 2, .imm = 0 },
		/* r1 = 1; lock *(u64 *)(r0 + 0) += r1 */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = 0, .src_reg = 1, .imm = BPF_ADD },
		/* out: w0 = *(u32 *)(r6 + 0) (skb->len); w0 &= 0xffff; exit */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 0, .src_reg = 6, .off = 0 },
		{ .code = BPF_ALU | BPF_AND | BPF_K, .dst_reg = 0, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[65536];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	strncpy(a.prog_name, "pcfix_prog", sizeof(a.prog_name) - 1);
	int prog = sys_bpf(BPF_PROG_LOAD, &a);
	if (prog < 0) {
		fprintf(stderr, "%s\n", log);
		die("BPF_PROG_LOAD");
	}
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0)
		die("SO_ATTACH_BPF");

	/* what the kernel says of them */
	snprintf(path, sizeof(path), "%s/bpf.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die(path);
	static unsigned char xlated[4096], jited[4096];
	uint32_t map_ids[8];
	uint64_t jited_ksyms[4];
	struct bpf_prog_info pi;
	memset(&pi, 0, sizeof(pi));
	pi.xlated_prog_insns = (uintptr_t)xlated;
	pi.xlated_prog_len = sizeof(xlated);
	pi.jited_prog_insns = (uintptr_t)jited;
	pi.jited_prog_len = sizeof(jited);
	pi.map_ids = (uintptr_t)map_ids;
	pi.nr_map_ids = 8;
	pi.jited_ksyms = (uintptr_t)jited_ksyms;
	pi.nr_jited_ksyms = 4;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = prog;
	a.info.info_len = sizeof(pi);
	a.info.info = (uintptr_t)&pi;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
		die("BPF_OBJ_GET_INFO_BY_FD prog");
	fprintf(f, "prog %u %u ", pi.id, pi.type);
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		fprintf(f, "%02x", pi.tag[i]);
	fprintf(f, " %u %u %s\n", pi.xlated_prog_len, pi.jited_prog_len, pi.name);
	hex(f, "xlated", xlated, pi.xlated_prog_len < sizeof(xlated) ? pi.xlated_prog_len : 0);
	hex(f, "jited", jited, pi.jited_prog_len < sizeof(jited) ? pi.jited_prog_len : 0);
	for (uint32_t i = 0; i < pi.nr_jited_ksyms && i < 4; i++)
		fprintf(f, "jited_ksym %llx\n", (unsigned long long)jited_ksyms[i]);
	fprintf(f, "used_maps");
	for (uint32_t i = 0; i < pi.nr_map_ids && i < 8; i++)
		fprintf(f, " %u", map_ids[i]);
	fprintf(f, "\nload_time %llu\n", (unsigned long long)pi.load_time);
	int maps[] = {array, hash};
	for (int i = 0; i < 2; i++) {
		struct bpf_map_info mi;
		memset(&mi, 0, sizeof(mi));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = maps[i];
		a.info.info_len = sizeof(mi);
		a.info.info = (uintptr_t)&mi;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
			die("BPF_OBJ_GET_INFO_BY_FD map");
		fprintf(f, "map %u %u %u %u %u %u %s\n", mi.id, mi.type, mi.key_size,
			mi.value_size, mi.max_entries, mi.map_flags, mi.name);
	}
	fprintf(f, "fds prog %d array %d hash %d\n", prog, array, hash);
	fprintf(f, "pid %d\n", getpid());
	fclose(f);

	snprintf(path, sizeof(path), "%s/ready", dir);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fclose(f);
	for (;;)
		pause();
}
