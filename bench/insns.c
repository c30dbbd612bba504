/* SPDX-License-Identifier: MIT */
/*
 * A QEMU TCG plugin (qemu-x86_64 / qemu-aarch64 -plugin insns.so): counts
 * the guest instructions a program executes, over all its threads, and
 * prints "insns N" to stderr at exit. bench/insns.sh uses it to compare the
 * apply's instructions per MiB on arm64 and x86, which wall time under
 * emulation cannot. QEMU's own plugin header is not packaged in Debian 12;
 * these are the few declarations of its stable C API (version 1, QEMU 7.2)
 * that this plugin calls.
 */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                          void (*cb)(unsigned int vcpu, void *udata),
                                          enum qemu_plugin_cb_flags flags, void *udata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *),
                                    void *udata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t insns;

/* Each translated block adds its length every time it runs: atomically, as the apply is threaded.
 */
static void tb_exec(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	__atomic_fetch_add(&insns, (uint64_t)(uintptr_t)udata, __ATOMIC_RELAXED);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
	                                     (void *)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	fprintf(stderr, "insns %llu\n",
	        (unsigned long long)__atomic_load_n(&insns, __ATOMIC_RELAXED));
}

__attribute__((visibility("default"))) int
qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	(void)argc;
	(void)argv;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
