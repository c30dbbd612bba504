#!/bin/bash
# Builds the QEMU demo device into build/qemu, from Debian packages, without
# mounting anything and without touching the host's /boot:
#
#   kernel/      Debian's kernel and modules (apt-get download + dpkg-deb -x)
#   initrd.img   a dracut initramfs with our module (dracut run from a private copy
#                of its module tree, so nothing is installed on the host)
#   root-v1.img  busybox root filesystem, version 1 (ext4 of 4 KiB blocks, mkfs.ext4 -d:
#                dm-verity has 4 KiB sectors)
#   root-v2.img  the same, version 2
#   v2.sota      the version 2 bundle, signed with the development signing key
#                under keyring-1 (root: the development key)
#   v3-broken.sota version 3 for the demo: its hook migrates the data, its
#                health check fails (so its trial ends in a rollback)
#   v2-kernel.sota, v2-bad-kernel.sota, v2-hang-kernel.sota, v2-hooks.sota, v2-bad-hook.sota
#                variants of version 2: with its own kernel and initramfs (and
#                one whose initramfs is garbage, one whose initramfs hangs, and v2-loop-kernel, whose boot id
#                is not its own initramfs's), with post-install hooks (and
#                one whose hook fails)
#   initrd-v2.img the initramfs version 2's own kernel boots with
#   disk.img     the factory disk: GPT, state record (slot A, version 1),
#                root-v1 in slot A, empty slot B, ext4 data partition holding
#                the empty drop-in directory and a canary file (canary.sha256),
#                and the data checkpoint's COW store (zeroes)
#
# usage: [FLAVOUR=debian] [ARCH=arm64] [BOOT=uefi] qemu/build.sh [BUILD_DIR]
# (default build/qemu, build/qemu-debian, build/qemu-arm64 or build/qemu-uefi;
# needs build/systemota*).
# FLAVOUR=debian builds version 1 and 2 as systemd Debian 12 root filesystems
# (mmdebstrap) instead of busybox. ARCH=arm64 builds an Arm board behind
# U-Boot: sysroot/ (Debian's arm64 packages, extracted), an initramfs made
# from it with dracut --sysroot, boot.img (the FAT boot partition with
# extlinux/extlinux.conf, kernel and initramfs, sixth in the GPT and first on
# the disk), and the busybox versions with version 2's own-kernel variant
# (its kernel started by kexec_load through kexec-tools: Debian's arm64
# kernel has no kexec_file_load). BOOT=uefi builds the x86 busybox device
# behind OVMF: boot.img is then its EFI system partition (systemd-boot, its
# entry, kernel and initramfs), and ovmf-vars.fd the firmware's empty
# variable store.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
FLAVOUR=${FLAVOUR:-busybox}
ARCH=${ARCH:-x86_64}
BOOT=${BOOT:-}
if [ "$FLAVOUR" = debian ]; then out=${1:-$top/build/qemu-debian}; else out=${1:-$top/build/qemu}; fi
[ "$ARCH" = arm64 ] && out=${1:-$top/build/qemu-arm64}
[ "$BOOT" = uefi ] && out=${1:-$top/build/qemu-uefi}
if [ "$BOOT" = uefi ] && { [ "$ARCH" != x86_64 ] || [ "$FLAVOUR" != busybox ]; }; then
	echo "qemu/build.sh: BOOT=uefi builds the x86 busybox device only" >&2
	exit 2
fi
sota=$top/build/systemota
sota_static=$top/build/systemota.static.stripped
# ARCH=arm64: the device is an Arm board behind U-Boot. Its binary is the
# cross-built one (make ARCH=arm64); its kernel, busybox and the userland the
# initramfs needs are Debian's arm64 packages, extracted into $out/sysroot
# (qemu/debs.sh), from which dracut builds the initramfs with --sysroot.
run_target=() # how the host runs one of the device's programs
if [ "$ARCH" = arm64 ]; then
	sota_static=$top/build/arm64/systemota.static.stripped
	run_target=(qemu-aarch64 -cpu cortex-a72)
	[ "$FLAVOUR" = busybox ] || { echo "qemu/build.sh: ARCH=arm64 builds the busybox flavour only" >&2; exit 2; }
fi
# shellcheck source=layout.sh
. "$top/qemu/layout.sh"

say() { printf '==> %s\n' "$*"; }

fetch_debs() {
	mkdir -p "$out/debs"
	local kpkg
	kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
	[ -n "$kpkg" ] || { echo "cannot find the kernel package behind linux-image-amd64" >&2; exit 1; }
	if ! ls "$out/debs/$kpkg"_*.deb > /dev/null 2>&1 || ! ls "$out"/debs/busybox-static_*.deb > /dev/null 2>&1; then
		say "downloading $kpkg and busybox-static (not installed on this host)"
		(cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static > /dev/null)
	fi
	if [ ! -f "$out/kernel/.done" ]; then
		rm -rf "$out/kernel" "$out/busybox"
		dpkg-deb -x "$(ls "$out/debs/$kpkg"_*.deb)" "$out/kernel"
		dpkg-deb -x "$(ls "$out"/debs/busybox-static_*.deb)" "$out/busybox"
		kver=$(ls "$out/kernel/lib/modules")
		depmod -b "$out/kernel" "$kver"
		touch "$out/kernel/.done"
	fi
	kver=$(ls "$out/kernel/lib/modules")
	ln -sf "kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
}

# The arm64 device's packages: its kernel, busybox, and what dracut's modules
# base, udev-rules and kernel-modules install with their libraries (each
# package's dependencies, not its recommends; the other initramfs generators
# and debconf's front ends left out), and the arm64 dracut itself, whose
# dracut-util goes into the initramfs (dracut-install runs on the host).
TARGET_PKGS="bash dash coreutils util-linux mount kmod udev sed grep findutils dmsetup busybox-static dracut-core kexec-tools"
TARGET_SKIP='(dracut|initramfs-tools(-core)?|tiny-initramfs(-core)?|klibc-utils|libklibc|linux-image-.*|cdebconf|libdebian-installer4|libnewt0.52|libslang2|libtextwrap1|install-info|libelogind0|original-awk|adduser|passwd|debconf|dpkg|tar|cpio)'
fetch_target() {
	local debs=$top/qemu/debs.sh kpkg pkgs
	if [ ! -f "$out/sysroot/.done" ]; then
		kpkg=$("$debs" apt-cache arm64 "$out" depends linux-image-arm64 |
			sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
		[ -n "$kpkg" ] || { echo "cannot find the kernel package behind linux-image-arm64" >&2; exit 1; }
		# shellcheck disable=SC2086 # package names
		pkgs=$("$debs" closure arm64 "$out" $TARGET_PKGS | grep -v -x -E "$TARGET_SKIP")
		# shellcheck disable=SC2086 # package names
		"$debs" sysroot arm64 "$out" $pkgs "$kpkg"
		kver=$(ls "$out/sysroot/lib/modules")
		depmod -b "$out/sysroot" "$kver"
		[ -f "$out/sysroot/etc/passwd" ] || echo 'root:x:0:0:root:/root:/bin/sh' > "$out/sysroot/etc/passwd"
		touch "$out/sysroot/.done"
	fi
	kver=$(ls "$out/sysroot/lib/modules")
	# The names the rest of this script uses for the kernel and busybox.
	ln -sfn sysroot "$out/kernel"
	ln -sfn sysroot "$out/busybox"
	ln -sf "sysroot/boot/vmlinuz-$kver" "$out/vmlinuz"
	# The device's own files, where dracut --sysroot (the module's defaults) reads them.
	install -D -m 0755 "$sota_static" "$out/sysroot/usr/sbin/systemota"
	install -D -m 0644 "$conf" "$out/sysroot/etc/systemota/system.conf"
	rm -rf "$out/sysroot/etc/systemota/keys" && mkdir -p "$out/sysroot/etc/systemota/keys"
	install -m 0644 "$top"/keys/trusted/*.pem "$out/sysroot/etc/systemota/keys/"
	rm -rf "$out/sysroot/usr/lib/dracut/modules.d/90systemota"
	cp -a "$top/initramfs/90systemota" "$out/sysroot/usr/lib/dracut/modules.d/"
}

# make_initrd_arm64 OUT BOOT_ID: the same initramfs from the arm64 sysroot.
make_initrd_arm64() {
	local kver root=$out/sysroot
	kver=$(ls "$root/lib/modules")
	mkdir -p "$out/dracut.conf.d"
	# dracut 059 with --sysroot leaves these empty (it tests "$sysroot$dir" with an empty dir).
	printf '%s\n' systemdutildir=/lib/systemd systemdsystemunitdir=/lib/systemd/system udevdir=/lib/udev \
		> "$out/dracut.conf.d/sysroot.conf"
	DRACUT_INSTALL=/usr/lib/dracut/dracut-install DRACUT_LDD=$top/qemu/cross-ldd.sh CROSS_SYSROOT=$root \
		dracutbasedir=$root/usr/lib/dracut SYSTEMOTA_BOOT_ID=$2 \
		dracut --quiet --force --no-hostonly --no-hostonly-cmdline --conf /dev/null --confdir "$out/dracut.conf.d" \
		--sysroot "$root" --kver "$kver" --kmoddir "$root/lib/modules/$kver" \
		--modules "base udev-rules kernel-modules systemota" \
		--drivers "virtio_blk virtio_pci virtio_mmio i6300esb ramoops" \
		--no-early-microcode --compress "zstd -3" "$1"
}

# make_rootfs NAME VERSION LABEL [MIB] [EXTRA]: the demo root filesystem image NAME.img
# (busybox, the static systemota, hooks, keys, config); EXTRA is a function
# run on the tree before it becomes an image, to make a variant.
make_rootfs() {
	local name=$1 version=$2 label=$3 mib=${4:-$ROOT_IMAGE_MIB} extra=${5:-} dir=$out/rootfs-$1
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc/systemota/keys,proc,sys,dev,run,tmp,data,ctl,root,boot}
	cp "$out/busybox/bin/busybox" "$dir/bin/busybox"
	for applet in $("${run_target[@]}" "$dir/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
	done
	install -m 0755 "$top/qemu/rootfs/init" "$dir/sbin/init"
	install -m 0755 "$sota_static" "$dir/usr/sbin/systemota"
	install -D -m 0755 "$top/hooks/confirm" "$dir/usr/lib/systemota/confirm"
	install -D -m 0755 "$top/hooks/sysvinit/systemota" "$dir/etc/init.d/systemota"
	mkdir -p "$dir/etc/systemota/health.d" "$dir/usr/lib/systemota/post-install.d"
	install -m 0644 "$conf" "$dir/etc/systemota/system.conf"
	install -m 0644 "$top"/keys/trusted/*.pem "$dir/etc/systemota/keys/"
	echo "$version" > "$dir/etc/demo-version"
	printf 'NAME="SystemOTA demo"\nVERSION="%s"\nVERSION_ID=%s\n' "$label" "$version" > "$dir/etc/os-release"
	[ -z "$extra" ] || "$extra" "$dir"
	rm -f "$out/$name.img"
	# Fixed UUID and hash seed: the image depends only on its contents.
	E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -b 4096 -L "$name" \
		-U "00000000-0000-4000-8000-00000000000$version" -E hash_seed=00000000-0000-4000-8000-000000000000 \
		-d "$dir" "$out/$name.img" "${mib}M" > /dev/null
}

# The demo's keyring 1: the development key (the initramfs's root key) authorises
# the development signing key, which signs every bundle (docs/keyring.md).
make_keyring() {
	SOURCE_DATE_EPOCH=1700000000 "$sota" -q --config /dev/null keyring create --version 1 \
		--root "$top/keys/trusted/dev.pem" --signing "$top/keys/dev-signing.pem" \
		--key "$top/keys/dev-private.key" -o "$out/keyring-1"
}

# make_bundle NAME VERSION LABEL: NAME.sota from NAME.img, format 2: signed with
# the development signing key, carrying keyring 1, and its image's dm-verity
# root hash (the slot is checked at every boot, docs/verity.md).
make_bundle() {
	[ -s "$out/keyring-1" ] || make_keyring
	SOURCE_DATE_EPOCH=1700000000 "$sota" -q --config /dev/null bundle create --image "$out/$1.img" \
		--key "$top/keys/dev-signing-private.key" --keyring "$out/keyring-1" \
		--compatible "$COMPATIBLE" --version "$2" --label "$3" --verity \
		--level "${LEVEL:-19}" -o "$out/$1.sota"
}

# make_initrd OUT BOOT_ID: a dracut initramfs with our module, naming itself BOOT_ID.
make_initrd() {
	local kver dracut_dir=$out/dracut
	kver=$(ls "$out/kernel/lib/modules")
	if [ ! -d "$dracut_dir/modules.d/90systemota" ] || [ "$1" = "$out/initrd.img" ]; then
		rm -rf "$dracut_dir"
		mkdir -p "$out/dracut.conf.d"
		cp -a /usr/lib/dracut "$dracut_dir"
		cp -a "$top/initramfs/90systemota" "$dracut_dir/modules.d/"
	fi
	dracutbasedir=$dracut_dir SYSTEMOTA_BINARY=$sota_static SYSTEMOTA_CONF=$conf \
		SYSTEMOTA_KEYS=$top/keys/trusted SYSTEMOTA_BOOT_ID=$2 \
		dracut --quiet --force --no-hostonly --no-hostonly-cmdline --conf /dev/null --confdir "$out/dracut.conf.d" \
		--kver "$kver" --kmoddir "$out/kernel/lib/modules/$kver" \
		--modules "base udev-rules kernel-modules systemota" --drivers "virtio_blk virtio_pci i6300esb ramoops" \
		--no-early-microcode --compress "zstd -3" "$1"
}

# Variants of version 2, for the kernel update and migration hook tests.
with_own_kernel() { # the slot carries its own kernel and initramfs (boot id v2-kernel)
	cp "$out/vmlinuz" "$1/boot/vmlinuz"
	cp "$out/initrd-v2.img" "$1/boot/initrd.img"
	echo v2-kernel > "$1/boot/systemota-boot-id"
}
with_bad_kernel() { # ... whose initramfs is garbage: that kernel cannot boot the slot
	cp "$out/vmlinuz" "$1/boot/vmlinuz"
	head -c $((2 * 1024 * 1024)) /dev/urandom > "$1/boot/initrd.img"
	echo v2-bad-kernel > "$1/boot/systemota-boot-id"
}
with_hanging_kernel() { # ... whose initramfs hangs at once, never opening the watchdog
	cp "$out/vmlinuz" "$1/boot/vmlinuz"
	local d
	d=$(mktemp -d)
	mkdir -p "$d/bin"
	cp "$out/busybox/bin/busybox" "$d/bin/busybox"
	printf '#!/bin/busybox sh\necho "TEST: the slot kernel hangs"\nexec /bin/busybox sleep 2147483647\n' > "$d/init"
	chmod 0755 "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet) > "$1/boot/initrd.img"
	rm -rf "$d"
	echo v2-hang-kernel > "$1/boot/systemota-boot-id"
}
with_looping_kernel() { # ... whose initramfs names itself v2-kernel, not the slot's boot id
	cp "$out/vmlinuz" "$1/boot/vmlinuz"
	cp "$out/initrd-v2.img" "$1/boot/initrd.img"
	echo v2-loop-kernel > "$1/boot/systemota-boot-id"
}
with_hooks() { # post-install hooks that migrate a setting on the data partition
	install -m 0755 "$top/qemu/rootfs/migrate-hook" "$1/usr/lib/systemota/post-install.d/10-migrate"
}
with_broken_app() { # version 3 for the demo: it migrates the data, then fails its health check
	with_hooks "$1"
	printf '#!/bin/sh\necho "app: the new database schema does not start"\nexit 1\n' > "$1/etc/systemota/health.d/10-app"
	chmod 0755 "$1/etc/systemota/health.d/10-app"
}
with_failing_hook() {
	with_hooks "$1"
	printf '#!/bin/sh\necho "cannot convert the database"\nexit 3\n' > "$1/usr/lib/systemota/post-install.d/20-fails"
	chmod 0755 "$1/usr/lib/systemota/post-install.d/20-fails"
}

# The Debian base tree, made once with mmdebstrap from Debian's packages and kept.
debian_base() {
	[ -f "$out/debian-base.tar" ] && return 0
	say "building a Debian 12 systemd root filesystem with mmdebstrap (once)"
	mmdebstrap --quiet --variant=minbase --include=systemd-sysv,udev \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		bookworm "$out/debian-base.tmp.tar"
	mv "$out/debian-base.tmp.tar" "$out/debian-base.tar"
}

# make_rootfs_debian NAME VERSION: a systemd Debian root with SystemOTA
# integrated as docs/integration.md says: units, confirm, config, keys.
make_rootfs_debian() {
	local name=$1 version=$2 dir=$out/rootfs-$1
	rm -rf "$dir" && mkdir -p "$dir"
	tar -C "$dir" -xf "$out/debian-base.tar"
	rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/*
	install -m 0755 "$sota_static" "$dir/usr/sbin/systemota"
	install -D -m 0755 "$top/hooks/confirm" "$dir/usr/lib/systemota/confirm"
	install -m 0644 "$top"/hooks/systemd/*.service "$dir/etc/systemd/system/"
	install -D -m 0755 "$top/qemu/debian/demo-step" "$dir/usr/lib/demo/demo-step"
	install -m 0644 "$top/qemu/debian/demo-step.service" "$dir/etc/systemd/system/"
	mkdir -p "$dir/etc/systemd/system/multi-user.target.wants" "$dir/etc/systemota/keys" \
		"$dir/etc/systemota/health.d" "$dir/data" "$dir/ctl"
	for unit in systemota-confirm systemota-clean-shutdown demo-step; do
		ln -sf "../$unit.service" "$dir/etc/systemd/system/multi-user.target.wants/$unit.service"
	done
	install -m 0644 "$conf" "$dir/etc/systemota/system.conf"
	install -m 0644 "$top"/keys/trusted/*.pem "$dir/etc/systemota/keys/"
	install -m 0644 "$top/qemu/debian/fstab" "$dir/etc/fstab"
	echo "$version" > "$dir/etc/demo-version"
	echo "systemota-demo" > "$dir/etc/hostname"
	: > "$dir/etc/machine-id"
	rm -f "$out/$name.img"
	E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -b 4096 -L "$name" \
		-U "00000000-0000-4000-8000-00000000000$version" -E hash_seed=00000000-0000-4000-8000-000000000000 \
		-d "$dir" "$out/$name.img" "$(($(du -sm "$dir" | cut -f1) * 5 / 4 + 32))M" > /dev/null
}

# make_boot_partition: the FAT boot partition U-Boot's distro boot reads
# (arm64): extlinux/extlinux.conf (qemu/extlinux.conf), the kernel, the
# initramfs. Made with mtools, without mounting; nothing on it ever changes.
make_boot_partition() {
	rm -f "$out/boot.img"
	mkfs.vfat -C -n BOOT "$out/boot.img" $((BOOT_SECTORS / 2)) > /dev/null
	mmd -i "$out/boot.img" ::/extlinux
	mcopy -i "$out/boot.img" "$out/vmlinuz" ::/vmlinuz
	mcopy -i "$out/boot.img" "$out/initrd.img" ::/initrd.img
	mcopy -i "$out/boot.img" "$top/qemu/extlinux.conf" ::/extlinux/extlinux.conf
}

# make_esp: the EFI system partition of BOOT=uefi: systemd-boot as the
# removable-media loader (\EFI\BOOT\BOOTX64.EFI, which OVMF starts without any
# boot variable of ours), its loader.conf and one entry (qemu/systemd-boot),
# the kernel and the initramfs. Made with mtools, without mounting; nothing on
# it ever changes. And the firmware's variable store, OVMF's empty one.
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
SYSTEMD_BOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
make_esp() {
	rm -f "$out/boot.img"
	mkfs.vfat -C -n ESP "$out/boot.img" $((BOOT_SECTORS / 2)) > /dev/null
	mmd -i "$out/boot.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
	mcopy -i "$out/boot.img" "$SYSTEMD_BOOT" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$out/boot.img" "$top/qemu/systemd-boot/loader.conf" ::/loader/loader.conf
	mcopy -i "$out/boot.img" "$top/qemu/systemd-boot/systemota.conf" ::/loader/entries/systemota.conf
	mcopy -i "$out/boot.img" "$out/vmlinuz" ::/vmlinuz
	mcopy -i "$out/boot.img" "$out/initrd.img" ::/initrd.img
	cp "$OVMF_VARS" "$out/ovmf-vars.fd"
}

make_disk() {
	local disk=$out/disk.img state=$out/state.img data=$out/data-dir
	rm -f "$disk" "$state"
	truncate -s $((DISK_SECTORS * 512)) "$disk"
	sfdisk -q "$disk" <<-SFDISK
		label: gpt
		start=$STATE_START, size=$STATE_SECTORS, name="systemota-state"
		start=$SLOT_A_START, size=$SLOT_SECTORS, name="systemota-a"
		start=$SLOT_B_START, size=$SLOT_SECTORS, name="systemota-b"
		start=$DATA_START, size=$DATA_SECTORS, name="systemota-data"
		start=$COW_START, size=$COW_SECTORS, name="systemota-cow"
		${BOOT_START:+start=$BOOT_START, size=$BOOT_SECTORS, name="systemota-boot"${BOOT_TYPE:+, type=$BOOT_TYPE}${BOOT_ATTRS:+, attrs="$BOOT_ATTRS"}}
	SFDISK
	# The boot partition (arm64): first on the disk, last in the table, so the
	# other partitions keep their numbers on every architecture.
	[ -z "$BOOT_START" ] || dd if="$out/boot.img" of="$disk" bs=512 seek="$BOOT_START" conv=notrunc,sparse status=none
	# Factory provisioning: slot A holds version 1 and is the good one, written
	# from its bundle as the applier writes a slot (image, verity tree, footer).
	truncate -s $((STATE_SECTORS * 512)) "$state"
	"$sota" -q --state "$state" state init --active A --slot-version 1 --slot-label 1.0 --verity
	LEVEL=1 make_bundle root-v1 1 1.0
	rm -f "$out/slot-a.img" && truncate -s $((SLOT_SECTORS * 512)) "$out/slot-a.img"
	"$sota" -q --config /dev/null --keys "$top/keys/trusted" bundle install "$out/root-v1.sota" "$out/slot-a.img"
	rm -rf "$data" && mkdir -p "$data/systemota/staged"
	# User data from before any update: the power-cut tests check it survives every cut.
	head -c $((256 * 1024)) /dev/urandom > "$data/canary"
	(cd "$data" && sha256sum canary) > "$out/canary.sha256"
	E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -L data -d "$data" "$out/data.img" $((DATA_SECTORS / 2))K > /dev/null
	dd if="$state" of="$disk" bs=512 seek="$STATE_START" conv=notrunc,sparse status=none
	dd if="$out/slot-a.img" of="$disk" bs=512 seek="$SLOT_A_START" conv=notrunc,sparse status=none
	rm -f "$out/slot-a.img"
	dd if="$out/data.img" of="$disk" bs=512 seek="$DATA_START" conv=notrunc,sparse status=none
}

mkdir -p "$out"
# The device's config; systemd takes longer to its boot-complete point than
# busybox, so the Debian flavour gives a trial boot a longer watchdog.
conf=$out/system.conf
if [ "$FLAVOUR" = debian ]; then
	# Without dmsetup's udev rules systemd would wait for /dev/mapper/systemota-data:
	# this flavour's data is not checkpointed yet.
	sed -e 's/^watchdog-timeout = .*/watchdog-timeout = 180/' -e '/^cow = /d' "$top/qemu/system.conf" > "$conf"
elif [ "$ARCH" = arm64 ]; then
	# The emulated Cortex-A72 boots about twice as slowly as the x86 device: a
	# trial's countdown covers the kexec'd kernel's boot too (38.9 s from the
	# kexec to its initramfs, with one other VM running).
	sed -e "s/^compatible = .*/compatible = $COMPATIBLE/" -e 's/^watchdog-timeout = .*/watchdog-timeout = 90/' \
		"$top/qemu/system.conf" > "$conf"
else
	sed -e "s/^compatible = .*/compatible = $COMPATIBLE/" "$top/qemu/system.conf" > "$conf"
fi
if [ "$ARCH" = arm64 ]; then
	fetch_target
	say "building the arm64 initramfs with dracut --sysroot (module systemota), and one for version 2's own kernel"
	make_initrd_arm64 "$out/initrd.img" factory
	make_initrd_arm64 "$out/initrd-v2.img" v2-kernel
	make_boot_partition
	say "building root filesystems (busybox, arm64): version 1, version 2 and its variants"
	make_rootfs root-v1 1 1.0
	make_rootfs root-v2 2 2.0
	# Room for the kernel (Debian's arm64 one is an uncompressed Image) and its initramfs.
	own_mib=$((($(stat -L -c %s "$out/vmlinuz") + $(stat -c %s "$out/initrd-v2.img")) / 1048576 + 16))
	make_rootfs root-v2-kernel 2 2.0-kernel "$own_mib" with_own_kernel
	make_rootfs root-v2-hooks 2 2.0-hooks "" with_hooks
	make_rootfs root-v2-bad-hook 2 2.0-bad-hook "" with_failing_hook
	make_rootfs root-v3-broken 3 3.0-broken "" with_broken_app
	say "signing the version 2 and 3 bundles with the development signing key (keyring 1)"
	for v in v2 v2-kernel v2-hooks v2-bad-hook v3-broken; do
		make_bundle "root-$v" "${v:1:1}" "$(sed -n 's/^VERSION="\(.*\)"/\1/p' "$out/rootfs-root-$v/etc/os-release")"
		mv "$out/root-$v.sota" "$out/$v.sota"
	done
	make_disk
	say "demo device ready in $out"
	exit 0
fi
fetch_debs
if [ "$FLAVOUR" = debian ]; then
	say "building the initramfs with dracut (module systemota)"
	make_initrd "$out/initrd.img" factory
	debian_base
	say "building root filesystems: Debian with systemd, version 1 and version 2"
	make_rootfs_debian root-v1 1
	make_rootfs_debian root-v2 2
	say "signing the version 2 bundle with the development signing key (keyring 1)"
	LEVEL=9 make_bundle root-v2 2 2.0
	mv "$out/root-v2.sota" "$out/v2.sota"
	make_disk
	say "demo device ready in $out"
	exit 0
fi
say "building the initramfs with dracut (module systemota), and one for version 2's own kernel"
make_initrd "$out/initrd.img" factory
make_initrd "$out/initrd-v2.img" v2-kernel
say "building root filesystems: version 1, version 2 and its variants"
make_rootfs root-v1 1 1.0
make_rootfs root-v2 2 2.0
make_rootfs root-v2-kernel 2 2.0-kernel 40 with_own_kernel
make_rootfs root-v2-bad-kernel 2 2.0-bad-kernel 40 with_bad_kernel
make_rootfs root-v2-loop-kernel 2 2.0-loop-kernel 40 with_looping_kernel
make_rootfs root-v2-hang-kernel 2 2.0-hang-kernel 40 with_hanging_kernel
make_rootfs root-v2-hooks 2 2.0-hooks "" with_hooks
make_rootfs root-v2-bad-hook 2 2.0-bad-hook "" with_failing_hook
make_rootfs root-v3-broken 3 3.0-broken "" with_broken_app
say "signing the version 2 and 3 bundles with the development signing key (keyring 1)"
for v in v2 v2-kernel v2-bad-kernel v2-loop-kernel v2-hang-kernel v2-hooks v2-bad-hook v3-broken; do
	make_bundle "root-$v" "${v:1:1}" "$(sed -n 's/^VERSION="\(.*\)"/\1/p' "$out/rootfs-root-$v/etc/os-release")"
	mv "$out/root-$v.sota" "$out/$v.sota"
done
[ "$BOOT" != uefi ] || make_esp
make_disk
say "demo device ready in $out"
