#!/bin/bash
# Builds the QEMU demo device into build/qemu, from Debian packages, without
# mounting anything and without touching the host's /boot:
#
#   kernel/      Debian's kernel and modules (apt-get download + dpkg-deb -x)
#   initrd.img   a dracut initramfs with our module (dracut run from a private copy
#                of its module tree, so nothing is installed on the host)
#   root-v1.img  busybox root filesystem, version 1 (ext4, mkfs.ext4 -d)
#   root-v2.img  the same, version 2
#   v2.sota      the version 2 bundle, signed with the development key
#   disk.img     the factory disk: GPT, state record (slot A, version 1),
#                root-v1 in slot A, empty slot B, ext4 data partition holding
#                the empty drop-in directory and a canary file (canary.sha256)
#
# usage: qemu/build.sh [BUILD_DIR]   (default build/qemu; needs build/systemota*)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/qemu}
sota=$top/build/systemota
sota_static=$top/build/systemota.static.stripped
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

# make_rootfs VERSION LABEL: the demo root filesystem image root-vVERSION.img
make_rootfs() {
	local version=$1 label=$2 dir=$out/rootfs-v$1
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc/systemota/keys,proc,sys,dev,run,tmp,data,ctl,root}
	cp "$out/busybox/bin/busybox" "$dir/bin/busybox"
	for applet in $("$dir/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
	done
	install -m 0755 "$top/qemu/rootfs/init" "$dir/sbin/init"
	install -m 0755 "$sota_static" "$dir/usr/sbin/systemota"
	install -D -m 0755 "$top/hooks/confirm" "$dir/usr/lib/systemota/confirm"
	install -D -m 0755 "$top/hooks/sysvinit/systemota" "$dir/etc/init.d/systemota"
	mkdir -p "$dir/etc/systemota/health.d"
	install -m 0644 "$top/qemu/system.conf" "$dir/etc/systemota/system.conf"
	install -m 0644 "$top"/keys/trusted/*.pem "$dir/etc/systemota/keys/"
	echo "$version" > "$dir/etc/demo-version"
	printf 'NAME="SystemOTA demo"\nVERSION="%s"\nVERSION_ID=%s\n' "$label" "$version" > "$dir/etc/os-release"
	rm -f "$out/root-v$version.img"
	# Fixed UUID and hash seed: the image depends only on its contents and version.
	E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -L "root-v$version" \
		-U "00000000-0000-4000-8000-00000000000$version" -E hash_seed=00000000-0000-4000-8000-000000000000 \
		-d "$dir" "$out/root-v$version.img" "${ROOT_IMAGE_MIB}M" > /dev/null
}

make_initrd() {
	local kver dracut_dir=$out/dracut
	kver=$(ls "$out/kernel/lib/modules")
	rm -rf "$dracut_dir"
	mkdir -p "$out/dracut.conf.d"
	cp -a /usr/lib/dracut "$dracut_dir"
	cp -a "$top/initramfs/90systemota" "$dracut_dir/modules.d/"
	say "building the initramfs with dracut (module systemota, kernel $kver)"
	dracutbasedir=$dracut_dir SYSTEMOTA_BINARY=$sota_static SYSTEMOTA_CONF=$top/qemu/system.conf \
		SYSTEMOTA_KEYS=$top/keys/trusted \
		dracut --quiet --force --no-hostonly --no-hostonly-cmdline --conf /dev/null --confdir "$out/dracut.conf.d" \
		--kver "$kver" --kmoddir "$out/kernel/lib/modules/$kver" \
		--modules "base udev-rules kernel-modules systemota" --drivers "virtio_blk virtio_pci i6300esb ramoops" \
		--no-early-microcode --compress "zstd -3" "$out/initrd.img"
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
	SFDISK
	# Factory provisioning: slot A holds version 1 and is the good one.
	truncate -s $((STATE_SECTORS * 512)) "$state"
	"$sota" -q --state "$state" state init --active A --slot-version 1 --slot-label 1.0
	rm -rf "$data" && mkdir -p "$data/systemota/staged"
	# User data from before any update: the power-cut tests check it survives every cut.
	head -c $((256 * 1024)) /dev/urandom > "$data/canary"
	(cd "$data" && sha256sum canary) > "$out/canary.sha256"
	E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -L data -d "$data" "$out/data.img" $((DATA_SECTORS / 2))K > /dev/null
	dd if="$state" of="$disk" bs=512 seek="$STATE_START" conv=notrunc,sparse status=none
	dd if="$out/root-v1.img" of="$disk" bs=512 seek="$SLOT_A_START" conv=notrunc,sparse status=none
	dd if="$out/data.img" of="$disk" bs=512 seek="$DATA_START" conv=notrunc,sparse status=none
}

mkdir -p "$out"
fetch_debs
say "building root filesystems: version 1 and version 2"
make_rootfs 1 1.0
make_rootfs 2 2.0
say "signing the version 2 bundle with the development key"
SOURCE_DATE_EPOCH=1700000000 "$sota" -q bundle create --image "$out/root-v2.img" \
	--key "$top/keys/dev-private.key" --compatible "$COMPATIBLE" --version 2 --label 2.0 \
	-o "$out/v2.sota"
make_initrd
make_disk
say "demo device ready in $out"
