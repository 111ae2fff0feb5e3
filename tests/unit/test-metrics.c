/* SPDX-License-Identifier: MIT */
/*
 * test-metrics.c - bounced/metrics.c without a daemon: histogram buckets at
 * their bounds, label escaping, what a message, a duplicate, a failure and
 * index changes count; and cfg_parse_listen(), the metrics.http parser.
 * The text format as a whole is checked by tests/ecosystem/test_metrics.py
 * against a running daemon.
 */
#include <string.h>
#include <glib.h>

#include "config.h"
#include "metrics.h"
#include "report.h"
#include "store.h"

static void
snapshot(struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->version = "9.9";
	s->start_time = 1000;
	s->now = 1042;
}

static GString *
render(const struct metrics *m, const struct metrics_snapshot *s)
{
	GString *out = g_string_new(NULL);

	metrics_render(m, s, out);
	return out;
}

static void
want_line(const GString *text, const char *line)
{
	gchar *needle = g_strdup_printf("\n%s\n", line);

	if (strstr(text->str, needle) == NULL)
		g_error("no line \"%s\" in:\n%s", line, text->str);
	g_free(needle);
}

static void
want_no(const GString *text, const char *part)
{
	if (strstr(text->str, part) != NULL)
		g_error("unexpected \"%s\" in:\n%s", part, text->str);
}

static void
test_histogram(void)
{
	struct metrics *m = metrics_new();
	struct metrics_snapshot s;
	GString *t;

	snapshot(&s);
	metrics_commit(m, 1, 0, 500);           /* 0.0005 s: le="0.0005" (bounds are inclusive) */
	metrics_commit(m, 3, 0, 600);           /* 0.0006 */
	metrics_commit(m, 1, 1, 3000000);       /* 3 s */
	metrics_commit(m, 2, 0, 10000000);      /* 10 s: +Inf only */
	metrics_commit(m, 0, 0, 1);             /* no bounce: not a bounce transaction */
	t = render(m, &s);
	want_line(t, "bounced_store_commit_seconds_bucket{le=\"0.0005\"} 1");
	want_line(t, "bounced_store_commit_seconds_bucket{le=\"0.001\"} 2");
	want_line(t, "bounced_store_commit_seconds_bucket{le=\"2\"} 2");
	want_line(t, "bounced_store_commit_seconds_bucket{le=\"5\"} 3");
	want_line(t, "bounced_store_commit_seconds_bucket{le=\"+Inf\"} 4");
	want_line(t, "bounced_store_commit_seconds_count 4");
	want_line(t, "bounced_store_commit_seconds_sum 13.001100000");
	want_line(t, "# TYPE bounced_store_commit_seconds histogram");
	want_line(t, "bounced_uptime_seconds 42");
	g_string_free(t, TRUE);
	metrics_free(m);
	metrics_free(NULL);
}

static void
test_labels(void)
{
	struct metrics *m = metrics_new();
	struct metrics_snapshot s;
	GString *t;

	snapshot(&s);
	s.version = "1\"x\\y\nz";
	t = render(m, &s);
	want_line(t, "bounced_build_info{version=\"1\\\"x\\\\y\\nz\"} 1");
	g_string_free(t, TRUE);
	metrics_free(m);
}

static struct report *
report_with(const char *const *addrs, const enum report_class *cls,
    const enum report_reason *rs, unsigned n)
{
	struct report *r = report_new();

	for (unsigned i = 0; i < n; i++) {
		struct report_rcpt *rc = report_rcpt_new(addrs[i]);

		rc->class = cls[i];
		rc->reason = rs[i];
		g_ptr_array_add(r->rcpts, rc);
	}
	return r;
}

static void
test_messages(void)
{
	static const char *const addrs[] = { "a@x.test", "b@x.test", "c@x.test" };
	static const enum report_class cls[] = { REPORT_CLASS_HARD, REPORT_CLASS_HARD,
	    REPORT_CLASS_SOFT };
	static const enum report_reason rs[] = { REPORT_REASON_USERUNKNOWN,
	    REPORT_REASON_USERUNKNOWN, REPORT_REASON_MAILBOXFULL };
	struct metrics *m = metrics_new();
	struct metrics_snapshot s;
	struct report *r = report_with(addrs, cls, rs, 3), *empty = report_new();
	GString *t;

	snapshot(&s);
	metrics_lmtp_message(m, r, 1, 0, 0.003);        /* stored */
	metrics_lmtp_message(m, r, 1, 1, 0.001);        /* duplicate: not counted again */
	metrics_lmtp_message(m, r, 0, 0, 0.002);        /* failed: 451 */
	metrics_lmtp_message(m, empty, 1, 0, 0.001);    /* nothing recognised */
	metrics_lmtp_tempfail(m, METRICS_TEMPFAIL_STORE);      /* no store yet: 451 */
	metrics_lmtp_session(m, METRICS_SESSION_ACCEPTED);
	metrics_lmtp_session(m, METRICS_SESSION_ACCEPTED);
	metrics_lmtp_session(m, METRICS_SESSION_REFUSED_BUSY);
	t = render(m, &s);
	want_line(t, "bounced_bounce_recipients_total{class=\"hard\",reason=\"userunknown\"} 2");
	want_line(t, "bounced_bounce_recipients_total{class=\"soft\",reason=\"mailboxfull\"} 1");
	want_no(t, "class=\"complaint\"");
	want_line(t, "bounced_lmtp_unrecognised_total 1");
	/* one owner for message counts: the failed ones are the 451s of both reasons */
	want_line(t, "bounced_lmtp_messages_total{result=\"stored\"} 2");
	want_line(t, "bounced_lmtp_messages_total{result=\"duplicate\"} 1");
	want_line(t, "bounced_lmtp_messages_total{result=\"failed\"} 2");
	want_line(t, "bounced_lmtp_tempfail_total{reason=\"store\"} 2");
	want_no(t, "reason=\"memory\"");
	want_line(t, "bounced_lmtp_ingest_seconds_count 4");
	want_line(t, "bounced_lmtp_ingest_seconds_bucket{le=\"0.001\"} 2");
	want_line(t, "bounced_lmtp_sessions_total{result=\"accepted\"} 2");
	want_line(t, "bounced_lmtp_sessions_total{result=\"too_many_connections\"} 1");
	want_line(t, "bounced_lmtp_sessions_total{result=\"shutting_down\"} 0");
	/* the recipients of the one stored message with recipients, by source */
	want_line(t, "bounced_events_total{source=\"lmtp\"} 3");
	g_string_free(t, TRUE);
	report_free(r);
	report_free(empty);
	metrics_free(m);
}

/* Postfix's log (issue 16): lines by result, events by source. */
static void
test_log_lines(void)
{
	struct metrics *m = metrics_new();
	struct metrics_snapshot s;
	GString *t;

	snapshot(&s);
	metrics_log_lines(m, METRICS_LOG_SENT, 5);
	metrics_log_lines(m, METRICS_LOG_DEFERRED, 3);
	metrics_log_lines(m, METRICS_LOG_DEFERRED, 1);
	metrics_log_lines(m, METRICS_LOG_BOUNCED, 2);
	metrics_log_lines(m, METRICS_LOG_DUPLICATE, 7);
	metrics_log_lines(m, METRICS_LOG_MALFORMED, 1);
	metrics_log_lines(m, METRICS_LOG_COUNT, 99);    /* out of range: ignored */
	t = render(m, &s);
	want_line(t, "bounced_log_lines_total{result=\"sent\"} 5");
	want_line(t, "bounced_log_lines_total{result=\"deferred\"} 4");
	want_line(t, "bounced_log_lines_total{result=\"duplicate\"} 7");
	want_line(t, "bounced_log_lines_total{result=\"twin\"} 0");
	want_line(t, "bounced_log_lines_total{result=\"malformed\"} 1");
	/* duplicates and malformed lines are not events */
	want_line(t, "bounced_events_total{source=\"log\"} 11");
	want_line(t, "bounced_events_total{source=\"lmtp\"} 0");
	g_string_free(t, TRUE);
	metrics_free(m);
}

static void
test_changes(void)
{
	struct metrics *m = metrics_new();
	struct metrics_snapshot s;
	GArray *ch = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	struct store_change c;
	GString *t;

	memset(&c, 0, sizeof(c));
	c.v.cause = STORE_CAUSE_HARD;
	g_array_append_val(ch, c);
	g_array_append_val(ch, c);
	c.v.cause = STORE_CAUSE_MANUAL;
	g_array_append_val(ch, c);
	c.v.cause = STORE_CAUSE_NONE;
	g_array_append_val(ch, c);
	metrics_changes(m, ch);
	metrics_changes(m, NULL);
	snapshot(&s);
	s.queries = 10;
	s.queries_suppressed = 3;
	s.query_errors = 2;
	s.socketmap_requests = 7;
	s.socketmap_found = 4;
	s.socketmap_signed = 1;
	t = render(m, &s);
	want_line(t, "bounced_suppressions_total{cause=\"hard\"} 2");
	want_line(t, "bounced_suppressions_total{cause=\"manual\"} 1");
	want_line(t, "bounced_suppressions_total{cause=\"import\"} 0");
	want_line(t, "bounced_suppressions_lifted_total 1");
	want_line(t, "bounced_queries_total{result=\"ok\"} 5");
	want_line(t, "bounced_queries_total{result=\"suppressed\"} 3");
	want_line(t, "bounced_queries_total{result=\"err\"} 2");
	want_line(t, "bounced_socketmap_requests_total{result=\"signed\"} 1");
	want_line(t, "bounced_socketmap_requests_total{result=\"other\"} 2");
	g_string_free(t, TRUE);
	g_array_free(ch, TRUE);
	metrics_free(m);
}

static void
test_listen(void)
{
	static const struct {
		const char *in;
		int ok;
		const char *host;
		unsigned port;
		int loopback;
	} cases[] = {
		{ "127.0.0.1:9187", 1, "127.0.0.1", 9187, 1 },
		{ "127.9.8.7:1", 1, "127.9.8.7", 1, 1 },
		{ "localhost:65535", 1, "127.0.0.1", 65535, 1 },
		{ "[::1]:9187", 1, "::1", 9187, 1 },
		{ "0.0.0.0:9187", 1, "0.0.0.0", 9187, 0 },
		{ "192.0.2.7:80", 1, "192.0.2.7", 80, 0 },
		{ "[2001:db8::1]:9187", 1, "2001:db8::1", 9187, 0 },
		{ "[::]:9187", 1, "::", 9187, 0 },
		{ "127.0.0.1", 0, NULL, 0, 0 },
		{ "127.0.0.1:", 0, NULL, 0, 0 },
		{ "127.0.0.1:0", 0, NULL, 0, 0 },
		{ "127.0.0.1:65536", 0, NULL, 0, 0 },
		{ "127.0.0.1:9x", 0, NULL, 0, 0 },
		{ ":9187", 0, NULL, 0, 0 },
		{ "::1:9187", 0, NULL, 0, 0 },
		{ "[::1]9187", 0, NULL, 0, 0 },
		{ "[127.0.0.1]:9187", 0, NULL, 0, 0 },
		{ "metrics.example:9187", 0, NULL, 0, 0 },
		{ "1.2.3:9187", 0, NULL, 0, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char host[64] = "", err[256] = "";
		unsigned port = 0;
		int loop = -1, ok = cfg_parse_listen(cases[i].in, host, &port, &loop, err);

		if (ok != cases[i].ok)
			g_error("%s: got %d (%s) want %d", cases[i].in, ok, err, cases[i].ok);
		if (!ok) {
			g_assert_cmpstr(err, !=, "");
			continue;
		}
		g_assert_cmpstr(host, ==, cases[i].host);
		g_assert_cmpuint(port, ==, cases[i].port);
		g_assert_cmpint(loop, ==, cases[i].loopback);
	}
}

static void
test_config(void)
{
	static const struct {
		const char *yaml;
		const char *err;        /* NULL: valid */
	} cases[] = {
		{ "metrics:\n  http: \"127.0.0.1:9187\"\n", NULL },
		{ "metrics:\n  http:\n", NULL },
		{ "metrics:\n  http: 0.0.0.0:9\n  allow_non_loopback: true\n", NULL },
		{ "metrics:\n  http: 0.0.0.0:9\n",
		  "t.yaml:2: metrics.http: 0.0.0.0 is not a loopback address" },
		{ "metrics:\n  allow_non_loopback: true\n  http: \"10.0.0.1:99999\"\n",
		  "t.yaml:3: metrics.http: \"10.0.0.1:99999\": the port must be a number" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char err[512] = "";
		struct config *c = cfg_load_buffer(cases[i].yaml, strlen(cases[i].yaml), "t.yaml", "/tmp",
		    NULL, err);

		if (cases[i].err == NULL) {
			if (c == NULL)
				g_error("case %zu: %s", i, err);
		} else if (c != NULL || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0) {
			g_error("case %zu: got \"%s\" want \"%s...\"", i, err, cases[i].err);
		}
		cfg_free(c);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metrics/histogram", test_histogram);
	g_test_add_func("/metrics/labels", test_labels);
	g_test_add_func("/metrics/messages", test_messages);
	g_test_add_func("/metrics/changes", test_changes);
	g_test_add_func("/metrics/log-lines", test_log_lines);
	g_test_add_func("/metrics/listen", test_listen);
	g_test_add_func("/metrics/config", test_config);
	return g_test_run();
}
