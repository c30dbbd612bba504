/* SPDX-License-Identifier: MIT */
/*
 * Kernel updates: the command line's kexec marker (a whole word), and at most
 * one kexec per cold boot, even for a slot whose boot id is not the one its
 * own initramfs has (it would otherwise be started again and again).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"
#include "fail.h"
#include "helpers.h"
#include "history.h"
#include "kexec.h"
#include "test.h"
#include "watchdog.h"

TEST(kexec_marker_is_exactly_a_or_b)
{
	CHECK_EQ(kexec_marker_find("root=systemota systemota.kexec=A"), 0);
	CHECK_EQ(kexec_marker_find("systemota.kexec=B panic=-1"), 1);
	CHECK_EQ(kexec_marker_find("xsystemota.kexec=B"), -ENOENT);
	CHECK_EQ(kexec_marker_find("systemota.kexec=Bogus"), -ENOENT);
	CHECK_EQ(kexec_marker_find("systemota.kexec=b"), -ENOENT);
	CHECK_EQ(kexec_marker_find("systemota.kexec="), -ENOENT);
	CHECK_EQ(kexec_marker_find("root=systemota ro quiet"), -ENOENT);
}

/* A record with slot B on trial, its first try counted. */
static void trial_record(struct state_record *st)
{
	struct state_record a, b;
	struct boot_install in = {.version = 2, .label = "2.0-loop-kernel"};
	uint8_t slot;

	state_init(&a);
	a.slot[0].status = SLOT_GOOD;
	memset(in.txn, 0x11, sizeof(in.txn));
	memset(in.fingerprint, 0x22, sizeof(in.fingerprint));
	boot_begin_install(&a, &in, &b);
	boot_install_done(&b, 3, &a);
	boot_choose(&a, st, &slot);
}

TEST(kexec_decide_allows_one_kexec_per_boot)
{
	struct state_record trial, idle;

	trial_record(&trial);
	state_init(&idle);
	/* No kernel of its own, or the running one: boot here, whatever else is true. */
	CHECK_EQ(kexec_decide("", "factory", -ENOENT, 1, &trial), KEXEC_BOOT);
	CHECK_EQ(kexec_decide("factory", "factory", -ENOENT, 1, &trial), KEXEC_BOOT);
	CHECK_EQ(kexec_decide("v2", "v2", 1, 1, &trial), KEXEC_BOOT);
	/* The first kexec of a cold boot (no marker): start it, record or not. */
	CHECK_EQ(kexec_decide("v2", "factory", -ENOENT, 1, &trial), KEXEC_START);
	CHECK_EQ(kexec_decide("v2", "factory", -ENOENT, 0, NULL), KEXEC_START);
	/* Started by kexec already: the slot on trial has failed this try. */
	CHECK_EQ(kexec_decide("v2-loop", "v2", 1, 1, &trial), KEXEC_FAIL_TRY);
	CHECK_EQ(kexec_decide("v2-loop", "v2", 0, 1, &trial), KEXEC_FAIL_TRY);
	/* Any other slot (the active one), or no record: refused, boot with this kernel. */
	CHECK_EQ(kexec_decide("v2-loop", "v2", 1, 0, &trial), KEXEC_REFUSE);
	CHECK_EQ(kexec_decide("v2-loop", "v2", 0, 0, &idle), KEXEC_REFUSE);
	CHECK_EQ(kexec_decide("v2-loop", "v2", 1, 1, NULL), KEXEC_REFUSE);
}

TEST(boot_try_failed_counts_down_to_a_rollback_with_its_reason)
{
	struct state_record st, next, want;
	uint8_t slot;

	trial_record(&st);
	CHECK_EQ(st.tries_left, 2);
	for (int i = 1; i <= 3; i++) {
		REQUIRE(st.state == STATE_TRYING && st.trial_booted == 1);
		int last = boot_try_failed(&st, -ELOOP, "second kexec", &next);
		CHECK_EQ(last, i == 3);
		/* Only the reason and the trial boot's end change (or the rollback). */
		want = st;
		want.trial_booted = 0;
		want.last_error = ELOOP;
		memcpy(want.last_reason, next.last_reason, sizeof(want.last_reason));
		if (i < 3) {
			char why[STATE_REASON_SIZE];
			snprintf(why, sizeof(why), "try %d of 3: second kexec", i);
			CHECK(strcmp(next.last_reason, why) == 0);
			CHECK(memcmp(&next, &want, sizeof(next)) == 0);
			/* The next cold boot counts the next try. */
			REQUIRE(boot_choose(&next, &st, &slot) == 1);
			CHECK_EQ(slot, 1);
			CHECK_EQ(st.tries_left, 2 - i);
			continue;
		}
		CHECK_EQ(next.state, STATE_IDLE);
		CHECK_EQ(next.active, 0);
		CHECK_EQ(next.slot[1].status, SLOT_BAD);
		CHECK_EQ(next.trial_booted, 0);
		CHECK_EQ(next.last_error, ELOOP);
		CHECK(strcmp(next.last_reason,
		             "slot B failed try 3 of 3, rolled back to slot A: second kexec") == 0);
		CHECK(memcmp(next.last_failed, st.txn, sizeof(next.last_failed)) == 0);
		CHECK(boot_is_rejected(&next, st.txn_file));
		/* And then slot A boots, nothing more to commit. */
		CHECK_EQ(boot_choose(&next, &st, &slot), 0);
		CHECK_EQ(slot, 0);
	}
	/* Not on trial: nothing changes. */
	state_init(&st);
	CHECK_EQ(boot_try_failed(&st, -ELOOP, "second kexec", &next), 0);
	CHECK(memcmp(&st, &next, sizeof(st)) == 0);
}

/* A mounted slot: tmpdir/NAME, with /boot/systemota-boot-id when id is set. */
static const char *slot_root(const char *name, const char *id, char *out, size_t size)
{
	char p[HELPERS_PATH_MAX];

	snprintf(out, size, "%s", test_path(name));
	mkdir(out, 0755);
	if (!id)
		return out;
	snprintf(p, sizeof(p), "%s/boot", out);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/boot/systemota-boot-id", out);
	FILE *f = fopen(p, "we");
	if (f) {
		fprintf(f, "%s\n", id);
		fclose(f);
	}
	return out;
}

/*
 * One cold boot of a device whose slot B carries a kernel with boot id
 * v2-loop-kernel and an initramfs with id v2-kernel: the boot kernel's
 * initramfs (id factory) decides, then each initramfs asks kexec_run() about
 * the slot it boots, as the mount hook does. Returns the kexecs started (at
 * most 10: the loop guard), with the slot and the last action.
 */
static int cold_boot(struct helpers_device *d, const char *const root[2], uint8_t *ret_slot,
                     enum kexec_action *ret_action)
{
	int kexecs = 0, marker = -ENOENT;
	uint8_t slot;

	d->cfg.after_kexec = false;
	helpers_apply(d, &slot);
	for (;;) {
		struct kexec_request rq = {.state_path = d->state,
		                           .root = root[slot],
		                           .slot = slot,
		                           .marker = marker,
		                           .own_id = marker < 0 ? "factory" : "v2-kernel"};
		*ret_action = kexec_run(&rq);
		if (*ret_action != KEXEC_START || kexecs == 10)
			break;
		kexecs++;
		/* In the slot's kernel now: its initramfs finds the marker. */
		marker = slot;
		d->cfg.after_kexec = true;
		d->cfg.kexec_slot = slot;
		helpers_apply(d, &slot);
	}
	*ret_slot = slot;
	return kexecs;
}

static size_t count_kind(const struct helpers_device *d, uint8_t kind, const char *reason)
{
	_cleanup_(state_close) struct state_dev dev = {.fd = -1};
	struct history_entry e[HISTORY_ENTRIES];
	size_t n = 0, k = 0;

	if (state_open(d->state, false, &dev) < 0 || history_read(&dev, e, HISTORY_ENTRIES, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		k += e[i].kind == kind && strstr(e[i].reason, reason) != NULL;
	return k;
}

TEST(kexec_loop_is_one_kexec_per_cold_boot_and_ends_in_rollback)
{
	_cleanup_device_ struct helpers_device d = {0};
	char ra[HELPERS_PATH_MAX], rb[HELPERS_PATH_MAX];
	const char *const root[2] = {slot_root("root-a", NULL, ra, sizeof(ra)),
	                             slot_root("root-b", "v2-loop-kernel", rb, sizeof(rb))};
	struct state_record st;
	enum kexec_action a;
	uint8_t slot;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	for (int boot = 1; boot <= 3; boot++) {
		uint64_t seq;
		REQUIRE(helpers_read_state(d.state, &st) == 0);
		seq = st.seq;
		int kexecs = cold_boot(&d, root, &slot, &a);
		CHECK_EQ(kexecs, 1);
		CHECK_EQ(slot, 1);
		CHECK_EQ(a, KEXEC_FAIL_TRY);
		REQUIRE(helpers_read_state(d.state, &st) == 0);
		/* The install and the try (boot 1), or the try, then one commit for its failure. */
		CHECK_EQ(st.seq - seq, boot == 1 ? 4 : 2);
		CHECK_EQ(st.last_error, ELOOP);
		CHECK_EQ(st.trial_booted, 0);
		if (boot < 3) {
			char why[STATE_REASON_SIZE];
			snprintf(why, sizeof(why),
			         "try %d of 3: second kexec in one boot refused (boot id "
			         "v2-loop-kernel, initramfs v2-kernel)",
			         boot);
			CHECK_EQ(st.state, STATE_TRYING);
			CHECK_EQ(st.tries_left, 3 - boot);
			CHECK(strcmp(st.last_reason, why) == 0);
		}
	}
	/* Three tries, three failures: slot B is rolled back, and says why. */
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[1].status, SLOT_BAD);
	CHECK(strcmp(st.last_reason, "slot B failed try 3 of 3, rolled back to slot A: second "
	                             "kexec in one boot refused (boot id v2-loop-kernel, "
	                             "initramfs v2-kernel)") == 0);
	CHECK_EQ(count_kind(&d, HISTORY_KEXEC, "starting slot B's own kernel"), 3);
	CHECK_EQ(count_kind(&d, HISTORY_TRIAL_FAILED, "second kexec in one boot refused"), 2);
	CHECK_EQ(count_kind(&d, HISTORY_ROLLBACK, "second kexec in one boot refused"), 1);
	/* No try ended "without deciding": each one's end was recorded with its cause. */
	CHECK_EQ(count_kind(&d, HISTORY_TRIAL_FAILED, "without deciding"), 0);
	/* The next cold boot: slot A, no kexec, nothing committed. */
	uint64_t seq = st.seq;
	CHECK_EQ(cold_boot(&d, root, &slot, &a), 0);
	CHECK_EQ(slot, 0);
	CHECK_EQ(a, KEXEC_BOOT);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, seq);
}

TEST(kexec_second_for_the_active_slot_boots_with_this_kernel)
{
	_cleanup_device_ struct helpers_device d = {0};
	char rb[HELPERS_PATH_MAX];
	struct state_record st, before;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	struct kexec_request rq = {.state_path = d.state,
	                           .root = slot_root("root", "v1-loop", rb, sizeof(rb)),
	                           .slot = 0,
	                           .marker = 0,
	                           .own_id = "v1"};
	CHECK_EQ(kexec_run(&rq), KEXEC_REFUSE);
	/* Nothing recorded: the active slot boots on, with the running kernel. */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, before.seq);
	CHECK(memcmp(&st, &before, sizeof(st)) == 0);
	/* Without a record the second kexec is refused too. */
	rq.state_path = test_path("no-such-state");
	CHECK_EQ(kexec_run(&rq), KEXEC_REFUSE);
	/* The first kexec of a cold boot goes ahead. */
	rq.marker = -ENOENT;
	rq.state_path = d.state;
	CHECK_EQ(kexec_run(&rq), KEXEC_START);
	CHECK_EQ(count_kind(&d, HISTORY_KEXEC, "starting slot A's own kernel (boot id v1-loop)"),
	         1);
}

/* Debian's arm64 kernel has no kexec_file_load: kexec-tools loads the same files. */
TEST(kexec_tools_command_loads_the_slots_files_with_kexec_load)
{
	struct kexec_tools_cmd c;

	kexec_tools_command("/usr/sbin/kexec", "/sysroot/boot/vmlinuz", "/sysroot/boot/initrd.img",
	                    "console=ttyAMA0 root=systemota systemota.kexec=B", &c);
	const char *want[] = {"/usr/sbin/kexec",
	                      "-l",
	                      "-c",
	                      "-i",
	                      "--initrd=/sysroot/boot/initrd.img",
	                      "--command-line=console=ttyAMA0 root=systemota systemota.kexec=B",
	                      "/sysroot/boot/vmlinuz",
	                      NULL};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (!want[i]) {
			CHECK(c.argv[i] == NULL);
			break;
		}
		REQUIRE(c.argv[i] != NULL);
		CHECK(strcmp(c.argv[i], want[i]) == 0);
	}
}

/*
 * The slot's own kernel could not be started (no kexec in this kernel, no
 * kexec-tools, a kernel it refuses): the slot on trial has failed this try,
 * said in the record and the history; it never boots with the wrong kernel.
 */
TEST(kexec_not_started_is_a_failed_try_for_the_slot_on_trial)
{
	_cleanup_device_ struct helpers_device d = {0};
	char rb[HELPERS_PATH_MAX];
	struct state_record st, before;
	uint8_t slot;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0);
	REQUIRE(slot == 1);
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	REQUIRE(before.state == STATE_TRYING && before.tries_left == 2);
	struct kexec_request rq = {.state_path = d.state,
	                           .root = slot_root("root-b", "v2-kernel", rb, sizeof(rb)),
	                           .slot = 1,
	                           .marker = -ENOENT,
	                           .own_id = "factory"};
	REQUIRE(kexec_run(&rq) == KEXEC_START);
	int err = fail(-ENOSYS, "slot B's own kernel cannot start: this kernel has no "
	                        "kexec_file_load (CONFIG_KEXEC_FILE) and the initramfs no "
	                        "kexec-tools for kexec_load");
	CHECK_EQ(kexec_not_started(&rq, err), KEXEC_FAIL_TRY);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	/* One commit: the try has failed, with its reason; the next cold boot counts the next. */
	CHECK_EQ(st.seq, before.seq + 1);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.trial_booted, 0);
	CHECK_EQ(st.tries_left, 2);
	CHECK_EQ(st.last_error, ENOSYS);
	CHECK(strstr(st.last_reason,
	             "try 1 of 3: its own kernel could not be started: slot B's own "
	             "kernel cannot start: this kernel has no kexec_file_load") == st.last_reason);
	CHECK_EQ(count_kind(&d, HISTORY_TRIAL_FAILED, "its own kernel could not be started"), 1);
}

TEST(kexec_not_started_for_the_active_slot_boots_it_and_says_so)
{
	_cleanup_device_ struct helpers_device d = {0};
	char ra[HELPERS_PATH_MAX];
	struct state_record st, before;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	struct kexec_request rq = {.state_path = d.state,
	                           .root = slot_root("root-a", "v1-kernel", ra, sizeof(ra)),
	                           .slot = 0,
	                           .marker = -ENOENT,
	                           .own_id = "factory"};
	int err = fail(-ENOEXEC, "/usr/sbin/kexec -l of slot A's kernel failed (exit 1)");
	CHECK_EQ(kexec_not_started(&rq, err), KEXEC_REFUSE);
	/* Nothing committed; the history says the slot booted with the wrong kernel, and why. */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK(memcmp(&st, &before, sizeof(st)) == 0);
	CHECK_EQ(count_kind(&d, HISTORY_KEXEC,
	                    "slot A booted with this kernel, not its own: /usr/sbin/kexec -l of "
	                    "slot A's kernel failed (exit 1)"),
	         1);
}

/* The watchdog core's reboot policy decides whether a trial stays guarded across the kexec. */
TEST(watchdog_runs_across_kexec_only_with_stop_on_reboot_0)
{
	static const struct {
		const char *value;
		bool runs;
	} cases[] = {{"0\n", true},   {"0", true},   {"-1\n", false}, {"1\n", false},
	             {"01\n", false}, {"\n", false}, {"", false}};
	const char *p = test_path("stop_on_reboot");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f = fopen(p, "we");
		CHECK(f != NULL);
		if (!f)
			return;
		fputs(cases[i].value, f);
		fclose(f);
		CHECK_EQ(watchdog_runs_across_reboot(p), cases[i].runs);
	}
	/* A kernel without the parameter: its drivers' own policy, mostly "stop". */
	CHECK_EQ(watchdog_runs_across_reboot(test_path("absent")), false);
}
