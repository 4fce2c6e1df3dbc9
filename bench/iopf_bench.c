// SPDX-License-Identifier: GPL-2.0-only
/*
 * make bench: the cost of a fault's trip through the fault queue, measured
 * the same way on the series and on the unrewound Debian kernel (the peer).
 *
 * Every fault comes from the mock device (IOMMU_TEST_OP_TRIGGER_IOPF), so
 * each figure includes that ioctl and the io-pgfault core, which both
 * kernels share. Each case runs ROUNDS times and the median round is
 * reported; the wakeup case reports the median and the 99th percentile of
 * single faults. Output is TAP: one "ok" line per case carrying
 * "bench: <case> <value> <unit>", read by scripts/bench.sh.
 *
 *   roundtrip   trigger one fault, read its record, write its response
 *   trigger, read, write
 *               the three calls of roundtrip, each timed alone (median of
 *               single calls)
 *   batch64     64 faults, read in one read(), answered in one write()
 *   backlog4k   4096 faults queued before any read, read 64 at a time, then
 *               answered newest first, one write() each
 *   wakeup      a second thread sleeps in poll(); time from the trigger to
 *               the record in its buffer
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mock_iopf.h"

#define ROUNDS 5
#define BATCH 64
#define BACKLOG 4096
#define ROUNDTRIPS 2000
#define WAKEUPS 1000

static struct mock_iopf m;
static int step;

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

/* Read exactly @n records, in as many reads as it takes */
static void read_records(struct iommu_hwpt_pgfault *rec, unsigned int n)
{
	size_t want = n * sizeof(*rec), got = 0;

	while (got < want) {
		ssize_t ret = read(m.fault_fd, (char *)rec + got, want - got);

		if (ret <= 0)
			die("read fault records");
		got += ret;
	}
}

static void respond(const struct iommu_hwpt_pgfault *rec, unsigned int n)
{
	struct iommu_hwpt_page_response resp[BATCH];
	unsigned int i;

	for (i = 0; i != n; i++) {
		resp[i].cookie = rec[i].cookie;
		resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
	}
	if (write(m.fault_fd, resp, n * sizeof(*resp)) !=
	    (ssize_t)(n * sizeof(*resp)))
		die("write responses");
}

static void trigger(__u32 grpid)
{
	if (mock_trigger(&m, grpid & 0x1ff, 0x100000 + (__u64)grpid * 4096))
		die("trigger a fault");
}

/* Each case returns ns per fault for one round */
static uint64_t run_roundtrip(void)
{
	struct iommu_hwpt_pgfault rec;
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
	struct iommu_hwpt_pgfault rec;
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
	struct iommu_hwpt_pgfault rec[BATCH];
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
	static struct iommu_hwpt_pgfault rec[BACKLOG];
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
	bool go, stop;
	const char *failed;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	struct iommu_hwpt_pgfault rec;
	struct pollfd pfd = { .fd = m.fault_fd, .events = POLLIN };

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		int ret = poll(&pfd, 1, 100);

		if (ret < 0) {
			w->failed = "poll";
			break;
		}
		if (!ret)
			continue;
		if (read(m.fault_fd, &rec, sizeof(rec)) != sizeof(rec)) {
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
	if (pthread_create(&thread, NULL, waiter_thread, &w))
		die("start the waiter");
	for (i = 0; i != WAKEUPS && !w.failed; i++) {
		/* Let the waiter go back to sleep in poll() first */
		usleep(200);
		__atomic_store_n(&w.go, false, __ATOMIC_RELAXED);
		__atomic_store_n(&w.sent, now_ns(), __ATOMIC_RELEASE);
		trigger(i);
		while (!__atomic_load_n(&w.go, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	__atomic_store_n(&w.stop, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	if (w.failed || w.n != WAKEUPS) {
		errno = EIO;
		die(w.failed ?: "the waiter missed faults");
	}
	qsort(w.lat, w.n, sizeof(w.lat[0]), cmp_u64);
	*p50 = w.lat[w.n / 2];
	*p99 = w.lat[w.n * 99 / 100];
}

static void report(const char *name, uint64_t value, const char *unit)
{
	printf("ok %d - bench: %s %llu %s\n", ++step, name,
	       (unsigned long long)value, unit);
	fflush(stdout);
}

static void run_case(const char *name, uint64_t (*fn)(void))
{
	uint64_t r[ROUNDS];
	unsigned int i;

	for (i = 0; i != ROUNDS; i++)
		r[i] = fn();
	report(name, median(r, ROUNDS), "ns/fault");
}

int main(void)
{
	uint64_t p50, p99, trig, rd, wr;

	printf("TAP version 13\n");
	if (mock_iopf_setup(&m))
		die(m.failed);
	/* Warm up: first-use allocations are not what is measured */
	run_roundtrip();

	run_case("roundtrip", run_roundtrip);
	run_phases(&trig, &rd, &wr);
	report("trigger", trig, "ns/call");
	report("read", rd, "ns/call");
	report("write", wr, "ns/call");
	run_case("batch64", run_batch);
	run_case("backlog4k", run_backlog);
	run_wakeup(&p50, &p99);
	report("wakeup_p50", p50 / 1000, "us");
	report("wakeup_p99", p99 / 1000, "us");
	printf("1..%d\n", step);
	return 0;
}
