/* SPDX-License-Identifier: MIT */
/*
 * test-store-log.c - store/log.c on a real SQLite file: log lines counted
 * once, deferrals folded into soft counts and incidents, a sent line
 * resetting the soft count, a bounced line and its DSN counted once in
 * either order, the sent map (lookup, expiry, bound) and the source's
 * position saved with the lines.  Lines are parsed by parser/postfix-log.c.
 */
#include <stdio.h>
#include <string.h>

#include "test-store-util.h"

/* A batch of lines (NULL-terminated) ingested at now; returns the batch's counters. */
static struct store_log_batch
feed(struct store *s, const char *const *lines, time_t now, const struct store_logpos *pos)
{
	GArray *ents = g_array_new(FALSE, TRUE, sizeof(struct report_log_entry));
	struct store_log_batch b;

	for (size_t i = 0; lines[i] != NULL; i++) {
		struct report_log_entry e;

		if (report_log_parse(lines[i], strlen(lines[i]), now, &e) == 1)
			g_array_append_val(ents, e);
		else
			g_error("line %zu not parsed: %s", i, lines[i]);
	}
	memset(&b, 0, sizeof(b));
	b.entries = (const struct report_log_entry *)(void *)ents->data;
	b.n = ents->len;
	b.pos = pos;
	b.sent_ttl = 7 * D;
	b.sent_max = 3;
	if (store_log_ingest(s, &b, now, NULL) != 0)
		g_error("store_log_ingest: %s", store_errmsg(s));
	g_array_free(ents, TRUE);
	return b;
}

static struct store_policy
policy(void)
{
	struct store_policy p;

	store_policy_default(&p);
	p.soft_min_span = 0;
	return p;
}

#define DEFER(qid, rcpt, time) "Dec  5 " time " mx postfix/smtp[1]: " qid ": to=<" rcpt ">, " \
	"relay=mx.remote.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, " \
	"status=deferred (host mx.remote.example[192.0.2.1] said: 452 4.2.2 Mailbox full " \
	"(in reply to RCPT TO command))"
#define SENT(qid, rcpt, time) "Dec  5 " time " mx postfix/smtp[1]: " qid ": to=<" rcpt ">, " \
	"relay=mx.remote.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, " \
	"status=sent (250 2.0.0 Ok)"
#define TSS04(qid, rcpt, time) "Dec  5 " time " mx postfix/smtp[1]: " qid ": to=<" rcpt ">, " \
	"relay=mx.yahoo.example[192.0.2.2]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, " \
	"status=deferred (host mx.yahoo.example[192.0.2.2] said: 421 4.7.0 [TSS04] Messages from " \
	"192.0.2.9 temporarily deferred due to unexpected volume or user complaints)"
#define HARD(qid, rcpt, time) "Dec  5 " time " mx postfix/smtp[1]: " qid ": to=<" rcpt ">, " \
	"relay=mx.remote.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, " \
	"status=bounced (host mx.remote.example[192.0.2.1] said: 550 5.1.1 User unknown " \
	"(in reply to RCPT TO command))"

static const time_t NOW = 1796480000;   /* 2026-12-05 */

static void
test_soft_and_reset(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	const char *l1[] = { "Dec  5 10:00:00 mx postfix/cleanup[2]: AAA1: message-id=<m1@app.example>",
		"Dec  5 10:00:00 mx postfix/qmgr[3]: AAA1: from=<news@app.example>, size=10, nrcpt=1",
		DEFER("AAA1", "full@remote.example", "10:00:01"),
		DEFER("AAA1", "full@remote.example", "10:05:01"), NULL };
	const char *again[] = { DEFER("AAA1", "full@remote.example", "10:05:01"), NULL };
	const char *sent[] = { SENT("AAA1", "full@remote.example", "10:10:01"),
		SENT("BBB2", "nobody-knows@remote.example", "10:10:02"), NULL };
	struct store_log_batch b;
	struct store_entry e;
	struct store_show sh;

	b = feed(s, l1, NOW, NULL);
	g_assert_cmpuint(b.counted[REPORT_LOG_STATUS_DEFERRED], ==, 2);
	g_assert_cmpuint(b.sent_map, ==, 2);
	g_assert_cmpint(store_get(s, "full@remote.example", &e), ==, 1);
	g_assert_cmpuint(e.soft_count, ==, 2);
	g_assert_cmpstr(e.source, ==, "log");   /* where the state came from */
	store_entry_clear(&e);
	/* the same line read again: not counted */
	b = feed(s, again, NOW, NULL);
	g_assert_cmpuint(b.duplicates, ==, 1);
	g_assert_cmpuint(b.counted[REPORT_LOG_STATUS_DEFERRED], ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE source = 'log'"), ==, 2);
	/*
	 * two attempts of one message whose lines carry the same second (the
	 * logger late under load): their delay= differs, both count
	 */
	{
		const char *same_second[] = {
			"Dec  5 10:07:00 mx postfix/smtp[1]: AAA9: to=<other@remote.example>, "
			"relay=mx.remote.example[192.0.2.1]:25, delay=419, delays=0/0/0/1, dsn=4.2.2, "
			"status=deferred (452 4.2.2 Mailbox full)",
			"Dec  5 10:07:00 mx postfix/smtp[4]: AAA9: to=<other@remote.example>, "
			"relay=mx.remote.example[192.0.2.1]:25, delay=420, delays=0/0/0/1, dsn=4.2.2, "
			"status=deferred (452 4.2.2 Mailbox full)", NULL };

		b = feed(s, same_second, NOW, NULL);
		g_assert_cmpuint(b.duplicates, ==, 0);
		g_assert_cmpuint(b.counted[REPORT_LOG_STATUS_DEFERRED], ==, 2);
		b = feed(s, same_second, NOW, NULL);   /* read twice: counted once */
		g_assert_cmpuint(b.duplicates, ==, 2);
	}
	/* the events name the queue ID and the sender of the sent map */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE queue_id = 'AAA1' AND "
	    "sender = 'news@app.example'"), ==, 2);
	g_assert_cmpint(store_show(s, "full@remote.example", 0, &sh), ==, 1);
	g_assert_cmpuint(sh.events->len, ==, 2);
	g_assert_cmpstr(((struct store_event *)g_ptr_array_index(sh.events, 0))->source, ==, "log");
	store_show_clear(&sh);
	/* delivered: the soft count is reset, last delivered recorded; an unknown address gets no row */
	b = feed(s, sent, NOW, NULL);
	g_assert_cmpuint(b.counted[REPORT_LOG_STATUS_SENT], ==, 2);
	g_assert_cmpint(store_get(s, "full@remote.example", &e), ==, 1);
	g_assert_cmpuint(e.soft_count, ==, 0);
	g_assert_cmpint(e.last_delivered, >, 0);
	store_entry_clear(&e);
	g_assert_cmpint(store_get(s, "nobody-knows@remote.example", &e), ==, 0);
	store_close(s);
	tu_rmdir(dir);
}

static void
test_incident(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	const char *l[] = { TSS04("CCC1", "a@yahoo.example", "10:00:01"),
		TSS04("CCC2", "b@yahoo.example", "10:00:02"), NULL };
	GPtrArray *inc = g_ptr_array_new_with_free_func((GDestroyNotify)store_incident_free);
	struct store_entry e;

	feed(s, l, NOW, NULL);
	g_assert_cmpint(store_incidents(s, NOW, 1, inc), ==, 0);
	g_assert_cmpuint(inc->len, ==, 1);
	g_assert_cmpstr(((struct store_incident *)g_ptr_array_index(inc, 0))->provider, ==,
	    "yahoo.example");
	g_assert_cmpuint(((struct store_incident *)g_ptr_array_index(inc, 0))->count, ==, 2);
	/* sender scope: the addresses are untouched */
	g_assert_cmpint(store_get(s, "a@yahoo.example", &e), ==, 0);
	/* one message's recipients are one message: below incident_min_messages (2) */
	{
		const char *one[] = { TSS04("DDD1", "a@ymail.example", "10:00:01"),
			TSS04("DDD1", "b@ymail.example", "10:00:01"), NULL };

		feed(s, one, NOW, NULL);
		g_assert_cmpint(tu_sql_int(dir, "SELECT opened FROM incident WHERE provider = "
		    "'ymail.example'"), ==, 0);
	}
	g_ptr_array_free(inc, TRUE);
	store_close(s);
	tu_rmdir(dir);
}

/* A DSN for queue ID qid and rcpt, as the parser reports Postfix's. */
static void
dsn(struct store *s, const char *qid, const char *rcpt, const char *tag, time_t t)
{
	struct report *r = tu_report();
	struct report_rcpt *rc = tu_add(r, rcpt, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 User unknown");

	(void)rc;
	r->orig_queue_id = g_strdup(qid);
	tu_ingest(s, r, tag, t, NULL);
	report_free(r);
}

static void
test_one_failure(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	const char *l1[] = { HARD("DDD1", "gone@remote.example", "10:00:01"), NULL };
	const char *l2[] = { HARD("DDD2", "gone2@remote.example", "10:00:01"), NULL };
	struct store_log_batch b;

	/* log first, then the DSN: the DSN's event is the twin */
	b = feed(s, l1, NOW, NULL);
	g_assert_cmpuint(b.counted[REPORT_LOG_STATUS_BOUNCED], ==, 1);
	g_assert_cmpuint(b.twins, ==, 0);
	dsn(s, "DDD1", "gone@remote.example", "dsn1", NOW + 1);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE address = "
	    "'gone@remote.example' AND twin_of IS NULL"), ==, 1);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE address = "
	    "'gone@remote.example' AND twin_of IS NOT NULL AND source IS NULL"), ==, 1);
	/* the DSN first, then the log line: the log's event is the twin */
	dsn(s, "DDD2", "gone2@remote.example", "dsn2", NOW + 2);
	b = feed(s, l2, NOW, NULL);
	g_assert_cmpuint(b.twins, ==, 1);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE address = "
	    "'gone2@remote.example' AND twin_of IS NOT NULL AND source = 'log'"), ==, 1);
	/* another queue ID is another failure */
	dsn(s, "EEE9", "gone2@remote.example", "dsn3", NOW + 3);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event WHERE address = "
	    "'gone2@remote.example' AND twin_of IS NULL"), ==, 2);
	/* stats count a failure once: 5 events, 2 of them twins */
	{
		struct store_stats st;

		g_assert_cmpint(store_stats(s, 0, NOW + 3600, NOW, 0, &st), ==, 0);
		g_assert_cmpuint(st.events, ==, 3);
		store_stats_clear(&st);
	}
	store_close(s);
	tu_rmdir(dir);
}

static void
test_sent_map_and_position(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol = policy();
	struct store *s = tu_open(dir, &pol, 0);
	const char *l[] = { "Dec  5 10:00:00 mx postfix/cleanup[2]: Q1: message-id=<one@app.example>",
		"Dec  5 10:00:00 mx postfix/qmgr[3]: Q1: from=<app@app.example>, size=1, nrcpt=1",
		"Dec  5 10:00:01 mx postfix/cleanup[2]: Q2: message-id=<two@app.example>",
		"Dec  5 10:00:02 mx postfix/cleanup[2]: Q3: message-id=<three@app.example>",
		"Dec  5 10:00:03 mx postfix/cleanup[2]: Q4: message-id=<four@app.example>", NULL };
	struct store_logpos pos, got;
	struct store_sent_msg r;

	memset(&pos, 0, sizeof(pos));
	g_strlcpy(pos.name, "file:/var/log/mail.log", sizeof(pos.name));
	pos.inode = 42;
	pos.offset = 12345;
	g_strlcpy(pos.hash, "abcdef", sizeof(pos.hash));
	g_assert_cmpint(store_logpos_get(s, pos.name, &got), ==, 0);
	feed(s, l, NOW, &pos);
	g_assert_cmpint(store_logpos_get(s, pos.name, &got), ==, 1);
	g_assert_cmpint(got.inode, ==, 42);
	g_assert_cmpint(got.offset, ==, 12345);
	g_assert_cmpstr(got.hash, ==, "abcdef");
	/* bounded at sent_max = 3: the oldest (Q1) went */
	g_assert_cmpint(store_sent_get(s, "Q1", NULL, &r), ==, 0);
	g_assert_cmpint(store_sent_get(s, NULL, "three@app.example", &r), ==, 1);
	g_assert_cmpstr(r.queue_id, ==, "Q3");
	g_assert_cmpint(store_sent_get(s, "Q4", NULL, &r), ==, 1);
	g_assert_cmpstr(r.message_id, ==, "four@app.example");
	g_assert_cmpint(store_sent_get(s, "nope", "two@app.example", &r), ==, 1);
	g_assert_cmpstr(r.queue_id, ==, "Q2");
	g_assert_cmpint(store_sent_get(s, NULL, NULL, &r), ==, 0);
	/* the trust check's question (store_sent_lookup: message-id first) */
	g_assert_cmpint(store_sent_lookup(s, "three@app.example", NULL), ==, STORE_SENT_YES);
	g_assert_cmpint(store_sent_lookup(s, "never@app.example", NULL), ==, STORE_SENT_UNKNOWN);
	g_assert_cmpint(store_sent_lookup(NULL, "three@app.example", NULL), ==, STORE_SENT_UNKNOWN);
	/* expired after sent_ttl (7 days; pruned at most once a minute) */
	{
		const char *none[] = { NULL };

		feed(s, none, NOW + 8 * D, NULL);
	}
	g_assert_cmpint(store_sent_get(s, "Q4", NULL, &r), ==, 0);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM sent"), ==, 0);
	store_close(s);
	tu_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/store-log/soft-and-reset", test_soft_and_reset);
	g_test_add_func("/store-log/incident", test_incident);
	g_test_add_func("/store-log/one-failure", test_one_failure);
	g_test_add_func("/store-log/sent-map-and-position", test_sent_map_and_position);
	return g_test_run();
}
