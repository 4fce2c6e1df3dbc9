#!/usr/bin/env bash
# Build or boot one variant of the kernel, each step doing what it needs.
#
# Usage: variant.sh VARIANT STEP [MODE]
#   VARIANT  series    build/linux: base + the series (default)
#            debug     the same sources with KASAN, lockdep, kmemleak & co.
#            kcsan     the same sources with KCSAN (x86_64), running only the
#                      fault queue programs (iommufd_fault*)
#            upstream  build/upstream/linux: the unrewound Debian tree, our peer
#   STEP     tree | kernel | selftests | initramfs | vm (kernel and
#            initramfs; the selftests and the initramfs need no kernel)
#   MODE     for vm: check (every test program but the VT-d ones, with
#            intel_iommu=off), vtd (the VT-d/vfio ones, intel_iommu=on),
#            run (the demo), bench (the benchmark, bench/), compat (the
#            compatibility program, compat/, see scripts/compat.sh) or soak
#            (stress and fuzz, seed after seed, for SOAK_MIN minutes); with
#            ARCH=arm64: check (every program, the vfio one against the
#            SMMUv3 included), mock (all but the vfio one), smmu (only it)
# Env: ARCH=arm64  cross build for arm64 (objects in <root>/out/arm64, or
#                  <root>/out/VARIANT-arm64), booted on QEMU virt with an
#                  emulated SMMUv3 (TCG); default x86_64
#      SRC=DIR     kernel sources other than the variant's own tree, e.g. a
#                  snapshot worktree DIR=<root>/linux; objects go to
#                  <root>/out/..., and the tree step is skipped
#
# Layout: each variant's sources are at <root>/linux and its objects at
# <root>/out/<variant>, so ccache (with CCACHE_BASEDIR=build/) sees the same
# relative paths in every tree and shares their objects.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=${1:?variant}
step=${2:?step}
mode=${3:-check}

case $variant in
series)   root=$top/build;          tree=linux ;;
debug)    root=$top/build;          tree=linux ;;
kcsan)    root=$top/build;          tree=linux ;;
upstream) root=$top/build/upstream; tree=upstream ;;
*) echo "variant.sh: unknown VARIANT '$variant' (series, debug, kcsan, upstream)" >&2
   exit 2 ;;
esac
arch=${ARCH:-x86_64}
if [ -n "${SRC:-}" ]; then
	root=$(cd "$(dirname "$SRC")" && pwd)
	[ "$(basename "$SRC")" = linux ] ||
		echo "variant.sh: note: SRC is not <root>/linux; ccache will not" \
		     "share objects with build/linux" >&2
fi
src=${SRC:-$root/linux}
frags=("$top/config/base.config")
case $arch in
x86_64|x86)
	arch=x86_64
	out=$root/out/$variant
	image=arch/x86/boot/bzImage ;;
arm64)
	out=$root/out/arm64
	[ "$variant" = series ] || out=$root/out/$variant-arm64
	frags+=("$top/config/arm64.config")
	image=arch/arm64/boot/Image
	# The arm64 static busybox and liburing, unpacked by deps.sh arm64
	export BUSYBOX=$top/build/arm64-root/bin/busybox
	export ARM64_ROOT=$top/build/arm64-root ;;
*) echo "variant.sh: unknown ARCH '$arch' (x86_64, arm64)" >&2; exit 2 ;;
esac
[ "$arch" = arm64 ] && export ARCH=arm64
[ "$variant" = debug ] && frags+=("$top/config/debug.config")
[ "$variant" = kcsan ] && frags+=("$top/config/kcsan.config")
# The uapi headers, and with them the selftests' objects, are the same for
# every config of one source tree and arch: the series' output directory
# holds them for the debug and kcsan variants too, so each is installed once.
hdr=$root/out/series
[ "$arch" = arm64 ] && hdr=$root/out/arm64
[ "$variant" = upstream ] && hdr=$out
tests=$out/tests
initrd=$out/initramfs.cpio.gz
logdir=$top/build/logs
. "$top/scripts/ccache-env.sh"

# Each step first runs the ones it needs (vm: kernel and initramfs; the
# others: the one before); scripts skip work already done.
tree_done=
run_step() {
	case $1 in
	tree)
		[ -z "$tree_done" ] || return 0
		tree_done=1
		[ "$arch" = arm64 ] && "$top/scripts/deps.sh" arm64
		[ -n "${SRC:-}" ] || "$top/scripts/tree.sh" --keep "$tree" ;;
	kernel)
		run_step tree
		"$top/scripts/kernel.sh" "$src" "$out" "${frags[@]}" ;;
	selftests)
		run_step tree
		"$top/scripts/selftests.sh" "$src" "$hdr" "$tests"
		# The project's own test programs (harness/), run beside
		# them; they need the series' uAPI and test ops
		[ "$variant" = upstream ] ||
			"$top/scripts/harness.sh" "$src" "$hdr" "$tests" ;;
	initramfs)
		run_step selftests
		# The demo uses test ops of the series' mock device; the peer
		# has none of them and boots without it. The benchmark uses
		# only what both have.
		local demo=
		if [ "$variant" != upstream ]; then
			"$top/scripts/demo.sh" "$src" "$hdr" "$out/demo"
			demo=$out/demo
		fi
		"$top/scripts/demo.sh" "$src" "$hdr" "$out/bench" bench
		# The compatibility program (compat/), on both kernels too
		"$top/scripts/compat.sh" build "$src" "$hdr" "$out/compat"
		COMPATDIR=$out/compat "$top/scripts/initramfs.sh" "$tests" \
			"$initrd" "$demo" "$out/bench" ;;
	vm)
		run_step kernel
		run_step initramfs
		mkdir -p "$logdir"
		local log=$logdir/$variant-$mode.log rc=0 guest=$mode iommu=off
		local append=
		# The 6.12 core probes devices without a fwspec with the first
		# IOMMU registered, so with intel_iommu=on the mock devices of
		# the iommufd selftests are Intel's and cannot be bound. The
		# tests of the real VT-d driver (vfio) get a boot of their own.
		case $arch-$mode in
		x86_64-check) append='iopf.skip=*vfio*' ;;
		x86_64-vtd) append='iopf.only=*vfio*'; guest=check; iommu=intel ;;
		# On arm64 the SMMUv3 probes devices through their firmware
		# node (the device tree), so the mock devices, which have
		# none, still get the mock IOMMU: one boot runs everything.
		arm64-check) iommu=smmuv3 ;;
		arm64-mock) append='iopf.skip=*vfio*'; guest=check; iommu=smmuv3 ;;
		arm64-smmu) append='iopf.only=*vfio*'; guest=check; iommu=smmuv3 ;;
		arm64-*) iommu=smmuv3 ;;
		esac
		# KCSAN: the fault queue programs (iommufd_fault, _events,
		# _stress and _fuzz), not the whole suite nor the VT-d ones
		[ "$variant-$mode" = kcsan-check ] && append='iopf.only=iommufd_fault*'
		# make soak: SOAK_MIN minutes, and 15 more for boot and the
		# last round
		local limit=900
		if [ "$mode" = soak ]; then
			append="iopf.soak_min=${SOAK_MIN:-30}"
			limit=$(( ${SOAK_MIN:-30} * 60 + 900 ))
		fi
		[ "$arch" = arm64 ] && log=$logdir/$variant-arm64-$mode.log
		VM_IOMMU=$iommu VM_APPEND="$append ${VM_APPEND:-}" \
			"$top/scripts/vm.sh" "$out/$image" \
			"$initrd" "$log" "$guest" "$limit" || rc=$?
		# The log decides: results, splats, a missing end are failures.
		python3 "$top/scripts/tap.py" "$log" || rc=1
		return $rc ;;
	*) echo "variant.sh: unknown step '$1'" >&2; exit 2 ;;
	esac
}

run_step "$step"
