/* SPDX-License-Identifier: MIT */
/*
 * writer.c - the writer thread and its queues (see writer.h).
 *
 *   loop:   writer_submit() -> todo list -> cond signal
 *   thread: take a batch -> store_ingest() / job->fn() -> done list -> eventfd
 *   loop:   eventfd readable -> apply the changes -> job->done() each
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>

#include "log.h"
#include "writer.h"

/* One commit's worth of finished jobs. */
struct writer_batch {
	struct writer_job *jobs;        /* in order, linked by next */
	GArray *changes;                /* of struct store_change */
	unsigned bounces;
	unsigned failed;
	gint64 usec;                    /* time spent in the store */
	struct writer_batch *next;
};

struct writer {
	struct store *store;            /* writer thread only; NULL: unavailable */
	struct store_config sc;         /* owned copies of path and secret */
	int reopen;                     /* writer thread: reopen before the next job */
	gint64 last_open;               /* writer thread: monotonic time of the last try */
	char open_err[256];             /* writer thread: why the last open failed */
	const struct store_policy *pol; /* under lock */
	int healthy;                    /* atomic */
	unsigned batch_max;
	writer_apply_fn apply;
	void *apply_ud;
	GThread *thread;
	int efd;
	struct event *ev;

	GMutex lock;
	GCond cond;
	struct writer_job *todo_head, *todo_tail;       /* under lock */
	struct writer_batch *done_head, *done_tail;     /* under lock */
	int stopping;                                   /* under lock */
	int txns;                                       /* under lock: transactions in progress */
	int delaying;                                   /* under lock: waiting for them */
	unsigned commit_delay;                          /* usec */
	unsigned pending;                               /* loop thread only */

	struct writer_stats stats;                      /* loop thread only */
	writer_commit_fn commit_fn;                     /* loop thread only */
	void *commit_ud;
};

static gpointer writer_main(gpointer arg);
static void writer_wait_for_txns(struct writer *w);
static void writer_run_ingest(struct writer *w, struct writer_job *jobs, unsigned n,
    struct writer_batch *b);
static void writer_handback(struct writer *w, struct writer_batch *b);
static void writer_ready(evutil_socket_t fd, short what, void *arg);
static void writer_drain(struct writer *w);
static int writer_ensure_store(struct writer *w, char err[256]);
static int writer_policy_fn(struct store *s, void *arg, time_t now, GArray *changes,
    char err[256]);

#define WRITER_REOPEN_USEC (500 * 1000)

struct writer *
writer_new(struct event_base *base, const struct store_config *sc, const struct store_policy *pol,
    unsigned batch_max, writer_apply_fn apply, void *apply_ud, char err[256])
{
	struct writer *w = g_new0(struct writer, 1);
	GError *gerr = NULL;

	err[0] = '\0';
	w->sc = *sc;
	w->sc.path = g_strdup(sc->path);
	w->sc.secret = g_memdup2(sc->secret, sc->secret_len);
	w->sc.readonly = 0;
	w->pol = pol;
	w->batch_max = batch_max > 0 ? batch_max : 1;
	w->apply = apply;
	w->apply_ud = apply_ud;
	g_mutex_init(&w->lock);
	g_cond_init(&w->cond);
	/* the first open here: it creates and migrates the database for the reader */
	if (writer_ensure_store(w, err) < 0)
		log_warnx("event=store_unavailable path=%s error=\"%s\" effect=\"LMTP answers 451 "
		    "until it opens\"", w->sc.path, err);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		log_warn("event=writer_start_failed what=eventfd");
		goto fail;
	}
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, writer_ready, w);
	event_add(w->ev, NULL);
	w->thread = g_thread_try_new("writer", writer_main, w, &gerr);
	if (w->thread == NULL) {
		log_warnx("event=writer_start_failed what=thread error=\"%s\"", gerr->message);
		g_error_free(gerr);
		goto fail;
	}
	return w;
fail:
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->efd >= 0)
		close(w->efd);
	store_close(w->store);
	g_free((char *)w->sc.path);
	g_free((void *)w->sc.secret);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->cond);
	g_free(w);
	return NULL;
}

int
writer_healthy(const struct writer *w)
{
	if (w == NULL)
		return 0;
	return g_atomic_int_get(&w->healthy);
}

/* Writer thread (or writer_new): opens the store when it is not. 0 / -1. */
static int
writer_ensure_store(struct writer *w, char err[256])
{
	const struct store_policy *pol;
	gint64 now = g_get_monotonic_time();

	if (w->store != NULL && !w->reopen)
		return 0;
	if (w->store != NULL) {
		store_close(w->store);
		w->store = NULL;
	}
	w->reopen = 0;
	if (w->last_open != 0 && now - w->last_open < WRITER_REOPEN_USEC && w->open_err[0]) {
		snprintf(err, 256, "store unavailable: %.200s", w->open_err);
		return -1;
	}
	w->last_open = now;
	g_mutex_lock(&w->lock);
	pol = w->pol;
	g_mutex_unlock(&w->lock);
	w->store = store_open(&w->sc, pol, w->open_err);
	if (w->store == NULL) {
		g_atomic_int_set(&w->healthy, 0);
		snprintf(err, 256, "store unavailable: %.200s", w->open_err);
		return -1;
	}
	w->open_err[0] = '\0';
	g_atomic_int_set(&w->healthy, 1);
	return 0;
}

static int
writer_policy_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct writer *w = arg;

	(void)now;
	(void)changes;
	(void)err;
	g_mutex_lock(&w->lock);
	store_set_policy(s, w->pol);
	g_mutex_unlock(&w->lock);
	return 0;
}

void
writer_set_policy(struct writer *w, const struct store_policy *pol, struct writer_job *job)
{
	if (w == NULL) {
		/* no writer yet: it starts with the config's policy */
		job->fn = writer_policy_fn;
		writer_submit(NULL, job);
		return;
	}
	g_mutex_lock(&w->lock);
	w->pol = pol;
	g_mutex_unlock(&w->lock);
	job->fn = writer_policy_fn;
	job->arg = w;
	writer_submit(w, job);
}

void
writer_submit(struct writer *w, struct writer_job *job)
{
	job->next = NULL;
	job->rc = 0;
	job->err[0] = '\0';
	job->errcode = STORE_ERR_NONE;
	job->batch = 0;
	if (w == NULL) {
		/* the store could not be set up yet (main.c retries) */
		job->rc = -1;
		job->errcode = STORE_ERR_IO;
		g_strlcpy(job->err, "store unavailable", sizeof(job->err));
		job->done(job);
		return;
	}
	g_mutex_lock(&w->lock);
	if (job->ends_txn && w->txns > 0)
		w->txns--;
	if (w->stopping) {
		g_mutex_unlock(&w->lock);
		job->rc = -1;
		g_strlcpy(job->err, "shutting down", sizeof(job->err));
		job->done(job);
		return;
	}
	if (w->todo_tail != NULL)
		w->todo_tail->next = job;
	else
		w->todo_head = job;
	w->todo_tail = job;
	g_cond_signal(&w->cond);
	g_mutex_unlock(&w->lock);
	w->pending++;
}

unsigned
writer_pending(const struct writer *w)
{
	return w != NULL ? w->pending : 0;
}

void
writer_txn_add(struct writer *w, int delta)
{
	if (w == NULL)
		return;
	g_mutex_lock(&w->lock);
	w->txns += delta;
	if (w->txns < 0)
		w->txns = 0;
	if (w->delaying && w->txns == 0)
		g_cond_signal(&w->cond);
	g_mutex_unlock(&w->lock);
}

void
writer_set_commit_delay(struct writer *w, unsigned usec)
{
	g_mutex_lock(&w->lock);
	w->commit_delay = usec;
	g_mutex_unlock(&w->lock);
}

int
writer_delaying(struct writer *w)
{
	int r;

	g_mutex_lock(&w->lock);
	r = w->delaying;
	g_mutex_unlock(&w->lock);
	return r;
}

/*
 * Under lock, a bounce queued: while other LMTP transactions are in
 * progress and the batch is not full, wait (at most commit_delay) for their
 * bounces.  An fsync costs the same for one bounce or fifty; sessions that
 * wait for their 250 send nothing new, so with ten sessions a commit
 * started at once carries two bounces on average.  Measured in
 * bench/bench-ingest.sh: see README "Benchmarks".
 */
static void
writer_wait_for_txns(struct writer *w)
{
	gint64 until;
	unsigned queued = 0;

	if (w->commit_delay == 0 || w->txns == 0 || w->stopping)
		return;
	until = g_get_monotonic_time() + w->commit_delay;
	w->delaying = 1;
	for (;;) {
		queued = 0;
		for (struct writer_job *j = w->todo_head; j != NULL && j->fn == NULL; j = j->next)
			queued++;
		if (w->txns == 0 || queued >= w->batch_max || w->stopping)
			break;
		if (!g_cond_wait_until(&w->cond, &w->lock, until))
			break;
	}
	w->delaying = 0;
}

static gpointer
writer_main(gpointer arg)
{
	struct writer *w = arg;

	for (;;) {
		struct writer_job *first, *last, *j;
		struct writer_batch *b;
		unsigned n = 1;

		g_mutex_lock(&w->lock);
		while (w->todo_head == NULL && !w->stopping)
			g_cond_wait(&w->cond, &w->lock);
		if (w->todo_head == NULL) {
			g_mutex_unlock(&w->lock);
			break;
		}
		if (w->todo_head->fn == NULL)
			writer_wait_for_txns(w);
		/* consecutive bounces share one commit; an admin job runs alone */
		first = last = w->todo_head;
		if (first->fn == NULL)
			while (last->next != NULL && last->next->fn == NULL && n < w->batch_max) {
				last = last->next;
				n++;
			}
		w->todo_head = last->next;
		if (w->todo_head == NULL)
			w->todo_tail = NULL;
		last->next = NULL;
		g_mutex_unlock(&w->lock);

		b = g_new0(struct writer_batch, 1);
		b->jobs = first;
		b->changes = g_array_new(FALSE, FALSE, sizeof(struct store_change));
		b->bounces = first->fn == NULL ? n : 0;
		if (writer_ensure_store(w, first->err) < 0) {
			for (j = first; j != NULL; j = j->next) {
				j->rc = -1;
				j->errcode = STORE_ERR_IO;
				if (j != first)
					g_strlcpy(j->err, first->err, sizeof(j->err));
			}
			b->failed = n;
		} else if (first->fn == NULL) {
			gint64 t0 = g_get_monotonic_time();

			writer_run_ingest(w, first, n, b);
			b->usec = g_get_monotonic_time() - t0;
		} else {
			first->rc = first->fn(w->store, first->arg, time(NULL), b->changes, first->err);
			if (first->rc < 0) {
				first->errcode = store_errcode(w->store);
				b->failed = 1;
			}
		}
		/* a failed commit: start from a fresh connection next time */
		if (b->failed > 0 && w->store != NULL)
			w->reopen = 1;
		if (first->fn == NULL && w->store != NULL)
			g_atomic_int_set(&w->healthy, b->failed == 0);
		for (j = first; j != NULL; j = j->next)
			j->batch = n;
		writer_handback(w, b);
	}
	return NULL;
}

/* One commit for n bounces; if it fails, one commit each. */
static void
writer_run_ingest(struct writer *w, struct writer_job *jobs, unsigned n, struct writer_batch *b)
{
	struct store_bounce *arr = g_new(struct store_bounce, n);
	struct writer_job *j;
	unsigned i;
	int rc;
	gint64 t0 = g_get_monotonic_time();

	for (i = 0, j = jobs; j != NULL; j = j->next, i++)
		arr[i] = j->bounce;
	rc = store_ingest(w->store, arr, n, time(NULL), b->changes);
	log_debug("event=commit bounces=%u rc=%d ms=%.2f", n, rc,
	    (double)(g_get_monotonic_time() - t0) / 1000.0);
	if (rc == 0) {
		for (i = 0, j = jobs; j != NULL; j = j->next, i++) {
			j->bounce.id_r = arr[i].id_r;
			j->bounce.duplicate_r = arr[i].duplicate_r;
			j->rc = 0;
		}
	} else if (n == 1) {
		jobs->rc = -1;
		jobs->errcode = store_errcode(w->store);
		g_strlcpy(jobs->err, store_errmsg(w->store), sizeof(jobs->err));
		b->failed = 1;
	} else {
		/* changes of the failed batch were not appended (rolled back) */
		g_array_set_size(b->changes, 0);
		for (i = 0, j = jobs; j != NULL; j = j->next, i++) {
			j->rc = store_ingest(w->store, &arr[i], 1, time(NULL), b->changes);
			if (j->rc == 0) {
				j->bounce.id_r = arr[i].id_r;
				j->bounce.duplicate_r = arr[i].duplicate_r;
			} else {
				j->errcode = store_errcode(w->store);
				g_strlcpy(j->err, store_errmsg(w->store), sizeof(j->err));
				b->failed++;
			}
		}
	}
	g_free(arr);
}

static void
writer_handback(struct writer *w, struct writer_batch *b)
{
	uint64_t one = 1;
	ssize_t r;

	g_mutex_lock(&w->lock);
	if (w->done_tail != NULL)
		w->done_tail->next = b;
	else
		w->done_head = b;
	w->done_tail = b;
	g_mutex_unlock(&w->lock);
	do
		r = write(w->efd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}

/* Loop thread: apply every finished batch's changes, then complete its jobs. */
static void
writer_drain(struct writer *w)
{
	struct writer_batch *b;

	g_mutex_lock(&w->lock);
	b = w->done_head;
	w->done_head = w->done_tail = NULL;
	g_mutex_unlock(&w->lock);
	while (b != NULL) {
		struct writer_batch *next = b->next;
		struct writer_job *j = b->jobs;

		if (b->changes->len > 0)
			w->apply(b->changes, w->apply_ud);
		if (b->bounces > 0) {
			w->stats.commits++;
			w->stats.bounces += b->bounces;
			if (b->bounces > w->stats.max_batch)
				w->stats.max_batch = b->bounces;
		}
		w->stats.failed += b->failed;
		if (b->bounces > 0 && w->commit_fn != NULL)
			w->commit_fn(b->bounces, b->failed, b->usec, w->commit_ud);
		while (j != NULL) {
			struct writer_job *jn = j->next;

			w->pending--;
			j->done(j);
			j = jn;
		}
		g_array_free(b->changes, TRUE);
		g_free(b);
		b = next;
	}
}

static void
writer_ready(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	uint64_t v;
	ssize_t r;

	(void)what;
	r = read(fd, &v, sizeof(v));
	(void)r;
	writer_drain(w);
}

void
writer_stop(struct writer *w)
{
	if (w == NULL || w->thread == NULL)
		return;
	g_mutex_lock(&w->lock);
	w->stopping = 1;
	g_cond_signal(&w->cond);
	g_mutex_unlock(&w->lock);
	g_thread_join(w->thread);
	w->thread = NULL;
	writer_drain(w);
}

void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	writer_stop(w);
	event_free(w->ev);
	close(w->efd);
	store_close(w->store);
	g_free((char *)w->sc.path);
	g_free((void *)w->sc.secret);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->cond);
	g_free(w);
}

void
writer_set_commit_hook(struct writer *w, writer_commit_fn fn, void *ud)
{
	w->commit_fn = fn;
	w->commit_ud = ud;
}

void
writer_get_stats(const struct writer *w, struct writer_stats *st_r)
{
	if (w == NULL) {
		memset(st_r, 0, sizeof(*st_r));
		return;
	}
	*st_r = w->stats;
}
