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
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"

static int iommufd;
static int step, failed;

static void tap(bool ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++step, what);
	if (!ok)
		failed++;
}

static int test_cmd(struct iommu_test_cmd *cmd, __u32 op)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	return ioctl(iommufd, IOMMU_TEST_CMD, cmd);
}

static void die(const char *what)
{
	printf("not ok %d - %s: %s\n", ++step, what, strerror(errno));
	printf("1..%d\n", step);
	exit(1);
}

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

static void trigger(__u32 dev_id, __u32 grpid, __u64 addr)
{
	struct iommu_test_cmd cmd = {
		.trigger_iopf = {
			.dev_id = dev_id,
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ |
				IOMMU_PGFAULT_PERM_WRITE,
			.addr = addr,
		},
	};

	if (test_cmd(&cmd, IOMMU_TEST_OP_TRIGGER_IOPF))
		die("trigger a page fault on the mock device");
	printf("# device %u faulted at 0x%llx (group %u, read+write)\n",
	       dev_id, (unsigned long long)addr, grpid);
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

	if (test_cmd(&cmd, IOMMU_TEST_OP_IOPF_RESPONSES))
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

/* Move the mock device @stdev_id to the IOAS or HWPT @pt_id */
static void replace(__u32 stdev_id, __u32 pt_id, const char *what)
{
	struct iommu_test_cmd cmd = {
		.id = stdev_id,
		.mock_domain_replace = { .pt_id = pt_id },
	};

	if (test_cmd(&cmd, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE))
		die(what);
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
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_test_cmd mock = { .id = 0 };
	struct iommu_test_iopf_response got[4];
	struct iommu_hwpt_page_response resp;
	struct iommu_hwpt_pgfault rec;
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent) };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };
	__u32 dev_id, stdev_id;
	int n, fd;

	printf("TAP version 13\n");
	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		die("open /dev/iommu");
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas))
		die("allocate an IOAS");

	mock.id = ioas.out_ioas_id;
	if (test_cmd(&mock, IOMMU_TEST_OP_MOCK_DOMAIN))
		die("create a mock device");
	dev_id = mock.mock_domain.out_idev_id;
	stdev_id = mock.mock_domain.out_stdev_id;
	printf("# mock device: iommufd device id %u\n", dev_id);

	if (ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fault))
		die("IOMMU_FAULT_QUEUE_ALLOC");
	fd = fault.out_fault_fd;
	printf("# fault queue: object id %u, fd %d\n", fault.out_fault_id, fd);

	parent.dev_id = dev_id;
	parent.pt_id = ioas.out_ioas_id;
	parent.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &parent))
		die("allocate the nesting parent HWPT");

	nested.dev_id = dev_id;
	nested.pt_id = parent.out_hwpt_id;
	nested.flags = IOMMU_HWPT_FAULT_ID_VALID;
	nested.fault_id = fault.out_fault_id;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (__u64)(unsigned long)&data;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &nested))
		die("allocate a nested HWPT with fault_id");
	printf("# nested HWPT %u reports its faults to fault queue %u\n",
	       nested.out_hwpt_id, fault.out_fault_id);

	replace(stdev_id, nested.out_hwpt_id,
		"attach the device to the nested HWPT");
	tap(true, "device attached to a fault capable HWPT");

	/* 1: a fault, read and answered by user space */
	trigger(dev_id, 7, 0x100000);
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
	trigger(dev_id, 8, 0x200000);
	rec = read_fault(fd);
	replace(stdev_id, ioas.out_ioas_id, "move the device back to the IOAS");
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
