/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the daemon's counters, gauges and histograms, exposed in the
 * Prometheus text exposition format (version 0.0.4) by the admin verb
 * METRICS (`bouncectl stats --prometheus`) and, when metrics.http is set,
 * over HTTP (GET /metrics) with libevent's evhttp.  Every family is
 * documented in doc/metrics.md and bounced(8).
 *
 * Two kinds of values:
 *   - events counted here as they happen (struct metrics, the handle):
 *     LMTP sessions and refusals, 451 replies, recipients of the stored
 *     bounces by class and reason, suppressions set and lifted, the store's
 *     commit durations and the LMTP ingest latency (histograms);
 *   - values kept by their owners and read at scrape time (struct
 *     metrics_snapshot, filled by metrics_collect()): the index size, open
 *     connections, the writer's and the query servers' counters.
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

struct metrics;
struct metrics_http;
struct daemon;

/* Why an LMTP connection was refused with 421 (or 0: accepted). */
enum metrics_session {
	METRICS_SESSION_ACCEPTED,
	METRICS_SESSION_REFUSED_BUSY,           /* lmtp.max_connections reached */
	METRICS_SESSION_REFUSED_SHUTDOWN,       /* bounced is stopping */
	METRICS_SESSION_COUNT
};

/* Why a message was answered 451 (Postfix keeps it and retries). */
enum metrics_tempfail {
	METRICS_TEMPFAIL_STORE,                 /* the commit failed */
	METRICS_TEMPFAIL_MEMORY,                /* the parser ran out of memory */
	METRICS_TEMPFAIL_COUNT
};

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
	uint64_t lmtp_stored, lmtp_duplicates, lmtp_failed;
	uint64_t queries, queries_suppressed, query_errors;
	uint64_t socketmap_requests, socketmap_found;
	uint64_t policy_requests, policy_rejected, policy_deferred, policy_errors;
};

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* An LMTP connection accepted or refused. */
void metrics_lmtp_session(struct metrics *m, enum metrics_session what);

/* A message answered 451. */
void metrics_lmtp_tempfail(struct metrics *m, enum metrics_tempfail why);

/*
 * A message's commit is done: stored 1 (0: failed), duplicate 1 when it was
 * stored before (its recipients are not counted again), seconds from the
 * end of DATA to the replies.  r is borrowed for the call.
 */
void metrics_lmtp_message(struct metrics *m, const struct report *r, int stored, int duplicate,
    double seconds);

/* A commit's index changes (GArray of struct store_change). */
void metrics_changes(struct metrics *m, const GArray *changes);

/* One store transaction of bounces took usec microseconds. */
void metrics_commit(struct metrics *m, unsigned bounces, unsigned failed, int64_t usec);

/* Fills s_r from the daemon's parts (loop thread). */
void metrics_collect(const struct daemon *d, struct metrics_snapshot *s_r);

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
 * The HTTP endpoint on d->cfg->metrics.http_host and http_port (GET or
 * HEAD /metrics; other paths 404, other methods 501).  NULL with err filled when it cannot listen.
 */
struct metrics_http *metrics_http_new(struct daemon *d, char err[256]);
void metrics_http_free(struct metrics_http *h);

#endif
