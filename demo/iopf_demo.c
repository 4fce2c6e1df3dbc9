// SPDX-License-Identifier: GPL-2.0-only
/*
 * make run: one IO page fault, end to end, as a VMM would see it.
 *
 * A mock device (the iommufd selftest driver) is attached to a nested HWPT
 * whose faults go to a fault queue. The device faults; the fault is read
 * from the queue, answered, and the answer is shown arriving at the device.
 * A second fault is left unanswered and the device moved away: the kernel
 * answers it for us, exactly once. Each step prints what it did and a TAP
 * line, so the run is both a demo and a check.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_tap.h"
#include "mock_iopf.h"

static struct mock_iopf m;

static void show_fdinfo(int fd)
{
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "pending", 7) ||
		    !strncmp(line, "unanswered", 10) ||
		    !strncmp(line, "total", 5) ||
		    !strncmp(line, "answered", 8) ||
		    !strncmp(line, "auto_answered", 13))
			printf("#   fdinfo %s", line);
	fclose(f);
}

static void trigger(__u32 grpid, __u64 addr)
{
	if (mock_trigger(&m, grpid, addr))
		die("trigger a page fault on the mock device");
	printf("# device %u faulted at 0x%llx (group %u, read+write)\n",
	       m.dev_id, (unsigned long long)addr, grpid);
}

/* Pop what the mock device received since the last call */
static int device_log(__u32 dev_id, struct iommu_test_iopf_response *out,
		      int max)
{
	struct iommu_test_cmd cmd = {
		.iopf_responses = {
			.dev_id = dev_id,
			.count = max,
			.uptr = (__u64)(unsigned long)out,
		},
	};

	if (mock_test_cmd(m.iommufd, &cmd, IOMMU_TEST_OP_IOPF_RESPONSES))
		die("read the responses the mock device received");
	return cmd.iopf_responses.count;
}

static const char *code_name(__u32 code)
{
	return code == 0 ? "SUCCESS" : code == 1 ? "INVALID" : "FAILURE";
}

/* What the device received since the last look, printed */
static int show_device_log(__u32 dev_id, struct iommu_test_iopf_response *got)
{
	int n = device_log(dev_id, got, 4);

	if (n > 0)
		printf("# the device received: grpid=%u code=%s\n",
		       got[0].grpid, code_name(got[0].code));
	return n;
}

static struct iommu_hwpt_pgfault read_fault(int fd)
{
	struct iommu_hwpt_pgfault rec;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	tap(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN),
	    "the fault queue is readable");
	if (read(fd, &rec, sizeof(rec)) != sizeof(rec))
		die("read a fault record");
	printf("# read: dev_id=%u addr=0x%llx grpid=%u perm=0x%x flags=0x%x cookie=%u\n",
	       rec.dev_id, (unsigned long long)rec.addr, rec.grpid, rec.perm,
	       rec.flags, rec.cookie);
	return rec;
}

int main(void)
{
	struct iommu_test_iopf_response got[4];
	struct iommu_hwpt_page_response resp;
	struct iommu_hwpt_pgfault rec;
	__u32 dev_id;
	int n, fd;

	printf("TAP version 13\n");
	if (mock_iopf_setup(&m))
		die(m.failed);
	dev_id = m.dev_id;
	fd = m.fault_fd;
	printf("# mock device: iommufd device id %u\n", dev_id);
	printf("# fault queue: object id %u, fd %d\n", m.fault_id, fd);
	printf("# nested HWPT %u reports its faults to fault queue %u\n",
	       m.hwpt_id, m.fault_id);
	tap(true, "device attached to a fault capable HWPT");

	/* 1: a fault, read and answered by user space */
	trigger(7, 0x100000);
	rec = read_fault(fd);
	tap(rec.dev_id == dev_id && rec.addr == 0x100000 && rec.grpid == 7 &&
	    (rec.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE),
	    "the record names the device, the address and the group");
	resp.cookie = rec.cookie;
	resp.code = IOMMUFD_PAGE_RESP_SUCCESS;
	tap(write(fd, &resp, sizeof(resp)) == sizeof(resp),
	    "response SUCCESS written");
	n = show_device_log(dev_id, got);
	tap(n == 1 && got[0].grpid == 7 && got[0].code == 0,
	    "the device received exactly one SUCCESS for group 7");
	show_fdinfo(fd);

	/* 2: a fault left unanswered when the device moves away */
	trigger(8, 0x200000);
	rec = read_fault(fd);
	if (mock_replace(&m, m.ioas_id))
		die("move the device back to the IOAS");
	printf("# device moved back to the IOAS with group 8 unanswered\n");
	n = show_device_log(dev_id, got);
	tap(n == 1 && got[0].grpid == 8 && got[0].code == 1,
	    "the kernel answered group 8 INVALID, once");
	resp.cookie = rec.cookie;
	tap(write(fd, &resp, sizeof(resp)) < 0 && errno == EINVAL,
	    "a late response for group 8 is refused with EINVAL");
	show_fdinfo(fd);

	close(fd);
	printf("1..%d\n", step);
	printf("# demo: %s\n", failed ? "FAILED" : "a fault went to user space and back");
	return failed ? 1 : 0;
}
