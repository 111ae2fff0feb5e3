/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the daemon's counters, gauges and histograms, exposed in the
 * Prometheus text exposition format (version 0.0.4) by the admin verb
 * METRICS (`bouncectl stats --prometheus`) and, when metrics.http is set,
 * over HTTP (GET /metrics) with libevent's evhttp.  Every family is
 * documented in doc/metrics.md and bounced(8).
 *
 * Two kinds of values:
 *   - events counted here as they happen (struct metrics, the handle, the
 *     one owner of these counters): LMTP sessions and refusals, LMTP
 *     messages by result and 451 replies, recipients of the stored bounces
 *     by class and reason, suppressions set and lifted, the store's commit
 *     durations and the LMTP ingest latency (histograms);
 *   - values kept by their owners and read at scrape time (struct
 *     metrics_snapshot, filled by snapshot_collect() in snapshot.c and
 *     handed in): the index size, open connections, the writer's and the
 *     query servers' counters.
 * metrics.c includes none of the daemon's other parts: they call it.
 * Scraping costs no SQL and never blocks the loop.
 *
 * Threads: everything here runs in the loop thread (the writer's commit
 * durations arrive through its hand-back, writer_set_commit_hook()).
 * Ownership: metrics_new()/metrics_free(); metrics_free(NULL) is a no-op.
 */
#ifndef BOUNCED_METRICS_H
#define BOUNCED_METRICS_H

#include <stdint.h>
#include <glib.h>

#include "report.h"
#include "trust.h"

struct event_base;
struct metrics;
struct metrics_http;

/* Why an LMTP connection was refused with 421 (or 0: accepted). */
enum metrics_session {
	METRICS_SESSION_ACCEPTED,
	METRICS_SESSION_REFUSED_BUSY,           /* lmtp.max_connections reached */
	METRICS_SESSION_REFUSED_SHUTDOWN,       /* bounced is stopping */
	METRICS_SESSION_COUNT
};

/* Why a message was answered 451 (Postfix keeps it and retries). */
enum metrics_tempfail {
	METRICS_TEMPFAIL_STORE,                 /* the store is unavailable or the commit failed */
	METRICS_TEMPFAIL_COUNT
};

/* What a line of Postfix's log did (bounced_log_lines_total{result}). */
enum metrics_log {
	METRICS_LOG_SENT,
	METRICS_LOG_DEFERRED,
	METRICS_LOG_BOUNCED,
	METRICS_LOG_EXPIRED,
	METRICS_LOG_DUPLICATE,
	METRICS_LOG_TWIN,
	METRICS_LOG_SENT_MAP,
	METRICS_LOG_MALFORMED,
	METRICS_LOG_COUNT
};

/* n lines of the log did what. */
void metrics_log_lines(struct metrics *m, enum metrics_log what, unsigned n);

/* What the daemon's other parts know, read when a scrape comes. */
struct metrics_snapshot {
	const char *version;
	int64_t start_time;             /* unix seconds */
	int64_t now;
	uint64_t index_entries, index_bytes;
	int store_writable;
	unsigned writer_pending;
	uint64_t commits, committed_bounces, commit_failures, commit_batch_max;
	unsigned lmtp_sessions, query_connections, socketmap_connections, policy_connections;
	uint64_t queries, queries_suppressed, query_errors;
	uint64_t socketmap_requests, socketmap_found, socketmap_signed;
	uint64_t policy_requests, policy_rejected, policy_deferred, policy_errors;
	/* more families rendered by their owner (the alerts', alert.h), or NULL */
	void (*render_more)(const void *ud, GString *out);
	const void *render_more_ud;
};

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* An LMTP connection accepted or refused. */
void metrics_lmtp_session(struct metrics *m, enum metrics_session what);

/* A message answered 451 (counted as a failed message too). */
void metrics_lmtp_tempfail(struct metrics *m, enum metrics_tempfail why);

/*
 * A message's commit is done: stored 1 (0: failed), duplicate 1 when it was
 * stored before (its recipients are not counted again), seconds from the
 * end of DATA to the replies.  r (never NULL) is borrowed for the call.
 */
/*
 * A stored (not duplicate) bounce's trust: untrusted 1 when it does not
 * count, because of tag; refusal 1 when it returned bounced's own refusal.
 */
void metrics_trust(struct metrics *m, int untrusted, enum trust_tag tag, int refusal);

void metrics_lmtp_message(struct metrics *m, const struct report *r, int stored, int duplicate,
    double seconds);

/* A commit's index changes (GArray of struct store_change). */
void metrics_changes(struct metrics *m, const GArray *changes);

/* One store transaction of bounces took usec microseconds. */
void metrics_commit(struct metrics *m, unsigned bounces, unsigned failed, int64_t usec);

/* LMTP messages so far: stored, duplicates (stored before), failed (answered 451). */
void metrics_lmtp_messages(const struct metrics *m, uint64_t *stored_r, uint64_t *duplicates_r,
    uint64_t *failed_r);

/* What the endpoint calls for the snapshot of each scrape (loop thread). */
typedef void (*metrics_snapshot_fn)(void *ud, struct metrics_snapshot *s_r);

/* Appends the exposition text (every family with HELP and TYPE) to out. */
void metrics_render(const struct metrics *m, const struct metrics_snapshot *s, GString *out);

/*
 * Appends a label value in quotes, escaped as the exposition format wants
 * (backslash, quote, newline); NULL is the empty value.  Also used by
 * `bouncectl stats --prometheus` for the store's families, so both sides
 * escape alike.
 */
void metrics_label(GString *out, const char *value);

/*
 * The HTTP endpoint on host and port (GET or HEAD /metrics; other paths
 * 404, other methods 501), rendering m and what snapshot(ud) fills.  what
 * is the setting's text, for errors ("127.0.0.1:9419").  m is borrowed until
 * metrics_http_free().  NULL with err filled when it cannot listen.
 */
struct metrics_http *metrics_http_new(struct event_base *base, const char *host, unsigned port,
    const char *what, struct metrics *m, metrics_snapshot_fn snapshot, void *ud, char err[256]);
void metrics_http_free(struct metrics_http *h);

#endif
