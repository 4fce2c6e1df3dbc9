/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the demo and the benchmark share: a mock device of the iommufd
 * selftest driver attached to a nested HWPT whose faults go to a fault
 * queue. Only uAPI and test ops that the unrewound Debian kernel has too,
 * so the benchmark runs unchanged on both; the demand paging part needs
 * the series' IOMMU_TEST_OP_DMA and is built where the kernel's
 * iommufd_test.h has it (scripts/demo.sh defines HAVE_MOCK_DMA), as is the
 * switch of the response log (HAVE_MOCK_IOPF_LOG).
 */
#ifndef MOCK_IOPF_H
#define MOCK_IOPF_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include "iommufd_test.h"

struct mock_iopf {
	int iommufd;
	__u32 ioas_id;
	__u32 dev_id;		/* iommufd device id, as fault records carry */
	__u32 stdev_id;		/* selftest device object, for replace */
	__u32 fault_id;
	int fault_fd;
	__u32 parent_id;
	__u32 hwpt_id;		/* nested, faults go to fault_id */
	const char *failed;	/* the step that failed, errno says why */
};

static inline int mock_test_cmd(int iommufd, struct iommu_test_cmd *cmd,
				__u32 op)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	return ioctl(iommufd, IOMMU_TEST_CMD, cmd);
}

/* Move the mock device to the IOAS or HWPT @pt_id */
static inline int mock_replace(struct mock_iopf *m, __u32 pt_id)
{
	struct iommu_test_cmd cmd = {
		.id = m->stdev_id,
		.mock_domain_replace = { .pt_id = pt_id },
	};

	return mock_test_cmd(m->iommufd, &cmd,
			     IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE);
}

/* One single-fault group, as the device would report it */
static inline int mock_trigger(struct mock_iopf *m, __u32 grpid, __u64 addr)
{
	struct iommu_test_cmd cmd = {
		.trigger_iopf = {
			.dev_id = m->dev_id,
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ |
				IOMMU_PGFAULT_PERM_WRITE,
			.addr = addr,
		},
	};

	return mock_test_cmd(m->iommufd, &cmd, IOMMU_TEST_OP_TRIGGER_IOPF);
}

#define MOCK_STEP(m, what, call)			\
	do {						\
		if (call) {				\
			(m)->failed = (what);		\
			return -1;			\
		}					\
	} while (0)

/*
 * Open /dev/iommu and build: IOAS, mock device, fault queue, nesting
 * parent, nested HWPT with fault_id; the device is left attached to the
 * nested HWPT. On failure m->failed names the step and errno is set.
 */
static inline int mock_iopf_setup(struct mock_iopf *m)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent) };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };
	struct iommu_test_cmd mock = {};

	memset(m, 0, sizeof(*m));
	m->fault_fd = -1;
	m->iommufd = open("/dev/iommu", O_RDWR);
	MOCK_STEP(m, "open /dev/iommu", m->iommufd < 0);
	MOCK_STEP(m, "allocate an IOAS",
		  ioctl(m->iommufd, IOMMU_IOAS_ALLOC, &ioas));
	m->ioas_id = ioas.out_ioas_id;

	mock.id = m->ioas_id;
	MOCK_STEP(m, "create a mock device",
		  mock_test_cmd(m->iommufd, &mock,
				IOMMU_TEST_OP_MOCK_DOMAIN));
	m->dev_id = mock.mock_domain.out_idev_id;
	m->stdev_id = mock.mock_domain.out_stdev_id;

	MOCK_STEP(m, "IOMMU_FAULT_QUEUE_ALLOC",
		  ioctl(m->iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fault));
	m->fault_id = fault.out_fault_id;
	m->fault_fd = fault.out_fault_fd;

	parent.dev_id = m->dev_id;
	parent.pt_id = m->ioas_id;
	parent.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	MOCK_STEP(m, "allocate the nesting parent HWPT",
		  ioctl(m->iommufd, IOMMU_HWPT_ALLOC, &parent));
	m->parent_id = parent.out_hwpt_id;

	nested.dev_id = m->dev_id;
	nested.pt_id = m->parent_id;
	nested.flags = IOMMU_HWPT_FAULT_ID_VALID;
	nested.fault_id = m->fault_id;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (__u64)(unsigned long)&data;
	MOCK_STEP(m, "allocate a nested HWPT with fault_id",
		  ioctl(m->iommufd, IOMMU_HWPT_ALLOC, &nested));
	m->hwpt_id = nested.out_hwpt_id;

	MOCK_STEP(m, "attach the device to the nested HWPT",
		  mock_replace(m, m->hwpt_id));
	return 0;
}

#ifdef HAVE_MOCK_IOPF_LOG
/* Stop (MOCK_IOPF_LOG_OFF) or resume the response log of the device */
static inline int mock_iopf_log(struct mock_iopf *m, __u32 arg)
{
	struct iommu_test_cmd cmd = {
		.iopf_knob = { .dev_id = m->dev_id, .arg = arg },
	};

	return mock_test_cmd(m->iommufd, &cmd, IOMMU_TEST_OP_IOPF_LOG);
}
#endif

#ifdef HAVE_MOCK_DMA
/*
 * Demand paging: the device accesses IOAS memory that is mapped when it
 * faults. The device's access (IOMMU_TEST_OP_DMA) stalls on a page that does
 * not translate until its group is answered, then retries it.
 */

/* Make the device read [@iova, @iova + @length) into @buf (MOCK_DMA_WRITE:
 * write @buf there); *@faults: the groups it raised */
static inline int mock_dma(struct mock_iopf *m, __u64 iova, __u64 length,
			   void *buf, __u32 flags, __u32 *faults)
{
	struct iommu_test_cmd cmd = {
		.dma = {
			.dev_id = m->dev_id,
			.flags = flags,
			.iova = iova,
			.length = length,
			.uptr = (__u64)(unsigned long)buf,
		},
	};
	int ret = mock_test_cmd(m->iommufd, &cmd, IOMMU_TEST_OP_DMA);

	if (faults)
		*faults = cmd.dma.out_faults;
	return ret;
}

/* Attach the device to a paging HWPT of the IOAS whose faults go to the queue */
static inline int mock_paging_fault_hwpt(struct mock_iopf *m, __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc hwpt = {
		.size = sizeof(hwpt),
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = m->dev_id,
		.pt_id = m->ioas_id,
		.fault_id = m->fault_id,
	};

	if (ioctl(m->iommufd, IOMMU_HWPT_ALLOC, &hwpt))
		return -1;
	*hwpt_id = hwpt.out_hwpt_id;
	return mock_replace(m, hwpt.out_hwpt_id);
}

static inline int mock_ioas_map(struct mock_iopf *m, __u64 iova, void *va,
				__u64 length)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = m->ioas_id,
		.user_va = (__u64)(unsigned long)va,
		.length = length,
		.iova = iova,
	};

	return ioctl(m->iommufd, IOMMU_IOAS_MAP, &map);
}

static inline int mock_ioas_unmap(struct mock_iopf *m, __u64 iova,
				  __u64 length)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = m->ioas_id,
		.iova = iova,
		.length = length,
	};

	return ioctl(m->iommufd, IOMMU_IOAS_UNMAP, &unmap);
}

/*
 * The fault handler of a VMM that maps guest memory on demand, as
 * Documentation/userspace-api/iommufd.rst shows it: wait for the queue, read
 * a batch of records, map the page of each record from @mem (which backs
 * [@iova, @iova + @length) of the IOAS), and answer all the groups of the
 * batch in one write(). A fault outside the memory gets INVALID. Runs until
 * @stop_fd is readable; returns 0 or -1 with errno set.
 */
struct mock_pager {
	struct mock_iopf *m;
	__u64 iova;
	__u64 length;
	void *mem;
	long page_size;
	int stop_fd;
	unsigned long groups;
	unsigned long pages;
};

static inline __u32 mock_pager_map(struct mock_pager *p, __u64 addr)
{
	__u64 iova = addr & ~(__u64)(p->page_size - 1);

	if (iova < p->iova || iova - p->iova >= p->length)
		return IOMMUFD_PAGE_RESP_INVALID;
	/* EEXIST: a group before it in the batch mapped the page */
	if (mock_ioas_map(p->m, iova, (char *)p->mem + (iova - p->iova),
			  p->page_size) && errno != EEXIST)
		return IOMMUFD_PAGE_RESP_INVALID;
	p->pages++;
	return IOMMUFD_PAGE_RESP_SUCCESS;
}

static inline int mock_pager_run(struct mock_pager *p)
{
	struct iommu_hwpt_pgfault rec[64];
	struct iommu_hwpt_page_response resp[64];
	struct pollfd pfd[] = {
		{ .fd = p->m->fault_fd, .events = POLLIN },
		{ .fd = p->stop_fd, .events = POLLIN },
	};
	__u32 code = IOMMUFD_PAGE_RESP_SUCCESS;

	while (!(pfd[1].revents & POLLIN)) {
		unsigned int i, n = 0;
		ssize_t len;

		if (poll(pfd, 2, -1) < 0)
			return -1;
		/* EPOLLHUP: the queue was destroyed */
		if (pfd[0].revents & (POLLHUP | POLLERR)) {
			errno = EPIPE;
			return -1;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		len = read(p->m->fault_fd, rec, sizeof(rec));
		if (len < 0 && errno == EAGAIN)
			continue;
		if (len < 0)
			return -1;
		for (i = 0; i != len / sizeof(rec[0]); i++) {
			if (mock_pager_map(p, rec[i].addr))
				code = IOMMUFD_PAGE_RESP_INVALID;
			if (!(rec[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			resp[n].cookie = rec[i].cookie;
			resp[n++].code = code;
			code = IOMMUFD_PAGE_RESP_SUCCESS;
		}
		if (n && write(p->m->fault_fd, resp, n * sizeof(resp[0])) !=
				 (ssize_t)(n * sizeof(resp[0])))
			return -1;
		p->groups += n;
	}
	return 0;
}
#endif /* HAVE_MOCK_DMA */

#endif
