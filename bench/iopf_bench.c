// SPDX-License-Identifier: GPL-2.0-only
/*
 * make bench: the cost of a fault's trip through the fault queue, measured
 * the same way on the series and on the unrewound Debian kernel (the peer).
 *
 * Every fault comes from the mock device (IOMMU_TEST_OP_TRIGGER_IOPF), so
 * each figure includes that ioctl and the io-pgfault core, which both
 * kernels share. Each case runs ROUNDS times and the median round is
 * reported; the wakeup cases report the median and the 99th percentile of
 * single faults. Output is TAP: one "ok" line per case carrying
 * "bench: <case> <value> <unit>" (value "n/a" where the kernel lacks what
 * the case needs), read by scripts/bench.sh.
 *
 *   memory      kernel slab memory per fault with 4096 faults queued and
 *               unread (/proc/meminfo Slab after vm.stat_refresh, measured
 *               first in the boot, before any other case)
 *   memory_read the same once all 4096 have been read and not answered
 *   roundtrip   trigger one fault, read its record, write its response
 *   trigger, read, write
 *               the three calls of roundtrip, each timed alone (median of
 *               single calls)
 *   write_log   write again with the series' response log on (see below):
 *               what the log adds to a response; n/a on the peer
 *   batch64     64 faults, read in one read(), answered in one write()
 *   backlog4k   4096 faults queued before any read, read 64 at a time, then
 *               answered newest first, one write() each
 *   wakeup      a second thread sleeps in poll(); time from the trigger to
 *               the record in its buffer
 *   vmm         a VMM that answers a batch at once: the main thread is the
 *               device and raises faults (at most VMM_WINDOW unanswered); a
 *               second thread sleeps in poll() on the O_NONBLOCK fd, and on
 *               each wakeup reads up to 100 records and answers them in one
 *               write(). Time per fault (1e9 / faults per second), and
 *               p50/p99 of trigger -> response at the device; the mock device
 *               takes the response synchronously inside write(), so "at the
 *               device" is timed when write() returns
 *   vmm_cpu     the CPU time of the consumer thread (CLOCK_THREAD_CPUTIME_ID)
 *               per fault: what resolving faults costs the VMM's fault
 *               thread, where "vmm" is bounded by the device thread
 *   vmm_qemu, vmm_qemu_*
 *               QEMU's pattern: the same, but each response is written on
 *               its own, one write() of 8 bytes per record, as QEMU's VT-d
 *               model writes each response when the guest gives it
 *   uring       the same with a read always posted through io_uring on an
 *               IOMMU_FAULT_QUEUE_WAIT queue and the responses written
 *               through io_uring (raw io_uring syscalls, no liburing); "n/a"
 *               on a kernel that refuses the flag (EOPNOTSUPP)
 *   queues16    QEMU's VT-d model: one fault queue per guest PASID HWPT, 16
 *               of them (each with its mock device, nested HWPT and flags-0
 *               queue), one consumer thread in level-triggered epoll_wait()
 *               on all 16 O_NONBLOCK fds that reads up to 100 records from
 *               each ready fd and answers them in one write() per fd; the
 *               device thread raises faults round robin over the 16 devices
 *               with the same window as vmm
 *   queues16_qemu, queues16_qemu_*
 *               the same 16 queues, each response written on its own
 *   uring16     the same 16 queues with IOMMU_FAULT_QUEUE_WAIT, served by
 *               one ring: one read posted per queue, the responses written
 *               through the ring; "n/a" where the flag is refused
 *   memory_queue kernel slab memory per allocated, empty fault queue (object,
 *               file and queue state): 512 flags-0 queues, measured like
 *               memory, first in the boot, after the fd table has grown
 *   demand_paging
 *               IO demand paging: a second mock device, on a paging HWPT
 *               whose faults go to its own queue, reads DEMAND_PAGES pages
 *               from an IOAS with nothing mapped, one page per access
 *               (IOMMU_TEST_OP_DMA); each access faults, stalls until a
 *               handler thread (mock_pager_run()) has read the fault, mapped
 *               the page with IOMMU_IOAS_MAP and answered it, and then
 *               retries and copies the page. Time per page resolved; its
 *               floor is the same IOMMU_IOAS_MAP and access with no fault.
 *               Series only: the peer refuses fault_id on a paging HWPT and
 *               has no IOMMU_TEST_OP_DMA (the row says n/a)
 *   demand_paging64
 *               the same with accesses of 64 pages that all fault; the
 *               device asks for at most 32 pages in one group
 *
 * The mock devices of the series log every page response they receive, for
 * the tests; the peer's do not. So that the responses cost the same on both
 * kernels, the program turns that log off (IOMMU_TEST_OP_IOPF_LOG) on every
 * device it uses, unless IOPF_BENCH_LOG=1 is on the kernel command line.
 *
 * Every time case also has a "floor_<case>": the same syscall sequence with
 * no fault work. The trigger is a query-only test op both kernels have
 * (IOMMU_TEST_OP_MD_CHECK_IOTLB: the same ioctl dispatch and object lookup
 * as the trigger), a read of the records is a read of /dev/zero of the same
 * size, a write of the responses a write to /dev/null of the same size.
 * Where a thread sleeps for the fault, the floor's device also writes an
 * eventfd, which the other thread polls (or keeps an io_uring read posted
 * on) and reads, so the floor's device makes two syscalls where the real
 * one makes one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include <linux/io_uring.h>

#include "mock_iopf.h"

#define ROUNDS 5
#define BATCH 64
#define BACKLOG 4096
#define ROUNDTRIPS 2000
#define WAKEUPS 1000
#define VMM_FAULTS 4000
#define VMM_READ 100		/* records per read, as QEMU */
#define VMM_WINDOW 64		/* faults the device has outstanding at most */
#define QUEUES 16		/* fault queues of queues16 and uring16 */
#define MEM_QUEUES 512		/* queues allocated for memory_queue */
#define DEMAND_PAGES 256	/* pages a round of demand_paging reads */
#define DEMAND_IOVA 0x40000000ULL

/* IOMMU_FAULT_QUEUE_WAIT of the series; the peer's header has no such flag */
#define BENCH_QUEUE_WAIT (1u << 0)

typedef struct iommu_hwpt_pgfault rec_t;
typedef struct iommu_hwpt_page_response resp_t;

static struct mock_iopf m;
static int step;
static int zero_fd, null_fd;	/* /dev/zero and /dev/null, for the floors */
static bool floor_mode;		/* the cases do the floor's syscalls */
/*
 * IOPF_BENCH_PIN=1 (on the kernel command line): the threaded cases run the
 * device thread on CPU 0 and the consumer on CPU 1, as a device that does not
 * share the consumer's CPU; by default the scheduler places both, as it does
 * a VMM's threads.
 */
static bool pinned;
static bool profiling;		/* IOPF_BENCH_TRACE: a traced round too */

/* The series' devices log their responses; the peer's do not: see above */
static void unlog(struct mock_iopf *d)
{
#ifdef HAVE_MOCK_IOPF_LOG
	if (!getenv("IOPF_BENCH_LOG") && mock_iopf_log(d, MOCK_IOPF_LOG_OFF)) {
		printf("not ok %d - turn off the response log: %s\n", ++step,
		       strerror(errno));
		exit(1);
	}
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	printf("not ok %d - %s: %s\n", ++step, what, strerror(errno));
	printf("1..%d\n", step);
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void report(const char *name, int64_t value, const char *unit)
{
	printf("ok %d - bench: %s%s %lld %s\n", ++step,
	       floor_mode ? "floor_" : "", name, (long long)value, unit);
	fflush(stdout);
}

static void report_na(const char *name, const char *unit, const char *why)
{
	printf("ok %d - bench: %s%s n/a %s # %s\n", ++step,
	       floor_mode ? "floor_" : "", name, unit, why);
	fflush(stdout);
}

/* Read exactly @n records, in as many reads as it takes */
static void read_records(rec_t *rec, unsigned int n)
{
	size_t want = n * sizeof(*rec), got = 0;
	int fd = floor_mode ? zero_fd : m.fault_fd;

	while (got < want) {
		ssize_t ret = read(fd, (char *)rec + got, want - got);

		if (ret <= 0)
			die("read fault records");
		got += ret;
	}
}

static void fill_responses(resp_t *resp, const rec_t *rec, unsigned int n)
{
	unsigned int i;

	for (i = 0; i != n; i++) {
		resp[i].cookie = rec[i].cookie;
		resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
	}
}

static void respond(const rec_t *rec, unsigned int n)
{
	resp_t resp[VMM_READ];
	int fd = floor_mode ? null_fd : m.fault_fd;

	fill_responses(resp, rec, n);
	if (write(fd, resp, n * sizeof(*resp)) != (ssize_t)(n * sizeof(*resp)))
		die("write responses");
}

/* The floor of a trigger: a query-only test op, same dispatch and lookup */
static int noop_op(void)
{
	struct iommu_test_cmd cmd = {
		.id = m.hwpt_id,
		.check_iotlb = {
			.id = 0,
			.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
		},
	};

	return mock_test_cmd(m.iommufd, &cmd, IOMMU_TEST_OP_MD_CHECK_IOTLB);
}

static uint64_t fault_addr(__u32 i)
{
	return 0x100000 + (__u64)i * 4096;
}

/* A fault from the mock device of @d (the floor: the no-op ioctl) */
static void trigger_on(struct mock_iopf *d, __u32 grpid)
{
	if (floor_mode ? noop_op() :
	    mock_trigger(d, grpid & 0x1ff, fault_addr(grpid)))
		die("trigger a fault");
}

static void trigger(__u32 grpid)
{
	trigger_on(&m, grpid);
}

/* A fault for a thread that sleeps on @efd (the floor's): trigger + wake */
static void trigger_wake(struct mock_iopf *d, __u32 i, int efd)
{
	uint64_t one = 1;

	trigger_on(d, i);
	if (floor_mode && write(efd, &one, sizeof(one)) != sizeof(one))
		die("write the eventfd");
}

/* Each case returns ns per fault for one round */
static uint64_t run_roundtrip(void)
{
	rec_t rec;
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i != ROUNDTRIPS; i++) {
		trigger(i);
		read_records(&rec, 1);
		respond(&rec, 1);
	}
	return (now_ns() - t0) / ROUNDTRIPS;
}

/* Median of single trigger, read and write calls */
static void run_phases(uint64_t *trig, uint64_t *rd, uint64_t *wr)
{
	static uint64_t t[3][ROUNDTRIPS];
	rec_t rec;
	unsigned int i;

	for (i = 0; i != ROUNDTRIPS; i++) {
		uint64_t t0 = now_ns(), t1, t2;

		trigger(i);
		t1 = now_ns();
		read_records(&rec, 1);
		t2 = now_ns();
		respond(&rec, 1);
		t[0][i] = t1 - t0;
		t[1][i] = t2 - t1;
		t[2][i] = now_ns() - t2;
	}
	*trig = median(t[0], ROUNDTRIPS);
	*rd = median(t[1], ROUNDTRIPS);
	*wr = median(t[2], ROUNDTRIPS);
}

static uint64_t run_batch(void)
{
	rec_t rec[BATCH];
	unsigned int i, j, n = ROUNDTRIPS / BATCH;
	uint64_t t0 = now_ns();

	for (i = 0; i != n; i++) {
		for (j = 0; j != BATCH; j++)
			trigger(i * BATCH + j);
		read_records(rec, BATCH);
		respond(rec, BATCH);
	}
	return (now_ns() - t0) / (n * BATCH);
}

static uint64_t run_backlog(void)
{
	static rec_t rec[BACKLOG];
	uint64_t t0 = now_ns();
	unsigned int i;

	for (i = 0; i != BACKLOG; i++)
		trigger(i);
	for (i = 0; i != BACKLOG; i += BATCH)
		read_records(rec + i, BATCH);
	for (i = BACKLOG; i--;)
		respond(&rec[i], 1);
	return (now_ns() - t0) / BACKLOG;
}

struct waiter {
	uint64_t sent;		/* when the fault was triggered */
	uint64_t lat[WAKEUPS];
	unsigned int n;
	int efd;		/* the floor's eventfd */
	bool go, stop;
	const char *failed;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	rec_t rec;
	struct pollfd pfd = {
		.fd = floor_mode ? w->efd : m.fault_fd,
		.events = POLLIN,
	};

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		int ret = poll(&pfd, 1, 100);

		if (ret < 0) {
			w->failed = "poll";
			break;
		}
		if (!ret)
			continue;
		/* The floor reads the eventfd: 8 bytes for a 40 byte record */
		ret = floor_mode ? read(w->efd, &rec, 8) ==  8 :
			read(m.fault_fd, &rec, sizeof(rec)) == sizeof(rec);
		if (!ret) {
			w->failed = "read in the waiter";
			break;
		}
		w->lat[w->n++] = now_ns() -
				 __atomic_load_n(&w->sent, __ATOMIC_ACQUIRE);
		respond(&rec, 1);
		__atomic_store_n(&w->go, true, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&w->go, true, __ATOMIC_RELEASE);
	return NULL;
}

static void run_wakeup(uint64_t *p50, uint64_t *p99)
{
	static struct waiter w;
	pthread_t thread;
	unsigned int i;

	memset(&w, 0, sizeof(w));
	w.efd = eventfd(0, EFD_NONBLOCK);
	if (w.efd < 0)
		die("eventfd");
	if (pthread_create(&thread, NULL, waiter_thread, &w))
		die("start the waiter");
	for (i = 0; i != WAKEUPS && !w.failed; i++) {
		/* Let the waiter go back to sleep in poll() first */
		usleep(200);
		__atomic_store_n(&w.go, false, __ATOMIC_RELAXED);
		__atomic_store_n(&w.sent, now_ns(), __ATOMIC_RELEASE);
		trigger_wake(&m, i, w.efd);
		while (!__atomic_load_n(&w.go, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	__atomic_store_n(&w.stop, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	close(w.efd);
	if (w.failed || w.n != WAKEUPS) {
		errno = EIO;
		die(w.failed ?: "the waiter missed faults");
	}
	qsort(w.lat, w.n, sizeof(w.lat[0]), cmp_u64);
	*p50 = w.lat[w.n / 2];
	*p99 = w.lat[w.n * 99 / 100];
}

/*
 * A minimal io_uring, on the raw syscalls: the program stays static and
 * needs no liburing.
 */
struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int to_submit;
	void *sq_ptr, *cq_ptr;
	size_t sq_len, cq_len, sqes_len;
};

static int ring_setup(struct ring *r, unsigned int entries)
{
	struct io_uring_params p = {};

	memset(r, 0, sizeof(*r));
	r->fd = syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0)
		return -1;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = 0;
	}
	r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_ptr == MAP_FAILED)
		return -1;
	r->cq_ptr = r->sq_ptr;
	if (r->cq_len) {
		r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd,
				 IORING_OFF_CQ_RING);
		if (r->cq_ptr == MAP_FAILED)
			return -1;
	}
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (void *)((char *)r->sq_ptr + p.sq_off.tail);
	r->sq_mask = (void *)((char *)r->sq_ptr + p.sq_off.ring_mask);
	r->sq_array = (void *)((char *)r->sq_ptr + p.sq_off.array);
	r->cq_head = (void *)((char *)r->cq_ptr + p.cq_off.head);
	r->cq_tail = (void *)((char *)r->cq_ptr + p.cq_off.tail);
	r->cq_mask = (void *)((char *)r->cq_ptr + p.cq_off.ring_mask);
	r->cqes = (void *)((char *)r->cq_ptr + p.cq_off.cqes);
	return 0;
}

static void ring_free(struct ring *r)
{
	munmap(r->sqes, r->sqes_len);
	if (r->cq_len)
		munmap(r->cq_ptr, r->cq_len);
	munmap(r->sq_ptr, r->sq_len);
	close(r->fd);
}

/* Queue a read or write of @fd (op), to be submitted by ring_enter() */
static void ring_prep(struct ring *r, __u8 op, int fd, void *buf, size_t len,
		      __u64 user_data)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->off = (__u64)-1;	/* the file position: a stream */
	sqe->addr = (__u64)(unsigned long)buf;
	sqe->len = len;
	sqe->user_data = user_data;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	r->to_submit++;
}

static int ring_enter(struct ring *r, unsigned int wait_nr)
{
	int ret = syscall(__NR_io_uring_enter, r->fd, r->to_submit, wait_nr,
			  wait_nr ? IORING_ENTER_GETEVENTS : 0, NULL, 0);

	if (ret >= 0)
		r->to_submit -= ret;
	return ret < 0 ? -1 : 0;
}

/* The next completion, or false when there is none */
static bool ring_cqe(struct ring *r, struct io_uring_cqe *out)
{
	unsigned int head = *r->cq_head;

	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return false;
	*out = r->cqes[head & *r->cq_mask];
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return true;
}

/*
 * vmm, uring, queues16 and uring16: the main thread is the device (or the
 * devices, in turn), a consumer thread resolves their faults. The device
 * waits (yielding) while VMM_WINDOW of its faults are unanswered, as a device
 * with that many page requests in flight.
 */
struct vmm_cfg {
	bool uring;
	bool per_record;	/* QEMU: one write() per response */
	unsigned int nq;	/* fault queues: 1, or QUEUES */
	int fd[QUEUES];		/* the fault queues, or the floor's eventfds */
	struct mock_iopf *dev[QUEUES];	/* the device of each queue */
};

struct vmm {
	struct vmm_cfg cfg;	/* kept from round to round */
	uint64_t t_trigger[VMM_FAULTS];
	uint64_t t_return[VMM_FAULTS];	/* the trigger returned (profile) */
	uint64_t lat[VMM_FAULTS];
	unsigned int answered;	/* written back, the device may go on */
	unsigned int taken;	/* records read so far */
	unsigned int reads;	/* reads that gave records */
	unsigned int singles;	/* reads that gave a single record */
	unsigned int writes;	/* writes of responses */
	unsigned int stalls;	/* faults the device held back: window full */
	uint64_t cpu;		/* CPU time of the consumer thread, ns */
	const char *failed;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The records @rec (@n of them, read when @taken had been) were answered at
 * @t: their latencies. The floor's records are numbered in the order read.
 */
static void vmm_answered(struct vmm *v, const rec_t *rec, unsigned int n,
			 unsigned int taken, uint64_t t)
{
	unsigned int i;

	for (i = 0; i != n; i++) {
		unsigned int idx = floor_mode ? taken + i :
			(rec[i].addr - fault_addr(0)) / 4096;

		if (idx < VMM_FAULTS)
			v->lat[idx] = t - v->t_trigger[idx];
	}
	__atomic_add_fetch(&v->answered, n, __ATOMIC_RELEASE);
}

/* How many records a read of @ret bytes gave (the floor: the eventfd count) */
static unsigned int vmm_records(const void *buf, ssize_t ret)
{
	if (floor_mode)
		return ret == 8 ? *(const uint64_t *)buf : 0;
	return ret > 0 ? ret / sizeof(rec_t) : 0;
}

/* Count a read that gave @n records, answered by @writes writes */
static void vmm_count(struct vmm *v, unsigned int n, unsigned int writes)
{
	v->taken += n;
	v->reads++;
	v->writes += writes;
	v->singles += n == 1;
}

/*
 * QEMU's VT-d model forwards each record to the guest and writes each
 * response when the guest gives it: one write() of one response per record
 */
static int vmm_answer_each(struct vmm *v, int fd, const rec_t *rec,
			   const resp_t *resp, unsigned int n)
{
	unsigned int i;

	for (i = 0; i != n; i++) {
		if (write(floor_mode ? null_fd : fd, &resp[i], sizeof(resp_t)) !=
		    sizeof(resp_t)) {
			v->failed = "write";
			return -1;
		}
		vmm_answered(v, &rec[i], 1, v->taken + i, now_ns());
	}
	vmm_count(v, n, n);
	return 0;
}

/* Read up to VMM_READ records of @fd and answer them in one write() */
static int vmm_serve(struct vmm *v, int fd)
{
	rec_t rec[VMM_READ];
	resp_t resp[VMM_READ];
	unsigned int n;
	ssize_t ret;

	ret = read(fd, rec, floor_mode ? 8 : sizeof(rec));
	if (ret < 0 && errno != EAGAIN) {
		v->failed = "read";
		return -1;
	}
	n = vmm_records(rec, ret);
	if (!n)
		return 0;
	if (n > VMM_READ) {
		errno = EIO;
		v->failed = "eventfd count";
		return -1;
	}
	fill_responses(resp, rec, n);
	if (v->cfg.per_record)
		return vmm_answer_each(v, fd, rec, resp, n);
	ret = write(floor_mode ? null_fd : fd, resp, n * sizeof(resp_t));
	if (ret != (ssize_t)(n * sizeof(resp_t))) {
		v->failed = "write";
		return -1;
	}
	vmm_answered(v, rec, n, v->taken, now_ns());
	vmm_count(v, n, 1);
	return 0;
}

/* One queue: poll(), as QEMU; several: one level-triggered epoll set */
static void *vmm_poll_thread(void *arg)
{
	struct vmm *v = arg;
	struct pollfd pfd = { .fd = v->cfg.fd[0], .events = POLLIN };
	struct epoll_event ev[QUEUES];
	uint64_t cpu0 = thread_cpu_ns();
	int ep = -1, idle = 0, i, ret;

	if (v->cfg.nq > 1) {
		ep = epoll_create1(0);
		for (i = 0; ep >= 0 && i != (int)v->cfg.nq; i++) {
			ev[0].events = EPOLLIN;
			ev[0].data.u32 = i;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, v->cfg.fd[i], ev)) {
				close(ep);
				ep = -1;
			}
		}
		if (ep < 0)
			v->failed = "epoll";
	}
	while (!v->failed &&
	       __atomic_load_n(&v->answered, __ATOMIC_ACQUIRE) != VMM_FAULTS) {
		if (ep < 0) {
			ret = poll(&pfd, 1, 1000);
			ev[0].data.u32 = 0;
		} else {
			ret = epoll_wait(ep, ev, QUEUES, 1000);
		}
		if (ret < 0 || (!ret && ++idle == 10)) {
			v->failed = ret < 0 ? "poll" : "no fault for 10 s";
			break;
		}
		for (i = 0; i != ret; i++)
			if (vmm_serve(v, v->cfg.fd[ev[i].data.u32]))
				break;
	}
	if (ep >= 0)
		close(ep);
	v->cpu = thread_cpu_ns() - cpu0;
	if (v->failed)
		__atomic_store_n(&v->answered, VMM_FAULTS, __ATOMIC_RELEASE);
	return NULL;
}

/* user_data: the cancels, URING_WRITE + slot, URING_READ + queue */
enum { URING_CANCEL = 1, URING_WRITE = 64, URING_READ = 256 };
#define URING_SLOTS 32

/* A write of responses in flight, with what it answers */
struct uring_slot {
	bool busy;
	unsigned int n, taken;
	rec_t rec[VMM_READ];
	resp_t resp[VMM_READ];
};

/* Post the read of queue @k into its buffer */
static void uring_read(struct ring *r, struct vmm *v, rec_t (*rec)[VMM_READ],
		       unsigned int k)
{
	ring_prep(r, IORING_OP_READ, v->cfg.fd[k], rec[k],
		  floor_mode ? 8 : sizeof(rec[k]), URING_READ + k);
}

/* The read of queue @k completed with @res: its responses go out */
static void uring_answer(struct ring *r, struct vmm *v, struct uring_slot *slot,
			 const rec_t *rec, unsigned int k, int res)
{
	struct uring_slot *s;
	unsigned int n, i;

	if (res < 0) {
		errno = -res;
		v->failed = "io_uring read";
		return;
	}
	n = vmm_records(rec, res);
	for (i = 0; i != URING_SLOTS && slot[i].busy; i++)
		;
	if (n > VMM_READ || i == URING_SLOTS) {
		errno = EIO;
		v->failed = n > VMM_READ ? "eventfd count" :
			"too many writes in flight";
		return;
	}
	if (!n)
		return;
	s = &slot[i];
	s->busy = true;
	s->n = n;
	s->taken = v->taken;
	vmm_count(v, n, 1);
	memcpy(s->rec, rec, n * sizeof(rec[0]));
	fill_responses(s->resp, rec, n);
	ring_prep(r, IORING_OP_WRITE, floor_mode ? null_fd : v->cfg.fd[k],
		  s->resp, n * sizeof(resp_t), URING_WRITE + i);
}

static void *vmm_uring_thread(void *arg)
{
	static struct uring_slot slot[URING_SLOTS];
	static rec_t rec[QUEUES][VMM_READ];
	struct vmm *v = arg;
	unsigned int nq = v->cfg.nq, posted = 0, k;
	struct io_uring_cqe cqe;
	uint64_t cpu0 = thread_cpu_ns();
	struct ring r;
	int left = 0;

	memset(slot, 0, sizeof(slot));
	if (ring_setup(&r, 64)) {
		v->failed = "io_uring_setup";
		goto out;
	}
	for (k = 0; k != nq; k++)
		uring_read(&r, v, rec, k);
	posted = (1u << nq) - 1;
	while (__atomic_load_n(&v->answered, __ATOMIC_ACQUIRE) != VMM_FAULTS) {
		uint64_t t;

		if (ring_enter(&r, 1)) {
			v->failed = "io_uring_enter";
			break;
		}
		t = now_ns();
		while (!v->failed && ring_cqe(&r, &cqe)) {
			struct uring_slot *s;

			if (cqe.user_data >= URING_READ) {
				k = cqe.user_data - URING_READ;
				posted &= ~(1u << k);
				uring_answer(&r, v, slot, rec[k], k, cqe.res);
				continue;
			}
			s = &slot[cqe.user_data - URING_WRITE];
			if (cqe.res != (int)(s->n * sizeof(resp_t))) {
				errno = -cqe.res;
				v->failed = "io_uring write";
				break;
			}
			s->busy = false;
			vmm_answered(v, s->rec, s->n, s->taken, t);
		}
		if (v->failed)
			break;
		/* Keep a read posted on every queue while faults are to come */
		for (k = 0; k != nq && v->taken < VMM_FAULTS; k++) {
			if (posted & (1u << k))
				continue;
			uring_read(&r, v, rec, k);
			posted |= 1u << k;
		}
	}
	/* A read still posted would take a fault of the next round */
	for (k = 0; k != nq; k++) {
		unsigned int tail = *r.sq_tail, idx = tail & *r.sq_mask;
		struct io_uring_sqe *sqe = &r.sqes[idx];

		if (!(posted & (1u << k)))
			continue;
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_ASYNC_CANCEL;
		sqe->addr = URING_READ + k;
		sqe->user_data = URING_CANCEL;
		r.sq_array[idx] = idx;
		__atomic_store_n(r.sq_tail, tail + 1, __ATOMIC_RELEASE);
		r.to_submit++;
		left += 2;
	}
	while (left > 0 && !ring_enter(&r, 1))
		while (left > 0 && ring_cqe(&r, &cqe))
			left--;
	ring_free(&r);
	v->cpu = thread_cpu_ns() - cpu0;
out:
	if (v->failed)
		__atomic_store_n(&v->answered, VMM_FAULTS, __ATOMIC_RELEASE);
	return NULL;
}

/* One round of @v->cfg: returns ns per fault */
static uint64_t run_vmm_round(struct vmm *v, uint64_t *lat)
{
	struct vmm_cfg cfg = v->cfg;
	cpu_set_t all;
	pthread_t thread;
	uint64_t t0;
	unsigned int i;

	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	if (pthread_create(&thread, NULL,
			   cfg.uring ? vmm_uring_thread : vmm_poll_thread, v))
		die("start the consumer");
	if (pinned) {
		cpu_set_t set;

		if (pthread_getaffinity_np(pthread_self(), sizeof(all), &all))
			die("read the device's CPUs");
		CPU_ZERO(&set);
		CPU_SET(1, &set);
		if (pthread_setaffinity_np(thread, sizeof(set), &set))
			die("pin the consumer");
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			die("pin the device");
	}
	t0 = now_ns();
	for (i = 0; i != VMM_FAULTS; i++) {
		if ((int)(i - __atomic_load_n(&v->answered,
					      __ATOMIC_ACQUIRE)) >= VMM_WINDOW)
			v->stalls++;
		while ((int)(i - __atomic_load_n(&v->answered,
						 __ATOMIC_ACQUIRE)) >= VMM_WINDOW)
			sched_yield();
		if (v->failed)
			break;
		v->t_trigger[i] = now_ns();
		trigger_wake(cfg.dev[i % cfg.nq], i, cfg.fd[i % cfg.nq]);
		if (profiling)
			v->t_return[i] = now_ns();
	}
	while (__atomic_load_n(&v->answered, __ATOMIC_ACQUIRE) != VMM_FAULTS)
		sched_yield();
	t0 = now_ns() - t0;
	pthread_join(thread, NULL);
	/* The cases that follow run where the scheduler puts them */
	if (pinned && pthread_setaffinity_np(pthread_self(), sizeof(all), &all))
		die("unpin the device");
	if (v->failed) {
		errno = errno ?: EIO;
		die(v->failed);
	}
	memcpy(lat, v->lat, sizeof(v->lat));
	return t0 / VMM_FAULTS;
}

static void run_vmm(const char *name, const struct vmm_cfg *cfg)
{
	static uint64_t lat[ROUNDS * VMM_FAULTS];
	static struct vmm v;
	uint64_t per[ROUNDS], cpu[ROUNDS];
	unsigned int i, reads = 0, singles = 0, writes = 0, stalls = 0;
	char p[32];

	v.cfg = *cfg;
	for (i = 0; i != ROUNDS; i++) {
		per[i] = run_vmm_round(&v, lat + i * VMM_FAULTS);
		cpu[i] = v.cpu / VMM_FAULTS;
		reads += v.reads;
		singles += v.singles;
		writes += v.writes;
		stalls += v.stalls;
	}
	/* How the consumer kept up: what a read gave, how often it slept */
	printf("# %s%s: %.2f records per read (%u reads, %.1f %% of them gave "
	       "one record), %.2f per write (%.2f writes per fault); the device "
	       "waited on a full window before %.1f %% of its faults\n",
	       floor_mode ? "floor_" : "", name,
	       (double)ROUNDS * VMM_FAULTS / reads, reads,
	       100.0 * singles / reads, (double)ROUNDS * VMM_FAULTS / writes,
	       (double)writes / (ROUNDS * VMM_FAULTS),
	       100.0 * stalls / (ROUNDS * VMM_FAULTS));
	qsort(lat, ROUNDS * VMM_FAULTS, sizeof(lat[0]), cmp_u64);
	report(name, median(per, ROUNDS), "ns/fault");
	snprintf(p, sizeof(p), "%s_p50", name);
	report(p, lat[ROUNDS * VMM_FAULTS / 2] / 1000, "us");
	snprintf(p, sizeof(p), "%s_p99", name);
	report(p, lat[ROUNDS * VMM_FAULTS * 99 / 100] / 1000, "us");
	snprintf(p, sizeof(p), "%s_cpu", name);
	report(p, median(cpu, ROUNDS), "ns/fault");
}

static void vmm_na(const char *name, const char *why)
{
	char p[32];

	report_na(name, "ns/fault", why);
	snprintf(p, sizeof(p), "%s_p50", name);
	report_na(p, "us", why);
	snprintf(p, sizeof(p), "%s_p99", name);
	report_na(p, "us", why);
	snprintf(p, sizeof(p), "%s_cpu", name);
	report_na(p, "ns/fault", why);
}

/* A fault queue with IOMMU_FAULT_QUEUE_WAIT for @d, on a HWPT of its own */
static int wait_queue_fd(struct mock_iopf *d, __u32 *hwpt_id)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_fault_alloc fault = {
		.size = sizeof(fault),
		.flags = BENCH_QUEUE_WAIT,
	};
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };

	if (ioctl(d->iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fault))
		return -1;
	nested.dev_id = d->dev_id;
	nested.pt_id = d->parent_id;
	nested.flags = IOMMU_HWPT_FAULT_ID_VALID;
	nested.fault_id = fault.out_fault_id;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (__u64)(unsigned long)&data;
	if (ioctl(d->iommufd, IOMMU_HWPT_ALLOC, &nested))
		die("allocate a nested HWPT for the waiting queue");
	*hwpt_id = nested.out_hwpt_id;
	return fault.out_fault_fd;
}

/* The devices of queues16 and uring16, each with its flags-0 fault queue */
static struct mock_iopf q16[QUEUES];

static void q16_setup(void)
{
	static bool done;
	unsigned int k;

	for (k = 0; k != QUEUES && !done; k++) {
		if (mock_iopf_setup(&q16[k]))
			die(q16[k].failed);
		unlog(&q16[k]);
		if (fcntl(q16[k].fault_fd, F_SETFL, O_NONBLOCK))
			die("O_NONBLOCK");
	}
	done = true;
}

/* @nq devices (m, or those of q16) on waiting queues, served by io_uring */
static void run_uring(const char *name, unsigned int nq)
{
	struct vmm_cfg cfg = { .uring = true, .nq = nq };
	__u32 hwpt_id[QUEUES];
	unsigned int k;

	for (k = 0; k != nq; k++) {
		cfg.dev[k] = nq == 1 ? &m : &q16[k];
		cfg.fd[k] = wait_queue_fd(cfg.dev[k], &hwpt_id[k]);
		if (cfg.fd[k] < 0 && errno == EOPNOTSUPP && !k) {
			vmm_na(name, "IOMMU_FAULT_QUEUE_WAIT: EOPNOTSUPP");
			return;
		}
		if (cfg.fd[k] < 0)
			die("IOMMU_FAULT_QUEUE_ALLOC with IOMMU_FAULT_QUEUE_WAIT");
		if (mock_replace(cfg.dev[k], hwpt_id[k]))
			die("attach the device to the waiting queue's HWPT");
	}
	run_vmm(name, &cfg);
	for (k = 0; k != nq; k++) {
		if (mock_replace(cfg.dev[k], cfg.dev[k]->hwpt_id))
			die("attach the device back");
		close(cfg.fd[k]);
	}
}

/* The floor of vmm, uring, queues16 or uring16: @nq eventfds */
static void run_vmm_floor(const char *name, bool uring, unsigned int nq,
			  bool per_record)
{
	struct vmm_cfg cfg = {
		.uring = uring,
		.nq = nq,
		.per_record = per_record,
	};
	unsigned int k;

	for (k = 0; k != nq; k++) {
		cfg.dev[k] = &m;
		/* A blocking eventfd: io_uring arms poll as on a waiting queue */
		cfg.fd[k] = eventfd(0, uring ? 0 : EFD_NONBLOCK);
		if (cfg.fd[k] < 0)
			die("eventfd");
	}
	run_vmm(name, &cfg);
	for (k = 0; k != nq; k++)
		close(cfg.fd[k]);
}

/* /proc/meminfo Slab, in bytes, with the per-CPU counters folded first */
static long slab_bytes(void)
{
	char line[128];
	long kb = -1;
	FILE *f;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		sleep(2);	/* vmstat folds them every second */
	if (fd >= 0)
		close(fd);
	f = fopen("/proc/meminfo", "r");
	if (!f)
		die("open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die("Slab in /proc/meminfo");
	return kb * 1024;
}

#define SLAB_CACHES 256
struct slabs {
	unsigned int n;
	char name[SLAB_CACHES][32];
	long bytes[SLAB_CACHES];	/* active objects x object size */
};

static void slabinfo(struct slabs *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");

	s->n = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->n != SLAB_CACHES) {
		long active, total, size;

		if (sscanf(line, "%31s %ld %ld %ld", s->name[s->n], &active,
			   &total, &size) == 4)
			s->bytes[s->n++] = active * size;
	}
	fclose(f);
}

/* What grew, for the log: where the memory of each of @n things goes */
static void slab_diff(const char *when, struct slabs *a, struct slabs *b,
		      long n, const char *unit)
{
	unsigned int i, j;

	for (i = 0; i != b->n; i++)
		for (j = 0; j != a->n; j++)
			if (!strcmp(a->name[j], b->name[i]) &&
			    b->bytes[i] - a->bytes[j] >= 16 * n)
				printf("# %s: %s +%ld %s\n", when, b->name[i],
				       (b->bytes[i] - a->bytes[j]) / n, unit);
}

static void run_memory(void)
{
	static rec_t rec[BACKLOG];
	static struct slabs s0, s1, s2;
	long before, queued, read_all;
	unsigned int i;

	slabinfo(&s0);
	before = slab_bytes();
	for (i = 0; i != BACKLOG; i++)
		trigger(i);
	queued = slab_bytes();
	slabinfo(&s1);
	for (i = 0; i != BACKLOG; i += BATCH)
		read_records(rec + i, BATCH);
	read_all = slab_bytes();
	slabinfo(&s2);
	for (i = 0; i != BACKLOG; i++)
		respond(&rec[i], 1);
	slab_diff("queued", &s0, &s1, BACKLOG, "B/fault");
	slab_diff("read", &s0, &s2, BACKLOG, "B/fault");
	report("memory", (queued - before) / BACKLOG, "B/fault");
	report("memory_read", (read_all - before) / BACKLOG, "B/fault");
}

static struct iommu_fault_alloc mem_queue[MEM_QUEUES];

/* Kernel memory of an empty flags-0 fault queue: object, file and state */
static void run_memory_queue(void)
{
	struct iommu_fault_alloc *fault = mem_queue;
	static struct slabs s0, s1;
	long before, after;
	unsigned int i;

	/* Grow the fd table first: its growth is not the queues' */
	if (dup2(zero_fd, MEM_QUEUES + 64) < 0)
		die("dup2");
	close(MEM_QUEUES + 64);
	slabinfo(&s0);
	before = slab_bytes();
	for (i = 0; i != MEM_QUEUES; i++) {
		memset(&fault[i], 0, sizeof(fault[i]));
		fault[i].size = sizeof(fault[i]);
		if (ioctl(m.iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fault[i]))
			die("IOMMU_FAULT_QUEUE_ALLOC");
	}
	after = slab_bytes();
	slabinfo(&s1);
	slab_diff("queue", &s0, &s1, MEM_QUEUES, "B/queue");
	report("memory_queue", (after - before) / MEM_QUEUES, "B/queue");
}

/* The queues of memory_queue, kept until the memory of faults is measured */
static void free_memory_queues(void)
{
	struct iommu_fault_alloc *fault = mem_queue;
	unsigned int i;

	for (i = 0; i != MEM_QUEUES; i++) {
		struct iommu_destroy destroy = {
			.size = sizeof(destroy),
			.id = fault[i].out_fault_id,
		};

		/* The file first: 6.11+ refuses to destroy a queue in use */
		close(fault[i].out_fault_fd);
		if (ioctl(m.iommufd, IOMMU_DESTROY, &destroy))
			die("IOMMU_DESTROY of a fault queue");
	}
}

static void run_case_unit(const char *name, uint64_t (*fn)(void),
			  const char *unit)
{
	uint64_t r[ROUNDS];
	unsigned int i;

	for (i = 0; i != ROUNDS; i++)
		r[i] = fn();
	report(name, median(r, ROUNDS), unit);
}

#ifdef HAVE_MOCK_DMA
static struct mock_iopf dp;	/* the device of demand_paging */
static uint8_t *dp_mem, *dp_buf;
static long dp_page;

static void *pager_thread(void *arg)
{
	if (mock_pager_run(arg))
		die("the demand paging handler");
	return NULL;
}

/* One round: DEMAND_PAGES pages read @per pages an access; ns per page */
static uint64_t demand_round(unsigned int per)
{
	struct mock_pager p = {
		.m = &dp,
		.iova = DEMAND_IOVA,
		.length = DEMAND_PAGES * dp_page,
		.mem = dp_mem,
		.page_size = dp_page,
	};
	uint64_t t0, t1, len = per * dp_page;
	pthread_t thread;
	unsigned int i, j;

	p.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!floor_mode &&
	    (p.stop_fd < 0 || pthread_create(&thread, NULL, pager_thread, &p)))
		die("start the demand paging handler");
	t0 = now_ns();
	for (i = 0; i != DEMAND_PAGES; i += per) {
		uint64_t iova = DEMAND_IOVA + i * dp_page;

		/* The floor: the handler's maps, then an access that hits */
		for (j = 0; floor_mode && j != per; j++)
			if (mock_ioas_map(&dp, iova + j * dp_page,
					  dp_mem + (i + j) * dp_page, dp_page))
				die("IOMMU_IOAS_MAP");
		if (mock_dma(&dp, iova, len, dp_buf + i * dp_page, 0, NULL))
			die("IOMMU_TEST_OP_DMA");
	}
	t1 = now_ns();
	if (!floor_mode) {
		eventfd_write(p.stop_fd, 1);
		pthread_join(thread, NULL);
	}
	close(p.stop_fd);
	if (memcmp(dp_mem, dp_buf, DEMAND_PAGES * dp_page))
		die("demand paging read the wrong data");
	if (mock_ioas_unmap(&dp, DEMAND_IOVA, DEMAND_PAGES * dp_page))
		die("IOMMU_IOAS_UNMAP");
	return (t1 - t0) / DEMAND_PAGES;
}

static uint64_t run_demand1(void)
{
	return demand_round(1);
}

static uint64_t run_demand64(void)
{
	return demand_round(64);
}

static void run_demand(void)
{
	static bool ready;
	__u32 hwpt_id;
	size_t i;

	if (!ready) {
		dp_page = sysconf(_SC_PAGE_SIZE);
		dp_mem = mmap(NULL, DEMAND_PAGES * dp_page,
			      PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		dp_buf = malloc(DEMAND_PAGES * dp_page);
		if (dp_mem == MAP_FAILED || !dp_buf)
			die("demand paging memory");
		for (i = 0; i != DEMAND_PAGES * dp_page; i++)
			dp_mem[i] = i * 7 + (i >> 12);
		if (mock_iopf_setup(&dp))
			die(dp.failed);
		if (mock_paging_fault_hwpt(&dp, &hwpt_id))
			die("a paging HWPT with fault_id");
		unlog(&dp);
		ready = true;
	}
	/* Warm up: first-use allocations are not what is measured */
	demand_round(1);
	run_case_unit("demand_paging", run_demand1, "ns/page");
	run_case_unit("demand_paging64", run_demand64, "ns/page");
}
#else
static void run_demand(void)
{
	const char *why = "the peer refuses fault_id on a paging HWPT and has no IOMMU_TEST_OP_DMA";

	report_na("demand_paging", "ns/page", why);
	report_na("demand_paging64", "ns/page", why);
}
#endif

static void run_case(const char *name, uint64_t (*fn)(void))
{
	run_case_unit(name, fn, "ns/fault");
}

/*
 * IOPF_BENCH_TRACE=1 (on the kernel command line): where the time of a fault
 * goes, from the iommufd trace events of the series (the peer has none), on
 * the CLOCK_MONOTONIC clock the program uses. Events are matched to faults
 * by grpid (fault i has grpid i % 512, in order). Tracing adds its own cost
 * to every stage; compare the stages, not with the untraced figures.
 */
#define TRACING "/sys/kernel/tracing/"

static int tracefs_write(const char *file, const char *val)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), TRACING "%s", file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

enum { EV_QUEUED, EV_READ, EV_ANSWERED, EV_NR };
static uint64_t ev_t[EV_NR][VMM_FAULTS];

static int trace_start(void)
{
	if (access(TRACING "events/iommufd", F_OK))
		return -1;
	if (tracefs_write("tracing_on", "0") || tracefs_write("trace", "") ||
	    tracefs_write("trace_clock", "mono") ||
	    tracefs_write("buffer_size_kb", "8192") ||
	    tracefs_write("events/iommufd/enable", "1") ||
	    tracefs_write("tracing_on", "1"))
		return -1;
	return 0;
}

/* Stop tracing and fill ev_t for @n faults; false if events are missing */
static bool trace_stop(unsigned int n)
{
	static const char *const name[EV_NR] = {
		"iommufd_fault_queued:", "iommufd_fault_read:",
		"iommufd_fault_answered:",
	};
	static unsigned int seen[EV_NR][512];
	unsigned int count[EV_NR] = {}, e;
	char line[512];
	FILE *f;

	tracefs_write("tracing_on", "0");
	tracefs_write("events/iommufd/enable", "0");
	memset(seen, 0, sizeof(seen));
	f = fopen(TRACING "trace", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long sec, usec;
		unsigned int grpid, idx;
		char *p, *q;

		for (e = 0; e != EV_NR; e++)
			if ((p = strstr(line, name[e])))
				break;
		if (e == EV_NR || !(q = strstr(p, "grpid=")))
			continue;
		grpid = strtoul(q + 6, NULL, 10);
		/* "<secs>.<usecs>: <event>:": back over the space, then it */
		if (p > line)
			p--;
		while (p > line && p[-1] != ' ')
			p--;
		if (sscanf(p, "%lu.%lu:", &sec, &usec) != 2 || grpid >= 512)
			continue;
		idx = grpid + 512 * seen[e][grpid]++;
		if (idx < n) {
			ev_t[e][idx] = sec * 1000000000ULL + usec * 1000;
			count[e]++;
		}
	}
	fclose(f);
	tracefs_write("trace", "");
	printf("# profile: %u queued, %u read, %u answered events of %u\n",
	       count[EV_QUEUED], count[EV_READ], count[EV_ANSWERED], n);
	return count[EV_QUEUED] == n && count[EV_READ] == n &&
	       count[EV_ANSWERED] == n;
}

/* p50 and p99 of @b - @a over @n faults, in us with one decimal */
static void stage(const char *what, const uint64_t *a, const uint64_t *b,
		  unsigned int n)
{
	static uint64_t d[VMM_FAULTS];
	unsigned int i;

	for (i = 0; i != n; i++)
		d[i] = b[i] > a[i] ? b[i] - a[i] : 0;
	qsort(d, n, sizeof(d[0]), cmp_u64);
	printf("# profile:   %-34s p50 %7.1f us  p99 %7.1f us\n", what,
	       d[n / 2] / 1000.0, d[n * 99 / 100] / 1000.0);
}

static void profile(void)
{
	static uint64_t t[4][ROUNDTRIPS];
	static struct vmm v;
	static uint64_t lat[VMM_FAULTS];
	rec_t rec;
	unsigned int i;

	if (trace_start()) {
		printf("# profile: no iommufd trace events here\n");
		return;
	}
	/* roundtrip, traced: every call of one fault in a row */
	for (i = 0; i != ROUNDTRIPS; i++) {
		t[0][i] = now_ns();
		trigger(i);
		t[1][i] = now_ns();
		read_records(&rec, 1);
		t[2][i] = now_ns();
		respond(&rec, 1);
		t[3][i] = now_ns();
	}
	if (trace_stop(ROUNDTRIPS)) {
		printf("# profile: roundtrip, one fault at a time\n");
		stage("trigger called -> queued", t[0], ev_t[EV_QUEUED], ROUNDTRIPS);
		stage("queued -> trigger returned", ev_t[EV_QUEUED], t[1], ROUNDTRIPS);
		stage("read called -> taken", t[1], ev_t[EV_READ], ROUNDTRIPS);
		stage("taken -> read returned", ev_t[EV_READ], t[2], ROUNDTRIPS);
		stage("write called -> answered", t[2], ev_t[EV_ANSWERED], ROUNDTRIPS);
		stage("answered -> write returned", ev_t[EV_ANSWERED], t[3], ROUNDTRIPS);
	}

	if (trace_start())
		return;
	if (fcntl(m.fault_fd, F_SETFL, O_NONBLOCK))
		die("O_NONBLOCK");
	v.cfg.nq = 1;
	v.cfg.fd[0] = m.fault_fd;
	v.cfg.dev[0] = &m;
	run_vmm_round(&v, lat);
	if (fcntl(m.fault_fd, F_SETFL, 0))
		die("clear O_NONBLOCK");
	if (trace_stop(VMM_FAULTS)) {
		for (i = 0; i != VMM_FAULTS; i++)
			lat[i] += v.t_trigger[i];
		printf("# profile: vmm (poll, read up to %d, one write)\n",
		       VMM_READ);
		stage("trigger called -> queued", v.t_trigger, ev_t[EV_QUEUED], VMM_FAULTS);
		stage("queued -> trigger returned", ev_t[EV_QUEUED], v.t_return, VMM_FAULTS);
		stage("queued -> taken by a read", ev_t[EV_QUEUED], ev_t[EV_READ], VMM_FAULTS);
		stage("taken -> answered", ev_t[EV_READ], ev_t[EV_ANSWERED], VMM_FAULTS);
		stage("answered -> its write returned", ev_t[EV_ANSWERED], lat, VMM_FAULTS);
	}
}

/*
 * write_log: the write row once more with the series' response log on, in
 * the same boot, to show what the log would add (the peer has none)
 */
static void run_write_log(void)
{
#ifdef HAVE_MOCK_IOPF_LOG
	uint64_t trig, rd, wr;

	if (floor_mode || getenv("IOPF_BENCH_LOG"))
		return;
	if (mock_iopf_log(&m, MOCK_IOPF_LOG_ON))
		die("turn on the response log");
	run_phases(&trig, &rd, &wr);
	report("write_log", wr, "ns/call");
	unlog(&m);
#else
	if (!floor_mode)
		report_na("write_log", "ns/call", "the peer's mock keeps no log");
#endif
}

/* Every time case, on the fault queue or as its floor */
static void run_all(void)
{
	struct vmm_cfg cfg = { .nq = 1 };
	uint64_t p50, p99, trig, rd, wr;
	unsigned int k;

	/* Warm up: first-use allocations are not what is measured */
	run_roundtrip();

	run_case("roundtrip", run_roundtrip);
	run_phases(&trig, &rd, &wr);
	report("trigger", trig, "ns/call");
	report("read", rd, "ns/call");
	report("write", wr, "ns/call");
	run_write_log();
	run_case("batch64", run_batch);
	run_case("backlog4k", run_backlog);
	run_wakeup(&p50, &p99);
	report("wakeup_p50", p50 / 1000, "us");
	report("wakeup_p99", p99 / 1000, "us");
	run_demand();

	if (floor_mode) {
		run_vmm_floor("vmm", false, 1, false);
		run_vmm_floor("vmm_qemu", false, 1, true);
		run_vmm_floor("uring", true, 1, false);
		run_vmm_floor("queues16", false, QUEUES, false);
		run_vmm_floor("queues16_qemu", false, QUEUES, true);
		run_vmm_floor("uring16", true, QUEUES, false);
		return;
	}
	if (fcntl(m.fault_fd, F_SETFL, O_NONBLOCK))
		die("O_NONBLOCK");
	cfg.fd[0] = m.fault_fd;
	cfg.dev[0] = &m;
	run_vmm("vmm", &cfg);
	cfg.per_record = true;
	run_vmm("vmm_qemu", &cfg);
	cfg.per_record = false;
	if (fcntl(m.fault_fd, F_SETFL, 0))
		die("clear O_NONBLOCK");
	run_uring("uring", 1);
	q16_setup();
	cfg.nq = QUEUES;
	for (k = 0; k != QUEUES; k++) {
		cfg.fd[k] = q16[k].fault_fd;
		cfg.dev[k] = &q16[k];
	}
	run_vmm("queues16", &cfg);
	cfg.per_record = true;
	run_vmm("queues16_qemu", &cfg);
	cfg.per_record = false;
	run_uring("uring16", QUEUES);
}

int main(void)
{
	printf("TAP version 13\n");
	if (mock_iopf_setup(&m))
		die(m.failed);
#ifdef HAVE_MOCK_IOPF_LOG
	printf("# the response log of the mock devices: %s\n",
	       getenv("IOPF_BENCH_LOG") ? "on" : "off");
#else
	printf("# the mock devices keep no response log\n");
#endif
	unlog(&m);
	zero_fd = open("/dev/zero", O_RDONLY);
	null_fd = open("/dev/null", O_WRONLY);
	if (zero_fd < 0 || null_fd < 0)
		die("open /dev/zero and /dev/null");

	/*
	 * First: slabs freed by other cases would take these queues and
	 * faults. The queues stay until the faults are measured, so that
	 * neither finds objects the other freed.
	 */
	pinned = getenv("IOPF_BENCH_PIN");
	run_memory_queue();
	run_memory();
	free_memory_queues();
	run_all();
	floor_mode = true;
	run_all();
	floor_mode = false;
	if (getenv("IOPF_BENCH_TRACE")) {
		profiling = true;
		profile();
	}
	printf("1..%d\n", step);
	return 0;
}
