#!/bin/sh
# shellcheck disable=SC2154,SC1091 # root, NEWROOT: dracut's variables; dracut-lib.sh: in the initramfs
# SystemOTA, dracut mount hook (sourced by dracut's init). Runs the applier,
# which installs a staged update if there is one and prints the slot to boot
# as "SLOT DEVICE", then mounts that slot read-only on $NEWROOT.
#
# The device must always boot: if the applier fails, boot the last good slot
# (systemota boot-slot reads the record and changes nothing); if even that
# fails, slot A; if the chosen slot does not mount, the last good one.

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

systemota_choose() {
    _sota=$(systemota --keys /etc/systemota/keys apply) && [ -n "$_sota" ] && return 0
    warn "systemota: the applier failed; booting the last good slot"
    _sota=$(systemota boot-slot) && [ -n "$_sota" ] && return 0
    warn "systemota: boot state unreadable; booting slot A"
    _sota="A $(systemota device a)"
}

systemota_mount() {
    # shellcheck disable=SC2086 # "SLOT DEVICE": two words, no spaces inside
    set -- $1
    [ -b "$2" ] || return 1
    info "systemota: mounting slot $1 ($2) on $NEWROOT"
    mount -o ro "$2" "$NEWROOT"
}

if [ "$root" = "systemota" ] && ! ismounted "$NEWROOT"; then
    systemota_choose
    if ! systemota_mount "$_sota"; then
        warn "systemota: slot ${_sota%% *} does not mount; booting the last good slot"
        _sota=$(systemota boot-slot) && systemota_mount "$_sota"
    fi
    unset _sota
fi
