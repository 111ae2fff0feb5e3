/* SPDX-License-Identifier: MIT */
/*
 * test-policy-delegation.c - the Postfix policy delegation engine
 * (bounced/policy.c) on a real in-memory index: requests as Postfix 3.7
 * sends them, fed whole, one byte at a time and in odd chunks, several per
 * read; DATA-stage and non-smtpd requests; the limits (line length,
 * attribute count, request size); soft suppressions; fail-closed; no store.
 * (test-policy.c is the suppression policy's test.)
 */
#include <string.h>
#include <glib.h>

#include "policy.h"
#include "store.h"
#include "test-engine-util.h"
#include "test-index-util.h"

#define NOW ((time_t)1700000000)

static struct store_index *
make_index(void)
{
	static const struct tu_index_row rows[] = {
		{ "dead@example.com", STORE_CAUSE_HARD, REPORT_REASON_USERUNKNOWN, NOW - 86400, 0 },
		{ "full@example.com", STORE_CAUSE_SOFT, REPORT_REASON_MAILBOXFULL, NOW - 86400, NOW + 60 },
		{ "spam@example.com", STORE_CAUSE_COMPLAINT, REPORT_REASON_FEEDBACK, NOW - 86400, 0 },
		{ "@gone.example", STORE_CAUSE_HARD, REPORT_REASON_HOSTUNKNOWN, NOW - 86400, 0 },
	};

	return tu_test_index(rows, G_N_ELEMENTS(rows));
}

/* A request as Postfix 3.7's smtpd sends it at RCPT. */
static void
request(GString *s, const char *state, const char *sender, const char *rcpt)
{
	g_string_append_printf(s,
	    "request=smtpd_access_policy\n"
	    "protocol_state=%s\n"
	    "protocol_name=ESMTP\n"
	    "client_address=192.0.2.10\n"
	    "client_name=app.example.org\n"
	    "reverse_client_name=app.example.org\n"
	    "client_port=40122\n"
	    "helo_name=app.example.org\n"
	    "sender=%s\n"
	    "recipient=%s\n"
	    "recipient_count=0\n"
	    "queue_id=\n"
	    "instance=1a2b.656e1f00.1c2d3.0\n"
	    "size=0\n"
	    "etrn_domain=\n"
	    "stress=\n"
	    "sasl_method=plain\n"
	    "sasl_username=shop\n"
	    "sasl_sender=\n"
	    "ccert_subject=\n"
	    "ccert_issuer=\n"
	    "ccert_fingerprint=\n"
	    "ccert_pubkey_fingerprint=\n"
	    "encryption_protocol=\n"
	    "encryption_cipher=\n"
	    "encryption_keysize=0\n"
	    "policy_context=\n"
	    "server_address=127.0.0.1\n"
	    "server_port=25\n"
	    "compatibility_level=3.6\n"
	    "mail_version=3.7.11\n"
	    "\n", state, sender, rcpt);
}

/* Feeds in chunks (0: all at once) the way query.c does; returns the output. */
static GString *
feed(struct policy_ctx *ctx, const char *in, size_t len, size_t chunk)
{
	return tu_feed_ok(policy_engine, ctx, NOW, in, len, chunk);
}

static void
check_all_chunks(struct policy_ctx *ctx, const GString *in, const char *want)
{
	static const size_t chunks[] = { 0, 1, 2, 7, 64, 1000 };

	for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
		GString *got = feed(ctx, in->str, in->len, chunks[k]);

		if (strcmp(got->str, want) != 0)
			g_error("chunk %zu:\n got  \"%s\"\n want \"%s\"", chunks[k], got->str, want);
		g_string_free(got, TRUE);
	}
}

static const struct {
	const char *state, *sender, *rcpt, *action;
} cases[] = {
	{ "RCPT", "shop@example.org", "dead@example.com",
	  "550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z" },
	{ "RCPT", "shop@example.org", "<DEAD@Example.COM>",
	  "550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z" },
	{ "RCPT", "", "dead+news@example.com",
	  "550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z" },
	{ "RCPT", "shop@example.org", "alive@example.com", "DUNNO" },
	{ "RCPT", "shop@example.org", "spam@example.com",
	  "550 5.7.1 suppressed: complaint feedback since 2023-11-13T22:13:20Z" },
	/* a soft suppression that expires: deferred, not refused */
	{ "RCPT", "shop@example.org", "full@example.com",
	  "DEFER_IF_PERMIT 4.2.2 suppressed: soft mailboxfull since 2023-11-13T22:13:20Z "
	  "until 2023-11-14T22:14:20Z" },
	{ "RCPT", "shop@example.org", "anyone@gone.example",
	  "550 5.1.2 suppressed (domain entry): hard hostunknown since 2023-11-13T22:13:20Z" },
	/* DATA stage with several recipients: Postfix sends an empty recipient */
	{ "DATA", "shop@example.org", "", "DUNNO" },
	{ "RCPT", "shop@example.org", "postmaster", "DUNNO" },
	{ "RCPT", "shop@example.org", "@gone.example", "DUNNO" },
};

static void
test_requests(void)
{
	struct store_index *idx = make_index();
	struct policy_ctx ctx = { .idx = idx, .delimiters = "+" };
	GString *in = g_string_new(NULL), *want = g_string_new(NULL);

	/* one connection, every request in turn (Postfix reuses connections) */
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		request(in, cases[i].state, cases[i].sender, cases[i].rcpt);
		g_string_append_printf(want, "action=%s\n\n", cases[i].action);
	}
	check_all_chunks(&ctx, in, want->str);
	g_assert_cmpuint(ctx.requests, ==, 6 * G_N_ELEMENTS(cases));
	g_assert_cmpuint(ctx.rejected, ==, 6 * 5);
	g_assert_cmpuint(ctx.deferred, ==, 6 * 1);
	g_assert_cmpuint(ctx.errors, ==, 0);
	/* CRLF line ends answer the same */
	{
		gchar **lines = g_strsplit(in->str, "\n", -1);
		gchar *crlf = g_strjoinv("\r\n", lines);
		GString *c = g_string_new(crlf);

		check_all_chunks(&ctx, c, want->str);
		g_string_free(c, TRUE);
		g_free(crlf);
		g_strfreev(lines);
	}
	g_string_free(in, TRUE);
	g_string_free(want, TRUE);
	store_index_free(idx);
}

/* Without recipient_delimiter "dead+news" is another address. */
static void
test_no_delimiter(void)
{
	struct store_index *idx = make_index();
	struct policy_ctx ctx = { .idx = idx, .delimiters = "" };
	GString *in = g_string_new(NULL);

	request(in, "RCPT", "a@example.org", "dead+news@example.com");
	check_all_chunks(&ctx, in, "action=DUNNO\n\n");
	g_string_free(in, TRUE);
	store_index_free(idx);
}

/*
 * Requests bounced cannot judge: DUNNO (fail-open), DEFER_IF_PERMIT 4.3.0
 * when fail_closed; a good request after each still gets its answer.
 */
static void
test_unusable(void)
{
	struct store_index *idx = make_index();
	GString *longline = g_string_new("request=smtpd_access_policy\nccert_subject=");
	GString *many = g_string_new("request=smtpd_access_policy\n");
	GString *big = g_string_new("request=smtpd_access_policy\n");
	const char *dead_answer =
	    "action=550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z\n\n";
	struct {
		const char *name;
		GString *in;
		const char *why;
	} bad[] = {
		{ "line over LIMIT_QUERY_LINE", longline, "an attribute line over 2048 bytes" },
		{ "too many attributes", many, "more than 128 attributes" },
		{ "request over 64 KiB", big, "a request over 64 KiB" },
		{ "no '='", g_string_new("request=smtpd_access_policy\nrecipient\n\n"),
		  "an attribute line without '='" },
		{ "other request", g_string_new("request=junk\nrecipient=dead@example.com\n\n"),
		  "not an smtpd_access_policy request" },
		{ "no request", g_string_new("recipient=dead@example.com\n\n"),
		  "not an smtpd_access_policy request" },
	};

	for (size_t i = 0; i < 5000; i++)
		g_string_append_c(longline, 'x');
	g_string_append(longline, "\nrecipient=dead@example.com\n\n");
	for (size_t i = 0; i < POLICY_MAX_ATTRS + 1; i++)
		g_string_append_printf(many, "x%zu=y\n", i);
	g_string_append(many, "recipient=dead@example.com\n\n");
	for (size_t i = 0; i < 40; i++) {
		g_string_append(big, "x=");
		for (size_t j = 0; j < 2000; j++)
			g_string_append_c(big, 'y');
		g_string_append_c(big, '\n');
	}
	g_string_append(big, "recipient=dead@example.com\n\n");

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		for (int closed = 0; closed <= 1; closed++) {
			struct policy_ctx ctx = { .idx = idx, .delimiters = "+", .fail_closed = closed };
			GString *in = g_string_new_len(bad[i].in->str, (gssize)bad[i].in->len);
			GString *want = g_string_new(NULL);

			request(in, "RCPT", "a@example.org", "dead@example.com");
			if (closed)
				g_string_append_printf(want, "action=DEFER_IF_PERMIT 4.3.0 bounced: %s, try "
				    "again later\n\n", bad[i].why);
			else
				g_string_append(want, "action=DUNNO\n\n");
			g_string_append(want, dead_answer);
			if (g_test_verbose())
				g_printerr("%s closed=%d\n", bad[i].name, closed);
			check_all_chunks(&ctx, in, want->str);
			g_assert_cmpuint(ctx.errors, ==, 6);
			g_string_free(in, TRUE);
			g_string_free(want, TRUE);
		}
		g_string_free(bad[i].in, TRUE);
	}
	store_index_free(idx);
}

/* No index yet (the store could not be opened): the error answer. */
static void
test_unavailable(void)
{
	for (int closed = 0; closed <= 1; closed++) {
		struct policy_ctx ctx = { .idx = NULL, .delimiters = "+", .fail_closed = closed };
		GString *in = g_string_new(NULL);

		request(in, "RCPT", "a@example.org", "dead@example.com");
		request(in, "DATA", "a@example.org", "");
		check_all_chunks(&ctx, in, closed ?
		    "action=DEFER_IF_PERMIT 4.3.0 bounced: store unavailable, try again later\n\n"
		    "action=DUNNO\n\n" : "action=DUNNO\n\naction=DUNNO\n\n");
		g_string_free(in, TRUE);
	}
}

/* An unfinished request answers nothing; replies wait for room in out[]. */
static void
test_partial_and_backpressure(void)
{
	struct store_index *idx = make_index();
	struct policy_ctx ctx = { .idx = idx, .delimiters = "+" };
	struct query_buf *b = g_new0(struct query_buf, 1);
	const char *part = "request=smtpd_access_policy\nrecipient=dead@example.com\n";
	size_t n = 0;

	memcpy(b->in, part, strlen(part));
	b->in_len = strlen(part);
	g_assert_cmpint(policy_engine(&ctx, b, NOW), ==, 0);
	g_assert_cmpuint(b->out_len, ==, 0);
	g_assert_cmpuint(b->in_len, ==, 0);     /* lines are consumed as they come */
	/* the output is almost full: the empty line waits */
	b->out_len = QUERY_OUT_SIZE - QUERY_REPLY_MAX + 1;
	b->in[0] = '\n';
	b->in_len = 1;
	g_assert_cmpint(policy_engine(&ctx, b, NOW), ==, 0);
	g_assert_cmpuint(b->in_len, ==, 1);
	b->out_len = 0;
	g_assert_cmpint(policy_engine(&ctx, b, NOW), ==, 0);
	g_assert_cmpuint(b->in_len, ==, 0);
	n = b->out_len;
	b->out[n] = '\0';
	g_assert_cmpstr(b->out, ==,
	    "action=550 5.1.1 suppressed: hard userunknown since 2023-11-13T22:13:20Z\n\n");
	g_free(b);
	store_index_free(idx);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy-delegation/requests", test_requests);
	g_test_add_func("/policy-delegation/no-delimiter", test_no_delimiter);
	g_test_add_func("/policy-delegation/unusable", test_unusable);
	g_test_add_func("/policy-delegation/unavailable", test_unavailable);
	g_test_add_func("/policy-delegation/partial", test_partial_and_backpressure);
	return g_test_run();
}
