// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz the uAPI of the iommufd fault queue.
 *
 * A seeded random sequence of calls: fault queue and HWPT allocation with
 * random flags and IDs, attaching, replacing and detaching mock devices,
 * faults, reads and writes of the fault queue file with random sizes,
 * offsets and buffers (bad ones too), O_NONBLOCK, poll, fdinfo, and close or
 * destroy of random objects. A model of the kernel predicts each result:
 * every call must return what the model expects, or fail with an errno of
 * the set the uAPI documents for it. Every response the mock devices get is
 * matched, right after the call that caused it, to the group it answers;
 * at the end every group must have been answered exactly once.
 *
 * Queues are allocated with flags 0 (read() of an empty queue returns 0) or
 * with IOMMU_FAULT_QUEUE_WAIT (read() of an empty queue fails with EAGAIN
 * when it may not sleep; the fuzzer never lets it sleep). Closing the file
 * answers every group of its queue at once, and a fault for a queue whose
 * file is closed is answered at once. Cookies are opaque: never 0, and
 * different from those of the groups read and not answered yet.
 *
 * IOMMUFD_FUZZ_SEED (default 1) and IOMMUFD_FUZZ_ITERS (default 100000) in
 * the environment change the defaults. A failure prints the seed, the
 * iteration and the call.
 *
 * The default run takes about a second on a plain kernel but half a minute
 * with KASAN and lockdep under emulation, hence its own timeout: a slower
 * machine must make it slower, not make it fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "iommufd_utils.h"

#define DEFAULT_SEED 1
#define DEFAULT_ITERS 100000
#define FUZZ_TIMEOUT 300

#define MAX_DEVS 4
#define MAX_HWPTS 16
#define MAX_FAULTS 8
#define MAX_GROUPS 65536
/* Groups waiting for an answer: whatever one call answers fits in the log */
#define MAX_OUTSTANDING 64
#define MAX_EXPECT (MOCK_IOPF_LOG_SIZE * 2)
#define MAX_REC (2 * MOCK_IOPF_GROUP_MAX)
#define MAX_RESP 8
#define MAX_ID 65536
#define REC_SIZE sizeof(struct iommu_hwpt_pgfault)
#define RESP_SIZE sizeof(struct iommu_hwpt_page_response)

enum { G_QUEUED, G_READ, G_DONE };

struct grp {
	int dev;
	unsigned int attach;
	int fault;
	uint32_t dev_id;
	uint32_t pasid;
	uint32_t perm;
	uint32_t count;
	uint32_t cookie;
	uint64_t addr;
	int state;
	unsigned int nresp;
	unsigned int want;
};

struct hw {
	bool live;
	uint32_t id;
	bool autod;
	bool parent;
	bool nested;
	int par;
	int fault;
	unsigned int devs;
	unsigned int children;
};

struct flt {
	bool used;
	bool live;
	uint32_t id;
	int fd;
	bool nonblock;
	/* Allocated with IOMMU_FAULT_QUEUE_WAIT */
	bool wait;
	unsigned int hwpts;
	/*
	 * Cookies are opaque and given at read: the model guesses one for a
	 * queued group (the one after the last one read, or 0), which only
	 * serves as a response that must be refused, and learns the real one
	 * when the group is read.
	 */
	uint32_t next_cookie;
	/* Queued groups, oldest first, and groups read, not answered */
	unsigned int queue[MAX_OUTSTANDING];
	unsigned int nq;
	unsigned int readset[MAX_OUTSTANDING];
	unsigned int nr;
	/* Answered cookies, for responses that come too late */
	uint32_t old[8];
	unsigned int nr_old;
	uint64_t reads;
	uint64_t answered;
	uint64_t autos;
};

struct dv {
	bool live;
	uint32_t stdev_id;
	uint32_t idev_id;
	int hw;
	unsigned int attach;
};

/* A response the mock must get from the call being made */
struct expect {
	uint32_t grpid;
	uint32_t code;
};

struct fuzz {
	int fd;
	uint64_t seed;
	uint64_t rs;
	unsigned int iter;
	bool failed;
	uint32_t ioas_id;
	struct hw hws[MAX_HWPTS];
	struct flt flts[MAX_FAULTS];
	struct dv devs[MAX_DEVS];
	struct grp *grps;
	unsigned int nr_grps;
	unsigned int outstanding;
	struct expect expect[MAX_EXPECT];
	unsigned int nr_expect;
	struct mock_iopf_totals start;
	uint64_t groups;
	uint64_t responses;
	uint64_t success;
	uint64_t invalid;
	unsigned long ids[MAX_ID / 64];
	uint32_t dead[16];
	unsigned int nr_dead;
	/* A page of memory and an inaccessible one right after it */
	char *mem;
	char *bad;
	unsigned int calls;
	unsigned int errors;
	unsigned int op;
	unsigned int op_calls[16];
	unsigned int op_errors[16];
};

static struct fuzz *f;

static const char *op_name(unsigned int op);

static __printf(1, 2) void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!f->failed)
		ksft_print_msg("seed=%llu iteration=%u op=%s: %s\n",
			       (unsigned long long)f->seed, f->iter,
			       op_name(f->op), msg);
	f->failed = true;
}

static const char *err_name(long ret)
{
	return ret < 0 ? strerror(-ret) : "success";
}

/*
 * A call returned @ret (or -1 with errno): it must be @want, a return value
 * or -errno, or, when @want is ANY_OF, one of the errnos in @allowed (-1
 * allowing success).
 */
#define ANY_OF 0x40000000L

static long result(long ret)
{
	f->calls++;
	f->op_calls[f->op]++;
	if (ret < 0) {
		f->errors++;
		f->op_errors[f->op]++;
		return -errno;
	}
	return ret;
}

static bool check_call(const char *call, long got, long want,
		       const int *allowed)
{
	unsigned int i;

	if (want != ANY_OF) {
		if (got == want)
			return true;
		fail("%s: got %ld (%s), expected %ld (%s)", call, got,
		     err_name(got), want, err_name(want));
		return false;
	}
	for (i = 0; allowed[i]; i++)
		if (allowed[i] == -1 ? got >= 0 : got == -allowed[i])
			return true;
	fail("%s: got %ld (%s), not in the allowed set", call, got,
	     err_name(got));
	return false;
}

#define ALLOWED(...) ((const int[]){ __VA_ARGS__, 0 })

static uint64_t rnd(void)
{
	uint64_t x = f->rs;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rs = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int below(unsigned int n)
{
	return rnd() % n;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

static void record_id(uint32_t id)
{
	if (id && id < MAX_ID)
		f->ids[id / 64] |= 1UL << (id % 64);
	else
		fail("object ID %u out of range", id);
}

static void forget_id(uint32_t id)
{
	f->dead[f->nr_dead++ % ARRAY_SIZE(f->dead)] = id;
}

/* Any ID: of a live object of any type, of a dead one, or made up */
static uint32_t random_id(void)
{
	unsigned int i, n = 0;
	uint32_t ids[64];

	ids[n++] = f->ioas_id;
	for (i = 0; i != MAX_HWPTS; i++)
		if (f->hws[i].live)
			ids[n++] = f->hws[i].id;
	for (i = 0; i != MAX_FAULTS; i++)
		if (f->flts[i].live)
			ids[n++] = f->flts[i].id;
	for (i = 0; i != MAX_DEVS; i++) {
		if (!f->devs[i].live)
			continue;
		ids[n++] = f->devs[i].stdev_id;
		ids[n++] = f->devs[i].idev_id;
	}
	if (f->nr_dead && chance(25))
		return f->dead[below(f->nr_dead < ARRAY_SIZE(f->dead) ?
				     f->nr_dead : ARRAY_SIZE(f->dead))];
	if (chance(10))
		return chance(50) ? 0 : rnd();
	return ids[below(n)];
}

static int find_hw(uint32_t id)
{
	unsigned int i;

	for (i = 0; i != MAX_HWPTS; i++)
		if (f->hws[i].live && f->hws[i].id == id)
			return i;
	return -1;
}

static int find_flt(uint32_t id)
{
	unsigned int i;

	for (i = 0; i != MAX_FAULTS; i++)
		if (f->flts[i].live && f->flts[i].id == id)
			return i;
	return -1;
}

static int find_dev(uint32_t id, bool idev)
{
	unsigned int i;

	for (i = 0; i != MAX_DEVS; i++)
		if (f->devs[i].live &&
		    (idev ? f->devs[i].idev_id : f->devs[i].stdev_id) == id)
			return i;
	return -1;
}

static int free_hw_slot(void)
{
	unsigned int i;

	for (i = 0; i != MAX_HWPTS; i++)
		if (!f->hws[i].live)
			return i;
	return -1;
}

/* An open fault queue file, often one with groups queued (or read) */
static int pick_flt_fd(bool read)
{
	unsigned int i, n = 0, busy = 0;
	int slots[MAX_FAULTS], busy_slots[MAX_FAULTS];

	for (i = 0; i != MAX_FAULTS; i++) {
		if (!f->flts[i].used || f->flts[i].fd < 0)
			continue;
		slots[n++] = i;
		if (read ? f->flts[i].nr : f->flts[i].nq)
			busy_slots[busy++] = i;
	}
	if (busy && chance(75))
		return busy_slots[below(busy)];
	return n ? slots[below(n)] : -1;
}

static int random_flt_fd(void)
{
	return pick_flt_fd(false);
}

/* The mock must get one response with @code to group @g */
static void expect_response(unsigned int g, uint32_t code)
{
	if (f->nr_expect == MAX_EXPECT) {
		fail("too many responses expected at once");
		return;
	}
	f->expect[f->nr_expect].grpid = g + 1;
	f->expect[f->nr_expect].code = code;
	f->nr_expect++;
	f->grps[g].want++;
}

static void list_del_idx(unsigned int *list, unsigned int *n, unsigned int i)
{
	memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
	(*n)--;
}

static void remember_old(struct flt *q, uint32_t cookie)
{
	q->old[q->nr_old++ % ARRAY_SIZE(q->old)] = cookie;
}

/* The kernel answers @g INVALID: its attachment or its queue went away */
static void auto_answer(unsigned int g)
{
	struct grp *gr = &f->grps[g];
	struct flt *q = &f->flts[gr->fault];
	unsigned int i;

	for (i = 0; i != q->nq; i++)
		if (q->queue[i] == g)
			list_del_idx(q->queue, &q->nq, i--);
	for (i = 0; i != q->nr; i++)
		if (q->readset[i] == g)
			list_del_idx(q->readset, &q->nr, i--);
	gr->state = G_DONE;
	q->autos++;
	remember_old(q, gr->cookie);
	f->outstanding--;
	expect_response(g, IOMMUFD_PAGE_RESP_INVALID);
}

/* Device @d leaves its HWPT: answer the groups of that attachment */
static void dev_leave(unsigned int d)
{
	struct dv *dev = &f->devs[d];
	struct hw *hw = &f->hws[dev->hw];
	unsigned int g;

	for (g = 0; g != f->nr_grps; g++) {
		struct grp *gr = &f->grps[g];

		if (gr->dev == (int)d && gr->attach == dev->attach &&
		    gr->state != G_DONE && gr->fault >= 0)
			auto_answer(g);
	}
	dev->attach++;
	hw->devs--;
	if (hw->autod && !hw->devs) {
		hw->live = false;
		forget_id(hw->id);
	}
}

/* Device @d joins HWPT @id, an automatic domain if it is new */
static void dev_join(unsigned int d, uint32_t id)
{
	int h = find_hw(id);

	if (h < 0) {
		h = free_hw_slot();
		if (h < 0) {
			fail("no slot for the automatic domain %u", id);
			return;
		}
		memset(&f->hws[h], 0, sizeof(f->hws[h]));
		f->hws[h].live = true;
		f->hws[h].id = id;
		f->hws[h].autod = true;
		f->hws[h].fault = -1;
		f->hws[h].par = -1;
		record_id(id);
	}
	f->devs[d].hw = h;
	f->hws[h].devs++;
}

/* Take the responses the mock logged and match them to the expected ones */
static void drain(void)
{
	struct iommu_test_iopf_response resp[MOCK_IOPF_LOG_SIZE];
	struct mock_iopf_totals t;
	uint32_t count, i, j;

	do {
		count = MOCK_IOPF_LOG_SIZE;
		if (_test_cmd_iopf_responses(f->fd, 0, resp, &count, &t)) {
			fail("IOMMU_TEST_OP_IOPF_RESPONSES: %s",
			     strerror(errno));
			return;
		}
		if (t.dropped != f->start.dropped) {
			fail("the response log dropped %u entries",
			     t.dropped - f->start.dropped);
			f->start.dropped = t.dropped;
		}
		for (i = 0; i != count; i++) {
			struct grp *gr;

			f->responses++;
			if (resp[i].code == IOMMUFD_PAGE_RESP_SUCCESS)
				f->success++;
			else
				f->invalid++;
			for (j = 0; j != f->nr_expect; j++)
				if (f->expect[j].grpid == resp[i].grpid &&
				    f->expect[j].code == resp[i].code)
					break;
			if (j == f->nr_expect) {
				fail("unexpected response to group %u, code %u",
				     resp[i].grpid, resp[i].code);
				continue;
			}
			f->expect[j] = f->expect[--f->nr_expect];
			gr = &f->grps[resp[i].grpid - 1];
			gr->nresp++;
			if (resp[i].pasid != gr->pasid ||
			    resp[i].flags != (gr->pasid ?
					      MOCK_IOPF_RESPONSE_PASID_VALID : 0))
				fail("response to group %u: pasid %u flags %u",
				     resp[i].grpid, resp[i].pasid,
				     resp[i].flags);
		}
	} while (t.left && count);
	for (j = 0; j != f->nr_expect; j++)
		fail("no response to group %u, code %u", f->expect[j].grpid,
		     f->expect[j].code);
	f->nr_expect = 0;
}

/* IOMMU_FAULT_QUEUE_ALLOC with random flags */
static void op_fault_alloc(void)
{
	unsigned int kind = below(100);
	struct iommu_fault_alloc cmd = {
		.size = sizeof(cmd),
		.flags = kind < 40 ? 0 :
			 kind < 80 ? IOMMU_FAULT_QUEUE_WAIT :
			 kind < 90 ? 1U << below(32) :
				     ((uint32_t)rnd() | 2) & ~(uint32_t)below(2),
	};
	unsigned int i;
	struct flt *q;
	long ret;

	for (i = 0; i != MAX_FAULTS; i++)
		if (!f->flts[i].used)
			break;
	if (i == MAX_FAULTS)
		return;
	q = &f->flts[i];
	ret = result(ioctl(f->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	if (!check_call("IOMMU_FAULT_QUEUE_ALLOC", ret,
			cmd.flags & ~IOMMU_FAULT_QUEUE_WAIT ? -EOPNOTSUPP : 0,
			NULL) || ret)
		return;
	memset(q, 0, sizeof(*q));
	q->used = true;
	q->live = true;
	q->wait = cmd.flags & IOMMU_FAULT_QUEUE_WAIT;
	q->next_cookie = 1;
	q->id = cmd.out_fault_id;
	q->fd = cmd.out_fault_fd;
	record_id(q->id);
	/* Some queues start near the end of the cookie space, and wrap */
	if (chance(30)) {
		q->next_cookie = UINT32_MAX - below(64);
		check_call("IOMMU_TEST_OP_FAULT_LAST_COOKIE",
			   result(_test_cmd_fault_last_cookie(f->fd, q->id,
							      q->next_cookie - 1)),
			   0, NULL);
	}
	if (chance(50)) {
		check_call("fcntl(O_NONBLOCK)",
			   result(fcntl(q->fd, F_SETFL, O_NONBLOCK)), 0, NULL);
		q->nonblock = true;
	}
}

/* IOMMU_HWPT_ALLOC with random fault_id, flags, __reserved2 and data */
static void op_hwpt_alloc(void)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
	};
	int h = free_hw_slot(), d, pt_hw, q = -1, i, n;
	bool fault_flag;
	long ret, want = ANY_OF;

	for (i = 0, n = 0; i != MAX_HWPTS; i++)
		n += f->hws[i].live;
	/* Leave room for the automatic domains of the devices */
	if (h < 0 || n + MAX_DEVS >= MAX_HWPTS)
		return;
	d = below(MAX_DEVS);
	cmd.dev_id = f->devs[d].live && chance(90) ? f->devs[d].idev_id :
						     random_id();
	cmd.pt_id = chance(50) ? f->ioas_id : random_id();
	pt_hw = find_hw(cmd.pt_id);
	if (pt_hw >= 0 && !f->hws[pt_hw].parent && chance(70)) {
		for (i = 0; i != MAX_HWPTS; i++)
			if (f->hws[i].live && f->hws[i].parent)
				break;
		if (i != MAX_HWPTS) {
			cmd.pt_id = f->hws[i].id;
			pt_hw = i;
		}
	}
	if (chance(60))
		cmd.flags |= IOMMU_HWPT_FAULT_ID_VALID;
	if (chance(15))
		cmd.flags |= IOMMU_HWPT_ALLOC_NEST_PARENT;
	if (chance(10))
		cmd.flags |= IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	if (chance(3))
		cmd.flags |= 1U << (3 + below(29));
	if (chance(80)) {
		/* Mostly a queue whose file is open, so its faults are read */
		bool open = chance(80);

		for (i = 0; i != MAX_FAULTS; i++) {
			struct flt *fl = &f->flts[(i + d) % MAX_FAULTS];

			if (fl->live && (!open || fl->fd >= 0))
				break;
		}
		if (i != MAX_FAULTS)
			cmd.fault_id = f->flts[(i + d) % MAX_FAULTS].id;
	} else {
		cmd.fault_id = random_id();
	}
	if (chance(5))
		cmd.__reserved2 = chance(50) ? 1 : rnd();
	if (pt_hw >= 0 ? chance(90) : chance(5)) {
		cmd.data_type = IOMMU_HWPT_DATA_SELFTEST;
		cmd.data_len = sizeof(data);
		cmd.data_uptr = (uintptr_t)&data;
		if (chance(5))
			cmd.data_len = 0;
		else if (chance(5))
			cmd.data_uptr = (uintptr_t)f->bad;
	} else if (chance(5)) {
		cmd.data_len = sizeof(data);
	}
	fault_flag = cmd.flags & IOMMU_HWPT_FAULT_ID_VALID;
	q = fault_flag ? find_flt(cmd.fault_id) : -1;

	/*
	 * What the uAPI documents, in the order the kernel checks it, which
	 * is 6.11's: __reserved2 is not checked, and a nesting parent with a
	 * fault queue is refused once the device and pt_id are looked up.
	 * fault_id is looked up last, once the driver allocated the domain,
	 * which may fail first with an error of its own: a bad one only must
	 * not succeed.
	 */
	if ((cmd.data_type == IOMMU_HWPT_DATA_NONE && cmd.data_len) ||
	    (cmd.data_type != IOMMU_HWPT_DATA_NONE && !cmd.data_len))
		want = -EINVAL;
	else if (find_dev(cmd.dev_id, true) < 0)
		want = -ENOENT;
	else if (cmd.pt_id != f->ioas_id &&
		 (pt_hw < 0 || f->hws[pt_hw].nested))
		/* Neither an IOAS nor a paging HWPT, or no object at all */
		want = -EINVAL;
	else if (fault_flag && cmd.flags & IOMMU_HWPT_ALLOC_NEST_PARENT)
		want = -EOPNOTSUPP;
	else if (cmd.flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			       IOMMU_HWPT_FAULT_ID_VALID))
		want = -EOPNOTSUPP;

	ret = result(ioctl(f->fd, IOMMU_HWPT_ALLOC, &cmd));
	if (!check_call("IOMMU_HWPT_ALLOC", ret, want,
			ALLOWED(-1, EINVAL, ENOENT, EOPNOTSUPP, EFAULT)) ||
	    ret)
		return;
	if (want != ANY_OF || (fault_flag && q < 0) ||
	    (pt_hw >= 0 && (!f->hws[pt_hw].parent ||
			    cmd.flags & ~IOMMU_HWPT_FAULT_ID_VALID)) ||
	    (pt_hw < 0 && cmd.data_type != IOMMU_HWPT_DATA_NONE)) {
		fail("HWPT_ALLOC succeeded: flags %#x pt %u fault %u data %u",
		     cmd.flags, cmd.pt_id, cmd.fault_id, cmd.data_type);
		return;
	}
	memset(&f->hws[h], 0, sizeof(f->hws[h]));
	f->hws[h].live = true;
	f->hws[h].id = cmd.out_hwpt_id;
	f->hws[h].parent = cmd.flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
	f->hws[h].nested = pt_hw >= 0;
	f->hws[h].par = pt_hw;
	f->hws[h].fault = q;
	record_id(cmd.out_hwpt_id);
	if (pt_hw >= 0)
		f->hws[pt_hw].children++;
	if (q >= 0)
		f->flts[q].hwpts++;
}

/* A fault capable HWPT, mostly of a queue whose file is open */
static uint32_t fault_hwpt_id(void)
{
	unsigned int i, n = 0, nr_open = 0;
	unsigned int cand[MAX_HWPTS], cand_open[MAX_HWPTS];

	for (i = 0; i != MAX_HWPTS; i++) {
		if (!f->hws[i].live || f->hws[i].fault < 0)
			continue;
		cand[n++] = i;
		if (f->flts[f->hws[i].fault].fd >= 0)
			cand_open[nr_open++] = i;
	}
	if (nr_open && chance(85))
		return f->hws[cand_open[below(nr_open)]].id;
	return n ? f->hws[cand[below(n)]].id : random_id();
}

/* Where a device may be attached, in the model */
static long attach_want(uint32_t pt_id)
{
	if (pt_id == f->ioas_id || find_hw(pt_id) >= 0)
		return 0;
	if (find_flt(pt_id) >= 0 || find_dev(pt_id, false) >= 0 ||
	    find_dev(pt_id, true) >= 0)
		return -EINVAL;
	return -ENOENT;
}

/* A new mock device, attached to the IOAS or to a HWPT */
static void op_mock_domain(void)
{
	uint32_t pt_id = chance(40) ? f->ioas_id :
			 chance(60) ? fault_hwpt_id() : random_id();
	uint32_t stdev_id = 0, hwpt_id = 0, idev_id = 0;
	unsigned int d;
	long ret, want;

	for (d = 0; d != MAX_DEVS; d++)
		if (!f->devs[d].live)
			break;
	if (d == MAX_DEVS)
		return;
	want = attach_want(pt_id);
	/*
	 * The objects of the new device are allocated first: they may take
	 * the ID of a missing object, which then is of the wrong type.
	 */
	if (want == -ENOENT)
		want = ANY_OF;
	ret = result(_test_cmd_mock_domain(f->fd, pt_id, &stdev_id, &hwpt_id,
					   &idev_id));
	if (!check_call("IOMMU_TEST_OP_MOCK_DOMAIN", ret, want,
			ALLOWED(ENOENT, EINVAL)) || ret)
		return;
	f->devs[d].live = true;
	f->devs[d].stdev_id = stdev_id;
	f->devs[d].idev_id = idev_id;
	record_id(stdev_id);
	record_id(idev_id);
	dev_join(d, hwpt_id);
}

static void op_replace(void)
{
	unsigned int d = below(MAX_DEVS);
	uint32_t stdev_id, pt_id, out = 0;
	long ret, want;

	stdev_id = f->devs[d].live && chance(90) ? f->devs[d].stdev_id :
						   random_id();
	pt_id = chance(15) ? f->ioas_id :
		chance(70) ? fault_hwpt_id() : random_id();
	/* Anything but a mock device is not found as one */
	if (find_dev(stdev_id, false) < 0)
		want = -ENOENT;
	else
		want = attach_want(pt_id);
	ret = result(_test_cmd_mock_domain_replace(f->fd, stdev_id, pt_id,
						   &out));
	if (!check_call("IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE", ret, want,
			NULL) || ret)
		return;
	d = find_dev(stdev_id, false);
	if (pt_id != f->ioas_id && out != pt_id) {
		fail("replace to %u attached %u", pt_id, out);
		return;
	}
	if (f->hws[f->devs[d].hw].id == out)
		return;
	dev_leave(d);
	dev_join(d, out);
}

/* The fault queue a fault of device @d with @pasid goes to, or -1 */
static int fault_target(unsigned int d, uint32_t pasid)
{
	struct hw *hw = &f->hws[f->devs[d].hw];

	if (hw->fault < 0 || (pasid && !hw->nested))
		return -1;
	return hw->fault;
}

static void op_trigger(void)
{
	unsigned int d = below(MAX_DEVS), count, i;
	uint32_t dev_id, pasid, perm, grpid;
	bool group = chance(60);
	struct grp *gr;
	uint64_t addr;
	long ret, want;
	int q = -1;

	if (f->nr_grps == MAX_GROUPS || f->outstanding >= MAX_OUTSTANDING)
		return;
	dev_id = f->devs[d].live && chance(90) ? f->devs[d].idev_id :
						 random_id();
	count = 1;
	if (group) {
		count = chance(80) ? 1 + below(4) :
			chance(60) ? 1 + below(MOCK_IOPF_GROUP_MAX) :
			chance(50) ? 0 : MOCK_IOPF_GROUP_MAX + 1 + below(1000);
	}
	pasid = chance(30) ? 1 + below(0xfffff) : 0;
	perm = below(16);
	addr = rnd() & ~0xfffULL;
	grpid = f->nr_grps + 1;

	if (!count || count > MOCK_IOPF_GROUP_MAX) {
		want = -EINVAL;
	} else if (find_dev(dev_id, true) < 0) {
		want = -ENOENT;
	} else {
		d = find_dev(dev_id, true);
		q = fault_target(d, pasid);
		want = q < 0 ? -EINVAL : 0;
	}
	ret = result(_test_cmd_trigger_iopf(f->fd, dev_id, pasid, grpid, perm,
					    addr, group ? count : 1));
	if (!check_call("trigger", ret, want, NULL))
		return;
	/* Refused before the device was asked: no group */
	if (!count || count > MOCK_IOPF_GROUP_MAX ||
	    find_dev(dev_id, true) < 0)
		return;

	gr = &f->grps[f->nr_grps++];
	memset(gr, 0, sizeof(*gr));
	gr->dev = d;
	gr->attach = f->devs[d].attach;
	gr->fault = q;
	gr->dev_id = dev_id;
	gr->pasid = pasid;
	gr->perm = perm;
	gr->count = count;
	gr->addr = addr;
	f->groups++;
	if (q < 0) {
		/* The core answered every fault of the group */
		gr->state = G_DONE;
		for (i = 0; i != count; i++)
			expect_response(grpid - 1, IOMMUFD_PAGE_RESP_INVALID);
		return;
	}
	if (f->flts[q].fd < 0) {
		/* Nobody can read it: the queue answers it at once */
		gr->state = G_DONE;
		f->flts[q].autos++;
		expect_response(grpid - 1, IOMMUFD_PAGE_RESP_INVALID);
		return;
	}
	gr->state = G_QUEUED;
	/* Not its cookie: it has none until it is read */
	gr->cookie = chance(20) ? 0 : f->flts[q].next_cookie +
				      f->flts[q].nq;
	f->flts[q].queue[f->flts[q].nq++] = grpid - 1;
	f->outstanding++;
}

/* A buffer of @len bytes whose bytes from @good on cannot be written */
static char *make_buffer(size_t len, size_t *good)
{
	unsigned int kind = below(100);

	*good = len;
	if (kind < 80 || len > (size_t)PAGE_SIZE)
		return f->mem;
	if (kind < 85) {
		*good = 0;
		return NULL;
	}
	if (kind < 90) {
		*good = 0;
		return f->bad;
	}
	/* Straddling the inaccessible page */
	*good = below(len + 1);
	return f->bad - *good;
}

static bool check_records(struct flt *q, const struct iommu_hwpt_pgfault *rec,
			  unsigned int g)
{
	struct grp *gr = &f->grps[g];
	unsigned int i;

	/* Never 0, and no group waiting for an answer has it */
	if (!rec[0].cookie) {
		fail("group %u: cookie 0", g + 1);
		return false;
	}
	for (i = 0; i != q->nr; i++) {
		if (f->grps[q->readset[i]].cookie == rec[0].cookie) {
			fail("group %u: cookie %u, the cookie of group %u, read and not answered",
			     g + 1, rec[0].cookie, q->readset[i] + 1);
			return false;
		}
	}
	gr->cookie = rec[0].cookie;
	q->next_cookie = gr->cookie + 1;

	for (i = 0; i != gr->count; i++) {
		uint32_t flags = gr->pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID :
					     0;

		if (i == gr->count - 1)
			flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		if (rec[i].flags != flags || rec[i].dev_id != gr->dev_id ||
		    rec[i].pasid != gr->pasid || rec[i].grpid != g + 1 ||
		    rec[i].perm != gr->perm || rec[i].__reserved ||
		    rec[i].length || rec[i].cookie != gr->cookie ||
		    rec[i].addr != gr->addr + (uint64_t)i * MOCK_IOPF_PAGE_SIZE) {
			char got[128];

			snprintf(got, sizeof(got),
				 "flags %#x dev %u pasid %u grpid %u perm %#x",
				 rec[i].flags, rec[i].dev_id, rec[i].pasid,
				 rec[i].grpid, rec[i].perm);
			fail("group %u record %u: %s addr %#llx cookie %u, expected cookie %u",
			     g + 1, i, got, (unsigned long long)rec[i].addr,
			     rec[i].cookie, gr->cookie);
			return false;
		}
	}
	return true;
}

/*
 * read(), readv() or preadv2(RWF_NOWAIT) of a random size into a random
 * buffer, or pread() at a random offset.
 */
static void op_read(void)
{
	static struct iommu_hwpt_pgfault copy[MAX_REC];
	int s = pick_flt_fd(false), how = below(100);
	unsigned int nrec, i, taken = 0, room;
	size_t len, good, off = 0, split, eff;
	struct flt *q;
	long ret, want;
	bool nowait;
	char *buf;

	if (s < 0)
		return;
	q = &f->flts[s];
	nrec = chance(70) ? 1 + below(6) : 1 + below(MAX_REC);
	len = nrec * REC_SIZE;
	if (chance(8))
		len = chance(30) ? 0 : below(len + REC_SIZE);
	buf = make_buffer(len, &good);

	if (how < 8) {
		ret = result(pread(q->fd, buf, len, chance(50) ? 0 : rnd() >> 1));
		check_call("pread", ret, -ESPIPE, NULL);
		return;
	}
	nowait = q->nonblock || how < 30;
	/*
	 * Never sleep: only read a blocking file of a waiting queue when a
	 * group waits (or when the object is gone: end of file)
	 */
	if (!nowait && q->wait && !q->nq && q->live && len &&
	    !(len % REC_SIZE))
		how = 8;

	/*
	 * readv() splits the buffer in two. Of a vector of a partial size,
	 * the iovecs before the first of a partial size are read, as 6.11
	 * reads each iovec alone (a waiting queue refuses the vector).
	 */
	split = below(len + 1);
	eff = len;
	if (how >= 30 && how < 60 && len % REC_SIZE && !q->wait &&
	    split && !(split % REC_SIZE))
		eff = split;

	/* What the model says the read returns */
	room = eff / REC_SIZE;
	if (how < 30 && len && !q->nq && q->live && !q->wait && !q->nonblock) {
		/*
		 * A read that may not wait, of a blocking file of a queue
		 * without IOMMU_FAULT_QUEUE_WAIT, polls first, whatever its
		 * size, as io_uring's does (preadv2() of nothing does not reach
		 * the file); a waiting queue checks the size first
		 */
		want = -EAGAIN;
	} else if (!eff) {
		/*
		 * read() finds it too small for the oldest group, if there is
		 * one; readv() and preadv2() of nothing return 0 at once
		 */
		want = how >= 60 && q->nq ? -EINVAL : 0;
	} else if (eff % REC_SIZE) {
		/* As since 6.11; a waiting queue, as other event files */
		want = q->wait ? -EINVAL : -ESPIPE;
	} else if (!q->nq) {
		/*
		 * Once destroyed: 0. A waiting queue: EAGAIN, as the read may
		 * not sleep here. Without IOMMU_FAULT_QUEUE_WAIT: 0, but
		 * RWF_NOWAIT on a blocking file gets EAGAIN, as io_uring does.
		 */
		want = q->live && (q->wait || (how < 30 && !q->nonblock)) ?
		       -EAGAIN : 0;
	} else {
		want = 0;
		for (i = 0; i != q->nq; i++) {
			struct grp *gr = &f->grps[q->queue[i]];
			size_t end = off + gr->count * REC_SIZE;

			if (gr->count > room) {
				if (!taken)
					want = -EINVAL;
				break;
			}
			if (end > good) {
				if (!taken)
					want = -EFAULT;
				break;
			}
			room -= gr->count;
			off = end;
			taken++;
		}
		if (taken)
			want = off;
	}

	if (how < 30) {
		struct iovec iov = { .iov_base = buf, .iov_len = len };

		ret = result(preadv2(q->fd, &iov, 1, -1, RWF_NOWAIT));
	} else if (how < 60) {
		struct iovec iov[2] = {
			{ .iov_base = buf, .iov_len = split },
			{ .iov_base = buf + split, .iov_len = len - split },
		};

		if (!buf)
			iov[1].iov_base = NULL;
		ret = result(readv(q->fd, iov, 2));
	} else {
		ret = result(read(q->fd, buf, len));
	}
	if (!check_call(how < 30 ? "preadv2(RWF_NOWAIT)" :
			how < 60 ? "readv" : "read", ret, want, NULL) ||
	    ret <= 0)
		return;

	memcpy(copy, buf, ret);
	for (i = 0, off = 0; i != taken; i++) {
		unsigned int g = q->queue[0];

		if (!check_records(q, &copy[off], g))
			return;
		off += f->grps[g].count;
		f->grps[g].state = G_READ;
		list_del_idx(q->queue, &q->nq, 0);
		q->readset[q->nr++] = g;
		q->reads++;
	}
}

/*
 * pwritev2(RWF_NOWAIT) of more responses than a write that may not wait
 * takes: EAGAIN, whatever they are, and nothing taken
 */
static void write_nowait_long(struct flt *q,
			      const struct iommu_hwpt_page_response *resp,
			      unsigned int n)
{
	static struct iommu_hwpt_page_response big[513];
	struct iovec iov = { .iov_base = big, .iov_len = sizeof(big) };
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(big); i++)
		big[i] = resp[i % n];
	check_call("pwritev2(RWF_NOWAIT) of 513",
		   result(pwritev2(q->fd, &iov, 1, -1, RWF_NOWAIT)), -EAGAIN,
		   NULL);
}

/*
 * write(), writev() or pwritev2(RWF_NOWAIT) of random responses: good, late,
 * unread, unknown, bad codes. With nothing else running a write that may not
 * wait finds the queue's mutex free, and does what write() does.
 */
static void op_write(void)
{
	struct iommu_hwpt_page_response resp[MAX_RESP];
	int s = pick_flt_fd(true), other;
	unsigned int n = 1 + below(MAX_RESP), i, j, consumed = 0;
	struct iommu_hwpt_page_response *p;
	unsigned int how = below(100);
	size_t len, good, split, eff;
	struct flt *q;
	long ret, want;
	char *buf;

	if (s < 0)
		return;
	q = &f->flts[s];
	other = below(MAX_FAULTS);
	for (i = 0; i != n; i++) {
		unsigned int kind = below(100);

		resp[i].code = chance(90) ? below(2) :
			       chance(50) ? 2 : (uint32_t)rnd();
		if (kind < 55 && q->nr)
			resp[i].cookie = f->grps[q->readset[below(q->nr)]].cookie;
		else if (kind < 65 && q->nq)
			resp[i].cookie = f->grps[q->queue[below(q->nq)]].cookie;
		else if (kind < 75 && q->nr_old)
			resp[i].cookie = q->old[below(q->nr_old <
						   ARRAY_SIZE(q->old) ?
						   q->nr_old :
						   ARRAY_SIZE(q->old))];
		else if (kind < 85 && f->flts[other].used &&
			 f->flts[other].nr)
			resp[i].cookie =
				f->grps[f->flts[other].readset[0]].cookie;
		else
			resp[i].cookie = chance(50) ? q->next_cookie + below(4) :
						      (uint32_t)rnd();
	}
	if (how < 3) {
		write_nowait_long(q, resp, n);
		return;
	}
	len = n * RESP_SIZE;
	if (chance(5))
		len = chance(30) ? 0 : below(len + RESP_SIZE);
	buf = make_buffer(len, &good);
	p = (void *)buf;
	if (buf)
		memcpy(buf, resp, good < len ? good : len);

	/* writev() splits it in two, and takes the iovecs as readv() does */
	split = below(len + 1);
	eff = len;
	if (how >= 65 && len > RESP_SIZE && len % RESP_SIZE && !q->wait &&
	    split && !(split % RESP_SIZE))
		eff = split;

	/* The model takes the responses one by one */
	if (!eff) {
		want = 0;
	} else if (eff % RESP_SIZE) {
		want = q->wait ? -EINVAL : -ESPIPE;
	} else {
		want = -EINVAL;
		for (i = 0; i != n && (i + 1) * RESP_SIZE <= eff; i++) {
			if ((i + 1) * RESP_SIZE > good) {
				want = -EFAULT;
				break;
			}
			if (resp[i].code > IOMMUFD_PAGE_RESP_INVALID)
				break;
			for (j = 0; j != q->nr; j++)
				if (f->grps[q->readset[j]].cookie ==
				    resp[i].cookie)
					break;
			if (j == q->nr)
				break;
			consumed++;
			{
				unsigned int g = q->readset[j];

				list_del_idx(q->readset, &q->nr, j);
				f->grps[g].state = G_DONE;
				q->answered++;
				remember_old(q, resp[i].cookie);
				f->outstanding--;
				expect_response(g, resp[i].code);
			}
		}
		if (consumed)
			want = consumed * RESP_SIZE;
	}
	if (how < 30) {
		struct iovec iov = { .iov_base = p, .iov_len = len };

		ret = result(pwritev2(q->fd, &iov, 1, -1, RWF_NOWAIT));
	} else if (how < 65 || len <= RESP_SIZE) {
		ret = result(write(q->fd, p, len));
	} else {
		struct iovec iov[2] = {
			{ .iov_base = buf, .iov_len = split },
			{ .iov_base = buf ? buf + split : NULL,
			  .iov_len = len - split },
		};

		ret = result(writev(q->fd, iov, 2));
	}
	check_call(how < 30 ? "pwritev2(RWF_NOWAIT)" : "write", ret, want, NULL);
}

static void op_poll(void)
{
	int s = random_flt_fd(), want;
	struct pollfd pfd;
	struct flt *q;
	long ret;

	if (s < 0)
		return;
	q = &f->flts[s];
	pfd.fd = q->fd;
	/* POLLOUT always, POLLWRNORM is not promised */
	pfd.events = POLLIN | POLLRDNORM | POLLOUT;
	pfd.revents = 0;
	want = POLLOUT;
	if (q->nq)
		want |= POLLIN | POLLRDNORM;
	if (!q->live)
		want |= POLLHUP;
	ret = result(poll(&pfd, 1, 0));
	if (check_call("poll", ret, 1, NULL) && pfd.revents != want)
		fail("poll: revents %#x, expected %#x", pfd.revents, want);
}

static void op_fcntl(void)
{
	int s = random_flt_fd();
	struct flt *q;

	if (s < 0)
		return;
	q = &f->flts[s];
	q->nonblock = chance(50);
	check_call("fcntl(F_SETFL)",
		   result(fcntl(q->fd, F_SETFL, q->nonblock ? O_NONBLOCK : 0)),
		   0, NULL);
	check_call("fcntl(F_GETFL)",
		   result(fcntl(q->fd, F_GETFL) & O_NONBLOCK),
		   q->nonblock ? O_NONBLOCK : 0, NULL);
}

/* What a fault queue file does not do */
static void op_misc(void)
{
	int s = random_flt_fd();
	struct flt *q;
	void *p;

	if (s < 0)
		return;
	q = &f->flts[s];
	switch (below(4)) {
	case 0:
		check_call("pwrite",
			   result(pwrite(q->fd, f->mem, RESP_SIZE, rnd() >> 1)),
			   -ESPIPE, NULL);
		break;
	case 1:
		check_call("lseek", result(lseek(q->fd, 0, SEEK_SET)),
			   -ESPIPE, NULL);
		break;
	case 2:
		/* A type no ioctl of the VFS uses */
		check_call("ioctl",
			   result(ioctl(q->fd, _IOC(below(4), 0xee, below(256),
						    below(64)), f->mem)),
			   -ENOTTY, NULL);
		break;
	default:
		p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, q->fd, 0);
		if (p != MAP_FAILED) {
			munmap(p, PAGE_SIZE);
			fail("mmap of a fault queue file succeeded");
		} else {
			check_call("mmap", result(-1), -ENODEV, NULL);
		}
		break;
	}
}

/* The fdinfo of a fault queue file tells what the model knows */
static void check_fdinfo(int s)
{
	unsigned long long v[5], want[5];
	static const char * const names[] = {
		"pending:", "unanswered:", "total:", "answered:",
		"auto_answered:",
	};
	struct flt *q = &f->flts[s];
	char path[64], buf[512];
	unsigned int i;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", q->fd);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fail("open %s: %s", path, strerror(errno));
		return;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = 0;
	want[0] = q->nq;
	want[1] = q->nr;
	want[2] = q->reads;
	want[3] = q->answered;
	want[4] = q->autos;
	for (i = 0; i != ARRAY_SIZE(names); i++) {
		char *p = buf;

		v[i] = ~0ULL;
		while ((p = strstr(p, names[i]))) {
			if (p == buf || p[-1] == '\n') {
				v[i] = strtoull(p + strlen(names[i]), NULL,
						10);
				break;
			}
			p++;
		}
		if (v[i] != want[i])
			fail("fdinfo %s %llu, expected %llu", names[i], v[i],
			     want[i]);
	}
}

static void op_fdinfo(void)
{
	int s = random_flt_fd();

	if (s >= 0)
		check_fdinfo(s);
}

static void flt_release(struct flt *q)
{
	if (!q->live && q->fd < 0)
		q->used = false;
}

static void op_close(void)
{
	int s = random_flt_fd();
	struct flt *q;

	if (s < 0)
		return;
	q = &f->flts[s];
	/*
	 * Mostly files of queues no HWPT uses: the faults of the others
	 * are answered at once from now on, which is tested, but not all the
	 * time.
	 */
	if (q->hwpts && chance(80))
		return;
	check_call("close", result(close(q->fd)), 0, NULL);
	q->fd = -1;
	/* Nobody can read or answer its groups: the kernel answers them */
	while (q->nq)
		auto_answer(q->queue[0]);
	while (q->nr)
		auto_answer(q->readset[0]);
	flt_release(q);
}

static void destroy_fault(unsigned int s)
{
	struct flt *q = &f->flts[s];

	/* No HWPT uses it: no attachment has its groups left */
	while (q->nq)
		auto_answer(q->queue[0]);
	while (q->nr)
		auto_answer(q->readset[0]);
	q->live = false;
	forget_id(q->id);
	flt_release(q);
}

static void op_destroy(void)
{
	uint32_t id = chance(90) ? random_id() : f->ioas_id;
	unsigned int i;
	long ret, want;
	int h, s, d;

	/* Fault queues and HWPTs more often, so that their slots free up */
	if (chance(40)) {
		i = below(MAX_FAULTS + MAX_HWPTS);
		if (i < MAX_FAULTS && f->flts[i].live)
			id = f->flts[i].id;
		else if (i >= MAX_FAULTS && f->hws[i - MAX_FAULTS].live)
			id = f->hws[i - MAX_FAULTS].id;
	}
	h = find_hw(id);
	s = find_flt(id);
	d = find_dev(id, false);

	if (id == f->ioas_id) {
		for (i = 0; i != MAX_HWPTS; i++)
			if (f->hws[i].live)
				break;
		/* Keep the IOAS */
		if (i == MAX_HWPTS)
			return;
		want = -EBUSY;
	} else if (h >= 0) {
		want = f->hws[h].devs || f->hws[h].children ? -EBUSY : 0;
	} else if (s >= 0) {
		want = f->flts[s].hwpts ? -EBUSY : 0;
	} else if (d >= 0) {
		want = 0;
	} else if (find_dev(id, true) >= 0) {
		/* The iommufd device belongs to the mock device */
		want = -EBUSY;
	} else {
		want = -ENOENT;
	}
	ret = result(_test_ioctl_destroy(f->fd, id));
	if (!check_call("IOMMU_DESTROY", ret, want, NULL) || ret)
		return;
	if (h >= 0) {
		struct hw *hw = &f->hws[h];

		hw->live = false;
		if (hw->par >= 0)
			f->hws[hw->par].children--;
		if (hw->fault >= 0)
			f->flts[hw->fault].hwpts--;
		forget_id(id);
	} else if (s >= 0) {
		destroy_fault(s);
	} else if (d >= 0) {
		dev_leave(d);
		f->devs[d].live = false;
		forget_id(f->devs[d].stdev_id);
		forget_id(f->devs[d].idev_id);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
	unsigned int weight;
} ops[] = {
	{ "fault_alloc", op_fault_alloc, 4 },
	{ "hwpt_alloc", op_hwpt_alloc, 7 },
	{ "mock_domain", op_mock_domain, 4 },
	{ "replace", op_replace, 6 },
	{ "trigger", op_trigger, 20 },
	{ "read", op_read, 18 },
	{ "write", op_write, 16 },
	{ "poll", op_poll, 4 },
	{ "fcntl", op_fcntl, 3 },
	{ "misc", op_misc, 2 },
	{ "fdinfo", op_fdinfo, 3 },
	{ "close", op_close, 1 },
	{ "destroy", op_destroy, 5 },
};

static const char *op_name(unsigned int op)
{
	if (op < ARRAY_SIZE(ops))
		return ops[op].name;
	return op == ARRAY_SIZE(ops) ? "setup" : "teardown";
}

static void step(void)
{
	unsigned int total = 0, i, pick;

	for (i = 0; i != ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	pick = below(total);
	for (i = 0; pick >= ops[i].weight; i++)
		pick -= ops[i].weight;
	f->op = i;
	ops[i].fn();
	drain();
}

/* Destroy everything, in an order the kernel allows */
static void teardown(void)
{
	unsigned int i, pass;

	f->op = ARRAY_SIZE(ops) + 1;
	for (i = 0; i != MAX_DEVS; i++) {
		if (!f->devs[i].live)
			continue;
		check_call("IOMMU_DESTROY device",
			   result(_test_ioctl_destroy(f->fd,
						      f->devs[i].stdev_id)),
			   0, NULL);
		dev_leave(i);
		f->devs[i].live = false;
	}
	drain();
	/* Nested HWPTs before their parents */
	for (pass = 0; pass != 2; pass++) {
		for (i = 0; i != MAX_HWPTS; i++) {
			struct hw *hw = &f->hws[i];

			if (!hw->live || (!pass && hw->children))
				continue;
			check_call("IOMMU_DESTROY HWPT",
				   result(_test_ioctl_destroy(f->fd, hw->id)),
				   0, NULL);
			hw->live = false;
			if (hw->par >= 0)
				f->hws[hw->par].children--;
			if (hw->fault >= 0)
				f->flts[hw->fault].hwpts--;
		}
	}
	for (i = 0; i != MAX_FAULTS; i++) {
		struct flt *q = &f->flts[i];

		if (!q->used)
			continue;
		if (q->live) {
			check_call("IOMMU_DESTROY fault queue",
				   result(_test_ioctl_destroy(f->fd, q->id)),
				   0, NULL);
			destroy_fault(i);
		}
		if (q->fd >= 0) {
			uint8_t buf[REC_SIZE];

			check_fdinfo(i);
			check_call("read at the end", result(read(q->fd, buf,
								  sizeof(buf))),
				   0, NULL);
			check_call("close", result(close(q->fd)), 0, NULL);
			q->fd = -1;
		}
		q->used = false;
	}
	check_call("IOMMU_DESTROY IOAS",
		   result(_test_ioctl_destroy(f->fd, f->ioas_id)), 0, NULL);
	drain();
}

FIXTURE(fault_fuzz) {};

FIXTURE_SETUP(fault_fuzz)
{
}

FIXTURE_TEARDOWN(fault_fuzz)
{
}

TEST_F_TIMEOUT(fault_fuzz, run, FUZZ_TIMEOUT)
{
	uint64_t iters = strtoull(getenv("IOMMUFD_FUZZ_ITERS") ?: "0", NULL,
				  0) ?: DEFAULT_ITERS;
	struct mock_iopf_totals end;
	unsigned int i, nr_fds = 0;
	struct timespec t0, t1;
	struct dirent *de;
	DIR *dir;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	f = calloc(1, sizeof(*f));
	ASSERT_NE(NULL, f);
	f->grps = calloc(MAX_GROUPS, sizeof(*f->grps));
	ASSERT_NE(NULL, f->grps);
	f->seed = strtoull(getenv("IOMMUFD_FUZZ_SEED") ?: "0", NULL, 0) ?:
		  DEFAULT_SEED;
	f->rs = f->seed * 0x9e3779b97f4a7c15ULL ?: 1;
	f->op = ARRAY_SIZE(ops);
	PAGE_SIZE = sysconf(_SC_PAGE_SIZE);
	f->mem = mmap(NULL, PAGE_SIZE * 2, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->mem);
	f->bad = f->mem + PAGE_SIZE;
	ASSERT_EQ(0, mprotect(f->bad, PAGE_SIZE, PROT_NONE));

	dir = opendir("/proc/self/fd");
	ASSERT_NE(NULL, dir);
	while ((de = readdir(dir)))
		nr_fds += de->d_name[0] != '.';
	closedir(dir);

	f->fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, f->fd);
	/* What earlier tests left in the log is not ours */
	do {
		struct iommu_test_iopf_response resp[MOCK_IOPF_LOG_SIZE];
		uint32_t count = MOCK_IOPF_LOG_SIZE;

		ASSERT_EQ(0, _test_cmd_iopf_responses(f->fd, 0, resp, &count,
						      &f->start));
	} while (f->start.left);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(f->fd, &f->ioas_id));
	record_id(f->ioas_id);
	for (i = 0; i != MAX_FAULTS; i++)
		f->flts[i].fd = -1;

	for (f->iter = 0; f->iter != iters && !f->failed; f->iter++)
		step();
	if (!f->failed)
		teardown();

	if (!f->failed) {
		/* Totals: every group answered once, IOPF off again */
		ASSERT_EQ(0, _test_cmd_iopf_responses(f->fd, 0, NULL, NULL,
						      &end));
		EXPECT_EQ(f->groups, end.groups - f->start.groups);
		EXPECT_EQ(f->responses, end.responses - f->start.responses);
		EXPECT_EQ(f->success, end.success - f->start.success);
		EXPECT_EQ(f->invalid, end.invalid - f->start.invalid);
		EXPECT_EQ(0, end.failure - f->start.failure);
		EXPECT_EQ(f->start.enabled, end.enabled);
		for (i = 0; i != f->nr_grps; i++) {
			struct grp *gr = &f->grps[i];
			unsigned int once = gr->fault < 0 ? gr->count : 1;

			if (gr->state != G_DONE || gr->nresp != once ||
			    gr->want != once)
				fail("group %u: %u responses, %u expected",
				     i + 1, gr->nresp, once);
		}
		for (i = 1; i != MAX_ID; i++)
			if (f->ids[i / 64] & (1UL << (i % 64)))
				check_call("IOMMU_DESTROY at the end",
					   result(_test_ioctl_destroy(f->fd,
								      i)),
					   -ENOENT, NULL);
	}
	EXPECT_EQ(0, close(f->fd));
	for (i = 0; i != MAX_FAULTS; i++)
		if (f->flts[i].used && f->flts[i].fd >= 0)
			close(f->flts[i].fd);

	dir = opendir("/proc/self/fd");
	ASSERT_NE(NULL, dir);
	while ((de = readdir(dir)))
		nr_fds -= de->d_name[0] != '.';
	closedir(dir);
	EXPECT_EQ(0, nr_fds);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("seed=%llu: %u iterations in %lld ms, %u calls, %u failed",
	       (unsigned long long)f->seed, f->iter,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		       (t1.tv_nsec - t0.tv_nsec) / 1000000,
	       f->calls, f->errors);
	TH_LOG("%llu groups, %llu responses", (unsigned long long)f->groups,
	       (unsigned long long)f->responses);
	for (i = 0; i != ARRAY_SIZE(ops); i++)
		TH_LOG("%-12s %6u calls, %6u failed as expected", ops[i].name,
		       f->op_calls[i], f->op_errors[i]);
	EXPECT_FALSE(f->failed)
		TH_LOG("seed=%llu iteration=%u op=%s",
		       (unsigned long long)f->seed, f->iter, op_name(f->op));
	munmap(f->mem, PAGE_SIZE * 2);
	free(f->grps);
	free(f);
}

TEST_HARNESS_MAIN
