/* SPDX-License-Identifier: MIT */
/*
 * test-store.c - the SQLite store on a real file in a temp directory, with
 * an explicit clock: ingest and the index it feeds, idempotence, group
 * commit, the soft policy through the store, domain entries, incidents
 * and their grouping, manual suppress/unsuppress and their audit, the
 * read-only connection, load_index, list and get.
 */
#include "test-store-util.h"

struct fixture {
	char *dir;
	struct store *s;
	struct store_index *idx;
	GArray *changes;
	struct store_policy pol;
};

static const char *const orange[] = { "orange.fr", "wanadoo.fr", "laposte.net", "sfr.fr" };
static const struct store_provider_group groups[] = {
	{ "orange", orange, G_N_ELEMENTS(orange) },
};

static void
fx_setup(struct fixture *f, gconstpointer data)
{
	(void)data;
	f->dir = tu_mkdir();
	store_policy_default(&f->pol);
	f->pol.groups = groups;
	f->pol.ngroups = G_N_ELEMENTS(groups);
	f->s = tu_open(f->dir, &f->pol, 0);
	f->idx = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	f->changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
}

static void
fx_teardown(struct fixture *f, gconstpointer data)
{
	(void)data;
	store_close(f->s);
	store_index_free(f->idx);
	g_array_free(f->changes, TRUE);
	tu_rmdir(f->dir);
}

/* Applies the pending changes to the fixture's index; returns how many. */
static guint
fx_apply(struct fixture *f)
{
	guint n = f->changes->len;

	g_assert_cmpint(store_index_apply(f->idx, f->changes), ==, 0);
	g_array_set_size(f->changes, 0);
	return n;
}

/* store_check on the fixture's index: the cause answered. */
static enum store_cause
fx_check(struct fixture *f, const char *addr, time_t now)
{
	char norm[STORE_ADDR_MAX + 1], err[256];
	struct store_verdict v;
	int n = store_addr_normalize(addr, strlen(addr), norm, err);

	g_assert_cmpint(n, >, 0);
	g_assert_cmpint(store_check(f->idx, norm, (size_t)n, now, &v), >=, 0);
	return v.cause;
}

static void
ingest1(struct fixture *f, const char *rcpt, enum report_class c, enum report_scope sc,
    enum report_reason reason, const char *status, const char *tag, time_t t)
{
	struct report *r = tu_report();

	tu_add(r, rcpt, c, sc, reason, status, "diagnostic text");
	tu_ingest(f->s, r, tag, t, f->changes);
	report_free(r);
	fx_apply(f);
}

static void
test_hard(struct fixture *f, gconstpointer data)
{
	struct store_entry e;
	struct store_verdict v;
	char norm[STORE_ADDR_MAX + 1];

	(void)data;
	ingest1(f, "Dead.User@Example.COM", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "b1", T0);
	g_assert_cmpint(fx_check(f, "dead.user@example.com", T0), ==, STORE_CAUSE_HARD);
	g_assert_cmpint(fx_check(f, "other@example.com", T0), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(store_check(f->idx, "dead.user@example.com", 21, T0 + 3650 * D, &v), ==,
	    1);
	g_assert_cmpint(v.reason, ==, REPORT_REASON_USERUNKNOWN);
	g_assert_cmpint(v.since, ==, T0);
	g_assert_cmpint(v.until, ==, STORE_TTL_NEVER);

	g_assert_cmpint(store_get(f->s, "dead.user@example.com", &e), ==, 1);
	g_assert_cmpstr(e.address, ==, "dead.user@example.com");
	g_assert_cmpint(e.v.cause, ==, STORE_CAUSE_HARD);
	g_assert_cmpstr(e.status, ==, "5.1.1");
	g_assert_cmpstr(e.rule, ==, "hard-at-once");
	g_assert_cmpstr(e.source, ==, "lmtp");
	g_assert_cmpint(e.scope, ==, REPORT_SCOPE_ADDRESS);
	g_assert_cmpint(e.event_id, >, 0);
	store_entry_clear(&e);
	g_assert_cmpint(store_get(f->s, "nobody@example.com", &e), ==, 0);

	/* A fresh index loaded from the database answers the same. */
	store_index_free(f->idx);
	f->idx = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	g_assert_cmpint(store_load_index(f->s, f->idx), ==, 0);
	g_assert_cmpuint(store_index_count(f->idx), ==, 1);
	g_assert_cmpint(fx_check(f, "DEAD.user@example.com", T0), ==, STORE_CAUSE_HARD);
	(void)norm;
}

static void
test_idempotent(struct fixture *f, gconstpointer data)
{
	struct report *r = tu_report();
	struct store_bounce b1, b2;

	(void)data;
	tu_add(r, "soft@example.com", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "full");
	b1 = tu_ingest(f->s, r, "same", T0, f->changes);
	b2 = tu_ingest(f->s, r, "same", T0 + 24 * H, f->changes);
	g_assert_cmpint(b1.duplicate_r, ==, 0);
	g_assert_cmpint(b2.duplicate_r, ==, 1);
	g_assert_cmpint(b2.id_r, ==, b1.id_r);
	/* Delivered twice, counted once. */
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM event"), ==, 1);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM bounce"), ==, 1);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT soft_count FROM addr WHERE address = 'soft@example.com'"), ==, 1);

	/* Within one batch too. */
	{
		struct store_bounce b[3];
		const char *raws[3] = { "x", "y", "x" };

		memset(b, 0, sizeof(b));
		for (int i = 0; i < 3; i++) {
			b[i].raw = raws[i];
			b[i].raw_len = 1;
			b[i].report = r;
			b[i].received = T0 + 48 * H;
		}
		g_assert_cmpint(store_ingest(f->s, b, 3, T0 + 48 * H, f->changes), ==, 0);
		g_assert_cmpint(b[0].duplicate_r, ==, 0);
		g_assert_cmpint(b[1].duplicate_r, ==, 0);
		g_assert_cmpint(b[2].duplicate_r, ==, 1);
		g_assert_cmpint(b[2].id_r, ==, b[0].id_r);
	}
	/* soft at T0, T0+48h twice (x, y): three soft spanning 48 h. */
	fx_apply(f);
	g_assert_cmpint(fx_check(f, "soft@example.com", T0 + 48 * H), ==, STORE_CAUSE_SOFT);
	report_free(r);
}

static void
test_soft_window(struct fixture *f, gconstpointer data)
{
	(void)data;
	/* Three soft bounces in 24 h (greylisting): not suppressed. */
	for (int i = 0; i < 3; i++) {
		char tag[16];

		g_snprintf(tag, sizeof(tag), "g%d", i);
		ingest1(f, "grey@yahoo.example", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
		    REPORT_REASON_MAILBOXFULL, "4.2.2", tag, T0 + i * 12 * H);
		g_assert_cmpint(fx_check(f, "grey@yahoo.example", T0 + i * 12 * H), ==,
		    STORE_CAUSE_NONE);
	}
	/* A fourth at 49 h: now spanning >= 48 h, suppressed, then expires after 30 d. */
	ingest1(f, "grey@yahoo.example", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "g3", T0 + 49 * H);
	g_assert_cmpint(fx_check(f, "grey@yahoo.example", T0 + 49 * H), ==, STORE_CAUSE_SOFT);
	g_assert_cmpint(fx_check(f, "grey@yahoo.example", T0 + 49 * H + 30 * D), ==,
	    STORE_CAUSE_NONE);

	/* Delivery between resets: another address. */
	ingest1(f, "ok@example.com", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "o1", T0);
	ingest1(f, "ok@example.com", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "o2", T0 + 24 * H);
	ingest1(f, "ok@example.com", REPORT_CLASS_DELIVERED, REPORT_SCOPE_NONE,
	    REPORT_REASON_DELIVERED, "2.0.0", "o3", T0 + 30 * H);
	ingest1(f, "ok@example.com", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "o4", T0 + 50 * H);
	g_assert_cmpint(fx_check(f, "ok@example.com", T0 + 50 * H), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT soft_count FROM addr WHERE address = 'ok@example.com'"), ==, 1);

	/* Autoreplies are recorded and never create state. */
	ingest1(f, "away@example.com", REPORT_CLASS_AUTOREPLY, REPORT_SCOPE_NONE,
	    REPORT_REASON_VACATION, "", "a1", T0);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count(*) FROM event WHERE address = 'away@example.com'"), ==, 1);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count(*) FROM addr WHERE address = 'away@example.com'"), ==, 0);
}

static void
test_incidents(struct fixture *f, gconstpointer data)
{
	static const char *const rcpts[] = {
		"a@orange.fr", "b@wanadoo.fr", "c@laposte.net", "d@sfr.fr", "e@gmail.com",
	};

	(void)data;
	for (size_t i = 0; i < G_N_ELEMENTS(rcpts); i++) {
		char tag[16];

		g_snprintf(tag, sizeof(tag), "i%zu", i);
		ingest1(f, rcpts[i], REPORT_CLASS_SOFT, REPORT_SCOPE_SENDER, REPORT_REASON_BLOCKED,
		    "4.7.1", tag, T0 + (time_t)i * H);
		/* Never suppresses the recipient. */
		g_assert_cmpint(fx_check(f, rcpts[i], T0 + (time_t)i * H), ==, STORE_CAUSE_NONE);
	}
	/* One incident for the group (4 events), one for gmail.com. */
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM incident"), ==, 2);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count FROM incident WHERE provider = 'orange'"), ==, 4);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT last_seen - first_seen FROM incident WHERE provider = 'orange'"), ==, 3 * H);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count FROM incident WHERE provider = 'gmail.com'"), ==, 1);
	/* Quiet for more than incident_quiet (24 h): a new incident opens. */
	ingest1(f, "a@orange.fr", REPORT_CLASS_HARD, REPORT_SCOPE_SENDER,
	    REPORT_REASON_BADREPUTATION, "5.7.1", "i9", T0 + 3 * H + 25 * H);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count(*) FROM incident WHERE provider = 'orange'"), ==, 2);
	g_assert_cmpint(fx_check(f, "a@orange.fr", T0 + 30 * H), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM addr"), ==, 0);

	/* Message scope: recorded against the message only. */
	ingest1(f, "big@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_MESSAGE,
	    REPORT_REASON_MESGTOOBIG, "5.3.4", "m1", T0);
	g_assert_cmpint(fx_check(f, "big@example.com", T0), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(tu_sql_int(f->dir,
	    "SELECT count(*) FROM event WHERE address = 'big@example.com' AND scope = 4"), ==, 1);
}

/* One bounce (tag) of nrcpt sender-scope recipients at domain, with this diagnostic. */
static void
ingest_sender(struct fixture *f, const char *domain, unsigned nrcpt, const char *status,
    const char *diag, const char *tag, time_t t)
{
	struct report *r = tu_report();

	for (unsigned i = 0; i < nrcpt; i++) {
		char *rcpt = g_strdup_printf("%s.%u@%s", tag, i, domain);

		tu_add(r, rcpt, status[0] == '4' ? REPORT_CLASS_SOFT : REPORT_CLASS_HARD,
		    REPORT_SCOPE_SENDER, REPORT_REASON_BLOCKED, status, diag);
		g_free(rcpt);
	}
	tu_ingest(f->s, r, tag, t, f->changes);
	report_free(r);
	fx_apply(f);
}

static guint
open_incidents(struct fixture *f, time_t now)
{
	GPtrArray *in = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_incident_free);
	guint n;

	g_assert_cmpint(store_incidents(f->s, now, 1, in), ==, 0);
	n = in->len;
	g_ptr_array_free(in, TRUE);
	return n;
}

/*
 * Issue 17, quieter incidents: greylisting and bounced's own refusals open
 * none; one message failing for many recipients is a candidate only; a
 * second message within policy.incident_window opens the incident.
 */
static void
test_incident_quiet(struct fixture *f, gconstpointer data)
{
	static const char block[] = "550 5.7.1 Service refuse. Veuillez essayer plus tard. "
	    "OFR_506 [506]";

	(void)data;
	g_assert_cmpuint(f->pol.incident_min_messages, ==, 2);
	/* Greylisting, from five messages: nothing at all. */
	for (int i = 0; i < 5; i++) {
		char tag[8];

		g_snprintf(tag, sizeof(tag), "g%d", i);
		ingest_sender(f, "orange.fr", 2, "4.2.0", "450 4.2.0 <x@orange.fr>: Recipient "
		    "address rejected: Greylisted, see http://postgrey.example/", tag, T0 + i * 60);
	}
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM incident"), ==, 0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM event WHERE scope = 3"), ==, 10);
	/* bounced's own socketmap refusal quoted back: nothing. */
	ingest_sender(f, "sfr.fr", 1, "5.7.1", "550 5.7.1 <q@sfr.fr>: Recipient address rejected: "
	    "suppressed: complaint abuse since 2026-01-01T00:00:00Z", "own1", T0);
	ingest_sender(f, "sfr.fr", 1, "5.7.1", "550 5.7.1 <q@sfr.fr>: Recipient address rejected: "
	    "suppressed (domain entry): hard hostunknown since 2026-01-01T00:00:00Z", "own2", T0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM incident"), ==, 0);

	/* One message, three recipients blocked: a candidate, not an incident. */
	ingest_sender(f, "wanadoo.fr", 3, "5.7.1", block, "m1", T0 + H);
	g_assert_cmpuint(open_incidents(f, T0 + H), ==, 0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count FROM incident WHERE opened = 0"), ==, 3);
	/* A second message within the window (1 h): the group's incident opens. */
	ingest_sender(f, "orange.fr", 1, "5.7.1", block, "m2", T0 + H + 1800);
	g_assert_cmpuint(open_incidents(f, T0 + H + 1800), ==, 1);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT opened - first_seen FROM incident"
	    " WHERE provider = 'orange'"), ==, 1800);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT messages FROM incident"), ==, 2);

	/* Two messages further apart than the window: still a candidate. */
	ingest_sender(f, "gmail.com", 1, "5.7.1", "550 5.7.1 blocked", "x1", T0);
	ingest_sender(f, "gmail.com", 1, "5.7.1", "550 5.7.1 blocked", "x2", T0 + 2 * H);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM incident"
	    " WHERE provider = 'gmail.com' AND opened != 0"), ==, 0);
	g_assert_cmpuint(open_incidents(f, T0 + 2 * H), ==, 1);

}

static void
alert_list_free(GPtrArray *a)
{
	g_ptr_array_free(a, TRUE);
}

static GPtrArray *
alert_list_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_alert_free);
}

/* Issue 17: alerts and their deliveries, kept across a reopen. */
static void
test_alerts(struct fixture *f, gconstpointer data)
{
	static const char *const sinks[] = { "webhook", "mail" };
	struct store_alert a = { .id = "0123456789abcdef", .kind = "incident_opened",
	    .subject = "orange", .at = T0, .incident_id = 7, .body = "{\"id\":1}" };
	GPtrArray *got = alert_list_new();
	struct store_alert *g;

	(void)data;
	g_assert_cmpint(store_alert_add(f->s, &a, sinks, 2), ==, 1);
	/* the same id again: nothing changes */
	a.at = T0 + 5;
	g_assert_cmpint(store_alert_add(f->s, &a, sinks, 1), ==, 0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM alert_delivery"), ==, 2);
	/* due at its time, not before */
	g_assert_cmpint(store_alert_due(f->s, T0 - 1, 10, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 0);
	g_assert_cmpint(store_alert_due(f->s, T0, 10, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 2);
	g = got->pdata[0];
	g_assert_cmpstr(g->id, ==, "0123456789abcdef");
	g_assert_cmpint(g->at, ==, T0);
	g_assert_cmpint(g->incident_id, ==, 7);
	g_assert_cmpstr(g->body, ==, "{\"id\":1}");
	g_ptr_array_set_size(got, 0);
	/* webhook retried later, mail sent */
	g_assert_cmpint(store_alert_mark(f->s, a.id, "webhook", STORE_ALERT_PENDING, T0 + 60,
	    "HTTP 503"), ==, 0);
	g_assert_cmpint(store_alert_mark(f->s, a.id, "mail", STORE_ALERT_SENT, T0, NULL), ==, 0);
	g_assert_cmpint(store_alert_due(f->s, T0 + 59, 10, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 0);
	/* a reopen (restart) keeps the pending delivery */
	store_close(f->s);
	f->s = tu_open(f->dir, &f->pol, 0);
	g_assert_cmpint(store_alert_due(f->s, T0 + 60, 10, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 1);
	g = got->pdata[0];
	g_assert_cmpstr(g->sink, ==, "webhook");
	g_assert_cmpuint(g->attempts, ==, 1);
	g_assert_cmpstr(g->error, ==, "HTTP 503");
	g_ptr_array_set_size(got, 0);
	/* an event without sinks is listed with none */
	memcpy(a.id, "fedcba9876543210", sizeof(a.id));
	a.kind = "incident_closed";
	a.at = T0 + 100;
	g_assert_cmpint(store_alert_add(f->s, &a, NULL, 0), ==, 1);
	g_assert_cmpint(store_alert_recent(f->s, 10, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 3);
	g_assert_cmpstr(((struct store_alert *)got->pdata[0])->kind, ==, "incident_closed");
	g_assert_null(((struct store_alert *)got->pdata[0])->sink);
	g_assert_cmpstr(((struct store_alert *)got->pdata[1])->sink, ==, "mail");
	g_assert_cmpint(((struct store_alert *)got->pdata[1])->state, ==, STORE_ALERT_SENT);
	g_ptr_array_set_size(got, 0);
	g_assert_cmpint(store_alert_recent(f->s, 1, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 1);
	alert_list_free(got);
}

/* Issue 17: hard bounces of one sender over the threshold are a surge. */
static void
test_surges(struct fixture *f, gconstpointer data)
{
	GPtrArray *got = g_ptr_array_new();

	(void)data;
	for (int i = 0; i < 5; i++) {
		struct report *r = tu_report();
		char rcpt[64], tag[16];

		g_snprintf(rcpt, sizeof(rcpt), "old%d@example.com", i);
		g_snprintf(tag, sizeof(tag), "s%d", i);
		tu_add(r, rcpt, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS, REPORT_REASON_USERUNKNOWN,
		    "5.1.1", "550 5.1.1 no such user");
		r->orig_sender = g_strdup(i < 4 ? "news@app.example" : "other@app.example");
		tu_ingest(f->s, r, tag, T0 + i, f->changes);
		report_free(r);
	}
	g_assert_cmpint(store_alert_surges(f->s, T0, 4, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 1);
	g_assert_cmpstr(((struct store_count *)got->pdata[0])->name, ==, "hard:news@app.example");
	g_assert_cmpuint(((struct store_count *)got->pdata[0])->n, ==, 4);
	for (guint i = 0; i < got->len; i++) {
		g_free(((struct store_count *)got->pdata[i])->name);
		g_free(got->pdata[i]);
	}
	g_ptr_array_set_size(got, 0);
	/* out of the window: none */
	g_assert_cmpint(store_alert_surges(f->s, T0 + 10, 4, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 0);
	g_ptr_array_free(got, TRUE);
}

static void
test_manual(struct fixture *f, gconstpointer data)
{
	struct store_manual m[2];
	struct store_entry e;

	(void)data;
	ingest1(f, "x@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "h1", T0);
	g_assert_cmpint(fx_check(f, "x@example.com", T0), ==, STORE_CAUSE_HARD);

	/* Unsuppress: lifted, audited with who and why. */
	g_assert_cmpint(store_unsuppress(f->s, "X@Example.com", "customer says it works",
	    "uid=0 (root)", T0 + D, f->changes), ==, 1);
	g_assert_cmpuint(fx_apply(f), ==, 1);
	g_assert_cmpint(fx_check(f, "x@example.com", T0 + D), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(store_unsuppress(f->s, "x@example.com", "again", "uid=0 (root)",
	    T0 + D, f->changes), ==, 0);
	g_assert_cmpint(store_unsuppress(f->s, "never@example.com", "n", "uid=0 (root)",
	    T0 + D, f->changes), ==, 0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit WHERE action = 'unsuppress'"
	    " AND target = 'x@example.com' AND actor = 'uid=0 (root)'"
	    " AND note = 'customer says it works'"), ==, 1);

	/* A later hard bounce suppresses again. */
	ingest1(f, "x@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "h2", T0 + 2 * D);
	g_assert_cmpint(fx_check(f, "x@example.com", T0 + 2 * D), ==, STORE_CAUSE_HARD);

	/* Manual suppress of an address and a domain, with an expiry. */
	memset(m, 0, sizeof(m));
	m[0].target = "y@example.org";
	m[0].cause = STORE_CAUSE_MANUAL;
	m[0].reason = REPORT_REASON_UNDEFINED;
	m[0].until = T0 + 10 * D;
	m[0].note = "asked by the customer";
	m[0].actor = "uid=1000 (admin)";
	m[1].target = "@Spam-Trap.example";
	m[1].cause = STORE_CAUSE_MANUAL;
	m[1].reason = REPORT_REASON_UNDEFINED;
	m[1].actor = "uid=1000 (admin)";
	g_assert_cmpint(store_suppress(f->s, m, 2, T0, f->changes), ==, 0);
	g_assert_cmpuint(fx_apply(f), ==, 2);
	g_assert_cmpint(fx_check(f, "y@example.org", T0 + 9 * D), ==, STORE_CAUSE_MANUAL);
	g_assert_cmpint(fx_check(f, "y@example.org", T0 + 10 * D), ==, STORE_CAUSE_NONE);
	g_assert_cmpint(fx_check(f, "anyone@spam-trap.example", T0 + 100 * D), ==,
	    STORE_CAUSE_MANUAL);
	g_assert_cmpint(store_get(f->s, "@spam-trap.example", &e), ==, 1);
	g_assert_cmpint(e.v.domain, ==, 1);
	g_assert_cmpstr(e.source, ==, "manual");
	g_assert_cmpstr(e.rule, ==, "manual-suppress");
	store_entry_clear(&e);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit WHERE action = 'suppress'"),
	    ==, 2);

	/* Two unsuppress (the second one found nothing to lift, still audited), two suppress. */
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit"), ==, 4);
	/* The audit log refuses deletes. */
	g_assert_cmpint(tu_sql_exec(f->dir, "DELETE FROM audit"), !=, SQLITE_OK);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit"), ==, 4);

	/* Bad input: nothing written, the batch rolled back whole. */
	m[1].target = "not an address";
	g_assert_cmpint(store_suppress(f->s, m, 2, T0, f->changes), ==, -1);
	g_assert_cmpint(store_errcode(f->s), ==, STORE_ERR_INVALID);
	g_assert_nonnull(strstr(store_errmsg(f->s), "invalid address"));
	g_assert_cmpuint(f->changes->len, ==, 0);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit"), ==, 4);

	/* Unsuppress a domain entry. */
	g_assert_cmpint(store_unsuppress(f->s, "@spam-trap.example", "mistake", "uid=0",
	    T0 + D, f->changes), ==, 1);
	fx_apply(f);
	g_assert_cmpint(fx_check(f, "anyone@spam-trap.example", T0 + D), ==, STORE_CAUSE_NONE);
}

static int
list_cb(const struct store_entry *e, void *ud)
{
	g_ptr_array_add(ud, g_strdup_printf("%s %s", e->address, store_cause_name(e->v.cause)));
	return 0;
}

static void
test_list_readonly(struct fixture *f, gconstpointer data)
{
	struct store *ro;
	struct store_filter flt;
	GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
	struct store_index *idx2;

	(void)data;
	ingest1(f, "c@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "l1", T0);
	ingest1(f, "a@example.com", REPORT_CLASS_COMPLAINT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_FEEDBACK, "", "l2", T0);
	ingest1(f, "b@example.org", REPORT_CLASS_SOFT, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_MAILBOXFULL, "4.2.2", "l3", T0);

	/* The daemon's loop reads through a read-only connection. */
	ro = tu_open(f->dir, &f->pol, 1);
	memset(&flt, 0, sizeof(flt));
	flt.reason = -1;
	flt.scope = -1;
	g_assert_cmpint(store_list(ro, &flt, T0, list_cb, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 3);
	g_assert_cmpstr(got->pdata[0], ==, "a@example.com complaint");
	g_assert_cmpstr(got->pdata[1], ==, "b@example.org none");
	g_assert_cmpstr(got->pdata[2], ==, "c@example.com hard");

	g_ptr_array_set_size(got, 0);
	flt.suppressed_only = 1;
	flt.domain = "example.com";
	g_assert_cmpint(store_list(ro, &flt, T0, list_cb, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 2);

	/* Keyset paging. */
	g_ptr_array_set_size(got, 0);
	flt.limit = 1;
	flt.after = "a@example.com";
	g_assert_cmpint(store_list(ro, &flt, T0, list_cb, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 1);
	g_assert_cmpstr(got->pdata[0], ==, "c@example.com hard");

	/* Filters by cause. */
	g_ptr_array_set_size(got, 0);
	memset(&flt, 0, sizeof(flt));
	flt.reason = -1;
	flt.scope = -1;
	flt.cause_mask = 1u << STORE_CAUSE_COMPLAINT;
	g_assert_cmpint(store_list(ro, &flt, T0, list_cb, got), ==, 0);
	g_assert_cmpuint(got->len, ==, 1);

	/* It cannot write. */
	g_assert_cmpint(store_unsuppress(ro, "c@example.com", "n", "a", T0, NULL), ==, -1);
	g_assert_cmpint(store_errcode(ro), ==, STORE_ERR_READONLY);

	/* load_index through the read-only connection. */
	idx2 = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	g_assert_cmpint(store_load_index(ro, idx2), ==, 0);
	g_assert_cmpuint(store_index_count(idx2), ==, 2);
	store_index_free(idx2);
	store_close(ro);
	g_ptr_array_free(got, TRUE);
}

static void
test_batch(struct fixture *f, gconstpointer data)
{
	struct store_bounce b[100];
	struct report *r[100];
	char *raws[100];

	(void)data;
	/* Group commit: 100 bounces, one transaction, 100 changes. */
	for (int i = 0; i < 100; i++) {
		char rcpt[64];

		g_snprintf(rcpt, sizeof(rcpt), "u%d@example.com", i);
		r[i] = tu_report();
		tu_add(r[i], rcpt, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
		    REPORT_REASON_USERUNKNOWN, "5.1.1", NULL);
		raws[i] = g_strdup_printf("raw %d", i);
		memset(&b[i], 0, sizeof(b[i]));
		b[i].raw = raws[i];
		b[i].raw_len = strlen(raws[i]);
		b[i].report = r[i];
		b[i].received = T0;
	}
	g_assert_cmpint(store_ingest(f->s, b, 100, T0, f->changes), ==, 0);
	g_assert_cmpuint(fx_apply(f), ==, 100);
	g_assert_cmpint(fx_check(f, "u99@example.com", T0), ==, STORE_CAUSE_HARD);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM bounce"), ==, 100);
	for (int i = 0; i < 100; i++) {
		report_free(r[i]);
		g_free(raws[i]);
	}
}

static void
test_literal(struct fixture *f, gconstpointer data)
{
	/* Addresses with SQL metacharacters are bound, never spliced: stored as written. */
	static const char *const addrs[] = {
		"o'brien@example.ie",
		"\"Robert'); DROP TABLE addr;--\"@example.com",
		"x%_y@example.com",
		"\"a\\\"b\"@example.com",
	};
	static const char *const want[] = {
		"o'brien@example.ie",
		"\"robert'); drop table addr;--\"@example.com",
		"x%_y@example.com",
		"\"a\\\"b\"@example.com",
	};

	(void)data;
	for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
		struct store_manual m = { .target = addrs[i], .cause = STORE_CAUSE_MANUAL,
		    .reason = REPORT_REASON_UNDEFINED, .actor = "it's me; --" };
		struct store_entry e;
		char tag[8];

		g_assert_cmpint(store_suppress(f->s, &m, 1, T0, f->changes), ==, 0);
		g_assert_cmpint(store_get(f->s, want[i], &e), ==, 1);
		g_assert_cmpstr(e.address, ==, want[i]);
		store_entry_clear(&e);
		g_snprintf(tag, sizeof(tag), "q%zu", i);
		ingest1(f, addrs[i], REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
		    REPORT_REASON_USERUNKNOWN, "5.1.1", tag, T0);
		g_assert_cmpint(fx_check(f, addrs[i], T0), ==, STORE_CAUSE_MANUAL);
	}
	/* The tables are all there and hold exactly these rows. */
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM addr"), ==, 4);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM event"), ==, 4);
	g_assert_cmpint(tu_sql_int(f->dir, "SELECT count(*) FROM audit WHERE actor = 'it''s me; --'"),
	    ==, 4);
	/* A LIKE wildcard in a domain filter is a literal. */
	{
		struct store_filter flt = { .reason = -1, .scope = -1, .domain = "%" };
		GPtrArray *got = g_ptr_array_new_with_free_func(g_free);

		g_assert_cmpint(store_list(f->s, &flt, T0, list_cb, got), ==, 0);
		g_assert_cmpuint(got->len, ==, 0);
		g_ptr_array_free(got, TRUE);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/store/" name, struct fixture, NULL, fx_setup, fn, fx_teardown)
	ADD("hard", test_hard);
	ADD("idempotent", test_idempotent);
	ADD("soft-window", test_soft_window);
	ADD("incidents", test_incidents);
	ADD("incident-quiet", test_incident_quiet);
	ADD("alerts", test_alerts);
	ADD("surges", test_surges);
	ADD("manual", test_manual);
	ADD("list-readonly", test_list_readonly);
	ADD("batch", test_batch);
	ADD("literal", test_literal);
#undef ADD
	return g_test_run();
}
