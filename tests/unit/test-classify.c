/* SPDX-License-Identifier: MIT */
/*
 * test-classify.c - the rule table of parser/classify.c:
 *
 *  - no row is shadowed: for every row, a witness input built from the row
 *    itself (its status pattern, reply pattern, first stage, first text
 *    pattern, decoder, MTA, category, action - or, for a row without an
 *    action condition, one of failed/delayed/none) is decided by that row
 *    and not by an earlier one;
 *  - the same for the provider rows (parser/providers.c), which are asked
 *    first: each row's witness (its provider's first marker, its code, its
 *    first phrase) is decided by that row, and no generic row's witness is
 *    taken by a provider row;
 *  - every row is reached by a real message: some fixture under
 *    tests/fixtures/ names it in its .expected (rule=<name>);
 *  - invariants: names are unique, no sender- or message-scope row is
 *    hard, hard rows need a permanent failure, the table ends with a
 *    catch-all;
 *  - table-driven cases: input -> class, reason, scope ("got X want Y").
 *
 *   test-classify FIXTURES_DIR
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "classify.h"
#include "providers.h"

static const char *fixtures_dir;

/* One row's own example input.  Strings live in the given buffers. */
static void
witness(const struct classify_rule *row, struct classify_input *in, char *status, char *reply,
	char *text, size_t textsz)
{
	memset(in, 0, sizeof(*in));
	in->decoder = row->decoder != REPORT_DECODER_NONE ? row->decoder : REPORT_DECODER_RFC3464;
	in->mta = row->mta;
	in->category = row->category != NULL ? row->category : "";
	in->action = row->action != NULL ? row->action : "failed";
	status[0] = '\0';
	if (row->status != NULL) {
		/* '*' in the class becomes 5 (2 for delivery rows), elsewhere 0 */
		const char *p = row->status;
		char *w = status;
		int part = 0;

		for (; *p; p++) {
			if (*p == '*')
				*w++ = part == 0 ? (row->reason == REPORT_REASON_DELIVERED ? '2' : '5') : '0';
			else
				*w++ = *p;
			if (*p == '.')
				part++;
		}
		*w = '\0';
	}
	in->status = status;
	reply[0] = '\0';
	if (row->reply != NULL) {
		for (int i = 0; i < 3; i++)
			reply[i] = row->reply[i] == '*' ? '0' : row->reply[i];
		reply[3] = '\0';
	}
	in->reply = reply;
	in->cmd = CLASSIFY_CMD_NONE;
	for (int c = 0; c < CLASSIFY_CMD_COUNT; c++)
		if (row->cmds & CLASSIFY_CMD_BIT(c)) {
			in->cmd = (enum classify_cmd)c;
			break;
		}
	text[0] = '\0';
	if (row->text != NULL) {
		/* the first pattern, its '*' gaps filled with a space */
		size_t n = 0;

		for (const char *p = row->text[0]; *p && n + 1 < textsz; p++)
			text[n++] = *p == '*' ? ' ' : *p;
		text[n] = '\0';
	}
	in->text = text;
	in->grams = NULL;
	in->domain = row->domains != NULL ? row->domains[0] : "example.org";
	in->names_sender = row->names_sender;
	in->rhost = "";
}

static void
test_no_shadowing(void)
{
	size_t n;
	const struct classify_rule *rules = classify_rules(&n);

	for (size_t i = 0; i < n; i++) {
		/* a row without an Action condition may be meant for one of them */
		static const char *const actions[] = { "failed", "delayed", "" };
		struct classify_input in;
		char status[32], reply[4], text[256];
		const struct classify_rule *got = NULL;

		for (size_t a = 0; a < G_N_ELEMENTS(actions); a++) {
			witness(&rules[i], &in, status, reply, text, sizeof(text));
			if (rules[i].action == NULL)
				in.action = actions[a];
			got = classify_input_rule(&in);
			if (got == &rules[i] || rules[i].action != NULL)
				break;
		}
		if (got != &rules[i])
			g_error("row %zu \"%s\": its witness (status \"%s\" reply \"%s\" cmd %s text \"%s\") "
				"got row \"%s\" want \"%s\": shadowed by an earlier row",
				i, rules[i].name, status, reply, classify_cmd_name(in.cmd), text,
				got->name, rules[i].name);
	}
}

/* A provider row's own example: first marker, code, first phrase. */
static void
provider_witness(const struct provider_row *row, struct classify_input *in, char *text, size_t textsz)
{
	size_t np, n;
	const struct provider *provs = providers_list(&np);
	char code[64] = "";

	memset(in, 0, sizeof(*in));
	in->decoder = REPORT_DECODER_RFC3464;
	in->category = "";
	in->action = "failed";
	in->status = row->rule.status != NULL ? row->rule.status : "";
	in->reply = "";
	in->cmd = CLASSIFY_CMD_NONE;
	if (row->token != NULL)
		g_snprintf(code, sizeof(code), "%s%u", row->token, row->lo);
	n = (size_t)g_snprintf(text, textsz, "%s %s ", provs[row->provider].markers[0], code);
	if (row->rule.text != NULL)
		for (const char *p = row->rule.text[0]; *p && n + 1 < textsz; p++)
			text[n++] = *p == '*' ? ' ' : *p;
	text[MIN(n, textsz - 1)] = '\0';
	in->text = text;
}

static void
test_providers_no_shadowing(void)
{
	size_t n, ng;
	const struct provider_row *rows = providers_rows(&n);
	const struct classify_rule *rules = classify_rules(&ng);

	for (size_t i = 0; i < n; i++) {
		struct classify_input in;
		char text[256];
		unsigned char grams[CLASSIFY_GRAMS_BYTES];
		const struct provider_row *got;

		provider_witness(&rows[i], &in, text, sizeof(text));
		got = providers_match(&in, NULL);
		/* with the bigram pre-filter of the markers: the same */
		classify_grams(in.text, grams);
		in.grams = grams;
		if (providers_match(&in, NULL) != got)
			g_error("provider row \"%s\": the bigram pre-filter changed the decision",
				rows[i].rule.name);
		if (got != &rows[i])
			g_error("provider row %zu \"%s\": its witness (text \"%s\") got row \"%s\" want \"%s\": "
				"shadowed by an earlier row", i, rows[i].rule.name, text,
				got != NULL ? got->rule.name : "(none)", rows[i].rule.name);
	}
	/* the generic rows stay reachable: no provider row takes their witnesses */
	for (size_t i = 0; i < ng; i++) {
		struct classify_input in;
		char status[32], reply[4], text[256];
		const struct provider_row *got;

		witness(&rules[i], &in, status, reply, text, sizeof(text));
		got = providers_match(&in, NULL);
		if (got != NULL)
			g_error("row \"%s\": its witness (text \"%s\") got provider row \"%s\" want none",
				rules[i].name, text, got->rule.name);
	}
}

/* The bigram pre-filter must never change a decision. */
static void
test_prefilter_agrees(void)
{
	size_t n;
	const struct classify_rule *rules = classify_rules(&n);

	for (size_t i = 0; i < n; i++) {
		struct classify_input in;
		char status[32], reply[4], text[256];
		unsigned char grams[CLASSIFY_GRAMS_BYTES];
		const struct classify_rule *plain, *fast;

		witness(&rules[i], &in, status, reply, text, sizeof(text));
		plain = classify_input_rule(&in);
		classify_grams(in.text, grams);
		in.grams = grams;
		fast = classify_input_rule(&in);
		if (plain != fast)
			g_error("row \"%s\": with the pre-filter got \"%s\" want \"%s\"",
				rules[i].name, fast->name, plain->name);
	}
}

static void
test_invariants(void)
{
	size_t n;
	const struct classify_rule *rules = classify_rules(&n);
	GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);

	g_assert_cmpuint(n, >, 0);
	for (size_t i = 0; i < n; i++) {
		const struct classify_rule *r = &rules[i];

		if (g_hash_table_contains(names, r->name))
			g_error("row %zu: name \"%s\" used twice", i, r->name);
		g_hash_table_add(names, (gpointer)r->name);
		if ((r->flags & CLASSIFY_HARD) &&
		    (r->scope == REPORT_SCOPE_SENDER || r->scope == REPORT_SCOPE_MESSAGE))
			g_error("row \"%s\": hard with scope %s (a sender or message failure is never hard)",
				r->name, report_scope_name(r->scope));
		if ((r->flags & CLASSIFY_HARD) && r->reason != REPORT_REASON_USERUNKNOWN &&
		    r->reason != REPORT_REASON_HOSTUNKNOWN && r->reason != REPORT_REASON_HASMOVED &&
		    r->reason != REPORT_REASON_NOTACCEPT)
			g_error("row \"%s\": hard with reason %s (only a dead address or domain is)",
				r->name, report_reason_name(r->reason));
		for (const char *const *t = r->text; t != NULL && *t != NULL; t++)
			for (const char *p = *t; *p; p++)
				if (g_ascii_isupper(*p))
					g_error("row \"%s\": pattern \"%s\" is not lowercase", r->name, *t);
	}
	/* the last row decides everything the others did not */
	{
		const struct classify_rule *last = &rules[n - 1];

		g_assert_cmpint(last->decoder, ==, REPORT_DECODER_NONE);
		g_assert_null(last->mta);
		g_assert_null(last->category);
		g_assert_null(last->action);
		g_assert_null(last->status);
		g_assert_null(last->reply);
		g_assert_cmpuint(last->cmds, ==, 0);
		g_assert_null(last->text);
	}
	g_hash_table_destroy(names);
}

/* Every row is the decision for at least one fixture message. */
static void
test_every_row_has_a_fixture(void)
{
	static const char *const kinds[] = { "rules", "decoders", "robust" };
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	size_t n;
	const struct classify_rule *rules = classify_rules(&n);

	for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
		char *dir = g_build_filename(fixtures_dir, kinds[k], NULL);
		GDir *d = g_dir_open(dir, 0, NULL);
		const char *name;

		if (d == NULL)
			g_error("cannot open %s", dir);
		while ((name = g_dir_read_name(d)) != NULL) {
			char *path, *data, *p;

			if (!g_str_has_suffix(name, ".expected"))
				continue;
			path = g_build_filename(dir, name, NULL);
			if (!g_file_get_contents(path, &data, NULL, NULL))
				g_error("cannot read %s", path);
			for (p = strstr(data, "rule="); p != NULL; p = strstr(p + 5, "rule=")) {
				size_t len = strcspn(p + 5, " \n");

				g_hash_table_add(seen, g_strndup(p + 5, len));
			}
			g_free(data);
			g_free(path);
		}
		g_dir_close(d);
		g_free(dir);
	}
	for (size_t i = 0; i < n; i++)
		if (!g_hash_table_contains(seen, rules[i].name))
			g_error("row \"%s\": got no fixture deciding by it want at least one "
				"(add tests/fixtures/rules/%s.eml)", rules[i].name, rules[i].name);
	g_hash_table_destroy(seen);
}

/* Direct inputs: the decisions that matter most, spelled out. */
static void
test_cases(void)
{
	static const struct {
		const char *action, *status, *reply, *cmd, *text;
		const char *want_class, *want_reason, *want_scope;
	} cases[] = {
		/* the address is dead */
		{ "failed", "5.1.1", "550", "RCPT", "550 5.1.1 <a@b.c>: user unknown", "hard", "userunknown", "address" },
		{ "failed", "5.0.0", "550", "RCPT", "550 no such user here", "hard", "userunknown", "address" },
		{ "failed", "5.1.2", "550", "", "host unknown", "hard", "hostunknown", "domain" },
		{ "failed", "5.1.6", "551", "", "user has moved", "hard", "hasmoved", "address" },
		/* the same words, but not corroborated: soft */
		/* a plain user unknown is hard whatever the stage (corpus truth rules) */
		{ "failed", "5.0.0", "550", "", "550 user unknown", "hard", "userunknown", "address" },
		{ "failed", "5.0.0", "550", "DATA", "550 user unknown", "hard", "userunknown", "address" },
		/* ... except a Japanese mobile carrier after DATA: its sender filter */
		{ "failed", "5.0.0", "550", "DATA", "550 <a@docomo.ne.jp>: user unknown", "soft", "filtered", "message" },
		{ "failed", "5.0.0", "550", "RCPT", "550 <a@docomo.ne.jp>: user unknown", "hard", "userunknown", "address" },
		{ "failed", "5.1.1", "550", "DATA", "550 5.1.1 <a@ezweb.ne.jp>: user unknown", "soft", "filtered", "message" },
		/* conflicting evidence: not hard */
		{ "failed", "5.2.0", "550", "", "550 unknown user a@b.c", "soft", "filtered", "address" },
		{ "failed", "5.1.1", "550", "RCPT", "550 5.1.1 a@b.c has sent to too many recipients this hour",
			"soft", "ratelimited", "sender" },
		{ "failed", "5.1.1", "550", "RCPT", "550 5.1.1 <x>: helo command rejected: invalid domain name",
			"soft", "blocked", "sender" },
		{ "failed", "5.0.0", "550", "RCPT", "550 mailbox suspended: user unknown", "soft", "suspend", "address" },
		{ "failed", "5.0.0", "556", "RCPT", "556 domain does not accept mail", "hard", "notaccept", "domain" },
		{ "failed", "5.0.0", "", "", "unrouteable mail domain \"example.org\"", "hard", "hostunknown", "domain" },
		{ "delayed", "4.1.1", "450", "RCPT", "450 user unknown, try again", "soft", "userunknown", "address" },
		/* about us: never hard, whatever the code */
		{ "failed", "5.1.1", "550", "RCPT", "550 5.1.1 blocked using zen.spamhaus.org", "soft", "blocked", "sender" },
		{ "failed", "5.7.26", "550", "DATA", "unauthenticated email is not accepted due to domain's dmarc policy", "soft", "authfailure", "sender" },
		{ "failed", "5.1.1", "550", "MAIL", "550 5.1.1 sender unknown", "soft", "rejected", "sender" },
		{ "failed", "5.0.0", "554", "CONN", "554 no smtp service here", "soft", "blocked", "sender" },
		/* about the message: never hard */
		{ "failed", "5.3.4", "552", "DATA", "552 5.3.4 message size exceeds fixed limit", "soft", "mesgtoobig", "message" },
		{ "failed", "5.7.1", "550", "DATA", "550 5.7.1 message rejected as spam", "soft", "spamdetected", "message" },
		/* the mailbox exists but cannot take mail */
		{ "failed", "5.2.2", "552", "RCPT", "552 5.2.2 mailbox full", "soft", "mailboxfull", "address" },
		/* expiry and delivery */
		{ "delayed", "4.4.7", "", "", "retry timeout exceeded", "soft", "expired", "domain" },
		{ "delivered", "2.0.0", "250", "", "250 2.0.0 ok", "delivered", "delivered", "none" },
		/* nothing to go on */
		{ "failed", "", "", "", "", "soft", "undefined", "domain" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct classify_input in;
		const struct classify_rule *row;
		enum report_class c;
		char domain[64];

		memset(&in, 0, sizeof(in));
		in.decoder = REPORT_DECODER_RFC3464;
		in.category = "";
		in.action = cases[i].action;
		in.status = cases[i].status;
		in.reply = cases[i].reply;
		in.cmd = classify_cmd_from_name(cases[i].cmd);
		in.text = cases[i].text;
		/* the recipient's domain: the address in the text, up to '>' */
		{
			const char *at = strchr(cases[i].text, '@');

			g_strlcpy(domain, at != NULL ? at + 1 : "example.org", sizeof(domain));
			domain[strcspn(domain, "> ")] = '\0';
			in.domain = domain;
		}
		in.rhost = "";
		row = classify_input_rule(&in);
		c = classify_class(row, &in);
		if (strcmp(report_class_name(c), cases[i].want_class) != 0 ||
		    strcmp(report_reason_name(row->reason), cases[i].want_reason) != 0 ||
		    strcmp(report_scope_name(row->scope), cases[i].want_scope) != 0)
			g_error("case %zu \"%s\": got %s/%s/%s (row %s) want %s/%s/%s", i, cases[i].text,
				report_class_name(c), report_reason_name(row->reason),
				report_scope_name(row->scope), row->name, cases[i].want_class,
				cases[i].want_reason, cases[i].want_scope);
	}
}

/*
 * bounced's own refusal (its socketmap's wording, returned by the local
 * Postfix with no Remote-MTA) is class none before any row; the same words
 * from a remote MTA, or other wording, go through the table.
 */
static void
test_own_refusal(void)
{
	static const struct {
		const char *diag, *remote_mta;
		int own;
	} cases[] = {
		{ "suppressed: hard userunknown since 2026-12-05T19:00:00Z", NULL, 1 },
		{ "suppressed (domain entry): hard hostunknown since 2026-12-05T19:00:00Z", NULL, 1 },
		{ "suppressed: manual undefined since 2026-12-05T19:00:00Z until 2027-01-01T00:00:00Z",
		    NULL, 1 },
		{ "550 5.1.1 suppressed: soft mailboxfull since 2026-12-05T19:00:00Z", NULL, 1 },
		{ "suppressed: hard userunknown since 2026-12-05T19:00:00Z", "mx.remote.example", 0 },
		{ "550 5.1.1 user unknown", NULL, 0 },
		{ "suppressed: hard userunknown", NULL, 0 },
		{ "mail suppressed: by policy", NULL, 0 },
	};
	struct report *r = report_new();

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct report_rcpt rc;
		int own;

		memset(&rc, 0, sizeof(rc));
		rc.recipient = (char *)"dead@example.net";
		rc.action = (char *)"failed";
		g_strlcpy(rc.status, "5.1.1", sizeof(rc.status));
		rc.diagnostic = (char *)cases[i].diag;
		rc.remote_mta = (char *)cases[i].remote_mta;
		classify_rcpt(&rc, r, NULL);
		own = rc.rule != NULL && strcmp(rc.rule, REPORT_RULE_OWN_REFUSAL) == 0;
		if (own != cases[i].own || (own && rc.class != REPORT_CLASS_NONE))
			g_error("case %zu \"%s\": got rule %s class %s, want own refusal %d", i,
			    cases[i].diag, rc.rule, report_class_name(rc.class), cases[i].own);
	}
	report_free(r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (argc < 2) {
		fprintf(stderr, "usage: test-classify FIXTURES_DIR\n");
		return 2;
	}
	fixtures_dir = argv[1];
	g_test_add_func("/classify/no-shadowing", test_no_shadowing);
	g_test_add_func("/classify/providers-no-shadowing", test_providers_no_shadowing);
	g_test_add_func("/classify/prefilter-agrees", test_prefilter_agrees);
	g_test_add_func("/classify/invariants", test_invariants);
	g_test_add_func("/classify/every-row-has-a-fixture", test_every_row_has_a_fixture);
	g_test_add_func("/classify/cases", test_cases);
	g_test_add_func("/classify/own-refusal", test_own_refusal);
	return g_test_run();
}
