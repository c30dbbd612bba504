#!/bin/bash
# A power cut at a random moment of an update (the seed is the case
# argument: a failure replays with the same seed), then boot on.
# shellcheck source=../powercut.sh
. "$(dirname "$0")/../powercut.sh"
pc_run "random:$1"
finish
