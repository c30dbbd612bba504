#!/bin/bash
# The dracut module refuses to build an initramfs it cannot complete: without
# the device config (an initramfs without it has an empty compatible and
# refuses every bundle), without a trusted key, or without the applier, dracut
# fails with the module's reason and writes no image. The same run with every
# piece present makes an image holding all of them; and
# the demo's own initramfs holds the kernel modules of the slot check. (No boot: dracut only.)
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
kver=$(ls "$QEMU_BUILD/kernel/lib/modules")
mkdir -p "$work/confdir" "$work/nokeys"
# dracut's tree from the demo's build, with this tree's module
cp -a "$QEMU_BUILD/dracut" "$work/dracut"
rm -rf "$work/dracut/modules.d/90systemota" && cp -a "$top/initramfs/90systemota" "$work/dracut/modules.d/"
# build NAME [VAR=VALUE...]: dracut with the demo's pieces, VARs overriding them
build() {
	local name=$1
	shift
	rm -f "$work/$name.img"
	env dracutbasedir="$work/dracut" SYSTEMOTA_BINARY="$top/build/systemota.static.stripped" \
		SYSTEMOTA_CONF="$QEMU_BUILD/system.conf" SYSTEMOTA_KEYS="$top/keys/trusted" SYSTEMOTA_BOOT_ID=test "$@" \
		dracut --quiet --force --no-hostonly --no-hostonly-cmdline --conf /dev/null --confdir "$work/confdir" \
		--kver "$kver" --kmoddir "$QEMU_BUILD/kernel/lib/modules/$kver" --modules "base systemota" \
		--no-kernel --no-early-microcode --compress cat "$work/$name.img" > "$work/$name.log" 2>&1
}
# refused NAME REASON VAR=VALUE: that build fails, says REASON, leaves no image
refused() {
	local name=$1 reason=$2
	shift 2
	if build "$name" "$@"; then
		fail "$name: dracut succeeded"
	elif ! grep -qF -- "$reason" "$work/$name.log"; then
		fail "$name: dracut failed without saying '$reason': $(tail -n 3 "$work/$name.log")"
	elif [ -s "$work/$name.img" ]; then
		fail "$name: an image was written"
	else
		log "$name: refused ($reason)"
	fi
}
refused no-config "systemota: no device config $work/missing.conf" SYSTEMOTA_CONF="$work/missing.conf"
refused no-keys "systemota: no trusted public key (*.pem) in $work/nokeys" SYSTEMOTA_KEYS="$work/nokeys"
# (the module's check() finds no applier, and dracut says so itself)
refused no-binary "dracut module 'systemota' cannot be found or installed" SYSTEMOTA_BINARY="$work/missing"
if ! build complete; then
	fail "complete: dracut failed: $(tail -n 3 "$work/complete.log")"
else
	files=$(cpio -t < "$work/complete.img" 2> /dev/null)
	for f in usr/sbin/systemota etc/systemota/system.conf etc/systemota/keys/dev.pem etc/systemota/boot-id; do
		grep -qx "$f" <<< "$files" || fail "complete: $f is not in the image"
	done
	log "complete: the image holds the applier, the config and the key"
fi
# The demo's own initramfs (qemu/build.sh, with the kernel's modules) holds the
# slot check's: dm-verity and the CPU's SHA-256 (docs/verity.md).
modules=$(lsinitrd "$QEMU_BUILD/initrd.img" 2> /dev/null | awk '{print $NF}')
for m in drivers/md/dm-verity.ko arch/x86/crypto/sha256-ssse3.ko; do
	grep -qE "^(usr/)?lib/modules/$kver/kernel/$m(\.[a-z]+)?\$" <<< "$modules" ||
		fail "$QEMU_BUILD/initrd.img lacks $m"
done
finish
