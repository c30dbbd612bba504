#!/bin/bash
# A power cut at one named point of an update (the case argument), then boot
# on: the device must end on the confirmed update with every invariant held.
# shellcheck source=../powercut.sh
. "$(dirname "$0")/../powercut.sh"
pc_run "testpoint:$1"
finish
