/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the daemon's metrics (see metrics.h) and their Prometheus
 * text exposition, over the admin socket (METRICS) and HTTP (evhttp).
 *
 * Every family is one row of the render code below, in a fixed order, with
 * its HELP and TYPE; label values come from fixed name tables (classes,
 * reasons, causes), never from mail, and are escaped anyway.  Counters that
 * belong to a known set of labels (causes, results, refusal reasons) are
 * written with every label, zeros included, so rate() works from the first
 * scrape; the class x reason family only has the pairs seen so far.
 *
 * The HTTP endpoint is a plain evhttp server: loopback only unless the
 * config allows more (checked by config.c), GET/HEAD only, one path,
 * headers capped, a timeout, and a response built from memory without any
 * SQL, so a scraper cannot stall the loop.  libevent 2.1 has no cap on the
 * number of HTTP connections; the listen backlog and the timeout bound
 * them, and the port is not reachable from the network by default.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>

#include "log.h"
#include "metrics.h"
#include "store.h"

#define METRICS_HTTP_TIMEOUT     10              /* seconds for a whole request */
#define METRICS_HTTP_HEADERS_MAX (8 * 1024)      /* bytes of request headers */
#define METRICS_HTTP_BODY_MAX    1024            /* a GET has none */
#define METRICS_HTTP_PATH        "/metrics"
#define METRICS_CONTENT_TYPE     "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds (seconds) of the histogram buckets; +Inf is implied. */
static const double metrics_buckets[] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
};
#define METRICS_BUCKETS G_N_ELEMENTS(metrics_buckets)

struct metrics_histogram {
	uint64_t le[G_N_ELEMENTS(metrics_buckets)]; /* per bucket, not cumulative */
	uint64_t count;                              /* all observations (+Inf) */
	double sum;
};

enum { METRICS_MESSAGE_STORED, METRICS_MESSAGE_DUPLICATE, METRICS_MESSAGE_FAILED };

struct metrics {
	uint64_t sessions[METRICS_SESSION_COUNT];
	uint64_t messages[3];           /* METRICS_MESSAGE_* */
	uint64_t tempfail[METRICS_TEMPFAIL_COUNT];
	uint64_t rcpts[REPORT_CLASS_COUNT][REPORT_REASON_COUNT];
	uint64_t unrecognised;          /* stored messages in which no recipient was found */
	uint64_t lmtp_events;           /* recipients of the stored messages */
	uint64_t log_lines[METRICS_LOG_COUNT];
	uint64_t untrusted[TRUST_TAG_COUNT]; /* by the tag state that made them untrusted */
	uint64_t refusals;              /* messages returning bounced's own refusal */
	uint64_t suppressions[STORE_CAUSE_COUNT];
	uint64_t lifted;
	uint64_t http_requests;
	struct metrics_histogram commit;        /* store transactions of bounces */
	struct metrics_histogram ingest;        /* end of DATA -> replies */
};

struct metrics_http {
	struct metrics *m;
	metrics_snapshot_fn snapshot;
	void *ud;
	struct evhttp *http;
};

static void metrics_observe(struct metrics_histogram *h, double v);
static void metrics_family(GString *out, const char *name, const char *type, const char *help);
static void metrics_value(GString *out, const char *name, const char *type, const char *help,
    uint64_t v);
static void metrics_labelled(GString *out, const char *name, const char *type, const char *help,
    const char *label, const char *const *names, const uint64_t *counts, size_t n);
static void metrics_histogram_render(GString *out, const char *name, const char *help,
    const struct metrics_histogram *h);
static void metrics_http_request(struct evhttp_request *req, void *arg);

struct metrics *
metrics_new(void)
{
	return g_new0(struct metrics, 1);
}

void
metrics_free(struct metrics *m)
{
	g_free(m);
}

static void
metrics_observe(struct metrics_histogram *h, double v)
{
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		if (v <= metrics_buckets[i]) {
			h->le[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

void
metrics_lmtp_session(struct metrics *m, enum metrics_session what)
{
	if ((unsigned)what < METRICS_SESSION_COUNT)
		m->sessions[what]++;
}

void
metrics_lmtp_tempfail(struct metrics *m, enum metrics_tempfail why)
{
	if ((unsigned)why < METRICS_TEMPFAIL_COUNT)
		m->tempfail[why]++;
	m->messages[METRICS_MESSAGE_FAILED]++;
}

void
metrics_lmtp_message(struct metrics *m, const struct report *r, int stored, int duplicate,
    double seconds)
{
	metrics_observe(&m->ingest, seconds);
	if (!stored)
		metrics_lmtp_tempfail(m, METRICS_TEMPFAIL_STORE);
	else
		m->messages[duplicate ? METRICS_MESSAGE_DUPLICATE : METRICS_MESSAGE_STORED]++;
	if (!stored || duplicate)
		return;
	if (r->rcpts->len == 0)
		m->unrecognised++;
	for (guint i = 0; i < r->rcpts->len; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);

		if ((unsigned)rc->class < REPORT_CLASS_COUNT && (unsigned)rc->reason < REPORT_REASON_COUNT)
			m->rcpts[rc->class][rc->reason]++;
	}
	m->lmtp_events += r->rcpts->len;
}

void
metrics_log_lines(struct metrics *m, enum metrics_log what, unsigned n)
{
	if ((unsigned)what < METRICS_LOG_COUNT)
		m->log_lines[what] += n;
}

void
metrics_trust(struct metrics *m, int untrusted, enum trust_tag tag, int refusal)
{
	if (refusal)
		m->refusals++;
	if (untrusted && (unsigned)tag < TRUST_TAG_COUNT)
		m->untrusted[tag]++;
}

void
metrics_changes(struct metrics *m, const GArray *changes)
{
	for (guint i = 0; changes != NULL && i < changes->len; i++) {
		const struct store_change *c = &g_array_index(changes, struct store_change, i);

		if (c->v.cause == STORE_CAUSE_NONE)
			m->lifted++;
		else if ((unsigned)c->v.cause < STORE_CAUSE_COUNT)
			m->suppressions[c->v.cause]++;
	}
}

void
metrics_commit(struct metrics *m, unsigned bounces, unsigned failed, int64_t usec)
{
	(void)failed;
	if (bounces > 0)
		metrics_observe(&m->commit, (double)usec / 1e6);
}

void
metrics_lmtp_messages(const struct metrics *m, uint64_t *stored_r, uint64_t *duplicates_r,
    uint64_t *failed_r)
{
	*stored_r = m->messages[METRICS_MESSAGE_STORED];
	*duplicates_r = m->messages[METRICS_MESSAGE_DUPLICATE];
	*failed_r = m->messages[METRICS_MESSAGE_FAILED];
}

/* "# HELP" and "# TYPE" lines; help is fixed text without '\\' or newlines. */
static void
metrics_family(GString *out, const char *name, const char *type, const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample: "name value". */
static void
metrics_value(GString *out, const char *name, const char *type, const char *help, uint64_t v)
{
	metrics_family(out, name, type, help);
	g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n", name, (guint64)v);
}

/*
 * A family of n samples, one per value of one label: name{label="names[i]"}
 * counts[i].  names are fixed text that needs no escaping.
 */
static void
metrics_labelled(GString *out, const char *name, const char *type, const char *help,
    const char *label, const char *const *names, const uint64_t *counts, size_t n)
{
	metrics_family(out, name, type, help);
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(out, "%s{%s=\"%s\"} %" G_GUINT64_FORMAT "\n", name, label,
		    names[i], (guint64)counts[i]);
}

void
metrics_label(GString *out, const char *value)
{
	g_string_append_c(out, '"');
	for (const char *p = value ? value : ""; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(out, '\\');
		if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

static void
metrics_histogram_render(GString *out, const char *name, const char *help,
    const struct metrics_histogram *h)
{
	uint64_t cum = 0;

	metrics_family(out, name, "histogram", help);
	for (size_t i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->le[i];
		g_string_append_printf(out, "%s_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n", name,
		    metrics_buckets[i], cum);
	}
	g_string_append_printf(out, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name,
	    h->count);
	g_string_append_printf(out, "%s_sum %.9f\n%s_count %" G_GUINT64_FORMAT "\n", name, h->sum,
	    name, h->count);
}

#define U64(x) ((guint64)(x))

void
metrics_render(const struct metrics *m, const struct metrics_snapshot *s, GString *out)
{
	static const char *const session_results[] = { "accepted", "too_many_connections",
	    "shutting_down" };
	static const char *const tempfail_reasons[] = { "store" };
	static const char *const log_results[] = { "sent", "deferred", "bounced", "expired",
	    "duplicate", "twin", "sent_map", "malformed" };
	static const char *const message_results[] = { "stored", "duplicate", "failed" };
	static const char *const event_sources[] = { "lmtp", "log" };
	static const char *const query_results[] = { "ok", "suppressed", "err" };
	static const char *const smap_results[] = { "found", "signed", "other" };
	static const char *const policy_results[] = { "reject", "defer", "error", "dunno" };

	G_STATIC_ASSERT(G_N_ELEMENTS(log_results) == METRICS_LOG_COUNT);
	G_STATIC_ASSERT(G_N_ELEMENTS(message_results) == G_N_ELEMENTS(m->messages));

	metrics_family(out, "bounced_build_info", "gauge", "The running bounced's version (always 1).");
	g_string_append(out, "bounced_build_info{version=");
	metrics_label(out, s->version);
	g_string_append(out, "} 1\n");
	metrics_family(out, "bounced_start_time_seconds", "gauge",
	    "Unix time bounced started.");
	g_string_append_printf(out, "bounced_start_time_seconds %" G_GINT64_FORMAT "\n",
	    s->start_time);
	metrics_family(out, "bounced_uptime_seconds", "gauge", "Seconds since bounced started.");
	g_string_append_printf(out, "bounced_uptime_seconds %" G_GINT64_FORMAT "\n",
	    s->now - s->start_time);

	/* LMTP: where bounces enter */
	metrics_value(out, "bounced_lmtp_sessions", "gauge", "LMTP sessions open now.",
	    s->lmtp_sessions);
	metrics_labelled(out, "bounced_lmtp_sessions_total", "counter",
	    "LMTP connections, by result: accepted, or refused with 421 (too_many_connections, "
	    "shutting_down).", "result", session_results, m->sessions, METRICS_SESSION_COUNT);
	metrics_labelled(out, "bounced_lmtp_messages_total", "counter",
	    "Messages received over LMTP, by result: stored, duplicate (stored before, not counted "
	    "again), failed (answered 451, the MTA retries).", "result", message_results,
	    m->messages, G_N_ELEMENTS(message_results));
	metrics_labelled(out, "bounced_lmtp_tempfail_total", "counter",
	    "Messages answered 451 4.3.0 (kept queued by the MTA), by reason: store (the store "
	    "is unavailable or the commit failed).", "reason", tempfail_reasons, m->tempfail,
	    METRICS_TEMPFAIL_COUNT);
	metrics_value(out, "bounced_lmtp_unrecognised_total", "counter",
	    "Stored messages in which the parser found no recipient (not a bounce, or unknown "
	    "wording; kept for re-evaluation).", m->unrecognised);
	metrics_family(out, "bounced_bounces_untrusted_total", "counter",
	    "Stored messages not trusted to answer mail this server sent (doc/security.md), by "
	    "cause: kept as evidence, never suppress, never open an incident.");
	for (int t = 0; t < TRUST_TAG_COUNT; t++)
		if (t != TRUST_TAG_VALID)
			g_string_append_printf(out, "bounced_bounces_untrusted_total{cause=\"%s\"} %"
			    G_GUINT64_FORMAT "\n", trust_cause_name((enum trust_tag)t),
			    U64(m->untrusted[t]));
	metrics_value(out, "bounced_refusals_total", "counter",
	    "Messages returning bounced's own refusal (mail refused because suppressed): not "
	    "counted as bounces.", m->refusals);
	metrics_family(out, "bounced_bounce_recipients_total", "counter",
	    "Recipients of the stored messages by class (hard, soft, complaint, autoreply, "
	    "delivered, none) and reason; pairs not seen yet are absent.");
	for (int c = 0; c < REPORT_CLASS_COUNT; c++)
		for (int r = 0; r < REPORT_REASON_COUNT; r++)
			if (m->rcpts[c][r] > 0)
				g_string_append_printf(out, "bounced_bounce_recipients_total{class=\"%s\","
				    "reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
				    report_class_name((enum report_class)c),
				    report_reason_name((enum report_reason)r), U64(m->rcpts[c][r]));
	/* Postfix's log (issue 16) */
	metrics_labelled(out, "bounced_log_lines_total", "counter",
	    "Lines of Postfix's log used, by result: sent, deferred, bounced, expired (delivery "
	    "lines counted), duplicate (read before, not counted again), twin (a failure its DSN "
	    "had counted), sent_map (message-id= and from= lines), malformed (skipped).", "result",
	    log_results, m->log_lines, METRICS_LOG_COUNT);
	metrics_labelled(out, "bounced_events_total", "counter",
	    "Delivery events recorded, by source: lmtp (recipients of the stored DSNs), log "
	    "(delivery lines of Postfix's log).", "source", event_sources, (const uint64_t[]){
	    m->lmtp_events, m->log_lines[METRICS_LOG_SENT] + m->log_lines[METRICS_LOG_DEFERRED] +
	    m->log_lines[METRICS_LOG_BOUNCED] + m->log_lines[METRICS_LOG_EXPIRED] },
	    G_N_ELEMENTS(event_sources));
	metrics_histogram_render(out, "bounced_lmtp_ingest_seconds",
	    "Seconds from the end of a message's DATA to its replies: parse, queue, commit and "
	    "index update.", &m->ingest);

	/* the store */
	metrics_family(out, "bounced_suppressions_total", "counter",
	    "Index entries set to suppressed by a commit, by cause: a new suppression, or one "
	    "renewed by a new event (hard, soft, complaint: bounces; manual, import: bouncectl).");
	for (int c = 1; c < STORE_CAUSE_COUNT; c++)
		g_string_append_printf(out, "bounced_suppressions_total{cause=\"%s\"} %" G_GUINT64_FORMAT
		    "\n", store_cause_name((enum store_cause)c), U64(m->suppressions[c]));
	metrics_value(out, "bounced_suppressions_lifted_total", "counter",
	    "Index entries removed by a commit (unsuppress, forget, delivery reset, re-evaluation).",
	    m->lifted);
	metrics_value(out, "bounced_index_entries", "gauge",
	    "Suppressions in the in-memory index that answers queries (addresses and domains).",
	    s->index_entries);
	metrics_value(out, "bounced_index_bytes", "gauge", "Memory held by the index, bytes.",
	    s->index_bytes);
	metrics_family(out, "bounced_store_writable", "gauge",
	    "1 when the last store open or commit worked (0: bounces get 451 and are retried).");
	g_string_append_printf(out, "bounced_store_writable %d\n", s->store_writable);
	metrics_value(out, "bounced_store_writer_pending", "gauge",
	    "Jobs queued for or running in the store's writer thread.", s->writer_pending);
	metrics_value(out, "bounced_store_commits_total", "counter",
	    "Store transactions of bounces committed (group commit: several bounces each).",
	    s->commits);
	metrics_value(out, "bounced_store_committed_bounces_total", "counter",
	    "Bounces in the committed transactions.", s->committed_bounces);
	metrics_value(out, "bounced_store_commit_failures_total", "counter",
	    "Store writes that failed (bounces and admin changes; a bounce then gets 451).",
	    s->commit_failures);
	metrics_value(out, "bounced_store_commit_batch_max", "gauge",
	    "Most bounces committed in one transaction since the start.", s->commit_batch_max);
	metrics_histogram_render(out, "bounced_store_commit_seconds",
	    "Seconds one store transaction of bounces took, fsync included (writer thread).",
	    &m->commit);

	/* answers */
	metrics_labelled(out, "bounced_queries_total", "counter",
	    "Requests on the query socket by answer: ok, suppressed, err (malformed).", "result",
	    query_results, (const uint64_t[]){ s->queries - s->queries_suppressed - s->query_errors,
	    s->queries_suppressed, s->query_errors }, G_N_ELEMENTS(query_results));
	metrics_value(out, "bounced_query_connections", "gauge",
	    "Clients connected to the query socket.", s->query_connections);
	metrics_labelled(out, "bounced_socketmap_requests_total", "counter",
	    "Postfix socketmap lookups by answer: found (suppressed: OK ...), signed (the sign "
	    "map returned a signed sender), other (NOTFOUND, TEMP or PERM).", "result",
	    smap_results, (const uint64_t[]){ s->socketmap_found, s->socketmap_signed,
	    s->socketmap_requests - s->socketmap_found - s->socketmap_signed },
	    G_N_ELEMENTS(smap_results));
	metrics_value(out, "bounced_socketmap_connections", "gauge",
	    "Postfix connections to the socketmap socket.", s->socketmap_connections);
	metrics_labelled(out, "bounced_policy_requests_total", "counter",
	    "Postfix policy delegation requests by answer: reject (5xx), defer (a soft "
	    "suppression), error (could not judge: DUNNO, or DEFER_IF_PERMIT when fail_closed), "
	    "dunno.", "result", policy_results, (const uint64_t[]){ s->policy_rejected,
	    s->policy_deferred, s->policy_errors, s->policy_requests - s->policy_rejected -
	    s->policy_deferred - s->policy_errors }, G_N_ELEMENTS(policy_results));
	metrics_value(out, "bounced_policy_connections", "gauge",
	    "Postfix connections to the policy delegation socket.", s->policy_connections);
	metrics_value(out, "bounced_metrics_http_requests_total", "counter",
	    "Requests on the metrics HTTP endpoint (this one included).", m->http_requests);

	if (s->render_more != NULL)
		s->render_more(s->render_more_ud, out);
}

/* ---- HTTP ---------------------------------------------------------------- */

struct metrics_http *
metrics_http_new(struct event_base *base, const char *host, unsigned port, const char *what,
    struct metrics *m, metrics_snapshot_fn snapshot, void *ud, char err[256])
{
	struct metrics_http *h = g_new0(struct metrics_http, 1);

	h->m = m;
	h->snapshot = snapshot;
	h->ud = ud;
	h->http = evhttp_new(base);
	if (h->http == NULL) {
		snprintf(err, 256, "evhttp_new failed");
		g_free(h);
		return NULL;
	}
	evhttp_set_timeout(h->http, METRICS_HTTP_TIMEOUT);
	evhttp_set_max_headers_size(h->http, METRICS_HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, METRICS_HTTP_BODY_MAX);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(h->http, metrics_http_request, h);
	if (evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port) == NULL) {
		snprintf(err, 256, "cannot listen on %s (metrics.http): %s", what, g_strerror(errno));
		evhttp_free(h->http);
		g_free(h);
		return NULL;
	}
	return h;
}

void
metrics_http_free(struct metrics_http *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->http);
	g_free(h);
}

static void
metrics_http_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *h = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *body;
	struct metrics_snapshot s;
	GString *text;
	size_t plen = strlen(METRICS_HTTP_PATH);

	h->m->http_requests++;
	/* "/metrics" or "/metrics?..." (Prometheus may add parameters) */
	if (uri == NULL || strncmp(uri, METRICS_HTTP_PATH, plen) != 0 ||
	    (uri[plen] != '\0' && uri[plen] != '?')) {
		evhttp_send_error(req, HTTP_NOTFOUND, "bounced serves " METRICS_HTTP_PATH " only");
		return;
	}
	text = g_string_sized_new(16 * 1024);
	h->snapshot(h->ud, &s);
	metrics_render(h->m, &s, text);
	body = evbuffer_new();
	if (body == NULL) {
		g_string_free(text, TRUE);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    METRICS_CONTENT_TYPE);
	evbuffer_add(body, text->str, text->len);
	g_string_free(text, TRUE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}
