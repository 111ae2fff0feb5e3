/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - what the servers of one bounced process share: the event
 * loop, the current config, the writer, the read-only store and the index.
 * main.c owns it; lmtp-server.c, admin.c and the query servers borrow it.
 * Everything in it is used from the loop thread only (the writer thread has
 * its own store, behind writer.h).
 *
 *   Postfix --LMTP--> lmtp-server.c --report_parse--> writer.c --store_ingest-->
 *       (commit) --changes--> index --> 250 to Postfix
 *   application --CHECK--> query.c --store_check(index)--> OK | SUPPRESSED
 *   Postfix --socketmap--> socketmap.c --store_check(index)--> OK 550 ... | NOTFOUND
 *   bouncectl --admin--> admin.c --writer jobs / read-only store-->
 */
#ifndef BOUNCED_DAEMON_H
#define BOUNCED_DAEMON_H

#include <time.h>

#include "config.h"
#include "query.h"
#include "report.h"
#include "policy.h"
#include "socketmap.h"
#include "store.h"
#include "writer.h"

struct event_base;
struct lmtp_server;
struct admin_server;
struct metrics;
struct metrics_http;

struct daemon {
	struct event_base *base;
	struct config *cfg;             /* current; replaced on SIGHUP */
	struct writer *writer;          /* owns the read-write store */
	struct store *ro;               /* read-only store: admin reads */
	struct store_index *idx;        /* "may I send to X?" */
	struct report_limits rlim;      /* parser limits */
	char hostname[256];
	time_t started;
	int stopping;

	struct query_ctx qctx;
	struct smap_ctx sctx;
	struct policy_ctx pctx;
	struct lmtp_server *lmtp;
	struct query_server *query;
	struct query_server *smap;
	struct query_server *policy;    /* Postfix policy delegation (policy.h) */
	struct admin_server *admin;

	struct metrics *metrics;        /* counters, gauges, histograms (metrics.h) */
	struct metrics_http *metrics_http; /* GET /metrics, when metrics.http is set */

	/* counters for stats */
	uint64_t bounces;               /* messages received over LMTP */
	uint64_t bounces_failed;        /* answered 451 */
	uint64_t duplicates;
};

/* Applies a commit's changes to the index (writer_apply_fn). */
void daemon_apply_changes(const GArray *changes, void *ud);

#endif
