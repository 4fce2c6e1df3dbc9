// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress the iommufd fault queue, with exact accounting.
 *
 * Mock devices fault from some threads while others read the faults and
 * answer them (in order, out of order, late, twice, with a bad code, or
 * never), move the devices between fault capable HWPTs and HWPTs without a
 * fault queue, and destroy and create devices, HWPTs and fault queues again.
 * Every group of faults must be answered exactly once: by user space, by the
 * kernel when the device leaves the HWPT or when the file of its queue is
 * closed (at once, and at once for any fault arriving later), or by the IOMMU
 * core when no fault capable HWPT took it.
 *
 * Queues are allocated with IOMMU_FAULT_QUEUE_WAIT, their files O_NONBLOCK
 * (read() of an empty one fails with EAGAIN), or now and then with flags 0,
 * whose read() of an empty queue returns 0, blocking file or not.
 *
 * The test keeps a model of what the kernel must do. Every trigger gets a
 * group index of its own, so that each response in the log of the mock IOMMU
 * (IOMMU_TEST_OP_IOPF_RESPONSES, drained as the test goes, never allowed to
 * overflow) is matched to its group and to the code user space wrote for it.
 * The totals of the mock IOMMU, of each device and the fdinfo of each fault
 * queue must add up exactly, so one missing or one extra response fails.
 *
 * The environment can change the defaults: IOMMUFD_STRESS_SEED (1),
 * IOMMUFD_STRESS_MS (how long the concurrent case runs, 10000) and
 * IOMMUFD_STRESS_STEPS (steps of the single threaded case, 20000). The seed
 * fixes every choice of the single threaded case; the concurrent one also
 * depends on how the threads interleave.
 */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>

#include "iommufd_utils.h"

#define NR_DEVS 4
#define NR_PARENTS 2
#define NR_QUEUES 3
#define QUEUE_HWPTS 2
#define MAX_TRIGGERS (1024 * 1024)
#define MAX_HELD 256
#define MAX_DUPS 16
#define MAX_BATCH 40
#define MAX_INCS 4096
#define MAX_ID 65536
#define MAX_REPORTS 20
#define LOG_SIZE MOCK_IOPF_LOG_SIZE
#define REC_SIZE sizeof(struct iommu_hwpt_pgfault)
#define RESP_SIZE sizeof(struct iommu_hwpt_page_response)
#define RESP_SUCCESS IOMMUFD_PAGE_RESP_SUCCESS
#define RESP_INVALID IOMMUFD_PAGE_RESP_INVALID

#define DEFAULT_SEED 1
#define DEFAULT_MS 10000
#define DEFAULT_STEPS 20000

/*
 * The fault capable HWPTs of each queue: nested on parent 0 or 1, or a
 * paging HWPT on the IOAS (-1).
 */
static const int queue_layout[NR_QUEUES][QUEUE_HWPTS] = {
	{ 0, -1 },
	{ 1, -1 },
	{ 0, 1 },
};

struct queue;

/* A HWPT, or the IOAS standing for its automatic domain */
struct hwpt {
	uint32_t id;
	bool fault;
	bool nested;
	struct queue *queue;
};

/* One life of a mock device, from IOMMU_TEST_OP_MOCK_DOMAIN to destroy */
struct dev_inc {
	uint32_t stdev_id;
	uint32_t idev_id;
	/*
	 * Attachment generations: @started is bumped before the device leaves
	 * its HWPT (replace, destroy), @done once it has left. A group carries
	 * the generation it was queued in.
	 */
	unsigned long started;
	unsigned long done;
	/* What the response log of the device must add up to */
	uint64_t groups;
	uint64_t core_faults;
	uint64_t queued;
	uint64_t user_success;
	uint64_t user_invalid;
};

struct dev {
	pthread_mutex_t lock;
	struct dev_inc *inc;
	struct hwpt *hwpt;
};

struct queue {
	/* Read: the fd is used; write: it is closed or its fdinfo is read */
	pthread_rwlock_t lock;
	unsigned int index;
	unsigned int gen;
	uint32_t fault_id;
	int fd;
	/* IOMMU_FAULT_QUEUE_WAIT: EAGAIN when empty, else 0 */
	bool wait;
	bool dying;
	struct hwpt hwpts[QUEUE_HWPTS];
	/* Groups of this incarnation: queued, read and answered by user */
	uint64_t queued;
	uint64_t reads;
	uint64_t answered;
	/* Cookies user space already answered: resent, they must be refused */
	uint32_t dups[MAX_DUPS];
	unsigned int nr_dups;
};

enum { T_ISSUED, T_QUEUED, T_CORE };
#define NO_CODE 0xff

/* A trigger, found by its group index (index + 1) */
struct trig {
	struct dev_inc *inc;
	struct queue *queue;
	uint64_t addr;
	unsigned long gen;
	uint32_t dev_id;
	uint32_t pasid;
	uint32_t perm;
	unsigned int qgen;
	uint8_t count;
	uint8_t state;
	uint8_t nread;
	uint8_t user_code;
	uint8_t nresp;
	uint8_t nsuccess;
	uint8_t ninvalid;
};

/* A group read but not answered yet, for the writer thread */
struct held {
	uint32_t trig;
	uint32_t cookie;
	struct queue *queue;
	unsigned int qgen;
};

enum { A_GOOD, A_DUP, A_BAD_CODE };

struct answer {
	uint32_t trig;
	uint32_t cookie;
	uint32_t code;
	int kind;
};

struct stress {
	int fd;
	bool threaded;
	uint64_t seed;
	uint32_t ioas_id;
	struct hwpt ioas;
	struct hwpt parents[NR_PARENTS];
	struct hwpt plain;
	struct hwpt plain_nested;
	struct queue queues[NR_QUEUES];
	struct dev devs[NR_DEVS];
	/* Write: the set of fault capable HWPTs changes */
	pthread_rwlock_t topo;
	/* Read: a response is written and accounted; write: a device audit */
	pthread_rwlock_t answer;
	/* The model: the fields below, trig[], the counters of dev_inc, queue */
	pthread_mutex_t acct;
	struct trig *trig;
	unsigned int nr_trig;
	/* Log entries that may exist, and those taken off the log */
	int64_t reserved;
	int64_t drained;
	struct mock_iopf_totals start;
	uint64_t groups;
	uint64_t core_faults;
	uint64_t queued;
	uint64_t user_success;
	uint64_t user_invalid;
	struct held held[MAX_HELD];
	unsigned int nr_held;
	struct dev_inc *incs[MAX_INCS];
	unsigned int nr_incs;
	unsigned long ids[MAX_ID / 64];
	/* Statistics */
	uint64_t reads;
	uint64_t refused_late;
	uint64_t refused_bad;
	uint64_t abandoned;
	uint64_t discarded;
	uint64_t replaces;
	uint64_t queue_recycles;
	uint64_t dev_recycles;
	uint64_t audits;
	uint64_t drains;
	/* Failures */
	pthread_mutex_t fail_lock;
	char why[512];
	unsigned int failed;
	int stop;
};

static __printf(3, 4) void fail_at(struct stress *s, int line,
				   const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&s->fail_lock);
	if (!s->failed)
		snprintf(s->why, sizeof(s->why), "line %d: %s", line, msg);
	if (s->failed++ < MAX_REPORTS)
		ksft_print_msg("seed=%llu: FAIL line %d: %s\n",
			       (unsigned long long)s->seed, line, msg);
	pthread_mutex_unlock(&s->fail_lock);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
}

#define fail(s, ...) fail_at(s, __LINE__, __VA_ARGS__)

/* Fail unless @ret is -1 with @err in errno, or 0 when @err is 0 */
static __printf(5, 6) void check_errno_at(struct stress *s, int line, int err,
					  int ret, const char *fmt, ...)
{
	const char *want = err ? strerror(err) : "success";
	char what[200];
	int got = errno;
	va_list ap;

	if (err ? ret == -1 && got == err : !ret)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ret == -1)
		fail_at(s, line, "%s: %s, expected %s", what, strerror(got),
			want);
	else
		fail_at(s, line, "%s: returned %d, expected %s", what, ret,
			want);
}

#define expect_errno(s, err, ret, ...) \
	check_errno_at(s, __LINE__, err, ret, __VA_ARGS__)
#define expect_ok(s, ret, ...) check_errno_at(s, __LINE__, 0, ret, __VA_ARGS__)

static bool stopped(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int below(uint64_t *rs, unsigned int n)
{
	return rnd(rs) % n;
}

static bool chance(uint64_t *rs, unsigned int percent)
{
	return below(rs, 100) < percent;
}

/* A non zero xorshift state for stream @n of @seed (splitmix64) */
static uint64_t rnd_init(uint64_t seed, unsigned int n)
{
	uint64_t z = seed + (n + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *val = getenv(name);

	return val && *val ? strtoul(val, NULL, 0) : def;
}

static unsigned int count_fds(void)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static void record_id(struct stress *s, uint32_t id)
{
	if (!id || id >= MAX_ID) {
		fail(s, "object ID %u out of range", id);
		return;
	}
	__atomic_fetch_or(&s->ids[id / 64], 1UL << (id % 64),
			  __ATOMIC_RELAXED);
}

static int trigger(int fd, bool group, uint32_t dev_id, uint32_t pasid,
		   uint32_t grpid, uint32_t perm, uint64_t addr,
		   uint32_t count)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = dev_id,
			.pasid = pasid,
			.grpid = grpid,
			.perm = perm,
			.addr = addr,
		},
	};

	if (group) {
		cmd.op = IOMMU_TEST_OP_TRIGGER_IOPF_GROUP;
		cmd.trigger_iopf_group.addr = addr;
		cmd.trigger_iopf_group.count = count;
	}
	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

struct fdinfo {
	unsigned long long pending;
	unsigned long long unanswered;
	unsigned long long total;
	unsigned long long answered;
	unsigned long long auto_answered;
};

static unsigned long long fdinfo_value(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	return p ? strtoull(p + strlen(name), NULL, 10) : ~0ULL;
}

static int read_fdinfo(int fd, struct fdinfo *fi)
{
	char path[64], buf[1024];
	ssize_t len;
	int info;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY);
	if (info < 0)
		return -1;
	len = read(info, buf, sizeof(buf) - 1);
	close(info);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	fi->pending = fdinfo_value(buf, "\npending:\t");
	fi->unanswered = fdinfo_value(buf, "\nunanswered:\t");
	fi->total = fdinfo_value(buf, "\ntotal:\t");
	fi->answered = fdinfo_value(buf, "\nanswered:\t");
	fi->auto_answered = fdinfo_value(buf, "\nauto_answered:\t");
	return 0;
}

/* A response the mock IOMMU logged; with acct held */
static void account_response(struct stress *s,
			     const struct iommu_test_iopf_response *resp)
{
	uint32_t flags = 0;
	struct trig *t;

	if (!resp->grpid || resp->grpid > s->nr_trig) {
		fail(s, "response (code %u) to group %u, never triggered",
		     resp->code, resp->grpid);
		return;
	}
	t = &s->trig[resp->grpid - 1];
	if (t->pasid)
		flags = MOCK_IOPF_RESPONSE_PASID_VALID;
	if (resp->pasid != t->pasid || resp->flags != flags)
		fail(s,
		     "response to group %u: pasid %u flags %u, expected %u %u",
		     resp->grpid, resp->pasid, resp->flags, t->pasid, flags);
	if (resp->code == RESP_SUCCESS)
		t->nsuccess++;
	else if (resp->code == RESP_INVALID)
		t->ninvalid++;
	else
		fail(s, "response to group %u with code %u", resp->grpid,
		     resp->code);
	t->nresp++;
	if (t->nresp > t->count ||
	    (t->state == T_QUEUED && t->nresp > 1))
		fail(s, "group %u (%u faults, %s) got response number %u",
		     resp->grpid, t->count,
		     t->state == T_QUEUED ? "queued" : "not queued",
		     t->nresp);
}

/* Take everything off the log of the mock IOMMU; with acct held */
static void drain(struct stress *s)
{
	struct iommu_test_iopf_response resp[LOG_SIZE];
	struct mock_iopf_totals totals;
	uint32_t count, i;

	do {
		count = LOG_SIZE;
		if (_test_cmd_iopf_responses(s->fd, 0, resp, &count,
					     &totals)) {
			fail(s, "IOMMU_TEST_OP_IOPF_RESPONSES: %s",
			     strerror(errno));
			return;
		}
		if (totals.dropped != s->start.dropped) {
			fail(s, "the response log dropped %u entries",
			     totals.dropped - s->start.dropped);
			s->start.dropped = totals.dropped;
		}
		for (i = 0; i != count; i++)
			account_response(s, &resp[i]);
		s->drained += count;
		s->drains++;
	} while (totals.left && count);
}

/*
 * Room in the log for @count more responses; with acct held. Every response
 * the log may hold was reserved, so it never drops one.
 */
static bool reserve(struct stress *s, unsigned int count)
{
	if (s->reserved - s->drained + count > LOG_SIZE)
		drain(s);
	if (s->reserved - s->drained + count > LOG_SIZE)
		return false;
	s->reserved += count;
	return true;
}

/* The fault capable HWPT a fault goes to, NULL when the core answers it */
static struct queue *fault_queue(struct hwpt *hwpt, uint32_t pasid)
{
	/* A PASID reaches only a nested domain (user_pasid_table) */
	if (!hwpt || !hwpt->fault || (pasid && !hwpt->nested))
		return NULL;
	return hwpt->queue;
}

static void trigger_step(struct stress *s, uint64_t *rs)
{
	struct dev *d = &s->devs[below(rs, NR_DEVS)];
	unsigned int count = chance(rs, 70) ? 1 :
			     2 + below(rs, MOCK_IOPF_GROUP_MAX - 1);
	uint32_t pasid = chance(rs, 30) ? 1 + below(rs, 0xfffff) : 0;
	bool group = count > 1 || chance(rs, 50);
	uint32_t perm = below(rs, 16);
	uint64_t addr = rnd(rs) & ~0xfffULL;
	struct queue *q;
	struct trig *t;
	uint32_t idx;
	int rc, err;

	pthread_mutex_lock(&s->acct);
	if (s->nr_trig == MAX_TRIGGERS || !reserve(s, count)) {
		pthread_mutex_unlock(&s->acct);
		if (s->threaded)
			usleep(200);
		return;
	}
	idx = s->nr_trig++;
	pthread_mutex_unlock(&s->acct);

	pthread_mutex_lock(&d->lock);
	q = fault_queue(d->hwpt, pasid);
	pthread_mutex_lock(&s->acct);
	t = &s->trig[idx];
	t->inc = d->inc;
	t->queue = q;
	t->qgen = q ? q->gen : 0;
	t->gen = d->inc->started;
	t->dev_id = d->inc->idev_id;
	t->pasid = pasid;
	t->perm = perm;
	t->addr = addr;
	t->count = count;
	t->state = T_ISSUED;
	t->user_code = NO_CODE;
	pthread_mutex_unlock(&s->acct);

	rc = trigger(s->fd, group, t->dev_id, pasid, idx + 1, perm, addr,
		     count);
	err = errno;

	pthread_mutex_lock(&s->acct);
	if (!rc) {
		if (!q)
			fail(s,
			     "group %u of device %u queued, no fault capable HWPT for it (HWPT %u pasid %u)",
			     idx + 1, t->dev_id, d->hwpt->id, pasid);
		t->state = T_QUEUED;
		s->queued++;
		d->inc->queued++;
		if (q)
			q->queued++;
		s->reserved -= count - 1;
	} else if (err == EINVAL) {
		if (q)
			fail(s,
			     "group %u of device %u refused by HWPT %u (queue %u, pasid %u)",
			     idx + 1, t->dev_id, d->hwpt->id, q->index,
			     pasid);
		t->state = T_CORE;
		s->core_faults += count;
		d->inc->core_faults += count;
	} else {
		fail(s, "trigger on device %u: %s", t->dev_id, strerror(err));
		s->reserved -= count;
	}
	if (!rc || err == EINVAL) {
		s->groups++;
		d->inc->groups++;
	}
	pthread_mutex_unlock(&s->acct);
	pthread_mutex_unlock(&d->lock);
}

/* Check the records of one group against its trigger; with acct held */
static bool stress_check_group(struct stress *s, const struct trig *t,
			       const struct iommu_hwpt_pgfault *rec)
{
	uint32_t grpid = rec->grpid;
	unsigned int i;

	for (i = 0; i != t->count; i++) {
		const struct iommu_hwpt_pgfault *r = &rec[i];
		uint32_t flags = 0;

		if (t->pasid)
			flags |= IOMMU_PGFAULT_FLAGS_PASID_VALID;
		if (i == t->count - 1U)
			flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		if (r->flags != flags || r->dev_id != t->dev_id ||
		    r->pasid != t->pasid || r->grpid != grpid ||
		    r->perm != t->perm || r->__reserved || r->length ||
		    r->addr != t->addr + (uint64_t)i * MOCK_IOPF_PAGE_SIZE ||
		    r->cookie != rec[0].cookie) {
			fail(s,
			     "group %u record %u of %u: flags %#x dev %u pasid %u grpid %u perm %#x addr %#llx length %u cookie %u; expected flags %#x dev %u pasid %u perm %#x addr %#llx",
			     grpid, i, t->count, r->flags, r->dev_id,
			     r->pasid, r->grpid, r->perm,
			     (unsigned long long)r->addr, r->length,
			     r->cookie, flags, t->dev_id, t->pasid, t->perm,
			     (unsigned long long)(t->addr +
				(uint64_t)i * MOCK_IOPF_PAGE_SIZE));
			return false;
		}
	}
	return true;
}

/* An answer the kernel took; with acct held */
static void answer_taken(struct stress *s, struct queue *q,
			 const struct answer *a, unsigned long pre_done)
{
	struct trig *t = &s->trig[a->trig];

	if (a->kind != A_GOOD) {
		fail(s, "queue %u accepted %s (cookie %u code %u)", q->index,
		     a->kind == A_DUP ? "a second response" :
					"a response with a bad code",
		     a->cookie, a->code);
		return;
	}
	if (pre_done > t->gen)
		fail(s,
		     "queue %u accepted a response to group %u after its device left the HWPT",
		     q->index, a->trig + 1);
	if (t->user_code != NO_CODE)
		fail(s, "queue %u accepted a response to group %u twice",
		     q->index, a->trig + 1);
	t->user_code = a->code;
	if (a->code == RESP_SUCCESS) {
		s->user_success++;
		t->inc->user_success++;
	} else {
		s->user_invalid++;
		t->inc->user_invalid++;
	}
	q->answered++;
	q->dups[q->nr_dups++ % MAX_DUPS] = a->cookie;
}

/* An answer the kernel refused; with acct held */
static void answer_refused(struct stress *s, struct queue *q,
			   const struct answer *a)
{
	struct trig *t = &s->trig[a->trig];

	if (a->kind != A_GOOD) {
		s->refused_bad++;
		return;
	}
	/* Only a group whose attachment ended is answered already */
	if (__atomic_load_n(&t->inc->started, __ATOMIC_SEQ_CST) == t->gen)
		fail(s,
		     "queue %u refused the response to group %u (cookie %u), its device is still attached",
		     q->index, a->trig + 1, a->cookie);
	s->refused_late++;
}

/*
 * Write @n answers in random order, with a duplicate or a bad code among
 * them now and then, until each was taken or refused. With the answer and
 * queue locks held for read.
 */
static void write_answers(struct stress *s, struct queue *q, struct answer *a,
			  unsigned int n, uint64_t *rs)
{
	struct iommu_hwpt_page_response resp[MAX_BATCH];
	unsigned long pre_done[MAX_BATCH];
	unsigned int i, pos;

	for (i = n; i > 1; i--) {
		unsigned int j = below(rs, i);
		struct answer tmp = a[i - 1];

		a[i - 1] = a[j];
		a[j] = tmp;
	}
	if (n + 1 < MAX_BATCH && chance(rs, 10)) {
		/* A bad code for a good cookie, before its good answer */
		pos = below(rs, n);
		memmove(&a[pos + 1], &a[pos], (n - pos) * sizeof(*a));
		a[pos].kind = A_BAD_CODE;
		a[pos].code = chance(rs, 50) ? 2 : (uint32_t)rnd(rs) | 2;
		n++;
	}
	pthread_mutex_lock(&s->acct);
	if (n + 1 < MAX_BATCH && q->nr_dups && chance(rs, 10)) {
		pos = below(rs, n + 1);
		memmove(&a[pos + 1], &a[pos], (n - pos) * sizeof(*a));
		a[pos].kind = A_DUP;
		a[pos].trig = 0;
		a[pos].cookie = q->dups[below(rs, q->nr_dups < MAX_DUPS ?
						  q->nr_dups : MAX_DUPS)];
		a[pos].code = chance(rs, 50) ? RESP_SUCCESS : RESP_INVALID;
		n++;
	}
	pthread_mutex_unlock(&s->acct);

	for (i = 0; i != n; i++) {
		resp[i].cookie = a[i].cookie;
		resp[i].code = a[i].code;
	}
	for (pos = 0; pos < n;) {
		unsigned int consumed;
		ssize_t ret;

		for (i = pos; i != n; i++)
			pre_done[i] = a[i].kind != A_GOOD ? 0 :
				__atomic_load_n(&s->trig[a[i].trig].inc->done,
						__ATOMIC_SEQ_CST);
		ret = write(q->fd, &resp[pos], (n - pos) * RESP_SIZE);
		if (!ret || (ret > 0 && ret % RESP_SIZE) ||
		    ret > (ssize_t)((n - pos) * RESP_SIZE)) {
			fail(s,
			     "write of %u responses to queue %u returned %zd",
			     n - pos, q->index, ret);
			return;
		}
		consumed = ret < 0 ? 0 : ret / RESP_SIZE;
		if (ret < 0 && errno != EINVAL)
			fail(s, "write to queue %u: %s", q->index,
			     strerror(errno));
		pthread_mutex_lock(&s->acct);
		for (i = pos; i != pos + consumed; i++)
			answer_taken(s, q, &a[i], pre_done[i]);
		if (pos + consumed < n)
			answer_refused(s, q, &a[pos + consumed]);
		pthread_mutex_unlock(&s->acct);
		pos += consumed + 1;
	}
}

static ssize_t read_records(int fd, struct iommu_hwpt_pgfault *rec,
			    unsigned int nr, uint64_t *rs)
{
	size_t len = nr * REC_SIZE;
	struct iovec iov[2];
	size_t split;

	if (chance(rs, 50))
		return read(fd, rec, len);
	/* Two pieces, not necessarily at a record boundary */
	split = below(rs, len + 1);
	iov[0].iov_base = rec;
	iov[0].iov_len = split;
	iov[1].iov_base = (char *)rec + split;
	iov[1].iov_len = len - split;
	return readv(fd, iov, 2);
}

/*
 * Check what a read returned and decide the fate of each group: answered at
 * once (into @now), held for the writer thread, or never answered.
 */
static unsigned int take_records(struct stress *s, struct queue *q,
				 const struct iommu_hwpt_pgfault *rec,
				 unsigned int nr, struct answer *now,
				 uint64_t *rs)
{
	unsigned int i = 0, nr_now = 0;

	pthread_mutex_lock(&s->acct);
	while (i < nr) {
		uint32_t grpid = rec[i].grpid;
		unsigned int fate = below(rs, 100);
		struct trig *t;

		if (!grpid || grpid > s->nr_trig) {
			fail(s, "queue %u: record of group %u, never triggered",
			     q->index, grpid);
			break;
		}
		t = &s->trig[grpid - 1];
		if (i + t->count > nr) {
			fail(s,
			     "queue %u: group %u of %u faults cut after %u records",
			     q->index, grpid, t->count, nr - i);
			break;
		}
		if (!stress_check_group(s, t, &rec[i]))
			break;
		if (t->queue != q || t->qgen != q->gen)
			fail(s,
			     "group %u read from queue %u/%u, expected %d/%u",
			     grpid, q->index, q->gen,
			     t->queue ? (int)t->queue->index : -1, t->qgen);
		if (t->nread++)
			fail(s, "group %u read twice", grpid);
		q->reads++;
		s->reads++;

		if (fate < 55 || (fate < 85 && s->nr_held == MAX_HELD)) {
			now[nr_now].trig = grpid - 1;
			now[nr_now].cookie = rec[i].cookie;
			now[nr_now].code = chance(rs, 65) ? RESP_SUCCESS :
							   RESP_INVALID;
			now[nr_now].kind = A_GOOD;
			nr_now++;
		} else if (fate < 85) {
			s->held[s->nr_held].trig = grpid - 1;
			s->held[s->nr_held].cookie = rec[i].cookie;
			s->held[s->nr_held].queue = q;
			s->held[s->nr_held].qgen = q->gen;
			s->nr_held++;
		} else {
			/* Left for the kernel to answer */
			s->abandoned++;
		}
		i += t->count;
	}
	pthread_mutex_unlock(&s->acct);
	return nr_now;
}

static void read_step(struct stress *s, uint64_t *rs)
{
	struct queue *q = &s->queues[below(rs, NR_QUEUES)];
	struct iommu_hwpt_pgfault rec[2 * MOCK_IOPF_GROUP_MAX];
	struct answer now[MAX_BATCH];
	unsigned int nr, nr_now;
	ssize_t ret;

	pthread_rwlock_rdlock(&s->answer);
	pthread_rwlock_rdlock(&q->lock);
	if (q->fd < 0)
		goto out;
	if (s->threaded) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int n = poll(&pfd, 1, 2);

		if (n < 0) {
			fail(s, "poll queue %u: %s", q->index,
			     strerror(errno));
			goto out;
		}
		if (n && (pfd.revents & ~(POLLIN | POLLRDNORM | POLLHUP) ||
			  (pfd.revents & POLLHUP &&
			   !__atomic_load_n(&q->dying, __ATOMIC_ACQUIRE))))
			fail(s, "poll queue %u: revents %#x", q->index,
			     pfd.revents);
		if (!n)
			goto out;
	}

	/* Mostly a few records, so that groups do not fit now and then */
	nr = chance(rs, 80) ? 1 + below(rs, 8) : ARRAY_SIZE(rec);
	memset(rec, 0xcc, sizeof(rec));
	ret = read_records(q->fd, rec, nr, rs);
	if (ret < 0 && errno == EINVAL && nr < MOCK_IOPF_GROUP_MAX) {
		/* The next group is larger than the buffer */
		nr = MOCK_IOPF_GROUP_MAX;
		ret = read_records(q->fd, rec, nr, rs);
	}
	if (ret < 0) {
		if (errno != EAGAIN || !q->wait)
			fail(s, "read %u records from queue %u (%s): %s", nr,
			     q->index, q->wait ? "WAIT" : "flags 0",
			     strerror(errno));
		goto out;
	}
	if (!ret) {
		/* Empty: only a queue without WAIT says so with 0 */
		if (q->wait && !__atomic_load_n(&q->dying, __ATOMIC_ACQUIRE))
			fail(s, "queue %u: end of file, the object lives",
			     q->index);
		goto out;
	}
	if (ret % REC_SIZE || ret > (ssize_t)(nr * REC_SIZE)) {
		fail(s, "read %u records from queue %u returned %zd bytes",
		     nr, q->index, ret);
		goto out;
	}
	nr_now = take_records(s, q, rec, ret / REC_SIZE, now, rs);
	if (nr_now)
		write_answers(s, q, now, nr_now, rs);
out:
	pthread_rwlock_unlock(&q->lock);
	pthread_rwlock_unlock(&s->answer);
}

/* Answer some held groups of one queue, late and in random order */
static void writer_step(struct stress *s, uint64_t *rs)
{
	unsigned int i, n = 0, want = 1 + below(rs, 8), qgen;
	struct answer a[MAX_BATCH];
	struct queue *q;

	pthread_mutex_lock(&s->acct);
	if (!s->nr_held) {
		pthread_mutex_unlock(&s->acct);
		if (s->threaded)
			usleep(1000);
		return;
	}
	i = below(rs, s->nr_held);
	q = s->held[i].queue;
	qgen = s->held[i].qgen;
	for (i = 0; i < s->nr_held && n < want;) {
		struct held *h = &s->held[i];

		if (h->queue != q || h->qgen != qgen) {
			i++;
			continue;
		}
		a[n].trig = h->trig;
		a[n].cookie = h->cookie;
		a[n].code = chance(rs, 65) ? RESP_SUCCESS : RESP_INVALID;
		a[n].kind = A_GOOD;
		n++;
		*h = s->held[--s->nr_held];
	}
	pthread_mutex_unlock(&s->acct);

	pthread_rwlock_rdlock(&s->answer);
	pthread_rwlock_rdlock(&q->lock);
	if (q->fd < 0 || q->gen != qgen) {
		/* The queue is gone, the kernel answered them */
		pthread_mutex_lock(&s->acct);
		s->discarded += n;
		pthread_mutex_unlock(&s->acct);
	} else {
		write_answers(s, q, a, n, rs);
	}
	pthread_rwlock_unlock(&q->lock);
	pthread_rwlock_unlock(&s->answer);
}

static struct hwpt *pick_target(struct stress *s, uint64_t *rs,
				bool fault_capable)
{
	struct hwpt *list[5 + NR_QUEUES * QUEUE_HWPTS];
	unsigned int n = 0, i, j;

	list[n++] = &s->ioas;
	list[n++] = &s->parents[0];
	list[n++] = &s->parents[1];
	list[n++] = &s->plain;
	list[n++] = &s->plain_nested;
	if (fault_capable) {
		/* Fault capable HWPTs twice as likely */
		n = below(rs, 2) ? 5 : 0;
		for (i = 0; i != NR_QUEUES; i++)
			for (j = 0; j != QUEUE_HWPTS; j++)
				if (s->queues[i].hwpts[j].id)
					list[n++] = &s->queues[i].hwpts[j];
	}
	if (!n)
		return &s->ioas;
	return list[below(rs, n)];
}

/* A HWPT a device is attached to cannot be destroyed */
static void expect_busy(struct stress *s, struct hwpt *hwpt)
{
	if (hwpt == &s->ioas)
		return;
	expect_errno(s, EBUSY, _test_ioctl_destroy(s->fd, hwpt->id),
		     "destroy HWPT %u in use", hwpt->id);
}

/* Attach @d to @to; with d->lock held */
static void dev_move(struct stress *s, struct dev *d, struct hwpt *to)
{
	struct dev_inc *inc = d->inc;
	struct mock_iopf_totals totals;
	bool change = to != d->hwpt;
	uint32_t out = 0;

	if (change)
		__atomic_add_fetch(&inc->started, 1, __ATOMIC_SEQ_CST);
	if (_test_cmd_mock_domain_replace(s->fd, inc->stdev_id, to->id,
					  &out))
		fail(s, "replace device %u to %u: %s", inc->idev_id, to->id,
		     strerror(errno));
	else
		record_id(s, out);
	if (change) {
		__atomic_store_n(&inc->done, inc->started, __ATOMIC_SEQ_CST);
		d->hwpt = to;
	}
	__atomic_add_fetch(&s->replaces, 1, __ATOMIC_RELAXED);

	/* IOPF is on while the device is attached to a fault capable HWPT */
	if (_test_cmd_iopf_responses(s->fd, inc->idev_id, NULL, NULL,
				     &totals))
		fail(s, "responses of device %u: %s", inc->idev_id,
		     strerror(errno));
	else if (totals.enabled != to->fault)
		fail(s, "device %u on HWPT %u: IOPF enabled %u", inc->idev_id,
		     to->id, totals.enabled);
}

static void replace_step(struct stress *s, uint64_t *rs)
{
	struct dev *d = &s->devs[below(rs, NR_DEVS)];

	pthread_rwlock_rdlock(&s->topo);
	pthread_mutex_lock(&d->lock);
	if (chance(rs, 15))
		expect_busy(s, d->hwpt);
	dev_move(s, d, pick_target(s, rs, true));
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(&s->topo);
}

/* A new mock device on the IOAS, in slot @d; with d->lock held */
static void dev_create(struct stress *s, struct dev *d)
{
	struct dev_inc *inc;
	uint32_t hwpt_id;

	inc = calloc(1, sizeof(*inc));
	if (!inc || s->nr_incs == MAX_INCS) {
		fail(s, "out of device incarnations");
		free(inc);
		return;
	}
	if (_test_cmd_mock_domain(s->fd, s->ioas_id, &inc->stdev_id, &hwpt_id,
				  &inc->idev_id)) {
		fail(s, "mock domain: %s", strerror(errno));
		free(inc);
		return;
	}
	record_id(s, inc->stdev_id);
	record_id(s, inc->idev_id);
	record_id(s, hwpt_id);
	s->incs[s->nr_incs++] = inc;
	d->inc = inc;
	d->hwpt = &s->ioas;
}

/* Destroy the mock device in slot @d; with d->lock held */
static void dev_destroy(struct stress *s, struct dev *d)
{
	struct dev_inc *inc = d->inc;

	__atomic_add_fetch(&inc->started, 1, __ATOMIC_SEQ_CST);
	expect_ok(s, _test_ioctl_destroy(s->fd, inc->stdev_id),
		  "destroy device %u", inc->stdev_id);
	__atomic_store_n(&inc->done, inc->started, __ATOMIC_SEQ_CST);
	d->hwpt = NULL;
	expect_errno(s, ENOENT, _test_ioctl_destroy(s->fd, inc->stdev_id),
		     "destroy device %u again", inc->stdev_id);
	/* The iommufd device went with it */
	expect_errno(s, ENOENT,
		     trigger(s->fd, false, inc->idev_id, 0, 0, 0, 0, 1),
		     "trigger on the destroyed device %u", inc->idev_id);
}

static void dev_recycle(struct stress *s, uint64_t *rs)
{
	struct dev *d = &s->devs[below(rs, NR_DEVS)];

	/*
	 * For write: no automatic domain may be created meanwhile, taking the
	 * ID of the destroyed device.
	 */
	pthread_rwlock_wrlock(&s->topo);
	pthread_mutex_lock(&d->lock);
	if (chance(rs, 30))
		expect_busy(s, d->hwpt);
	if (chance(rs, 30))
		dev_move(s, d, pick_target(s, rs, false));
	dev_destroy(s, d);
	dev_create(s, d);
	if (d->inc && chance(rs, 70))
		dev_move(s, d, pick_target(s, rs, true));
	__atomic_add_fetch(&s->dev_recycles, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(&s->topo);
}

/*
 * Move a device off fault capable HWPTs, so that all its groups are
 * answered, and check its own response log against the model.
 */
static void dev_audit(struct stress *s, uint64_t *rs)
{
	struct dev *d = &s->devs[below(rs, NR_DEVS)];
	struct mock_iopf_totals t;
	struct dev_inc *inc;
	uint64_t auto_answered;

	pthread_rwlock_rdlock(&s->topo);
	pthread_mutex_lock(&d->lock);
	inc = d->inc;
	dev_move(s, d, pick_target(s, rs, false));
	/* No response being written is left unaccounted */
	pthread_rwlock_wrlock(&s->answer);
	if (_test_cmd_iopf_responses(s->fd, inc->idev_id, NULL, NULL, &t)) {
		fail(s, "responses of device %u: %s", inc->idev_id,
		     strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&s->acct);
	auto_answered = inc->queued - inc->user_success - inc->user_invalid;
	if (t.groups != (uint32_t)inc->groups ||
	    t.responses != (uint32_t)(inc->core_faults + inc->queued) ||
	    t.success != (uint32_t)inc->user_success ||
	    t.invalid != (uint32_t)(inc->user_invalid + inc->core_faults +
				    auto_answered) ||
	    t.failure || t.enabled)
		fail(s,
		     "device %u log: groups %u responses %u success %u invalid %u failure %u enabled %u; expected groups %llu responses %llu success %llu invalid %llu (user %llu, core %llu, auto %llu)",
		     inc->idev_id, t.groups, t.responses, t.success,
		     t.invalid, t.failure, t.enabled,
		     (unsigned long long)inc->groups,
		     (unsigned long long)(inc->core_faults + inc->queued),
		     (unsigned long long)inc->user_success,
		     (unsigned long long)(inc->user_invalid +
					  inc->core_faults + auto_answered),
		     (unsigned long long)inc->user_invalid,
		     (unsigned long long)inc->core_faults,
		     (unsigned long long)auto_answered);
	s->audits++;
	pthread_mutex_unlock(&s->acct);
out:
	pthread_rwlock_unlock(&s->answer);
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(&s->topo);
}

/*
 * Create fault queue @q and its HWPTs; with topo held for write. A queue with
 * IOMMU_FAULT_QUEUE_WAIT gets an O_NONBLOCK file, as a reader must never sleep
 * (another reader may take the group poll() announced); one without it may
 * keep a blocking file, which never sleeps.
 */
static void queue_create(struct stress *s, struct queue *q, uint64_t *rs)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	uint32_t dev_id = s->devs[0].inc->idev_id;
	bool wait = chance(rs, 75);
	unsigned int i;
	int fd;

	if (_test_ioctl_fault_alloc(s->fd, wait ? IOMMU_FAULT_QUEUE_WAIT : 0,
				    &q->fault_id, &fd)) {
		fail(s, "fault queue alloc: %s", strerror(errno));
		return;
	}
	record_id(s, q->fault_id);
	if ((wait || chance(rs, 50)) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		fail(s, "O_NONBLOCK: %s", strerror(errno));

	pthread_rwlock_wrlock(&q->lock);
	pthread_mutex_lock(&s->acct);
	q->fd = fd;
	q->wait = wait;
	q->gen++;
	q->dying = false;
	q->queued = 0;
	q->reads = 0;
	q->answered = 0;
	q->nr_dups = 0;
	pthread_mutex_unlock(&s->acct);
	pthread_rwlock_unlock(&q->lock);

	for (i = 0; i != QUEUE_HWPTS; i++) {
		int parent = queue_layout[q->index][i];
		struct hwpt *h = &q->hwpts[i];

		h->fault = true;
		h->nested = parent >= 0;
		h->queue = q;
		if (_test_cmd_hwpt_alloc_iopf(s->fd, dev_id,
					      h->nested ?
						s->parents[parent].id :
						s->ioas_id,
					      q->fault_id, 0, &h->id,
					      h->nested ?
						IOMMU_HWPT_DATA_SELFTEST :
						IOMMU_HWPT_DATA_NONE,
					      h->nested ? &data : NULL,
					      h->nested ? sizeof(data) : 0)) {
			fail(s, "fault capable HWPT on queue %u: %s",
			     q->fault_id, strerror(errno));
			h->id = 0;
			continue;
		}
		record_id(s, h->id);
	}
}

/*
 * Close the file of @q. Once the object is destroyed, the fdinfo must show
 * every group of the queue answered, by user space or by the kernel.
 */
static void queue_close(struct stress *s, struct queue *q, bool dead)
{
	struct pollfd pfd;
	struct fdinfo fi;
	uint8_t buf[REC_SIZE];

	pthread_rwlock_wrlock(&q->lock);
	if (q->fd < 0)
		goto out;
	if (read_fdinfo(q->fd, &fi)) {
		fail(s, "fdinfo of queue %u: %s", q->index, strerror(errno));
		goto out_close;
	}
	pthread_mutex_lock(&s->acct);
	if (fi.total != q->reads || fi.answered != q->answered ||
	    (dead && (fi.pending || fi.unanswered ||
		      fi.auto_answered != q->queued - q->answered)))
		fail(s,
		     "queue %u fdinfo: pending %llu unanswered %llu total %llu answered %llu auto_answered %llu; expected total %llu answered %llu, %llu queued",
		     q->index, fi.pending, fi.unanswered, fi.total,
		     fi.answered, fi.auto_answered,
		     (unsigned long long)q->reads,
		     (unsigned long long)q->answered,
		     (unsigned long long)q->queued);
	pthread_mutex_unlock(&s->acct);
	if (dead) {
		if (read(q->fd, buf, sizeof(buf)))
			fail(s, "read of destroyed queue %u: not end of file",
			     q->index);
		pfd.fd = q->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 1 || pfd.revents != POLLHUP)
			fail(s, "poll of destroyed queue %u: revents %#x",
			     q->index, pfd.revents);
	}
out_close:
	expect_ok(s, close(q->fd), "close queue %u", q->index);
	q->fd = -1;
out:
	pthread_rwlock_unlock(&q->lock);
}

/*
 * Move the devices off the HWPTs of @q, destroy them and the queue object,
 * then close its file. With topo held for write.
 */
static void queue_teardown(struct stress *s, struct queue *q, uint64_t *rs)
{
	unsigned int i;

	/* The HWPTs hold the queue */
	expect_errno(s, EBUSY, _test_ioctl_destroy(s->fd, q->fault_id),
		     "destroy fault queue %u used by HWPTs", q->fault_id);
	for (i = 0; i != NR_DEVS; i++) {
		struct dev *d = &s->devs[i];

		pthread_mutex_lock(&d->lock);
		if (d->hwpt && d->hwpt->queue == q) {
			if (chance(rs, 30))
				expect_busy(s, d->hwpt);
			dev_move(s, d, pick_target(s, rs, false));
		}
		pthread_mutex_unlock(&d->lock);
	}
	if (chance(rs, 50))
		expect_errno(s, EBUSY,
			     _test_ioctl_destroy(s->fd, q->fault_id),
			     "destroy fault queue %u used by HWPTs",
			     q->fault_id);
	for (i = 0; i != QUEUE_HWPTS; i++) {
		struct hwpt *h = &q->hwpts[i];

		if (!h->id)
			continue;
		expect_ok(s, _test_ioctl_destroy(s->fd, h->id),
			  "destroy HWPT %u", h->id);
		expect_errno(s, ENOENT, _test_ioctl_destroy(s->fd, h->id),
			     "destroy HWPT %u again", h->id);
		h->id = 0;
	}
	__atomic_store_n(&q->dying, true, __ATOMIC_RELEASE);
	expect_ok(s, _test_ioctl_destroy(s->fd, q->fault_id),
		  "destroy fault queue %u", q->fault_id);
	expect_errno(s, ENOENT, _test_ioctl_destroy(s->fd, q->fault_id),
		     "destroy fault queue %u again", q->fault_id);
	queue_close(s, q, true);
}

static void queue_recycle(struct stress *s, uint64_t *rs)
{
	struct queue *q = &s->queues[below(rs, NR_QUEUES)];

	pthread_rwlock_wrlock(&s->topo);
	/*
	 * The kernel answers its groups at once, and the faults that arrive
	 * until its devices leave
	 */
	if (chance(rs, 25))
		queue_close(s, q, false);
	queue_teardown(s, q, rs);
	queue_create(s, q, rs);
	s->queue_recycles++;
	pthread_rwlock_unlock(&s->topo);
}

static void recycle_step(struct stress *s, uint64_t *rs)
{
	unsigned int what = below(rs, 10);

	if (what < 4)
		queue_recycle(s, rs);
	else if (what < 7)
		dev_recycle(s, rs);
	else
		dev_audit(s, rs);
}

static void stress_init(struct stress *s, bool threaded)
{
	const int writers_first = PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
	pthread_rwlockattr_t attr;
	unsigned int i;

	/* Writers (device audits, queue teardown) must not starve */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, writers_first);
	pthread_rwlock_init(&s->topo, &attr);
	pthread_rwlock_init(&s->answer, &attr);
	pthread_mutex_init(&s->acct, NULL);
	pthread_mutex_init(&s->fail_lock, NULL);
	for (i = 0; i != NR_QUEUES; i++) {
		pthread_rwlock_init(&s->queues[i].lock, &attr);
		s->queues[i].index = i;
		s->queues[i].fd = -1;
	}
	for (i = 0; i != NR_DEVS; i++)
		pthread_mutex_init(&s->devs[i].lock, NULL);
	pthread_rwlockattr_destroy(&attr);
	s->threaded = threaded;
	s->fd = -1;
	s->seed = env_ulong("IOMMUFD_STRESS_SEED", DEFAULT_SEED);
}

static void stress_setup(struct stress *s, uint64_t *rs)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_test_iopf_response resp[LOG_SIZE];
	uint32_t count;
	unsigned int i;

	s->fd = open("/dev/iommu", O_RDWR);
	if (s->fd < 0) {
		fail(s, "open /dev/iommu: %s", strerror(errno));
		return;
	}

	/* What earlier tests left in the log is not ours */
	do {
		count = LOG_SIZE;
		if (_test_cmd_iopf_responses(s->fd, 0, resp, &count,
					     &s->start)) {
			fail(s, "IOMMU_TEST_OP_IOPF_RESPONSES: %s",
			     strerror(errno));
			return;
		}
	} while (s->start.left);

	if (_test_ioctl_ioas_alloc(s->fd, &s->ioas_id)) {
		fail(s, "IOAS alloc: %s", strerror(errno));
		return;
	}
	record_id(s, s->ioas_id);
	s->ioas.id = s->ioas_id;
	for (i = 0; i != NR_DEVS; i++)
		dev_create(s, &s->devs[i]);
	if (s->failed)
		return;

	for (i = 0; i != NR_PARENTS; i++) {
		expect_ok(s, _test_cmd_hwpt_alloc(s->fd,
						  s->devs[0].inc->idev_id,
						  s->ioas_id,
						  IOMMU_HWPT_ALLOC_NEST_PARENT,
						  &s->parents[i].id,
						  IOMMU_HWPT_DATA_NONE, NULL,
						  0),
			  "nesting parent alloc");
		record_id(s, s->parents[i].id);
	}
	expect_ok(s, _test_cmd_hwpt_alloc(s->fd, s->devs[0].inc->idev_id,
					  s->ioas_id, 0, &s->plain.id,
					  IOMMU_HWPT_DATA_NONE, NULL, 0),
		  "paging HWPT alloc");
	record_id(s, s->plain.id);
	expect_ok(s, _test_cmd_hwpt_alloc(s->fd, s->devs[0].inc->idev_id,
					  s->parents[0].id, 0,
					  &s->plain_nested.id,
					  IOMMU_HWPT_DATA_SELFTEST, &data,
					  sizeof(data)),
		  "nested HWPT alloc");
	record_id(s, s->plain_nested.id);
	s->plain_nested.nested = true;
	if (s->failed)
		return;

	for (i = 0; i != NR_QUEUES; i++)
		queue_create(s, &s->queues[i], rs);
	for (i = 0; i != NR_DEVS; i++)
		dev_move(s, &s->devs[i], pick_target(s, rs, true));
}

/* Tear everything down, in an order the kernel allows, and check the books */
static void stress_finish(struct stress *s, uint64_t *rs)
{
	struct mock_iopf_totals end;
	uint32_t invalid, responses;
	unsigned int i, reported = 0;
	uint64_t auto_answered;

	/* Still in use */
	for (i = 0; i != NR_QUEUES; i++) {
		if (chance(rs, 30))
			queue_close(s, &s->queues[i], false);
		expect_errno(s, EBUSY,
			     _test_ioctl_destroy(s->fd,
						 s->queues[i].fault_id),
			     "destroy fault queue %u used by HWPTs",
			     s->queues[i].fault_id);
	}
	for (i = 0; i != NR_PARENTS; i++)
		expect_errno(s, EBUSY,
			     _test_ioctl_destroy(s->fd, s->parents[i].id),
			     "destroy nesting parent %u with nested HWPTs",
			     s->parents[i].id);
	expect_errno(s, EBUSY, _test_ioctl_destroy(s->fd, s->ioas_id),
		     "destroy IOAS %u with HWPTs", s->ioas_id);

	/* Detach by destroying the devices */
	for (i = 0; i != NR_DEVS; i++) {
		struct dev *d = &s->devs[i];

		if (!d->inc || !d->hwpt)
			continue;
		if (chance(rs, 50))
			expect_busy(s, d->hwpt);
		dev_destroy(s, d);
	}
	for (i = 0; i != NR_QUEUES; i++)
		queue_teardown(s, &s->queues[i], rs);
	expect_ok(s, _test_ioctl_destroy(s->fd, s->plain_nested.id),
		  "destroy nested HWPT");
	for (i = 0; i != NR_PARENTS; i++)
		expect_ok(s, _test_ioctl_destroy(s->fd, s->parents[i].id),
			  "destroy nesting parent %u", s->parents[i].id);
	expect_ok(s, _test_ioctl_destroy(s->fd, s->plain.id),
		  "destroy paging HWPT");
	expect_ok(s, _test_ioctl_destroy(s->fd, s->ioas_id), "destroy IOAS");

	/* Every response is in the log now */
	pthread_mutex_lock(&s->acct);
	drain(s);
	if (_test_cmd_iopf_responses(s->fd, 0, NULL, NULL, &end)) {
		fail(s, "IOMMU_TEST_OP_IOPF_RESPONSES: %s", strerror(errno));
		goto out;
	}
	auto_answered = s->queued - s->user_success - s->user_invalid;
	responses = end.responses - s->start.responses;
	invalid = end.invalid - s->start.invalid;
	if (end.groups - s->start.groups != (uint32_t)s->groups ||
	    responses != (uint32_t)(s->core_faults + s->queued) ||
	    responses != (uint32_t)s->drained ||
	    end.success - s->start.success != (uint32_t)s->user_success ||
	    invalid != (uint32_t)(s->user_invalid + s->core_faults +
				  auto_answered) ||
	    end.failure != s->start.failure ||
	    end.dropped != s->start.dropped || end.left ||
	    end.enabled != s->start.enabled)
		fail(s,
		     "mock IOMMU log: groups %u responses %u (%lld drained) success %u invalid %u failure %u dropped %u left %u enabled %u; expected groups %llu responses %llu success %llu invalid %llu (user %llu, core %llu, auto %llu) enabled %u",
		     end.groups - s->start.groups, responses,
		     (long long)s->drained,
		     end.success - s->start.success, invalid,
		     end.failure - s->start.failure,
		     end.dropped - s->start.dropped, end.left, end.enabled,
		     (unsigned long long)s->groups,
		     (unsigned long long)(s->core_faults + s->queued),
		     (unsigned long long)s->user_success,
		     (unsigned long long)(s->user_invalid + s->core_faults +
					  auto_answered),
		     (unsigned long long)s->user_invalid,
		     (unsigned long long)s->core_faults,
		     (unsigned long long)auto_answered, s->start.enabled);

	/* Response by response */
	for (i = 0; i != s->nr_trig && reported < MAX_REPORTS; i++) {
		struct trig *t = &s->trig[i];
		bool ok;

		switch (t->state) {
		case T_QUEUED:
			ok = t->nresp == 1 &&
			     (t->user_code == RESP_SUCCESS ? t->nsuccess :
							     t->ninvalid) == 1;
			break;
		case T_CORE:
			ok = !t->nread && t->nresp == t->count &&
			     t->ninvalid == t->count;
			break;
		default:
			ok = false;
			break;
		}
		if (!ok) {
			fail(s,
			     "group %u (state %u, %u faults, read %u, user code %u): %u responses, %u success, %u invalid",
			     i + 1, t->state, t->count, t->nread,
			     t->user_code, t->nresp, t->nsuccess,
			     t->ninvalid);
			reported++;
		}
	}
out:
	pthread_mutex_unlock(&s->acct);

	/* Every object is gone */
	for (i = 1; i != MAX_ID; i++)
		if (s->ids[i / 64] & (1UL << (i % 64)))
			expect_errno(s, ENOENT, _test_ioctl_destroy(s->fd, i),
				     "destroy object %u at the end", i);
}

struct worker {
	struct stress *s;
	void (*step)(struct stress *s, uint64_t *rs);
	unsigned int pause_us;
	uint64_t rs;
	pthread_t thread;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	while (!stopped(w->s)) {
		w->step(w->s, &w->rs);
		if (w->pause_us)
			usleep(below(&w->rs, w->pause_us));
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void run_threads(struct stress *s, unsigned long ms)
{
	struct worker w[] = {
		{ .step = trigger_step },
		{ .step = trigger_step },
		{ .step = read_step },
		{ .step = read_step },
		{ .step = writer_step },
		{ .step = replace_step, .pause_us = 2000 },
		{ .step = recycle_step, .pause_us = 40000 },
	};
	uint64_t end = now_ms() + ms;
	unsigned int i, started;

	for (started = 0; started != ARRAY_SIZE(w); started++) {
		w[started].s = s;
		w[started].rs = rnd_init(s->seed, started + 1);
		if (pthread_create(&w[started].thread, NULL, worker_fn,
				   &w[started])) {
			fail(s, "pthread_create: %s", strerror(errno));
			break;
		}
	}
	while (!stopped(s) && now_ms() < end)
		usleep(20000);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i != started; i++)
		pthread_join(w[i].thread, NULL);
}

static void run_steps(struct stress *s, unsigned long steps, uint64_t *rs)
{
	unsigned long i;

	for (i = 0; i != steps && !stopped(s); i++) {
		unsigned int what = below(rs, 100);

		if (what < 35)
			trigger_step(s, rs);
		else if (what < 65)
			read_step(s, rs);
		else if (what < 80)
			writer_step(s, rs);
		else if (what < 95)
			replace_step(s, rs);
		else
			recycle_step(s, rs);
	}
}

FIXTURE(fault_stress)
{
	struct stress *s;
	unsigned int nr_fds;
};

FIXTURE_VARIANT(fault_stress)
{
	bool threaded;
};

/* One thread: every choice follows from the seed */
FIXTURE_VARIANT_ADD(fault_stress, single)
{
	.threaded = false,
};

FIXTURE_VARIANT_ADD(fault_stress, concurrent)
{
	.threaded = true,
};

FIXTURE_SETUP(fault_stress)
{
	PAGE_SIZE = sysconf(_SC_PAGE_SIZE);
	self->nr_fds = count_fds();
	self->s = calloc(1, sizeof(*self->s));
	ASSERT_NE(NULL, self->s);
	self->s->trig = calloc(MAX_TRIGGERS, sizeof(*self->s->trig));
	ASSERT_NE(NULL, self->s->trig);
	stress_init(self->s, variant->threaded);
}

FIXTURE_TEARDOWN(fault_stress)
{
	unsigned int i;

	for (i = 0; i != self->s->nr_incs; i++)
		free(self->s->incs[i]);
	free(self->s->trig);
	free(self->s);
}

/*
 * The only test of the program: the log of the mock IOMMU is shared by all
 * its users, so nothing else may fault meanwhile.
 */
TEST_F_TIMEOUT(fault_stress, exactly_once, 300)
{
	struct stress *s = self->s;
	struct mock_iopf_totals after;
	uint64_t rs, start = now_ms();
	int fd;

	rs = rnd_init(s->seed, 0);
	TH_LOG("seed=%llu (IOMMUFD_STRESS_SEED)",
	       (unsigned long long)s->seed);
	stress_setup(s, &rs);
	if (!s->failed) {
		if (s->threaded)
			run_threads(s, env_ulong("IOMMUFD_STRESS_MS",
						 DEFAULT_MS));
		else
			run_steps(s, env_ulong("IOMMUFD_STRESS_STEPS",
					       DEFAULT_STEPS), &rs);
	}
	/* Not even after a failure may a group be left unanswered */
	if (s->fd >= 0) {
		s->stop = 0;
		stress_finish(s, &rs);
		EXPECT_EQ(0, close(s->fd));
	}

	/* Closing the iommufd answered nothing more, IOPF is off */
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, fd);
	ASSERT_EQ(0, _test_cmd_iopf_responses(fd, 0, NULL, NULL, &after));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(s->start.responses + (uint32_t)s->drained, after.responses);
	EXPECT_EQ(s->start.enabled, after.enabled);
	/* No file leaked */
	EXPECT_EQ(self->nr_fds, count_fds());

	TH_LOG("%llu ms: %u groups, %llu queued, %llu faults answered by the core",
	       (unsigned long long)(now_ms() - start), s->nr_trig,
	       (unsigned long long)s->queued,
	       (unsigned long long)s->core_faults);
	TH_LOG("%llu groups read; answered %llu success, %llu invalid, %llu by the kernel",
	       (unsigned long long)s->reads,
	       (unsigned long long)s->user_success,
	       (unsigned long long)s->user_invalid,
	       (unsigned long long)(s->queued - s->user_success -
				    s->user_invalid));
	TH_LOG("refused: %llu late and %llu bad or duplicate responses",
	       (unsigned long long)s->refused_late,
	       (unsigned long long)s->refused_bad);
	TH_LOG("%llu replaces, %llu queue and %llu device recycles, %llu audits",
	       (unsigned long long)s->replaces,
	       (unsigned long long)s->queue_recycles,
	       (unsigned long long)s->dev_recycles,
	       (unsigned long long)s->audits);
	EXPECT_EQ(0, s->failed)
		TH_LOG("seed=%llu: %u failures, the first at %s",
		       (unsigned long long)s->seed, s->failed, s->why);
}

TEST_HARNESS_MAIN
