/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the demo and the benchmark share: a mock device of the iommufd
 * selftest driver attached to a nested HWPT whose faults go to a fault
 * queue. Only uAPI and test ops that the unrewound Debian kernel has too,
 * so the benchmark runs unchanged on both.
 */
#ifndef MOCK_IOPF_H
#define MOCK_IOPF_H

#include <fcntl.h>
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

#endif
