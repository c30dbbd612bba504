#!/bin/bash
# Version 1 stages version 2 -> reboot -> slot B runs version 2 on trial ->
# mark-good -> idle, active B, bundle removed -> a further reboot stays on B.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2.sota" "$work/ctl/"

boot 1 'systemota stage /ctl/v2.sota && echo "STAGED"; grep " / " /proc/mounts; after=reboot'
expect_booted 1 1 A
# The factory slot is checked at boot and runs from its dm-verity mapping.
expect_log 1 'systemota: slot A verified: version 1, every block against the signed root hash; booting it through dm-verity$'
expect_log 1 '^/dev/mapper/systemota-verity-a / '
expect_log 1 '^STAGED$'
expect_state '"state": "idle"' '"active": "A"' '"staged"'

boot 2 'systemota status --json; systemota mark-good && echo "MARKED-GOOD"; ls /data/systemota/staged; grep " / " /proc/mounts; after=reboot'
expect_booted 2 2 B
expect_log 2 'systemota: slot B verified: version 2, every block against the signed root hash; booting it through dm-verity$'
expect_log 2 '^/dev/mapper/systemota-verity-b / '
expect_log 2 'systemota: installing version 2 \(2.0\) into slot B'
expect_log 2 'systemota: slot B written and verified'
expect_log 2 '"state": "trying"'
expect_log 2 '^MARKED-GOOD$'
expect_log 2 'removed update.sota'
expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 2, "label": "2.0", "verity": true' \
	'"A": \{ "status": "good", "version": 1, "label": "1.0", "verity": true' '"last_error": null'
expect_slot_holds B "$QEMU_BUILD/root-v2.img"
expect_slot_holds A "$QEMU_BUILD/root-v1.img"

boot 3 'systemota status'
expect_booted 3 2 B
expect_no_log 3 '^systemota: installing'
expect_log 3 ' installed +slot B +version 2'
expect_log 3 ' checkpoint +slot B +version 2 \(2.0\): the data checkpointed before version 2$'
# status shows the last five entries; the whole history has the staging too.
history_has ' staged +slot B +version 2 \(2.0\): /ctl/v2.sota$'
expect_state '"state": "idle"' '"active": "B"'
finish
