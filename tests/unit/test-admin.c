/* SPDX-License-Identifier: MIT */
/*
 * test-admin.c - the admin protocol's value encoding: what bouncectl and
 * the daemon exchange must round-trip every byte and never hold a space or
 * a line end.
 */
#include <string.h>
#include <glib.h>

#include "admin.h"

static void
test_roundtrip(void)
{
	static const struct {
		const char *in;
		const char *enc;
	} cases[] = {
		{ "plain@example.com", "plain@example.com" },
		{ "a b", "a%20b" },
		{ "x=y%z", "x%3Dy%25z" },
		{ "line\nend\r", "line%0Aend%0D" },
		{ "\"quoted\"@x", "\"quoted\"@x" },
		{ "caf\xc3\xa9", "caf%C3%A9" },
		{ "", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char enc[128], dec[128];
		long n;

		admin_encode(cases[i].in, strlen(cases[i].in), enc, sizeof(enc));
		g_assert_cmpstr(enc, ==, cases[i].enc);
		g_assert_null(strpbrk(enc, " \t\r\n"));
		g_strlcpy(dec, enc, sizeof(dec));
		n = admin_decode(dec);
		g_assert_cmpint(n, ==, (long)strlen(cases[i].in));
		g_assert_cmpstr(dec, ==, cases[i].in);
	}
	/* every byte value */
	{
		char all[256], enc[800], dec[800];

		for (int i = 0; i < 256; i++)
			all[i] = (char)i;
		admin_encode(all, sizeof(all), enc, sizeof(enc));
		g_strlcpy(dec, enc, sizeof(dec));
		g_assert_cmpint(admin_decode(dec), ==, 256);
		g_assert_cmpmem(dec, 256, all, 256);
	}
}

static void
test_decode_errors(void)
{
	static const char *const bad[] = { "%", "%4", "%zz", "a%g0" };

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char buf[16];

		g_strlcpy(buf, bad[i], sizeof(buf));
		g_assert_cmpint(admin_decode(buf), ==, -1);
	}
}

static void
test_truncation(void)
{
	char out[8];

	/* never a half escape at the end */
	admin_encode("abcde fgh", 9, out, sizeof(out));
	g_assert_cmpstr(out, ==, "abcde");
	admin_encode("abcd efgh", 9, out, sizeof(out));
	g_assert_cmpstr(out, ==, "abcd%20");
	admin_encode("abcdefgh", 8, out, sizeof(out));
	g_assert_cmpstr(out, ==, "abcdefg");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/admin/roundtrip", test_roundtrip);
	g_test_add_func("/admin/decode-errors", test_decode_errors);
	g_test_add_func("/admin/truncation", test_truncation);
	return g_test_run();
}
