/* SPDX-License-Identifier: MIT */
/*
 * admin-change.c - the admin verbs that change the store: SUPPRESS,
 * UNSUPPRESS, FORGET, REEVALUATE, PURGE and IMPORT.  Each runs as a job of
 * the writer thread, like bounces do, so the daemon stays the one writer;
 * the answer is sent from the job's done callback, in the loop thread.  The
 * store audits every change with the connection's actor.
 *
 * IMPORT reads entry lines after its "OK send" and commits them
 * ADMIN_IMPORT_BATCH at a time; a bad line is answered at once and skipped.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <glib.h>

#include "admin-int.h"
#include "admin.h"
#include "daemon.h"
#include "log.h"
#include "report.h"
#include "writer.h"

#define ADMIN_IMPORT_BATCH 1000          /* entries per import transaction */
#define ADMIN_IMPORT_ERRORS 1000         /* error lines sent; the rest are counted */

enum admin_job_kind {
	ADMIN_JOB_SUPPRESS,
	ADMIN_JOB_UNSUPPRESS,
	ADMIN_JOB_FORGET,
	ADMIN_JOB_REEVALUATE,
	ADMIN_JOB_PURGE,
	ADMIN_JOB_IMPORT,
};

/* A change run by the writer thread for one connection. */
struct admin_job {
	struct writer_job job;          /* job.ud: the connection, NULL once it is gone */
	enum admin_job_kind kind;
	GArray *manual;                 /* struct store_manual (SUPPRESS, IMPORT) */
	GStringChunk *strings;          /* what manual points into */
	char *target, *note;
	char actor[128];
	int dry_run;
	int last;                       /* IMPORT: the batch after the "." */
	int64_t result;
	struct store_forget_result forget;
	GPtrArray *diffs;               /* struct store_reeval_diff * */
};

/* An IMPORT receiving its entry lines. */
struct admin_import {
	char source[128];
	unsigned line;
	GArray *manual;                 /* pending entries */
	GStringChunk *strings;
	uint64_t imported, errors;
};

static struct admin_job *admin_job_new(enum admin_job_kind kind);
static void admin_submit(struct admin_conn *c, struct admin_job *j);
static void admin_job_done(struct writer_job *job);
static void admin_job_free(struct admin_job *j);
static int admin_manual(const struct admin_args *a, const char *actor, GStringChunk *strings,
    time_t now, int import, struct store_manual *m, char err[256]);
static void admin_target_job(struct admin_conn *c, const struct admin_args *a, int forget);
static void admin_import_flush(struct admin_conn *c, int last);
static void admin_import_done(struct admin_conn *c);
static void admin_import_free(struct admin_conn *c);

/* ---- the verbs ------------------------------------------------------------ */

/* SUPPRESS target=A|@D [reason=] [until=] [note=] [cause=] [status=] [since=] */
void
admin_suppress(struct admin_conn *c, const struct admin_args *a)
{
	struct admin_job *j = admin_job_new(ADMIN_JOB_SUPPRESS);
	struct store_manual m;
	char err[256], esc[ADMIN_FIELD];

	j->strings = g_string_chunk_new(256);
	j->manual = g_array_new(FALSE, FALSE, sizeof(struct store_manual));
	if (admin_manual(a, c->actor, j->strings, time(NULL), 0, &m, err) < 0) {
		admin_reply(c, "ERR invalid %s", admin_encode(err, strlen(err), esc, sizeof(esc)));
		admin_job_free(j);
		return;
	}
	g_array_append_val(j->manual, m);
	admin_submit(c, j);
}

/* UNSUPPRESS target=A|@D [note=TEXT] */
void
admin_unsuppress(struct admin_conn *c, const struct admin_args *a)
{
	admin_target_job(c, a, 0);
}

/* FORGET address=A */
void
admin_forget(struct admin_conn *c, const struct admin_args *a)
{
	admin_target_job(c, a, 1);
}

static void
admin_target_job(struct admin_conn *c, const struct admin_args *a, int forget)
{
	const char *t = admin_arg(a, forget ? "address" : "target");
	char norm[STORE_ADDR_MAX + 1], err[256], esc[ADMIN_FIELD];
	struct admin_job *j;
	int n;

	if (t == NULL) {
		admin_reply(c, "ERR usage %s", forget ? "FORGET address=A" :
		    "UNSUPPRESS target=A|@D [note=TEXT]");
		return;
	}
	n = store_addr_normalize(t, strlen(t), norm, err);
	if (n < 0 || (forget && norm[0] == '@')) {
		admin_reply(c, "ERR invalid %s", n < 0 ? admin_encode(err, strlen(err), esc,
		    sizeof(esc)) : "FORGET takes an address");
		return;
	}
	j = admin_job_new(forget ? ADMIN_JOB_FORGET : ADMIN_JOB_UNSUPPRESS);
	j->target = g_strdup(norm);
	j->note = g_strdup(admin_arg(a, "note"));
	admin_submit(c, j);
}

/* REEVALUATE [dry_run=1] */
void
admin_reevaluate(struct admin_conn *c, const struct admin_args *a)
{
	const char *dr = admin_arg(a, "dry_run");
	struct admin_job *j = admin_job_new(ADMIN_JOB_REEVALUATE);

	j->dry_run = dr != NULL && strcmp(dr, "0") != 0;
	j->diffs = g_ptr_array_new_with_free_func((GDestroyNotify)store_reeval_diff_free);
	admin_submit(c, j);
}

/* PURGE */
void
admin_purge(struct admin_conn *c, const struct admin_args *a)
{
	(void)a;
	admin_submit(c, admin_job_new(ADMIN_JOB_PURGE));
}

/* IMPORT [source=NAME] -> OK send; entry lines follow (admin_import_line). */
void
admin_import(struct admin_conn *c, const struct admin_args *a)
{
	const char *src = admin_arg(a, "source");
	struct admin_import *im = g_new0(struct admin_import, 1);

	snprintf(im->source, sizeof(im->source), "import:%s", src ? src : "admin");
	im->manual = g_array_new(FALSE, FALSE, sizeof(struct store_manual));
	im->strings = g_string_chunk_new(64 * 1024);
	c->import = im;
	admin_reply(c, "OK send");
}

void
admin_change_abandon(struct admin_conn *c)
{
	if (c->job != NULL)
		c->job->job.ud = NULL;
	admin_import_free(c);
}

/* ---- writer jobs ---------------------------------------------------------- */

static struct admin_job *
admin_job_new(enum admin_job_kind kind)
{
	struct admin_job *j = g_new0(struct admin_job, 1);

	j->kind = kind;
	return j;
}

static int
admin_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct admin_job *j = arg;
	int rc = 0;

	switch (j->kind) {
	case ADMIN_JOB_SUPPRESS:
	case ADMIN_JOB_IMPORT:
		rc = store_suppress(s, (const struct store_manual *)(void *)j->manual->data,
		    j->manual->len, now, changes);
		j->result = rc == 0 ? j->manual->len : 0;
		break;
	case ADMIN_JOB_UNSUPPRESS:
		rc = store_unsuppress(s, j->target, j->note, j->actor, now, changes);
		j->result = rc;
		break;
	case ADMIN_JOB_FORGET:
		rc = store_forget(s, j->target, j->actor, now, &j->forget, changes);
		j->result = rc;
		break;
	case ADMIN_JOB_REEVALUATE:
		rc = store_reevaluate(s, j->dry_run, now, j->diffs, changes);
		break;
	case ADMIN_JOB_PURGE:
		j->result = store_purge(s, now);
		rc = j->result < 0 ? -1 : 0;
		break;
	}
	if (rc < 0)
		g_strlcpy(err, store_errmsg(s), 256);
	return rc < 0 ? -1 : 0;
}

static void
admin_submit(struct admin_conn *c, struct admin_job *j)
{
	/* the verb table asked for the writer (ADMIN_NEEDS_WRITER); main.c never drops it */
	j->job.fn = admin_fn;
	j->job.arg = j;
	j->job.done = admin_job_done;
	j->job.ud = c;
	g_strlcpy(j->actor, c->actor, sizeof(j->actor));
	c->job = j;
	c->busy = 1;
	writer_submit(c->srv->d->writer, &j->job);
}

static void
admin_job_free(struct admin_job *j)
{
	if (j->manual != NULL)
		g_array_free(j->manual, TRUE);
	if (j->strings != NULL)
		g_string_chunk_free(j->strings);
	if (j->diffs != NULL)
		g_ptr_array_free(j->diffs, TRUE);
	g_free(j->target);
	g_free(j->note);
	g_free(j);
}

static void
admin_job_done(struct writer_job *job)
{
	struct admin_job *j = (struct admin_job *)job;
	struct admin_conn *c = job->ud;
	char esc[ADMIN_FIELD];

	log_info("event=admin_change actor=\"%s\" kind=%d rc=%d result=%" G_GINT64_FORMAT "%s%s%s",
	    j->actor, (int)j->kind, job->rc, j->result, job->rc < 0 ? " error=\"" : "",
	    job->rc < 0 ? log_escape(job->err, strlen(job->err), esc, sizeof(esc)) : "",
	    job->rc < 0 ? "\"" : "");
	if (c == NULL) {
		admin_job_free(j);
		return;
	}
	c->job = NULL;
	if (job->rc < 0 && j->kind != ADMIN_JOB_IMPORT) {
		admin_reply(c, "ERR store %s", admin_encode(job->err, strlen(job->err), esc,
		    sizeof(esc)));
		admin_job_free(j);
		admin_done(c);
		return;
	}
	switch (j->kind) {
	case ADMIN_JOB_SUPPRESS:
		admin_reply(c, "OK changed=%" G_GINT64_FORMAT, j->result);
		break;
	case ADMIN_JOB_UNSUPPRESS:
		admin_reply(c, "OK lifted=%" G_GINT64_FORMAT, j->result);
		break;
	case ADMIN_JOB_FORGET:
		admin_reply(c, "OK forgotten=%" G_GINT64_FORMAT " events=%u bounces=%u audit=%u "
		    "kept_suppressed=%d bounces_redacted=%u", j->result, j->forget.events,
		    j->forget.bounces, j->forget.audit, j->forget.kept_suppressed,
		    j->forget.bounces_redacted);
		break;
	case ADMIN_JOB_REEVALUATE:
		for (guint i = 0; i < j->diffs->len; i++) {
			const struct store_reeval_diff *df = g_ptr_array_index(j->diffs, i);

			admin_reply(c, "+ address=%s before=%s/%s after=%s/%s",
			    admin_encode(df->address, strlen(df->address), esc, sizeof(esc)),
			    store_cause_name(df->before.cause), report_reason_name(df->before.reason),
			    store_cause_name(df->after.cause), report_reason_name(df->after.reason));
		}
		admin_reply(c, "OK changed=%u dry_run=%d", j->diffs->len, j->dry_run);
		break;
	case ADMIN_JOB_PURGE:
		admin_reply(c, "OK purged=%" G_GINT64_FORMAT, j->result);
		break;
	case ADMIN_JOB_IMPORT: {
		struct admin_import *im = c->import;

		if (job->rc < 0) {
			/* the batch is not stored: say so and end the import */
			admin_reply(c, "ERR store %s (imported=%" G_GUINT64_FORMAT " before it)",
			    admin_encode(job->err, strlen(job->err), esc, sizeof(esc)), im->imported);
			admin_import_free(c);
			c->closing = 1; /* the client is still sending lines: hang up */
		} else {
			im->imported += (uint64_t)j->result;
			if (j->last)
				admin_import_done(c);
		}
		break;
	}
	}
	admin_job_free(j);
	admin_done(c);
}

/* Builds one struct store_manual from key=value fields; -1 with err. */
static int
admin_manual(const struct admin_args *a, const char *actor, GStringChunk *strings, time_t now,
    int import, struct store_manual *m, char err[256])
{
	char norm[STORE_ADDR_MAX + 1];
	const char *v;
	int n;

	memset(m, 0, sizeof(*m));
	v = admin_arg(a, "target");
	if (v == NULL) {
		snprintf(err, 256, "target missing");
		return -1;
	}
	if (import && strncmp(v, "hmac:", 5) == 0) {
		/* a forgotten entry from an export */
		if (!store_erased_name_valid(v)) {
			snprintf(err, 256, "invalid erased-entry name");
			return -1;
		}
		m->target = g_string_chunk_insert(strings, v);
	} else {
		n = store_addr_normalize(v, strlen(v), norm, err);
		if (n < 0)
			return -1;
		m->target = g_string_chunk_insert_len(strings, norm, n);
	}
	if (import && (v = admin_arg(a, "source")) != NULL && strcmp(v, "-") != 0 && *v != '\0')
		m->source = g_string_chunk_insert(strings, v);
	m->cause = import ? STORE_CAUSE_IMPORT : STORE_CAUSE_MANUAL;
	if ((v = admin_arg(a, "cause")) != NULL &&
	    (!store_cause_from_name(v, &m->cause) || m->cause == STORE_CAUSE_NONE)) {
		snprintf(err, 256, "unknown cause");
		return -1;
	}
	m->reason = REPORT_REASON_UNDEFINED;
	if ((v = admin_arg(a, "reason")) != NULL && !report_reason_from_name(v, &m->reason)) {
		snprintf(err, 256, "unknown reason");
		return -1;
	}
	if ((v = admin_arg(a, "status")) != NULL && strcmp(v, "-") != 0 && *v != '\0') {
		if (!report_status_valid(v)) {
			snprintf(err, 256, "invalid status code");
			return -1;
		}
		m->status = g_string_chunk_insert(strings, v);
	}
	if ((v = admin_arg(a, "since")) != NULL && admin_parse_time(v, 0, now, &m->since) < 0) {
		snprintf(err, 256, "invalid since");
		return -1;
	}
	m->until = STORE_TTL_NEVER;
	if ((v = admin_arg(a, "until")) != NULL && admin_parse_time(v, 1, now, &m->until) < 0) {
		snprintf(err, 256, "invalid until");
		return -1;
	}
	if ((v = admin_arg(a, "note")) != NULL)
		m->note = g_string_chunk_insert(strings, v);
	m->actor = g_string_chunk_insert(strings, actor);
	return 0;
}


/* ---- IMPORT's entry lines ------------------------------------------------ */

int
admin_import_line(struct admin_conn *c, char *line)
{
	static const char *const keys[] = { "target", "cause", "reason", "status", "since",
	    "until", "note", "source", "address", "updated", "soft_count", "last_delivered",
	    "scope", "rule", NULL };
	struct admin_import *im = c->import;
	struct store_manual m;
	struct admin_args a;
	char err[256], esc[ADMIN_FIELD];
	char actor[320];
	const char *unknown;

	im->line++;
	if (strcmp(line, ".") == 0) {
		admin_import_flush(c, 1);
		return 0;
	}
	if (strncmp(line, "+ ", 2) != 0) {
		snprintf(err, sizeof(err), "expected \"+ target=...\" or \".\"");
		goto bad;
	}
	/* admin_parse wants a verb: "+" plays it */
	if (admin_parse(line, &a, err) < 0)
		goto bad;
	if ((unknown = admin_unknown_key(&a, keys)) != NULL) {
		snprintf(err, sizeof(err), "unknown field %s", unknown);
		goto bad;
	}
	/* an EXPORT line names its entry address=: the same thing */
	for (unsigned i = 0; i < a.n; i++)
		if (strcmp(a.key[i], "address") == 0 && admin_arg(&a, "target") == NULL)
			a.key[i] = (char *)"target";
	snprintf(actor, sizeof(actor), "%s %s", c->actor, im->source);
	if (admin_manual(&a, actor, im->strings, time(NULL), 1, &m, err) < 0)
		goto bad;
	g_array_append_val(im->manual, m);
	if (im->manual->len >= ADMIN_IMPORT_BATCH)
		admin_import_flush(c, 0);
	return 0;
bad:
	im->errors++;
	if (im->errors <= ADMIN_IMPORT_ERRORS)
		admin_reply(c, "+ error line=%u text=%s", im->line,
		    admin_encode(err, strlen(err), esc, sizeof(esc)));
	return -1;
}

/* The import is over: its answer, and its state freed. */
static void
admin_import_done(struct admin_conn *c)
{
	admin_reply(c, "OK imported=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT,
	    c->import->imported, c->import->errors);
	admin_import_free(c);
}

static void
admin_import_free(struct admin_conn *c)
{
	struct admin_import *im = c->import;

	if (im == NULL)
		return;
	g_array_free(im->manual, TRUE);
	g_string_chunk_free(im->strings);
	g_free(im);
	c->import = NULL;
}

/* Commits the pending entries; last: the "." came, answer when done. */
static void
admin_import_flush(struct admin_conn *c, int last)
{
	struct admin_import *im = c->import;
	struct admin_job *j;

	if (im->manual->len == 0 && last) {
		admin_import_done(c);
		return;
	}
	j = g_new0(struct admin_job, 1);
	j->kind = ADMIN_JOB_IMPORT;
	j->manual = im->manual;
	j->strings = im->strings;
	j->last = last;
	im->manual = g_array_new(FALSE, FALSE, sizeof(struct store_manual));
	im->strings = g_string_chunk_new(64 * 1024);
	admin_submit(c, j);
}
