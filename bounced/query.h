/* SPDX-License-Identifier: MIT */
/*
 * query.h - "may I send to X?": the query protocol for applications and the
 * small, fast socket server it shares with the Postfix socketmap
 * (socketmap.h).
 *
 * Protocol (one request per line, LF or CRLF, pipelined; see
 * bounced/README-protocol.md):
 *   CHECK <address>  ->  OK
 *                     |  SUPPRESSED <cause> <reason> <since> [until=<t>] [entry=domain]
 *                     |  ERR <reason>
 * Times are ISO 8601 UTC ("2024-05-01T12:00:00Z").  Answers come from the
 * in-memory index only (store_check), never from SQLite, so a query costs
 * a hash lookup and the loop never blocks.
 *
 * Server: plain event_new + read()/write() on fixed per-connection buffers
 * (no bufferevents: measured 2x faster lock-step).  A connection holds at
 * most QUERY_IN_SIZE bytes of requests and QUERY_OUT_SIZE of replies; when
 * its replies are not read, its requests are not read either.  Engines are
 * pure functions of a struct query_buf, so tests and fuzzers drive them
 * without sockets.
 */
#ifndef BOUNCED_QUERY_H
#define BOUNCED_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bounds.h"
#include "store.h"

#define QUERY_IN_SIZE   (LIMIT_QUERY_LINE + 16)  /* a request, with a netstring prefix */
#define QUERY_OUT_SIZE  8192                     /* replies not yet written */
#define QUERY_REPLY_MAX 512                      /* the longest single reply */

#define QUERY_PVALUE_MAX 320                     /* a policy attribute value kept */

/*
 * What the policy engine (policy.h) keeps of a request while its lines
 * arrive: the attributes it uses, truncated to QUERY_PVALUE_MAX (flagged).
 */
struct query_policy_req {
	unsigned attrs;         /* attribute lines so far */
	size_t bytes;           /* bytes so far */
	const char *bad;        /* why the request is unusable (static text), or NULL */
	unsigned truncated;     /* bit per field below: its value was longer */
	char request[32];       /* "smtpd_access_policy" */
	char protocol_state[16];
	char queue_id[32];
	char sender[QUERY_PVALUE_MAX + 1];
	char recipient[QUERY_PVALUE_MAX + 1];
	char client_address[64];
	char sasl_username[128];
};

/* A connection's buffers: what the engines read and write. */
struct query_buf {
	size_t in_len;          /* bytes in in[] not yet consumed */
	size_t out_len;         /* bytes in out[] not yet written */
	int discard;            /* dropping an over-long request up to its end */
	size_t skip;            /* bytes still to drop (socketmap) */
	struct query_policy_req preq;   /* policy engine's request in progress */
	char in[QUERY_IN_SIZE];
	char out[QUERY_OUT_SIZE];
};

/*
 * An engine: consumes the complete requests at the start of b->in (moving
 * the rest to the front), appends their replies to b->out while
 * QUERY_REPLY_MAX bytes are free there.  Returns 0, or -1 on a protocol
 * error that ends the connection (the replies already in out[] are sent).
 */
typedef int (*query_engine_fn)(void *ctx, struct query_buf *b, time_t now);

/* The query protocol's engine; ctx is a struct query_ctx. */
struct query_ctx {
	const struct store_index *idx;  /* NULL until the store opened: "ERR store unavailable" */
	uint64_t requests;      /* counters for stats */
	uint64_t suppressed;
	uint64_t errors;
};
int query_engine(void *ctx, struct query_buf *b, time_t now);

/*
 * Answers one request line (without its line end) into out (with "\n").
 * Returns the reply's length (< outsz; outsz >= QUERY_REPLY_MAX).
 */
size_t query_answer(struct query_ctx *ctx, time_t now, const char *line, size_t len, char *out,
    size_t outsz);

/* ---- the server -------------------------------------------------------- */

struct event_base;
struct query_server;
struct sock_listener;

/*
 * Serves the listening socket fd (already bound and listening; taken over)
 * with engine(ctx, ...).  busy_reply is written to a client refused because
 * max_conns are open.  name is for log lines ("query", "socketmap").
 */
struct query_server *query_server_new(struct event_base *base, int fd, const char *name,
    unsigned max_conns, unsigned idle_timeout, query_engine_fn engine, void *ctx,
    const char *busy_reply);

/* Stops accepting (shutdown); open connections stay. */
void query_server_stop(struct query_server *s);

/* Closes every connection and the socket. */
void query_server_free(struct query_server *s);

unsigned query_server_connections(const struct query_server *s);

/* The listening socket (for sock_listener_watch), NULL once stopped; borrowed. */
struct sock_listener *query_server_listener(struct query_server *s);

#endif
