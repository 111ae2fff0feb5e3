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
 *   bouncectl --admin--> admin.c --verb table--> admin-change.c (writer jobs),
 *       admin-read.c (read-only store, index)
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
#include "trust.h"
#include "writer.h"

struct event_base;
struct lmtp_server;
struct admin_server;
struct logsrc;
struct metrics;
struct metrics_http;

struct daemon {
	struct event_base *base;
	struct config *cfg;             /* current; replaced on SIGHUP */
	struct writer *writer;          /* owns the read-write store */
	struct store *ro;               /* read-only store: admin reads */
	struct store_index *idx;        /* "may I send to X?" */
	struct report_limits rlim;      /* parser limits */
	struct trust_keyring keys;      /* signing keys (trust.h); keys.n 0: not loaded */
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
	struct logsrc *logsrc;          /* Postfix's log, or NULL (logsource.type none) */

	const unsigned char *secret;    /* the HMAC secret once read (main.c's), or NULL */
	size_t secret_len;

	struct metrics *metrics;        /* counters, gauges, histograms (metrics.h): LMTP
	                                   messages are counted there only */
	struct metrics_http *metrics_http; /* GET /metrics, when metrics.http is set */
	struct alerts *alerts;          /* events pushed to people (alert.h) */
};

/* Applies a commit's changes to the index (writer_apply_fn). */
void daemon_apply_changes(const GArray *changes, void *ud);

#endif
