#!/usr/bin/env bash
# What the data checkpoint costs (docs/data-rollback.md), in one QEMU run of
# the demo device (make qemu-device), so that both sides see the same machine:
#
#   bench/checkpoint.sh [WORKDIR]     prints a markdown section on stdout
#
# Boot 1 (version 1, the data mapped straight): writes CP_FILES files of 1 MiB
# to /data, each fsynced, timed in the guest; stages version 2. Boot 2 (version
# 2 on trial, the data through the snapshot-origin): the same writes, then
# mark-bad. Boot 3: the initramfs merges the checkpoint back and says how many
# KiB it merged in how many ms. Reported: both write throughputs and their
# ratio, and the merge's ms per MiB written during the trial, also as a ratio
# to the straight write's ms per MiB. CP_FILES (default 4) must fit, with ext4's journal traffic, the demo's
# 8 MiB COW store with its metadata.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"
: "${QEMU_BUILD:=$top/build/qemu}"
# shellcheck source-path=SCRIPTDIR/.. source=qemu/layout.sh
. "$top/qemu/layout.sh"
# shellcheck source-path=SCRIPTDIR/.. source=qemu/vm.sh
. "$top/qemu/vm.sh"
w=${1:-$top/build/bench/checkpoint}
files=${CP_FILES:-4}
[ -f "$QEMU_BUILD/disk.img" ] || die "no demo device in $QEMU_BUILD: make qemu-device first"
rm -rf "$w" && mkdir -p "$w/ctl/steps"
cp --sparse=always "$QEMU_BUILD/disk.img" "$w/disk.img"
cp "$QEMU_BUILD/v2.sota" "$w/ctl/"
echo bench > "$w/ctl/run-id"
# In the guest: CP_FILES timed 1 MiB writes, "BENCH: writes <files> <ms>".
writes=$(
	cat <<STEP
ms() { read -r up _ < /proc/uptime; echo \$((\${up%.*} * 1000 + 10#\${up#*.} * 10)); }
sync; t0=\$(ms); i=0
while [ \$i -lt $files ]; do dd if=/dev/zero of=/data/bench-\$1-\$i bs=1M count=1 conv=fsync 2> /dev/null; i=\$((i + 1)); done
echo "BENCH: writes \$1 $files \$((\$(ms) - t0))"
STEP
)
printf '%s\n' "bench() { $writes
}" > "$w/ctl/bench.sh"
printf '%s\n' '. /ctl/bench.sh; bench plain; systemota stage /ctl/v2.sota; after=reboot' > "$w/ctl/steps/1.sh"
# The trial takes the armed watchdog over (the writes may outlast its timeout).
printf '%s\n' 'watchdog -t 2 -T 120 /dev/watchdog; . /ctl/bench.sh; bench origin; systemota status | grep "COW store"; systemota mark-bad; after=reboot' > "$w/ctl/steps/2.sh"
printf '%s\n' 'after=poweroff' > "$w/ctl/steps/3.sh"
cp "$w/ctl/steps/3.sh" "$w/ctl/step.sh"
say "one QEMU session of 3 boots ($files MiB written in boots 1 and 2)"
VM_SESSION=1 vm_boot "$w/disk.img" "$w/ctl" "$w/session.log" || die "the session failed (log: $w/session.log)"
value() { sed -n "s/^BENCH: writes $1 [0-9]* \([0-9]*\)$/\1/p" "$w/session.log"; }
plain=$(value plain) origin=$(value origin)
merge=$(sed -n 's/^systemota: data rolled back to before version 2 (\([0-9]*\) KiB merged in \([0-9]*\) ms)$/\1 \2/p' "$w/session.log")
if [ -z "$plain" ] || [ -z "$origin" ] || [ -z "$merge" ]; then die "a figure is missing (log: $w/session.log)"; fi
read -r kib merge_ms <<< "$merge"
awk -v f="$files" -v p="$plain" -v o="$origin" -v k="$kib" -v m="$merge_ms" 'BEGIN {
	printf "## The data checkpoint\n\n"
	printf "One QEMU session (TCG), %d files of 1 MiB, each written and fsynced on /data:\n\n", f
	printf "| | ms | MiB/s | ratio |\n| --- | ---: | ---: | ---: |\n"
	printf "| straight mapping (version 1) | %d | %.1f | 1.00 |\n", p, f * 1000 / p
	printf "| snapshot-origin (version 2 on trial) | %d | %.1f | %.2f |\n", o, f * 1000 / o, o / p
	printf "\nThe rollback merged %d KiB in %d ms in the initramfs: %.0f ms per MiB, %.2f times the straight write of a MiB.\n", k, m, m / (k / 1024), (m / (k / 1024)) / (p / f)
}'
