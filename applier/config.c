/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "fail.h"
#include "mount.h"
#include "state.h"
#include "util.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->tries = BOOT_DEFAULT_TRIES;
	snprintf(c->keys, sizeof(c->keys), "/etc/systemota/keys");
	snprintf(c->state, sizeof(c->state), "PARTLABEL=systemota-state");
	snprintf(c->slot[0], sizeof(c->slot[0]), "PARTLABEL=systemota-a");
	snprintf(c->slot[1], sizeof(c->slot[1]), "PARTLABEL=systemota-b");
	snprintf(c->data, sizeof(c->data), "PARTLABEL=systemota-data");
	snprintf(c->data_fstype, sizeof(c->data_fstype), "ext4");
	snprintf(c->data_dir, sizeof(c->data_dir), "/data");
	snprintf(c->dropin, sizeof(c->dropin), "systemota/staged");
	snprintf(c->watchdog, sizeof(c->watchdog), "/dev/watchdog");
	c->watchdog_timeout = 60;
	c->read_back = 1;
}

static int set_string(char *field, size_t size, const char *key, const char *value)
{
	if (util_set_string(field, size, value) < 0)
		return fail(-EINVAL, "config: value of %s is too long", key);
	return 0;
}

static int set_yes_no(int *field, const char *key, const char *value)
{
	if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
		return fail(-EINVAL, "config: %s must be yes or no", key);
	*field = strcmp(value, "yes") == 0;
	return 0;
}

int config_set(struct config *c, const char *key, const char *value)
{
	if (strcmp(key, "tries") == 0) {
		char *end;
		long n = strtol(value, &end, 10);
		if (*value == '\0' || *end != '\0' || n < 1 || n > STATE_MAX_TRIES)
			return fail(-EINVAL, "config: tries must be 1..%d, not '%s'",
			            STATE_MAX_TRIES, value);
		c->tries = (uint8_t)n;
		return 0;
	}
	if (strcmp(key, "watchdog-timeout") == 0) {
		char *end;
		long n = strtol(value, &end, 10);
		if (*value == '\0' || *end != '\0' || n < 5 || n > 3600)
			return fail(-EINVAL, "config: watchdog-timeout must be 5..3600 seconds");
		c->watchdog_timeout = (int)n;
		return 0;
	}
	if (strcmp(key, "watchdog-handover") == 0)
		return set_yes_no(&c->watchdog_handover, key, value);
	if (strcmp(key, "read-back") == 0)
		return set_yes_no(&c->read_back, key, value);
	if (strcmp(key, "data-fstype") == 0 && mount_fstype_supported(value) < 0)
		return fail_context(-EINVAL, "config");
	if (strcmp(key, "dropin") == 0 && (value[0] == '/' || strstr(value, "..")))
		return fail(-EINVAL, "config: dropin must be a relative path without '..'");
	static const struct {
		const char *key;
		size_t offset, size;
	} strings[] = {
	        {"compatible", offsetof(struct config, compatible), sizeof(c->compatible)},
	        {"keys", offsetof(struct config, keys), CONFIG_VALUE_MAX},
	        {"state", offsetof(struct config, state), CONFIG_VALUE_MAX},
	        {"slot-a", offsetof(struct config, slot[0]), CONFIG_VALUE_MAX},
	        {"slot-b", offsetof(struct config, slot[1]), CONFIG_VALUE_MAX},
	        {"data", offsetof(struct config, data), CONFIG_VALUE_MAX},
	        {"data-fstype", offsetof(struct config, data_fstype), sizeof(c->data_fstype)},
	        {"data-dir", offsetof(struct config, data_dir), CONFIG_VALUE_MAX},
	        {"cow", offsetof(struct config, cow), CONFIG_VALUE_MAX},
	        {"dropin", offsetof(struct config, dropin), CONFIG_VALUE_MAX},
	        {"watchdog", offsetof(struct config, watchdog), CONFIG_VALUE_MAX},
	};
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
		if (strcmp(key, strings[i].key) == 0)
			return set_string((char *)c + strings[i].offset, strings[i].size, key,
			                  value);
	return fail(-EINVAL, "config: unknown key '%s'", key);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int config_load(struct config *c, const char *path, int optional)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		if (errno == ENOENT && optional)
			return 0;
		return fail(-errno, "config: cannot open %s: %s", path, strerror(errno));
	}
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		size_t len = strlen(line);
		/* A line fgets had to split would be read as two: refuse it instead. */
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			r = fail(-EINVAL, "config: %s:%u: line longer than %zu characters", path,
			         lineno, sizeof(line) - 2);
			break;
		}
		line[strcspn(line, "#")] = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			r = fail(-EINVAL, "config: %s:%u: expected key = value", path, lineno);
			break;
		}
		*eq = '\0';
		r = config_set(c, trim(s), trim(eq + 1));
		if (r < 0)
			r = fail_context(r, "%s:%u", path, lineno);
	}
	fclose(f);
	return r;
}
