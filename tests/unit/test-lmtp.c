/* SPDX-License-Identifier: MIT */
/*
 * test-lmtp.c - the LMTP engine, table-driven: each case is a client script
 * and the exact replies wanted, run whole and again cut into chunks of 1, 2,
 * 3 and 7 bytes (partial reads are where protocol bugs live).  The
 * transactions handed over are checked too: envelope, unstuffed data,
 * truncation.
 */
#include <string.h>
#include <glib.h>

#include "lmtp.h"
#include "verp.h"

struct run {
	struct lmtp_engine *e;
	GPtrArray *txns;        /* struct lmtp_txn * handed over */
	int ok;                 /* outcome given to lmtp_engine_complete */
	int sync;               /* 1: complete inside the callback */
};

static void
on_txn(void *ud, struct lmtp_txn *t)
{
	struct run *r = ud;

	g_ptr_array_add(r->txns, t);
	if (r->sync)
		lmtp_engine_complete(r->e, r->ok, r->ok ? "stored" : "store failure");
}

/* Feeds input in chunks of `chunk` bytes (0: whole); returns all replies. */
static gchar *
drive(const char *input, size_t len, size_t chunk, const struct lmtp_limits *lim,
    struct run *r)
{
	GString *all = g_string_new(NULL);
	GString *pending = g_string_new(NULL);
	size_t off = 0;

	r->txns = g_ptr_array_new_with_free_func((GDestroyNotify)lmtp_txn_free);
	r->e = lmtp_engine_new(lim, "lmtp.test", on_txn, r);
	for (;;) {
		size_t used;

		if (off < len) {
			size_t n = chunk == 0 ? len - off : MIN(chunk, len - off);

			g_string_append_len(pending, input + off, (gssize)n);
			off += n;
		}
		used = lmtp_engine_feed(r->e, pending->str, pending->len);
		g_assert_cmpuint(used, <=, pending->len);
		g_string_erase(pending, 0, (gssize)used);
		if (lmtp_engine_state(r->e) == LMTP_STATE_WAIT) {
			/* the commit finished later: replies, then the pipelined rest */
			lmtp_engine_complete(r->e, r->ok, r->ok ? "stored" : "store failure");
			continue;
		}
		g_assert_cmpuint(pending->len, ==, 0);
		if (off == len)
			break;
	}
	g_string_append_len(all, lmtp_engine_output(r->e)->str,
	    (gssize)lmtp_engine_output(r->e)->len);
	g_string_free(pending, TRUE);
	return g_string_free(all, FALSE);
}

static void
run_free(struct run *r)
{
	lmtp_engine_free(r->e);
	g_ptr_array_free(r->txns, TRUE);
}

#define GREET "220 lmtp.test LMTP bounced ready\r\n"
#define LHLO_REPLY "250-lmtp.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"

struct want_txn {
	const char *from;
	const char *rcpts;       /* comma-separated */
	const char *data;
	int truncated;
	int over_size;
};

static const struct {
	const char *name;
	const char *in;
	int ok;
	const char *out;
	struct want_txn txn[3];
} cases[] = {
	{ "one transaction, two recipients, dot stuffing",
	  "LHLO mx.test\r\nMAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<a@b.test>\r\n"
	  "RCPT TO:<c@d.test>\r\nDATA\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n"
	  "line\r\n.\r\nQUIT\r\n",
	  1,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	  "354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <a@b.test> stored\r\n250 2.0.0 <c@d.test> stored\r\n"
	  "500 5.5.2 Error: command not recognized\r\n"
	  "500 5.5.2 Error: command not recognized\r\n221 2.0.0 Bye\r\n",
	  { { "", "a@b.test,c@d.test", "Subject: x\r\n\r\n.leading dot\r\n", 0, 0 } } },
	{ "Postfix reuses the session: RSET then a second transaction",
	  "LHLO mx.test\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@bounce.test>\r\nDATA\r\n"
	  "A: 1\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<x@y.test>\r\n"
	  "RCPT TO:<bounces+u=r.test@bounce.test>\r\nDATA\r\nB: 2\r\n.\r\nQUIT\r\n",
	  1,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <bounces@bounce.test> stored\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
	  "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <bounces+u=r.test@bounce.test> stored\r\n221 2.0.0 Bye\r\n",
	  { { "", "bounces@bounce.test", "A: 1\r\n\r\nbody\r\n", 0, 0 },
	    { "x@y.test", "bounces+u=r.test@bounce.test", "B: 2\r\n", 0, 0 } } },
	{ "store failure: 451 per recipient, session goes on",
	  "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n"
	  "NOOP\r\n",
	  0,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	  "354 End data with <CR><LF>.<CR><LF>\r\n"
	  "451 4.3.0 <a@b> store failure\r\n451 4.3.0 <c@d> store failure\r\n250 2.0.0 Ok\r\n",
	  { { "", "a@b,c@d", "x\r\n", 0, 0 } } },
	{ "RSET in the middle, empty message, LF line ends",
	  "LHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nRSET\nMAIL FROM:<>\nRCPT TO:<e@f>\n"
	  "DATA\n.\n",
	  1,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
	  "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 <e@f> stored\r\n",
	  { { "", "e@f", "", 0, 0 } } },
	{ "bad sequences",
	  "MAIL FROM:<>\r\nLHLO\r\nLHLO x\r\nRCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:<>\r\n"
	  "MAIL FROM:<>\r\nDATA\r\nDATA x\r\nHELO x\r\nEHLO x\r\nVRFY a\r\nHELP\r\n",
	  1,
	  GREET "503 5.5.1 Error: send LHLO first\r\n501 5.5.4 Syntax: LHLO hostname\r\n"
	  LHLO_REPLY "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n"
	  "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
	  "503 5.5.1 Error: need RCPT command\r\n501 5.5.4 Syntax: DATA\r\n"
	  "500 5.5.1 Error: this is LMTP, send LHLO\r\n500 5.5.1 Error: this is LMTP, send LHLO\r\n"
	  "252 2.5.2 Cannot VRFY user\r\n214 2.0.0 LHLO MAIL RCPT DATA RSET NOOP QUIT\r\n",
	  { { NULL, NULL, NULL, 0, 0 } } },
	{ "syntax and parameters",
	  "LHLO x\r\nMAIL FROM:\r\nMAIL TO:<a@b>\r\nMAIL FROM:<a@b> RET=HDRS\r\n"
	  "MAIL FROM:<a@b> BODY=BINARYMIME\r\nMAIL FROM:<a@b> SIZE=12x\r\n"
	  "MAIL FROM: <\"q >\"@b> SIZE=99999999999 SMTPUTF8\r\nRCPT TO:<>\r\n"
	  "RCPT TO:<a@b> NOTIFY=NEVER\r\nRCPT TO:<a@b\r\nRCPT TO:<x\001y@b>\r\n"
	  "rcpt to:bare@b.test\r\nDATA\r\nx\r\n.\r\n",
	  1,
	  GREET LHLO_REPLY "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	  "501 5.5.4 Syntax: MAIL FROM:<address>\r\n555 5.5.4 Unsupported option: RET\r\n"
	  "501 5.5.4 Unsupported BODY type\r\n501 5.5.4 Bad SIZE value\r\n250 2.1.0 Ok\r\n"
	  "501 5.1.3 Bad recipient address syntax\r\n555 5.5.4 Unsupported option: NOTIFY\r\n"
	  "501 5.5.4 Syntax: RCPT TO:<address>\r\n501 5.5.4 Syntax: RCPT TO:<address>\r\n"
	  "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 <bare@b.test> stored\r\n",
	  { { "\"q >\"@b", "bare@b.test", "x\r\n", 0, 1 } } },
	{ "line too long is refused, the session goes on",
	  "LHLO x\r\nNOOP 0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789\r\nNOOP\r\n",
	  1,
	  GREET LHLO_REPLY "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n",
	  { { NULL, NULL, NULL, 0, 0 } } },
	{ "NUL in a command",
	  "LHLO x\r\nNO\0OP\r\nNOOP\r\n",
	  1,
	  GREET LHLO_REPLY "500 5.5.2 Invalid command (NUL byte)\r\n250 2.0.0 Ok\r\n",
	  { { NULL, NULL, NULL, 0, 0 } } },
	{ "too many recipients: 452, the accepted ones are answered",
	  "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"
	  "RCPT TO:<g@h>\r\nDATA\r\nx\r\n.\r\n",
	  1,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	  "452 4.5.3 Error: too many recipients\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <a@b> stored\r\n250 2.0.0 <c@d> stored\r\n250 2.0.0 <e@f> stored\r\n",
	  { { "", "a@b,c@d,e@f", "x\r\n", 0, 0 } } },
	{ "too many bad commands: 421 and nothing more is read",
	  "LHLO x\r\nA\r\nB\r\nC\r\nD\r\nNOOP\r\nMAIL FROM:<>\r\n",
	  1,
	  GREET LHLO_REPLY "500 5.5.2 Error: command not recognized\r\n"
	  "500 5.5.2 Error: command not recognized\r\n500 5.5.2 Error: command not recognized\r\n"
	  "500 5.5.2 Error: command not recognized\r\n421 4.7.0 lmtp.test Too many errors, closing\r\n",
	  { { NULL, NULL, NULL, 0, 0 } } },
	{ "QUIT: the rest is ignored",
	  "LHLO x\r\nQUIT\r\nNOOP\r\n",
	  1,
	  GREET LHLO_REPLY "221 2.0.0 Bye\r\n",
	  { { NULL, NULL, NULL, 0, 0 } } },
	{ "a message over keep_bytes and max_message is read to its end and kept truncated",
	  "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n"
	  "0123456789012345678901234567890123456789\r\n"
	  "0123456789012345678901234567890123456789\r\n.\r\nNOOP\r\n",
	  1,
	  GREET "250-lmtp.test\r\n250-PIPELINING\r\n250-SIZE 80\r\n"
	  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
	  "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <a@b> stored\r\n250 2.0.0 Ok\r\n",
	  { { "", "a@b", "0123456789012345678901234567890123456789\r\n0123456789012345678901234567", 1, 0 } } },
	{ "odd dots: \".x\", \".\\rx\", a lone \"..\"",
	  "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n.x\r\n.\rx\r\n..\r\n.\r\n",
	  1,
	  GREET LHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	  "250 2.0.0 <a@b> stored\r\n",
	  { { "", "a@b", "x\r\n\rx\r\n.\r\n", 0, 0 } } },
};

static void
check_case(size_t ci, size_t chunk, int sync)
{
	struct lmtp_limits lim;
	struct run r = { .ok = cases[ci].ok, .sync = sync };
	size_t len = strlen(cases[ci].in);
	gchar *out;
	guint ntx = 0;

	lmtp_limits_default(&lim);
	lim.max_line = 64;
	lim.max_message = 1024 * 1024;
	lim.max_rcpts = 3;
	lim.max_bad = strstr(cases[ci].name, "too many bad") != NULL ? 4 : 20;
	lim.keep_bytes = 70;
	if (strstr(cases[ci].name, "NUL") != NULL)
		len = 21;
	if (strstr(cases[ci].name, "over keep_bytes") != NULL)
		lim.max_message = 80;
	out = drive(cases[ci].in, len, chunk, &lim, &r);
	if (strcmp(out, cases[ci].out) != 0)
		g_error("case \"%s\" chunk %zu sync %d:\n--- got\n%s--- want\n%s", cases[ci].name,
		    chunk, sync, out, cases[ci].out);
	for (size_t i = 0; i < G_N_ELEMENTS(cases[ci].txn) && cases[ci].txn[i].from; i++) {
		const struct want_txn *w = &cases[ci].txn[i];
		struct lmtp_txn *t;
		GString *rc = g_string_new(NULL);

		if (i >= r.txns->len)
			g_error("case \"%s\": %u transactions, want more", cases[ci].name, r.txns->len);
		t = g_ptr_array_index(r.txns, i);
		g_assert_cmpstr(t->mail_from, ==, w->from);
		for (guint j = 0; j < t->rcpts->len; j++)
			g_string_append_printf(rc, "%s%s", j ? "," : "",
			    (char *)g_ptr_array_index(t->rcpts, j));
		g_assert_cmpstr(rc->str, ==, w->rcpts);
		g_string_free(rc, TRUE);
		g_assert_cmpmem(t->data->data, t->data->len, w->data, strlen(w->data));
		g_assert_cmpint(t->truncated, ==, w->truncated);
		if (w->truncated)
			g_assert_cmpuint(t->size, ==, 84);
		else
			g_assert_cmpuint(t->size, ==, strlen(w->data));
		g_assert_cmpint(t->over_size, ==, w->over_size || strstr(cases[ci].name, "max_message"));
		ntx++;
	}
	g_assert_cmpuint(r.txns->len, ==, ntx);
	g_free(out);
	run_free(&r);
}

static void
test_cases(void)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7 };

	for (size_t ci = 0; ci < G_N_ELEMENTS(cases); ci++)
		for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++)
			for (int sync = 0; sync <= 1; sync++)
				check_case(ci, chunks[k], sync);
}

/* The engine holds input back while a commit runs, and only then. */
static void
test_wait(void)
{
	static const char in[] = "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\nx\r\n.\r\n"
	    "RSET\r\nNOOP\r\n";
	struct lmtp_limits lim;
	struct run r = { .ok = 1 };
	size_t used;

	lmtp_limits_default(&lim);
	r.txns = g_ptr_array_new_with_free_func((GDestroyNotify)lmtp_txn_free);
	r.e = lmtp_engine_new(&lim, "h", on_txn, &r);
	used = lmtp_engine_feed(r.e, in, sizeof(in) - 1);
	g_assert_cmpuint(used, ==, sizeof(in) - 1 - strlen("RSET\r\nNOOP\r\n"));
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_WAIT);
	g_assert_cmpuint(lmtp_engine_feed(r.e, in + used, 4), ==, 0);
	/* the client's silence while we commit is not a timeout */
	lmtp_engine_timeout(r.e);
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_WAIT);
	/* a shutdown waits for the commit, answers, then closes */
	g_assert_cmpint(lmtp_engine_shutdown(r.e), ==, 0);
	g_string_truncate(lmtp_engine_output(r.e), 0);
	lmtp_engine_complete(r.e, 1, "ok");
	g_assert_cmpstr(lmtp_engine_output(r.e)->str, ==,
	    "250 2.0.0 <a@b> ok\r\n421 4.3.2 h Service shutting down, closing\r\n");
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_CLOSED);
	run_free(&r);
}

static void
test_timeout_shutdown(void)
{
	struct lmtp_limits lim;
	struct run r = { .ok = 1 };

	lmtp_limits_default(&lim);
	r.txns = g_ptr_array_new_with_free_func((GDestroyNotify)lmtp_txn_free);
	r.e = lmtp_engine_new(&lim, "h", on_txn, &r);
	lmtp_engine_feed(r.e, "LHLO x\r\nMAIL FROM:<>\r\n", 22);
	g_string_truncate(lmtp_engine_output(r.e), 0);
	g_assert_cmpint(lmtp_engine_shutdown(r.e), ==, 1);
	g_assert_cmpstr(lmtp_engine_output(r.e)->str, ==,
	    "421 4.3.2 h Service shutting down, closing\r\n");
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_CLOSED);
	run_free(&r);

	r.txns = g_ptr_array_new_with_free_func((GDestroyNotify)lmtp_txn_free);
	r.e = lmtp_engine_new(&lim, "h", on_txn, &r);
	lmtp_engine_feed(r.e, "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\npartial", 50);
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_DATA);
	g_string_truncate(lmtp_engine_output(r.e), 0);
	lmtp_engine_timeout(r.e);
	g_assert_cmpstr(lmtp_engine_output(r.e)->str, ==, "421 4.4.2 h Error: timeout exceeded\r\n");
	g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_CLOSED);
	g_assert_cmpuint(r.txns->len, ==, 0);
	run_free(&r);
}

/* Eviction: only a session between transactions gives its slot away. */
static void
test_evict(void)
{
	static const struct {
		const char *in;
		int evicted;
	} evict_cases[] = {
		{ "", 1 },                                      /* greeted, silent */
		{ "LHLO x\r\n", 1 },                            /* between transactions */
		{ "LHLO x\r\nMAIL FROM:<>\r\nRSET\r\n", 1 },    /* reset: between again */
		{ "LHLO x\r\nNO", 1 },                          /* half a command: still idle */
		{ "LHLO x\r\nMAIL FROM:<>\r\n", 0 },            /* a transaction is open */
		{ "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\nx", 0 },
		{ "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\nx\r\n.\r\n", 0 }, /* commit */
	};
	struct lmtp_limits lim;

	lmtp_limits_default(&lim);
	for (size_t i = 0; i < G_N_ELEMENTS(evict_cases); i++) {
		struct run r = { .ok = 1 };
		int got;

		r.txns = g_ptr_array_new_with_free_func((GDestroyNotify)lmtp_txn_free);
		r.e = lmtp_engine_new(&lim, "h", on_txn, &r);
		lmtp_engine_feed(r.e, evict_cases[i].in, strlen(evict_cases[i].in));
		g_string_truncate(lmtp_engine_output(r.e), 0);
		got = lmtp_engine_evict(r.e);
		if (got != evict_cases[i].evicted)
			g_error("case %zu: got evicted=%d want %d", i, got, evict_cases[i].evicted);
		if (got) {
			g_assert_cmpstr(lmtp_engine_output(r.e)->str, ==,
			    "421 4.4.2 h Idle connection closed: all sessions are in use\r\n");
			g_assert_cmpint(lmtp_engine_state(r.e), ==, LMTP_STATE_CLOSED);
		} else {
			g_assert_cmpuint(lmtp_engine_output(r.e)->len, ==, 0);
		}
		run_free(&r);
	}
}

/* An envelope path is bounded by the line only: a 3,000-byte VERP RCPT is taken. */
static void
test_long_path(void)
{
	struct lmtp_limits lim;
	struct run r = { .ok = 1, .sync = 1 };
	GString *in = g_string_new("LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<bounces+");
	struct lmtp_txn *t;
	gchar *out;

	lmtp_limits_default(&lim);
	for (int i = 0; i < 3000; i++)
		g_string_append_c(in, 'u');
	g_string_append(in, "=example.org@bounce.test>\r\nDATA\r\nx\r\n.\r\n");
	out = drive(in->str, in->len, 0, &lim, &r);
	g_assert_nonnull(strstr(out, "250 2.1.5 Ok\r\n354 "));
	g_assert_cmpuint(r.txns->len, ==, 1);
	t = g_ptr_array_index(r.txns, 0);
	g_assert_cmpuint(strlen(g_ptr_array_index(t->rcpts, 0)), ==, 3000 + strlen("bounces+"
	    "=example.org@bounce.test"));
	g_free(out);
	run_free(&r);
	g_string_free(in, TRUE);
}

/* A long message in one go: the bytes past keep_bytes are counted, not kept. */
static void
test_big(void)
{
	struct lmtp_limits lim;
	struct run r = { .ok = 1, .sync = 1 };
	GString *in = g_string_new("LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n");
	struct lmtp_txn *t;

	lmtp_limits_default(&lim);
	lim.keep_bytes = 4096;
	lim.max_message = 65536;
	for (int i = 0; i < 10000; i++)
		g_string_append(in, "0123456789012345678901234567890123456789\r\n");
	g_string_append(in, ".\r\n");
	g_free(drive(in->str, in->len, 0, &lim, &r));
	g_assert_cmpuint(r.txns->len, ==, 1);
	t = g_ptr_array_index(r.txns, 0);
	g_assert_cmpuint(t->size, ==, 420000);
	g_assert_cmpuint(t->data->len, ==, 4096);
	g_assert_true(t->truncated);
	g_assert_true(t->over_size);
	run_free(&r);
	g_string_free(in, TRUE);
}

/* VERP: the original recipient back out of the LMTP RCPT. */
static void
test_verp(void)
{
	static const struct {
		const char *rcpt;
		const char *delims;
		const char *want;       /* NULL: not VERP */
	} vcases[] = {
		{ "bounces+user=remote.test@bounce.test", "+=", "user@remote.test" },
		{ "bounces+user+tag=remote.test@bounce.test", "+=", "user+tag@remote.test" },
		{ "bounces+a=b=remote.test@bounce.test", "+=", "a=b@remote.test" },
		{ "bounces-user=remote.test@bounce.test", "-=", "user@remote.test" },
		{ "bounces@bounce.test", "+=", NULL },
		{ "bounces+nodomain@bounce.test", "+=", NULL },
		{ "bounces+=remote.test@bounce.test", "+=", NULL },
		{ "bounces+user=@bounce.test", "+=", NULL },
		{ "+user=remote.test@bounce.test", "+=", NULL },
		{ "bounces+user=remote.test", "+=", NULL },
		{ "bounces+user=remote.test@bounce.test", "-=", NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(vcases); i++) {
		char out[64];
		int rc = verp_decode(vcases[i].rcpt, vcases[i].delims, out, sizeof(out));

		if (vcases[i].want == NULL) {
			if (rc != 0)
				g_error("\"%s\": decoded \"%s\", want none", vcases[i].rcpt, out);
		} else if (rc != 1 || strcmp(out, vcases[i].want) != 0) {
			g_error("\"%s\": got %d \"%s\" want \"%s\"", vcases[i].rcpt, rc, rc ? out : "",
			    vcases[i].want);
		}
	}
	/* a result that does not fit is refused, not cut */
	{
		char small[8];

		g_assert_cmpint(verp_decode("b+user=remote.test@x", "+=", small, sizeof(small)), ==, 0);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/lmtp/cases", test_cases);
	g_test_add_func("/lmtp/wait", test_wait);
	g_test_add_func("/lmtp/timeout-shutdown", test_timeout_shutdown);
	g_test_add_func("/lmtp/evict", test_evict);
	g_test_add_func("/lmtp/long-path", test_long_path);
	g_test_add_func("/lmtp/big", test_big);
	g_test_add_func("/lmtp/verp", test_verp);
	return g_test_run();
}
