/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - reads the daemon's parts into a struct metrics_snapshot
 * (snapshot.h).  No SQL, no I/O: a scrape never blocks the loop.
 */
#include <string.h>
#include <time.h>

#include "alert.h"
#include "build-config.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "metrics.h"
#include "query.h"
#include "snapshot.h"
#include "store.h"
#include "writer.h"

/* The alerts' families (alert.h) on /metrics and in METRICS. */
static void
snapshot_render_alerts(const void *ud, GString *out)
{
	alerts_metrics(ud, out);
}

void
snapshot_collect(const struct daemon *d, struct metrics_snapshot *s)
{
	struct writer_stats ws;

	memset(s, 0, sizeof(*s));
	s->version = BOUNCED_VERSION;
	s->start_time = (int64_t)d->started;
	s->now = (int64_t)time(NULL);
	s->index_entries = store_index_count(d->idx);
	s->index_bytes = store_index_bytes(d->idx);
	s->store_writable = writer_healthy(d->writer);
	s->writer_pending = writer_pending(d->writer);
	writer_get_stats(d->writer, &ws);
	s->commits = ws.commits;
	s->committed_bounces = ws.bounces;
	s->commit_failures = ws.failed;
	s->commit_batch_max = ws.max_batch;
	s->lmtp_sessions = d->lmtp != NULL ? lmtp_server_sessions(d->lmtp) : 0;
	s->query_connections = d->query != NULL ? query_server_connections(d->query) : 0;
	s->socketmap_connections = d->smap != NULL ? query_server_connections(d->smap) : 0;
	s->queries = d->qctx.requests;
	s->queries_suppressed = d->qctx.suppressed;
	s->query_errors = d->qctx.errors;
	s->socketmap_requests = d->sctx.requests;
	s->socketmap_found = d->sctx.found;
	s->policy_connections = d->policy != NULL ? query_server_connections(d->policy) : 0;
	s->policy_requests = d->pctx.requests;
	s->policy_rejected = d->pctx.rejected;
	s->policy_deferred = d->pctx.deferred;
	s->policy_errors = d->pctx.errors;
	s->socketmap_signed = d->sctx.signed_count;
	s->render_more = snapshot_render_alerts;
	s->render_more_ud = d->alerts;
}

void
snapshot_collect_cb(void *ud, struct metrics_snapshot *s_r)
{
	snapshot_collect(ud, s_r);
}
