#!/bin/bash
# The new version comes up but a health check fails: hooks/confirm marks the
# slot bad, naming the check, and reboots; the next boot runs version 1 from
# slot A at once (no more tries), and the update is not retried.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
mkdir -p "$work/ctl/health.d"
printf '#!/bin/sh\necho "the web server does not answer"\nexit 1\n' > "$work/ctl/health.d/50-web"
printf '#!/bin/sh\nexit 0\n' > "$work/ctl/health.d/10-disk"
chmod +x "$work/ctl/health.d/"*
session 'SYSTEMOTA_HEALTH_DIR=/ctl/health.d SYSTEMOTA_REBOOT="reboot -f" /usr/lib/systemota/confirm' \
	'systemota status; after=poweroff'
[ "$(booted_sequence)" = "2B 1A" ] || fail "booted: $(booted_sequence), expected 2B 1A"
grep -q "health check 10-disk" "$work/session.log" || fail "the passing check did not run"
history_has 'marked-bad +slot B +version 2 \(2.0\) +ECANCELED: .*health check 50-web failed'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' \
	'"reason": "slot B \(version 2\) marked bad by the running system: health check 50-web failed"'
finish
