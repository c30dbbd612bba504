#!/bin/bash
# Version 2 carries its own kernel and initramfs (boot id v2-kernel). The
# factory initramfs decides and counts the try, sees the slot's other boot id
# and kexecs into the slot's kernel; that kernel's initramfs finds
# systemota.kexec=B and boots slot B without deciding again. The new system
# then runs with the slot's initramfs (its boot id) and confirms.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# Three boots, one of them two kernels, in one QEMU session: the default bound (240 s)
# was nearly reached (236 s) on a loaded 2-core machine.
export VM_TIMEOUT=${KERNEL_UPDATE_TIMEOUT:-600}
cp "$QEMU_BUILD/v2-kernel.sota" "$work/ctl/"
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory session 'systemota stage /ctl/v2-kernel.sota; after=reboot' \
	'echo "TEST: cmdline $(cat /proc/cmdline)"; systemota mark-good; after=reboot' \
	'echo "TEST: cmdline $(cat /proc/cmdline)"; after=poweroff'
[ "$(booted_sequence)" = "1A 2B 2B" ] || fail "booted: $(booted_sequence), expected 1A 2B 2B"
# Exactly one decision and one try for the trial boot, then the kexec'd initramfs went along.
expect_log_in 'slot B carries its own kernel \(boot id v2-kernel\): starting it'
expect_log_in 'in slot B.s own kernel now: booting it, nothing decided twice'
expect_log_in 'TEST: cmdline .*systemota.kexec=B'
[ "$(grep -c 'trial boot of slot B' "$work/session.log")" = 1 ] || fail "the trial boot was counted twice"
history_has 'kexec +slot B .*starting slot B.s own kernel \(boot id v2-kernel\)' 'confirmed +slot B'
expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 2'
expect_slot_holds B "$QEMU_BUILD/root-v2-kernel.img"
finish
