/* SPDX-License-Identifier: MIT */
/*
 * lmtp-server.c - the LMTP socket (see lmtp-server.h): libevent
 * bufferevents around the pure engine of lmtp.c, and the ingest path of one
 * message: parse -> VERP -> writer -> (commit, index updated) -> replies.
 *
 * Input is always drained into the engine, except while a transaction waits
 * for its commit: then reading is disabled, so a pipelining client costs
 * at most one read's worth of buffered bytes.  Output above LMTP_OUT_MAX
 * also stops reading until the client takes its replies.  A session closed
 * while its commit runs leaves the job orphaned: the bounce is still stored
 * and the reply is dropped (Postfix retries; the store sees a duplicate).
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <glib.h>

#include "bounds.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "lmtp.h"
#include "log.h"
#include "sock.h"
#include "verp.h"

#define LMTP_OUT_MAX    (64u * 1024)    /* replies queued before we stop reading */
#define LMTP_PEEK_VECS  8
#define LMTP_LOG_RCPTS  50              /* decision lines logged per message */

struct lmtp_session {
	struct lmtp_server *srv;
	struct bufferevent *bev;
	struct lmtp_engine *e;
	unsigned id;
	uid_t uid;
	pid_t pid;
	struct lmtp_ingest *pending;    /* the transaction waiting for its commit */
	int closing;                    /* close once the output is written */
	GList link;
};

struct lmtp_server {
	struct daemon *d;
	struct sock_listener *listener;
	GQueue sessions;
	unsigned next_id;
};

/* One message on its way to the store. */
struct lmtp_ingest {
	struct writer_job job;          /* job.ud: the session, NULL once it is gone */
	struct lmtp_server *srv;
	unsigned session_id;
	struct lmtp_txn *txn;
	struct report *report;
	char verp[STORE_ADDR_MAX + 1];  /* recovered recipient, or "" */
	gint64 t0;
};

static void lmtp_accept(int fd, void *arg);
static void lmtp_read_cb(struct bufferevent *bev, void *arg);
static void lmtp_write_cb(struct bufferevent *bev, void *arg);
static void lmtp_event_cb(struct bufferevent *bev, short what, void *arg);
static void lmtp_session_pump(struct lmtp_session *s);
static void lmtp_session_flush(struct lmtp_session *s);
static void lmtp_session_close(struct lmtp_session *s, const char *reason);
static void lmtp_on_txn(void *ud, struct lmtp_txn *txn);
static void lmtp_ingest_done(struct writer_job *job);
static void lmtp_verp(struct lmtp_server *srv, struct lmtp_ingest *ing);
static void lmtp_log_decisions(struct lmtp_server *srv, struct lmtp_ingest *ing);

struct lmtp_server *
lmtp_server_new(struct daemon *d, int fd)
{
	struct lmtp_server *srv = g_new0(struct lmtp_server, 1);

	srv->d = d;
	g_queue_init(&srv->sessions);
	srv->listener = sock_listener_new(d->base, fd, "lmtp", lmtp_accept, srv);
	if (srv->listener == NULL) {
		close(fd);
		g_free(srv);
		return NULL;
	}
	return srv;
}

unsigned
lmtp_server_sessions(const struct lmtp_server *srv)
{
	return srv->sessions.length;
}

unsigned
lmtp_server_shutdown(struct lmtp_server *srv)
{
	GList *l, *next;

	sock_listener_free(srv->listener);
	srv->listener = NULL;
	for (l = srv->sessions.head; l != NULL; l = next) {
		struct lmtp_session *s = l->data;

		next = l->next;
		if (lmtp_engine_shutdown(s->e))
			lmtp_session_flush(s);
	}
	return srv->sessions.length;
}

void
lmtp_server_free(struct lmtp_server *srv)
{
	if (srv == NULL)
		return;
	sock_listener_free(srv->listener);
	while (srv->sessions.head != NULL)
		lmtp_session_close(srv->sessions.head->data, "shutdown");
	g_free(srv);
}

static void
lmtp_accept(int fd, void *arg)
{
	struct lmtp_server *srv = arg;
	const struct config *cfg = srv->d->cfg;
	struct lmtp_session *s;
	struct lmtp_limits lim;
	struct timeval idle = { (time_t)cfg->lmtp.sock.idle_timeout, 0 };
	gid_t gid;

	if (srv->sessions.length >= cfg->lmtp.sock.max_connections || srv->d->stopping) {
		char msg[320];
		int n = snprintf(msg, sizeof(msg), "421 4.3.2 %s %s, try again later\r\n",
		    srv->d->hostname, srv->d->stopping ? "Service shutting down" :
		    "Too many connections");
		ssize_t w = write(fd, msg, (size_t)n);

		(void)w;
		log_warnx("event=refused socket=lmtp reason=%s max=%u",
		    srv->d->stopping ? "shutting_down" : "too_many_connections",
		    cfg->lmtp.sock.max_connections);
		close(fd);
		return;
	}
	s = g_new0(struct lmtp_session, 1);
	s->srv = srv;
	s->id = ++srv->next_id;
	s->uid = (uid_t)-1;
	s->pid = 0;
	sock_peer_cred(fd, &s->uid, &gid, &s->pid);
	s->link.data = s;
	g_queue_push_tail_link(&srv->sessions, &s->link);

	lim.max_line = LIMIT_LMTP_LINE;
	lim.max_message = cfg->lmtp.max_message_size;
	lim.keep_bytes = cfg->lmtp.keep_bytes;
	lim.max_rcpts = cfg->lmtp.max_recipients;
	lim.max_bad = cfg->lmtp.max_bad_commands;
	s->e = lmtp_engine_new(&lim, srv->d->hostname, lmtp_on_txn, s);
	s->bev = bufferevent_socket_new(srv->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, lmtp_read_cb, lmtp_write_cb, lmtp_event_cb, s);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_info("event=session_start session=%u uid=%d pid=%d", s->id, (int)s->uid, (int)s->pid);
	lmtp_session_flush(s); /* the greeting */
}

/* Feeds the buffered input to the engine, as long as it takes it. */
static void
lmtp_session_pump(struct lmtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (!s->closing && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[LMTP_PEEK_VECS];
		int n = evbuffer_peek(in, -1, NULL, v, LMTP_PEEK_VECS);
		size_t used = 0;
		int stalled = 0;

		for (int i = 0; i < n && i < LMTP_PEEK_VECS; i++) {
			size_t u = lmtp_engine_feed(s->e, v[i].iov_base, v[i].iov_len);

			used += u;
			if (u < v[i].iov_len) {
				stalled = 1;
				break;
			}
		}
		evbuffer_drain(in, used);
		if (stalled || lmtp_engine_state(s->e) == LMTP_STATE_WAIT)
			break;
	}
	lmtp_session_flush(s);
}

/* Moves the engine's replies to the socket; closes or throttles as needed. */
static void
lmtp_session_flush(struct lmtp_session *s)
{
	GString *out = lmtp_engine_output(s->e);
	struct evbuffer *ob = bufferevent_get_output(s->bev);
	enum lmtp_state st = lmtp_engine_state(s->e);

	if (out->len > 0) {
		bufferevent_write(s->bev, out->str, out->len);
		g_string_truncate(out, 0);
	}
	if (st == LMTP_STATE_CLOSED) {
		s->closing = 1;
		bufferevent_disable(s->bev, EV_READ);
		if (evbuffer_get_length(ob) == 0)
			lmtp_session_close(s, "closed");
		return;
	}
	if (st == LMTP_STATE_WAIT || evbuffer_get_length(ob) > LMTP_OUT_MAX)
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
}

static void
lmtp_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	lmtp_session_pump(arg);
}

static void
lmtp_write_cb(struct bufferevent *bev, void *arg)
{
	struct lmtp_session *s = arg;

	(void)bev;
	/* called when the output has drained */
	if (s->closing) {
		lmtp_session_close(s, "closed");
		return;
	}
	if (lmtp_engine_state(s->e) != LMTP_STATE_WAIT)
		lmtp_session_pump(s);
}

static void
lmtp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lmtp_session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		if (what & BEV_EVENT_WRITING) {
			lmtp_session_close(s, "write_timeout");
			return;
		}
		lmtp_engine_timeout(s->e);
		lmtp_session_flush(s);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		lmtp_session_close(s, s->closing ? "closed" : "eof");
		return;
	}
	if (what & BEV_EVENT_ERROR)
		lmtp_session_close(s, "error");
}

static void
lmtp_session_close(struct lmtp_session *s, const char *reason)
{
	struct lmtp_stats st;

	lmtp_engine_stats(s->e, &st);
	log_info("event=session_end session=%u reason=%s transactions=%u bad_commands=%u%s", s->id,
	    reason, st.transactions, st.bad_commands, s->pending ? " orphaned_commit=1" : "");
	if (s->pending != NULL)
		s->pending->job.ud = NULL;
	g_queue_unlink(&s->srv->sessions, &s->link);
	bufferevent_free(s->bev);
	lmtp_engine_free(s->e);
	g_free(s);
}

/* The VERP recipient: one distinct decodable RCPT, normalised, or none. */
static void
lmtp_verp(struct lmtp_server *srv, struct lmtp_ingest *ing)
{
	const struct config *cfg = srv->d->cfg;
	GPtrArray *rcpts = ing->txn->rcpts;

	ing->verp[0] = '\0';
	if (!cfg->verp.enabled)
		return;
	for (guint i = 0; i < rcpts->len; i++) {
		char raw[STORE_ADDR_MAX + 1], norm[STORE_ADDR_MAX + 1], err[256];

		if (!verp_decode(g_ptr_array_index(rcpts, i), cfg->verp.delimiters, raw, sizeof(raw)))
			continue;
		if (store_addr_normalize(raw, strlen(raw), norm, err) < 0 || norm[0] == '@') {
			char esc[256];

			log_warnx("event=verp_invalid session=%u rcpt=\"%s\" error=\"%s\"",
			    ing->session_id, log_escape(raw, strlen(raw), esc, sizeof(esc)), err);
			continue;
		}
		if (ing->verp[0] != '\0' && strcmp(ing->verp, norm) != 0) {
			/* two different VERP recipients: the envelope cannot say which one */
			ing->verp[0] = '\0';
			return;
		}
		g_strlcpy(ing->verp, norm, sizeof(ing->verp));
	}
}

/* End of DATA: parse, recover the VERP recipient, queue for the commit. */
static void
lmtp_on_txn(void *ud, struct lmtp_txn *txn)
{
	struct lmtp_session *s = ud;
	struct lmtp_server *srv = s->srv;
	struct daemon *d = srv->d;
	struct lmtp_ingest *ing = g_new0(struct lmtp_ingest, 1);

	ing->srv = srv;
	ing->session_id = s->id;
	ing->txn = txn;
	ing->t0 = g_get_monotonic_time();
	ing->report = report_parse((const char *)txn->data->data, txn->data->len, &d->rlim);
	if (ing->report == NULL) {
		log_warnx("event=bounce session=%u result=failed error=\"parser out of memory\"", s->id);
		lmtp_txn_free(txn);
		g_free(ing);
		lmtp_engine_complete(s->e, 0, "Error: out of memory, try again later");
		return;
	}
	lmtp_verp(srv, ing);
	if (ing->verp[0] != '\0' && report_adopt_recipient(ing->report, ing->verp) < 0)
		log_warnx("event=verp_adopt_failed session=%u", s->id);

	ing->job.bounce.raw = (const char *)txn->data->data;
	ing->job.bounce.raw_len = txn->data->len;
	ing->job.bounce.report = ing->report;
	ing->job.bounce.envelope_rcpt = g_ptr_array_index(txn->rcpts, 0);
	ing->job.bounce.verp_rcpt = ing->verp[0] ? ing->verp : NULL;
	ing->job.bounce.received = (int64_t)time(NULL);
	ing->job.done = lmtp_ingest_done;
	ing->job.ud = s;
	s->pending = ing;
	writer_submit(d->writer, &ing->job);
}

static void
lmtp_log_decisions(struct lmtp_server *srv, struct lmtp_ingest *ing)
{
	const struct report *r = ing->report;
	time_t now = time(NULL);

	for (guint i = 0; i < r->rcpts->len && i < LMTP_LOG_RCPTS; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);
		char addr[256], diag[256], norm[STORE_ADDR_MAX + 1], err[256];
		struct store_verdict v;
		int n, state = 0;

		n = store_addr_normalize(rc->recipient, strlen(rc->recipient), norm, err);
		if (n > 0)
			state = store_check(srv->d->idx, norm, (size_t)n, now, &v);
		log_info("event=decision session=%u bounce=%" G_GINT64_FORMAT " rcpt=\"%s\" class=%s "
		    "reason=%s scope=%s status=%s rule=%s state=%s diag=\"%s\"", ing->session_id,
		    ing->job.bounce.id_r,
		    log_escape(rc->recipient, strlen(rc->recipient), addr, sizeof(addr)),
		    report_class_name(rc->class), report_reason_name(rc->reason),
		    report_scope_name(rc->scope), rc->status[0] ? rc->status : "-",
		    rc->rule ? rc->rule : "-", state > 0 ? "suppressed" : state == 0 ? "ok" : "invalid",
		    rc->diagnostic ? log_escape(rc->diagnostic, strlen(rc->diagnostic), diag,
		    sizeof(diag)) : "");
	}
	if (r->rcpts->len > LMTP_LOG_RCPTS)
		log_info("event=decision session=%u bounce=%" G_GINT64_FORMAT " more_rcpts=%u",
		    ing->session_id, ing->job.bounce.id_r, r->rcpts->len - LMTP_LOG_RCPTS);
}

/* The commit is done and the index updated: answer the client. */
static void
lmtp_ingest_done(struct writer_job *job)
{
	struct lmtp_ingest *ing = (struct lmtp_ingest *)job;
	struct lmtp_session *s = job->ud;
	struct daemon *d = ing->srv->d;
	struct lmtp_txn *t = ing->txn;
	char from[256], rcpt[256], err[300], text[128];
	const char *r0 = g_ptr_array_index(t->rcpts, 0);

	d->bounces++;
	if (job->rc < 0)
		d->bounces_failed++;
	else if (job->bounce.duplicate_r)
		d->duplicates++;
	(job->rc == 0 ? log_info : log_warnx)("event=bounce session=%u id=%" G_GINT64_FORMAT
	    " result=%s from=<%s> rcpt=<%s> "
	    "rcpts=%u size=%zu kept=%u truncated=%d decoder=%s recipients=%u verp=%s "
	    "duplicate=%d batch=%u ms=%.1f%s%s%s%s%s", ing->session_id, job->bounce.id_r,
	    job->rc == 0 ? "stored" : "failed",
	    log_escape(t->mail_from, strlen(t->mail_from), from, sizeof(from)),
	    log_escape(r0, strlen(r0), rcpt, sizeof(rcpt)), t->rcpts->len, t->size, t->data->len,
	    t->truncated, ing->report->decoder, ing->report->rcpts->len,
	    ing->verp[0] ? ing->verp : "-", job->bounce.duplicate_r, job->batch,
	    (double)(g_get_monotonic_time() - ing->t0) / 1000.0,
	    job->rc < 0 ? " error_kind=" : "",
	    job->rc < 0 ? store_error_name(job->errcode) : "",
	    job->rc < 0 ? " error=\"" : "",
	    job->rc < 0 ? log_escape(job->err, strlen(job->err), err, sizeof(err)) : "",
	    job->rc < 0 ? "\"" : "");
	if (job->rc == 0) {
		lmtp_log_decisions(ing->srv, ing);
		for (guint i = 0; i < ing->report->warnings->len && i < 5; i++) {
			const char *w = g_ptr_array_index(ing->report->warnings, i);

			log_debug("event=parse_warning session=%u bounce=%" G_GINT64_FORMAT " text=\"%s\"",
			    ing->session_id, job->bounce.id_r, log_escape(w, strlen(w), err, sizeof(err)));
		}
	}
	if (s != NULL) {
		s->pending = NULL;
		if (job->rc == 0 && job->bounce.duplicate_r)
			snprintf(text, sizeof(text), "Ok: already stored as bounce %" G_GINT64_FORMAT,
			    job->bounce.id_r);
		else if (job->rc == 0)
			snprintf(text, sizeof(text), "Ok: stored as bounce %" G_GINT64_FORMAT,
			    job->bounce.id_r);
		else
			snprintf(text, sizeof(text), "Error: cannot store the message, try again later");
		lmtp_engine_complete(s->e, job->rc == 0, text);
		/* the replies, then whatever the client pipelined meanwhile */
		lmtp_session_pump(s);
	}
	report_free(ing->report);
	lmtp_txn_free(ing->txn);
	g_free(ing);
}
