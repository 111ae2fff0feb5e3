/* SPDX-License-Identifier: MIT */
/*
 * test-util.c - the text formats every module shares (util/util.h): ISO
 * 8601 times formatted and parsed, JSON strings read (strict for imports,
 * lenient for bounces) and written.
 */
#include <string.h>
#include <time.h>

#include <glib.h>

#include "util.h"

static void
test_iso8601_format(void)
{
	char buf[32];

	g_assert_cmpstr(util_iso8601_format(0, buf), ==, "1970-01-01T00:00:00Z");
	g_assert_cmpstr(util_iso8601_format(1700000000, buf), ==, "2023-11-14T22:13:20Z");
	g_assert_cmpstr(util_iso8601_format(951782400, buf), ==, "2000-02-29T00:00:00Z");
	g_assert_cmpstr(util_iso8601_format(-1, buf), ==, "1969-12-31T23:59:59Z");
	g_assert_cmpstr(util_iso8601_format(253402300799, buf), ==, "9999-12-31T23:59:59Z");
	g_assert_cmpstr(util_iso8601_format(253402300800, buf), ==, "?");
	/* the hand-made formatter agrees with gmtime_r + strftime */
	for (int64_t t = -5000000000; t < 8000000000; t += 7777777 + (t & 0xfff)) {
		char want[32];
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (strcmp(util_iso8601_format(t, buf), want) != 0)
			g_error("%" G_GINT64_FORMAT ": got %s want %s", t, buf, want);
	}
}

static void
test_iso8601_parse(void)
{
	static const struct {
		const char *in;
		int ok;
		int64_t want;
	} cases[] = {
		{ "2023-11-14T22:13:20Z", 1, 1700000000 },
		{ "2023-11-14T22:13:20", 1, 1700000000 },       /* no zone: UTC */
		{ "2023-11-15T00:13:20+02:00", 1, 1700000000 },
		{ "1970-01-01T00:00:00Z", 1, 0 },
		{ "2023-11-14", 0, 0 },
		{ "yesterday", 0, 0 },
		{ "", 0, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		int64_t t = -1;
		int rc = util_iso8601_parse(cases[i].in, &t);

		if ((rc == 0) != cases[i].ok || (rc == 0 && t != cases[i].want))
			g_error("%s: got rc %d t %" G_GINT64_FORMAT, cases[i].in, rc, t);
	}
}

static void
test_json_read(void)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *want;       /* NULL: refused with err */
		enum util_json_error err;
		size_t rest;            /* bytes left after the string */
	} cases[] = {
		{ "\"plain\" tail", 0, "plain", UTIL_JSON_OK, 5 },
		{ "\"a\\\"b\\\\c\\/\\n\\t\"", 0, "a\"b\\c/\n\t", UTIL_JSON_OK, 0 },
		{ "\"caf\\u00e9\"", 0, "caf\xc3\xa9", UTIL_JSON_OK, 0 },
		{ "\"\\ud83d\\ude00\"", 0, "\xf0\x9f\x98\x80", UTIL_JSON_OK, 0 },
		{ "\"\\ud83dx\"", 0, "\xef\xbf\xbdx", UTIL_JSON_OK, 0 },   /* lone surrogate */
		{ "\"a\\u0000b\"", 0, "a\xef\xbf\xbd" "b", UTIL_JSON_OK, 0 }, /* never a NUL */
		{ "\"tab\there\"", 0, "tab\there", UTIL_JSON_OK, 0 },     /* lenient */
		{ "\"tab\there\"", UTIL_JSON_STRICT, NULL, UTIL_JSON_CONTROL, 0 },
		{ "\"open", 0, NULL, UTIL_JSON_UNTERMINATED, 0 },
		{ "\"end\\", 0, NULL, UTIL_JSON_UNTERMINATED, 0 },
		{ "\"\\x\"", 0, NULL, UTIL_JSON_BAD_ESCAPE, 0 },
		{ "\"\\u12\"", 0, NULL, UTIL_JSON_BAD_U, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *p = cases[i].in, *end = p + strlen(p);
		enum util_json_error err;
		size_t len = 0;
		char *got = util_json_read_string(&p, end, cases[i].flags, &len, &err);

		g_assert_cmpint(err, ==, cases[i].err);
		if (cases[i].want == NULL) {
			g_assert_null(got);
			g_assert_nonnull(util_json_error_text(err));
			continue;
		}
		g_assert_cmpstr(got, ==, cases[i].want);
		g_assert_cmpuint(len, ==, strlen(cases[i].want));
		g_assert_cmpuint((size_t)(end - p), ==, cases[i].rest);
		g_free(got);
	}
}

static void
test_json_write(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ NULL, "null" },
		{ "plain", "\"plain\"" },
		{ "q\"b\\n\n\x01", "\"q\\\"b\\\\n\\n\\u0001\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
		{ "bad\xff", "\"bad\\ufffd\"" },
		{ "\xe2\x80\xa8", "\"\\u2028\"" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GString *out = g_string_new(NULL);
		const char *p;
		enum util_json_error err;
		char *back;

		util_json_write_string(out, cases[i].in);
		g_assert_cmpstr(out->str, ==, cases[i].want);
		if (cases[i].in == NULL)
			goto next;
		/* what is written reads back (strictly), bad bytes as U+FFFD */
		p = out->str;
		back = util_json_read_string(&p, out->str + out->len, UTIL_JSON_STRICT, NULL, &err);
		g_assert_nonnull(back);
		g_assert_true(g_utf8_validate(back, -1, NULL));
		g_free(back);
next:
		g_string_free(out, TRUE);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/util/iso8601-format", test_iso8601_format);
	g_test_add_func("/util/iso8601-parse", test_iso8601_parse);
	g_test_add_func("/util/json-read", test_json_read);
	g_test_add_func("/util/json-write", test_json_write);
	return g_test_run();
}
