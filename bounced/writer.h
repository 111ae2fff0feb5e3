/* SPDX-License-Identifier: MIT */
/*
 * writer.h - the one thread that writes the store.
 *
 * The event loop submits jobs (a received bounce, or an admin change as a
 * function to run on the read-write store); the writer thread takes every
 * bounce queued since its last commit and records them in one store_ingest()
 * call (group commit: while one commit's fsync runs, the next batch
 * accumulates), or runs one admin job.  Then it hands the jobs back with the
 * index changes of that commit: the loop applies the changes to its index
 * first and calls each job's done() after, so an LMTP 250 is only sent once
 * the answer to "CHECK" already reflects the bounce.
 *
 * A failed batch of several bounces is retried one by one, so one bounce the
 * store refuses gets its 451 alone.  Jobs complete in submission order.
 * Hand-back goes through a mutex-protected list and an eventfd watched by
 * the loop.
 *
 * Threads: writer_new/submit/stop/free and the done callbacks run in the
 * loop thread; a job's fn runs in the writer thread and must touch only the
 * store and its own arg.
 *
 * Every function takes a NULL writer (the daemon has none while its secret
 * cannot be read): a job submitted then fails at once with rc -1 ("store
 * unavailable", its done() called from writer_submit), the others are no-ops
 * or report nothing.
 */
#ifndef BOUNCED_WRITER_H
#define BOUNCED_WRITER_H

#include <time.h>
#include <glib.h>

#include "store.h"

struct event_base;
struct writer;
struct writer_job;

/*
 * Runs in the writer thread: 0 / -1 (err filled; a store error: store_errmsg).
 * Not called when the store is unavailable (the job fails with rc -1).
 */
typedef int (*writer_fn)(struct store *s, void *arg, time_t now, GArray *changes,
    char err[256]);
/* Runs in the loop thread once the job is done (rc, err set).  Frees what it owns. */
typedef void (*writer_done_fn)(struct writer_job *job);

struct writer_job {
	/* a bounce to ingest (fn == NULL): bounce.raw, .report are the owner's */
	struct store_bounce bounce;
	/* or a function to run on the store */
	writer_fn fn;
	void *arg;
	writer_done_fn done;
	void *ud;               /* the owner's; may be cleared by the owner (orphaned job) */
	/* results */
	int rc;
	char err[256];
	enum store_error errcode;      /* the kind of failure (STORE_ERR_NONE when rc == 0) */
	unsigned batch;         /* bounces committed together with this one */
	int ends_txn;           /* set by the owner: this bounce ends a transaction
	                           counted with writer_txn_add() */
	/* private */
	struct writer_job *next;
};

/* Called in the loop with each commit's changes, before the jobs' done(). */
typedef void (*writer_apply_fn)(const GArray *changes, void *ud);

/*
 * Starts the thread.  The writer opens the read-write store itself (sc and
 * pol are copied; pol's groups must stay alive until replaced): first here,
 * synchronously; when that fails err says why and the writer still starts:
 * jobs then fail ("store unavailable") and the open is retried, at most
 * twice a second, until it works.  After any failed commit the store is
 * closed and opened again before the next job, so a repaired file, file
 * system or permission is picked up without a restart.  NULL only when the
 * thread cannot start.
 */
struct writer *writer_new(struct event_base *base, const struct store_config *sc,
    const struct store_policy *pol, unsigned batch_max, writer_apply_fn apply, void *apply_ud,
    char err[256]);

/*
 * Group commit across LMTP sessions.  The loop counts the transactions in
 * progress (MAIL accepted, bounce not yet submitted): writer_txn_add(w, 1)
 * when one starts, -1 when it ends without a bounce (RSET, hang-up); a
 * submitted job with ends_txn set ends its own.  While transactions are in
 * progress, the writer waits up to the commit delay (usec; 0 = never wait)
 * for their bounces, so that one fsync commits all of them.  Nothing waits
 * when no other transaction is in progress: a lone bounce is committed at once.
 */
void writer_txn_add(struct writer *w, int delta);
void writer_set_commit_delay(struct writer *w, unsigned usec);
/* 1 while the writer waits for the bounces of transactions in progress. */
int writer_delaying(struct writer *w);

/* 1 when the last open or commit worked. */
int writer_healthy(const struct writer *w);

/*
 * A new policy (SIGHUP): used for every later open, and applied to the open
 * store by job (its done and ud are the caller's; fn and arg are set here).
 */
void writer_set_policy(struct writer *w, const struct store_policy *pol, struct writer_job *job);

/* Queues a job (loop thread).  After writer_stop() jobs fail at once with rc -1. */
void writer_submit(struct writer *w, struct writer_job *job);

/* Jobs queued or running. */
unsigned writer_pending(const struct writer *w);

/*
 * Stops after every queued job is done and handed back; joins the thread.
 * The done callbacks of the last jobs run from this call.
 */
void writer_stop(struct writer *w);

/* Stops if needed and closes the store. */
void writer_free(struct writer *w);

/*
 * Called in the loop thread for each finished transaction of bounces, with
 * how long the writer thread spent in it (usec), before the jobs' done().
 */
typedef void (*writer_commit_fn)(unsigned bounces, unsigned failed, int64_t usec, void *ud);
void writer_set_commit_hook(struct writer *w, writer_commit_fn fn, void *ud);

/* Totals since the start, for stats: commits, bounces, failures. */
struct writer_stats {
	uint64_t commits;
	uint64_t bounces;
	uint64_t failed;
	uint64_t max_batch;
};
void writer_get_stats(const struct writer *w, struct writer_stats *st_r);

#endif
