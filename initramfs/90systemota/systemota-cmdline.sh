#!/bin/sh
# shellcheck disable=SC2154,SC2034 # root, rootok, hookdir: dracut's variables
# SystemOTA, dracut cmdline hook. root=systemota means: the applier picks the
# root slot. Wait in the initqueue until the state partition and both slots
# can be found (the applier looks them up by partition label itself).

if [ "$root" = "systemota" ]; then
    rootok=1
    echo 'systemota device all > /dev/null 2>&1' > "$hookdir/initqueue/finished/systemota.sh"
fi
