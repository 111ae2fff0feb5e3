/* SPDX-License-Identifier: MIT */
/*
 * test-writer.c - the writer thread on a real store in a temp directory:
 * group commit (batches bounded by batch_max), a bounce the store refuses
 * failing alone inside a batch (an SQLite trigger plays the poison), index
 * changes applied before each job's done(), a store that cannot be opened
 * at start and is picked up once it can, writer_stop() completing what
 * was queued, and the commit delay that groups concurrent transactions.
 */
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include <event2/event.h>

#include "store.h"
#include "test-store-util.h"
#include "writer.h"

#define NJOBS 24

struct job {
	struct writer_job wj;
	struct report *r;
	char raw[128];
	char rcpt[64];
	int done;
	int indexed_at_done;    /* the index knew the address when done() ran */
};

static struct store_index *idx;
static unsigned applied, completed;

static void
apply(const GArray *changes, void *ud)
{
	(void)ud;
	g_assert_cmpint(store_index_apply(idx, changes), ==, 0);
	applied += changes->len;
}

static void
done(struct writer_job *wj)
{
	struct job *j = (struct job *)wj;
	struct store_verdict v;

	j->done = 1;
	j->indexed_at_done = store_check(idx, j->rcpt, strlen(j->rcpt), T0 + 10, &v) == 1;
	completed++;
}

static void
job_init(struct job *j, int i, const char *envelope)
{
	memset(j, 0, sizeof(*j));
	g_snprintf(j->rcpt, sizeof(j->rcpt), "user%d@example.com", i);
	g_snprintf(j->raw, sizeof(j->raw), "Subject: bounce %d\r\n\r\nbody %d\r\n", i, i);
	j->r = tu_report();
	tu_add(j->r, j->rcpt, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS, REPORT_REASON_USERUNKNOWN,
	    "5.1.1", "550 5.1.1 user unknown");
	j->wj.bounce.raw = j->raw;
	j->wj.bounce.raw_len = strlen(j->raw);
	j->wj.bounce.report = j->r;
	j->wj.bounce.envelope_rcpt = envelope;
	j->wj.bounce.received = T0;
	j->wj.done = done;
}

/* Holds the writer thread so that the next jobs queue up into full batches. */
static int
blocker_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	(void)s;
	(void)arg;
	(void)now;
	(void)changes;
	(void)err;
	g_usleep(200 * 1000);
	return 0;
}

static void
blocker_done(struct writer_job *wj)
{
	(void)wj;
	completed++;
}

static void
run_until(struct event_base *base, unsigned want)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	while (completed < want) {
		struct timeval tv = { 0, 20000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		if (g_get_monotonic_time() > deadline)
			g_error("only %u of %u jobs completed", completed, want);
	}
}

/*
 * A writer on the database at path, batches of batch_max, with a fresh
 * index (idx) and counters; busy_timeout_ms and cache_kib as the daemon's
 * store config would set them.  err as writer_new's.
 */
static struct writer *
writer_start(struct event_base *base, const char *path, const struct store_policy *pol,
    unsigned busy_timeout_ms, unsigned cache_kib, unsigned batch_max, char err[256])
{
	struct store_config sc = { 0 };
	struct writer *w;

	idx = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	applied = completed = 0;
	sc.path = path;
	sc.secret = (const unsigned char *)TEST_SECRET;
	sc.secret_len = strlen(TEST_SECRET);
	sc.busy_timeout_ms = busy_timeout_ms;
	sc.cache_kib = cache_kib;
	w = writer_new(base, &sc, pol, batch_max, apply, NULL, err);
	g_assert_nonnull(w);
	return w;
}

static void
test_group_commit_and_poison(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol;
	struct event_base *base = event_base_new();
	struct writer *w;
	struct writer_stats st;
	struct job *jobs = g_new0(struct job, NJOBS);
	char err[256];
	gchar *path = g_build_filename(dir, "bounced.db", NULL);
	struct store *s;

	store_policy_default(&pol);
	/* create the schema, then a trigger that refuses one envelope */
	s = tu_open(dir, &pol, 0);
	store_close(s);
	g_assert_cmpint(tu_sql_exec(dir, "CREATE TRIGGER poison BEFORE INSERT ON bounce "
	    "WHEN NEW.envelope_rcpt = 'poison@bounce.test' "
	    "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"), ==, 0);

	w = writer_start(base, path, &pol, 2000, 2048, 4, err);
	g_assert_cmpstr(err, ==, "");
	g_assert_true(writer_healthy(w));
	{
		static struct writer_job blocker;

		blocker.fn = blocker_fn;
		blocker.done = blocker_done;
		writer_submit(w, &blocker);
	}
	for (int i = 0; i < NJOBS; i++) {
		job_init(&jobs[i], i, i == 9 ? "poison@bounce.test" : "bounces@bounce.test");
		writer_submit(w, &jobs[i].wj);
	}
	run_until(base, NJOBS + 1);
	/* queued behind the blocker: full batches of batch_max, the poison inside one */
	g_assert_cmpuint(jobs[9].wj.batch, ==, 4);
	for (int i = 0; i < NJOBS; i++) {
		g_assert_true(jobs[i].done);
		g_assert_cmpuint(jobs[i].wj.batch, >=, 1);
		g_assert_cmpuint(jobs[i].wj.batch, <=, 4);
		if (i == 9) {
			g_assert_cmpint(jobs[i].wj.rc, ==, -1);
			g_assert_nonnull(strstr(jobs[i].wj.err, "poisoned"));
			g_assert_false(jobs[i].indexed_at_done);
		} else {
			if (jobs[i].wj.rc != 0)
				g_error("job %d failed: %s", i, jobs[i].wj.err);
			g_assert_cmpint(jobs[i].wj.bounce.id_r, >, 0);
			/* the 250 may go out: the index already answers for the address */
			g_assert_true(jobs[i].indexed_at_done);
		}
	}
	writer_get_stats(w, &st);
	g_assert_cmpuint(st.bounces, ==, NJOBS);
	g_assert_cmpuint(st.failed, ==, 1);
	g_assert_cmpuint(st.max_batch, ==, 4);
	g_assert_cmpuint(st.commits, ==, NJOBS / 4);
	g_assert_cmpuint(applied, ==, NJOBS - 1);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM bounce"), ==, NJOBS - 1);

	/* the same bounce again: a duplicate, nothing counted twice */
	completed = 0;
	report_free(jobs[0].r);
	job_init(&jobs[0], 0, "bounces@bounce.test");
	writer_submit(w, &jobs[0].wj);
	run_until(base, 1);
	g_assert_cmpint(jobs[0].wj.rc, ==, 0);
	g_assert_true(jobs[0].wj.bounce.duplicate_r);

	/* stop with work queued: everything completes */
	completed = 0;
	for (int i = 1; i < 6; i++) {
		report_free(jobs[i].r);
		job_init(&jobs[i], 100 + i, "bounces@bounce.test");
		writer_submit(w, &jobs[i].wj);
	}
	writer_stop(w);
	g_assert_cmpuint(completed, ==, 5);
	for (int i = 1; i < 6; i++)
		g_assert_cmpint(jobs[i].wj.rc, ==, 0);
	/* after the stop a job fails at once */
	completed = 0;
	report_free(jobs[6].r);
	job_init(&jobs[6], 200, "bounces@bounce.test");
	writer_submit(w, &jobs[6].wj);
	g_assert_cmpuint(completed, ==, 1);
	g_assert_cmpint(jobs[6].wj.rc, ==, -1);
	writer_free(w);

	for (int i = 0; i < NJOBS; i++)
		report_free(jobs[i].r);
	g_free(jobs);
	store_index_free(idx);
	event_base_free(base);
	g_free(path);
	tu_rmdir(dir);
}

/* A database that cannot be opened at start: jobs fail, then it works by itself. */
static void
test_store_unavailable(void)
{
	char *dir = tu_mkdir();
	gchar *sub = g_build_filename(dir, "missing", NULL);
	gchar *path = g_build_filename(sub, "bounced.db", NULL);
	struct store_policy pol;
	struct event_base *base = event_base_new();
	struct writer *w;
	struct job j;
	char err[256];

	store_policy_default(&pol);
	w = writer_start(base, path, &pol, 100, 0, 8, err);
	g_assert_cmpstr(err, !=, "");
	g_assert_false(writer_healthy(w));
	job_init(&j, 1, "bounces@bounce.test");
	writer_submit(w, &j.wj);
	run_until(base, 1);
	g_assert_cmpint(j.wj.rc, ==, -1);
	g_assert_nonnull(strstr(j.wj.err, "store unavailable"));
	/* repaired: the directory exists now */
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	g_usleep(600 * 1000);
	completed = 0;
	report_free(j.r);
	job_init(&j, 1, "bounces@bounce.test");
	writer_submit(w, &j.wj);
	run_until(base, 1);
	if (j.wj.rc != 0)
		g_error("after repair: %s", j.wj.err);
	g_assert_true(writer_healthy(w));
	g_assert_true(j.indexed_at_done);
	writer_free(w);
	report_free(j.r);
	store_index_free(idx);
	event_base_free(base);
	g_free(path);
	g_free(sub);
	tu_rmdir(dir);
}

/* Until the writer waits for transactions in progress (20 s at most). */
static void
wait_delaying(struct writer *w)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	while (!writer_delaying(w)) {
		if (g_get_monotonic_time() > deadline)
			g_error("the writer never waited for the transactions in progress");
		g_usleep(1000);
	}
}

/*
 * The commit delay: a bounce queued while other transactions are in
 * progress waits for theirs (one commit for all); a transaction that ends
 * without a bounce (RSET, hang-up) releases the wait.  The delay is a
 * minute, so a writer that did not wait, or was not woken, fails the
 * assertions or run_until's deadline, whatever the machine's speed.
 */
static void
test_commit_delay(void)
{
	char *dir = tu_mkdir();
	struct store_policy pol;
	struct event_base *base = event_base_new();
	struct writer *w;
	struct job j[4];
	char err[256];
	gchar *path = g_build_filename(dir, "bounced.db", NULL);

	store_policy_default(&pol);
	w = writer_start(base, path, &pol, 2000, 2048, 64, err);
	writer_set_commit_delay(w, 60u * 1000 * 1000);

	/* three transactions in progress; their bounces come one by one, each
	 * after the writer has started waiting */
	writer_txn_add(w, 3);
	for (int i = 0; i < 3; i++) {
		job_init(&j[i], i, "bounces@bounce.test");
		j[i].wj.ends_txn = 1;
		writer_submit(w, &j[i].wj);
		if (i < 2)
			wait_delaying(w);
	}
	run_until(base, 3);
	for (int i = 0; i < 3; i++) {
		g_assert_cmpint(j[i].wj.rc, ==, 0);
		g_assert_cmpuint(j[i].wj.batch, ==, 3);
	}

	/* a bounce of an uncounted session waits for the one in progress,
	 * which then ends without a bounce: the wait ends with it */
	completed = 0;
	writer_txn_add(w, 1);
	job_init(&j[3], 3, "bounces@bounce.test");
	writer_submit(w, &j[3].wj);
	wait_delaying(w);
	writer_txn_add(w, -1);
	run_until(base, 1);
	g_assert_cmpint(j[3].wj.rc, ==, 0);
	g_assert_cmpuint(j[3].wj.batch, ==, 1);

	writer_free(w);
	for (int i = 0; i < 4; i++)
		report_free(j[i].r);
	store_index_free(idx);
	event_base_free(base);
	g_free(path);
	tu_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/writer/group-commit-poison", test_group_commit_and_poison);
	g_test_add_func("/writer/store-unavailable", test_store_unavailable);
	g_test_add_func("/writer/commit-delay", test_commit_delay);
	return g_test_run();
}
