#!/bin/bash
# shellcheck disable=SC2154 # moddir: set by dracut
# dracut module "systemota": the SystemOTA applier in the initramfs.
#
# With root=systemota on the kernel command line, this initramfs installs a
# staged update (if any) and chooses the root slot itself; see README.md.
#
# What goes in, each overridable from the environment of the dracut run:
#   SYSTEMOTA_BINARY  the applier          (default /usr/sbin/systemota)
#   SYSTEMOTA_CONF    the device config    (default /etc/systemota/system.conf)
#   SYSTEMOTA_KEYS    trusted public keys  (default /etc/systemota/keys: *.pem, revoked)
# These are paths in the target's root: with dracut --sysroot DIR (a cross
# build, as Yocto's) they are read under DIR, like every file dracut installs.
# A missing binary, config or key fails the build: an initramfs without its
# config would refuse every bundle.
#   SYSTEMOTA_BOOT_ID the name of this kernel and initramfs pair (default: the
#                     kernel version). A slot whose /boot/systemota-boot-id
#                     differs carries its own kernel, which the initramfs kexecs.
# kexec-tools' kexec goes in too when the target has it: a kernel without
# kexec_file_load (CONFIG_KEXEC_FILE unset, as Debian's arm64 one) starts a
# slot's own kernel through it (the classic kexec_load); without it such a
# slot's trial fails, said in its record (docs/integration.md).

# called by dracut
check() {
    [ -x "${dracutsysrootdir-}${SYSTEMOTA_BINARY:-/usr/sbin/systemota}" ] || return 1
    # Only when asked for (dracut -a systemota, or add_dracutmodules+=" systemota ").
    return 255
}

# called by dracut
depends() {
    echo base udev-rules
    return 0
}

# called by dracut
installkernel() {
    # The slots' filesystems; block drivers are the platform's business. The
    # device-mapper's snapshot targets hold the data checkpoint (docs/data-rollback.md),
    # its verity target checks the slot at every read (docs/verity.md), best with the
    # CPU's SHA-256 (x86: SSSE3/AVX2/SHA-NI, arm64: the Crypto Extensions), which the
    # kernel otherwise leaves for its generic code.
    hostonly='' instmods ext4 squashfs dm-mod dm-snapshot dm-verity
    hostonly='' instmods sha256-ssse3 sha2-ce
}

# called by dracut
install() {
    # dracut ignores what install() returns: a missing piece exits, as
    # dracut's own udev-rules module does, so the build fails.
    # (dracut's inst_simple looks for its source outside the sysroot and says
    # nothing when it is missing: every source here is named with the sysroot.)
    local root=${dracutsysrootdir-}
    local bin=$root${SYSTEMOTA_BINARY:-/usr/sbin/systemota}
    local conf=$root${SYSTEMOTA_CONF:-/etc/systemota/system.conf}
    local keys=$root${SYSTEMOTA_KEYS:-/etc/systemota/keys}
    local k n=0

    if ! inst_binary "$bin" /usr/sbin/systemota; then
        dfatal "systemota: cannot install the applier $bin"
        exit 1
    fi
    if [ ! -f "$conf" ] || ! inst_simple "$conf" /etc/systemota/system.conf; then
        dfatal "systemota: no device config $conf"
        exit 1
    fi
    for k in "$keys"/*.pem; do
        [ -f "$k" ] || continue
        if ! inst_simple "$k" "/etc/systemota/keys/${k##*/}"; then
            dfatal "systemota: cannot install the key $k"
            exit 1
        fi
        n=$((n + 1))
    done
    if [ "$n" -eq 0 ]; then
        dfatal "systemota: no trusted public key (*.pem) in $keys"
        exit 1
    fi
    if [ -f "$keys/revoked" ] && ! inst_simple "$keys/revoked" /etc/systemota/keys/revoked; then
        dfatal "systemota: cannot install the revocation list $keys/revoked"
        exit 1
    fi
    echo "${SYSTEMOTA_BOOT_ID:-$kernel}" > "$initdir/etc/systemota/boot-id"
    for k in /usr/sbin/kexec /sbin/kexec; do
        if [ -x "$root$k" ]; then
            inst_binary "$root$k" /usr/sbin/kexec || { dfatal "systemota: cannot install $root$k"; exit 1; }
            break
        fi
    done
    inst_multiple mount umount modprobe
    inst_hook cmdline 90 "$moddir/systemota-cmdline.sh"
    inst_hook mount 90 "$moddir/systemota-mount.sh"
}
