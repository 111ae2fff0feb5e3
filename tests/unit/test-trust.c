/* SPDX-License-Identifier: MIT */
/*
 * test-trust.c - the signed return path (sign, verify, XVERP, expiry, key
 * rotation, the key file) and the trust decision, table-driven.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "trust.h"

#define DAY 86400
#define T0 ((time_t)1764900000)         /* a fixed "now" */
#define VALID (7 * DAY)

static const char *const domains[] = { "bounce.example.com" };

static void
keyring(struct trust_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
	kr->n = 2;
	kr->keys[0].id = 0;
	memset(kr->keys[0].key, 0x11, TRUST_KEY_BYTES);
	kr->keys[0].not_before = T0 - 100 * DAY;
	kr->keys[0].not_after = 0;
	kr->keys[1].id = 3;
	memset(kr->keys[1].key, 0x22, TRUST_KEY_BYTES);
	kr->keys[1].not_before = T0 - 200 * DAY;
	kr->keys[1].not_after = T0 - 50 * DAY;      /* retired */
}

static void
test_sign(void)
{
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
		{ "bounces@bounce.example.com", 1 },
		{ "bounces+boss3=bigclient.example@bounce.example.com", 1 },   /* app VERP */
		{ "bounces@BOUNCE.example.com", 1 },
		{ "shop@example.com", 0 },                                      /* not our domain */
		{ "prvs=0123abcdef0123=bounces@bounce.example.com", 0 },        /* never twice */
		{ "bounce.example.com", 0 },
		{ "@bounce.example.com", 0 },
	};
	struct trust_keyring kr;

	keyring(&kr);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char out[300];
		int got = trust_sign(&kr, domains, 1, cases[i].addr, T0, out, sizeof(out));

		if (got != cases[i].want)
			g_error("sign %s: got %d want %d", cases[i].addr, got, cases[i].want);
		if (got == 1) {
			g_assert_true(g_str_has_prefix(out, "prvs=0"));
			g_assert_cmpuint(strlen(out), ==, strlen(cases[i].addr) + TRUST_TAG_LEN);
			g_assert_cmpstr(out + TRUST_TAG_LEN, ==, cases[i].addr);
			/* verified as signed, and signing it again does nothing */
			g_assert_cmpint(trust_verify(&kr, out, '+', VALID, T0), ==, TRUST_TAG_VALID);
			g_assert_cmpint(trust_sign(&kr, domains, 1, out, T0, out, sizeof(out)), ==, 0);
		}
	}
	/* no current key: cannot sign (the socketmap answers TEMP) */
	kr.keys[0].not_after = T0 - 1;
	{
		char out[300];

		g_assert_cmpint(trust_sign(&kr, domains, 1, "bounces@bounce.example.com", T0, out,
		    sizeof(out)), ==, -1);
	}
}

/* Replaces the MAC's first hex digit by another one. */
static void
flip(char *s)
{
	s[9] = s[9] == '0' ? '1' : '0';
}

static void
test_verify(void)
{
	struct trust_keyring kr;
	char good[300], old[300], future[300], bad[300], retired[300];
	const char *base = "bounces@bounce.example.com";

	keyring(&kr);
	g_assert_cmpint(trust_sign(&kr, domains, 1, base, T0, good, sizeof(good)), ==, 1);
	g_assert_cmpint(trust_sign(&kr, domains, 1, base, T0 - 8 * DAY, old, sizeof(old)), ==, 1);
	g_assert_cmpint(trust_sign(&kr, domains, 1, base, T0 + 2 * DAY, future, sizeof(future)),
	    ==, 1);
	g_strlcpy(bad, good, sizeof(bad));
	flip(bad);
	/* signed with key 3 while it was current */
	{
		struct trust_keyring k3 = kr;

		k3.keys[0].not_after = T0 - 60 * DAY;
		k3.keys[1].not_after = 0;
		g_assert_cmpint(trust_sign(&k3, domains, 1, base, T0, retired, sizeof(retired)), ==, 1);
		g_assert_true(g_str_has_prefix(retired, "prvs=3"));
	}
	{
		gchar *xverp = g_strdup_printf("%.*s+boss=bigclient.example@bounce.example.com",
		    (int)(strchr(good, '@') - good), good);
		gchar *xverp2 = g_strdup_printf("%.*s+boss+news=bigclient.example@bounce.example.com",
		    (int)(strchr(good, '@') - good), good);
		gchar *upper = g_ascii_strup(good, -1);
		gchar *plus = g_strdup_printf("%.*s+a+b+c+d+e+f+g+h@bounce.example.com",
		    (int)(strchr(good, '@') - good), good);
		gchar *otherdom = g_strdup_printf("%.*s@evil.example",
		    (int)(strchr(good, '@') - good), good);
		const struct {
			const char *rcpt;
			enum trust_tag want;
		} cases[] = {
			{ good, TRUST_TAG_VALID },
			{ xverp, TRUST_TAG_VALID },             /* Postfix's XVERP after signing */
			{ xverp2, TRUST_TAG_VALID },            /* a '+' in the VERP recipient too */
			{ upper, TRUST_TAG_VALID },             /* case-insensitive */
			{ old, TRUST_TAG_EXPIRED },             /* 8 days > 7 */
			{ future, TRUST_TAG_EXPIRED },          /* a day to come: wraps, expired */
			{ bad, TRUST_TAG_BAD },
			{ otherdom, TRUST_TAG_BAD },            /* the domain is signed too */
			{ retired, TRUST_TAG_RETIRED },
			{ "bounces@bounce.example.com", TRUST_TAG_ABSENT },
			{ "bounces+boss3=bigclient.example@bounce.example.com", TRUST_TAG_ABSENT },
			{ "prvs=9123abcdefabcd=bounces@bounce.example.com", TRUST_TAG_BAD }, /* no key 9 */
			{ "prvs=0x23abcdefabcd=bounces@bounce.example.com", TRUST_TAG_BAD },
			{ "prvs=0123abcdefabcdXbounces@bounce.example.com", TRUST_TAG_BAD },
			{ "prvs=0123abcdefabcd=@bounce.example.com", TRUST_TAG_BAD },
			{ "prvs=0123abcdefabcd=bounces", TRUST_TAG_BAD },
			{ "", TRUST_TAG_ABSENT },
			{ plus, TRUST_TAG_BAD },                /* many '+': a few tries, then bad */
		};

		for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
			enum trust_tag got = trust_verify(&kr, cases[i].rcpt, '+', VALID, T0);

			if (got != cases[i].want)
				g_error("verify %s: got %s want %s", cases[i].rcpt, trust_tag_name(got),
				    trust_tag_name(cases[i].want));
		}
		g_free(xverp);
		g_free(xverp2);
		g_free(upper);
		g_free(plus);
		g_free(otherdom);
	}
	/* overlap: key 3 still accepted before its not_after */
	kr.keys[1].not_after = T0 + DAY;
	g_assert_cmpint(trust_verify(&kr, retired, '+', VALID, T0), ==, TRUST_TAG_VALID);
	g_assert_cmpint(trust_verify(&kr, good, '+', VALID, T0), ==, TRUST_TAG_VALID);
}

static void
test_decide(void)
{
	static const struct {
		enum trust_mode mode;
		struct trust_evidence ev;
		const char *want;       /* NULL: trusted */
	} cases[] = {
		{ TRUST_MODE_SIGNED, { TRUST_TAG_VALID, 1, 1, STORE_SENT_UNKNOWN }, NULL },
		{ TRUST_MODE_SIGNED, { TRUST_TAG_VALID, 0, 0, STORE_SENT_NO }, NULL },
		{ TRUST_MODE_SIGNED, { TRUST_TAG_ABSENT, 1, 1, STORE_SENT_YES }, "tag-absent" },
		{ TRUST_MODE_SIGNED, { TRUST_TAG_EXPIRED, 1, 1, STORE_SENT_UNKNOWN }, "tag-expired" },
		{ TRUST_MODE_SIGNED, { TRUST_TAG_BAD, 1, 1, STORE_SENT_UNKNOWN }, "tag-bad-signature" },
		{ TRUST_MODE_SIGNED, { TRUST_TAG_RETIRED, 1, 1, STORE_SENT_UNKNOWN }, "tag-retired-key" },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_VALID, 0, 0, STORE_SENT_UNKNOWN }, NULL },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_ABSENT, 1, 1, STORE_SENT_YES }, NULL },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_ABSENT, 0, 1, STORE_SENT_YES }, "tag-absent" },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_ABSENT, 1, 0, STORE_SENT_YES }, "tag-absent" },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_ABSENT, 1, 1, STORE_SENT_UNKNOWN }, "tag-absent" },
		{ TRUST_MODE_SIGNED_OR_SENT, { TRUST_TAG_EXPIRED, 1, 1, STORE_SENT_NO }, "tag-expired" },
		{ TRUST_MODE_ANY, { TRUST_TAG_ABSENT, 0, 0, STORE_SENT_NO }, NULL },
		{ TRUST_MODE_ANY, { TRUST_TAG_BAD, 0, 0, STORE_SENT_NO }, NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *got = trust_decide(cases[i].mode, &cases[i].ev);

		if (g_strcmp0(got, cases[i].want) != 0)
			g_error("decide case %zu (%s, tag %s): got %s want %s", i,
			    trust_mode_name(cases[i].mode), trust_tag_name(cases[i].ev.tag),
			    got ? got : "trusted", cases[i].want ? cases[i].want : "trusted");
	}
}

static void
test_keys_file(void)
{
	gchar *dir = g_dir_make_tmp("test-trust-XXXXXX", NULL);
	gchar *path = g_build_filename(dir, "signing-keys", NULL);
	struct trust_keyring kr, kr2;
	char err[256], sig0[300], sig1[300];
	struct stat st;

	/* first start: created, 0600, one current key */
	g_assert_cmpint(trust_keys_load(path, 0, T0, &kr, err), ==, -1);
	g_assert_cmpint(trust_keys_load(path, 1, T0, &kr, err), ==, 0);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpuint(kr.n, ==, 1);
	g_assert_cmpint(trust_keys_load(path, 0, T0, &kr2, err), ==, 0);
	g_assert_cmpmem(kr.keys[0].key, TRUST_KEY_BYTES, kr2.keys[0].key, TRUST_KEY_BYTES);
	g_assert_cmpint(trust_sign(&kr, domains, 1, "b@bounce.example.com", T0, sig0, sizeof(sig0)),
	    ==, 1);

	/* rotation with a 7-day overlap: both keys verify, the new one signs */
	g_assert_cmpint(trust_keys_rotate(path, T0 + 10, VALID, err), ==, 0);
	g_assert_cmpint(trust_keys_load(path, 0, T0 + 20, &kr, err), ==, 0);
	g_assert_cmpuint(kr.n, ==, 2);
	g_assert_cmpint(trust_sign(&kr, domains, 1, "b@bounce.example.com", T0 + 20, sig1,
	    sizeof(sig1)), ==, 1);
	g_assert_true(g_str_has_prefix(sig1, "prvs=1"));
	g_assert_cmpint(trust_verify(&kr, sig0, '+', VALID, T0 + 20), ==, TRUST_TAG_VALID);
	g_assert_cmpint(trust_verify(&kr, sig1, '+', VALID, T0 + 20), ==, TRUST_TAG_VALID);
	/* after the overlap: the old key's tags are refused as retired */
	g_assert_cmpint(trust_verify(&kr, sig0, '+', 30 * DAY, T0 + 10 + VALID + 1), ==,
	    TRUST_TAG_RETIRED);

	/* a compromised key: --overlap 0 refuses its tags at once */
	g_assert_cmpint(trust_keys_rotate(path, T0 + 30, 0, err), ==, 0);
	g_assert_cmpint(trust_keys_load(path, 0, T0 + 31, &kr, err), ==, 0);
	g_assert_cmpint(trust_verify(&kr, sig1, '+', VALID, T0 + 31), ==, TRUST_TAG_RETIRED);
	g_assert_cmpint(trust_verify(&kr, sig0, '+', VALID, T0 + 31), ==, TRUST_TAG_VALID);

	/* a broken file names its line */
	g_assert_true(g_file_set_contents(path, "# c\n0 zz 1 0\n", -1, NULL));
	g_assert_cmpint(trust_keys_load(path, 1, T0, &kr, err), ==, -1);
	g_assert_nonnull(strstr(err, ":2:"));
	g_assert_true(g_file_set_contents(path, "# nothing\n", -1, NULL));
	g_assert_cmpint(trust_keys_load(path, 1, T0, &kr, err), ==, -1);
	g_assert_nonnull(strstr(err, "no key"));

	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/trust/sign", test_sign);
	g_test_add_func("/trust/verify", test_verify);
	g_test_add_func("/trust/decide", test_decide);
	g_test_add_func("/trust/keys-file", test_keys_file);
	return g_test_run();
}
