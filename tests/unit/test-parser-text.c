/* SPDX-License-Identifier: MIT */
/*
 * test-parser-text.c - the parser's text helpers (parser/text.c, json.c),
 * table-driven: addresses, RFC 3463 status codes, SMTP reply codes, SMTP
 * stages, multi-line replies, header blocks, HTML, the JSON reader, names.
 * They are private to parser/ (decode.h); the tests link the same library.
 */
#include <string.h>

#include <glib.h>

#include "decode.h"
#include "json.h"

static void
test_addr_parse(void)
{
	static const struct {
		const char *in;
		const char *want;       /* NULL: no address */
	} cases[] = {
		{ "rfc822; User@Example.ORG", "user@example.org" },
		{ "rfc822;<a.b@example.org>", "a.b@example.org" },
		{ "utf-8; J\xc3\xb6rg@b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example" },
		{ "\"Jane Doe\" <jane@example.org>", "jane@example.org" },
		{ "  <jane@example.org>  ", "jane@example.org" },
		{ "rfc822; \"neko..nyaan\"@example.org", "\"neko..nyaan\"@example.org" },
		{ "rfc822;neko..nyaan@example.org", "\"neko..nyaan\"@example.org" },  /* canonical */
		{ "\"plain\"@example.org", "plain@example.org" },                     /* canonical */
		{ "user@[192.0.2.1]", "user@[192.0.2.1]" },
		{ "rfc822; dda:SMTP=Jane@Example.org", "jane@example.org" },       /* X.400 prefix */
		{ "X400; RFC822=jane@example.org", "jane@example.org" },
		{ "rfc822;|/usr/bin/procmail", NULL },
		{ "rfc822; /var/mail/user", NULL },
		{ "no address here", NULL },
		{ "@example.org", NULL },
		{ "user@", NULL },
		{ "user@.example.org", NULL },
		{ "user@example..org", NULL },
		{ "", NULL },
		/* ' and ` are atext: the whole local part, not what follows them */
		{ "rfc822; o'brien@example.org", "o'brien@example.org" },
		{ "rfc822; a`b|c&d$e@example.org", "a`b|c&d$e@example.org" },
		/* quoted local parts keep their escapes and their ';' */
		{ "rfc822; \"john \\\"doe\\\"\"@example.org", "\"john \\\"doe\\\"\"@example.org" },
		{ "rfc822; \"x');DROP TABLE t;--\"@example.org", "\"x');drop table t;--\"@example.org" },
		{ "rfc822; \"a\\\\\"@example.org", "\"a\\\\\"@example.org" },  /* escaped backslash */
		/* prose quoting: 'a@b' and `a@b` are a@b */
		{ "'quoted@example.org'", "quoted@example.org" },
		{ "`quoted@example.org`", "quoted@example.org" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = parser_addr_parse(cases[i].in, strlen(cases[i].in));

		if (g_strcmp0(got, cases[i].want) != 0)
			g_error("parser_addr_parse(\"%s\"): got %s want %s", cases[i].in,
				got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
		g_free(got);
	}

	/* REPORT_ADDR_MAX (the store's limit) is the longest address parsed */
	for (size_t n = REPORT_ADDR_MAX - 1; n <= REPORT_ADDR_MAX + 1; n++) {
		GString *a = g_string_new(NULL);
		char *got;

		for (size_t i = 0; i < n - strlen("@example.org"); i++)
			g_string_append_c(a, 'x');
		g_string_append(a, "@example.org");
		got = parser_addr_parse(a->str, a->len);
		if ((got != NULL) != (n <= REPORT_ADDR_MAX))
			g_error("parser_addr_parse of %zu bytes: got %s want %s", n, got ? "an address" : "NULL",
				n <= REPORT_ADDR_MAX ? "an address" : "NULL");
		g_free(got);
		g_string_free(a, TRUE);
	}
}

static void
test_addr_find(void)
{
	static const struct {
		const char *in;
		const char *want;       /* first address found, NULL: none */
	} cases[] = {
		{ "  kijitora@example.jp\n", "kijitora@example.jp" },
		{ "<a@example.org>:", "a@example.org" },
		{ "delivered to x@example.org.", "x@example.org" },
		{ "m\xc3\xbcller@example.de failed", "m\xc3\xbcller@example.de" },
		{ "\xe5\xae\x9b\xe5\x85\x88kijitora@example.jp", "kijitora@example.jp" },  /* CJK ends it */
		{ "x@.y and a@b", NULL },
		{ "@@@@ @@.@@", NULL },
		{ "user@localhost", NULL },       /* prose: a host name needs a dot */
		{ "'quoted@example.org' is", "quoted@example.org" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *s;
		size_t len;
		int found = parser_addr_find(cases[i].in, cases[i].in + strlen(cases[i].in), &s, &len);
		char *got = found ? g_strndup(s, len) : NULL;

		if (g_strcmp0(got, cases[i].want) != 0)
			g_error("parser_addr_find(\"%s\"): got %s want %s", cases[i].in, got ? got : "NULL",
				cases[i].want ? cases[i].want : "NULL");
		g_free(got);
	}
}

static void
test_codes(void)
{
	static const struct {
		const char *in;
		const char *status, *reply;   /* "" none */
	} cases[] = {
		{ "550 5.1.1 <a@b.c>... User Unknown", "5.1.1", "550" },
		{ "host mx[192.0.2.25] said: 552 5.2.2 Mailbox full", "5.2.2", "552" },
		{ "Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1", "" },
		{ "421 4.7.0 [TSS04] deferred - 4.16.55.1; see", "4.7.0", "421" },
		{ "Apple Mail (2.1878.6) 8.14.4/8.14.4", "", "" },
		{ "connect to 192.0.2.1:25: Connection timed out", "", "" },
		{ "Out: 250 2.1.5 Ok Out: 451 4.3.0 Error: queue file write error", "4.3.0", "451" },
		{ "250 2.0.0 Ok: queued", "2.0.0", "250" },
		{ "RCPT TO:552 5.2.3 too big", "5.2.3", "552" },
		{ "ERROR_CODE :550, ERROR_CODE :5.2.1 unknown", "5.2.1", "550" },
		{ "in 840 minutes [#102] (delivery attempts: 0) SIZE=1543", "", "" },
		{ "5.1.1234 and 5.1000.1", "", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char st[16] = "", rp[4] = "";

		if (!parser_text_find_status(cases[i].in, st))
			st[0] = '\0';
		if (!parser_text_find_reply(cases[i].in, rp))
			rp[0] = '\0';
		if (strcmp(st, cases[i].status) != 0 || strcmp(rp, cases[i].reply) != 0)
			g_error("\"%s\": got status \"%s\" reply \"%s\" want \"%s\" \"%s\"", cases[i].in,
				st, rp, cases[i].status, cases[i].reply);
	}
}

static void
test_status_valid(void)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "5.1.1", 1 }, { "4.4.7", 1 }, { "2.0.0", 1 }, { "5.1.10", 1 }, { "5.1.351", 1 },
		{ "3.1.1", 0 }, { "5.1", 0 }, { "5.1.1.1", 0 }, { "5.1234.1", 0 }, { " 5.1.1", 0 },
		{ "5.1.1 ", 0 }, { "", 0 }, { "5..1", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		if (report_status_valid(cases[i].in) != cases[i].want)
			g_error("report_status_valid(\"%s\"): got %d want %d", cases[i].in,
				!cases[i].want, cases[i].want);
	g_assert_false(report_status_valid(NULL));
}

static void
test_commands(void)
{
	static const struct {
		const char *in;
		enum classify_cmd want;
	} cases[] = {
		{ "550 User unknown (in reply to RCPT TO command)", CLASSIFY_CMD_RCPT },
		{ "SMTP error from remote mail server after RCPT TO:<a@b.c>:", CLASSIFY_CMD_RCPT },
		{ "host x said: 550 spam (in reply to end of DATA command)", CLASSIFY_CMD_DATA },
		{ "SMTP error from remote mail server after end of data:", CLASSIFY_CMD_DATA },
		{ "after MAIL FROM:<x@y.z> SIZE=100: 550 no", CLASSIFY_CMD_MAIL },
		{ "host x refused to talk to me: 554 go away", CLASSIFY_CMD_CONN },
		{ "192.0.2.1 does not like recipient.", CLASSIFY_CMD_RCPT },
		{ "Connected to 192.0.2.1 but greeting failed.", CLASSIFY_CMD_CONN },
		{ "SMTP error from remote mail server after pipelined RCPT TO:<a@b.c>: 550 no",
		  CLASSIFY_CMD_RCPT },
		{ "SMTP error from remote mail server after pipelined MAIL FROM:<s@a.b> SIZE=10: 550 no",
		  CLASSIFY_CMD_MAIL },
		{ "Connected to 192.0.2.1 but my name was rejected.", CLASSIFY_CMD_HELO },
		{ "192.0.2.1 failed on DATA command.", CLASSIFY_CMD_DATA },
		{ "Remote host said: 501 Sender address rejected [MAIL_FROM]", CLASSIFY_CMD_MAIL },
		{ "550 5.1.1 user unknown", CLASSIFY_CMD_NONE },
		{ "Reason: Remote SMTP server has rejected address", CLASSIFY_CMD_RCPT },
		/* a pipelined Sendmail transcript: replies answer commands in order */
		{ "... while talking to mx.b.c.:\n>>> MAIL From:<s@a.b> SIZE=10\n>>> RCPT To:<a@b.c>\n"
		  ">>> DATA\n<<< 250 2.1.0 ok\n<<< 550 5.1.1 <a@b.c>... User unknown\n"
		  "<<< 503 5.5.1 no valid recipients", CLASSIFY_CMD_RCPT },
		{ "... while talking to mx.b.c.:\n>>> DATA\n<<< 550 Unknown user a@b.c\n"
		  "554 5.0.0 Service unavailable", CLASSIFY_CMD_DATA },
		{ ">>> MAIL From:<s@a.b>\n<<< 501-5.1.8 bad\n<<< 501 5.1.8 sender domain", CLASSIFY_CMD_MAIL },
		/* Sendmail shows only ">>> DATA" of a pipelined group: the replies
		 * before DATA's own (503) answer the RCPT TO commands left out */
		{ "... while talking to mx.b.c.:\n>>> DATA\n<<< 550 5.1.1 <a@b.c>... User unknown\n"
		  "<<< 503 5.0.0 Need RCPT (recipient)", CLASSIFY_CMD_RCPT },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		enum classify_cmd got = parser_text_find_command(cases[i].in);

		if (got != cases[i].want)
			g_error("\"%s\": got %s want %s", cases[i].in, classify_cmd_name(got),
				classify_cmd_name(cases[i].want));
	}
	/* the stage of the failure about one recipient of several */
	{
		const char *t = "while talking to mx1.b.c:\n>>> mail from:<s@a.b>\n<<< 501 no access\n"
				"while talking to mx2.d.e:\n>>> rcpt to:<x@d.e>\n<<< 550 <x@d.e>... user unknown\n";

		g_assert_cmpint(parser_text_transcript_command(t, "x@d.e"), ==, CLASSIFY_CMD_RCPT);
		g_assert_cmpint(parser_text_transcript_command(t, "y@b.c"), ==, CLASSIFY_CMD_NONE);
		g_assert_cmpint(parser_text_transcript_command(t, NULL), ==, CLASSIFY_CMD_MAIL);
	}
	{
		const char *t = "... while talking to mx.b.c.:\n>>> data\n<<< 550 5.2.1 <x@b.c>... user unknown\n"
				"<<< 550 5.1.1 <y@b.c>... user unknown\n<<< 503 5.0.0 need rcpt (recipient)\n";

		g_assert_cmpint(parser_text_transcript_command(t, "x@b.c"), ==, CLASSIFY_CMD_RCPT);
		g_assert_cmpint(parser_text_transcript_command(t, "y@b.c"), ==, CLASSIFY_CMD_RCPT);
	}
	{
		/* pipelined, MAIL refused: the RCPT's "503 Need MAIL" follows from it */
		const char *t = "... while talking to mx.b.c.:\n>>> mail from:<s@a.b> size=10\n"
				">>> rcpt to:<x@b.c>\n>>> data\n<<< 550 5.7.1 <s@a.b>... access denied\n"
				"<<< 503 5.0.0 need mail before rcpt\n<<< 503 5.0.0 need mail command\n";

		g_assert_cmpint(parser_text_transcript_command(t, "x@b.c"), ==, CLASSIFY_CMD_MAIL);
		g_assert_cmpint(parser_text_transcript_command(t, "y@b.c"), ==, CLASSIFY_CMD_NONE);
	}
}

/* A bare name of a failed-address list: an AOL screen name, a GroupWise ID. */
static void
test_screen_name(void)
{
	static const struct {
		const char *in, *want;   /* want NULL: not a bare name */
	} cases[] = {
		{ "ReaderOne", "readerone" },
		{ "  <hikerjane77>  ", "hikerjane77" },
		{ "\"joe.smith\"", "joe.smith" },
		{ "ab", NULL },                  /* AOL names have 3 characters at least */
		{ "1reader", NULL },             /* a letter first */
		{ "joe smith", NULL },           /* a sentence, not a name */
		{ "reader@example.org", NULL },  /* an address is not bare */
		{ "Postmaster", NULL },
		{ "MAILER-DAEMON", NULL },
		{ "abcdefghijklmnopqrstuvwxyz0123456", NULL },   /* over 32 bytes */
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = parser_msg_screen_name(cases[i].in, strlen(cases[i].in));

		if (g_strcmp0(got, cases[i].want) != 0)
			g_error("\"%s\": got %s want %s", cases[i].in, got != NULL ? got : "NULL",
				cases[i].want != NULL ? cases[i].want : "NULL");
		g_free(got);
	}
}

static void
test_join_smtp_lines(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "550-5.7.26 Unauthenticated email\n550-5.7.26 DMARC policy.\n550 5.7.26 Bye",
		  "550 5.7.26 Unauthenticated email DMARC policy. Bye" },
		{ "550-Line one\n550 Line two", "550 Line one Line two" },
		/* a DSN field, already unfolded into one line */
		{ "550-5.7.1 [ip 13] Messages with multiple 550-5.7.1 addresses in From: 550 5.7.1 bye",
		  "550 5.7.1 [ip 13] Messages with multiple addresses in From: bye" },
		{ "no codes\nhere", "no codes\nhere" },
		{ "", "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *s = g_strdup(cases[i].in);

		parser_text_join_smtp_lines(s);
		if (strcmp(s, cases[i].want) != 0)
			g_error("join(\"%s\"): got \"%s\" want \"%s\"", cases[i].in, s, cases[i].want);
		g_free(s);
	}
}

static void
test_squeeze(void)
{
	char *s = parser_text_squeeze("  a \n\t b   c  ", 14, 100);

	g_assert_cmpstr(s, ==, "a b c");
	g_free(s);
	/* bounded, and never cut inside a UTF-8 sequence */
	s = parser_text_squeeze("ab \xc3\xa9\xc3\xa9\xc3\xa9", 9, 5);
	g_assert_cmpuint(strlen(s), <=, 5);
	g_assert_true(g_utf8_validate(s, -1, NULL));
	g_free(s);
}

static void
test_fields(void)
{
	static const char block[] =
		"Reporting-MTA: dns; mx.example.org\n"
		"\n"
		"Final-Recipient: rfc822; a@example.org\n"
		"Diagnostic-Code: smtp; 550 5.1.1\n"
		"    user unknown\n"
		"junk line without colon\n"
		"Status: 5.1.1\n";
	const char *pos = block;
	GPtrArray *f = g_ptr_array_new_with_free_func(parser_field_free);

	g_assert_cmpuint(parser_fields_parse(&pos, block + strlen(block), f, 64), ==, 1);
	g_assert_cmpstr(parser_fields_get(f, "reporting-mta"), ==, "dns; mx.example.org");
	g_ptr_array_set_size(f, 0);
	g_assert_cmpuint(parser_fields_parse(&pos, block + strlen(block), f, 64), ==, 3);
	g_assert_cmpstr(parser_fields_get(f, "Diagnostic-Code"), ==, "smtp; 550 5.1.1 user unknown");
	g_assert_cmpstr(parser_fields_get(f, "STATUS"), ==, "5.1.1");
	g_assert_null(parser_fields_get(f, "Action"));
	g_assert_true(pos == block + strlen(block));
	g_ptr_array_free(f, TRUE);
}

static void
test_html(void)
{
	static const char html[] =
		"<html><head><style>p{color:red}</style></head><body><p>Address not found</p>"
		"<br>Your message to <b>a@example.org</b> &amp; more &lt;x&gt;</body></html>";
	GString *out = g_string_new(NULL);

	parser_text_from_html(html, strlen(html), out);
	g_assert_null(strstr(out->str, "color"));
	g_assert_nonnull(strstr(out->str, "Address not found"));
	g_assert_nonnull(strstr(out->str, "a@example.org"));
	g_assert_nonnull(strstr(out->str, "& more <x>"));
	g_string_free(out, TRUE);
}

static void
test_json(void)
{
	static const struct {
		const char *in;
		int ok;
	} cases[] = {
		{ "{\"a\": [1, true, null, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {}}", 1 },
		{ "{\"a\": }", 0 },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0 },
		{ "\"unterminated", 0 },
		{ "{\"k\": \"\\ud800\"}", 1 },    /* lone surrogate -> U+FFFD */
		{ "", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct json *j = parser_json_parse(cases[i].in, strlen(cases[i].in));

		if ((j != NULL) != cases[i].ok)
			g_error("parser_json_parse(\"%s\"): got %s want %s", cases[i].in, j ? "a value" : "NULL",
				cases[i].ok ? "a value" : "NULL");
		parser_json_free(j);
	}
	{
		const char *doc = "{\"n\":{\"s\":\"v\\\"q\"},\"k\":12}";
		struct json *j = parser_json_parse(doc, strlen(doc));

		g_assert_cmpstr(parser_json_str(parser_json_get(j, "n"), "s"), ==, "v\"q");
		g_assert_cmpstr(parser_json_str(j, "k"), ==, "12");
		g_assert_null(parser_json_get(j, "missing"));
		parser_json_free(j);
	}
}

static void
test_names(void)
{
	enum report_class c;
	enum report_reason r;
	enum report_scope s;

	g_assert_true(report_class_from_name("HARD", &c));
	g_assert_cmpint(c, ==, REPORT_CLASS_HARD);
	g_assert_true(report_reason_from_name("mailboxfull", &r));
	g_assert_cmpint(r, ==, REPORT_REASON_MAILBOXFULL);
	g_assert_true(report_scope_from_name("sender", &s));
	g_assert_false(report_reason_from_name("nope", &r));
	g_assert_cmpstr(report_class_name((enum report_class)99), ==, "?");
	for (int i = 0; i < REPORT_REASON_COUNT; i++) {
		g_assert_true(report_reason_from_name(report_reason_name((enum report_reason)i), &r));
		g_assert_cmpint(r, ==, i);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/text/addr-parse", test_addr_parse);
	g_test_add_func("/text/addr-find", test_addr_find);
	g_test_add_func("/text/codes", test_codes);
	g_test_add_func("/text/status-valid", test_status_valid);
	g_test_add_func("/text/commands", test_commands);
	g_test_add_func("/text/screen-name", test_screen_name);
	g_test_add_func("/text/join-smtp-lines", test_join_smtp_lines);
	g_test_add_func("/text/squeeze", test_squeeze);
	g_test_add_func("/text/fields", test_fields);
	g_test_add_func("/text/html", test_html);
	g_test_add_func("/text/json", test_json);
	g_test_add_func("/text/names", test_names);
	return g_test_run();
}
