// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fault queue as a program sees it, on any kernel that has one: every
 * case runs the same calls and prints one line of what it observed,
 *
 *     compat: <case>: <result>
 *
 * the return value or errno name, byte counts and what the records said,
 * poll/epoll event masks. Nothing here expects a result: the same program
 * runs on the series (flags-0 queues) and on the unrewound 6.11+ queue (the
 * peer), and scripts/compat.sh compares the two outputs against the list of
 * documented differences (compat/differences). Results that legitimately
 * differ from run to run, as cookie values, are printed as properties
 * ("cookie nonzero"), except in cookie_values, which shows them.
 *
 * A result that starts with "unavailable:" means the kernel lacks what the
 * case needs (CONFIG_AIO, io_uring); compat.sh counts it as skipped.
 *
 * Built with COMPAT_MOCK_LOG (by scripts/compat.sh build, when the tree's
 * mock device logs the page responses it receives: the series), it also
 * prints what the mock device received, after the cases that answer
 * groups:
 *
 *     compat-device: <case>: <responses>
 *
 * The peer's mock device keeps no such log; these lines are not compared.
 *
 * Every fault comes from the iommufd selftest's mock device
 * (IOMMU_TEST_OP_TRIGGER_IOPF), a single-fault group, attached to a nested
 * HWPT that reports to a flags-0 fault queue (demo/mock_iopf.h): each case
 * builds its own, so that no case sees another's groups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include <linux/aio_abi.h>
#include <linux/io_uring.h>

#include "mock_iopf.h"

/* RWF_* as linux/fs.h has them; older C libraries lack some */
#ifndef RWF_HIPRI
#define RWF_HIPRI 0x01
#endif
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x02
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x04
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x08
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x20
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x40
#endif

/* IOMMU_FAULT_QUEUE_WAIT of the series; the peer's header has no such flag */
#define COMPAT_QUEUE_WAIT (1u << 0)

#define REC sizeof(struct iommu_hwpt_pgfault)		/* 40 */
#define RESP sizeof(struct iommu_hwpt_page_response)	/* 8 */
#define BAD_ID 0xdead					/* names no object */
#define WAIT_MS 5000	/* for a completion that should come */
#define POSTED_MS 1000	/* for one that should not */

typedef struct iommu_hwpt_pgfault rec_t;
typedef struct iommu_hwpt_page_response resp_t;

static int ncases, nunavailable;

/* ---- output ---- */

/* Rotating buffers, so that several results can be formatted in one line */
static char *fmt(const char *f, ...)
{
	static char bufs[32][512];
	static unsigned int next;
	char *b = bufs[next++ % 32];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static const char *en(int e)
{
	const char *name = strerrorname_np(e);

	return name ? name : fmt("E%d", e);
}

static void result(const char *name, const char *f, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, f);
	vsnprintf(line, sizeof(line), f, ap);
	va_end(ap);
	printf("compat: %s: %s\n", name, line);
	fflush(stdout);
	ncases++;
	if (!strncmp(line, "unavailable:", 12))
		nunavailable++;
}

/* A syscall's return: the number, or the errno name */
static const char *ret(long r)
{
	return r < 0 ? en(errno) : fmt("%ld", r);
}

/* The same for an in-kernel result, -errno or a count */
static const char *kret(long r)
{
	return r < 0 ? en(-r) : fmt("%ld", r);
}

static const char *mask(unsigned int m)
{
	static const struct { unsigned int bit; const char *name; } bits[] = {
		{ EPOLLIN, "IN" }, { EPOLLPRI, "PRI" }, { EPOLLOUT, "OUT" },
		{ EPOLLERR, "ERR" }, { EPOLLHUP, "HUP" },
		{ EPOLLRDNORM, "RDNORM" }, { EPOLLRDBAND, "RDBAND" },
		{ EPOLLWRNORM, "WRNORM" }, { EPOLLWRBAND, "WRBAND" },
		{ EPOLLRDHUP, "RDHUP" },
	};
	char *b = fmt("%s", "");
	size_t i;

	for (i = 0; i != sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(m & bits[i].bit))
			continue;
		if (*b)
			strcat(b, "|");
		strcat(b, bits[i].name);
		m &= ~bits[i].bit;
	}
	if (m)
		sprintf(b + strlen(b), "%s0x%x", *b ? "|" : "", m);
	return *b ? b : "none";
}

/* ---- one mock device and its fault queue per case ---- */

struct env {
	struct mock_iopf m;
	int fd;		/* the fault queue's file, -1 once closed */
};

static __u64 addr_of(__u32 grpid)
{
	return 0x100000 + (__u64)grpid * 0x1000;
}

static bool up(struct env *e, const char *name, bool nonblock)
{
	memset(e, 0, sizeof(*e));
	if (mock_iopf_setup(&e->m)) {
		result(name, "setup failed: %s: %s", e->m.failed, en(errno));
		if (e->m.fault_fd >= 0)
			close(e->m.fault_fd);
		if (e->m.iommufd >= 0)
			close(e->m.iommufd);
		return false;
	}
	e->fd = e->m.fault_fd;
	if (nonblock)
		fcntl(e->fd, F_SETFL, fcntl(e->fd, F_GETFL) | O_NONBLOCK);
	return true;
}

static void down(struct env *e)
{
	if (e->fd >= 0)
		close(e->fd);
	close(e->m.iommufd);
}

/* The device raises group @grpid: one fault, read+write, at addr_of() */
static int trig(struct env *e, __u32 grpid)
{
	return mock_trigger(&e->m, grpid, addr_of(grpid));
}

/* Trigger groups 1..@n; on failure, the case's result says so */
static bool trign(struct env *e, const char *name, int n)
{
	int i;

	for (i = 1; i <= n; i++) {
		if (trig(e, i)) {
			result(name, "trigger failed: %s", en(errno));
			return false;
		}
	}
	return true;
}

/* The records of a successful read, fields as properties */
static const char *recs(struct env *e, const rec_t *r, long n)
{
	char *b;
	long i;

	if (n < 0)
		return en(errno);
	b = fmt("%ld", n);
	if (n % REC)
		return b;
	for (i = 0; i != n / (long)REC; i++)
		sprintf(b + strlen(b),
			" [grpid %u, perm 0x%x, flags 0x%x, pasid %u, %s, %s, cookie %s]",
			r[i].grpid, r[i].perm, r[i].flags, r[i].pasid,
			r[i].dev_id == e->m.dev_id ? "dev_id ok" :
				fmt("dev_id %u", r[i].dev_id),
			r[i].addr == addr_of(r[i].grpid) ? "addr ok" :
				fmt("addr 0x%llx", (unsigned long long)r[i].addr),
			r[i].cookie ? "nonzero" : "zero");
	return b;
}

/* Read one record; its cookie, or 0 */
static __u32 read1(struct env *e)
{
	rec_t r;

	if (read(e->fd, &r, REC) != (ssize_t)REC)
		return 0;
	return r.cookie;
}

static long respond(struct env *e, __u32 cookie, __u32 code)
{
	resp_t p = { .cookie = cookie, .code = code };

	return write(e->fd, &p, RESP);
}

static unsigned int poll_mask(int fd)
{
	struct pollfd p = {
		.fd = fd,
		.events = POLLIN | POLLPRI | POLLOUT | POLLRDNORM |
			  POLLWRNORM | POLLRDBAND | POLLWRBAND | POLLRDHUP,
	};

	if (poll(&p, 1, 0) < 0)
		return ~0u;
	return p.revents;
}

/* Whether a group waits to be read */
static const char *queued(struct env *e)
{
	return poll_mask(e->fd) & POLLIN ? "group still queued" :
					   "nothing queued";
}

#ifdef COMPAT_MOCK_LOG
/* What the mock device received since the last call, in order */
static void device(const char *name, struct env *e)
{
	struct iommu_test_iopf_response log[16];
	struct iommu_test_cmd cmd = {
		.iopf_responses = {
			.dev_id = e->m.dev_id,
			.count = 16,
			.uptr = (__u64)(unsigned long)log,
		},
	};
	static const char *const codes[] = { "SUCCESS", "INVALID", "FAILURE" };
	char line[512] = "";
	__u32 i;

	if (mock_test_cmd(e->m.iommufd, &cmd, IOMMU_TEST_OP_IOPF_RESPONSES)) {
		printf("compat-device: %s: %s\n", name, en(errno));
		return;
	}
	for (i = 0; i != cmd.iopf_responses.count; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%sgrpid %u %s", i ? ", " : "", log[i].grpid,
			 log[i].code < 3 ? codes[log[i].code] : "?");
	printf("compat-device: %s: %s\n", name, *line ? line : "nothing");
	fflush(stdout);
}
#else
static void device(const char *name, struct env *e)
{
	(void)name;
	(void)e;
}
#endif

/* ---- io_uring on the raw syscalls: one request at a time ---- */

struct ring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p = {};
	char *sq, *cq;

	memset(r, 0, sizeof(*r));
	r->fd = syscall(__NR_io_uring_setup, 8, &p);
	if (r->fd < 0)
		return -1;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sq == MAP_FAILED || r->cq == MAP_FAILED ||
	    r->sqes == MAP_FAILED) {
		close(r->fd);
		return -1;
	}
	sq = r->sq;
	cq = r->cq;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static void ring_exit(struct ring *r)
{
	munmap(r->sqes, r->sqes_len);
	munmap(r->cq, r->cq_len);
	munmap(r->sq, r->sq_len);
	close(r->fd);
}

/* Submit one request; @addr is a buffer, or an iovec array for READV/WRITEV */
static int ring_submit(struct ring *r, __u8 op, int fd, void *addr,
		       __u32 len, __u64 off, __u32 rw_flags, __u64 data)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->addr = (__u64)(unsigned long)addr;
	sqe->len = len;
	sqe->off = off;
	sqe->rw_flags = rw_flags;
	sqe->user_data = data;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	return syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0) == 1 ?
		0 : -1;
}

/* Wait up to @ms for a completion: 1 and its result, or 0 */
static int ring_wait(struct ring *r, int ms, __s32 *res, __u64 *data)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = 8,
		.ts = (__u64)(unsigned long)&ts,
	};
	unsigned int head;

	syscall(__NR_io_uring_enter, r->fd, 0, 1,
		IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
		sizeof(arg));
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return 0;
	*res = r->cqes[head & *r->cq_mask].res;
	if (data)
		*data = r->cqes[head & *r->cq_mask].user_data;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return 1;
}

/* Cancel request @data (user_data) and reap both completions */
static void ring_cancel(struct ring *r, __u64 data)
{
	__s32 res;
	int i;

	ring_submit(r, IORING_OP_ASYNC_CANCEL, -1, (void *)(unsigned long)data,
		    0, 0, 0, 0);
	for (i = 0; i != 2; i++)
		ring_wait(r, WAIT_MS, &res, NULL);
}

/*
 * One io_uring request on @e's file: its result, or "posted" if it did not
 * complete in time (and it is cancelled). With @then_trigger, a request that
 * stays posted for POSTED_MS is followed by a fault, group 9, and the result
 * is what the request then completed with (or "still posted"). Without it,
 * the request has WAIT_MS: io_uring may take its time on a file without
 * FMODE_NOWAIT (polls and retries, then an io-wq worker).
 */
static const char *uring(struct env *e, __u8 op, void *addr, __u32 len,
			 __u64 off, __u32 rw_flags, bool then_trigger)
{
	struct ring r;
	const char *s;
	__s32 res;

	if (ring_init(&r))
		return fmt("unavailable: io_uring_setup %s", en(errno));
	if (ring_submit(&r, op, e->fd, addr, len, off, rw_flags, 1)) {
		s = fmt("io_uring_enter %s", en(errno));
		goto out;
	}
	if (ring_wait(&r, then_trigger ? POSTED_MS : WAIT_MS, &res, NULL)) {
		s = res < 0 ? en(-res) : fmt("%d", res);
		goto out;
	}
	if (!then_trigger) {
		ring_cancel(&r, 1);
		s = "posted";
		goto out;
	}
	if (trig(e, 9)) {
		s = fmt("posted; trigger failed: %s", en(errno));
		ring_cancel(&r, 1);
		goto out;
	}
	if (!ring_wait(&r, WAIT_MS, &res, NULL)) {
		ring_cancel(&r, 1);
		s = "posted; still posted after a fault";
		goto out;
	}
	s = fmt("posted; after a fault: %s", res < 0 ? en(-res) :
		recs(e, addr, res));
out:
	ring_exit(&r);
	return s;
}

/* ---- Linux AIO on the raw syscalls ---- */

/* One AIO request: "submit: ERR", or what it completed with */
static const char *aio(int fd, __u16 op, void *buf, __u64 len, __s64 off,
		       __u32 rw_flags, long *res)
{
	aio_context_t ctx = 0;
	struct iocb cb = {
		.aio_fildes = fd,
		.aio_lio_opcode = op,
		.aio_buf = (__u64)(unsigned long)buf,
		.aio_nbytes = len,
		.aio_offset = off,
		.aio_rw_flags = rw_flags,
	};
	struct iocb *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { .tv_sec = WAIT_MS / 1000 };
	const char *s;
	long n;

	*res = -1;
	if (syscall(__NR_io_setup, 1, &ctx))
		return fmt("unavailable: io_setup %s", en(errno));
	if (syscall(__NR_io_submit, ctx, 1, cbs) != 1) {
		s = fmt("submit: %s", en(errno));
		goto out;
	}
	n = syscall(__NR_io_getevents, ctx, 1, 1, &ev, &ts);
	if (n != 1) {
		s = n < 0 ? fmt("io_getevents %s", en(errno)) :
			    "no completion";
		goto out;
	}
	*res = ev.res;
	s = kret(ev.res);
out:
	syscall(__NR_io_destroy, ctx);
	return s;
}

/* ---- the cases ---- */

static void case_alloc(void)
{
	struct iommu_fault_alloc a = { .size = sizeof(a) };
	int iommufd = open("/dev/iommu", O_RDWR);
	long r;
	int fl;

	r = ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	result("alloc_flags0", "%s", r ? en(errno) :
	       fmt("ok, id %s, fd %s", a.out_fault_id ? "nonzero" : "zero",
		   a.out_fault_fd >= 0 ? "valid" : "invalid"));
	if (!r) {
		fl = fcntl(a.out_fault_fd, F_GETFL);
		result("queue_fd_flags", "%s%s%s",
		       (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" :
		       (fl & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "O_WRONLY",
		       fl & O_NONBLOCK ? "|O_NONBLOCK" : "",
		       fcntl(a.out_fault_fd, F_GETFD) & FD_CLOEXEC ?
		       ", FD_CLOEXEC" : "");
		close(a.out_fault_fd);
	}

	a = (struct iommu_fault_alloc){ .size = sizeof(a),
					.flags = COMPAT_QUEUE_WAIT };
	r = ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	result("alloc_wait", "%s", r ? en(errno) : "ok");
	if (!r)
		close(a.out_fault_fd);

	a = (struct iommu_fault_alloc){ .size = sizeof(a), .flags = 1u << 1 };
	r = ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	result("alloc_flag_bit1", "%s", r ? en(errno) : "ok");
	if (!r)
		close(a.out_fault_fd);

	a = (struct iommu_fault_alloc){ .size = sizeof(a), .flags = ~0u };
	r = ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	result("alloc_flags_all", "%s", r ? en(errno) : "ok");
	if (!r)
		close(a.out_fault_fd);

	a = (struct iommu_fault_alloc){ .size = 8 };
	r = ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a);
	result("alloc_size_short", "%s", r ? en(errno) : "ok");
	if (!r)
		close(a.out_fault_fd);
	close(iommufd);
}

/*
 * read() of every size class, on an empty queue and on one with groups
 * queued, on a blocking and an O_NONBLOCK file
 */
static void case_read_sizes(bool nonblock)
{
	static const struct { const char *name; size_t len; int groups; } c[] = {
		{ "read_empty_0", 0, 0 },
		{ "read_empty_20", 20, 0 },
		{ "read_empty_one", REC, 0 },
		{ "read_empty_nonmultiple_43", 43, 0 },
		{ "read_queued_0", 0, 1 },
		{ "read_queued_20", 20, 1 },
		{ "read_queued_one", REC, 1 },
		{ "read_queued_nonmultiple_43", 43, 1 },
		{ "read_queued_nonmultiple_60", 60, 2 },
		{ "read_queued_two_of_two", 2 * REC, 2 },
		{ "read_queued_two_of_three", 2 * REC, 3 },
		{ "read_queued_three_room_two", 3 * REC, 2 },
	};
	const char *mode = nonblock ? "nonblock" : "block";
	rec_t buf[4];
	struct env e;
	size_t i;
	long r;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		const char *name = fmt("%s_%s", c[i].name, mode);

		if (!up(&e, name, nonblock))
			continue;
		if (trign(&e, name, c[i].groups)) {
			memset(buf, 0, sizeof(buf));
			r = read(e.fd, buf, c[i].len);
			result(name, "%s; %s", recs(&e, buf, r), queued(&e));
		}
		down(&e);
	}
}

/* readv(): records split across iovecs, and vectors whose parts differ */
static void case_readv(void)
{
	static const struct {
		const char *name;
		int n;
		size_t len[3];
		int groups;
	} c[] = {
		{ "readv_empty_one", 1, { REC }, 0 },
		{ "readv_queued_0", 1, { 0 }, 1 },
		{ "readv_queued_one", 1, { REC }, 1 },
		{ "readv_queued_split_20_20", 2, { 20, 20 }, 1 },
		{ "readv_empty_split_20_20", 2, { 20, 20 }, 0 },
		{ "readv_queued_40_40", 2, { REC, REC }, 2 },
		{ "readv_queued_40_0_40", 3, { REC, 0, REC }, 2 },
		{ "readv_queued_40_20", 2, { REC, 20 }, 2 },
		{ "readv_queued_40_20_one_group", 2, { REC, 20 }, 1 },
		{ "readv_queued_20_60", 2, { 20, 60 }, 2 },
		{ "readv_queued_80_40_room_three", 2, { 2 * REC, REC }, 2 },
	};
	char buf[4 * REC];
	struct iovec iov[3];
	struct env e;
	size_t i;
	int n, k;
	long r;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		char *p = buf;

		if (!up(&e, c[i].name, false))
			continue;
		n = c[i].n;
		for (k = 0; k != n; k++) {
			iov[k].iov_base = p;
			iov[k].iov_len = c[i].len[k];
			p += c[i].len[k];
		}
		if (trign(&e, c[i].name, c[i].groups)) {
			memset(buf, 0, sizeof(buf));
			r = readv(e.fd, iov, n);
			/* The records are contiguous in buf */
			k = r > 0 ? r : 0;
			result(c[i].name, "%s; %s", r < 0 ? en(errno) :
			       recs(&e, (rec_t *)buf, k), queued(&e));
		}
		down(&e);
	}
}

/* pread(), preadv2() with offsets and RWF_* flags, lseek() */
static void case_pread(void)
{
	static const struct {
		const char *name;
		off_t off;
		int flags;
		int groups;
		bool nonblock;
		bool pread;
	} c[] = {
		{ "pread_off0_queued", 0, 0, 1, false, true },
		{ "pread_off40_queued", REC, 0, 1, false, true },
		{ "preadv2_off0_queued", 0, 0, 1, false, false },
		{ "preadv2_offm1_queued", -1, 0, 1, false, false },
		{ "preadv2_offm1_empty", -1, 0, 0, false, false },
		{ "preadv2_nowait_empty_block", -1, RWF_NOWAIT, 0, false, false },
		{ "preadv2_nowait_empty_nonblock", -1, RWF_NOWAIT, 0, true, false },
		{ "preadv2_nowait_queued_block", -1, RWF_NOWAIT, 1, false, false },
		{ "preadv2_nowait_queued_nonblock", -1, RWF_NOWAIT, 1, true, false },
		{ "preadv2_hipri_queued", -1, RWF_HIPRI, 1, false, false },
		{ "preadv2_dsync_queued", -1, RWF_DSYNC, 1, false, false },
		{ "preadv2_append_queued", -1, RWF_APPEND, 1, false, false },
	};
	rec_t buf[2];
	struct iovec iov = { buf, REC };
	struct env e;
	size_t i;
	long r;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		if (!up(&e, c[i].name, c[i].nonblock))
			continue;
		if (trign(&e, c[i].name, c[i].groups)) {
			memset(buf, 0, sizeof(buf));
			r = c[i].pread ? pread(e.fd, buf, REC, c[i].off) :
				preadv2(e.fd, &iov, 1, c[i].off, c[i].flags);
			result(c[i].name, "%s; %s", recs(&e, buf, r),
			       queued(&e));
		}
		down(&e);
	}

	if (!up(&e, "lseek", false))
		return;
	result("lseek_set_0", "%s", ret(lseek(e.fd, 0, SEEK_SET)));
	result("lseek_cur_0", "%s", ret(lseek(e.fd, 0, SEEK_CUR)));
	down(&e);
}

/* A group read with its cookie: the state every write case starts from */
static bool read_group(struct env *e, const char *name, bool nonblock,
		       __u32 *cookie)
{
	if (!up(e, name, nonblock))
		return false;
	if (!trign(e, name, 1))
		goto fail;
	*cookie = read1(e);
	if (!*cookie) {
		result(name, "setup read failed: %s", en(errno));
		goto fail;
	}
	return true;
fail:
	down(e);
	return false;
}

/* write() of every size class and every bad response */
static void case_write(bool nonblock)
{
	const char *mode = nonblock ? "nonblock" : "block";
	resp_t p[3];
	const char *name;
	struct env e;
	__u32 c;

	name = fmt("write_0_%s", mode);
	if (read_group(&e, name, nonblock, &c)) {
		result(name, "%s", ret(write(e.fd, p, 0)));
		device(name, &e);
		down(&e);
	}

	name = fmt("write_one_%s", mode);
	if (read_group(&e, name, nonblock, &c)) {
		result(name, "%s", ret(respond(&e, c, IOMMUFD_PAGE_RESP_SUCCESS)));
		device(name, &e);
		down(&e);
	}

	name = fmt("write_one_invalid_%s", mode);
	if (read_group(&e, name, nonblock, &c)) {
		result(name, "%s", ret(respond(&e, c, IOMMUFD_PAGE_RESP_INVALID)));
		device(name, &e);
		down(&e);
	}

	name = fmt("write_nonmultiple_4_%s", mode);
	if (read_group(&e, name, nonblock, &c)) {
		p[0] = (resp_t){ .cookie = c };
		result(name, "%s", ret(write(e.fd, p, 4)));
		device(name, &e);
		down(&e);
	}

	name = fmt("write_nonmultiple_12_%s", mode);
	if (read_group(&e, name, nonblock, &c)) {
		p[0] = (resp_t){ .cookie = c };
		result(name, "%s", ret(write(e.fd, p, 12)));
		device(name, &e);
		down(&e);
	}
}

static void case_bad_responses(void)
{
	struct env e;
	resp_t p[3];
	__u32 c, c2;
	long r, r2;

	if (read_group(&e, "write_cookie_zero", false, &c)) {
		result("write_cookie_zero", "%s", ret(respond(&e, 0, 0)));
		device("write_cookie_zero", &e);
		down(&e);
	}

	/* Far from any cookie either kernel would have handed out */
	if (read_group(&e, "write_unknown_cookie", false, &c)) {
		result("write_unknown_cookie", "%s",
		       ret(respond(&e, c + 100000, 0)));
		device("write_unknown_cookie", &e);
		down(&e);
	}

	/*
	 * Group 2 is queued, not read: the cookie after the one read is the
	 * one it would get next, on either kernel
	 */
	if (read_group(&e, "write_unread_cookie", false, &c)) {
		if (trig(&e, 2))
			result("write_unread_cookie", "trigger failed: %s",
			       en(errno));
		else
			result("write_unread_cookie", "%s; %s",
			       ret(respond(&e, c + 1, 0)), queued(&e));
		device("write_unread_cookie", &e);
		down(&e);
	}

	if (read_group(&e, "write_repeated_cookie", false, &c)) {
		r = respond(&e, c, 0);
		r2 = respond(&e, c, 0);
		result("write_repeated_cookie", "%s, then %s",
		       r < 0 ? en(errno) : fmt("%ld", r),
		       r2 < 0 ? en(errno) : fmt("%ld", r2));
		device("write_repeated_cookie", &e);
		down(&e);
	}

	if (read_group(&e, "write_repeated_in_one_write", false, &c)) {
		p[0] = p[1] = (resp_t){ .cookie = c };
		result("write_repeated_in_one_write", "%s",
		       ret(write(e.fd, p, 2 * RESP)));
		device("write_repeated_in_one_write", &e);
		down(&e);
	}

	if (read_group(&e, "write_bad_code_2", false, &c)) {
		result("write_bad_code_2", "%s; then a good one: %s",
		       ret(respond(&e, c, 2)), ret(respond(&e, c, 0)));
		device("write_bad_code_2", &e);
		down(&e);
	}

	if (read_group(&e, "write_bad_code_max", false, &c)) {
		result("write_bad_code_max", "%s",
		       ret(respond(&e, c, 0xffffffff)));
		device("write_bad_code_max", &e);
		down(&e);
	}

	/* A good response, then a bad one in the same write */
	if (read_group(&e, "write_good_then_unknown", false, &c)) {
		p[0] = (resp_t){ .cookie = c };
		p[1] = (resp_t){ .cookie = c + 100000 };
		result("write_good_then_unknown", "%s",
		       ret(write(e.fd, p, 2 * RESP)));
		device("write_good_then_unknown", &e);
		down(&e);
	}

	if (read_group(&e, "write_good_then_bad_code", false, &c)) {
		if (trig(&e, 2) || !(c2 = read1(&e))) {
			result("write_good_then_bad_code", "setup failed: %s",
			       en(errno));
		} else {
			p[0] = (resp_t){ .cookie = c };
			p[1] = (resp_t){ .cookie = c2, .code = 7 };
			result("write_good_then_bad_code", "%s",
			       ret(write(e.fd, p, 2 * RESP)));
		}
		device("write_good_then_bad_code", &e);
		down(&e);
	}

	if (read_group(&e, "write_two_good", false, &c)) {
		if (trig(&e, 2) || !(c2 = read1(&e))) {
			result("write_two_good", "setup failed: %s", en(errno));
		} else {
			p[0] = (resp_t){ .cookie = c2 };
			p[1] = (resp_t){ .cookie = c, .code = 1 };
			result("write_two_good", "%s (newest first)",
			       ret(write(e.fd, p, 2 * RESP)));
		}
		device("write_two_good", &e);
		down(&e);
	}

	/* A late response: the kernel answered the group at the detach */
	if (read_group(&e, "write_after_detach", false, &c)) {
		r = mock_replace(&e.m, e.m.ioas_id);
		result("write_after_detach", "detach %s; write %s",
		       r ? en(errno) : "0", ret(respond(&e, c, 0)));
		device("write_after_detach", &e);
		down(&e);
	}
}

/* writev(), pwrite(), pwritev2() with offsets and RWF_* flags */
static void case_writev(void)
{
	static const struct {
		const char *name;
		int flags;
		off_t off;
		bool pwrite;
		bool nonblock;
	} c[] = {
		{ "pwrite_off0", 0, 0, true, false },
		{ "pwritev2_off0", 0, 0, false, false },
		{ "pwritev2_offm1", 0, -1, false, false },
		{ "pwritev2_nowait_block", RWF_NOWAIT, -1, false, false },
		{ "pwritev2_nowait_nonblock", RWF_NOWAIT, -1, false, true },
		{ "pwritev2_hipri", RWF_HIPRI, -1, false, false },
		{ "pwritev2_dsync", RWF_DSYNC, -1, false, false },
		{ "pwritev2_sync", RWF_SYNC, -1, false, false },
		{ "pwritev2_append", RWF_APPEND, -1, false, false },
		{ "pwritev2_noappend", RWF_NOAPPEND, -1, false, false },
		{ "pwritev2_append_noappend", RWF_APPEND | RWF_NOAPPEND, -1,
		  false, false },
		{ "pwritev2_atomic", RWF_ATOMIC, -1, false, false },
	};
	resp_t p[2];
	struct iovec iov[2];
	struct env e;
	size_t i;
	__u32 ck;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		if (!read_group(&e, c[i].name, c[i].nonblock, &ck))
			continue;
		p[0] = (resp_t){ .cookie = ck };
		iov[0] = (struct iovec){ p, RESP };
		result(c[i].name, "%s", ret(c[i].pwrite ?
			pwrite(e.fd, p, RESP, c[i].off) :
			pwritev2(e.fd, iov, 1, c[i].off, c[i].flags)));
		device(c[i].name, &e);
		down(&e);
	}

	/* A response split across iovecs */
	if (read_group(&e, "writev_split_4_4", false, &ck)) {
		p[0] = (resp_t){ .cookie = ck };
		iov[0] = (struct iovec){ p, 4 };
		iov[1] = (struct iovec){ (char *)p + 4, 4 };
		result("writev_split_4_4", "%s", ret(writev(e.fd, iov, 2)));
		device("writev_split_4_4", &e);
		down(&e);
	}

	/* A whole response, then half of one */
	if (read_group(&e, "writev_8_4", false, &ck)) {
		p[0] = (resp_t){ .cookie = ck };
		p[1] = (resp_t){ .cookie = ck + 1 };
		iov[0] = (struct iovec){ p, RESP };
		iov[1] = (struct iovec){ p + 1, 4 };
		result("writev_8_4", "%s", ret(writev(e.fd, iov, 2)));
		device("writev_8_4", &e);
		down(&e);
	}

	if (read_group(&e, "writev_8_8", false, &ck)) {
		__u32 c2;

		if (trig(&e, 2) || !(c2 = read1(&e))) {
			result("writev_8_8", "setup failed: %s", en(errno));
		} else {
			p[0] = (resp_t){ .cookie = ck };
			p[1] = (resp_t){ .cookie = c2 };
			iov[0] = (struct iovec){ p, RESP };
			iov[1] = (struct iovec){ p + 1, RESP };
			result("writev_8_8", "%s", ret(writev(e.fd, iov, 2)));
		}
		device("writev_8_8", &e);
		down(&e);
	}
}

/* Linux AIO reads and writes */
static void case_aio(void)
{
	static const struct {
		const char *name;
		__u16 op;
		size_t len;
		__s64 off;
		__u32 flags;
		int groups;
		bool nonblock;
	} c[] = {
		{ "aio_pread_empty_block", IOCB_CMD_PREAD, REC, 0, 0, 0, false },
		{ "aio_pread_empty_nonblock", IOCB_CMD_PREAD, REC, 0, 0, 0, true },
		{ "aio_pread_queued", IOCB_CMD_PREAD, REC, 0, 0, 1, false },
		{ "aio_pread_queued_0", IOCB_CMD_PREAD, 0, 0, 0, 1, false },
		{ "aio_pread_queued_nonmultiple_43", IOCB_CMD_PREAD, 43, 0, 0, 1,
		  false },
		{ "aio_pread_queued_off40", IOCB_CMD_PREAD, REC, REC, 0, 1, false },
		{ "aio_pread_nowait_empty_block", IOCB_CMD_PREAD, REC, 0,
		  RWF_NOWAIT, 0, false },
		{ "aio_pread_nowait_queued", IOCB_CMD_PREAD, REC, 0, RWF_NOWAIT, 1,
		  false },
	};
	rec_t buf[2];
	resp_t p;
	struct iovec iov;
	struct env e;
	const char *s;
	size_t i;
	long res;
	__u32 ck;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		if (!up(&e, c[i].name, c[i].nonblock))
			continue;
		if (trign(&e, c[i].name, c[i].groups)) {
			memset(buf, 0, sizeof(buf));
			s = aio(e.fd, c[i].op, buf, c[i].len, c[i].off,
				c[i].flags, &res);
			if (res > 0)
				s = recs(&e, buf, res);
			result(c[i].name, "%s; %s", s, queued(&e));
		}
		down(&e);
	}

	if (up(&e, "aio_preadv_queued", false)) {
		if (trign(&e, "aio_preadv_queued", 1)) {
			memset(buf, 0, sizeof(buf));
			iov = (struct iovec){ buf, REC };
			s = aio(e.fd, IOCB_CMD_PREADV, &iov, 1, 0, 0, &res);
			if (res > 0)
				s = recs(&e, buf, res);
			result("aio_preadv_queued", "%s", s);
		}
		down(&e);
	}

	if (read_group(&e, "aio_pwrite", false, &ck)) {
		p = (resp_t){ .cookie = ck };
		result("aio_pwrite", "%s",
		       aio(e.fd, IOCB_CMD_PWRITE, &p, RESP, 0, 0, &res));
		device("aio_pwrite", &e);
		down(&e);
	}
	if (read_group(&e, "aio_pwrite_nowait", false, &ck)) {
		p = (resp_t){ .cookie = ck };
		result("aio_pwrite_nowait", "%s",
		       aio(e.fd, IOCB_CMD_PWRITE, &p, RESP, 0, RWF_NOWAIT,
			   &res));
		device("aio_pwrite_nowait", &e);
		down(&e);
	}
	if (read_group(&e, "aio_pwrite_unknown", false, &ck)) {
		p = (resp_t){ .cookie = ck + 100000 };
		result("aio_pwrite_unknown", "%s",
		       aio(e.fd, IOCB_CMD_PWRITE, &p, RESP, 0, 0, &res));
		down(&e);
	}
}

/* io_uring reads and writes */
static void case_uring(void)
{
	static const struct {
		const char *name;
		__u8 op;
		size_t len[2];	/* for READV: the iovecs */
		__u64 off;
		__u32 flags;
		int groups;
		bool nonblock;
		bool trigger;	/* a group arrives if it stays posted */
	} c[] = {
		{ "uring_read_empty_block", IORING_OP_READ, { REC }, -1, 0, 0,
		  false, true },
		{ "uring_read_empty_nonblock", IORING_OP_READ, { REC }, -1, 0, 0,
		  true, true },
		{ "uring_read_empty_0_block", IORING_OP_READ, { 0 }, -1, 0, 0,
		  false, true },
		{ "uring_read_queued_block", IORING_OP_READ, { REC }, -1, 0, 1,
		  false, false },
		{ "uring_read_queued_nonblock", IORING_OP_READ, { REC }, -1, 0, 1,
		  true, false },
		{ "uring_read_queued_0_block", IORING_OP_READ, { 0 }, -1, 0, 1,
		  false, false },
		{ "uring_read_queued_0_nonblock", IORING_OP_READ, { 0 }, -1, 0, 1,
		  true, false },
		{ "uring_read_queued_nonmultiple_43", IORING_OP_READ, { 43 }, -1,
		  0, 1, false, false },
		{ "uring_read_queued_two", IORING_OP_READ, { 2 * REC }, -1, 0, 2,
		  false, false },
		{ "uring_read_queued_off0", IORING_OP_READ, { REC }, 0, 0, 1,
		  false, false },
		{ "uring_read_queued_off40", IORING_OP_READ, { REC }, REC, 0, 1,
		  false, false },
		{ "uring_read_nowait_empty_block", IORING_OP_READ, { REC }, -1,
		  RWF_NOWAIT, 0, false, false },
		{ "uring_read_nowait_empty_nonblock", IORING_OP_READ, { REC }, -1,
		  RWF_NOWAIT, 0, true, false },
		{ "uring_read_nowait_queued", IORING_OP_READ, { REC }, -1,
		  RWF_NOWAIT, 1, false, false },
		{ "uring_readv_queued_split_20_20", IORING_OP_READV, { 20, 20 },
		  -1, 0, 1, false, false },
		{ "uring_readv_queued_40_20", IORING_OP_READV, { REC, 20 }, -1, 0,
		  2, false, false },
	};
	rec_t buf[3];
	struct iovec iov[2];
	struct env e;
	const char *s;
	size_t i;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		if (!up(&e, c[i].name, c[i].nonblock))
			continue;
		if (!trign(&e, c[i].name, c[i].groups)) {
			down(&e);
			continue;
		}
		memset(buf, 0, sizeof(buf));
		if (c[i].op == IORING_OP_READV) {
			iov[0] = (struct iovec){ buf, c[i].len[0] };
			iov[1] = (struct iovec){ (char *)buf + c[i].len[0],
						 c[i].len[1] };
			s = uring(&e, c[i].op, iov, 2, c[i].off, c[i].flags,
				  c[i].trigger);
		} else {
			s = uring(&e, c[i].op, buf, c[i].len[0], c[i].off,
				  c[i].flags, c[i].trigger);
		}
		/* A plain count: show the records */
		if (s[0] >= '1' && s[0] <= '9' && !strchr(s, ' '))
			s = recs(&e, buf, atol(s));
		result(c[i].name, "%s; %s", s, queued(&e));
		down(&e);
	}
}

static void case_uring_write(void)
{
	static const struct {
		const char *name;
		__u8 op;
		size_t len[2];
		__u64 off;
		__u32 flags;
		bool nonblock;
	} c[] = {
		{ "uring_write_block", IORING_OP_WRITE, { RESP }, -1, 0, false },
		{ "uring_write_nonblock", IORING_OP_WRITE, { RESP }, -1, 0, true },
		{ "uring_write_0", IORING_OP_WRITE, { 0 }, -1, 0, false },
		{ "uring_write_nonmultiple_4", IORING_OP_WRITE, { 4 }, -1, 0,
		  false },
		{ "uring_write_off0", IORING_OP_WRITE, { RESP }, 0, 0, false },
		{ "uring_write_off8", IORING_OP_WRITE, { RESP }, RESP, 0, false },
		{ "uring_write_nowait", IORING_OP_WRITE, { RESP }, -1, RWF_NOWAIT,
		  false },
		{ "uring_writev_split_4_4", IORING_OP_WRITEV, { 4, 4 }, -1, 0,
		  false },
	};
	resp_t p[2];
	struct iovec iov[2];
	struct env e;
	size_t i;
	__u32 ck;

	for (i = 0; i != sizeof(c) / sizeof(c[0]); i++) {
		if (!read_group(&e, c[i].name, c[i].nonblock, &ck))
			continue;
		p[0] = (resp_t){ .cookie = ck };
		if (c[i].op == IORING_OP_WRITEV) {
			iov[0] = (struct iovec){ p, c[i].len[0] };
			iov[1] = (struct iovec){ (char *)p + c[i].len[0],
						 c[i].len[1] };
			result(c[i].name, "%s", uring(&e, c[i].op, iov, 2,
			       c[i].off, c[i].flags, false));
		} else {
			result(c[i].name, "%s", uring(&e, c[i].op, p,
			       c[i].len[0], c[i].off, c[i].flags, false));
		}
		device(c[i].name, &e);
		down(&e);
	}

	if (read_group(&e, "uring_write_unknown", false, &ck)) {
		p[0] = (resp_t){ .cookie = ck + 100000 };
		result("uring_write_unknown", "%s",
		       uring(&e, IORING_OP_WRITE, p, RESP, -1, 0, false));
		down(&e);
	}
}

/* poll() and level/edge-triggered epoll */
static const char *ep_wait(int ep)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n < 0)
		return en(errno);
	return n ? mask(ev.events) : "none";
}

static void case_poll(void)
{
	struct epoll_event ev;
	struct env e;
	rec_t buf[2];
	int ep;

	if (up(&e, "poll", false)) {
		result("poll_empty", "%s", mask(poll_mask(e.fd)));
		trig(&e, 1);
		result("poll_queued", "%s", mask(poll_mask(e.fd)));
		read1(&e);
		result("poll_read_unanswered", "%s", mask(poll_mask(e.fd)));
		down(&e);
	}

	if (up(&e, "epoll_lt", true)) {
		ep = epoll_create1(0);
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT |
					   EPOLLRDNORM | EPOLLWRNORM };
		epoll_ctl(ep, EPOLL_CTL_ADD, e.fd, &ev);
		result("epoll_lt_empty", "%s", ep_wait(ep));
		trig(&e, 1);
		result("epoll_lt_queued", "%s", ep_wait(ep));
		result("epoll_lt_queued_again", "%s", ep_wait(ep));
		read1(&e);
		result("epoll_lt_after_read", "%s", ep_wait(ep));
		close(ep);
		down(&e);
	}

	if (up(&e, "epoll_et", true)) {
		ep = epoll_create1(0);
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT |
					   EPOLLRDNORM | EPOLLWRNORM | EPOLLET };
		epoll_ctl(ep, EPOLL_CTL_ADD, e.fd, &ev);
		result("epoll_et_register", "%s", ep_wait(ep));
		result("epoll_et_again", "%s", ep_wait(ep));
		trig(&e, 1);
		result("epoll_et_fault", "%s", ep_wait(ep));
		result("epoll_et_fault_again", "%s", ep_wait(ep));
		trig(&e, 2);
		result("epoll_et_second_fault_unread", "%s", ep_wait(ep));
		read(e.fd, buf, 2 * REC);
		result("epoll_et_after_read", "%s", ep_wait(ep));
		respond(&e, buf[0].cookie, 0);
		result("epoll_et_after_write", "%s", ep_wait(ep));
		close(ep);
		down(&e);
	}

	if (up(&e, "epoll_et_in", true)) {
		ep = epoll_create1(0);
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET };
		epoll_ctl(ep, EPOLL_CTL_ADD, e.fd, &ev);
		result("epoll_et_in_register", "%s", ep_wait(ep));
		trig(&e, 1);
		result("epoll_et_in_fault", "%s", ep_wait(ep));
		trig(&e, 2);
		result("epoll_et_in_second_fault_unread", "%s", ep_wait(ep));
		close(ep);
		down(&e);
	}

	if (up(&e, "epoll_et_out", true)) {
		ep = epoll_create1(0);
		ev = (struct epoll_event){ .events = EPOLLOUT | EPOLLET };
		epoll_ctl(ep, EPOLL_CTL_ADD, e.fd, &ev);
		result("epoll_et_out_register", "%s", ep_wait(ep));
		result("epoll_et_out_again", "%s", ep_wait(ep));
		trig(&e, 1);
		result("epoll_et_out_fault", "%s", ep_wait(ep));
		close(ep);
		down(&e);
	}
}

/* Records, cookies and fdinfo */
static void case_records(void)
{
	struct iommu_test_cmd cmd;
	char path[64], line[128], keys[512] = "";
	struct env e;
	rec_t buf[2];
	__u32 a, b;
	FILE *f;
	long r;

	if (up(&e, "record_pasid", false)) {
		cmd = (struct iommu_test_cmd){
			.trigger_iopf = {
				.dev_id = e.m.dev_id,
				.pasid = 5,
				.grpid = 1,
				.perm = IOMMU_PGFAULT_PERM_READ,
				.addr = addr_of(1),
			},
		};
		if (mock_test_cmd(e.m.iommufd, &cmd,
				  IOMMU_TEST_OP_TRIGGER_IOPF)) {
			result("record_pasid", "trigger failed: %s", en(errno));
		} else {
			memset(buf, 0, sizeof(buf));
			r = read(e.fd, buf, REC);
			result("record_pasid", "%s", recs(&e, buf, r));
		}
		down(&e);
	}

	if (up(&e, "cookies_two_groups", false)) {
		if (trign(&e, "cookies_two_groups", 2)) {
			r = read(e.fd, buf, 2 * REC);
			result("cookies_two_groups", "%s, %s",
			       ret(r), r == 2 * REC && buf[0].cookie &&
			       buf[1].cookie && buf[0].cookie != buf[1].cookie ?
			       "cookies nonzero and distinct" : "cookies not distinct");
		}
		down(&e);
	}

	/* The one case that shows cookie values */
	if (up(&e, "cookie_values", false)) {
		trig(&e, 1);
		a = read1(&e);
		respond(&e, a, 0);
		trig(&e, 2);
		b = read1(&e);
		result("cookie_values", "first group %u; answered, the next one %u",
		       a, b);
		down(&e);
	}

	if (up(&e, "fdinfo", false)) {
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", e.fd);
		f = fopen(path, "r");
		if (!f) {
			result("fdinfo_keys", "%s", en(errno));
		} else {
			while (fgets(line, sizeof(line), f)) {
				char *colon = strchr(line, ':');

				if (!colon)
					continue;
				*colon = 0;
				snprintf(keys + strlen(keys),
					 sizeof(keys) - strlen(keys), "%s%s",
					 *keys ? " " : "", line);
			}
			fclose(f);
			result("fdinfo_keys", "%s", keys);
		}
		down(&e);
	}

	if (up(&e, "other_calls", false)) {
		int n;
		void *p;

		result("ioctl_fionread", "%s", ret(ioctl(e.fd, FIONREAD, &n)));
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, e.fd, 0);
		result("mmap", "%s", p == MAP_FAILED ? en(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		down(&e);
	}
}

/* Detach, close and destroy */
static void case_lifetime(void)
{
	struct iommu_destroy d = { .size = sizeof(d) };
	struct iommu_fault_alloc a = { .size = sizeof(a) };
	struct env e;
	rec_t buf[1];
	__u32 c;
	long r;

	if (up(&e, "detach_unread", false)) {
		trig(&e, 1);
		r = mock_replace(&e.m, e.m.ioas_id);
		result("detach_unread", "detach %s; read %s", r ? en(errno) : "0",
		       ret(read(e.fd, buf, REC)));
		device("detach_unread", &e);
		down(&e);
	}

	/* Group 1 read and unanswered, group 2 unread */
	if (read_group(&e, "close_pending", false, &c)) {
		trig(&e, 2);
		result("close_pending", "%s", ret(close(e.fd)));
		e.fd = -1;
		device("close_pending", &e);
		result("close_pending_then_fault", "trigger %s",
		       trig(&e, 3) ? en(errno) : "0");
		device("close_pending_then_fault", &e);
		d.id = e.m.fault_id;
		result("close_pending_destroy_queue", "%s",
		       ret(ioctl(e.m.iommufd, IOMMU_DESTROY, &d)));
		r = mock_replace(&e.m, e.m.ioas_id);
		result("close_pending_then_detach", "%s", r ? en(errno) : "0");
		device("close_pending_then_detach", &e);
		down(&e);
	}

	/* A queue that a HWPT reports to */
	if (up(&e, "destroy_queue_hwpt", false)) {
		d.id = e.m.fault_id;
		result("destroy_queue_of_hwpt", "%s",
		       ret(ioctl(e.m.iommufd, IOMMU_DESTROY, &d)));
		down(&e);
	}

	/* A queue no HWPT reports to, its file open */
	e.m.iommufd = open("/dev/iommu", O_RDWR);
	if (ioctl(e.m.iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a)) {
		result("destroy_queue_open", "alloc failed: %s", en(errno));
	} else {
		d.id = a.out_fault_id;
		result("destroy_queue_open", "%s",
		       ret(ioctl(e.m.iommufd, IOMMU_DESTROY, &d)));
		result("destroy_queue_open_read", "%s",
		       ret(read(a.out_fault_fd, buf, REC)));
		result("destroy_queue_open_write", "%s",
		       ret(write(a.out_fault_fd,
				 &(resp_t){ .cookie = 1 }, RESP)));
		result("destroy_queue_open_poll", "%s",
		       mask(poll_mask(a.out_fault_fd)));
		result("destroy_queue_open_again", "%s",
		       ret(ioctl(e.m.iommufd, IOMMU_DESTROY, &d)));
		result("destroy_queue_open_close", "%s",
		       ret(close(a.out_fault_fd)));
	}
	close(e.m.iommufd);

	/* Its file closed first */
	e.m.iommufd = open("/dev/iommu", O_RDWR);
	a = (struct iommu_fault_alloc){ .size = sizeof(a) };
	if (ioctl(e.m.iommufd, IOMMU_FAULT_QUEUE_ALLOC, &a)) {
		result("destroy_queue_closed", "alloc failed: %s", en(errno));
	} else {
		close(a.out_fault_fd);
		d.id = a.out_fault_id;
		result("destroy_queue_closed", "%s",
		       ret(ioctl(e.m.iommufd, IOMMU_DESTROY, &d)));
	}
	close(e.m.iommufd);
}

/*
 * IOMMU_HWPT_ALLOC with bad arguments: each alone and every pair, so the
 * order of the checks shows. The base is a nested HWPT that reports to a
 * fault queue (which succeeds); "nest_parent" and "paging" turn it into a
 * paging HWPT of the IOAS, as a nesting parent or not, with the fault queue.
 */
enum { B_RES, B_RES2, B_DATA, B_DEV, B_PT, B_NEST, B_FAULT, B_PAGING, B_N };
static const char *const bad_name[B_N] = {
	"reserved", "reserved2", "data_len", "dev_id", "pt_id",
	"nest_parent", "fault_id", "paging",
};

static struct iommu_hwpt_selftest hwpt_data = {
	.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
};

static struct iommu_hwpt_alloc hwpt_base(struct env *e)
{
	return (struct iommu_hwpt_alloc){
		.size = sizeof(struct iommu_hwpt_alloc),
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = e->m.dev_id,
		.pt_id = e->m.parent_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(hwpt_data),
		.data_uptr = (__u64)(unsigned long)&hwpt_data,
		.fault_id = e->m.fault_id,
	};
}

static const char *hwpt_try(struct env *e, struct iommu_hwpt_alloc *h)
{
	struct iommu_destroy d = { .size = sizeof(d) };

	if (ioctl(e->m.iommufd, IOMMU_HWPT_ALLOC, h))
		return en(errno);
	d.id = h->out_hwpt_id;
	ioctl(e->m.iommufd, IOMMU_DESTROY, &d);
	return "ok";
}

static void hwpt_bad(struct env *e, struct iommu_hwpt_alloc *h, int bad)
{
	switch (bad) {
	case B_RES: h->__reserved = 1; break;
	case B_RES2: h->__reserved2 = 1; break;
	case B_DATA:
		/* a type without data, or data without a type */
		if (h->data_type == IOMMU_HWPT_DATA_NONE)
			h->data_len = sizeof(hwpt_data);
		else
			h->data_len = 0;
		break;
	case B_DEV: h->dev_id = BAD_ID; break;
	case B_PT: h->pt_id = BAD_ID; break;
	case B_FAULT: h->fault_id = BAD_ID; break;
	case B_NEST:
	case B_PAGING:
		h->pt_id = e->m.ioas_id;
		h->data_type = IOMMU_HWPT_DATA_NONE;
		h->data_len = 0;
		h->data_uptr = 0;
		if (bad == B_NEST)
			h->flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
		break;
	}
}

/* Apply the structural ones (nest_parent, paging) first */
static int hwpt_rank(int bad)
{
	return bad == B_NEST || bad == B_PAGING ? 0 : 1;
}

static void case_hwpt(void)
{
	struct iommu_hwpt_alloc h;
	struct env e;
	int i, j, x, y;

	if (!up(&e, "hwpt", false))
		return;

	h = hwpt_base(&e);
	result("hwpt_nested_fault", "%s", hwpt_try(&e, &h));

	/* Plain HWPTs without a fault queue, as any VMM allocates */
	h = hwpt_base(&e);
	h.flags = 0;
	h.fault_id = 0;
	result("hwpt_nested_plain_reserved2", "%s",
	       (h.__reserved2 = 1, hwpt_try(&e, &h)));
	h = (struct iommu_hwpt_alloc){ .size = sizeof(h),
				       .dev_id = e.m.dev_id,
				       .pt_id = e.m.ioas_id };
	result("hwpt_paging_plain", "%s", hwpt_try(&e, &h));
	h.__reserved2 = 0xffffffff;
	result("hwpt_paging_plain_reserved2", "%s", hwpt_try(&e, &h));
	h.__reserved2 = 0;
	h.fault_id = 123;
	result("hwpt_paging_plain_fault_id_without_flag", "%s",
	       hwpt_try(&e, &h));

	h = hwpt_base(&e);
	h.data_type = 0xbad;
	result("hwpt_data_type_unknown", "%s", hwpt_try(&e, &h));
	h = hwpt_base(&e);
	h.fault_id = e.m.ioas_id;
	result("hwpt_fault_id_names_ioas", "%s", hwpt_try(&e, &h));
	h = hwpt_base(&e);
	h.pt_id = e.m.dev_id;
	result("hwpt_pt_id_names_device", "%s", hwpt_try(&e, &h));
	h = hwpt_base(&e);
	h.flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
	result("hwpt_nested_nest_parent_flag", "%s", hwpt_try(&e, &h));
	h = hwpt_base(&e);
	h.flags |= 1u << 30;
	result("hwpt_unknown_flag", "%s", hwpt_try(&e, &h));

	for (i = 0; i != B_N; i++) {
		h = hwpt_base(&e);
		hwpt_bad(&e, &h, i);
		result(fmt("hwpt_bad_%s", bad_name[i]), "%s", hwpt_try(&e, &h));
	}
	for (i = 0; i != B_N; i++) {
		for (j = i + 1; j != B_N; j++) {
			if ((i == B_NEST && j == B_PAGING))
				continue;
			x = hwpt_rank(i) <= hwpt_rank(j) ? i : j;
			y = x == i ? j : i;
			h = hwpt_base(&e);
			hwpt_bad(&e, &h, x);
			hwpt_bad(&e, &h, y);
			result(fmt("hwpt_bad_%s_and_%s", bad_name[i],
				   bad_name[j]), "%s", hwpt_try(&e, &h));
		}
	}
	down(&e);
}

int main(void)
{
	case_alloc();
	case_read_sizes(false);
	case_read_sizes(true);
	case_readv();
	case_pread();
	case_write(false);
	case_write(true);
	case_bad_responses();
	case_writev();
	case_aio();
	case_uring();
	case_uring_write();
	case_poll();
	case_records();
	case_lifetime();
	case_hwpt();

	printf("# compat: %d cases, %d unavailable on this kernel\n", ncases,
	       nunavailable);
	printf("1..1\nok 1 - compat: %d cases observed\n", ncases);
	return 0;
}
