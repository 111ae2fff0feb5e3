/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c - libFuzzer target: the YAML config loader (config.h).
 * Any input either loads (and frees) or fails with a message that names the
 * file ("fuzz.yaml:..."); never a crash, a leak or an empty message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cfg_defaults d = { .state_dir = "/var/lib/b", .run_dir = "/run/b" };
	char err[512];
	struct config *c;

	err[0] = '\0';
	c = cfg_load_buffer((const char *)data, size, "fuzz.yaml", "/etc/b", &d, err);
	if (c == NULL) {
		if (strncmp(err, "fuzz.yaml", 9) != 0)
			abort();
	} else {
		if (c->lmtp.keep_bytes > c->lmtp.max_message_size || c->lmtp.sock.path == NULL)
			abort();
		cfg_free(c);
	}
	return 0;
}
