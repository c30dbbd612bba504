#!/bin/sh
# shellcheck disable=SC2154,SC2034 # root, rootok, hookdir: dracut's variables
# SystemOTA, dracut cmdline hook. root=systemota means: the applier picks the
# root slot. Wait in the initqueue until the state partition and both slots
# can be found (the applier looks them up by partition label itself), but not
# forever: after dracut's initqueue timeout, go on anyway, so that the mount
# hook's fallbacks get their chance instead of an emergency shell.

if [ "$root" = "systemota" ]; then
    rootok=1
    mkdir -p /run/systemota
    echo '[ -e /run/systemota/wait-timeout ] || systemota device all > /dev/null 2>&1' \
        > "$hookdir/initqueue/finished/systemota.sh"
    echo 'warn "systemota: partitions not all found; going on"; : > /run/systemota/wait-timeout' \
        > "$hookdir/initqueue/timeout/systemota.sh"
fi
