/* SPDX-License-Identifier: MIT */
/*
 * admin-int.h - what the admin socket's files share (private to bounced/,
 * the protocol itself is in admin.h).  The admin server is split by role:
 *
 *   admin.c         connections, teardown and the verb table (dispatch)
 *   admin-proto.c   the wire codec: requests, %XX values, times, row lines
 *   admin-read.c    read verbs, answered from the index or the read-only store
 *                   (LIST and EXPORT stream in chunks)
 *   admin-change.c  change verbs, run as writer jobs (IMPORT in batches)
 *
 * Every verb is one row of admin_verbs[]: its name, the arguments it takes,
 * what it needs from the daemon, and its handler.  A handler answers with
 * admin_reply() (or starts a stream or a job that answers later) and, when
 * it is done at once, leaves c->busy at 0.
 */
#ifndef BOUNCED_ADMIN_INT_H
#define BOUNCED_ADMIN_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "store.h"

struct bufferevent;
struct evbuffer;
struct daemon;
struct sock_listener;

#define ADMIN_ARGS_MAX   16
#define ADMIN_FIELD      (3 * STORE_ADDR_MAX + 1)   /* an encoded address */

/* "VERB k=v k=v", split in place, values decoded (admin_parse). */
struct admin_args {
	char *verb;
	unsigned n;
	char *key[ADMIN_ARGS_MAX];
	char *val[ADMIN_ARGS_MAX];
};

struct admin_job;               /* admin-change.c */
struct admin_import;            /* admin-change.c */
struct admin_stream;            /* admin-read.c */

struct admin_conn {
	struct admin_server *srv;
	struct bufferevent *bev;
	unsigned id;
	uid_t uid;
	char actor[128];                /* "uid=N (name)", the audit's actor */
	int busy;                       /* a command is running */
	int closing;
	struct admin_job *job;          /* a change running in the writer */
	struct admin_stream *stream;    /* a listing being streamed */
	struct admin_import *import;    /* IMPORT: entry lines are coming */
	GList link;
};

struct admin_server {
	struct daemon *d;
	struct sock_listener *listener;
	GQueue conns;
	unsigned next_id;
};

/* What a verb needs before its handler runs (else "ERR store unavailable"). */
enum {
	ADMIN_NEEDS_READER = 1 << 0,    /* the read-only store (d->ro) */
	ADMIN_NEEDS_INDEX = 1 << 1,     /* the index (d->qctx.idx) */
	ADMIN_NEEDS_WRITER = 1 << 2,    /* the writer thread (d->writer): changes */
	ADMIN_WHILE_STOPPING = 1 << 3,  /* runs while bounced is stopping */
};

struct admin_verb {
	const char *name;               /* matched case-insensitively */
	const char *const *keys;        /* the arguments it takes; NULL: not checked */
	unsigned needs;                 /* ADMIN_NEEDS_*, ADMIN_WHILE_STOPPING */
	void (*run)(struct admin_conn *c, const struct admin_args *a);
};

/* The verb table (admin.c), ended by a row with a NULL name. */
extern const struct admin_verb admin_verbs[];

/* ---- admin.c: connections ---- */

/* Appends one response line (a LF is added). */
void admin_reply(struct admin_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The running command is finished: read the next request. */
void admin_done(struct admin_conn *c);
/* "ERR store <the store's last error>" */
void admin_reply_store_error(struct admin_conn *c, struct store *s);
/* Replied when the store cannot be opened (main.c retries). */
#define ADMIN_ERR_UNAVAILABLE \
	"ERR store unavailable: the database cannot be opened (see the log); try again"

/* ---- admin-proto.c: the wire codec ---- */

/* 0, or -1 with err ("empty request", "too many arguments", ...). */
int admin_parse(char *line, struct admin_args *a, char err[128]);
/* The value of key, or NULL; borrowed from a. */
const char *admin_arg(const struct admin_args *a, const char *key);
/* The first key of a not in allowed (NULL-terminated), or NULL. */
const char *admin_unknown_key(const struct admin_args *a, const char *const *allowed);
/*
 * "2024-05-01T12:00:00Z" or unix seconds; with until also "never"
 * (STORE_TTL_NEVER) and a duration from now ("30d").  0 / -1.
 */
int admin_parse_time(const char *s, int until, time_t now, int64_t *t_r);
/* A decimal count in [min, max].  0 / -1. */
int admin_parse_count(const char *s, int64_t min, int64_t max, int64_t *n_r);
/* An encoded field, or "-" for NULL or "". */
#define ADMIN_F(s, buf) ((s) != NULL && *(s) ? admin_encode((s), strlen(s), (buf), sizeof(buf)) : "-")

/* Row lines: "+ [type=T ]address= ...", "+ type=audit ...", "+ type=incident ...". */
void admin_put_entry(struct evbuffer *out, const char *type, const struct store_entry *e);
void admin_put_audit(struct evbuffer *out, const struct store_audit_entry *au);
void admin_put_incident(struct evbuffer *out, const struct store_incident *in);

/* ---- admin-read.c: read verbs ---- */

void admin_ping(struct admin_conn *c, const struct admin_args *a);
void admin_quit(struct admin_conn *c, const struct admin_args *a);
void admin_check(struct admin_conn *c, const struct admin_args *a);
void admin_list(struct admin_conn *c, const struct admin_args *a);
void admin_export(struct admin_conn *c, const struct admin_args *a);
void admin_show(struct admin_conn *c, const struct admin_args *a);
void admin_raw(struct admin_conn *c, const struct admin_args *a);
void admin_stats(struct admin_conn *c, const struct admin_args *a);
void admin_metrics(struct admin_conn *c, const struct admin_args *a);
void admin_incidents(struct admin_conn *c, const struct admin_args *a);
void admin_audit(struct admin_conn *c, const struct admin_args *a);
void admin_alerts(struct admin_conn *c, const struct admin_args *a);
/* The output drained below the low watermark: send the next rows. */
void admin_stream_more(struct admin_conn *c);
/* Drops a stream in progress (the connection is closing). */
void admin_stream_free(struct admin_conn *c);

/* ---- admin-change.c: change verbs ---- */

void admin_suppress(struct admin_conn *c, const struct admin_args *a);
void admin_unsuppress(struct admin_conn *c, const struct admin_args *a);
void admin_forget(struct admin_conn *c, const struct admin_args *a);
void admin_reevaluate(struct admin_conn *c, const struct admin_args *a);
void admin_purge(struct admin_conn *c, const struct admin_args *a);
void admin_import(struct admin_conn *c, const struct admin_args *a);
/* One line while an IMPORT is receiving entries.  0 / -1 (answered "+ error"). */
int admin_import_line(struct admin_conn *c, char *line);
/* The connection is closing: a running job's answer goes nowhere; drops an import. */
void admin_change_abandon(struct admin_conn *c);

#endif
