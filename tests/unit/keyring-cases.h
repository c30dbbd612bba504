/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The keyring rows of the rejection matrix (test-reject.c): a device whose
 * record has adopted a keyring of the story (root: the device's key; 1
 * trusts K1, 2 trusts K1 and K2, 3 trusts K2 and revokes K1), and a staged
 * version 2 bundle that one rule of keyring.h must refuse.
 */

#include "helpers.h"

enum keyring_case {
	KEYRING_CASE_REVOKED,        /* K1 under 1..3, keyring 3 adopted */
	KEYRING_CASE_REPLAYED,       /* K1 under the old 1..2, keyring 3 adopted */
	KEYRING_CASE_OLDER,          /* K2 under the old 1..2, keyring 3 adopted */
	KEYRING_CASE_BY_SIGNING_KEY, /* keyring 3 signed by K2, keyring 2 adopted */
	KEYRING_CASE_BROKEN_LINK,    /* keyring 3 signed by an unknown root, keyring 1 adopted */
	KEYRING_CASE_DROPS,          /* keyring 4 without 3's revocation, keyring 3 adopted */
	KEYRING_CASE_FORK,           /* another keyring 3, keyring 3 adopted */
	KEYRING_CASE_EXPIRED,        /* K2 allowed up to version 1 signs version 2 */
	KEYRING_CASE_FLAT,           /* a format 1 bundle, keyring 1 adopted */
	KEYRING_CASE_BY_ROOT,        /* the root key signs the bundle itself */
	KEYRING_CASE_MALFORMED,      /* a keyring in the chain that does not parse */
};

/* Sets up d's record and stages the case's bundle at staged (d's drop-in directory). */
int keyring_case_stage(struct helpers_device *d, const char *staged, enum keyring_case c);
