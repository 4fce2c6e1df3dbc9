#!/bin/bash
# Usage: [ARCH=arm64] scripts/vm.sh BZIMAGE INITRD LOG [MODE] [TIMEOUT_S]
#   MODE       iopf.mode for guest/init: check (default) | run | bench |
#              compat | soak (see guest/init)
#   TIMEOUT_S  overall wall-clock limit (default 900); qemu is killed after it
# Env: VM_ACCEL=tcg|kvm (default: kvm only if a probe boot shows it works),
#      VM_IOMMU=off|intel (default off, see below),
#      VM_APPEND="extra kernel args", VM_MEM (default 2G), VM_SMP (default 2).
# The emulated VT-d is always there; VM_IOMMU picks the guest's view:
#   intel: intel_iommu=on, the real intel-iommu driver owns the PCI devices
#          (needed to bind `edu` to vfio-pci). On 6.12 this breaks every
#          iommufd selftest that creates a mock device: the core looks up the
#          IOMMU of a device without fwspec as the *first* registered IOMMU
#          with a NULL fwnode (iommu_fwspec_ops(NULL)), i.e. Intel's, whose
#          probe_device rejects the mock device -> bind fails with EINVAL.
#   off:   intel_iommu=off, the iommufd mock IOMMU is the only one; the
#          iommufd selftests pass.
# Boots QEMU q35 with an emulated Intel VT-d (intel-iommu) and a spare `edu`
# PCI device (1234:11e8) for vfio-pci tests; the serial console goes to
# stdout and LOG. Exits non-zero on timeout or if the guest never printed
# "### DONE" (panic, crash, hang); parse LOG with scripts/tap.py.
#
# ARCH=arm64: BZIMAGE is an arm64 Image, booted on QEMU `virt` (device tree)
# with `-cpu max`, always under TCG (the host is x86_64), with an emulated
# Arm SMMUv3 (VM_IOMMU=smmuv3, the default; off: none) in front of the PCI
# bus and the same `edu` device. The SMMUv3 driver only takes devices the
# device tree puts behind it, so the mock devices keep the mock IOMMU and
# every test program can run in the same boot.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 5 ]; then
	echo "usage: $0 BZIMAGE INITRD LOG [MODE] [TIMEOUT_S]" >&2
	exit 2
fi
BZIMAGE=$1 INITRD=$2 LOG=$3 MODE=${4:-check} TIMEOUT=${5:-900}
for f in "$BZIMAGE" "$INITRD"; do
	[ -f "$f" ] || { echo "vm.sh: no such file: $f" >&2; exit 2; }
done

# /dev/kvm existing (or even accepting ioctls) is not enough on this host
# (a paravirt "kvm-pvm" module runs SeaBIOS but hangs real kernels), so
# boot the kernel under KVM for a few seconds and look for its banner.
# The verdict is cached per host boot.
kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	local id cache
	id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
	cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/vm-kvm-probe.$id
	if [ ! -f "$cache" ]; then
		mkdir -p "$(dirname "$cache")"
		# No initrd: a working KVM boots, panics on the missing root fs
		# and exits at once (panic=-1, -no-reboot); a broken one hangs.
		timeout 20 qemu-system-x86_64 -accel kvm -M q35 -m 256M -nodefaults \
			-display none -serial stdio -no-reboot -kernel "$BZIMAGE" \
			-append "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1" \
			</dev/null >"$cache.out" 2>&1 || true
		if grep -q 'Linux version' "$cache.out"; then
			echo kvm > "$cache"
		else
			echo tcg > "$cache"
		fi
		rm -f "$cache.out"
	fi
	[ "$(cat "$cache")" = kvm ]
}

# QEMU q35 with an emulated VT-d (x86_64, the default)
x86_qemu() {
	ACCEL=${VM_ACCEL:-}
	if [ -z "$ACCEL" ]; then
		if kvm_works; then ACCEL=kvm; else ACCEL=tcg; fi
	fi
	if [ "$ACCEL" = kvm ]; then
		# Interrupt remapping with an in-kernel irqchip needs the split irqchip.
		MACHINE=q35,accel=kvm,kernel-irqchip=split
		CPU=host
	else
		MACHINE=q35,accel=tcg
		# "max" emulates SMEP/SMAP/PCID etc., so user-access bugs fault under TCG too.
		CPU=max
	fi

	# intel-iommu must come before the PCI devices it translates.
	#  x-scalable-mode=on: the driver's default (scalable) mode, PASID tables.
	#  intremap=on: IR remapping probes too (DMAR + IR, like real hardware).
	case ${VM_IOMMU:-off} in
	intel) IOMMU_ARG=intel_iommu=on ;;
	off) IOMMU_ARG=intel_iommu=off ;;
	*) echo "vm.sh: VM_IOMMU must be off or intel" >&2; exit 2 ;;
	esac
	APPEND="console=ttyS0 $IOMMU_ARG iopf.mode=$MODE panic=-1 ${VM_APPEND:-}"
	QEMU=(qemu-system-x86_64 -M "$MACHINE" -cpu "$CPU"
		-smp "${VM_SMP:-2}" -m "${VM_MEM:-2G}"
		-nodefaults -no-user-config -display none -serial stdio -monitor none
		-no-reboot
		-device intel-iommu,intremap=on,x-scalable-mode=on
		-device edu
		-kernel "$BZIMAGE" -initrd "$INITRD" -append "$APPEND")
}

# QEMU virt with an emulated SMMUv3 (ARCH=arm64), TCG only
arm64_qemu() {
	ACCEL=${VM_ACCEL:-tcg}
	[ "$ACCEL" = tcg ] ||
		{ echo "vm.sh: arm64 guests run under TCG only" >&2; exit 2; }
	VM_IOMMU=${VM_IOMMU:-smmuv3}
	case $VM_IOMMU in
	smmuv3) MACHINE=virt,gic-version=3,iommu=smmuv3,accel=tcg ;;
	off) MACHINE=virt,gic-version=3,accel=tcg ;;
	*) echo "vm.sh: VM_IOMMU must be smmuv3 or off on arm64" >&2; exit 2 ;;
	esac
	# gic-version=3: the GICv3 ITS isolates MSIs, which iommufd needs
	# to bind a VFIO device (with GICv2 it refuses: EPERM)
	APPEND="console=ttyAMA0 iopf.mode=$MODE panic=-1 ${VM_APPEND:-}"
	QEMU=(qemu-system-aarch64 -M "$MACHINE" -cpu max
		-smp "${VM_SMP:-2}" -m "${VM_MEM:-2G}"
		-nodefaults -no-user-config -display none -serial stdio -monitor none
		-no-reboot
		-device edu
		-kernel "$BZIMAGE" -initrd "$INITRD" -append "$APPEND")
}

case ${ARCH:-x86_64} in
arm64) arm64_qemu ;;
*) x86_qemu ;;
esac

mkdir -p "$(dirname "$LOG")"
# First LOG line records how the guest was started.
echo "vm.sh: accel=$ACCEL iommu=${VM_IOMMU:-off} timeout=${TIMEOUT}s: ${QEMU[*]}" | tee "$LOG" >&2
set +e
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "vm.sh: TIMEOUT after ${TIMEOUT}s, qemu killed" | tee -a "$LOG" >&2
	exit 124
fi
if [ "$rc" != 0 ]; then
	echo "vm.sh: qemu exited with $rc" >&2
	exit "$rc"
fi
if ! tr -d '\r' < "$LOG" | grep -q '^### DONE'; then
	echo "vm.sh: guest did not finish (no '### DONE'): panic or crash?" >&2
	exit 1
fi
