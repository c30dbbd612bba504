# shellcheck shell=sh
# shellcheck disable=SC2034 # sourced: the variables are used by the scripts that source it
# The demo device's disk, in 512-byte sectors (GPT, partitions found by label).
# Shared by the image builder and the tests, which read partitions back by offset.
# FLAVOUR=busybox (default): a tiny busybox system; FLAVOUR=debian: a systemd
# Debian 12 root filesystem made with mmdebstrap, so bigger slots.
# ARCH=arm64: an Arm device behind U-Boot, whose distro boot reads
# extlinux/extlinux.conf from the first partition, a FAT boot partition with
# the kernel and the initramfs (the only files the bootloader ever loads).
# BOOT=uefi (x86): a PC behind UEFI firmware (OVMF), whose EFI system
# partition, first on the disk, holds systemd-boot, its one entry, the kernel
# and the initramfs.
BOOT_TYPE='' BOOT_ATTRS=''
if [ "${ARCH:-x86_64}" = arm64 ]; then
	COMPATIBLE=demo-arm64
	BOOT_START=2048 BOOT_SECTORS=131072 # 64 MiB
	BOOT_ATTRS=LegacyBIOSBootable       # distro boot's "bootable" flag
	STATE_START=$((BOOT_START + BOOT_SECTORS))
elif [ "${BOOT:-}" = uefi ]; then
	COMPATIBLE=demo-x86_64
	BOOT_START=2048 BOOT_SECTORS=131072 # 64 MiB
	BOOT_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B # EFI system partition
	STATE_START=$((BOOT_START + BOOT_SECTORS))
else
	COMPATIBLE=demo-x86_64
	BOOT_START='' BOOT_SECTORS=''
	STATE_START=2048
fi
STATE_SECTORS=2048 # 1 MiB: the boot-state record, two copies, the history
SLOT_A_START=$((STATE_START + STATE_SECTORS))
if [ "${FLAVOUR:-busybox}" = debian ]; then
	SLOT_SECTORS=1310720           # 640 MiB each
	DATA_SECTORS=524288            # 256 MiB ext4: drop-in directory, user data
	ROOT_IMAGE_MIB=                # sized to their contents (~250 MiB)
elif [ "${ARCH:-x86_64}" = arm64 ]; then
	SLOT_SECTORS=163840            # 80 MiB each: Debian's arm64 kernel is a 32 MiB Image
	DATA_SECTORS=131072            # 64 MiB
	ROOT_IMAGE_MIB=16
else
	SLOT_SECTORS=98304             # 48 MiB each
	DATA_SECTORS=131072            # 64 MiB
	ROOT_IMAGE_MIB=16
fi
SLOT_B_START=$((SLOT_A_START + SLOT_SECTORS))
DATA_START=$((SLOT_B_START + SLOT_SECTORS))
# The data checkpoint's copy-on-write store (docs/data-rollback.md): what a
# trial may change of the data before it can no longer be rolled back.
COW_SECTORS=16384 # 8 MiB
COW_START=$((DATA_START + DATA_SECTORS))
DISK_SECTORS=$((COW_START + COW_SECTORS + 2048)) # and room for the backup GPT
