# shellcheck shell=sh
# shellcheck disable=SC2034 # sourced: the variables are used by the scripts that source it
# The demo device's disk, in 512-byte sectors (GPT, partitions found by label).
# Shared by the image builder and the tests, which read partitions back by offset.
DISK_SECTORS=335872 # 164 MiB
STATE_START=2048 STATE_SECTORS=2048         # 1 MiB: the boot-state record, two copies
SLOT_A_START=4096 SLOT_SECTORS=98304        # 48 MiB each
SLOT_B_START=102400
DATA_START=200704 DATA_SECTORS=131072       # 64 MiB ext4: drop-in directory, user data
ROOT_IMAGE_MIB=16                           # the root filesystem images written to the slots
COMPATIBLE=demo-x86_64
