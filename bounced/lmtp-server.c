/* SPDX-License-Identifier: MIT */
/*
 * lmtp-server.c - the LMTP socket (see lmtp-server.h): plain libevent
 * events around the pure engine of lmtp.c, and the ingest path of one
 * message: parse -> VERP -> writer -> (commit, index updated) -> replies.
 *
 * Like the query server, a session reads into a fixed buffer and writes its
 * replies at once, arming EV_WRITE only after a short write: no bufferevent,
 * whose enable/disable and deferred writes cost ~20 system calls per
 * message (measured: 10 epoll_ctl, 4 ioctl, 4 writev).  Input is fed to the
 * engine as it comes; while a transaction waits for its commit the engine
 * takes nothing, the bytes a pipelining client sent meanwhile stay in the
 * buffer, and reading stops only if the buffer fills.  Output above
 * LMTP_OUT_MAX also stops reading until the client takes its replies.  A
 * session closed while its commit runs leaves the job orphaned: the bounce
 * is still stored and the reply is dropped (Postfix retries; the store sees
 * a duplicate).
 *
 * When every slot (lmtp.max_connections) is taken, a new connection does
 * not simply get "421 Too many connections": the session that has been
 * idle between transactions the longest (no reply sent for at least
 * LMTP_EVICT_IDLE) is closed with 421 4.4.2 to make room, since an idle
 * session holds no bounce and Postfix reconnects when it has one.  Only
 * when every session is busy (inside a transaction, or active within the
 * last second) is the newcomer refused.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>

#include "bounds.h"
#include "alert.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "lmtp.h"
#include "log.h"
#include "metrics.h"
#include "sock.h"
#include "verp.h"

#define LMTP_OUT_MAX    (64u * 1024)    /* replies queued before we stop reading */
#define LMTP_IN_SIZE    (16u * 1024)    /* bytes read at once / held while committing */
#define LMTP_LOG_RCPTS  50              /* decision lines logged per message */
#define LMTP_EVICT_IDLE (1 * G_USEC_PER_SEC) /* idle this long: may give its slot away */

struct lmtp_session {
	struct lmtp_server *srv;
	int fd;
	struct event *rev, *wev;
	struct lmtp_engine *e;
	size_t in_len;                  /* bytes in in[] the engine has not taken */
	size_t out_off;                 /* bytes of the engine's output already written */
	gint64 t0;                      /* accepted at (monotonic) */
	gint64 active_at;               /* last reply written (monotonic) */
	unsigned id;
	uid_t uid;
	pid_t pid;
	struct lmtp_ingest *pending;    /* the transaction waiting for its commit */
	int closing;                    /* close once the output is written */
	int in_txn;                     /* counted in the writer's transactions in progress */
	GList link;
	char in[LMTP_IN_SIZE];
};

struct lmtp_server {
	struct daemon *d;
	struct sock_listener *listener;
	const struct timeval *idle;     /* a common timeout */
	unsigned idle_secs;
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
	struct trust_evidence ev;       /* does it answer mail we sent? */
	char trust[96];                 /* ev as stored */
	unsigned verp_many;             /* distinct VERP recipients when more than one */
	gint64 t0;
};

static void lmtp_accept(int fd, void *arg);
static int lmtp_evict_one(struct lmtp_server *srv);
static void lmtp_readable(evutil_socket_t fd, short what, void *arg);
static void lmtp_writable(evutil_socket_t fd, short what, void *arg);
static void lmtp_session_pump(struct lmtp_session *s);
static int lmtp_session_flush(struct lmtp_session *s);
static void lmtp_session_close(struct lmtp_session *s, const char *reason);
static void lmtp_on_txn(void *ud, struct lmtp_txn *txn);
static void lmtp_ingest_done(struct writer_job *job);
static int lmtp_names_nobody(const struct report *r);
static const char *lmtp_log_addr(const struct daemon *d, const char *addr, char *out,
    size_t outsz);
static void lmtp_verp(struct lmtp_server *srv, struct lmtp_ingest *ing);
static void lmtp_trust(struct lmtp_server *srv, struct lmtp_ingest *ing);
static int lmtp_own_refusal(const struct report *r);
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

struct sock_listener *
lmtp_server_listener(struct lmtp_server *srv)
{
	return srv->listener;
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

	if (srv->sessions.length >= cfg->lmtp.sock.max_connections && !srv->d->stopping)
		lmtp_evict_one(srv);
	if (srv->sessions.length >= cfg->lmtp.sock.max_connections || srv->d->stopping) {
		char msg[320];
		int n = snprintf(msg, sizeof(msg), "421 4.3.2 %s %s, try again later\r\n",
		    srv->d->hostname, srv->d->stopping ? "Service shutting down" :
		    "Too many connections");
		ssize_t w = write(fd, msg, (size_t)n);

		(void)w;
		metrics_lmtp_session(srv->d->metrics, srv->d->stopping ?
		    METRICS_SESSION_REFUSED_SHUTDOWN : METRICS_SESSION_REFUSED_BUSY);
		log_warnx("event=refused socket=lmtp reason=%s max=%u",
		    srv->d->stopping ? "shutting_down" : "too_many_connections",
		    cfg->lmtp.sock.max_connections);
		close(fd);
		return;
	}
	metrics_lmtp_session(srv->d->metrics, METRICS_SESSION_ACCEPTED);
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
	if (srv->idle == NULL || srv->idle_secs != cfg->lmtp.sock.idle_timeout) {
		/* a common timeout: O(1) per event for every session */
		srv->idle_secs = cfg->lmtp.sock.idle_timeout;
		srv->idle = event_base_init_common_timeout(srv->d->base, &idle);
	}
	s->fd = fd;
	s->e = lmtp_engine_new(&lim, srv->d->hostname, lmtp_on_txn, s);
	s->rev = event_new(srv->d->base, fd, EV_READ | EV_PERSIST, lmtp_readable, s);
	s->wev = event_new(srv->d->base, fd, EV_WRITE | EV_PERSIST, lmtp_writable, s);
	event_add(s->rev, srv->idle);
	s->t0 = s->active_at = g_get_monotonic_time();
	/* at info level one line per session, at its end (it names the peer) */
	log_debug("event=session_start session=%u uid=%d pid=%d", s->id, (int)s->uid, (int)s->pid);
	lmtp_session_flush(s); /* the greeting */
}

/*
 * Every slot is taken: closes the session idle between transactions the
 * longest, if one has been idle LMTP_EVICT_IDLE.  1 when a slot was freed.
 */
static int
lmtp_evict_one(struct lmtp_server *srv)
{
	struct lmtp_session *victim = NULL;
	gint64 now = g_get_monotonic_time();
	enum lmtp_state st;

	for (GList *l = srv->sessions.head; l != NULL; l = l->next) {
		struct lmtp_session *s = l->data;

		st = lmtp_engine_state(s->e);
		if (s->closing || s->pending != NULL || now - s->active_at < LMTP_EVICT_IDLE ||
		    (st != LMTP_STATE_GREETED && st != LMTP_STATE_READY))
			continue;
		if (victim == NULL || s->active_at < victim->active_at)
			victim = s;
	}
	if (victim == NULL || !lmtp_engine_evict(victim->e))
		return 0;
	log_info("event=evicted socket=lmtp session=%u idle_seconds=%.1f reason=all_sessions_in_use",
	    victim->id, (double)(now - victim->active_at) / 1e6);
	/* the 421 is written at once; the slot is free whether or not it all went out */
	if (lmtp_session_flush(victim) == 0)
		lmtp_session_close(victim, "evicted");
	return 1;
}

/* Feeds the held input to the engine, as far as it takes it, then writes. */
static void
lmtp_session_pump(struct lmtp_session *s)
{
	if (!s->closing && s->in_len > 0) {
		size_t used = lmtp_engine_feed(s->e, s->in, s->in_len);

		if (used > 0) {
			memmove(s->in, s->in + used, s->in_len - used);
			s->in_len -= used;
		}
	}
	lmtp_session_flush(s);
}

/*
 * Writes the engine's replies; closes, throttles or resumes reading as
 * needed.  Returns -1 when the session is gone.
 */
static int
lmtp_session_flush(struct lmtp_session *s)
{
	struct lmtp_server *srv = s->srv;
	GString *out = lmtp_engine_output(s->e);
	enum lmtp_state st = lmtp_engine_state(s->e);
	size_t pending;
	int active = st == LMTP_STATE_MAIL || st == LMTP_STATE_DATA;

	/* the writer's group commit waits for transactions in progress */
	if (active != s->in_txn) {
		s->in_txn = active;
		writer_txn_add(srv->d->writer, active ? 1 : -1);
	}
	if (s->out_off < out->len)
		s->active_at = g_get_monotonic_time();
	while (s->out_off < out->len) {
		ssize_t n = write(s->fd, out->str + s->out_off, out->len - s->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			lmtp_session_close(s, "write_error");
			return -1;
		}
		s->out_off += (size_t)n;
	}
	if (s->out_off == out->len) {
		g_string_truncate(out, 0);
		s->out_off = 0;
		if (event_pending(s->wev, EV_WRITE, NULL))
			event_del(s->wev);
	} else if (!event_pending(s->wev, EV_WRITE, NULL)) {
		/* a client that takes nothing for idle_timeout is dropped */
		event_add(s->wev, srv->idle);
	}
	pending = out->len - s->out_off;
	if (st == LMTP_STATE_CLOSED) {
		s->closing = 1;
		if (pending == 0) {
			lmtp_session_close(s, "closed");
			return -1;
		}
		if (event_pending(s->rev, EV_READ, NULL))
			event_del(s->rev);
		return 0;
	}
	/* stop reading while the replies back up or the held input is full */
	if (pending > LMTP_OUT_MAX || s->in_len == sizeof(s->in)) {
		if (event_pending(s->rev, EV_READ, NULL))
			event_del(s->rev);
	} else if (!event_pending(s->rev, EV_READ, NULL)) {
		event_add(s->rev, srv->idle);
	}
	return 0;
}

static void
lmtp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_session *s = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		lmtp_engine_timeout(s->e);
		lmtp_session_flush(s);
		return;
	}
	n = read(fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
	if (n == 0) {
		lmtp_session_close(s, s->closing ? "closed" : "eof");
		return;
	}
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			lmtp_session_close(s, "read_error");
		return;
	}
	s->in_len += (size_t)n;
	lmtp_session_pump(s);
}

static void
lmtp_writable(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_session *s = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		lmtp_session_close(s, "write_timeout");
		return;
	}
	event_del(s->wev); /* re-armed, with a fresh timeout, if still short */
	if (lmtp_session_flush(s) < 0)
		return;
	if (!s->closing && lmtp_engine_state(s->e) != LMTP_STATE_WAIT)
		lmtp_session_pump(s);
}

static void
lmtp_session_close(struct lmtp_session *s, const char *reason)
{
	struct lmtp_stats st;

	lmtp_engine_stats(s->e, &st);
	log_info("event=session session=%u uid=%d pid=%d end=%s transactions=%u bad_commands=%u "
	    "seconds=%.3f%s", s->id, (int)s->uid, (int)s->pid, reason, st.transactions,
	    st.bad_commands, (double)(g_get_monotonic_time() - s->t0) / 1e6,
	    s->pending ? " orphaned_commit=1" : "");
	if (s->pending != NULL)
		s->pending->job.ud = NULL;
	if (s->in_txn)
		writer_txn_add(s->srv->d->writer, -1);
	g_queue_unlink(&s->srv->sessions, &s->link);
	event_free(s->rev);
	event_free(s->wev);
	close(s->fd);
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
			    ing->session_id, lmtp_log_addr(srv->d, raw, esc, sizeof(esc)), err);
			continue;
		}
		if (ing->verp[0] != '\0' && strcmp(ing->verp, norm) != 0) {
			/*
			 * Two different VERP recipients of one message: the envelope
			 * cannot say which one the bounce is about (one DSN goes to one
			 * Return-Path; Postfix puts several in one transaction only when
			 * its recipient limit allows).  Nobody is adopted, and when the
			 * bounce names nobody either, the reply says why.
			 */
			ing->verp[0] = '\0';
			ing->verp_many = 2;
			return;
		}
		g_strlcpy(ing->verp, norm, sizeof(ing->verp));
	}
}

/*
 * The trust evidence (doc/security.md): the tag of the first signed RCPT
 * (the best one when several), the null sender, a machine-readable report,
 * and whether the returned message is one we sent.
 */
static void
lmtp_trust(struct lmtp_server *srv, struct lmtp_ingest *ing)
{
	struct daemon *d = srv->d;
	const struct config *cfg = d->cfg;
	const struct report *r = ing->report;
	GPtrArray *rcpts = ing->txn->rcpts;
	time_t now = time(NULL);

	ing->ev.tag = TRUST_TAG_ABSENT;
	for (guint i = 0; i < rcpts->len && ing->ev.tag != TRUST_TAG_VALID; i++) {
		enum trust_tag t = trust_verify(&d->keys, g_ptr_array_index(rcpts, i),
		    cfg->verp.delimiters[0], cfg->trust.validity, now);

		if (t != TRUST_TAG_ABSENT && (ing->ev.tag == TRUST_TAG_ABSENT || t == TRUST_TAG_VALID))
			ing->ev.tag = t;
	}
	ing->ev.null_sender = ing->txn->mail_from[0] == '\0';
	ing->ev.well_formed = r->decoder == REPORT_DECODER_RFC3464 || r->decoder == REPORT_DECODER_ARF;
	ing->ev.sent = STORE_SENT_UNKNOWN;
	/* only asked when it can change the decision */
	if (cfg->trust.mode == TRUST_MODE_SIGNED_OR_SENT && ing->ev.tag != TRUST_TAG_VALID &&
	    ing->ev.null_sender && ing->ev.well_formed && r->orig_message_id != NULL)
		ing->ev.sent = store_sent_lookup(d->ro, r->orig_message_id, r->orig_queue_id);
	trust_evidence_format(&ing->ev, report_decoder_name(r->decoder), ing->trust, sizeof(ing->trust));
	ing->job.bounce.trust = ing->trust;
	ing->job.bounce.untrusted = trust_decide((enum trust_mode)cfg->trust.mode, &ing->ev);
}

/* 1 when the message returns bounced's own refusal (classify.h). */
static int
lmtp_own_refusal(const struct report *r)
{
	for (guint i = 0; i < r->rcpts->len; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);

		if (rc->rule != NULL && strcmp(rc->rule, REPORT_RULE_OWN_REFUSAL) == 0)
			return 1;
	}
	return 0;
}

/*
 * An address for a log line: escaped, or with log.hash_addresses its keyed
 * hash (no address in the logs to erase).  Returns out.
 */
static const char *
lmtp_log_addr(const struct daemon *d, const char *addr, char *out, size_t outsz)
{
	if (d->cfg->log_hash_addresses && addr[0] != '\0') {
		char h[STORE_LOG_HASH_LEN + 1];

		if (d->secret == NULL)
			g_strlcpy(h, "hmac:no-secret-yet", sizeof(h));
		else
			store_addr_log_hash(d->secret, d->secret_len, addr, h);
		g_strlcpy(out, h, outsz);
		return out;
	}
	return log_escape(addr, strlen(addr), out, outsz);
}

/* The bounce names no recipient of its own (none, or only a guess). */
static int
lmtp_names_nobody(const struct report *r)
{
	return r->rcpts->len == 0 || (r->rcpts->len == 1 &&
	    ((const struct report_rcpt *)g_ptr_array_index(r->rcpts, 0))->inferred);
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
	if (d->writer == NULL) {
		/* no store yet (main.c retries): Postfix keeps the bounce */
		log_warnx("event=bounce session=%u result=failed error=\"store unavailable\"", s->id);
		metrics_lmtp_tempfail(d->metrics, METRICS_TEMPFAIL_STORE);
		lmtp_txn_free(txn);
		g_free(ing);
		lmtp_engine_complete(s->e, 0, "Error: cannot store the message, try again later");
		return;
	}
	/* never NULL: GLib aborts when memory runs out (report.h) */
	ing->report = report_parse((const char *)txn->data->data, txn->data->len, &d->rlim);
	if (txn->truncated)
		g_ptr_array_add(ing->report->warnings, g_strdup_printf("lmtp: message truncated, "
		    "kept and parsed %u of %zu bytes%s", txn->data->len, txn->size,
		    txn->over_size ? " (over lmtp.max_message_size)" : ""));
	lmtp_verp(srv, ing);
	if (ing->verp[0] != '\0' && report_adopt_recipient(ing->report, ing->verp) < 0)
		log_warnx("event=verp_adopt_failed session=%u", s->id);

	ing->job.bounce.raw = (const char *)txn->data->data;
	ing->job.bounce.raw_len = txn->data->len;
	ing->job.bounce.report = ing->report;
	ing->job.bounce.envelope_rcpt = g_ptr_array_index(txn->rcpts, 0);
	ing->job.bounce.verp_rcpt = ing->verp[0] ? ing->verp : NULL;
	ing->job.bounce.received = (int64_t)time(NULL);
	lmtp_trust(srv, ing);
	ing->job.done = lmtp_ingest_done;
	ing->job.ud = s;
	/* this bounce ends the transaction the writer was told of */
	ing->job.ends_txn = s->in_txn;
	s->in_txn = 0;
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
		char *text = NULL;
		struct store_verdict v;
		int n, state = 0;

		n = store_addr_normalize(rc->recipient, strlen(rc->recipient), norm, err);
		if (n > 0)
			state = store_check(srv->d->idx, norm, (size_t)n, now, &v);
		lmtp_log_addr(srv->d, rc->recipient, addr, sizeof(addr));
		if (rc->diagnostic != NULL && srv->d->cfg->log_hash_addresses && n > 0) {
			size_t tlen;

			/* the diagnostic names the recipient too: its hash there */
			text = store_text_redact(rc->diagnostic, strlen(rc->diagnostic), norm, addr,
			    &tlen);
		}
		log_info("event=decision session=%u bounce=%" G_GINT64_FORMAT " rcpt=\"%s\" class=%s "
		    "reason=%s scope=%s status=%s rule=%s state=%s diag=\"%s\"", ing->session_id,
		    ing->job.bounce.id_r, addr,
		    report_class_name(rc->class), report_reason_name(rc->reason),
		    report_scope_name(rc->scope), rc->status[0] ? rc->status : "-",
		    rc->rule ? rc->rule : "-", state > 0 ? "suppressed" : state == 0 ? "ok" : "invalid",
		    text != NULL ? log_escape(text, strlen(text), diag, sizeof(diag)) :
		    rc->diagnostic ? log_escape(rc->diagnostic, strlen(rc->diagnostic), diag,
		    sizeof(diag)) : "");
		g_free(text);
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
	char from[256], rcpt[256], verp[256], err[300], text[256];
	const char *r0 = g_ptr_array_index(t->rcpts, 0);

	metrics_lmtp_message(d->metrics, ing->report, job->rc == 0, job->bounce.duplicate_r,
	    (double)(g_get_monotonic_time() - ing->t0) / 1e6);
	if (job->rc == 0 && !job->bounce.duplicate_r)
		metrics_trust(d->metrics, job->bounce.untrusted != NULL, ing->ev.tag,
		    lmtp_own_refusal(ing->report));
	(job->rc == 0 ? log_info : log_warnx)("event=bounce session=%u id=%" G_GINT64_FORMAT
	    " result=%s from=<%s> rcpt=<%s> "
	    "rcpts=%u size=%zu kept=%u truncated=%d decoder=%s recipients=%u verp=%s%s "
	    "duplicate=%d batch=%u ms=%.1f trust=\"%s\" untrusted=%s%s%s%s%s%s",
	    ing->session_id, job->bounce.id_r,
	    job->rc == 0 ? "stored" : "failed",
	    lmtp_log_addr(d, t->mail_from, from, sizeof(from)),
	    lmtp_log_addr(d, r0, rcpt, sizeof(rcpt)), t->rcpts->len, t->size, t->data->len,
	    t->truncated, report_decoder_name(ing->report->decoder), ing->report->rcpts->len,
	    ing->verp[0] ? lmtp_log_addr(d, ing->verp, verp, sizeof(verp)) : "-",
	    ing->verp_many ? " verp_ambiguous=1" : "", job->bounce.duplicate_r, job->batch,
	    (double)(g_get_monotonic_time() - ing->t0) / 1000.0, ing->trust,
	    job->bounce.untrusted != NULL ? job->bounce.untrusted : "-",
	    job->rc < 0 ? " error_kind=" : "",
	    job->rc < 0 ? store_error_name(job->errcode) : "",
	    job->rc < 0 ? " error=\"" : "",
	    job->rc < 0 ? log_escape(job->err, strlen(job->err), err, sizeof(err)) : "",
	    job->rc < 0 ? "\"" : "");
	if (job->rc < 0)
		alert_health(d->alerts, ALERT_HEALTH_TEMPFAIL, "lmtp", job->err);
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
		else if (job->rc == 0 && ing->verp_many && lmtp_names_nobody(ing->report))
			snprintf(text, sizeof(text), "Ok: stored as bounce %" G_GINT64_FORMAT
			    ", recipient unknown: several VERP addresses in one transaction "
			    "(deliver one recipient per transaction: "
			    "<transport>_destination_recipient_limit = 1)", job->bounce.id_r);
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
