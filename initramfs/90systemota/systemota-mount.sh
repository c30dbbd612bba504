#!/bin/sh
# shellcheck disable=SC2154,SC1091 # root, NEWROOT: dracut's variables; dracut-lib.sh: in the initramfs
# SystemOTA, dracut mount hook (sourced by dracut's init). Runs the applier,
# which installs a staged update if there is one and prints the slot to boot
# as "SLOT DEVICE", then mounts that slot read-only on $NEWROOT.
#
# The device must always boot:
#   - the applier runs once per boot: dracut may source this hook again, and
#     a second run would count a second try; the choice is kept in /run;
#   - if the applier fails, boot the last good slot (systemota boot-slot
#     reads the record and changes nothing; without a record it chooses from
#     the history and the slots' superblocks, never blindly); if that fails,
#     boot-slot again with the built-in defaults (a broken config must not
#     stop it); slot A only when not even that can run;
#   - the applier checks the slot before it is used (dm-verity, docs/verity.md)
#     and prints its verified mapping as the DEVICE; "none" when no slot can be
#     trusted: then nothing boots;
#   - if the chosen slot does not mount, or holds no usable root (dracut
#     would drop to a shell), the last good slot; if that is the same slot,
#     the other one, as a last resort (a slot that mounts beats a shell);
#     but never after a verified mapping: the applier checked every slot;
#   - a slot that carries its own kernel (/boot/systemota-boot-id other than
#     this initramfs's) is started with kexec; its initramfs boots the slot
#     without deciding again (systemota.kexec= on its command line);
#   - at most one kexec per boot: in a kernel started by kexec, `systemota
#     kexec` starts no other. For the slot on trial that is a failed try: it
#     is recorded and the device reboots (it does not return), so the next
#     boot counts the next try; any other slot boots with this kernel.

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

SYSTEMOTA_CHOICE=/run/systemota/choice
SYSTEMOTA_NL='
'

systemota_choose() {
    if [ -s "$SYSTEMOTA_CHOICE" ]; then
        _sota=$(cat "$SYSTEMOTA_CHOICE")
        return 0
    fi
    mkdir -p /run/systemota
    # The data checkpoint's targets, and the slot check's (nothing when the kernel has
    # them built in); the accelerated SHA-256 before dm-verity asks for one (x86, arm64).
    modprobe -q dm-snapshot 2> /dev/null
    modprobe -q sha256-ssse3 2> /dev/null || modprobe -q sha2-ce 2> /dev/null
    modprobe -q dm-verity 2> /dev/null
    _sota=$(systemota --keys /etc/systemota/keys apply) || _sota=
    # The answer is the last line, "SLOT DEVICE".
    _sota=${_sota##*"$SYSTEMOTA_NL"}
    if [ -z "$_sota" ]; then
        warn "systemota: the applier failed; booting the last good slot"
        _sota=$(systemota boot-slot) || _sota=
    fi
    if [ -z "$_sota" ]; then
        warn "systemota: boot-slot failed; trying it with the built-in defaults"
        _sota=$(systemota --config /dev/null boot-slot) || _sota=
    fi
    if [ -z "$_sota" ]; then
        warn "systemota: neither the record nor the slots can be looked at; booting slot A"
        _sota="A $(systemota --config /dev/null device a)"
    fi
    echo "$_sota" > "$SYSTEMOTA_CHOICE"
}

systemota_mount() {
    # shellcheck disable=SC2086 # "SLOT DEVICE": two words, no spaces inside
    set -- $1
    if [ "$2" = none ]; then
        # No slot passed its check and this one's footer is not trusted: running it, or
        # falling back to an unchecked slot, would run bytes nobody signed.
        die "systemota: slot $1 fails its check and no slot can be trusted; not booting"
    fi
    [ -b "$2" ] || return 1
    info "systemota: mounting slot $1 ($2) on $NEWROOT"
    mount -o ro "$2" "$NEWROOT" || return 1
    if ! usable_root "$NEWROOT"; then
        warn "systemota: slot $1 holds no usable root filesystem"
        umount "$NEWROOT"
        return 1
    fi
    # A slot with its own kernel: start it (this does not return), unless it is this one
    # or this kernel was started by kexec already.
    systemota kexec "$NEWROOT" "$1" || warn "systemota: booting slot $1 with this kernel instead"
    return 0
}

# "SLOT DEVICE" of the slot other than $1 (A or B), found with the built-in defaults.
systemota_other() {
    if [ "$1" = A ]; then
        echo "B $(systemota --config /dev/null device b)"
    else
        echo "A $(systemota --config /dev/null device a)"
    fi
}

if [ "$root" = "systemota" ] && ! ismounted "$NEWROOT"; then
    systemota_choose
    if ! systemota_mount "$_sota"; then
        case ${_sota#* } in
        /dev/mapper/systemota-verity-*)
            # The applier checked this slot and the others: an unchecked fallback would
            # run what it refused (docs/verity.md).
            die "systemota: slot ${_sota%% *}'s verified mapping does not mount; no unchecked slot is booted"
            ;;
        esac
        _failed=${_sota%% *}
        warn "systemota: slot $_failed does not boot; booting the last good slot"
        _sota=$(systemota boot-slot) || _sota=
        if [ -z "$_sota" ] || [ "${_sota%% *}" = "$_failed" ] || ! systemota_mount "$_sota"; then
            warn "systemota: last resort: the slot other than $_failed, unchecked"
            systemota_mount "$(systemota_other "$_failed")"
        fi
        unset _failed
    fi
    unset _sota
fi
