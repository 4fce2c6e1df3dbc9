// SPDX-License-Identifier: GPL-2.0-only
/*
 * make run, part two: IO demand paging, end to end, as a VMM resolves faults.
 *
 * The mock device is attached to a paging HWPT whose faults go to a fault
 * queue, over an IOAS with nothing mapped. It reads 1 MiB through the HWPT:
 * each page it misses stalls the read, the handler thread (mock_pager_run()
 * in mock_iopf.h, the loop Documentation/userspace-api/iommufd.rst shows)
 * reads the fault, maps the page with IOMMU_IOAS_MAP and answers SUCCESS, and
 * the device retries and reads on. The data is checked byte for byte, then
 * the same for a write, and the run prints the faults resolved and the time
 * per resolved page (emulated time under TCG).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "demo_tap.h"
#include "mock_iopf.h"

#define IOVA 0x40000000ULL
#define LENGTH (1UL << 20)

static struct mock_iopf m;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *pager_thread(void *arg)
{
	return mock_pager_run(arg) ? "the handler failed" : NULL;
}

static uint8_t *pattern(unsigned int seed)
{
	uint8_t *p = mmap(NULL, LENGTH, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		die("mmap");
	for (i = 0; i != LENGTH; i++)
		p[i] = i * 7 + (i >> 12) + seed;
	return p;
}

/* The device reads (or writes) LENGTH at IOVA; every page on demand */
static void demand(__u32 flags, const char *what)
{
	uint8_t *mem = pattern(1), *data = pattern(2);
	struct mock_pager p = {
		.m = &m,
		.iova = IOVA,
		.length = LENGTH,
		.mem = mem,
		.page_size = sysconf(_SC_PAGE_SIZE),
	};
	pthread_t thread;
	uint64_t t0, t1;
	__u32 faults;
	void *ret;
	int rc;

	p.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p.stop_fd < 0 || pthread_create(&thread, NULL, pager_thread, &p))
		die("start the fault handler");
	t0 = now_ns();
	rc = mock_dma(&m, IOVA, LENGTH, data, flags, &faults);
	t1 = now_ns();
	if (rc)
		printf("# the device's access failed: %s\n", strerror(errno));
	eventfd_write(p.stop_fd, 1);
	pthread_join(thread, &ret);
	if (ret)
		die(ret);
	printf("# device %s %lu KiB at 0x%llx: %u faults (page request groups),\n"
	       "#   %lu pages mapped on demand, %.1f us per resolved page\n",
	       what, LENGTH / 1024, IOVA, faults, p.pages,
	       (t1 - t0) / 1000.0 / (p.pages ? p.pages : 1));
	tap(!rc && faults == p.groups && p.pages == LENGTH / p.page_size,
	    "every page arrived on demand, each fault answered once");
	tap(!memcmp(mem, data, LENGTH), "the data is verified byte for byte");
	if (mock_ioas_unmap(&m, IOVA, LENGTH))
		die("unmap");
	close(p.stop_fd);
	munmap(mem, LENGTH);
	munmap(data, LENGTH);
}

int main(void)
{
	__u32 hwpt_id;

	printf("TAP version 13\n");
	if (mock_iopf_setup(&m))
		die(m.failed);
	if (mock_paging_fault_hwpt(&m, &hwpt_id))
		die("attach the device to a paging HWPT with fault_id");
	printf("# IO demand paging: paging HWPT %u reports its faults to fault queue %u;\n"
	       "#   nothing is mapped at 0x%llx until the device faults on it\n",
	       hwpt_id, m.fault_id, IOVA);
	demand(0, "read");
	demand(MOCK_DMA_WRITE, "wrote");
	close(m.fault_fd);
	printf("1..%d\n", step);
	printf("# demo: %s\n", failed ? "FAILED" :
	       "faults resolved: the device's accesses completed with the right data");
	return failed ? 1 : 0;
}
