/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Kernel updates. A slot may carry its own kernel and initramfs:
 *
 *   /boot/vmlinuz  /boot/initrd.img  /boot/systemota-boot-id
 *
 * The boot id names that kernel and initramfs pair (the dracut module writes
 * the id of the initramfs it builds to /etc/systemota/boot-id in it). After
 * the initramfs mounted the slot to boot, kexec_slot_kernel() compares the
 * slot's id with its own: equal (or no kernel in the slot) means this kernel
 * boots the slot; different means the slot's kernel is loaded with
 * kexec_file_load and started, with systemota.kexec=SLOT added to the command
 * line. The slot's own initramfs then finds that marker and boots the slot
 * without a second decision: nothing is applied or counted twice.
 */

#include <stddef.h>
#include <stdint.h>

#define KEXEC_BOOT_ID "/etc/systemota/boot-id"

/*
 * With the slot mounted at root: 1 (and the slot's boot id in ret_id) when
 * the slot carries a kernel other than the running one, else 0.
 */
int kexec_needed(const char *root, char *ret_id, size_t size);

/*
 * Loads the slot's kernel and initramfs with kexec_file_load and starts
 * them; does not return on success. -errno with a reason when they could not
 * be loaded (the caller boots on with this kernel; the trial then fails or
 * succeeds on its merits).
 */
int kexec_start(const char *root, uint8_t slot);

/* The slot named by systemota.kexec= on the kernel command line, or -1. */
int kexec_marker(void);

/* This initramfs's boot id, "" if it has none. */
void kexec_boot_id(char *out, size_t size);
