/* SPDX-License-Identifier: MIT */
/*
 * test-query.c - the query protocol engine on a real in-memory index
 * (store_index): answers, errors, pipelining, line ends, over-long
 * requests, backpressure, and every case again fed one byte at a time.
 */
#include <string.h>
#include <glib.h>

#include "query.h"
#include "store.h"
#include "test-engine-util.h"
#include "test-index-util.h"

#define NOW ((time_t)1700000000)   /* 2023-11-14T22:13:20Z */

/* An index with: a hard entry, an expiring soft one, an expired one, a domain. */
static struct store_index *
make_index(void)
{
	static const struct tu_index_row rows[] = {
		{ "dead@example.com", STORE_CAUSE_HARD, REPORT_REASON_USERUNKNOWN, NOW - 86400, 0 },
		{ "full@example.com", STORE_CAUSE_SOFT, REPORT_REASON_MAILBOXFULL, NOW - 3600, NOW + 3600 },
		{ "old@example.com", STORE_CAUSE_HARD, REPORT_REASON_HOSTUNKNOWN, NOW - 99999, NOW - 1 },
		{ "@gone.example", STORE_CAUSE_MANUAL, REPORT_REASON_HOSTUNKNOWN, NOW - 60, 0 },
		{ "spam@example.com", STORE_CAUSE_COMPLAINT, REPORT_REASON_FEEDBACK, NOW - 10, 0 },
	};

	return tu_test_index(rows, G_N_ELEMENTS(rows));
}

static const struct {
	const char *in;
	const char *out;
} cases[] = {
	{ "CHECK dead@example.com\n", "SUPPRESSED hard userunknown 2023-11-13T22:13:20Z\n" },
	{ "CHECK <Dead@EXAMPLE.com>\r\n", "SUPPRESSED hard userunknown 2023-11-13T22:13:20Z\n" },
	{ "check   dead@example.com  \n", "SUPPRESSED hard userunknown 2023-11-13T22:13:20Z\n" },
	{ "CHECK full@example.com\n",
	  "SUPPRESSED soft mailboxfull 2023-11-14T21:13:20Z until=2023-11-14T23:13:20Z\n" },
	{ "CHECK old@example.com\n", "OK\n" },
	{ "CHECK alive@example.com\n", "OK\n" },
	{ "CHECK anyone@gone.example\n",
	  "SUPPRESSED manual hostunknown 2023-11-14T22:12:20Z entry=domain\n" },
	{ "CHECK spam@example.com\n", "SUPPRESSED complaint feedback 2023-11-14T22:13:10Z\n" },
	{ "CHECK\n", "ERR missing address (CHECK <address>)\n" },
	{ "CHECK \n", "ERR missing address (CHECK <address>)\n" },
	{ "\n", "ERR empty request\n" },
	{ "\r\n", "ERR empty request\n" },
	{ "CHECKdead@example.com\n", "ERR unknown command (expected CHECK <address>)\n" },
	{ "SUPPRESS dead@example.com\n", "ERR unknown command (expected CHECK <address>)\n" },
	{ "CHECK @gone.example\n", "ERR invalid address: a domain, not an address\n" },
	/* pipelined: answers in order */
	{ "CHECK alive@example.com\nCHECK dead@example.com\nCHECK x@gone.example\n",
	  "OK\nSUPPRESSED hard userunknown 2023-11-13T22:13:20Z\n"
	  "SUPPRESSED manual hostunknown 2023-11-14T22:12:20Z entry=domain\n" },
	/* no line end yet: no answer */
	{ "CHECK dead@example.com", "" },
};

/* Feeds in chunks of `chunk` bytes (0 = whole), returns all the output. */
static GString *
feed(struct query_ctx *ctx, const char *in, size_t len, size_t chunk)
{
	return tu_feed_ok(query_engine, ctx, NOW, in, len, chunk);
}

static void
test_cases(void)
{
	struct store_index *idx = make_index();
	struct query_ctx ctx = { .idx = idx };
	static const size_t chunks[] = { 0, 1, 2, 5 };

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
			GString *got = feed(&ctx, cases[i].in, strlen(cases[i].in), chunks[k]);

			if (strcmp(got->str, cases[i].out) != 0)
				g_error("case %zu chunk %zu: got \"%s\" want \"%s\"", i, chunks[k], got->str,
				    cases[i].out);
			g_string_free(got, TRUE);
		}
	store_index_free(idx);
}

/* Invalid addresses: an ERR that names the problem, one line. */
static void
test_invalid(void)
{
	struct store_index *idx = make_index();
	struct query_ctx ctx = { .idx = idx };
	static const char *const bad[] = { "CHECK nodomain\n", "CHECK a@\n", "CHECK @\n",
	    "CHECK a b@c.d\n", "CHECK x@\xff\xfe.com\n", "CHECK a@b@\n" };

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		GString *got = feed(&ctx, bad[i], strlen(bad[i]), 0);

		if (!g_str_has_prefix(got->str, "ERR invalid address") ||
		    strchr(got->str, '\n') != got->str + got->len - 1)
			g_error("\"%s\": got \"%s\"", bad[i], got->str);
		g_string_free(got, TRUE);
	}
	g_assert_cmpuint(ctx.errors, ==, G_N_ELEMENTS(bad));
	store_index_free(idx);
}

/* An over-long request is dropped whole and answered once; the next one works. */
static void
test_too_long(void)
{
	struct store_index *idx = make_index();
	struct query_ctx ctx = { .idx = idx };
	GString *in = g_string_new("CHECK ");
	GString *got;

	for (int i = 0; i < 3 * QUERY_IN_SIZE; i++)
		g_string_append_c(in, 'a');
	g_string_append(in, "@example.com\nCHECK dead@example.com\n");
	for (size_t chunk = 0; chunk <= 700; chunk += 700) {
		got = feed(&ctx, in->str, in->len, chunk);
		g_assert_cmpstr(got->str, ==,
		    "ERR request too long\nSUPPRESSED hard userunknown 2023-11-13T22:13:20Z\n");
		g_string_free(got, TRUE);
	}
	/* just over the limit but fitting in the buffer */
	g_string_assign(in, "CHECK ");
	while (in->len < LIMIT_QUERY_LINE + 1)
		g_string_append_c(in, 'b');
	g_string_append(in, "\nCHECK alive@example.com\n");
	got = feed(&ctx, in->str, in->len, 0);
	g_assert_cmpstr(got->str, ==, "ERR request too long\nOK\n");
	g_string_free(got, TRUE);
	g_string_free(in, TRUE);
	store_index_free(idx);
}

/* With the output nearly full the engine answers nothing more and keeps the input. */
static void
test_backpressure(void)
{
	struct store_index *idx = make_index();
	struct query_ctx ctx = { .idx = idx };
	struct query_buf *b = g_new0(struct query_buf, 1);
	static const char req[] = "CHECK dead@example.com\n";
	const size_t rl = sizeof(req) - 1, reply = 49; /* "SUPPRESSED hard ... Z\n" */
	size_t n = 0, before;

	while (b->in_len + rl <= QUERY_IN_SIZE) {
		memcpy(b->in + b->in_len, req, rl);
		b->in_len += rl;
		n++;
	}
	/* not room for one more reply: nothing is consumed */
	b->out_len = QUERY_OUT_SIZE - QUERY_REPLY_MAX + 1;
	before = b->in_len;
	query_engine(&ctx, b, NOW);
	g_assert_cmpuint(b->in_len, ==, before);
	g_assert_cmpuint(b->out_len, ==, QUERY_OUT_SIZE - QUERY_REPLY_MAX + 1);
	/* room for a few: exactly as many as fit with QUERY_REPLY_MAX to spare */
	b->out_len = QUERY_OUT_SIZE - 2 * QUERY_REPLY_MAX;
	query_engine(&ctx, b, NOW);
	g_assert_cmpuint((before - b->in_len) / rl, ==, (QUERY_REPLY_MAX + reply - 1) / reply);
	g_assert_cmpuint((before - b->in_len) % rl, ==, 0);
	g_assert_cmpuint(b->out_len, <=, QUERY_OUT_SIZE);
	/* the client read everything: the rest is answered */
	b->out_len = 0;
	query_engine(&ctx, b, NOW);
	g_assert_cmpuint(b->in_len, ==, 0);
	g_assert_cmpuint(b->out_len, ==, (n - (QUERY_REPLY_MAX + reply - 1) / reply) * reply);
	g_free(b);
	store_index_free(idx);
}

/* No index yet (the store could not be opened): ERR, never a guessed OK. */
static void
test_unavailable(void)
{
	struct query_ctx ctx = { .idx = NULL };
	GString *got = feed(&ctx, "CHECK a@example.com\nCHECK bad\n", 30, 0);

	g_assert_cmpstr(got->str, ==, "ERR store unavailable, try again later\n"
	    "ERR invalid address: no '@' in the address\n");
	g_string_free(got, TRUE);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/query/cases", test_cases);
	g_test_add_func("/query/invalid", test_invalid);
	g_test_add_func("/query/too-long", test_too_long);
	g_test_add_func("/query/backpressure", test_backpressure);
	g_test_add_func("/query/unavailable", test_unavailable);
	return g_test_run();
}
