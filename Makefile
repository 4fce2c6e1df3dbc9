# IOPF to user space through iommufd: a kernel patch series and its tests.
# See README.md. Every target installs what it needs on first use.

VARIANT ?= series
# ARCH=arm64 (make check|vm|run|kernel ARCH=arm64): the arm64 variant, cross
# built in build/out/arm64 and booted on QEMU virt with an emulated SMMUv3
# (TCG). Like every variable given to make, it reaches the scripts through
# the environment; unset means x86_64.
S := scripts

.PHONY: help run check bench soak tree export kernel selftests initramfs vm clean distclean

help:
	@echo "make run        build the patched kernel, boot it in QEMU, show it working"
	@echo "make check      every test; ends with 'N passed, N failed, N skipped'"
	@echo "make bench      fault queue figures, series against the peer kernel"
	@echo "make soak       stress and fuzz on the debug kernel, SOAK_MIN=30 minutes"
	@echo "make tree       build/linux from the Debian source, base/ and patches/"
	@echo "make export     write build/linux's commits back to base/ and patches/"
	@echo "make kernel     build one variant (VARIANT=series|upstream)"
	@echo "make selftests  build the iommu selftests for VARIANT"
	@echo "make vm         boot VARIANT and run its tests"
	@echo "make clean      remove build outputs, keep the work trees"
	@echo "ARCH=arm64      with check, run, kernel, selftests, initramfs, vm:"
	@echo "                the arm64 variant (QEMU virt, emulated SMMUv3)"

run:
	@$(S)/variant.sh $(VARIANT) vm run

check:
	@$(S)/check.sh

bench:
	@$(S)/bench.sh $(RUNS)

soak:
	@$(S)/soak.sh

tree:
	@$(S)/tree.sh $(if $(filter upstream,$(VARIANT)),upstream,linux)

export:
	@$(S)/export.sh

kernel selftests initramfs:
	@$(S)/variant.sh $(VARIANT) $@

vm:
	@$(S)/variant.sh $(VARIANT) vm check

clean:
	rm -rf build/out build/upstream/out build/bisect/out build/bisect/verified* build/logs

distclean:
	rm -rf build
