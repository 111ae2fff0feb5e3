/* SPDX-License-Identifier: MIT */
/*
 * test-addr.c - store_addr_normalize(), the one address normaliser: good and
 * bad addresses, IDNA, quoted local parts, SQL metacharacters kept
 * literally, limits, and idempotence (normalising twice changes nothing).
 */
#include <string.h>
#include <glib.h>

#include "store.h"

static void
test_good(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "user@example.com", "user@example.com" },
		{ "  User@Example.COM \r\n", "user@example.com" },
		{ "<John.Doe@Example.com>", "john.doe@example.com" },
		{ " < a@b.c > ", "a@b.c" },
		{ "mailto:Ann@Example.org", "ann@example.org" },
		{ "rfc822;bob@example.net", "bob@example.net" },
		{ "RFC822; bob@example.net", "bob@example.net" },
		{ "example.com.@x.org", NULL },
		{ "user@example.com.", "user@example.com" },
		{ "o'brien@example.ie", "o'brien@example.ie" },
		{ "bounces+user=dom.example@example.com", "bounces+user=dom.example@example.com" },
		{ "\"john doe\"@example.com", "\"john doe\"@example.com" },
		{ "\"Robert'); DROP TABLE addr;--\"@example.com",
		  "\"robert'); drop table addr;--\"@example.com" },
		{ "\"a@b\"@example.com", "\"a@b\"@example.com" },
		{ "\"esc\\\"aped\"@example.com", "\"esc\\\"aped\"@example.com" },
		{ "user@B\xc3\xbc" "cher.example", "user@xn--bcher-kva.example" },
		{ "user@xn--bcher-kva.example", "user@xn--bcher-kva.example" },
		{ "J\xc3\x96RG@example.de", "j\xc3\xb6rg@example.de" },
		{ "user@[192.0.2.1]", "user@[192.0.2.1]" },
		{ "user@[IPv6:2001:DB8::1]", "user@[ipv6:2001:db8::1]" },
		{ "root@localhost", "root@localhost" },
		{ "@Example.COM", "@example.com" },
		{ "<@example.com>", "@example.com" },
		{ "a_b@mx_1.example.com", "a_b@mx_1.example.com" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char out[STORE_ADDR_MAX + 1], again[STORE_ADDR_MAX + 1], err[256];
		int n = store_addr_normalize(cases[i].in, strlen(cases[i].in), out, err);

		if (cases[i].want == NULL) {
			if (n != -1)
				g_error("case %zu \"%s\": got \"%s\" want an error", i, cases[i].in, out);
			continue;
		}
		if (n < 0)
			g_error("case %zu \"%s\": got error \"%s\" want \"%s\"", i, cases[i].in, err,
			    cases[i].want);
		if (strcmp(out, cases[i].want) != 0 || (size_t)n != strlen(out))
			g_error("case %zu: got \"%s\" (%d) want \"%s\"", i, out, n, cases[i].want);
		/* Idempotent: a normalised address normalises to itself. */
		g_assert_cmpint(store_addr_normalize(out, (size_t)n, again, err), ==, n);
		g_assert_cmpstr(again, ==, out);
	}
}

static void
test_bad(void)
{
	static const struct {
		const char *in;
		const char *err;   /* a substring of the message */
	} cases[] = {
		{ "", "empty address" },
		{ "   ", "empty address" },
		{ "<>", "empty address" },
		{ "user", "no '@'" },
		{ "user@", "empty domain" },
		{ "user@@example.com", "'@'" },
		{ ".user@example.com", "starts or ends with '.'" },
		{ "user.@example.com", "starts or ends with '.'" },
		{ "us..er@example.com", "\"..\"" },
		{ "us er@example.com", "invalid character ' '" },
		{ "robert');drop table addr;--@example.com", "invalid character ')'" },
		{ "user@exa mple.com", "invalid character ' ' in the domain" },
		{ "user@-example.com", "starts or ends with '-'" },
		{ "user@example..com", "empty label" },
		{ "user@example.com\x01", "invalid byte 0x01" },
		{ "\"unterminated@example.com", "unterminated quoted" },
		{ "user@\xff\xfe.com", "neither ASCII nor valid UTF-8" },
		{ "user@[1.2.3.4", "unterminated address literal" },
		{ "user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
		  "label longer than 63" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char out[STORE_ADDR_MAX + 1], err[256];
		int n = store_addr_normalize(cases[i].in, strlen(cases[i].in), out, err);

		if (n != -1)
			g_error("case %zu \"%s\": got \"%s\" want an error", i, cases[i].in, out);
		if (strstr(err, cases[i].err) == NULL)
			g_error("case %zu \"%s\": got error \"%s\" want one with \"%s\"", i,
			    cases[i].in, err, cases[i].err);
	}
}

static void
test_limits(void)
{
	char out[STORE_ADDR_MAX + 1], err[256];
	GString *s = g_string_new(NULL);
	int n;

	/* Embedded NUL: the length is what counts, and a NUL is refused. */
	g_assert_cmpint(store_addr_normalize("a\0b@example.com", 15, out, err), ==, -1);
	g_assert_nonnull(strstr(err, "NUL"));

	/* A local part past RFC 5321's 64 octets is accepted (VERP addresses). */
	for (int i = 0; i < 200; i++)
		g_string_append_c(s, 'a');
	g_string_append(s, "@example.com");
	n = store_addr_normalize(s->str, s->len, out, err);
	g_assert_cmpint(n, ==, (int)s->len);

	/* STORE_ADDR_MAX is the limit of the whole. */
	g_string_truncate(s, 0);
	for (int i = 0; i < STORE_ADDR_MAX; i++)
		g_string_append_c(s, 'b');
	g_string_append(s, "@example.com");
	g_assert_cmpint(store_addr_normalize(s->str, s->len, out, err), ==, -1);
	g_assert_nonnull(strstr(err, "longer than"));
	g_string_free(s, TRUE);

	/* err may be NULL. */
	g_assert_cmpint(store_addr_normalize("nope", 4, out, NULL), ==, -1);
}

/* The erased-entry names forget leaves: "hmac:<64 lowercase hex>:<16 lowercase hex>". */
static void
test_erased_names(void)
{
	static const char hex64[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct { const char *tail; int want; } cases[] = {
		{ ":0123456789abcdef", 1 },
		{ ":0123456789ABCDEF", 0 },      /* upper case is not what forget writes */
		{ ":0123456789abcde", 0 },       /* short key */
		{ ":0123456789abcdef0", 0 },     /* long key */
		{ "-0123456789abcdef", 0 },      /* no ':' */
		{ ":0123456789abcdeg", 0 },      /* not hex */
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *name = g_strconcat("hmac:", hex64, cases[i].tail, NULL);
		int got = store_erased_name_valid(name);

		if (got != cases[i].want)
			g_error("case %zu \"%s\": got %d want %d", i, name, got, cases[i].want);
		g_free(name);
	}
	g_assert_cmpint(store_erased_name_valid("hmac:"), ==, 0);
	g_assert_cmpint(store_erased_name_valid("hmax:0123"), ==, 0);
	g_assert_cmpint(store_erased_name_valid(""), ==, 0);
}

/* store_text_redact: every case-insensitive occurrence, bytes kept around it. */
static void
test_redact(void)
{
	static const struct {
		const char *in, *needle, *want;
	} cases[] = {
		{ "To: Jane@X.test, bob@x.test", "jane@x.test", "To: [e], bob@x.test" },
		{ "jane@x.testjane@x.test", "jane@x.test", "[e][e]" },
		{ "no match", "jane@x.test", "no match" },
		{ "jane@x.tes", "jane@x.test", "jane@x.tes" },
		{ "", "jane@x.test", "" },
	};
	const char nul[] = "a\0jane@x.test\0b";
	size_t len;
	char *out;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		out = store_text_redact(cases[i].in, strlen(cases[i].in), cases[i].needle, "[e]", &len);
		if (strcmp(out, cases[i].want) != 0 || len != strlen(cases[i].want))
			g_error("redact %zu: got \"%s\" want \"%s\"", i, out, cases[i].want);
		g_free(out);
	}
	out = store_text_redact(nul, sizeof(nul) - 1, "jane@x.test", "[e]", &len);
	g_assert_cmpuint(len, ==, 7);
	g_assert_true(memcmp(out, "a\0[e]\0b", 7) == 0);
	g_free(out);
}

/* store_addr_log_hash: hmac: and 16 hex digits of HMAC-SHA256 of the normalised address. */
static void
test_log_hash(void)
{
	static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
	char a[STORE_LOG_HASH_LEN + 1], b[STORE_LOG_HASH_LEN + 1], want[STORE_LOG_HASH_LEN + 1];
	gchar *hex = g_compute_hmac_for_string(G_CHECKSUM_SHA256, secret, sizeof(secret) - 1,
	    "jane@x.test", -1);

	g_snprintf(want, sizeof(want), "hmac:%.16s", hex);
	g_free(hex);
	store_addr_log_hash(secret, sizeof(secret) - 1, "<Jane@X.TEST>", a);
	store_addr_log_hash(secret, sizeof(secret) - 1, "jane@x.test", b);
	g_assert_cmpstr(a, ==, want);
	g_assert_cmpstr(b, ==, want);
	store_addr_log_hash(secret, sizeof(secret) - 1, "not an address", a);
	g_assert_true(g_str_has_prefix(a, "hmac:") && strlen(a) == STORE_LOG_HASH_LEN);
	g_assert_cmpstr(a, !=, want);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/addr/good", test_good);
	g_test_add_func("/addr/bad", test_bad);
	g_test_add_func("/addr/limits", test_limits);
	g_test_add_func("/addr/redact", test_redact);
	g_test_add_func("/addr/log-hash", test_log_hash);
	g_test_add_func("/addr/erased_names", test_erased_names);
	return g_test_run();
}
