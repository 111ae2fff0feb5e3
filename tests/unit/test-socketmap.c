/* SPDX-License-Identifier: MIT */
/*
 * test-socketmap.c - the Postfix socketmap engine on a real in-memory
 * index: netstring framing (whole, split at every byte, several per read),
 * malformed and over-long requests, both map names, recipient_delimiter
 * extensions and domain keys.
 */
#include <string.h>
#include <glib.h>

#include "socketmap.h"
#include "store.h"
#include "test-engine-util.h"
#include "test-index-util.h"

#define NOW ((time_t)1700000000)

static struct store_index *
make_index(void)
{
	static const struct tu_index_row rows[] = {
		{ "dead@example.com", STORE_CAUSE_HARD, REPORT_REASON_USERUNKNOWN, NOW - 86400, 0 },
		{ "user+tag@example.com", STORE_CAUSE_COMPLAINT, REPORT_REASON_FEEDBACK, NOW - 86400, 0 },
		{ "full@example.com", STORE_CAUSE_SOFT, REPORT_REASON_MAILBOXFULL, NOW - 86400, NOW + 60 },
		{ "@gone.example", STORE_CAUSE_HARD, REPORT_REASON_HOSTUNKNOWN, NOW - 86400, 0 },
	};

	return tu_test_index(rows, G_N_ELEMENTS(rows));
}

static GString *
ns(const char *const *reqs)
{
	GString *s = g_string_new(NULL);

	for (; *reqs != NULL; reqs++)
		g_string_append_printf(s, "%zu:%s,", strlen(*reqs), *reqs);
	return s;
}

/* Feeds in chunks; returns the output, *rc_r the first non-zero engine return. */
static GString *
feed(struct smap_ctx *ctx, const char *in, size_t len, size_t chunk, int *rc_r)
{
	return tu_feed(smap_engine, ctx, NOW, in, len, chunk, rc_r);
}

static const char *const requests[] = {
	"suppressed dead@example.com",
	"suppressed DEAD@Example.COM",
	"suppressed dead+news@example.com",
	"suppressed user+tag@example.com",
	"suppressed user@example.com",
	"suppressed full@example.com",
	"suppressed alive@example.com",
	"suppressed anyone@gone.example",
	"suppressed gone.example",
	"suppressed example.com",
	"suppressed dead@",
	"suppressed .gone.example",
	"transport dead@example.com",
	"transport alive@example.com",
	"other dead@example.com",
	"nospace",
	NULL,
};

/* The replies to requests[], without the netstring framing. */
static const char *const replies[] = {
	"OK 550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z",
	"OK 550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z",
	"OK 550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z",
	"OK 550 5.7.1 suppressed: complaint feedback since 2023-11-13T22:13:20Z",
	"NOTFOUND ",
	"OK 550 5.2.2 suppressed: soft mailboxfull since 2023-11-13T22:13:20Z "
	    "until 2023-11-14T22:14:20Z",
	"NOTFOUND ",
	"OK 550 5.1.2 suppressed (domain entry): hard hostunknown since 2023-11-13T22:13:20Z",
	"OK 550 5.1.2 suppressed (domain entry): hard hostunknown since 2023-11-13T22:13:20Z",
	"NOTFOUND ",
	"NOTFOUND ",
	"NOTFOUND ",
	"OK error:5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z",
	"NOTFOUND ",
	"PERM unknown map name",
	"PERM expected \"name key\"",
	NULL,
};

static void
test_requests(void)
{
	struct store_index *idx = make_index();
	struct smap_ctx ctx = { .idx = idx, .name = "suppressed", .transport_name = "transport",
	    .delimiters = "+" };
	GString *in = ns(requests), *want = ns(replies);
	static const size_t chunks[] = { 0, 1, 2, 3, 13 };

	for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
		int rc;
		GString *got = feed(&ctx, in->str, in->len, chunks[k], &rc);

		g_assert_cmpint(rc, ==, 0);
		if (strcmp(got->str, want->str) != 0)
			g_error("chunk %zu:\n got  %s\n want %s", chunks[k], got->str, want->str);
		g_string_free(got, TRUE);
	}
	g_string_free(in, TRUE);
	g_string_free(want, TRUE);
	store_index_free(idx);
}

/* No index yet (the store could not be opened): TEMP, so Postfix defers. */
static void
test_unavailable(void)
{
	struct smap_ctx ctx = { .idx = NULL, .name = "suppressed", .transport_name = "transport",
	    .delimiters = "+" };
	static const char *const reqs[] = { "suppressed dead@example.com", "suppressed user@",
	    NULL };
	GString *in = ns(reqs);
	int rc;
	GString *got = feed(&ctx, in->str, in->len, 0, &rc);

	g_assert_cmpint(rc, ==, 0);
	g_assert_cmpstr(got->str, ==, "22:TEMP store unavailable,9:NOTFOUND ,");
	g_string_free(got, TRUE);
	g_string_free(in, TRUE);
}

/* The "sign" map (sender_canonical_maps): trust.domains senders only, once. */
static void
test_sign(void)
{
	static const char *const domains[] = { "bounce.example.com" };
	struct trust_keyring kr;
	struct smap_ctx ctx = { .idx = NULL, .name = "suppressed", .transport_name = "transport",
	    .delimiters = "+", .sign_name = "sign", .sign_domains = domains, .nsign_domains = 1 };
	static const struct {
		const char *req, *want_prefix;
	} cases[] = {
		{ "sign bounces@bounce.example.com", "OK prvs=0" },
		{ "sign Bounces@Bounce.Example.COM", "OK prvs=0" },
		{ "sign bounces+a=b.example@bounce.example.com", "OK prvs=0" },
		{ "sign prvs=01230123456789=bounces@bounce.example.com", "NOTFOUND " },
		{ "sign shop@example.com", "NOTFOUND " },
		{ "sign bounces", "NOTFOUND " },                 /* Postfix's "user" form */
		{ "sign @bounce.example.com", "NOTFOUND " },     /* and "@domain" */
		{ "sign ", "NOTFOUND " },
	};
	time_t now = 1764900000;

	/* no key loaded yet: Postfix defers rather than sends unsigned */
	{
		char out[512];
		size_t n = smap_answer(&ctx, now, cases[0].req, strlen(cases[0].req), out, sizeof(out));

		out[n] = '\0';
		g_assert_cmpstr(out, ==, "TEMP no signing key loaded");
	}
	memset(&kr, 0, sizeof(kr));
	kr.n = 1;
	memset(kr.keys[0].key, 7, TRUST_KEY_BYTES);
	ctx.keys = &kr;
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char out[512];
		size_t n = smap_answer(&ctx, now, cases[i].req, strlen(cases[i].req), out, sizeof(out));

		out[n] = '\0';
		if (!g_str_has_prefix(out, cases[i].want_prefix))
			g_error("%s: got \"%s\" want \"%s...\"", cases[i].req, out,
			    cases[i].want_prefix);
		if (g_str_has_prefix(out, "OK ")) {
			const char *addr = out + 3;

			/* what Postfix gets back is verified, and lowercase */
			g_assert_cmpint(trust_verify(&kr, addr, '+', 7 * 86400, now), ==, TRUST_TAG_VALID);
			g_assert_null(strpbrk(addr, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
		}
	}
	g_assert_cmpuint(ctx.signed_count, ==, 3);
}

/* Without recipient_delimiter, "dead+news" is another address. */
static void
test_no_delimiter(void)
{
	struct store_index *idx = make_index();
	struct smap_ctx ctx = { .idx = idx, .name = "suppressed", .transport_name = "t",
	    .delimiters = "" };
	const char *const reqs[] = { "suppressed dead+news@example.com", NULL };
	GString *in = ns(reqs);
	int rc;
	GString *got = feed(&ctx, in->str, in->len, 0, &rc);

	g_assert_cmpstr(got->str, ==, "9:NOTFOUND ,");
	g_string_free(got, TRUE);
	g_string_free(in, TRUE);
	store_index_free(idx);
}

/* Broken framing ends the connection (-1), after answering what came before. */
static void
test_malformed(void)
{
	struct store_index *idx = make_index();
	struct smap_ctx ctx = { .idx = idx, .name = "suppressed", .transport_name = "t",
	    .delimiters = "+" };
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "x:abc,", -1, "" },
		{ ":abc,", -1, "" },
		{ "3:abc;", -1, "" },
		{ "123456:", -1, "" },
		{ "20:suppressed,", 0, "" },            /* short: waits for more */
		{ "5:a b c,3:abc!", -1, "21:PERM unknown map name," },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		for (size_t chunk = 0; chunk <= 1; chunk++) {
			int rc;
			GString *got = feed(&ctx, cases[i].in, strlen(cases[i].in), chunk, &rc);

			if (rc != cases[i].rc || strcmp(got->str, cases[i].out) != 0)
				g_error("case %zu chunk %zu: got %d \"%s\" want %d \"%s\"", i, chunk, rc,
				    got->str, cases[i].rc, cases[i].out);
			g_string_free(got, TRUE);
		}
	}
	store_index_free(idx);
}

/* An over-long request is skipped (in any number of reads) and answered PERM. */
static void
test_too_long(void)
{
	struct store_index *idx = make_index();
	struct smap_ctx ctx = { .idx = idx, .name = "suppressed", .transport_name = "t",
	    .delimiters = "+" };
	GString *in = g_string_new(NULL);
	const size_t n = 3 * LIMIT_QUERY_LINE;
	static const size_t chunks[] = { 0, 1, 100, 2049 };

	g_string_append_printf(in, "%zu:", n);
	for (size_t i = 0; i < n; i++)
		g_string_append_c(in, 'x');
	g_string_append(in, ",27:suppressed dead@example.com,");
	g_assert_cmpuint(strlen("suppressed dead@example.com"), ==, 27);
	for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
		int rc;
		GString *got = feed(&ctx, in->str, in->len, chunks[k], &rc);

		g_assert_cmpint(rc, ==, 0);
		g_assert_cmpstr(got->str, ==, "21:PERM request too long,"
		    "68:OK 550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z,");
		g_string_free(got, TRUE);
	}
	g_string_free(in, TRUE);
	store_index_free(idx);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/socketmap/unavailable", test_unavailable);
	g_test_add_func("/socketmap/requests", test_requests);
	g_test_add_func("/socketmap/sign", test_sign);
	g_test_add_func("/socketmap/no-delimiter", test_no_delimiter);
	g_test_add_func("/socketmap/malformed", test_malformed);
	g_test_add_func("/socketmap/too-long", test_too_long);
	return g_test_run();
}
