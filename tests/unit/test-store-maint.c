/* SPDX-License-Identifier: MIT */
/*
 * test-store-maint.c - the store's maintenance and admin reads on a real
 * file: GDPR forget (the address's text gone from every column of every
 * table, and from the database file's bytes, while it stays suppressed),
 * re-evaluation with an injected parser (a rule change flips a stored
 * false positive: dry run shows it and changes nothing, apply changes and
 * audits it), retention purge, show / raw / stats / incidents / audit,
 * and the migration of a version-1 database file.
 */
#include <stdio.h>

#include "test-store-util.h"

static const char *const orange[] = { "orange.fr", "wanadoo.fr", "laposte.net", "sfr.fr" };
static const struct store_provider_group groups[] = {
	{ "orange", orange, G_N_ELEMENTS(orange) },
};

static struct store_policy
policy(void)
{
	struct store_policy pol;

	store_policy_default(&pol);
	pol.groups = groups;
	pol.ngroups = G_N_ELEMENTS(groups);
	return pol;
}

/* Occurrences of needle (lowercase) in any text/blob column of any table. */
static gint64
count_everywhere(const char *dir, const char *needle)
{
	char *path = g_build_filename(dir, "bounced.db", NULL);
	sqlite3 *db;
	sqlite3_stmt *tables, *cols;
	gint64 hits = 0;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'",
	    -1, &tables, NULL), ==, SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		char *q = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q)", t);

		g_assert_cmpint(sqlite3_prepare_v2(db, q, -1, &cols, NULL), ==, SQLITE_OK);
		while (sqlite3_step(cols) == SQLITE_ROW) {
			const char *c = (const char *)sqlite3_column_text(cols, 0);
			/* Test code, on names read from the schema itself. */
			char *cq = sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE "
			    "instr(lower(CAST(\"%w\" AS TEXT)), ?1) > 0", t, c);
			sqlite3_stmt *st;

			g_assert_cmpint(sqlite3_prepare_v2(db, cq, -1, &st, NULL), ==, SQLITE_OK);
			sqlite3_bind_text(st, 1, needle, -1, SQLITE_STATIC);
			g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
			if (sqlite3_column_int64(st, 0) > 0)
				g_test_message("\"%s\" found in %s.%s", needle, t, c);
			hits += sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			sqlite3_free(cq);
		}
		sqlite3_finalize(cols);
		sqlite3_free(q);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	g_free(path);
	return hits;
}

/* 1 when needle's bytes occur in the file. */
static int
file_contains(const char *dir, const char *name, const char *needle)
{
	char *path = g_build_filename(dir, name, NULL);
	char *data = NULL;
	gsize len = 0;
	int found = 0;

	if (g_file_get_contents(path, &data, &len, NULL))
		found = g_strstr_len(data, (gssize)len, needle) != NULL ||
		    memmem(data, len, needle, strlen(needle)) != NULL;
	g_free(data);
	g_free(path);
	return found;
}

static void
test_forget(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	struct store_index *idx = store_index_new((const unsigned char *)TEST_SECRET,
	    strlen(TEST_SECRET));
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	struct store_forget_result fr;
	struct store_verdict v;
	struct store_entry e;
	struct store_manual m;
	struct report *r;
	const char *who = "jane.doe@example.com";

	/* Jane bounced hard, with another recipient in the same bounce. */
	r = tu_report();
	tu_add(r, "Jane.Doe@Example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 <jane.doe@example.com>: unknown");
	tu_add(r, "bob@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 bob unknown, see jane.doe@example.com");
	tu_ingest(s, r, "To: jane.doe@example.com, bob@example.com", T0, changes);
	report_free(r);
	/* A soft one, an autoreply, a message-scope one, and a note naming her. */
	r = tu_report();
	tu_add(r, who, REPORT_CLASS_SOFT, REPORT_SCOPE_MESSAGE, REPORT_REASON_MESGTOOBIG, "5.3.4",
	    "too big");
	tu_ingest(s, r, "big one", T0 + H, changes);
	report_free(r);
	memset(&m, 0, sizeof(m));
	m.target = "@example.net";
	m.cause = STORE_CAUSE_MANUAL;
	m.reason = REPORT_REASON_UNDEFINED;
	m.note = "requested by jane.doe@example.com";
	m.actor = "uid=0";
	g_assert_cmpint(store_suppress(s, &m, 1, T0, changes), ==, 0);
	g_assert_cmpint(store_unsuppress(s, who, "test", "uid=0", T0 + 2 * H, changes), ==, 1);
	g_assert_cmpint(store_suppress(s, &(struct store_manual){ .target = who,
	    .cause = STORE_CAUSE_MANUAL, .reason = REPORT_REASON_USERUNKNOWN, .actor = "uid=0",
	    .note = "she asked" }, 1, T0 + 3 * H, changes), ==, 0);
	g_assert_cmpint(store_index_apply(idx, changes), ==, 0);
	g_array_set_size(changes, 0);
	g_assert_cmpint(count_everywhere(dir, who), >, 0);

	g_assert_cmpint(store_forget(s, "<Jane.Doe@example.com>", "uid=0", T0 + D, &fr, changes),
	    ==, 1);
	g_assert_cmpuint(fr.events, ==, 2);
	/* her own bounce erased; the one naming Bob too kept for him, redacted */
	g_assert_cmpuint(fr.bounces, ==, 1);
	g_assert_cmpuint(fr.bounces_redacted, ==, 1);
	g_assert_cmpuint(fr.audit, >=, 3);
	g_assert_cmpint(fr.kept_suppressed, ==, 1);

	/* Gone from every column of every table, and from the file's bytes. */
	g_assert_cmpint(count_everywhere(dir, who), ==, 0);
	g_assert_false(file_contains(dir, "bounced.db", who));
	g_assert_false(file_contains(dir, "bounced.db-wal", who));
	/* Bob's evidence stays (his diagnostic named her: erased). */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE address = 'bob@example.com'"
	    " AND diagnostic IS NULL"), ==, 1);
	/* and his raw bounce, with her address replaced, linked to his event */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM bounce b JOIN event e ON"
	    " e.bounce_id = b.id WHERE e.address = 'bob@example.com' AND b.raw IS NOT NULL"
	    " AND instr(CAST(b.raw AS TEXT), '[erased]') > 0"
	    " AND instr(CAST(b.raw AS TEXT), 'bob@example.com') > 0"), ==, 1);

	/* Still suppressed: by the index as it was, by a freshly loaded one, and by get. */
	g_assert_cmpint(store_check(idx, who, strlen(who), T0 + D, &v), ==, 1);
	store_index_free(idx);
	idx = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	g_assert_cmpint(store_load_index(s, idx), ==, 0);
	g_assert_cmpint(store_check(idx, who, strlen(who), T0 + D, &v), ==, 1);
	g_assert_cmpint(v.cause, ==, STORE_CAUSE_MANUAL);
	g_assert_cmpint(store_get(s, who, &e), ==, 1);
	g_assert_true(g_str_has_prefix(e.address, "hmac:"));
	g_assert_cmpuint(strlen(e.address), ==, 5 + 64 + 1 + 16);
	store_entry_clear(&e);

	/* Forgetting again: nothing left under the address. */
	g_assert_cmpint(store_forget(s, who, "uid=0", T0 + D, &fr, changes), ==, 0);
	g_assert_cmpint(store_forget(s, "@example.net", "uid=0", T0 + D, &fr, changes), ==, -1);

	/* She bounces again later: the address comes back, still suppressed, restored. */
	r = tu_report();
	tu_add(r, who, REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS, REPORT_REASON_MAILBOXFULL,
	    "4.2.2", NULL);
	tu_ingest(s, r, "later", T0 + 2 * D, changes);
	report_free(r);
	g_assert_cmpint(store_get(s, who, &e), ==, 1);
	g_assert_cmpstr(e.address, ==, who);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_MANUAL);
	store_entry_clear(&e);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM addr WHERE address LIKE 'hmac:%'"), ==,
	    0);

	g_array_free(changes, TRUE);
	store_index_free(idx);
	store_close(s);
	tu_rmdir(dir);
}

/* The injected parser: "Rule: v1" classifies "5.7.1 blocked" as hard userunknown
 * (the false positive), "v2" as sender-scope blocked (the fix). */
struct fake_parser {
	int version;
	int calls;
};

static struct report *
fake_parse(const char *buf, size_t len, void *ud)
{
	struct fake_parser *fp = ud;
	struct report *r = tu_report();
	char *text = g_strndup(buf, len);
	char **lines = g_strsplit(text, "\n", -1);

	fp->calls++;
	for (char **l = lines; *l != NULL; l++) {
		if (g_str_has_prefix(*l, "Rcpt: ")) {
			const char *addr = *l + 6;

			if (strstr(text, "5.7.1") != NULL && fp->version >= 2)
				tu_add(r, addr, REPORT_CLASS_SOFT, REPORT_SCOPE_SENDER,
				    REPORT_REASON_BLOCKED, "5.7.1", "blocked");
			else if (strstr(text, "5.7.1") != NULL)
				tu_add(r, addr, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
				    REPORT_REASON_USERUNKNOWN, "5.7.1", "blocked");
			else
				tu_add(r, addr, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
				    REPORT_REASON_USERUNKNOWN, "5.1.1", "unknown");
		}
	}
	g_strfreev(lines);
	g_free(text);
	return r;
}

static void
ingest_raw_as(struct store *s, struct fake_parser *fp, const char *raw, time_t t,
    const char *untrusted, GArray *changes)
{
	struct store_bounce b;
	struct report *r = fake_parse(raw, strlen(raw), fp);

	memset(&b, 0, sizeof(b));
	b.raw = raw;
	b.raw_len = strlen(raw);
	b.report = r;
	b.received = t;
	b.untrusted = untrusted;
	b.trust = untrusted != NULL ? "tag=absent sender=non-null report=none sent=unknown" :
	    "tag=valid sender=null report=rfc3464 sent=unknown";
	g_assert_cmpint(store_ingest(s, &b, 1, t, changes), ==, 0);
	report_free(r);
}

static void
ingest_raw(struct store *s, struct fake_parser *fp, const char *raw, time_t t, GArray *changes)
{
	ingest_raw_as(s, fp, raw, t, NULL, changes);
}

static int
count_row(const struct store_entry *e, void *ud)
{
	GPtrArray *names = ud;

	g_ptr_array_add(names, g_strdup(e->address));
	return 0;
}

/*
 * An untrusted bounce (issue 13) is kept with its events and evidence but
 * never suppresses nor opens an incident, not even after a re-evaluation;
 * show and list (untrusted_only) find it.
 */
static void
test_untrusted(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	struct fake_parser fp = { 2, 0 };
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	GPtrArray *diffs = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_reeval_diff_free);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	struct store_filter f;
	struct store_show sh;
	struct store_entry e;
	const struct store_event *ev;

	store_set_parser(s, fake_parse, &fp);
	ingest_raw_as(s, &fp, "Subject: f1\nRcpt: boss@bigclient.example\n550 5.1.1 unknown\n", T0,
	    "tag-absent", changes);
	ingest_raw_as(s, &fp, "Subject: f2\nRcpt: x@orange.fr\n550 5.7.1 blocked\n", T0,
	    "tag-bad-signature", changes);
	ingest_raw(s, &fp, "Subject: t1\nRcpt: dead@example.com\n550 5.1.1 unknown\n", T0, changes);
	/* only the trusted one changed anything */
	g_assert_cmpuint(changes->len, ==, 1);
	g_assert_cmpint(store_get(s, "boss@bigclient.example", &e), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident"), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE untrusted = 1"), ==, 2);

	/* show: the events with the cause and the evidence */
	g_assert_cmpint(store_show(s, "boss@bigclient.example", 0, &sh), ==, 1);
	g_assert_cmpuint(sh.events->len, ==, 1);
	ev = g_ptr_array_index(sh.events, 0);
	g_assert_cmpint(ev->class, ==, REPORT_CLASS_HARD);
	g_assert_cmpstr(ev->untrusted, ==, "tag-absent");
	g_assert_nonnull(strstr(ev->trust, "tag=absent"));
	store_show_clear(&sh);
	g_assert_cmpint(store_show(s, "dead@example.com", 0, &sh), ==, 1);
	ev = g_ptr_array_index(sh.events, 0);
	g_assert_null(ev->untrusted);
	store_show_clear(&sh);

	/* list: the untrusted filter */
	memset(&f, 0, sizeof(f));
	f.reason = f.scope = -1;
	f.untrusted_only = 1;
	g_assert_cmpint(store_list(s, &f, T0, count_row, names), ==, 0);
	g_assert_cmpuint(names->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "boss@bigclient.example");
	g_assert_cmpstr(g_ptr_array_index(names, 1), ==, "x@orange.fr");

	/* a re-evaluation replays the trusted events only, and keeps the flag */
	g_array_set_size(changes, 0);
	g_assert_cmpint(store_reevaluate(s, 0, T0 + D, diffs, changes), ==, 0);
	g_assert_cmpuint(diffs->len, ==, 0);
	g_assert_cmpint(store_get(s, "boss@bigclient.example", &e), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident"), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE untrusted = 1"), ==, 2);
	g_assert_cmpint(store_get(s, "dead@example.com", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);
	store_entry_clear(&e);

	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(diffs, TRUE);
	g_array_free(changes, TRUE);
	store_close(s);
	tu_rmdir(dir);
}

static void
test_reevaluate(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	struct fake_parser fp = { 1, 0 };
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	GPtrArray *diffs = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_reeval_diff_free);
	struct store_entry e;
	struct store_reeval_diff *d;
	char *before_dump;

	store_set_parser(s, fake_parse, &fp);
	ingest_raw(s, &fp, "Subject: a\nRcpt: good@orange.fr\n550 5.7.1 blocked\n", T0, changes);
	ingest_raw(s, &fp, "Subject: b\nRcpt: dead@example.com\n550 5.1.1 unknown\n", T0, changes);
	g_assert_cmpint(store_get(s, "good@orange.fr", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);   /* the false positive */
	store_entry_clear(&e);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident"), ==, 0);

	/* Same rules: nothing changes. */
	g_array_set_size(changes, 0);
	g_assert_cmpint(store_reevaluate(s, 0, T0 + D, diffs, changes), ==, 0);
	g_assert_cmpuint(diffs->len, ==, 0);
	g_assert_cmpuint(changes->len, ==, 0);

	/* The rule improves; dry run: one diff, nothing written. */
	fp.version = 2;
	before_dump = tu_sql(dir, "SELECT group_concat(address || cause || until, ',') FROM addr");
	g_assert_cmpint(store_reevaluate(s, 1, T0 + D, diffs, changes), ==, 0);
	g_assert_cmpuint(diffs->len, ==, 1);
	d = g_ptr_array_index(diffs, 0);
	g_assert_cmpstr(d->address, ==, "good@orange.fr");
	g_assert_cmpint(d->before.cause, ==, STORE_CAUSE_HARD);
	g_assert_cmpint(d->after.cause, ==, STORE_CAUSE_NONE);
	g_assert_cmpuint(changes->len, ==, 0);
	{
		char *after_dump = tu_sql(dir,
		    "SELECT group_concat(address || cause || until, ',') FROM addr");

		g_assert_cmpstr(after_dump, ==, before_dump);
		g_free(after_dump);
	}
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM audit"), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident"), ==, 0);

	/* Apply: flipped, audited, one index change, an incident for the group. */
	g_ptr_array_set_size(diffs, 0);
	g_assert_cmpint(store_reevaluate(s, 0, T0 + D, diffs, changes), ==, 0);
	g_assert_cmpuint(diffs->len, ==, 1);
	g_assert_cmpuint(changes->len, ==, 1);
	g_assert_cmpint(g_array_index(changes, struct store_change, 0).v.cause, ==,
	    STORE_CAUSE_NONE);
	g_assert_cmpint(store_get(s, "good@orange.fr", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_NONE);
	store_entry_clear(&e);
	g_assert_cmpint(store_get(s, "dead@example.com", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);
	store_entry_clear(&e);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM audit WHERE action = 'reevaluate'"
	    " AND target = 'good@orange.fr' AND note = 'was hard/userunknown'"), ==, 1);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident WHERE provider = 'orange'"),
	    ==, 1);

	/* A manual unsuppress is replayed too: re-evaluation keeps it. */
	g_assert_cmpint(store_unsuppress(s, "dead@example.com", "works", "uid=0", T0 + 2 * D,
	    changes), ==, 1);
	g_ptr_array_set_size(diffs, 0);
	g_assert_cmpint(store_reevaluate(s, 0, T0 + 3 * D, diffs, changes), ==, 0);
	g_assert_cmpuint(diffs->len, ==, 0);

	/* Purge raw bounces past retention (90 days): re-evaluation then keeps their events. */
	g_assert_cmpint(store_purge(s, T0 + 89 * D), ==, 0);
	g_assert_cmpint(store_purge(s, T0 + 91 * D), ==, 2);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM bounce WHERE raw IS NULL"), ==, 2);
	fp.calls = 0;
	g_assert_cmpint(store_reevaluate(s, 0, T0 + 91 * D, diffs, changes), ==, 0);
	g_assert_cmpint(fp.calls, ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event"), ==, 2);

	g_free(before_dump);
	g_ptr_array_free(diffs, TRUE);
	g_array_free(changes, TRUE);
	store_close(s);
	tu_rmdir(dir);
}

static void
test_show_stats(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s;

	pol.incident_min_messages = 1;  /* one blocked message is an incident here */
	s = tu_open(dir, &pol, 0);
	struct store_show sh;
	struct store_stats st;
	struct report *r;
	struct store_bounce b;
	struct store_event *ev;
	char *raw;
	size_t len;

	r = tu_report();
	tu_add(r, "x@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 no such user");
	r->reporting_mta = g_strdup("mx.sender.example");
	r->orig_message_id = g_strdup("abc@sender.example");
	b = tu_ingest(s, r, "show me", T0, NULL);
	report_free(r);
	r = tu_report();
	tu_add(r, "a@orange.fr", REPORT_CLASS_SOFT, REPORT_SCOPE_SENDER, REPORT_REASON_BLOCKED,
	    "4.7.1", "blocked");
	tu_add(r, "b@wanadoo.fr", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "full");
	tu_add(r, "c@gmail.com", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "full");
	tu_ingest(s, r, "stats", T0 + H, NULL);
	report_free(r);

	g_assert_cmpint(store_show(s, "x@example.com", 0, &sh), ==, 1);
	g_assert_true(sh.has_entry);
	g_assert_cmpstr(sh.entry.rule, ==, "hard-at-once");
	g_assert_cmpuint(sh.events->len, ==, 1);
	ev = g_ptr_array_index(sh.events, 0);
	g_assert_cmpint(ev->id, ==, sh.entry.event_id);
	g_assert_cmpstr(ev->diagnostic, ==, "550 5.1.1 no such user");
	g_assert_cmpstr(ev->reporting_mta, ==, "mx.sender.example");
	g_assert_cmpstr(ev->orig_message_id, ==, "abc@sender.example");
	g_assert_cmpstr(ev->rule, ==, "test-rule");
	g_assert_cmpint(ev->raw_kept, ==, 1);
	g_assert_cmpint(ev->bounce_id, ==, b.id_r);
	g_assert_cmpint(store_raw(s, ev->bounce_id, &raw, &len), ==, 1);
	g_assert_nonnull(strstr(raw, "Subject: show me"));
	g_assert_cmpuint(len, ==, strlen(raw));
	g_free(raw);
	g_assert_cmpint(store_raw(s, 999, &raw, &len), ==, 0);
	store_show_clear(&sh);
	g_assert_cmpint(store_show(s, "nobody@example.com", 0, &sh), ==, 0);
	store_show_clear(&sh);

	g_assert_cmpint(store_stats(s, T0, T0 + D, T0 + 2 * H, 0, &st), ==, 0);
	g_assert_cmpuint(st.bounces, ==, 2);
	g_assert_cmpuint(st.events, ==, 4);
	g_assert_cmpuint(st.by_class[REPORT_CLASS_HARD], ==, 1);
	g_assert_cmpuint(st.by_class[REPORT_CLASS_SOFT], ==, 3);
	g_assert_cmpuint(st.by_reason[REPORT_REASON_MAILBOXFULL], ==, 2);
	g_assert_cmpuint(st.by_scope[REPORT_SCOPE_SENDER], ==, 1);
	g_assert_cmpuint(st.suppressed[STORE_CAUSE_HARD], ==, 1);
	g_assert_cmpuint(st.domains->len, ==, 4);
	g_assert_cmpuint(st.soft_by_provider->len, ==, 2);
	g_assert_cmpstr(((struct store_count *)st.soft_by_provider->pdata[0])->name, ==, "orange");
	g_assert_cmpuint(((struct store_count *)st.soft_by_provider->pdata[0])->n, ==, 2);
	g_assert_cmpuint(st.incidents->len, ==, 1);
	g_assert_cmpstr(((struct store_incident *)st.incidents->pdata[0])->provider, ==, "orange");
	store_stats_clear(&st);
	/* Two days later the incident is closed; the period is empty. */
	g_assert_cmpint(store_stats(s, T0 + D, T0 + 2 * D, T0 + 2 * D, 0, &st), ==, 0);
	g_assert_cmpuint(st.events, ==, 0);
	g_assert_cmpuint(st.incidents->len, ==, 0);
	store_stats_clear(&st);

	store_close(s);
	tu_rmdir(dir);
}

static void
test_migrate(void)
{
	char *dir = tu_mkdir();
	char *fixture = g_build_filename(g_getenv("FIXTURES_DIR") != NULL ?
	    g_getenv("FIXTURES_DIR") : "tests/fixtures", "store", "v1.sql", NULL);
	char *sql = NULL, *path = g_build_filename(dir, "bounced.db", NULL);
	struct store_policy pol = policy();
	struct store *s;
	struct store_entry e;
	struct store_stats st;
	sqlite3 *db;

	if (!g_file_get_contents(fixture, &sql, NULL, NULL))
		g_error("cannot read %s (set FIXTURES_DIR)", fixture);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	g_assert_cmpint(tu_sql_int(dir, "PRAGMA user_version"), ==, 1);

	/* A read-only connection refuses an old schema with a clear message. */
	{
		struct store_config cfg = { .path = path, .secret = (const unsigned char *)TEST_SECRET,
		    .secret_len = strlen(TEST_SECRET), .readonly = 1 };
		char err[256];

		g_assert_null(store_open(&cfg, &pol, err));
		g_assert_nonnull(strstr(err, "schema version 1, need 5"));
	}
	s = tu_open(dir, &pol, 0);
	g_assert_cmpint(tu_sql_int(dir, "PRAGMA user_version"), ==, 5);
	g_assert_cmpint(tu_sql_int(dir,
	    "SELECT count(*) FROM sqlite_master WHERE name = 'event_at'"), ==, 1);
	/* 3: an incident of the old schema stays an incident (opened when first seen). */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM incident"
	    " WHERE opened = first_seen AND opened != 0"), ==, 1);
	g_assert_cmpint(tu_sql_int(dir,
	    "SELECT count(*) FROM sqlite_master WHERE name IN ('alert', 'alert_delivery')"), ==, 2);
	/* 4: events from before trust existed count (untrusted 0) */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE untrusted != 0"), ==, 0);
	/* 5: the log's tables; old events came over LMTP (source NULL) */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('sent', 'logseen', 'logpos', 'event_queue')"), ==, 4);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE source IS NOT NULL"),
	    ==, 0);
	g_assert_cmpint(store_get(s, "old.hard@example.com", &e), ==, 1);
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);
	store_entry_clear(&e);
	g_assert_cmpint(store_get(s, "@old-domain.example", &e), ==, 1);
	store_entry_clear(&e);
	g_assert_cmpint(store_stats(s, T0, T0 + 1, T0, 0, &st), ==, 0);
	g_assert_cmpuint(st.events, ==, 3);
	g_assert_cmpuint(st.incidents->len, ==, 1);
	store_stats_clear(&st);
	store_close(s);

	/* A newer schema than this build is refused. */
	g_assert_cmpint(tu_sql_exec(dir, "PRAGMA user_version = 99"), ==, SQLITE_OK);
	{
		struct store_config cfg = { .path = path, .secret = (const unsigned char *)TEST_SECRET,
		    .secret_len = strlen(TEST_SECRET) };
		char err[256];

		g_assert_null(store_open(&cfg, &pol, err));
		g_assert_nonnull(strstr(err, "newer than this bounced"));
	}
	g_free(sql);
	g_free(fixture);
	g_free(path);
	tu_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/store/forget", test_forget);
	g_test_add_func("/store/reevaluate", test_reevaluate);
	g_test_add_func("/store/untrusted", test_untrusted);
	g_test_add_func("/store/show-stats", test_show_stats);
	g_test_add_func("/store/migrate", test_migrate);
	return g_test_run();
}
