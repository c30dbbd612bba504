#!/bin/bash
# A power cut in an update whose hook and trial write the data (the argument:
# MODE:CUT, e.g. fail:testpoint:hooks-done or confirm:random:7), then boot on:
# see powercut-data.sh for what must hold.
# shellcheck source=../powercut-data.sh
. "$(dirname "$0")/../powercut-data.sh"
pcd_run "${1%%:*}" "${1#*:}"
finish
