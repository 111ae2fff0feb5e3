/* SPDX-License-Identifier: MIT */
/*
 * test-parser.c - golden-file tests of report_parse(): every
 * tests/fixtures/<kind>/<name>.eml is parsed and its report, rendered as
 * text, must equal <name>.expected.  Each fixture is also fed with LF, CRLF
 * and CR line ends, and the three reports must be identical.  A fixture
 * without .expected fails the test (write one with --dump).
 *
 *   test-parser FIXTURES_DIR               run (meson passes the directory)
 *   test-parser --dump FILE.eml            print the rendering of one file
 *
 * Also: report_adopt_recipient(), limits, and odd inputs (empty, NULL,
 * NUL bytes, no header block, deep nesting built on the fly).
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "report.h"

static const char *fixtures_dir;

static char *render(const struct report *r);
static char *line_ends(const char *lf, size_t len, const char *eol, size_t *len_r);
static void test_fixture(gconstpointer data);

/* The report as stable text: what a fixture's .expected holds. */
static char *
render(const struct report *r)
{
	GString *s = g_string_new(NULL);

#define OR_DASH(x) ((x) != NULL && (x)[0] != '\0' ? (x) : "-")
	g_string_append_printf(s, "decoder %s\nmta %s\n", report_decoder_name(r->decoder), OR_DASH(r->mta));
	g_string_append_printf(s, "orig_message_id %s\norig_sender %s\nfeedback_type %s\n",
		OR_DASH(r->orig_message_id), OR_DASH(r->orig_sender), OR_DASH(r->feedback_type));
	for (guint i = 0; i < r->rcpts->len; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);

		g_string_append_printf(s, "rcpt %s %s %s %s status=%s reply=%s action=%s cmd=%s "
			"rule=%s final=%s category=%s\n",
			rc->recipient, report_class_name(rc->class), report_reason_name(rc->reason),
			report_scope_name(rc->scope), OR_DASH(rc->status), OR_DASH(rc->replycode),
			OR_DASH(rc->action), OR_DASH(rc->smtp_command), OR_DASH(rc->rule),
			OR_DASH(rc->final_recipient), OR_DASH(rc->category));
		if (rc->inferred)
			g_string_append(s, "  inferred from the returned message's To:\n");
	}
	if (r->unnamed.class != REPORT_CLASS_NONE)
		g_string_append_printf(s, "unnamed %s %s %s status=%s reply=%s rule=%s\n",
			report_class_name(r->unnamed.class), report_reason_name(r->unnamed.reason),
			report_scope_name(r->unnamed.scope), OR_DASH(r->unnamed.status),
			OR_DASH(r->unnamed.replycode), OR_DASH(r->unnamed.rule));
#undef OR_DASH
	return g_string_free(s, FALSE);
}

/* The LF text with every "\n" turned into eol. */
static char *
line_ends(const char *lf, size_t len, const char *eol, size_t *len_r)
{
	GString *s = g_string_sized_new(len * 2);

	for (size_t i = 0; i < len; i++) {
		if (lf[i] == '\n')
			g_string_append(s, eol);
		else
			g_string_append_c(s, lf[i]);
	}
	*len_r = s->len;
	return g_string_free(s, FALSE);
}

/* LF form of a file's bytes (fixtures may be stored with CRLF). */
static char *
to_lf(const char *data, size_t len, size_t *len_r)
{
	char *out = g_malloc(len + 1);
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r') {
			out[w++] = '\n';
			if (i + 1 < len && data[i + 1] == '\n')
				i++;
		} else {
			out[w++] = data[i];
		}
	}
	out[w] = '\0';
	*len_r = w;
	return out;
}

/* What every report promises (report.h), whatever the input. */
static void
check_invariants(const char *path, const struct report *r)
{
	struct report_limits lim;

	report_limits_default(&lim);
	if (r->rcpts->len > lim.max_rcpts)
		g_error("%s: got %u recipients want at most %u", path, r->rcpts->len, lim.max_rcpts);
	for (guint i = 0; i < r->rcpts->len; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);

		if (rc->recipient == NULL || rc->recipient[0] == '\0')
			g_error("%s: got an empty recipient", path);
		if (rc->status[0] != '\0' && !report_status_valid(rc->status))
			g_error("%s: got status \"%s\" want a valid RFC 3463 code", path, rc->status);
		if (rc->diagnostic != NULL && strlen(rc->diagnostic) > lim.max_field)
			g_error("%s: got a diagnostic of %zu bytes want at most %zu", path,
				strlen(rc->diagnostic), lim.max_field);
		if (rc->diagnostic != NULL && !g_utf8_validate(rc->diagnostic, -1, NULL))
			g_error("%s: got a diagnostic that is not UTF-8", path);
		if (rc->class == REPORT_CLASS_HARD &&
		    (rc->scope == REPORT_SCOPE_SENDER || rc->scope == REPORT_SCOPE_MESSAGE))
			g_error("%s: got a hard %s-scope recipient", path, report_scope_name(rc->scope));
	}
}

static void
test_fixture(gconstpointer data)
{
	const char *path = data;
	char *expected_path, *raw, *lf, *want, *got[3];
	gsize rawlen;
	size_t lflen;
	GError *err = NULL;
	static const char *const eols[3] = { "\n", "\r\n", "\r" };
	static const char *const names[3] = { "LF", "CRLF", "CR" };

	if (!g_file_get_contents(path, &raw, &rawlen, &err))
		g_error("%s: %s", path, err->message);
	expected_path = g_strdup_printf("%.*s.expected", (int)(strlen(path) - 4), path);
	if (!g_file_get_contents(expected_path, &want, NULL, &err))
		g_error("%s: %s (write it with: test-parser --dump %s)", expected_path, err->message, path);
	lf = to_lf(raw, rawlen, &lflen);
	for (int v = 0; v < 3; v++) {
		size_t n;
		char *bytes = line_ends(lf, lflen, eols[v], &n);
		struct report *r = report_parse(bytes, n, NULL);

		g_assert_nonnull(r);
		check_invariants(path, r);
		got[v] = render(r);
		report_free(r);
		g_free(bytes);
	}
	if (strcmp(got[0], want) != 0)
		g_error("%s:\n--- got\n%s--- want\n%s", path, got[0], want);
	for (int v = 1; v < 3; v++)
		if (strcmp(got[v], got[0]) != 0)
			g_error("%s with %s line ends:\n--- got\n%s--- want (as with LF)\n%s",
				path, names[v], got[v], got[0]);
	for (int v = 0; v < 3; v++)
		g_free(got[v]);
	g_free(lf);
	g_free(want);
	g_free(raw);
	g_free(expected_path);
}

/* report_adopt_recipient: the VERP-recovered address, per report.h. */
static void
test_adopt(void)
{
	static const char unnamed_bounce[] =
		"From: MAILER-DAEMON@mx.example.org\n"
		"To: bounces@example.net\n"
		"Subject: Undelivered Mail Returned to Sender\n"
		"\n"
		"This is the mail system at host mx.example.org.\n"
		"\n"
		"550 5.1.1 User unknown\n";
	static const char one[] =
		"From: MAILER-DAEMON@mx.example.org\n"
		"To: bounces@example.net\n"
		"Subject: failure notice\n"
		"\n"
		"Hi. This is the qmail-send program at mx.example.org.\n"
		"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
		"This is a permanent error; I've given up. Sorry it didn't work out.\n"
		"\n"
		"<old@example.org>:\n"
		"Sorry, no mailbox here by that name. (#5.1.1)\n";
	static const char inferred[] =
		"From: MAILER-DAEMON@mx.example.org\n"
		"To: bounces@example.net\n"
		"Subject: Undelivered Mail Returned to Sender\n"
		"\n"
		"This is the mail system at host mx.example.org.\n"
		"\n"
		"550 5.1.1 User unknown\n"
		"\n"
		"----- Original message follows -----\n"
		"From: app@example.net\n"
		"To: Only One <only@example.org>\n"
		"Subject: hello\n"
		"\n"
		"Write to other@example.org for help.\n";
	static const char not_bounce[] =
		"From: friend@example.org\nTo: bounces@example.net\nSubject: hello\n\nHi!\n";
	struct report *r;
	const struct report_rcpt *rc;

	/* nobody named: the unnamed verdict is applied to the VERP address */
	r = report_parse(unnamed_bounce, sizeof(unnamed_bounce) - 1, NULL);
	g_assert_cmpuint(r->rcpts->len, ==, 0);
	g_assert_cmpstr(report_class_name(r->unnamed.class), ==, "hard");
	g_assert_cmpint(report_adopt_recipient(r, "verp@example.com"), ==, 1);
	g_assert_cmpuint(r->rcpts->len, ==, 1);
	rc = g_ptr_array_index(r->rcpts, 0);
	g_assert_cmpstr(rc->recipient, ==, "verp@example.com");
	g_assert_cmpstr(rc->status, ==, "5.1.1");
	g_assert_cmpint(rc->class, ==, r->unnamed.class);
	/* now one recipient: the same address again changes nothing */
	g_assert_cmpint(report_adopt_recipient(r, "verp@example.com"), ==, 0);
	report_free(r);

	/* one recipient: it becomes the VERP address, the old one is kept */
	r = report_parse(one, sizeof(one) - 1, NULL);
	g_assert_cmpuint(r->rcpts->len, ==, 1);
	g_assert_cmpint(report_adopt_recipient(r, "app@example.com"), ==, 1);
	rc = g_ptr_array_index(r->rcpts, 0);
	g_assert_cmpstr(rc->recipient, ==, "app@example.com");
	g_assert_cmpstr(rc->final_recipient, ==, "old@example.org");
	g_assert_cmpstr(report_class_name(rc->class), ==, "hard");
	report_free(r);

	/* a recipient inferred from the returned To: is capped at soft, and
	 * a VERP address replaces it with the uncapped verdict */
	r = report_parse(inferred, sizeof(inferred) - 1, NULL);
	g_assert_cmpuint(r->rcpts->len, ==, 1);
	rc = g_ptr_array_index(r->rcpts, 0);
	g_assert_cmpstr(rc->recipient, ==, "only@example.org");
	g_assert_true(rc->inferred);
	g_assert_cmpstr(report_class_name(rc->class), ==, "soft");
	g_assert_cmpstr(report_class_name(r->unnamed.class), ==, "hard");
	g_assert_cmpint(report_adopt_recipient(r, "app@example.com"), ==, 1);
	g_assert_cmpuint(r->rcpts->len, ==, 1);
	rc = g_ptr_array_index(r->rcpts, 0);
	g_assert_cmpstr(rc->recipient, ==, "app@example.com");
	g_assert_false(rc->inferred);
	g_assert_cmpstr(report_class_name(rc->class), ==, "hard");
	report_free(r);

	/* not a bounce: nothing to adopt */
	r = report_parse(not_bounce, sizeof(not_bounce) - 1, NULL);
	g_assert_cmpint(r->unnamed.class, ==, REPORT_CLASS_NONE);
	g_assert_cmpint(report_adopt_recipient(r, "x@example.com"), ==, 0);
	g_assert_cmpuint(r->rcpts->len, ==, 0);
	g_assert_cmpint(r->decoder, ==, REPORT_DECODER_NONE);
	report_free(r);

	g_assert_cmpint(report_adopt_recipient(NULL, "x@example.com"), ==, 0);
}

/* Inputs that are barely mail: never a crash, always a report. */
static void
test_odd_inputs(void)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len;
	} cases[] = {
		{ "empty", "", 0 },
		{ "one byte", "x", 1 },
		{ "only From line", "From MAILER-DAEMON Thu Apr 29 23:34:45 2015\n", 44 },
		{ "no header block", "just some text\nwith lines\n", 26 },
		{ "NUL bytes", "From: a@b.c\n\0\0Subject: x\0\n\nbody\0\n", 34 },
		{ "lone CRs", "From: a@b.c\rSubject: x\r\rbody\r", 30 },
		{ "header without colon", "Garbage line\nFrom: a@b.c\n\nbody\n", 31 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct report *r = report_parse(cases[i].data, cases[i].len, NULL);

		if (r == NULL)
			g_error("%s: got NULL want a report", cases[i].name);
		if (r->rcpts->len != 0)
			g_error("%s: got %u recipients want 0", cases[i].name, r->rcpts->len);
		report_free(r);
	}
	report_free(report_parse(NULL, 10, NULL));
	report_free(NULL);
}

/* Limits: depth, parts, recipients and bytes are capped and reported. */
static void
test_limits(void)
{
	struct report_limits lim;
	GString *s;
	struct report *r;
	int found;

	/* 40 nested multiparts: walked down to max_depth, with a warning */
	s = g_string_new("From: MAILER-DAEMON@example.org\nSubject: deep\nMIME-Version: 1.0\n");
	for (int i = 0; i < 40; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
	g_string_append(s, "Content-Type: text/plain\n\nhello\n");
	for (int i = 39; i >= 0; i--)
		g_string_append_printf(s, "--b%d--\n", i);
	r = report_parse(s->str, s->len, NULL);
	found = 0;
	for (guint i = 0; i < r->warnings->len; i++)
		if (strstr(g_ptr_array_index(r->warnings, i), "nesting") != NULL)
			found = 1;
	if (!found)
		g_error("deep nesting: got no nesting warning want one");
	report_free(r);
	g_string_free(s, TRUE);

	/* 50 recipients in a DSN, max_rcpts 10 */
	report_limits_default(&lim);
	lim.max_rcpts = 10;
	s = g_string_new("From: MAILER-DAEMON@example.org\nSubject: Delivery Status Notification\n"
		"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
		"boundary=\"x\"\n\n--x\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example.org\n");
	for (int i = 0; i < 50; i++)
		g_string_append_printf(s, "\nFinal-Recipient: rfc822; user%d@example.com\n"
			"Action: failed\nStatus: 5.1.1\n", i);
	g_string_append(s, "\n--x--\n");
	r = report_parse(s->str, s->len, &lim);
	if (r->rcpts->len != 10)
		g_error("max_rcpts 10: got %u recipients want 10", r->rcpts->len);
	report_free(r);

	/* max_bytes: the tail is not read */
	lim.max_rcpts = 1000;
	lim.max_bytes = 200;
	r = report_parse(s->str, s->len, &lim);
	if (r->rcpts->len > 3)
		g_error("max_bytes 200: got %u recipients want at most 3", r->rcpts->len);
	report_free(r);
	g_string_free(s, TRUE);
}

/*
 * Issue 6's hostile messages at the parser's level, with the daemon's
 * limits (4 MB kept): each gives a bounded report, quickly, and says what
 * it cut.  (test_hostile.py sends the same over LMTP to a real bounced.)
 */
static int
has_warning(const struct report *r, const char *needle)
{
	for (guint i = 0; i < r->warnings->len; i++)
		if (strstr(g_ptr_array_index(r->warnings, i), needle) != NULL)
			return 1;
	return 0;
}

static const char dsn_head[] =
	"From: MAILER-DAEMON@mx.example.org\nSubject: Delivery Status Notification\n"
	"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
	"boundary=\"x\"\n";

static void
test_hostile(void)
{
	struct report_limits lim;
	GString *s;
	struct report *r;
	gint64 t0;

	report_limits_default(&lim);
	lim.max_bytes = 4u << 20;

	/* a 1 MB header line before a good DSN: the DSN is still read */
	s = g_string_new(dsn_head);
	g_string_append(s, "X-Junk: ");
	for (int i = 0; i < (1 << 20); i++)
		g_string_append_c(s, 'j');
	g_string_append(s, "\n\n--x\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; a@example.com\n"
		"Action: failed\nStatus: 5.1.1\n\n--x--\n");
	r = report_parse(s->str, s->len, &lim);
	g_assert_cmpuint(r->rcpts->len, ==, 1);
	g_assert_cmpstr(report_class_name(((struct report_rcpt *)g_ptr_array_index(r->rcpts,
		0))->class), ==, "hard");
	report_free(r);
	g_string_free(s, TRUE);

	/* MIME nesting 1,000 deep: walked to max_depth, said so */
	s = g_string_new("From: MAILER-DAEMON@example.org\nSubject: deep\nMIME-Version: 1.0\n");
	for (int i = 0; i < 1000; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n",
			i, i);
	g_string_append(s, "Content-Type: text/plain\n\n550 5.1.1 <deep@example.com> unknown\n");
	for (int i = 999; i >= 0; i--)
		g_string_append_printf(s, "--b%d--\n", i);
	r = report_parse(s->str, s->len, &lim);
	if (!has_warning(r, "nesting"))
		g_error("MIME 1,000 deep: got no nesting warning want one");
	report_free(r);
	g_string_free(s, TRUE);

	/* a DSN naming 100,000 recipients (~7 MB): the first 4 MB, 1,000 recipients */
	s = g_string_new(dsn_head);
	g_string_append(s, "\n--x\nContent-Type: message/delivery-status\n\n"
		"Reporting-MTA: dns; mx.example.org\n");
	for (int i = 0; i < 100000; i++)
		g_string_append_printf(s, "\nFinal-Recipient: rfc822; u%06d@example.com\n"
			"Action: failed\nStatus: 5.1.1\n", i);
	g_string_append(s, "\n--x--\n");
	t0 = g_get_monotonic_time();
	r = report_parse(s->str, s->len, &lim);
	g_test_message("100,000-recipient DSN (%zu bytes): %u recipients, %u warnings, %.0f ms",
		s->len, r->rcpts->len, r->warnings->len, (double)(g_get_monotonic_time() - t0) / 1000);
	g_assert_cmpuint(r->rcpts->len, ==, lim.max_rcpts);
	g_assert_cmpstr(((struct report_rcpt *)g_ptr_array_index(r->rcpts, 999))->recipient, ==,
		"u000999@example.com");
	if (!has_warning(r, "recipients"))
		g_error("100,000 recipients: got no warning about the cap want one");
	report_free(r);
	g_string_free(s, TRUE);

	/* NUL bytes and invalid UTF-8 inside a DSN's fields: still the recipient */
	{
		static const char bad[] =
			"From: MAILER-DAEMON@mx.example.org\nSubject: \xff\xfe\0 bad\n"
			"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
			"boundary=\"x\"\n\n--x\nContent-Type: message/delivery-status\n\n"
			"Reporting-MTA: dns; mx.\0example.org\n\nFinal-Recipient: rfc822; b@example.com\n"
			"Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 \xc3\x28 \0 no\n\n--x--\n";

		r = report_parse(bad, sizeof(bad) - 1, &lim);
		g_assert_cmpuint(r->rcpts->len, ==, 1);
		g_assert_cmpstr(((struct report_rcpt *)g_ptr_array_index(r->rcpts, 0))->recipient, ==,
			"b@example.com");
		report_free(r);
	}
}

static gint
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
add_dir(const char *kind)
{
	char *dir = g_build_filename(fixtures_dir, kind, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	if (d == NULL)
		g_error("fixtures: cannot open %s", dir);
	while ((name = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(name, ".eml"))
			g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	g_ptr_array_sort(names, name_cmp);
	for (guint i = 0; i < names->len; i++) {
		const char *n = g_ptr_array_index(names, i);
		char *testpath = g_strdup_printf("/parser/%s/%.*s", kind, (int)(strlen(n) - 4), n);

		g_test_add_data_func_full(testpath, g_build_filename(dir, n, NULL), test_fixture, g_free);
		g_free(testpath);
	}
	g_ptr_array_free(names, TRUE);
	g_free(dir);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
		char *data;
		gsize len;
		struct report *r;
		char *out;

		if (!g_file_get_contents(argv[2], &data, &len, NULL)) {
			fprintf(stderr, "test-parser: cannot read %s\n", argv[2]);
			return 1;
		}
		r = report_parse(data, len, NULL);
		out = render(r);
		fputs(out, stdout);
		g_free(out);
		report_free(r);
		g_free(data);
		return 0;
	}
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		fprintf(stderr, "usage: test-parser FIXTURES_DIR | --dump FILE\n");
		return 2;
	}
	fixtures_dir = argv[1];
	g_test_add_func("/parser/adopt", test_adopt);
	g_test_add_func("/parser/odd-inputs", test_odd_inputs);
	g_test_add_func("/parser/limits", test_limits);
	g_test_add_func("/parser/hostile", test_hostile);
	add_dir("rules");
	add_dir("decoders");
	add_dir("robust");
	add_dir("postfix-dsn");
	add_dir("providers");
	return g_test_run();
}
