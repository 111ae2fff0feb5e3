/* SPDX-License-Identifier: MIT */
/* test-log.c - log_escape: untrusted bytes cannot forge a log line. */
#include <string.h>
#include <glib.h>

#include "log.h"

static void
test_escape(void)
{
	static const struct {
		const char *in;
		size_t len;
		size_t outsz;
		const char *want;
	} cases[] = {
		{ "plain text", 10, 64, "plain text" },
		{ "a\nb", 3, 64, "a\\x0ab" },
		{ "q\"b\\", 4, 64, "q\\x22b\\x5c" },
		{ "\xc3\xa9", 2, 64, "\\xc3\\xa9" },
		{ "x\0y", 3, 64, "x\\x00y" },
		{ "0123456789", 10, 8, "0123..." },
		{ "", 0, 1, "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char out[64];

		log_escape(cases[i].in, cases[i].len, out, cases[i].outsz);
		if (strcmp(out, cases[i].want) != 0)
			g_error("case %zu: got \"%s\" want \"%s\"", i, out, cases[i].want);
		g_assert_cmpuint(strlen(out), <, cases[i].outsz);
	}
}

static void
test_levels(void)
{
	enum log_level l;

	g_assert_true(log_level_from_name("debug", &l));
	g_assert_cmpint(l, ==, LOG_LEVEL_DEBUG);
	g_assert_false(log_level_from_name("verbose", &l));
	g_assert_cmpstr(log_level_name(LOG_LEVEL_WARN), ==, "warn");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/escape", test_escape);
	g_test_add_func("/log/levels", test_levels);
	return g_test_run();
}
