/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Kernel updates. A slot may carry its own kernel and initramfs:
 *
 *   /boot/vmlinuz  /boot/initrd.img  /boot/systemota-boot-id
 *
 * The boot id names that kernel and initramfs pair (the dracut module writes
 * the id of the initramfs it builds to /etc/systemota/boot-id in it). After
 * the initramfs mounted the slot to boot, `systemota kexec` compares the
 * slot's id with its own: equal (or no kernel in the slot) means this kernel
 * boots the slot; different means the slot's kernel is loaded with
 * kexec_file_load and started, with systemota.kexec=SLOT added to the command
 * line. The slot's own initramfs then finds that marker and boots the slot
 * without a second decision: nothing is applied or counted twice.
 *
 * At most one kexec per cold boot. A kernel started by kexec (the marker is
 * on its command line) never starts another: a slot whose boot id is not its
 * own initramfs's would otherwise be started again and again, no try counted,
 * the watchdog petted by every round. The second kexec is refused:
 *   - for the slot on trial, it is a failed try: recorded (one commit, the
 *     reason in the record and the history), and the device reboots without
 *     booting the slot, so the next cold boot counts the next try; the try
 *     counter bounds it, and after the last one the slot is rolled back;
 *   - for any other slot (the active one), with a warning: the slot boots
 *     with the running kernel.
 */

#include <stddef.h>
#include <stdint.h>

#include "cmdline.h"
#include "state.h"

#define KEXEC_BOOT_ID "/etc/systemota/boot-id"
#define KEXEC_MARKER "systemota.kexec"
#define KEXEC_ID_SIZE 128

/* Pure: the slot (0 or 1) named by the word systemota.kexec=A|B in cmdline, else -ENOENT. */
int kexec_marker_find(const char *cmdline);

/* kexec_marker_find() on the running kernel's command line. */
int kexec_marker(void);

/* This initramfs's boot id, "" if it has none. */
void kexec_boot_id(char *out, size_t size);

enum kexec_action {
	KEXEC_BOOT = 0, /* boot the slot with the running kernel: the slot has no other */
	KEXEC_START,    /* start the slot's own kernel: the one kexec of this boot */
	KEXEC_REFUSE,   /* a second kexec: refused, the slot boots with the running kernel */
	KEXEC_FAIL_TRY, /* a second kexec for the slot on trial: a failed try, reboot */
};

/*
 * Pure: what to do with slot, whose boot id is slot_id ("" for none), in an
 * initramfs whose boot id is own_id; marker is kexec_marker() (>= 0: this
 * kernel was itself started by kexec), st the record (NULL when unreadable).
 */
enum kexec_action kexec_decide(const char *slot_id, const char *own_id, int marker, uint8_t slot,
                               const struct state_record *st);

struct kexec_request {
	const char *state_path; /* the boot-state record */
	const char *root;       /* the slot to boot, mounted */
	uint8_t slot;
	int marker;           /* kexec_marker() */
	const char *own_id;   /* kexec_boot_id() */
	const char *watchdog; /* the config's watchdog ("none" or NULL: none) */
	int watchdog_timeout; /* seconds */
};

/*
 * The mount hook's step, with the slot mounted at root: decides, and records
 * what it decided (a history entry for KEXEC_START; for KEXEC_FAIL_TRY one
 * commit of the failed try, boot_try_failed(), and its history entry).
 * Returns the action for the caller to carry out: kexec_start() for
 * KEXEC_START, kexec_reboot() for KEXEC_FAIL_TRY (even when the commit
 * failed: the try was counted when this boot began, and the slot must not
 * boot uncounted a second time in it). Never fails.
 */
enum kexec_action kexec_run(const struct kexec_request *rq);

/*
 * Loads the kernel and initramfs of rq's slot and starts them; does not
 * return on success. kexec_file_load first (the kernel reads the files
 * itself; with lockdown it also checks their signature); where the kernel has
 * no CONFIG_KEXEC_FILE (ENOSYS: Debian's arm64 kernel), the classic
 * kexec_load through kexec-tools in the initramfs (KEXEC_TOOLS), which reads
 * the same files from the mounted slot. -errno with a reason when neither
 * could load them: the caller then hands that to kexec_not_started().
 *
 * For the slot on trial, the watchdog is armed again just before the kexec
 * (its countdown then covers the new kernel's boot to its initramfs, not the
 * loading too). It keeps running across the kexec only where the kernel
 * command line has watchdog.stop_on_reboot=0 (else the watchdog core stops it
 * at every reboot, kexec included): warned when not.
 */
int kexec_start(const struct kexec_request *rq);

/* kexec-tools, where the initramfs has it (the dracut module installs it when it can). */
#define KEXEC_TOOLS_PATHS "/usr/sbin/kexec", "/sbin/kexec"

struct kexec_tools_cmd {
	char tool[64], kernel[4096], initrd[4200], cmdline[CMDLINE_MAX + 32];
	char *argv[8]; /* into the above and into static strings: for execv() */
};

/*
 * Pure: the kexec-tools command that loads kernel and initrd with the
 * classic kexec_load for a later reboot(LINUX_REBOOT_CMD_KEXEC): -l -c (that
 * syscall only) -i (no re-hash of the segments in purgatory: 25 s under TCG,
 * and the files were read from the verified slot just now).
 */
void kexec_tools_command(const char *tool, const char *kernel, const char *initrd,
                         const char *cmdline, struct kexec_tools_cmd *out);

/*
 * After kexec_start() failed with err: never a silent boot of the slot with
 * the wrong kernel, whose modules the slot may not carry. The slot on trial
 * has failed this try (one commit, its reason in the record and the
 * history): KEXEC_FAIL_TRY, the caller reboots. Any other slot boots with
 * this kernel, said in the history and the log: KEXEC_REFUSE.
 */
enum kexec_action kexec_not_started(const struct kexec_request *rq, int err);

/* A cold reboot (the firmware loads the boot kernel again); -errno if it did not happen. */
int kexec_reboot(void);
