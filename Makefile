# SystemOTA: see README.md. The two commands a newcomer needs:
#   make demo    build a QEMU device, stage an update, reboot, see it applied
#   make check   the whole test suite

CC ?= cc
STRIP ?= strip
BUILD ?= build
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
	-Wvla -Wpointer-arith -Wcast-qual -Wundef -Wno-missing-field-initializers \
	-Wno-format-truncation
ifdef WERROR
WARNINGS += -Werror
endif
ALL_CFLAGS = -std=gnu11 $(WARNINGS) $(CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iapplier
# CPPFLAGS and LDFLAGS are the build system's (Yocto and Buildroot set them): on
# every compile and every link. -MMD -MP: each object lists the headers it
# read in a .d file next to it, so touching a header rebuilds its dependants.
COMPILE = $(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP
LINK = $(CC) $(CFLAGS) $(LDFLAGS)
LIBS = -lmbedcrypto -lzstd -lblkid -pthread
# make V=1 shows the full commands.
ifeq ($(V),1)
Q =
say = @true
else
Q = @
say = @echo "  $(1)"
endif

SRCS = $(filter-out applier/main.c,$(wildcard applier/*.c))
OBJS = $(SRCS:applier/%.c=$(BUILD)/obj/%.o)

all: $(BUILD)/systemota $(BUILD)/systemota.static $(if $(filter arm64,$(ARCH)),$(BUILD)/arm64/systemota.static)

$(BUILD)/obj/%.o: applier/%.c | $(BUILD)/obj
	$(call say,CC $<)
	$(Q)$(COMPILE) -c -o $@ $<

-include $(wildcard $(BUILD)/obj/*.d)

$(BUILD)/obj:
	mkdir -p $@

$(BUILD)/libsystemota.a: $(OBJS)
	$(call say,AR $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The build host's part, named on the host binary's link line: bundle create and
# resign (zstd's compressor). tool.c refers to it weakly, so the device's static
# binary, linked from the archive alone, leaves it out.
HOST_OBJS = $(BUILD)/obj/create.o $(BUILD)/obj/compress.o

$(BUILD)/systemota: $(BUILD)/obj/main.o $(HOST_OBJS) $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -o $@ $^ $(LIBS)

# The initramfs and the demo's busybox root carry this one: no shared libraries
# needed, and no bundle making (the device never compresses or signs). Its link
# map (.map) says what each library costs (bench/linkmap.sh).
$(BUILD)/systemota.static: $(BUILD)/obj/main.o $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -static -Wl,-Map=$@.map -o $@ $^ $(LIBS)
	$(Q)$(STRIP) -o $@.stripped $@

# make ARCH=arm64 (and make check): the device's static binary for arm64 too,
# in $(BUILD)/arm64, cross-built with gcc-aarch64-linux-gnu against Debian's own
# arm64 archives of mbedTLS, zstd and libblkid, which qemu/debs.sh downloads and
# extracts into $(BUILD)/arm64/sysroot (never installed). Any other cross
# toolchain works the same way: make CC=... AR=... STRIP=... CPPFLAGS=... LDFLAGS=...
ARM64_CROSS ?= $(if $(filter aarch64,$(shell uname -m)),,aarch64-linux-gnu-)
ARM64_SYSROOT = $(abspath $(BUILD))/arm64/sysroot
$(ARM64_SYSROOT)/.done: qemu/debs.sh
	qemu/debs.sh sysroot arm64 $(BUILD)/arm64 libmbedtls-dev libzstd-dev libblkid-dev
	touch $@

$(BUILD)/arm64/systemota.static: $(SRCS) applier/main.c $(wildcard applier/*.h) $(ARM64_SYSROOT)/.done
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/arm64 ARCH= CC=$(ARM64_CROSS)gcc \
		AR=$(ARM64_CROSS)ar STRIP=$(ARM64_CROSS)strip \
		CPPFLAGS="-isystem $(ARM64_SYSROOT)/usr/include -isystem $(ARM64_SYSROOT)/usr/include/aarch64-linux-gnu" \
		LDFLAGS="-L$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu" $@

# Unit tests: every tests/unit/test-*.c linked into one runner.
UNIT_SRCS = $(wildcard tests/unit/*.c)
UNIT_OBJS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/obj/unit-%.o)

$(BUILD)/obj/unit-%.o: tests/unit/%.c | $(BUILD)/obj
	$(call say,CC $<)
	$(Q)$(COMPILE) -Itests/unit -DTOP_SRCDIR='"$(CURDIR)"' -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -o $@ $^ $(LIBS)

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

# Power-cut tests on the host: crash-state enumeration and fault injection
# (tests/crash), with the unit tests' runner and fixtures.
CRASH_SRCS = $(wildcard tests/crash/*.c) tests/unit/helpers.c tests/unit/runner.c
CRASH_OBJS = $(patsubst %.c,$(BUILD)/obj/crash-%.o,$(notdir $(CRASH_SRCS)))

$(BUILD)/obj/crash-%.o: tests/crash/%.c | $(BUILD)/obj
	$(call say,CC $<)
	$(Q)$(COMPILE) -Itests/unit -Itests/crash -c -o $@ $<

$(BUILD)/obj/crash-%.o: tests/unit/%.c | $(BUILD)/obj
	$(call say,CC $<)
	$(Q)$(COMPILE) -Itests/unit -c -o $@ $<

$(BUILD)/crash-tests: $(CRASH_OBJS) $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -o $@ $^ $(LIBS)

# The Armv8 SHA-256 engine (tests/arm): built for aarch64, run under qemu-aarch64
# against vectors mbedTLS makes on the host.
# (on an aarch64 build host the native compiler, and tests/arm/run.sh runs it natively)
ifeq ($(shell uname -m),aarch64)
ARM_CC ?= $(CC)
else
ARM_CC ?= aarch64-linux-gnu-gcc
endif
ARM_SHA_SRCS = applier/sha256hw.c applier/armsha.c applier/shani.c tests/arm/sha-check.c
# (the host's CPPFLAGS and LDFLAGS are for the host's target, not this aarch64 one:
# ARM_CPPFLAGS and ARM_LDFLAGS are this line's)

$(BUILD)/arm/sha-check: $(ARM_SHA_SRCS) applier/sha256hw.h applier/util.h tests/arm/vectors.h
	$(call say,CC $@ (aarch64))
	$(Q)mkdir -p $(@D)
	$(Q)$(ARM_CC) $(ARM_CPPFLAGS) -std=gnu11 $(WARNINGS) -O2 -static -D_GNU_SOURCE -Iapplier \
		-Itests/arm $(ARM_LDFLAGS) -o $@ $(ARM_SHA_SRCS) -pthread

$(BUILD)/arm/sha-vectors: tests/arm/sha-vectors.c tests/arm/vectors.h $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)mkdir -p $(@D)
	$(Q)$(COMPILE) $(LDFLAGS) -Itests/arm -o $@ $< $(BUILD)/libsystemota.a $(LIBS)

-include $(wildcard $(BUILD)/arm/*.d)

# Fuzz targets (tests/fuzz): replayed over their corpus by make check with the
# normal compiler, run under libFuzzer (clang-14) by make fuzz.
FUZZ_TARGETS = header manifest bundle codec state history keys keyring config
FUZZ_SECONDS ?= 60

$(BUILD)/obj/fuzz-%.o: tests/fuzz/%.c | $(BUILD)/obj
	$(call say,CC $<)
	$(Q)$(COMPILE) -Itests/fuzz -DTOP_SRCDIR='"$(CURDIR)"' -c -o $@ $<

$(BUILD)/fuzz-replay-%: $(BUILD)/obj/fuzz-fuzz-%.o $(BUILD)/obj/fuzz-common.o $(BUILD)/obj/fuzz-replay.o \
		$(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -o $@ $^ $(LIBS)

fuzz-replay: $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay-%)

# libFuzzer builds: the library again with clang, coverage and sanitizers.
FUZZ_CFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-Wno-unknown-warning-option
$(BUILD)/fuzz/fuzz-%: $(SRCS) tests/fuzz/fuzz-%.c tests/fuzz/common.c $(wildcard applier/*.h tests/fuzz/*.h)
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang-14 CFLAGS="$(FUZZ_CFLAGS)" \
		$(BUILD)/fuzz/libsystemota.a
	$(call say,LD $@)
	$(Q)clang-14 $(CPPFLAGS) $(ALL_CFLAGS) $(FUZZ_CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -Itests/fuzz \
		-DTOP_SRCDIR='"$(CURDIR)"' -o $@ tests/fuzz/fuzz-$*.c tests/fuzz/common.c $(BUILD)/fuzz/libsystemota.a $(LIBS)

# Each target for FUZZ_SECONDS, from the committed corpus; new inputs in build/fuzz/corpus-*.
fuzz: deps $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz-%)
	tests/fuzz/run.sh $(abspath $(BUILD))/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The unit tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(BUILD)/asan/unit-tests: $(SRCS) $(UNIT_SRCS) $(wildcard applier/*.h tests/unit/*.h)
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CFLAGS="$(SAN_FLAGS)" $(BUILD)/asan/unit-tests-real
	$(Q)cp $(BUILD)/asan/unit-tests-real $@

# (the recursive make builds under its own BUILD; this name keeps the rules apart)
$(BUILD)/unit-tests-real: $(UNIT_OBJS) $(BUILD)/libsystemota.a
	$(call say,LD $@)
	$(Q)$(LINK) -o $@ $^ $(LIBS)

# The QEMU demo device (kernel, initramfs, root images, bundle, disk).
# FLAVOUR=debian: systemd Debian 12 root filesystems (mmdebstrap) in build/qemu-debian.
# ARCH=arm64: an Arm board (QEMU virt) behind U-Boot, in build/qemu-arm64.
# BOOT=uefi: the x86 device behind OVMF and systemd-boot, in build/qemu-uefi.
FLAVOUR ?= busybox
ifeq ($(ARCH),arm64)
QEMU_OUT = $(BUILD)/qemu-arm64
DEVICE_BINARY = $(BUILD)/arm64/systemota.static
else ifeq ($(BOOT),uefi)
QEMU_OUT = $(BUILD)/qemu-uefi
DEVICE_BINARY = $(BUILD)/systemota.static
else
QEMU_OUT = $(BUILD)/qemu$(if $(filter debian,$(FLAVOUR)),-debian)
DEVICE_BINARY = $(BUILD)/systemota.static
endif
QEMU_INPUTS = $(wildcard qemu/* qemu/rootfs/* qemu/debian/* initramfs/90systemota/* hooks/* \
	hooks/*/* keys/trusted/* keys/*.key keys/*.pem)
$(QEMU_OUT)/.done: $(BUILD)/systemota $(DEVICE_BINARY) $(QEMU_INPUTS)
	ARCH=$(ARCH) BOOT=$(BOOT) FLAVOUR=$(FLAVOUR) qemu/build.sh $(abspath $(QEMU_OUT))
	touch $@

qemu-device: $(QEMU_OUT)/.done

deps:
	.ci/deps

# The README's two commands.
demo: deps
	$(MAKE) all
	$(MAKE) qemu-device FLAVOUR=$(FLAVOUR)
	ARCH=$(ARCH) BOOT=$(BOOT) FLAVOUR=$(FLAVOUR) qemu/demo.sh

check: deps
	$(MAKE) -j$$(nproc) all $(BUILD)/unit-tests $(BUILD)/asan/unit-tests $(BUILD)/crash-tests \
		fuzz-replay $(BUILD)/arm/sha-check $(BUILD)/arm/sha-vectors $(BUILD)/arm64/systemota.static
	@# The three demo devices at once: each build is mostly one process at a
	@# time (dracut, mkfs, cpio), so together they take half as long (51 s
	@# against 110 s one after the other here). Each one's output is shown whole.
	@$(MAKE) qemu-device > $(BUILD)/qemu-device.log 2>&1 & x=$$!; \
	$(MAKE) qemu-device ARCH=arm64 > $(BUILD)/qemu-device-arm64.log 2>&1 & a=$$!; \
	$(MAKE) qemu-device BOOT=uefi > $(BUILD)/qemu-device-uefi.log 2>&1 & u=$$!; \
	wait $$x; rx=$$?; wait $$a; ra=$$?; wait $$u; ru=$$?; \
	cat $(BUILD)/qemu-device.log $(BUILD)/qemu-device-arm64.log $(BUILD)/qemu-device-uefi.log; \
	[ $$rx$$ra$$ru = 000 ] || { echo "a demo device did not build (x86 $$rx, arm64 $$ra, uefi $$ru)"; exit 1; }
	BUILD=$(abspath $(BUILD)) tests/run.sh

# A long campaign of random QEMU power cuts, with a summary table
# (RESUME=1 goes on with an interrupted one; ARCH=arm64 on the arm64 device).
N ?= 500
SEED ?= 1
powercut: deps
	$(MAKE) all
	$(MAKE) qemu-device
	ARCH=$(ARCH) RESUME=$(RESUME) tests/qemu/powercut-campaign.sh $(N) $(SEED)

# The same through updates whose hook and trial write the data (docs/data-rollback.md).
powercut-data: deps
	$(MAKE) all
	$(MAKE) qemu-device
	RESUME=$(RESUME) tests/qemu/powercut-data-campaign.sh $(N) $(SEED)

# Documents generated from the tests' own lists (the rejection matrix).
docs: $(BUILD)/unit-tests
	SYSTEMOTA_MATRIX=$(BUILD)/matrix.md $(BUILD)/unit-tests reject_matrix_documented > /dev/null || true
	awk -v table=$(BUILD)/matrix.md '/<!-- matrix begin -->/ { print; while ((getline l < table) > 0) print l; skip = 1; next } \
		/<!-- matrix end -->/ { skip = 0 } !skip' docs/security.md > docs/security.md.tmp
	mv docs/security.md.tmp docs/security.md

# The benchmark: our installer against dd, zstd -dc | dd, RAUC and SWUpdate,
# with scaling, boot, initramfs and bundle-size figures (bench/run.sh lists the
# settings, e.g. make bench REPS=5 BENCH_SIZES="64 256"); report in
# $(BUILD)/bench/report.md, images and bundles cached in $(BUILD)/bench/cache.
bench: $(BUILD)/systemota $(BUILD)/systemota.static $(BUILD)/arm64/systemota.static
	BUILD=$(abspath $(BUILD)) BENCH_COMMAND='make bench $(MAKEOVERRIDES)' bench/run.sh

PREFIX ?= /usr
DRACUTDIR ?= $(PREFIX)/lib/dracut/modules.d
install: $(BUILD)/systemota
	install -D -m 0755 $(BUILD)/systemota $(DESTDIR)$(PREFIX)/sbin/systemota
	install -d $(DESTDIR)$(DRACUTDIR)/90systemota
	install -m 0755 initramfs/90systemota/*.sh $(DESTDIR)$(DRACUTDIR)/90systemota/
	install -d -m 0755 $(DESTDIR)/etc/systemota/keys
	install -D -m 0755 hooks/confirm $(DESTDIR)$(PREFIX)/lib/systemota/confirm
	install -d -m 0755 $(DESTDIR)/etc/systemota/health.d
	install -D -m 0644 hooks/systemd/systemota-confirm.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/systemota-confirm.service
	install -D -m 0644 hooks/systemd/systemota-clean-shutdown.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/systemota-clean-shutdown.service
	install -D -m 0755 hooks/sysvinit/systemota $(DESTDIR)/etc/init.d/systemota
	test -e $(DESTDIR)/etc/systemota/system.conf || \
		install -m 0644 initramfs/system.conf.example $(DESTDIR)/etc/systemota/system.conf

clean:
	rm -rf $(BUILD)

.PHONY: all unit qemu-device deps demo check powercut powercut-data docs fuzz fuzz-replay install clean bench
