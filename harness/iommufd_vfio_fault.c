// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault queues (IOMMU_FAULT_QUEUE_ALLOC) with a real IOMMU driver, Intel
 * VT-d or Arm SMMUv3: a PCI device is bound to vfio-pci and given to iommufd
 * through its VFIO cdev.
 *
 * The mock IOMMU of iommufd_test accepts IOPF on every device; a real driver
 * does not. On Intel VT-d, enabling IOPF needs ATS and PRI, which QEMU's `edu`
 * device (1234:11e8), the device this program prefers, does not have; the
 * SMMUv3 driver takes IOPF only from devices that can stall, which a PCI
 * device cannot. So the tests check that a fault capable HWPT is refused
 * cleanly there, and that the refusal leaves the device, the HWPT and the
 * fault queue usable and unreferenced. When the device is `edu`, its DMA
 * engine checks that the mappings really reach the device.
 *
 * Set IOMMUFD_VFIO_FAULT_BDF to use another device: it is unbound from its
 * driver while the tests run. It must be alone in its IOMMU group.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"
#define VFIO_PCI_DRIVER PCI_DRIVERS "/vfio-pci"

/* QEMU's educational device, hw/misc/edu.c */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN 0x1
#define EDU_DMA_TO_PCI 0x2
/* The device's own DMA buffer, as the engine addresses it */
#define EDU_DMA_BUF 0x40000
/*
 * Less than its 4096 bytes: QEMU 7.2 refuses a transfer that ends at the end
 * of the buffer, by aborting the whole VM.
 */
#define EDU_DMA_LEN 2048

/*
 * Below edu's 28 bit DMA mask, clear of the x86 reserved regions and of the
 * SMMUv3's MSI window (0x8000000)
 */
#define TEST_IOVA 0x100000UL

static long page_size;

/* sysfs */

static int sysfs_write(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	ssize_t ret;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, len);
	if (ret < 0)
		ret = -errno;
	close(fd);
	if (ret < 0)
		return ret;
	return ret == len ? 0 : -EIO;
}

/* Read a one line attribute, without its newline */
static int sysfs_read(const char *path, char *buf, size_t size)
{
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = read(fd, buf, size - 1);
	if (ret < 0)
		ret = -errno;
	close(fd);
	if (ret < 0)
		return ret;
	buf[ret] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static void pci_attr(char *path, const char *bdf, const char *attr)
{
	snprintf(path, PATH_MAX, PCI_DEVICES "/%s/%s", bdf, attr);
}

static unsigned long pci_read_id(const char *bdf, const char *attr)
{
	char path[PATH_MAX], buf[32];

	pci_attr(path, bdf, attr);
	if (sysfs_read(path, buf, sizeof(buf)))
		return 0;
	return strtoul(buf, NULL, 16);
}

static bool pci_is_edu(const char *bdf)
{
	return pci_read_id(bdf, "vendor") == EDU_VENDOR &&
	       pci_read_id(bdf, "device") == EDU_DEVICE;
}

/* The name of the driver bound to @bdf, "" when none */
static void pci_driver(const char *bdf, char *name, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t len;

	name[0] = 0;
	pci_attr(path, bdf, "driver");
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return;
	link[len] = 0;
	snprintf(name, size, "%s", strrchr(link, '/') + 1);
}

static bool pci_driver_is(const char *bdf, const char *want)
{
	char name[64];

	pci_driver(bdf, name, sizeof(name));
	return !strcmp(name, want);
}

static int pci_find_device(char *bdf, size_t size)
{
	const char *env = getenv("IOMMUFD_VFIO_FAULT_BDF");
	struct dirent *de;
	DIR *dir;

	if (env && *env) {
		snprintf(bdf, size, "%s", env);
		return pci_read_id(bdf, "vendor") ? 0 : -ENOENT;
	}
	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !pci_is_edu(de->d_name))
			continue;
		snprintf(bdf, size, "%s", de->d_name);
		closedir(dir);
		return 0;
	}
	closedir(dir);
	return -ENOENT;
}

/* The IOMMU driver in front of a device */
enum dev_iommu {
	DEV_IOMMU_OTHER,
	DEV_IOMMU_VTD,
	DEV_IOMMU_SMMUV3,
};

/*
 * From the name of the IOMMU that @bdf links to in sysfs: dmar<N> for VT-d,
 * smmu3.<base address> for SMMUv3 (which has no IOMMU_GET_HW_INFO in 6.12)
 */
static enum dev_iommu pci_iommu(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *name;
	ssize_t len;

	pci_attr(path, bdf, "iommu");
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return DEV_IOMMU_OTHER;
	link[len] = 0;
	name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (!strncmp(name, "dmar", 4))
		return DEV_IOMMU_VTD;
	if (!strncmp(name, "smmu3.", 6))
		return DEV_IOMMU_SMMUV3;
	return DEV_IOMMU_OTHER;
}

/* How many devices share the IOMMU group of @bdf; -errno when it has none */
static int pci_group_size(const char *bdf)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	pci_attr(path, bdf, "iommu_group/devices");
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Whether the PCIe extended capability @id is in the config space of @bdf */
static bool pci_has_ext_cap(const char *bdf, unsigned int id)
{
	unsigned char cfg[PCI_CFG_SPACE_EXP_SIZE];
	char path[PATH_MAX];
	unsigned int pos = PCI_CFG_SPACE_SIZE;
	ssize_t len;
	int loops;
	int fd;

	pci_attr(path, bdf, "config");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	len = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);

	for (loops = 0; loops < PCI_CFG_SPACE_EXP_SIZE / 8; loops++) {
		unsigned int header;

		if (pos < PCI_CFG_SPACE_SIZE || pos + 4 > len)
			return false;
		memcpy(&header, cfg + pos, sizeof(header));
		if (!header)
			return false;
		if (PCI_EXT_CAP_ID(header) == id)
			return true;
		pos = PCI_EXT_CAP_NEXT(header);
	}
	return false;
}

/* /dev/vfio/devices/vfioN of @bdf, which vfio-pci made */
static int vfio_cdev_path(const char *bdf, char *cdev, size_t size)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	pci_attr(path, bdf, "vfio-dev");
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(cdev, size, "/dev/vfio/devices/%s", de->d_name);
		closedir(dir);
		return 0;
	}
	closedir(dir);
	return -ENOENT;
}

/* ioctls, returning 0 or -errno */

static int vfio_bind_iommufd(int devfd, int iommufd, __u32 *dev_id)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	*dev_id = bind.out_devid;
	return 0;
}

static int vfio_attach(int devfd, __u32 *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = *pt_id,
	};

	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	*pt_id = attach.pt_id;
	return 0;
}

static int vfio_detach(int devfd)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};

	if (ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach))
		return -errno;
	return 0;
}

static int vfio_region(int devfd, __u32 index, __u64 *offset)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = index,
	};

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	*offset = info.offset;
	return 0;
}

static int ioas_alloc(int iommufd, __u32 *ioas_id)
{
	struct iommu_ioas_alloc cmd = {
		.size = sizeof(cmd),
	};

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &cmd))
		return -errno;
	*ioas_id = cmd.out_ioas_id;
	return 0;
}

static int ioas_map(int iommufd, __u32 ioas_id, void *buf, size_t length,
		    __u64 iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova = iova,
	};

	if (ioctl(iommufd, IOMMU_IOAS_MAP, &cmd))
		return -errno;
	return 0;
}

static int ioas_unmap(int iommufd, __u32 ioas_id, __u64 iova, __u64 length,
		      __u64 *out_length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &cmd))
		return -errno;
	*out_length = cmd.length;
	return 0;
}

static int fault_alloc(int iommufd, __u32 flags, __u32 *fault_id,
		       int *fault_fd)
{
	struct iommu_fault_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
	};

	if (ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &cmd))
		return -errno;
	*fault_id = cmd.out_fault_id;
	*fault_fd = cmd.out_fault_fd;
	return 0;
}

static int hwpt_alloc(int iommufd, __u32 dev_id, __u32 pt_id, __u32 flags,
		      __u32 fault_id, __u32 data_type, void *data,
		      __u32 data_len, __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
		.fault_id = fault_id,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

static int paging_alloc(int iommufd, __u32 dev_id, __u32 ioas_id,
			__u32 flags, __u32 fault_id, __u32 *hwpt_id)
{
	return hwpt_alloc(iommufd, dev_id, ioas_id, flags, fault_id,
			  IOMMU_HWPT_DATA_NONE, NULL, 0, hwpt_id);
}

static int iommufd_destroy(int iommufd, __u32 id)
{
	struct iommu_destroy cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	if (ioctl(iommufd, IOMMU_DESTROY, &cmd))
		return -errno;
	return 0;
}

/* The VT-d capability registers, when the device is behind VT-d */
static int vtd_hw_info(int iommufd, __u32 dev_id,
		       struct iommu_hw_info_vtd *vtd)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = sizeof(*vtd),
		.data_uptr = (uintptr_t)vtd,
	};

	memset(vtd, 0, sizeof(*vtd));
	if (ioctl(iommufd, IOMMU_GET_HW_INFO, &cmd))
		return -errno;
	return cmd.out_data_type == IOMMU_HW_INFO_TYPE_INTEL_VTD ? 0 : -ENODEV;
}

/* The read() of a fault queue: bytes read or -errno */
static ssize_t fault_read(int fault_fd, void *buf, size_t size)
{
	ssize_t ret = read(fault_fd, buf, size);

	return ret < 0 ? -errno : ret;
}

static ssize_t fault_write(int fault_fd, const void *buf, size_t size)
{
	ssize_t ret = write(fault_fd, buf, size);

	return ret < 0 ? -errno : ret;
}

/* Whether /proc/self/fdinfo of @fd has the line "@key:\t@val" */
static bool fdinfo_has(int fd, const char *key, const char *val)
{
	char path[64], buf[1024], line[128];
	ssize_t len;
	int info;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY);
	if (info < 0)
		return false;
	len = read(info, buf, sizeof(buf) - 1);
	close(info);
	if (len < 0)
		return false;
	buf[len] = 0;
	snprintf(line, sizeof(line), "\n%s:\t%s\n", key, val);
	return strstr(buf, line);
}

/* The device under test, and what the tests opened on it */
struct vfio_dev {
	char bdf[NAME_MAX + 1];
	bool edu;
	enum dev_iommu iommu;
	/* The driver and driver_override to restore in the teardown */
	char orig_driver[64];
	char orig_override[64];
	/* /dev/vfio/devices/vfioN, its fd, bound to the iommufd */
	char cdev[PATH_MAX];
	int devfd;
	int iommufd;
	__u32 dev_id;
	__u32 ioas_id;
	/* Two pages, mapped at TEST_IOVA by the tests */
	void *buf;
	size_t buf_size;
	/* Offsets of the BAR0 and config space regions in devfd */
	__u64 bar0;
	__u64 config;
};

FIXTURE(vfio_fault)
{
	struct vfio_dev dev;
};

/* Bind the device to vfio-pci, through @probe or vfio-pci's bind file */
static int vfio_pci_bind(struct vfio_dev *dev, const char *probe)
{
	char path[PATH_MAX], drv[64];
	int rc;

	pci_attr(path, dev->bdf, "driver_override");
	rc = sysfs_write(path, "vfio-pci");
	if (rc)
		return rc;
	pci_driver(dev->bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0]) {
		pci_attr(path, dev->bdf, "driver/unbind");
		rc = sysfs_write(path, dev->bdf);
		if (rc)
			return rc;
	}
	rc = sysfs_write(probe, dev->bdf);
	if (rc)
		return rc;
	return pci_driver_is(dev->bdf, "vfio-pci") ? 0 : -ENXIO;
}

static int vfio_pci_unbind(struct vfio_dev *dev)
{
	if (!pci_driver_is(dev->bdf, "vfio-pci"))
		return 0;
	return sysfs_write(VFIO_PCI_DRIVER "/unbind", dev->bdf);
}

/* Unbind from vfio-pci, then give the device back to its own driver */
static int vfio_pci_restore(struct vfio_dev *dev)
{
	const char *override = dev->orig_override;
	char path[PATH_MAX];
	int rc, rc2;

	rc = vfio_pci_unbind(dev);
	/* A newline clears it */
	if (!strcmp(override, "(null)"))
		override = "\n";
	pci_attr(path, dev->bdf, "driver_override");
	rc2 = sysfs_write(path, override);
	if (!rc)
		rc = rc2;
	if (!dev->orig_driver[0] || pci_driver_is(dev->bdf, dev->orig_driver))
		return rc;
	snprintf(path, sizeof(path), PCI_DRIVERS "/%s/bind", dev->orig_driver);
	rc2 = sysfs_write(path, dev->bdf);
	return rc ? rc : rc2;
}

/* Open the VFIO cdev, bind it to a new iommufd and give that an IOAS */
static int vfio_open(struct __test_metadata *_metadata, struct vfio_dev *dev)
{
	int rc;

	rc = vfio_cdev_path(dev->bdf, dev->cdev, sizeof(dev->cdev));
	if (rc) {
		TH_LOG("%s has no vfio-dev: %s", dev->bdf, strerror(-rc));
		return rc;
	}
	dev->iommufd = open("/dev/iommu", O_RDWR);
	if (dev->iommufd < 0) {
		rc = -errno;
		TH_LOG("open /dev/iommu: %s", strerror(-rc));
		return rc;
	}
	dev->devfd = open(dev->cdev, O_RDWR);
	if (dev->devfd < 0) {
		rc = -errno;
		TH_LOG("open %s: %s", dev->cdev, strerror(-rc));
		return rc;
	}
	rc = vfio_bind_iommufd(dev->devfd, dev->iommufd, &dev->dev_id);
	if (rc) {
		TH_LOG("VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(-rc));
		return rc;
	}
	rc = ioas_alloc(dev->iommufd, &dev->ioas_id);
	if (rc) {
		TH_LOG("IOMMU_IOAS_ALLOC: %s", strerror(-rc));
		return rc;
	}
	if (!dev->edu)
		return 0;
	rc = vfio_region(dev->devfd, VFIO_PCI_BAR0_REGION_INDEX, &dev->bar0);
	if (!rc)
		rc = vfio_region(dev->devfd, VFIO_PCI_CONFIG_REGION_INDEX,
				 &dev->config);
	if (rc)
		TH_LOG("VFIO_DEVICE_GET_REGION_INFO: %s", strerror(-rc));
	return rc;
}

/* Close what vfio_open() opened; -errno of the first close that failed */
static int vfio_close(struct vfio_dev *dev)
{
	int rc = 0;

	if (dev->devfd >= 0 && close(dev->devfd))
		rc = -errno;
	dev->devfd = -1;
	if (dev->iommufd >= 0 && close(dev->iommufd) && !rc)
		rc = -errno;
	dev->iommufd = -1;
	return rc;
}

FIXTURE_SETUP(vfio_fault)
{
	struct vfio_dev *dev = &self->dev;
	char path[PATH_MAX];
	int group, rc;

	dev->iommufd = -1;
	dev->devfd = -1;
	page_size = sysconf(_SC_PAGE_SIZE);

	if (access("/dev/iommu", R_OK | W_OK))
		SKIP(return, "no /dev/iommu (CONFIG_IOMMUFD)");
	if (pci_find_device(dev->bdf, sizeof(dev->bdf)))
		SKIP(return, "no QEMU edu PCI device (%04x:%04x) %s",
		     EDU_VENDOR, EDU_DEVICE,
		     "nor one named by IOMMUFD_VFIO_FAULT_BDF");
	if (access(VFIO_PCI_DRIVER, F_OK))
		SKIP(return, "no vfio-pci driver (CONFIG_VFIO_PCI)");
	dev->edu = pci_is_edu(dev->bdf);

	pci_driver(dev->bdf, dev->orig_driver, sizeof(dev->orig_driver));
	pci_attr(path, dev->bdf, "driver_override");
	ASSERT_EQ(0, sysfs_read(path, dev->orig_override,
				sizeof(dev->orig_override)));

	/*
	 * Where the device tree describes the IOMMU (SMMUv3 on Arm), a device
	 * joins its IOMMU and gets a group only when a driver binds to it: look
	 * at the group with vfio-pci bound, whose probe fails without one.
	 */
	rc = vfio_pci_bind(dev, VFIO_PCI_DRIVER "/bind");
	group = pci_group_size(dev->bdf);
	if (group < 0) {
		vfio_pci_restore(dev);
		SKIP(return, "%s has no IOMMU group: is the IOMMU active?",
		     dev->bdf);
	}
	if (group != 1) {
		vfio_pci_restore(dev);
		SKIP(return, "%s shares its IOMMU group with %d devices",
		     dev->bdf, group - 1);
	}
	if (rc) {
		vfio_pci_restore(dev);
		ASSERT_EQ(0, rc) TH_LOG("binding %s to vfio-pci: %s",
					dev->bdf, strerror(-rc));
	}
	dev->iommu = pci_iommu(dev->bdf);
	if (vfio_cdev_path(dev->bdf, dev->cdev, sizeof(dev->cdev))) {
		vfio_pci_restore(dev);
		SKIP(return, "%s has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV)",
		     dev->bdf);
	}
	rc = vfio_open(_metadata, dev);
	if (rc) {
		vfio_close(dev);
		vfio_pci_restore(dev);
		ASSERT_EQ(0, rc);
	}

	dev->buf_size = 2 * page_size;
	dev->buf = mmap(NULL, dev->buf_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dev->buf == MAP_FAILED) {
		dev->buf = NULL;
		vfio_close(dev);
		vfio_pci_restore(dev);
		ASSERT_TRUE(false) TH_LOG("mmap: %s", strerror(errno));
	}
}

FIXTURE_TEARDOWN(vfio_fault)
{
	struct vfio_dev *dev = &self->dev;

	if (dev->buf)
		munmap(dev->buf, dev->buf_size);
	EXPECT_EQ(0, vfio_close(dev));
	/* Hangs, and times out, while anything still holds the device */
	EXPECT_EQ(0, vfio_pci_restore(dev));
	EXPECT_TRUE(pci_driver_is(dev->bdf, dev->orig_driver));
}

/* edu: move @len bytes between @iova and the device's DMA buffer */
static int edu_dma(struct vfio_dev *dev, __u64 iova, size_t len, bool to_iova)
{
	__u32 src = to_iova ? EDU_DMA_BUF : iova;
	__u32 dst = to_iova ? iova : EDU_DMA_BUF;
	__u32 cnt = len;
	__u32 cmd = EDU_DMA_RUN | (to_iova ? EDU_DMA_TO_PCI : 0);
	int tries;

	/* 32 bit accesses: edu zero extends them into its 64 bit registers */
	if (pwrite(dev->devfd, &src, 4, dev->bar0 + EDU_DMA_SRC) != 4 ||
	    pwrite(dev->devfd, &dst, 4, dev->bar0 + EDU_DMA_DST) != 4 ||
	    pwrite(dev->devfd, &cnt, 4, dev->bar0 + EDU_DMA_CNT) != 4 ||
	    pwrite(dev->devfd, &cmd, 4, dev->bar0 + EDU_DMA_CMD) != 4)
		return -errno;
	/* edu runs the transfer from a 100ms timer */
	for (tries = 0; tries < 500; tries++) {
		usleep(10000);
		if (pread(dev->devfd, &cmd, 4, dev->bar0 + EDU_DMA_CMD) != 4)
			return -errno;
		if (!(cmd & EDU_DMA_RUN))
			return 0;
	}
	return -ETIMEDOUT;
}

/* Let edu decode its BAR and master the bus */
static void edu_enable(struct __test_metadata *_metadata, struct vfio_dev *dev)
{
	__u16 command;

	ASSERT_EQ(2, pread(dev->devfd, &command, 2, dev->config + PCI_COMMAND));
	command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(2, pwrite(dev->devfd, &command, 2, dev->config + PCI_COMMAND));
}

/*
 * Check that the IOVA range [TEST_IOVA, TEST_IOVA + buf_size) reaches the
 * buffer: edu reads the start of the first page into its own buffer and
 * writes that to the second page.
 */
static void edu_check_dma(struct __test_metadata *_metadata,
			  struct vfio_dev *dev)
{
	unsigned char *buf = dev->buf;
	long i;

	if (!dev->edu)
		return;

	edu_enable(_metadata, dev);
	for (i = 0; i < page_size; i++)
		buf[i] = i * 7 + getpid();
	memset(buf + page_size, 0, page_size);
	ASSERT_EQ(0, edu_dma(dev, TEST_IOVA, EDU_DMA_LEN, false));
	ASSERT_EQ(0, edu_dma(dev, TEST_IOVA + page_size, EDU_DMA_LEN, true));
	ASSERT_EQ(0, memcmp(buf, buf + page_size, EDU_DMA_LEN))
		TH_LOG("edu DMA through the IOMMU did not reach the buffer");
}

/* Map the buffer into the IOAS, let the device use it, unmap it */
static void check_map(struct __test_metadata *_metadata, struct vfio_dev *dev)
{
	__u64 length = 0;

	ASSERT_EQ(0, ioas_map(dev->iommufd, dev->ioas_id, dev->buf,
			      dev->buf_size, TEST_IOVA));
	edu_check_dma(_metadata, dev);
	ASSERT_EQ(0, ioas_unmap(dev->iommufd, dev->ioas_id, TEST_IOVA,
				dev->buf_size, &length));
	ASSERT_EQ(dev->buf_size, length);
}

/* The device attaches to @pt_id, DMAs through it, and detaches */
static void check_attach(struct __test_metadata *_metadata,
			 struct vfio_dev *dev, __u32 pt_id)
{
	__u32 id = pt_id;

	ASSERT_EQ(0, vfio_attach(dev->devfd, &id));
	/* The IOAS gives the device an automatic domain, whose ID comes back */
	EXPECT_EQ(pt_id == dev->ioas_id, id != pt_id);
	check_map(_metadata, dev);
	ASSERT_EQ(0, vfio_detach(dev->devfd));
}

/*
 * After a refused attach (-errno @refusal) to the fault capable HWPT
 * @hwpt_id the device must still be blocked, not left in the HWPT's domain,
 * which maps the IOAS too: edu's buffer holds 0x11 from an earlier DMA
 * through the automatic domain, and 0x22 must not make it there with the
 * device attached to nothing.
 */
static void check_still_blocked(struct __test_metadata *_metadata,
				struct vfio_dev *dev, __u32 hwpt_id,
				int refusal)
{
	unsigned char *buf = dev->buf;
	__u32 pt_id = dev->ioas_id;
	__u64 length = 0;

	if (!dev->edu)
		return;

	ASSERT_EQ(0, ioas_map(dev->iommufd, dev->ioas_id, dev->buf,
			      dev->buf_size, TEST_IOVA));
	ASSERT_EQ(0, vfio_attach(dev->devfd, &pt_id));
	edu_enable(_metadata, dev);
	memset(buf, 0x11, EDU_DMA_LEN);
	ASSERT_EQ(0, edu_dma(dev, TEST_IOVA, EDU_DMA_LEN, false));
	ASSERT_EQ(0, vfio_detach(dev->devfd));

	pt_id = hwpt_id;
	ASSERT_EQ(refusal, vfio_attach(dev->devfd, &pt_id));
	/* Faults in the IOMMU; edu reads zeroes */
	memset(buf, 0x22, EDU_DMA_LEN);
	ASSERT_EQ(0, edu_dma(dev, TEST_IOVA, EDU_DMA_LEN, false));

	pt_id = dev->ioas_id;
	ASSERT_EQ(0, vfio_attach(dev->devfd, &pt_id));
	memset(buf + page_size, 0x33, EDU_DMA_LEN);
	ASSERT_EQ(0, edu_dma(dev, TEST_IOVA + page_size, EDU_DMA_LEN, true));
	TH_LOG("edu's buffer after the blocked DMA: 0x%02x", buf[page_size]);
	EXPECT_NE(0x22, buf[page_size]);
	EXPECT_NE(0x33, buf[page_size]);
	ASSERT_EQ(0, vfio_detach(dev->devfd));
	ASSERT_EQ(0, ioas_unmap(dev->iommufd, dev->ioas_id, TEST_IOVA,
				dev->buf_size, &length));
}

/*
 * Whether VT-d might enable IOPF on the device, after logging what it offers.
 * intel_iommu_enable_iopf() wants ATS enabled and PRI supported: Device-TLB
 * (DT) and Page Request (PRS) support in the IOMMU and PRI in the device. Any
 * less and it fails with ENODEV, which reaches user space as is. -ENODEV when
 * the device is not behind VT-d.
 */
static int vtd_iopf_capable(struct __test_metadata *_metadata,
			    struct vfio_dev *dev)
{
	struct iommu_hw_info_vtd vtd;
	bool dt, prs, pri;

	if (vtd_hw_info(dev->iommufd, dev->dev_id, &vtd))
		return -ENODEV;
	dt = (vtd.ecap_reg >> 2) & 1;
	prs = (vtd.ecap_reg >> 29) & 1;
	pri = pci_has_ext_cap(dev->bdf, PCI_EXT_CAP_ID_PRI);
	TH_LOG("VT-d cap 0x%llx ecap 0x%llx: DT %d PRS %d NEST %d; %s PRI %d",
	       (unsigned long long)vtd.cap_reg,
	       (unsigned long long)vtd.ecap_reg, dt, prs,
	       (int)(vtd.ecap_reg >> 26) & 1, dev->bdf, pri);
	return dt && prs && pri;
}

/*
 * Whether the SMMUv3 driver might enable IOPF on the device, after logging
 * what the device offers. arm_smmu_dev_enable_feature() enables it only on
 * a master that can stall; a PCI device cannot, and the driver of 6.12 has
 * no PRI support, so it fails with EINVAL.
 */
static bool smmuv3_iopf_capable(struct __test_metadata *_metadata,
				struct vfio_dev *dev)
{
	TH_LOG("%s behind an SMMUv3: PRI %d ATS %d, no stall on PCI", dev->bdf,
	       pci_has_ext_cap(dev->bdf, PCI_EXT_CAP_ID_PRI),
	       pci_has_ext_cap(dev->bdf, PCI_EXT_CAP_ID_ATS));
	return false;
}

/*
 * The error the IOMMU driver refuses to enable IOPF on the device with, as
 * the attach of a fault capable HWPT returns it; 0 when it might enable it.
 */
static int iopf_refusal(struct __test_metadata *_metadata,
			struct vfio_dev *dev)
{
	switch (dev->iommu) {
	case DEV_IOMMU_VTD:
		return vtd_iopf_capable(_metadata, dev) > 0 ? 0 : -ENODEV;
	case DEV_IOMMU_SMMUV3:
		return smmuv3_iopf_capable(_metadata, dev) ? 0 : -EINVAL;
	default:
		return 0;
	}
}

TEST_F(vfio_fault, fault_attach_refused)
{
	struct vfio_dev *dev = &self->dev;
	struct iommu_hwpt_page_response resp = { .cookie = 1 };
	struct iommu_hwpt_pgfault recs[2];
	struct pollfd pfd = { .events = POLLIN };
	__u32 fault_id = 0, hwpt_id = 0, pt_id, wait_id = 0;
	int fault_fd = -1, wait_fd = -1;
	int refusal;

	if (dev->iommu == DEV_IOMMU_OTHER)
		SKIP(return, "%s is behind neither Intel VT-d nor Arm SMMUv3",
		     dev->bdf);
	refusal = iopf_refusal(_metadata, dev);
	if (!refusal)
		SKIP(return, "%s may get IOPF: its IOMMU and it support it",
		     dev->bdf);

	ASSERT_EQ(0, fault_alloc(dev->iommufd, 0, &fault_id, &fault_fd));
	pfd.fd = fault_fd;
	/* The driver never sees IOMMU_HWPT_FAULT_ID_VALID: this succeeds */
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				  &hwpt_id));

	pt_id = hwpt_id;
	ASSERT_EQ(refusal, vfio_attach(dev->devfd, &pt_id));
	EXPECT_EQ(hwpt_id, pt_id);
	/* Refused again: the failed attempt left nothing enabled behind */
	ASSERT_EQ(refusal, vfio_attach(dev->devfd, &pt_id));
	check_still_blocked(_metadata, dev, hwpt_id, refusal);

	/* The device is as it was: not attached, free to attach elsewhere */
	check_attach(_metadata, dev, dev->ioas_id);
	check_attach(_metadata, dev, dev->ioas_id);

	/*
	 * Nothing queued: no group to read or to answer. Allocated without
	 * IOMMU_FAULT_QUEUE_WAIT, the queue reads as empty (0), blocking file
	 * or not; a queue with it fails with EAGAIN on an O_NONBLOCK file.
	 */
	EXPECT_EQ(0, fault_read(fault_fd, recs, sizeof(recs)));
	ASSERT_EQ(0, fcntl(fault_fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(0, fault_read(fault_fd, recs, sizeof(recs)));
	ASSERT_EQ(0, fault_alloc(dev->iommufd, IOMMU_FAULT_QUEUE_WAIT,
				 &wait_id, &wait_fd));
	ASSERT_EQ(0, fcntl(wait_fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, fault_read(wait_fd, recs, sizeof(recs)));
	ASSERT_EQ(0, close(wait_fd));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, wait_id));
	/* Not a whole record: ESPIPE without IOMMU_FAULT_QUEUE_WAIT, as 6.11 */
	EXPECT_EQ(-ESPIPE, fault_read(fault_fd, recs, sizeof(recs[0]) - 1));
	EXPECT_EQ(-EINVAL, fault_write(fault_fd, &resp, sizeof(resp)));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_TRUE(fdinfo_has(fault_fd, "pending", "0"));
	EXPECT_TRUE(fdinfo_has(fault_fd, "unanswered", "0"));
	EXPECT_TRUE(fdinfo_has(fault_fd, "auto_answered", "0"));

	/* Neither the failed attach nor anything else holds them */
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, fault_id));
	EXPECT_EQ(-ENOENT, iommufd_destroy(dev->iommufd, fault_id));

	/* The file outlives the object: end of file, hang up */
	EXPECT_EQ(0, fault_read(fault_fd, recs, sizeof(recs)));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP);
	EXPECT_FALSE(pfd.revents & POLLIN);
	ASSERT_EQ(0, close(fault_fd));

	check_attach(_metadata, dev, dev->ioas_id);
}

/* A replace onto a fault capable HWPT fails and keeps the old domain */
TEST_F(vfio_fault, fault_replace_refused)
{
	struct vfio_dev *dev = &self->dev;
	__u32 fault_id = 0, hwpt_id = 0, auto_id, pt_id;
	int fault_fd = -1;
	int refusal;

	if (dev->iommu == DEV_IOMMU_OTHER)
		SKIP(return, "%s is behind neither Intel VT-d nor Arm SMMUv3",
		     dev->bdf);
	refusal = iopf_refusal(_metadata, dev);
	if (!refusal)
		SKIP(return, "%s may get IOPF: its IOMMU and it support it",
		     dev->bdf);

	ASSERT_EQ(0, fault_alloc(dev->iommufd, 0, &fault_id, &fault_fd));
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				  &hwpt_id));

	auto_id = dev->ioas_id;
	ASSERT_EQ(0, vfio_attach(dev->devfd, &auto_id));
	pt_id = hwpt_id;
	ASSERT_EQ(refusal, vfio_attach(dev->devfd, &pt_id));

	/* Still on the automatic domain, which the IOAS maps into */
	check_map(_metadata, dev);
	/* Attached: the automatic domain cannot go */
	EXPECT_EQ(-EBUSY, iommufd_destroy(dev->iommufd, auto_id));
	ASSERT_EQ(0, vfio_detach(dev->devfd));

	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, fault_id));
	ASSERT_EQ(0, close(fault_fd));
	/* The automatic domain went with the detach */
	EXPECT_EQ(-ENOENT, iommufd_destroy(dev->iommufd, auto_id));
}

/* Without a fault queue a paging HWPT attaches as always */
TEST_F(vfio_fault, paging_attach)
{
	struct vfio_dev *dev = &self->dev;
	__u32 hwpt_id = 0, hwpt2_id = 0, pt_id;

	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  0, 0, &hwpt_id));
	check_attach(_metadata, dev, hwpt_id);
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt_id));

	/* A fault_id without IOMMU_HWPT_FAULT_ID_VALID is not looked at */
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  0, 0xdead, &hwpt_id));
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  0, 0, &hwpt2_id));
	/* Replace between two of them, then back to the IOAS */
	pt_id = hwpt_id;
	ASSERT_EQ(0, vfio_attach(dev->devfd, &pt_id));
	EXPECT_EQ(-EBUSY, iommufd_destroy(dev->iommufd, hwpt_id));
	pt_id = hwpt2_id;
	ASSERT_EQ(0, vfio_attach(dev->devfd, &pt_id));
	check_map(_metadata, dev);
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt_id));
	pt_id = dev->ioas_id;
	ASSERT_EQ(0, vfio_attach(dev->devfd, &pt_id));
	check_map(_metadata, dev);
	ASSERT_EQ(0, vfio_detach(dev->devfd));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt2_id));
}

TEST_F(vfio_fault, fault_destroy_busy)
{
	struct vfio_dev *dev = &self->dev;
	__u32 fault_id = 0, hwpt_id = 0, hwpt2_id = 0, unused;
	int fault_fd = -1;

	ASSERT_EQ(0, fault_alloc(dev->iommufd, 0, &fault_id, &fault_fd));

	/* A nesting parent's faults are the kernel's */
	EXPECT_EQ(-EOPNOTSUPP,
		  paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
			       IOMMU_HWPT_FAULT_ID_VALID |
				       IOMMU_HWPT_ALLOC_NEST_PARENT,
			       fault_id, &unused));
	/* fault_id must name a fault queue */
	EXPECT_EQ(-ENOENT,
		  paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
			       IOMMU_HWPT_FAULT_ID_VALID, dev->ioas_id,
			       &unused));

	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				  &hwpt_id));
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				  &hwpt2_id));
	/* Each HWPT holds the fault queue */
	EXPECT_EQ(-EBUSY, iommufd_destroy(dev->iommufd, fault_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt_id));
	EXPECT_EQ(-EBUSY, iommufd_destroy(dev->iommufd, fault_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, hwpt2_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, fault_id));
	ASSERT_EQ(0, close(fault_fd));

	check_attach(_metadata, dev, dev->ioas_id);
}

/* A nested HWPT with a fault queue, where VT-d does nested translation */
TEST_F(vfio_fault, nested_fault)
{
	struct vfio_dev *dev = &self->dev;
	struct iommu_hwpt_vtd_s1 s1 = {
		.pgtbl_addr = TEST_IOVA,
		.addr_width = 48,
	};
	struct iommu_hw_info_vtd vtd;
	__u32 fault_id = 0, parent_id = 0, nested_id = 0, pt_id;
	int fault_fd = -1;
	int rc;

	if (vtd_hw_info(dev->iommufd, dev->dev_id, &vtd))
		SKIP(return, "%s is not behind Intel VT-d", dev->bdf);
	rc = paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
			  IOMMU_HWPT_ALLOC_NEST_PARENT, 0, &parent_id);
	if (rc == -EOPNOTSUPP)
		SKIP(return,
		     "VT-d without nesting (ecap 0x%llx NEST %d): nest parent alloc: %s",
		     (unsigned long long)vtd.ecap_reg,
		     (int)(vtd.ecap_reg >> 26) & 1, strerror(-rc));
	ASSERT_EQ(0, rc);

	ASSERT_EQ(0, fault_alloc(dev->iommufd, 0, &fault_id, &fault_fd));
	ASSERT_EQ(0, hwpt_alloc(dev->iommufd, dev->dev_id, parent_id,
				IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
				&nested_id));
	EXPECT_EQ(-EBUSY, iommufd_destroy(dev->iommufd, parent_id));
	if (!vtd_iopf_capable(_metadata, dev)) {
		pt_id = nested_id;
		EXPECT_EQ(-ENODEV, vfio_attach(dev->devfd, &pt_id));
	}
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, nested_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, fault_id));
	ASSERT_EQ(0, iommufd_destroy(dev->iommufd, parent_id));
	ASSERT_EQ(0, close(fault_fd));
}

/*
 * Everything closed, the device leaves vfio-pci and comes back: nothing of
 * the previous iommufd holds it. The fault queue's file is closed last, as
 * it keeps its iommufd context, HWPT included, alive after the iommufd fd.
 */
TEST_F(vfio_fault, rebind)
{
	struct vfio_dev *dev = &self->dev;
	__u32 fault_id = 0, hwpt_id = 0;
	char path[PATH_MAX];
	int fault_fd = -1;

	ASSERT_EQ(0, fault_alloc(dev->iommufd, 0, &fault_id, &fault_fd));
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  IOMMU_HWPT_FAULT_ID_VALID, fault_id,
				  &hwpt_id));
	check_attach(_metadata, dev, dev->ioas_id);
	ASSERT_EQ(0, vfio_close(dev));

	/* Would hang while the iommufd device held the VFIO device */
	ASSERT_EQ(0, vfio_pci_unbind(dev));
	EXPECT_FALSE(pci_driver_is(dev->bdf, "vfio-pci"));
	pci_attr(path, dev->bdf, "vfio-dev");
	EXPECT_NE(0, access(path, F_OK));
	ASSERT_EQ(0, close(fault_fd));

	ASSERT_EQ(0, vfio_pci_bind(dev, "/sys/bus/pci/drivers_probe"));
	ASSERT_EQ(0, vfio_open(_metadata, dev));
	check_attach(_metadata, dev, dev->ioas_id);
	ASSERT_EQ(0, paging_alloc(dev->iommufd, dev->dev_id, dev->ioas_id,
				  0, 0, &hwpt_id));
	check_attach(_metadata, dev, hwpt_id);
}

TEST_HARNESS_MAIN
