/* SPDX-License-Identifier: MIT */
/*
 * admin-read.c - the admin verbs that read: CHECK from the index, the others
 * from the loop's read-only store, METRICS and STATS's daemon lines from one
 * metrics snapshot.  No verb here changes anything.
 *
 * LIST and EXPORT stream: rows are fetched in chunks of ADMIN_CHUNK with
 * keyset paging (after=<last address>), the next chunk only once the client
 * has read the output down to the low watermark (admin.c sets it): memory
 * stays constant whatever the number of rows.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <glib.h>

#include "admin-int.h"
#include "admin.h"
#include "alert.h"
#include "build-config.h"
#include "daemon.h"
#include "metrics.h"
#include "report.h"
#include "snapshot.h"
#include "util.h"

#define ADMIN_CHUNK      1000            /* rows per store_list() call */
#define ADMIN_OUT_HIGH   (256u * 1024)   /* stop fetching rows above this */

/* A LIST or EXPORT in progress. */
struct admin_stream {
	struct store_filter f;
	char *domain;
	char after[STORE_ADDR_MAX + 1];
	int has_after;
	unsigned limit;                 /* LIST: rows wanted; 0 = all */
	uint64_t count;
};

static int admin_filter(struct admin_conn *c, const struct admin_args *a,
    struct admin_stream *st, int suppressed_default);
static void admin_stream_start(struct admin_conn *c, const struct admin_args *a, int is_list);
static void admin_put_event(struct evbuffer *out, const struct store_event *ev);
static void admin_put_daemon(struct admin_conn *c, const struct metrics_snapshot *s);

/* PING -> OK version=1 daemon=<version> */
void
admin_ping(struct admin_conn *c, const struct admin_args *a)
{
	(void)a;
	admin_reply(c, "OK version=1 daemon=%s", BOUNCED_VERSION);
}

/* QUIT -> OK bye, then the connection closes once the output drained. */
void
admin_quit(struct admin_conn *c, const struct admin_args *a)
{
	(void)a;
	admin_reply(c, "OK bye");
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
}

/* CHECK address=A: what the index says, as query.c would answer. */
void
admin_check(struct admin_conn *c, const struct admin_args *a)
{
	const char *addr = admin_arg(a, "address");
	char norm[STORE_ADDR_MAX + 1], since[32], until[32], err[256], esc[ADMIN_FIELD];
	struct store_verdict v;
	int n, rc;

	if (addr == NULL) {
		admin_reply(c, "ERR usage CHECK address=A");
		return;
	}
	n = store_addr_normalize(addr, strlen(addr), norm, err);
	if (n < 0 || norm[0] == '@') {
		admin_reply(c, "ERR invalid %s", n < 0 ? admin_encode(err, strlen(err), esc,
		    sizeof(esc)) : "a domain, not an address");
		return;
	}
	rc = store_check(c->srv->d->idx, norm, (size_t)n, time(NULL), &v);
	if (rc < 0) {
		admin_reply(c, "ERR invalid address");
		return;
	}
	if (rc == 0)
		admin_reply(c, "+ address=%s state=ok", admin_encode(norm, (size_t)n, esc,
		    sizeof(esc)));
	else
		admin_reply(c, "+ address=%s state=suppressed cause=%s reason=%s since=%s "
		    "until=%s entry=%s", admin_encode(norm, (size_t)n, esc, sizeof(esc)),
		    store_cause_name(v.cause), report_reason_name(v.reason),
		    util_iso8601_format(v.since, since), v.until == STORE_TTL_NEVER ? "never" :
		    util_iso8601_format(v.until, until), v.domain ? "domain" : "address");
	admin_reply(c, "OK");
}

/* ---- LIST, EXPORT ------------------------------------------------------ */

void
admin_list(struct admin_conn *c, const struct admin_args *a)
{
	admin_stream_start(c, a, 1);
}

void
admin_export(struct admin_conn *c, const struct admin_args *a)
{
	if (admin_arg(a, "limit") || admin_arg(a, "after")) {
		admin_reply(c, "ERR usage EXPORT takes no limit or after (use LIST)");
		return;
	}
	admin_stream_start(c, a, 0);
}

static void
admin_stream_start(struct admin_conn *c, const struct admin_args *a, int is_list)
{
	struct admin_stream *st = g_new0(struct admin_stream, 1);

	/* EXPORT is for moving suppressions elsewhere: suppressed ones by default */
	if (admin_filter(c, a, st, !is_list) < 0) {
		g_free(st);
		return;
	}
	c->stream = st;
	c->busy = 1;
	admin_stream_more(c);
}

void
admin_stream_free(struct admin_conn *c)
{
	if (c->stream == NULL)
		return;
	g_free(c->stream->domain);
	g_free(c->stream);
	c->stream = NULL;
}

static int
admin_stream_row(const struct store_entry *e, void *ud)
{
	struct admin_conn *c = ud;
	struct admin_stream *st = c->stream;

	admin_put_entry(bufferevent_get_output(c->bev), NULL, e);
	g_strlcpy(st->after, e->address, sizeof(st->after));
	st->has_after = 1;
	st->count++;
	return 0;
}

/* Sends rows until the output is full or the listing ends. */
void
admin_stream_more(struct admin_conn *c)
{
	struct admin_stream *st = c->stream;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (evbuffer_get_length(out) < ADMIN_OUT_HIGH) {
		uint64_t before = st->count;
		unsigned chunk = ADMIN_CHUNK;
		char next[ADMIN_FIELD];

		if (st->limit > 0)
			chunk = (unsigned)MIN((uint64_t)chunk, st->limit - st->count);
		st->f.after = st->has_after ? st->after : NULL;
		st->f.limit = chunk;
		if (c->srv->d->ro == NULL) {
			/* the reader is being reopened (main.c): the stream cannot go on */
			admin_reply(c, "ERR store unavailable: the database was replaced; try again");
			goto end;
		}
		if (chunk > 0 && store_list(c->srv->d->ro, &st->f, time(NULL), admin_stream_row,
		    c) < 0) {
			admin_reply(c, "ERR store %s", store_errmsg(c->srv->d->ro));
			goto end;
		}
		if (st->count - before < chunk)
			break;
		if (st->limit > 0 && st->count >= st->limit) {
			admin_reply(c, "OK count=%" G_GUINT64_FORMAT " next=%s", st->count,
			    admin_encode(st->after, strlen(st->after), next, sizeof(next)));
			goto end;
		}
		if (chunk == 0)
			break;
	}
	if (evbuffer_get_length(out) >= ADMIN_OUT_HIGH)
		return;         /* the write callback calls us again */
	admin_reply(c, "OK count=%" G_GUINT64_FORMAT, st->count);
end:
	admin_stream_free(c);
	admin_done(c);
}

/* Fills a filter from the arguments; -1 after an ERR reply. */
static int
admin_filter(struct admin_conn *c, const struct admin_args *a, struct admin_stream *st,
    int suppressed_default)
{
	const char *v;
	time_t now = time(NULL);

	memset(&st->f, 0, sizeof(st->f));
	st->f.reason = -1;
	st->f.scope = -1;
	st->f.suppressed_only = suppressed_default;
	if ((v = admin_arg(a, "state")) != NULL) {
		if (strcmp(v, "suppressed") == 0)
			st->f.suppressed_only = 1;
		else if (strcmp(v, "all") == 0)
			st->f.suppressed_only = 0;
		else if (strcmp(v, "untrusted") == 0) {
			st->f.suppressed_only = 0;
			st->f.untrusted_only = 1;
		} else
			goto bad;
	}
	if ((v = admin_arg(a, "cause")) != NULL) {
		gchar **names = g_strsplit(v, ",", 0);

		for (gchar **p = names; *p != NULL; p++) {
			enum store_cause cause;

			if (!store_cause_from_name(*p, &cause)) {
				g_strfreev(names);
				goto bad;
			}
			st->f.cause_mask |= 1u << cause;
		}
		g_strfreev(names);
	}
	if ((v = admin_arg(a, "reason")) != NULL) {
		enum report_reason r;

		if (!report_reason_from_name(v, &r))
			goto bad;
		st->f.reason = (int)r;
	}
	if ((v = admin_arg(a, "scope")) != NULL) {
		enum report_scope s;

		if (!report_scope_from_name(v, &s))
			goto bad;
		st->f.scope = (int)s;
	}
	if ((v = admin_arg(a, "domain")) != NULL) {
		st->domain = g_ascii_strdown(v[0] == '@' ? v + 1 : v, -1);
		st->f.domain = st->domain;
	}
	if ((v = admin_arg(a, "since")) != NULL && admin_parse_time(v, 0, now, &st->f.since) < 0)
		goto bad;
	if ((v = admin_arg(a, "until")) != NULL && admin_parse_time(v, 0, now, &st->f.until) < 0)
		goto bad;
	if ((v = admin_arg(a, "after")) != NULL) {
		g_strlcpy(st->after, v, sizeof(st->after));
		st->has_after = 1;
	}
	if ((v = admin_arg(a, "limit")) != NULL) {
		int64_t n;

		if (admin_parse_count(v, 1, 1000000, &n) < 0)
			goto bad;
		st->limit = (unsigned)n;
	}
	return 0;
bad:
	admin_reply(c, "ERR invalid bad filter value");
	g_free(st->domain);
	st->domain = NULL;
	return -1;
}


/* ---- SHOW, RAW ----------------------------------------------------------- */

static void
admin_put_event(struct evbuffer *out, const struct store_event *ev)
{
	char at[32], act[64], diag[ADMIN_FIELD], dtype[64], mta[256], cmd[64], rule[128],
	    dec[64], rmta[256], mid[ADMIN_FIELD], snd[ADMIN_FIELD], subj[ADMIN_FIELD], unt[64],
	    tru[256], qid[64], lsnd[ADMIN_FIELD];

	evbuffer_add_printf(out, "+ type=event id=%" G_GINT64_FORMAT " bounce=%" G_GINT64_FORMAT
	    " at=%s class=%s reason=%s scope=%s status=%s replycode=%s action=%s "
	    "diagnostic=%s diagnostic_type=%s remote_mta=%s smtp_command=%s rule=%s "
	    "decoder=%s reporting_mta=%s message_id=%s orig_sender=%s subject=%s raw=%d "
	    "untrusted=%s trust=%s source=%s queue_id=%s sender=%s twin_of=%" G_GINT64_FORMAT "\n",
	    ev->id, ev->bounce_id, util_iso8601_format(ev->at, at),
	    report_class_name(ev->class), report_reason_name(ev->reason),
	    report_scope_name(ev->scope), ev->status[0] ? ev->status : "-",
	    ev->replycode[0] ? ev->replycode : "-", ADMIN_F(ev->action, act),
	    ADMIN_F(ev->diagnostic, diag), ADMIN_F(ev->diagnostic_type, dtype),
	    ADMIN_F(ev->remote_mta, mta), ADMIN_F(ev->smtp_command, cmd),
	    ADMIN_F(ev->rule, rule), ADMIN_F(ev->decoder, dec),
	    ADMIN_F(ev->reporting_mta, rmta), ADMIN_F(ev->orig_message_id, mid),
	    ADMIN_F(ev->orig_sender, snd), ADMIN_F(ev->subject, subj), ev->raw_kept,
	    ADMIN_F(ev->untrusted, unt), ADMIN_F(ev->trust, tru), ev->source,
	    ADMIN_F(ev->queue_id, qid), ADMIN_F(ev->sender, lsnd), ev->twin_of);
}

/* SHOW address=A [events=N] (default 50; 0 = all) */
void
admin_show(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *addr = admin_arg(a, "address"), *v;
	char norm[STORE_ADDR_MAX + 1], err[256];
	struct store_show sh;
	int64_t max = 50;
	int rc;

	if (addr == NULL) {
		admin_reply(c, "ERR usage SHOW address=A [events=N]");
		return;
	}
	if ((v = admin_arg(a, "events")) != NULL && admin_parse_count(v, 0, 100000, &max) < 0) {
		admin_reply(c, "ERR invalid events");
		return;
	}
	if (store_addr_normalize(addr, strlen(addr), norm, err) < 0) {
		admin_reply(c, "ERR invalid %s", admin_encode(err, strlen(err), norm, sizeof(norm)));
		return;
	}
	memset(&sh, 0, sizeof(sh));
	rc = store_show(ro, norm, (unsigned)max, &sh);
	if (rc < 0) {
		admin_reply_store_error(c, ro);
	} else if (rc == 0) {
		admin_reply(c, "ERR notfound %s is not known", admin_encode(norm, strlen(norm), err,
		    sizeof(err)));
	} else {
		if (sh.has_entry)
			admin_put_entry(out, "entry ", &sh.entry);
		for (guint i = 0; sh.events != NULL && i < sh.events->len; i++)
			admin_put_event(out, g_ptr_array_index(sh.events, i));
		for (guint i = 0; sh.audit != NULL && i < sh.audit->len; i++)
			admin_put_audit(out, g_ptr_array_index(sh.audit, i));
		admin_reply(c, "OK events=%u audit=%u", sh.events ? sh.events->len : 0,
		    sh.audit ? sh.audit->len : 0);
	}
	store_show_clear(&sh);
}

/* RAW bounce=ID -> "OK bytes=N" then exactly N bytes of the message, then LF. */
void
admin_raw(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	const char *v = admin_arg(a, "bounce");
	int64_t id;
	char *raw = NULL;
	size_t len = 0;
	int rc;

	if (v == NULL || admin_parse_count(v, 0, INT64_MAX, &id) < 0) {
		admin_reply(c, "ERR usage RAW bounce=ID");
		return;
	}
	rc = store_raw(ro, id, &raw, &len);
	if (rc < 0)
		admin_reply_store_error(c, ro);
	else if (rc == 0)
		admin_reply(c, "ERR notfound bounce %" G_GINT64_FORMAT " is not stored (unknown, "
		    "purged or erased)", id);
	else {
		admin_reply(c, "OK bytes=%zu", len);
		evbuffer_add(bufferevent_get_output(c->bev), raw, len);
		evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
	}
	g_free(raw);
}

/* ---- METRICS, STATS, INCIDENTS, AUDIT ----------------------------------- */

/* METRICS -> "OK bytes=N", the Prometheus text, LF. */
void
admin_metrics(struct admin_conn *c, const struct admin_args *a)
{
	struct daemon *d = c->srv->d;
	struct metrics_snapshot snap;
	GString *text = g_string_sized_new(16 * 1024);

	(void)a;
	snapshot_collect(d, &snap);
	metrics_render(d->metrics, &snap, text);
	admin_reply(c, "OK bytes=%zu", text->len);
	evbuffer_add(bufferevent_get_output(c->bev), text->str, text->len);
	evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
	g_string_free(text, TRUE);
}

/* The daemon's own counters (type=daemon lines): what METRICS renders. */
static void
admin_put_daemon(struct admin_conn *c, const struct metrics_snapshot *s)
{
	uint64_t stored, duplicates, failed;

	metrics_lmtp_messages(c->srv->d->metrics, &stored, &duplicates, &failed);
	admin_reply(c, "+ type=daemon uptime=%ld version=%s index_entries=%" G_GUINT64_FORMAT
	    " index_bytes=%" G_GUINT64_FORMAT " store_writable=%d", (long)(s->now - s->start_time),
	    s->version, s->index_entries, s->index_bytes, s->store_writable);
	admin_reply(c, "+ type=daemon lmtp_sessions=%u bounces=%" G_GUINT64_FORMAT
	    " bounces_failed=%" G_GUINT64_FORMAT " duplicates=%" G_GUINT64_FORMAT,
	    s->lmtp_sessions, stored + failed + duplicates, failed, duplicates);
	admin_reply(c, "+ type=daemon commits=%" G_GUINT64_FORMAT " committed_bounces=%"
	    G_GUINT64_FORMAT " commit_failures=%" G_GUINT64_FORMAT " max_batch=%" G_GUINT64_FORMAT
	    " writer_pending=%u", s->commits, s->committed_bounces, s->commit_failures,
	    s->commit_batch_max, s->writer_pending);
	admin_reply(c, "+ type=daemon queries=%" G_GUINT64_FORMAT " queries_suppressed=%"
	    G_GUINT64_FORMAT " query_errors=%" G_GUINT64_FORMAT " query_connections=%u",
	    s->queries, s->queries_suppressed, s->query_errors, s->query_connections);
	admin_reply(c, "+ type=daemon socketmap_requests=%" G_GUINT64_FORMAT " socketmap_found=%"
	    G_GUINT64_FORMAT " socketmap_connections=%u", s->socketmap_requests,
	    s->socketmap_found, s->socketmap_connections);
}

/* "+ type=T name=N n=C" for each non-zero count of a table of names. */
static void
admin_put_counts(struct admin_conn *c, const char *type, const uint64_t *n, int from, int count,
    const char *(*name)(int), int zeros)
{
	for (int i = from; i < count; i++)
		if (zeros || n[i])
			admin_reply(c, "+ type=%s name=%s n=%" G_GUINT64_FORMAT, type, name(i), n[i]);
}

static const char *
stats_class(int i)
{
	return report_class_name((enum report_class)i);
}

static const char *
stats_reason(int i)
{
	return report_reason_name((enum report_reason)i);
}

static const char *
stats_scope(int i)
{
	return report_scope_name((enum report_scope)i);
}

static const char *
stats_cause(int i)
{
	return store_cause_name((enum store_cause)i);
}

static void
admin_put_named(struct admin_conn *c, const char *type, const GPtrArray *counts)
{
	char name[256];

	for (guint i = 0; counts != NULL && i < counts->len; i++) {
		const struct store_count *sc = g_ptr_array_index(counts, i);

		admin_reply(c, "+ type=%s name=%s n=%" G_GUINT64_FORMAT, type, ADMIN_F(sc->name, name),
		    sc->n);
	}
}

/* STATS [from=T] [to=T] [domains=N]: the daemon's counters, then the store's. */
void
admin_stats(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	struct metrics_snapshot snap;
	struct store_stats st;
	time_t now = time(NULL);
	int64_t from = 0, to = (int64_t)now + 1;
	int64_t ndom = 20;
	const char *v;

	if (((v = admin_arg(a, "from")) != NULL && admin_parse_time(v, 0, now, &from) < 0) ||
	    ((v = admin_arg(a, "to")) != NULL && admin_parse_time(v, 0, now, &to) < 0) ||
	    ((v = admin_arg(a, "domains")) != NULL && admin_parse_count(v, 1, 10000, &ndom) < 0)) {
		admin_reply(c, "ERR invalid from, to or domains");
		return;
	}
	memset(&st, 0, sizeof(st));
	if (store_stats(ro, from, to, now, (unsigned)ndom, &st) < 0) {
		admin_reply_store_error(c, ro);
		store_stats_clear(&st);
		return;
	}
	snapshot_collect(c->srv->d, &snap);
	admin_put_daemon(c, &snap);
	admin_reply(c, "+ type=total from=%" G_GINT64_FORMAT " to=%" G_GINT64_FORMAT " bounces=%"
	    G_GUINT64_FORMAT " events=%" G_GUINT64_FORMAT, st.from, st.to, st.bounces, st.events);
	admin_put_counts(c, "class", st.by_class, 0, REPORT_CLASS_COUNT, stats_class, 0);
	admin_put_counts(c, "reason", st.by_reason, 0, REPORT_REASON_COUNT, stats_reason, 0);
	admin_put_counts(c, "scope", st.by_scope, 0, REPORT_SCOPE_COUNT, stats_scope, 0);
	admin_put_counts(c, "suppressed", st.suppressed, 1, STORE_CAUSE_COUNT, stats_cause, 1);
	admin_put_named(c, "domain", st.domains);
	admin_put_named(c, "soft_provider", st.soft_by_provider);
	for (guint i = 0; st.incidents != NULL && i < st.incidents->len; i++)
		admin_put_incident(bufferevent_get_output(c->bev), g_ptr_array_index(st.incidents, i));
	admin_reply(c, "OK");
	store_stats_clear(&st);
}

/* INCIDENTS [all=1] */
void
admin_incidents(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)store_incident_free);
	const char *all = admin_arg(a, "all");

	if (store_incidents(ro, time(NULL), !(all != NULL && strcmp(all, "0") != 0), out) < 0) {
		admin_reply_store_error(c, ro);
	} else {
		for (guint i = 0; i < out->len; i++)
			admin_put_incident(bufferevent_get_output(c->bev), g_ptr_array_index(out, i));
		admin_reply(c, "OK count=%u", out->len);
	}
	g_ptr_array_free(out, TRUE);
}

/*
 * ALERTS [limit=N] [test=1]: the deliveries of the N newest alert events
 * (default 20), newest first, one line per event and sink; test=1 queues a
 * test event to every sink instead and answers its id.
 */
void
admin_alerts(struct admin_conn *c, const struct admin_args *a)
{
	struct daemon *d = c->srv->d;
	const char *lim = admin_arg(a, "limit"), *test = admin_arg(a, "test");
	int64_t limit = 20;
	GPtrArray *out;

	if (test != NULL && strcmp(test, "0") != 0) {
		char id[17];

		alerts_test(d->alerts, id);
		admin_reply(c, "OK id=%s", id[0] != '\0' ? id : "-");
		return;
	}
	if (lim != NULL && admin_parse_count(lim, 1, 1000, &limit) < 0) {
		admin_reply(c, "ERR usage limit takes a number from 1 to 1000");
		return;
	}
	out = g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_alert_free);
	if (store_alert_recent(d->ro, (unsigned)limit, out) < 0) {
		admin_reply_store_error(c, d->ro);
	} else {
		for (guint i = 0; i < out->len; i++) {
			const struct store_alert *al = out->pdata[i];
			char subject[ADMIN_FIELD], error[ADMIN_FIELD], at[32], next[32];

			admin_reply(c, "+ type=alert id=%s kind=%s subject=%s at=%s incident=%"
			    G_GINT64_FORMAT " sink=%s state=%s attempts=%u next=%s error=%s", al->id,
			    al->kind, ADMIN_F(al->subject, subject), util_iso8601_format(al->at, at),
			    al->incident_id, al->sink != NULL ? al->sink : "-",
			    al->sink != NULL ? store_alert_state_name(al->state) : "-", al->attempts,
			    al->sink != NULL && al->state == STORE_ALERT_PENDING ?
			    util_iso8601_format(al->next_at, next) : "-", ADMIN_F(al->error, error));
		}
		admin_reply(c, "OK count=%u", out->len);
	}
	g_ptr_array_free(out, TRUE);
}

struct admin_audit_walk {
	struct admin_conn *c;
	unsigned n;
	int64_t last;
};

static int
admin_audit_row(const struct store_audit_entry *au, void *ud)
{
	struct admin_audit_walk *w = ud;

	admin_put_audit(bufferevent_get_output(w->c->bev), au);
	w->n++;
	w->last = au->id;
	return 0;
}

/* AUDIT [target=A] [after=ID] [limit=N] (default 1000, at most 100000) */
void
admin_audit(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	struct admin_audit_walk w = { .c = c };
	char norm[STORE_ADDR_MAX + 1], err[256];
	const char *target = admin_arg(a, "target"), *v;
	int64_t after = 0, limit = 1000;

	if (((v = admin_arg(a, "after")) != NULL && admin_parse_count(v, 0, INT64_MAX, &after) < 0) ||
	    ((v = admin_arg(a, "limit")) != NULL && admin_parse_count(v, 1, 100000, &limit) < 0)) {
		admin_reply(c, "ERR invalid after or limit");
		return;
	}
	if (target != NULL && strncmp(target, "hmac:", 5) != 0) {
		if (store_addr_normalize(target, strlen(target), norm, err) < 0) {
			admin_reply(c, "ERR invalid %s", admin_encode(err, strlen(err), norm, sizeof(norm)));
			return;
		}
		target = norm;
	}
	if (store_audit_list(ro, target, after, (unsigned)limit, admin_audit_row, &w) < 0) {
		admin_reply_store_error(c, ro);
		return;
	}
	if (w.n == (unsigned)limit)
		admin_reply(c, "OK count=%u next=%" G_GINT64_FORMAT, w.n, w.last);
	else
		admin_reply(c, "OK count=%u", w.n);
}
