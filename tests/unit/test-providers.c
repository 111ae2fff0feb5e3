/* SPDX-License-Identifier: MIT */
/*
 * test-providers.c - the provider table of parser/providers.c:
 *
 *  - every row has a fixture, tests/fixtures/providers/<provider>-<code>.eml
 *    (the row name without "provider:", ':' as '-'), and the real parser
 *    and classifier decide it by that row, with the row's reason and scope,
 *    hard exactly when the row is a hard one (the fixtures of hard rows are
 *    permanent failures), never hard for a sender or message scope;
 *  - codes are read as whole words with their number ("xofr_999" is not
 *    Orange's, "10.5.7.26" is an address), only behind the provider's
 *    markers (text or remote host, any case);
 *  - invariants: names unique and "provider:<provider>:...", every row
 *    says its code, meaning and source, hard rows are dead mailboxes only,
 *    patterns lowercase, no row tied to a decoder or an MTA;
 *  - a refusal of our server by Orange, La Poste or SFR (one antispam
 *    group in policy.provider_groups), parsed from the fixtures and stored
 *    in a real SQLite store, opens ONE incident for the group and never
 *    suppresses the recipient; Orange's invalid recipient does;
 *  - doc/providers.md is what --markdown prints from the table.
 *  (test-classify proves that no provider row is shadowed.)
 *
 *   test-providers FIXTURES_DIR DOC            run the tests
 *   test-providers --markdown                  print doc/providers.md
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "report.h"
#include "providers.h"
#include "test-store-util.h"

static const char *fixtures_dir;
static const char *doc_path;

/* "provider:orange:OFR_104" -> "orange-OFR_104" (caller frees). */
static char *
fixture_name(const char *rule)
{
	char *n = g_strdup(rule + strlen("provider:"));
	char *colon = strchr(n, ':');

	if (colon != NULL)
		*colon = '-';
	return n;
}

static void
test_fixtures(void)
{
	size_t n;
	const struct provider_row *rows = providers_rows(&n);

	for (size_t i = 0; i < n; i++) {
		const struct provider_row *row = &rows[i];
		char *name = fixture_name(row->rule.name);
		char *file = g_strconcat(name, ".eml", NULL);
		char *path = g_build_filename(fixtures_dir, "providers", file, NULL);
		char *data;
		gsize len;
		struct report *r;
		const struct report_rcpt *rc;
		enum report_class want;

		if (!g_file_get_contents(path, &data, &len, NULL))
			g_error("row \"%s\": no fixture %s (write it with tests/fixtures/gen-provider-fixtures.py)",
				row->rule.name, path);
		r = report_parse(data, len, NULL);
		if (r->rcpts->len != 1)
			g_error("%s: got %u recipients want 1", path, r->rcpts->len);
		rc = g_ptr_array_index(r->rcpts, 0);
		want = (row->rule.flags & CLASSIFY_HARD) ? REPORT_CLASS_HARD : REPORT_CLASS_SOFT;
		if (rc->rule == NULL || strcmp(rc->rule, row->rule.name) != 0 || rc->reason != row->rule.reason ||
		    rc->scope != row->rule.scope || rc->class != want)
			g_error("%s: got rule %s %s/%s/%s want rule %s %s/%s/%s", path,
				rc->rule != NULL ? rc->rule : "-", report_class_name(rc->class),
				report_reason_name(rc->reason), report_scope_name(rc->scope), row->rule.name,
				report_class_name(want), report_reason_name(row->rule.reason),
				report_scope_name(row->rule.scope));
		report_free(r);
		g_free(data);
		g_free(path);
		g_free(file);
		g_free(name);
	}
}

/* Parses tests/fixtures/providers/<name>.eml and stores it at t. */
static void
store_fixture(struct store *s, const char *name, time_t t)
{
	char *file = g_strconcat(name, ".eml", NULL);
	char *path = g_build_filename(fixtures_dir, "providers", file, NULL);
	char *data;
	gsize len;
	struct report *r;

	if (!g_file_get_contents(path, &data, &len, NULL))
		g_error("cannot read %s", path);
	r = report_parse(data, len, NULL);
	tu_ingest(s, r, name, t, NULL);
	report_free(r);
	g_free(data);
	g_free(path);
	g_free(file);
}

static void
test_incident(void)
{
	static const char *const fr[] = { "orange.example", "laposte.example", "sfr.example" };
	static const struct store_provider_group group = { "orange", fr, G_N_ELEMENTS(fr) };
	struct store_policy pol;
	char *dir = tu_mkdir();
	struct store *s;
	GPtrArray *inc = g_ptr_array_new_with_free_func((GDestroyNotify)store_incident_free);
	struct store_entry e;
	int found = 0;

	store_policy_default(&pol);
	pol.groups = &group;
	pol.ngroups = 1;
	s = tu_open(dir, &pol, 0);
	store_fixture(s, "orange-OFR_505", T0);
	store_fixture(s, "laposte-LPN_9xx", T0 + H);
	store_fixture(s, "sfr-SFR_IN", T0 + 2 * H);
	store_fixture(s, "orange-OFR_5xx", T0 + 3 * H);
	g_assert_cmpint(store_incidents(s, T0 + 4 * H, 1, inc), ==, 0);
	for (guint i = 0; i < inc->len; i++) {
		const struct store_incident *in = g_ptr_array_index(inc, i);

		if (strcmp(in->provider, "orange") != 0)
			g_error("got an incident for %s want one for the group orange only", in->provider);
		if (in->count != 4)
			g_error("incident orange: got %" G_GUINT64_FORMAT " failures want 4", in->count);
		found++;
	}
	g_assert_cmpint(found, ==, 1);
	/* a refusal of our server never counts against the recipient */
	if (store_get(s, "lecteur@orange.example", &e) == 1) {
		g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_NONE);
		store_entry_clear(&e);
	}
	/* Orange's invalid recipient does: hard at once */
	store_fixture(s, "orange-unknown-user", T0 + 5 * H);
	g_assert_cmpint(store_get(s, "lecteur@orange.example", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);
	g_assert_cmpint(e.v.reason, ==, REPORT_REASON_USERUNKNOWN);
	store_entry_clear(&e);
	g_ptr_array_free(inc, TRUE);
	store_close(s);
	tu_rmdir(dir);
}

/* Codes are read as words, with their number; odd spellings and edges. */
static void
test_tokens(void)
{
	static const struct {
		const char *text, *remote, *want;   /* want: row name or NULL */
	} cases[] = {
		{ "service refused ofr_999", NULL, "provider:orange:OFR_9xx" },
		{ "service refused lpn105-104", NULL, "provider:laposte:LPN_104" },
		{ "service refused xofr_999", NULL, NULL },              /* not a word */
		{ "ofr_99999999999999", NULL, NULL },                   /* number too long */
		{ "ofr_", NULL, NULL },
		{ "lpn", NULL, NULL },
		{ "550 5.7.606 banned", "mx.protection.outlook.com", "provider:microsoft:5.7.606-649" },
		{ "550 5.7.6060 banned", "mx.protection.outlook.com", NULL },
		{ "550 5.7.606 banned", "mx.example.org", NULL },      /* not Microsoft's */
		{ "host 10.5.7.26 - gsmtp", NULL, NULL },               /* an IP, not a code */
		{ "550-5.7.26 unauthenticated - gsmtp", NULL, "provider:gmail:5.7.26" },
		{ "421 4.7.0 [tss04] deferred", "MTA5.AM0.YAHOODNS.NET", "provider:yahoo:TSS04" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct classify_input in;
		const struct provider_row *got;
		unsigned char grams[CLASSIFY_GRAMS_BYTES];

		memset(&in, 0, sizeof(in));
		in.decoder = REPORT_DECODER_RFC3464;
		in.category = "";
		in.action = "failed";
		in.status = "";
		in.reply = "";
		in.text = cases[i].text;
		got = providers_match(&in, cases[i].remote);
		/* the bigram pre-filter of the markers never changes the answer */
		classify_grams(in.text, grams);
		in.grams = grams;
		if (providers_match(&in, cases[i].remote) != got)
			g_error("\"%s\": the bigram pre-filter changed the answer", cases[i].text);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got->rule.name, cases[i].want) != 0))
			g_error("\"%s\" at %s: got %s want %s", cases[i].text,
				cases[i].remote != NULL ? cases[i].remote : "-",
				got != NULL ? got->rule.name : "(none)",
				cases[i].want != NULL ? cases[i].want : "(none)");
	}
}

static void
assert_lowercase(const char *row, const char *s)
{
	for (const char *p = s; *p; p++)
		if (g_ascii_isupper(*p))
			g_error("row \"%s\": pattern \"%s\" is not lowercase", row, s);
}

static void
test_invariants(void)
{
	size_t n, np;
	const struct provider_row *rows = providers_rows(&n);
	const struct provider *provs = providers_list(&np);
	GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);

	g_assert_cmpuint(n, >, 0);
	for (size_t p = 0; p < np; p++)
		for (const char *const *m = provs[p].markers; *m != NULL; m++)
			assert_lowercase(provs[p].name, *m);
	for (size_t i = 0; i < n; i++) {
		const struct provider_row *row = &rows[i];
		const struct classify_rule *r = &row->rule;
		char *prefix;

		g_assert_cmpuint(row->provider, <, np);
		prefix = g_strdup_printf("provider:%s:", provs[row->provider].name);
		if (!g_str_has_prefix(r->name, prefix))
			g_error("row \"%s\": got name outside %s", r->name, prefix);
		g_free(prefix);
		if (g_hash_table_contains(names, r->name))
			g_error("row \"%s\": name used twice", r->name);
		g_hash_table_add(names, (gpointer)r->name);
		if (row->code == NULL || row->meaning == NULL || row->source == NULL ||
		    row->code[0] == '\0' || row->meaning[0] == '\0' || row->source[0] == '\0')
			g_error("row \"%s\": code, meaning and source must all be said", r->name);
		if (strchr(row->code, '|') != NULL || strchr(row->meaning, '|') != NULL ||
		    strchr(row->source, '|') != NULL)
			g_error("row \"%s\": '|' would break the table in doc/providers.md", r->name);
		if ((r->flags & CLASSIFY_HARD) &&
		    (r->scope == REPORT_SCOPE_SENDER || r->scope == REPORT_SCOPE_MESSAGE))
			g_error("row \"%s\": hard with scope %s", r->name, report_scope_name(r->scope));
		if ((r->flags & CLASSIFY_HARD) && r->reason != REPORT_REASON_USERUNKNOWN)
			g_error("row \"%s\": hard with reason %s (only an unknown mailbox is)",
				r->name, report_reason_name(r->reason));
		if (r->decoder != REPORT_DECODER_NONE || r->mta != NULL || r->category != NULL || r->action != NULL)
			g_error("row \"%s\": tied to a decoder, MTA, category or action", r->name);
		if (row->token == NULL && r->text == NULL && r->status == NULL)
			g_error("row \"%s\": matches on the markers alone", r->name);
		if (row->token != NULL) {
			assert_lowercase(r->name, row->token);
			g_assert_cmpuint(row->lo, <=, row->hi);
		}
		for (const char *const *t = r->text; t != NULL && *t != NULL; t++)
			assert_lowercase(r->name, *t);
	}
	g_hash_table_destroy(names);
}

/* The table as Markdown: doc/providers.md. */
static char *
markdown(void)
{
	size_t n, np;
	const struct provider_row *rows = providers_rows(&n);
	const struct provider *provs = providers_list(&np);
	GString *s = g_string_new(NULL);

	g_string_append(s,
		"# Provider codes bounced knows\n"
		"\n"
		"<!-- Generated from parser/providers.c: build/tests/unit/test-providers --markdown\n"
		"     > doc/providers.md.  The unit test \"providers\" fails when they disagree. -->\n"
		"\n"
		"The big mailbox providers put their own codes and fixed phrases in their\n"
		"refusals.  bounced reads them before its generic rules: a provider row\n"
		"decides the class, the reason and the scope, and `bouncectl parse` names it\n"
		"(`rule=provider:orange:OFR_9xx`).  A row applies only when one of its\n"
		"provider's markers occurs in the error text or the remote host name, and\n"
		"its code (when it has one) occurs as a word: `OFR004_104` is family `ofr`,\n"
		"number 104.\n"
		"\n"
		"- **verdict**: `hard` only for a mailbox that does not exist, and only on a\n"
		"  permanent failure (5.x.x); everything else is `soft`.\n"
		"- **scope**: `sender` is a refusal of our server (IP block, rate limit,\n"
		"  reputation, authentication); `message` is about this message; `address`\n"
		"  about the mailbox; `domain` about the recipient's domain (its own settings).\n"
		"- **incident**: a sender-scope failure never counts against the recipient;\n"
		"  the store opens (or extends) an incident for the provider instead.\n"
		"  Orange, La Poste and SFR share antispam tools: bounced's built-in\n"
		"  provider groups (`policy.provider_groups`, see config.example.yaml) put\n"
		"  their domains in one group, so that a block at any of them is one incident.\n"
		"\n");
	for (size_t p = 0; p < np; p++) {
		g_string_append_printf(s, "## %s\n\nMarkers:", provs[p].label);
		for (const char *const *m = provs[p].markers; *m != NULL; m++)
			g_string_append_printf(s, " `%s`", *m);
		g_string_append(s, "\n\n| rule | code or phrase | meaning | verdict | scope | incident | source |\n"
			"| --- | --- | --- | --- | --- | --- | --- |\n");
		for (size_t i = 0; i < n; i++) {
			const struct provider_row *row = &rows[i];

			if (row->provider != p)
				continue;
			g_string_append_printf(s, "| `%s` | %s | %s | %s %s | %s | %s | %s |\n",
				row->rule.name, row->code, row->meaning,
				(row->rule.flags & CLASSIFY_HARD) ? "hard" : "soft",
				report_reason_name(row->rule.reason), report_scope_name(row->rule.scope),
				row->rule.scope == REPORT_SCOPE_SENDER ? "yes" : "no", row->source);
		}
		g_string_append(s, "\n");
	}
	g_string_truncate(s, s->len - 1);
	return g_string_free(s, FALSE);
}

static void
test_doc(void)
{
	char *want = markdown();
	char *got;

	if (!g_file_get_contents(doc_path, &got, NULL, NULL))
		g_error("cannot read %s", doc_path);
	if (strcmp(got, want) != 0)
		g_error("%s: got a text that differs from the table want the output of "
			"build/tests/unit/test-providers --markdown (regenerate it)", doc_path);
	g_free(got);
	g_free(want);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
		char *md = markdown();

		fputs(md, stdout);
		g_free(md);
		return 0;
	}
	g_test_init(&argc, &argv, NULL);
	if (argc < 3) {
		fprintf(stderr, "usage: test-providers FIXTURES_DIR DOC | --markdown\n");
		return 2;
	}
	fixtures_dir = argv[1];
	doc_path = argv[2];
	g_test_add_func("/providers/invariants", test_invariants);
	g_test_add_func("/providers/fixtures", test_fixtures);
	g_test_add_func("/providers/tokens", test_tokens);
	g_test_add_func("/providers/incident", test_incident);
	g_test_add_func("/providers/doc", test_doc);
	return g_test_run();
}
