/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the admin socket's connections and its verb table (protocol in
 * admin.h, the other files in admin-int.h).
 *
 * A connection runs one command at a time: reading is disabled while a
 * writer job or a streamed listing is in progress, so pipelined requests
 * wait in the socket.  One teardown, admin_close(); a job still running in
 * the writer then finishes with nobody to answer.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <glib.h>

#include "admin-int.h"
#include "admin.h"
#include "bounds.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "sock.h"

#define ADMIN_OUT_LOW    (64u * 1024)    /* a stream's next rows below this (admin-read.c) */

static void admin_accept(int fd, void *arg);
static void admin_read_cb(struct bufferevent *bev, void *arg);
static void admin_write_cb(struct bufferevent *bev, void *arg);
static void admin_event_cb(struct bufferevent *bev, short what, void *arg);
static void admin_close(struct admin_conn *c, const char *reason);
static void admin_process(struct admin_conn *c);
static void admin_command(struct admin_conn *c, char *line);

/* ---- the verb table ---------------------------------------------------- */

static const char *const no_keys[] = { NULL };
static const char *const address_keys[] = { "address", NULL };
static const char *const filter_keys[] = { "state", "cause", "reason", "scope", "domain",
    "since", "until", "after", "limit", NULL };
static const char *const show_keys[] = { "address", "events", NULL };
static const char *const raw_keys[] = { "bounce", NULL };
static const char *const stats_keys[] = { "from", "to", "domains", NULL };
static const char *const incidents_keys[] = { "all", NULL };
static const char *const audit_keys[] = { "target", "after", "limit", NULL };
static const char *const alerts_keys[] = { "limit", "test", NULL };
static const char *const suppress_keys[] = { "target", "reason", "until", "note", "cause",
    "status", "since", NULL };
static const char *const unsuppress_keys[] = { "target", "note", NULL };
static const char *const reevaluate_keys[] = { "dry_run", NULL };
static const char *const import_keys[] = { "source", NULL };

const struct admin_verb admin_verbs[] = {
	{ "PING",       no_keys,         0,                   admin_ping },
	{ "QUIT",       NULL,            ADMIN_WHILE_STOPPING, admin_quit },
	{ "CHECK",      address_keys,    ADMIN_NEEDS_INDEX,   admin_check },
	{ "LIST",       filter_keys,     ADMIN_NEEDS_READER,  admin_list },
	{ "EXPORT",     filter_keys,     ADMIN_NEEDS_READER,  admin_export },
	{ "SHOW",       show_keys,       ADMIN_NEEDS_READER,  admin_show },
	{ "RAW",        raw_keys,        ADMIN_NEEDS_READER,  admin_raw },
	{ "STATS",      stats_keys,      ADMIN_NEEDS_READER,  admin_stats },
	{ "METRICS",    no_keys,         0,                   admin_metrics },
	{ "INCIDENTS",  incidents_keys,  ADMIN_NEEDS_READER,  admin_incidents },
	{ "AUDIT",      audit_keys,      ADMIN_NEEDS_READER,  admin_audit },
	{ "ALERTS",     alerts_keys,     ADMIN_NEEDS_READER,  admin_alerts },
	/* changes: writer jobs */
	{ "SUPPRESS",   suppress_keys,   ADMIN_NEEDS_WRITER,  admin_suppress },
	{ "UNSUPPRESS", unsuppress_keys, ADMIN_NEEDS_WRITER,  admin_unsuppress },
	{ "FORGET",     address_keys,    ADMIN_NEEDS_WRITER,  admin_forget },
	{ "REEVALUATE", reevaluate_keys, ADMIN_NEEDS_WRITER,  admin_reevaluate },
	{ "PURGE",      no_keys,         ADMIN_NEEDS_WRITER,  admin_purge },
	{ "IMPORT",     import_keys,     ADMIN_NEEDS_WRITER,  admin_import },
	{ NULL,         NULL,            0,                   NULL },
};

static const struct admin_verb *
admin_verb_find(const char *name)
{
	for (const struct admin_verb *v = admin_verbs; v->name != NULL; v++)
		if (g_ascii_strcasecmp(v->name, name) == 0)
			return v;
	return NULL;
}

/* One request: parse, look the verb up, check what it needs, run it. */
static void
admin_command(struct admin_conn *c, char *line)
{
	struct daemon *d = c->srv->d;
	const struct admin_verb *v;
	struct admin_args a;
	char err[256], esc[ADMIN_FIELD];
	const char *bad;

	if (admin_parse(line, &a, err) < 0) {
		admin_reply(c, "ERR usage %s", err);
		return;
	}
	log_info("event=admin_command conn=%u actor=\"%s\" verb=%s", c->id, c->actor,
	    log_escape(a.verb, strlen(a.verb), esc, 64));
	v = admin_verb_find(a.verb);
	if (d->stopping && (v == NULL || !(v->needs & ADMIN_WHILE_STOPPING))) {
		admin_reply(c, "ERR shutdown bounced is stopping");
		return;
	}
	if (v == NULL) {
		admin_reply(c, "ERR usage unknown command %s",
		    admin_encode(a.verb, strlen(a.verb), esc, sizeof(esc)));
		return;
	}
	/* the database could not be opened yet (main.c retries) */
	if (((v->needs & ADMIN_NEEDS_READER) && d->ro == NULL) ||
	    ((v->needs & ADMIN_NEEDS_INDEX) && d->qctx.idx == NULL) ||
	    ((v->needs & ADMIN_NEEDS_WRITER) && d->writer == NULL)) {
		admin_reply(c, ADMIN_ERR_UNAVAILABLE);
		return;
	}
	if (v->keys != NULL && (bad = admin_unknown_key(&a, v->keys)) != NULL) {
		admin_reply(c, "ERR usage unknown argument %s",
		    admin_encode(bad, strlen(bad), esc, 128));
		return;
	}
	v->run(c, &a);
}

/* ---- the server -------------------------------------------------------- */

struct admin_server *
admin_server_new(struct daemon *d, int fd)
{
	struct admin_server *srv = g_new0(struct admin_server, 1);

	srv->d = d;
	g_queue_init(&srv->conns);
	srv->listener = sock_listener_new(d->base, fd, "admin", admin_accept, srv);
	if (srv->listener == NULL) {
		close(fd);
		g_free(srv);
		return NULL;
	}
	return srv;
}

struct sock_listener *
admin_server_listener(struct admin_server *srv)
{
	return srv->listener;
}

void
admin_server_free(struct admin_server *srv)
{
	if (srv == NULL)
		return;
	sock_listener_free(srv->listener);
	while (srv->conns.head != NULL)
		admin_close(srv->conns.head->data, "shutdown");
	g_free(srv);
}

static void
admin_accept(int fd, void *arg)
{
	struct admin_server *srv = arg;
	const struct config *cfg = srv->d->cfg;
	struct admin_conn *c;
	struct timeval idle = { (time_t)cfg->admin.sock.idle_timeout, 0 };
	uid_t uid = (uid_t)-1;
	gid_t gid;
	pid_t pid = 0;
	int allowed = 0;
	char msg[160];
	struct passwd *pw;

	if (sock_peer_cred(fd, &uid, &gid, &pid) == 0)
		for (size_t i = 0; i < cfg->admin.nallow_uids; i++)
			if (cfg->admin.allow_uids[i] == uid)
				allowed = 1;
	if (!allowed || srv->conns.length >= cfg->admin.sock.max_connections) {
		int n = allowed ? snprintf(msg, sizeof(msg), "ERR busy too many admin connections\n") :
		    snprintf(msg, sizeof(msg), "ERR denied uid %d is not in admin.allow_uids\n",
		    (int)uid);
		ssize_t w = write(fd, msg, (size_t)n);

		(void)w;
		log_warnx("event=admin_refused uid=%d pid=%d reason=%s", (int)uid, (int)pid,
		    allowed ? "too_many_connections" : "uid_not_allowed");
		close(fd);
		return;
	}
	c = g_new0(struct admin_conn, 1);
	c->srv = srv;
	c->id = ++srv->next_id;
	c->uid = uid;
	/* getpwuid may ask NSS; once per admin connection is fine */
	pw = getpwuid(uid);
	snprintf(c->actor, sizeof(c->actor), "uid=%d (%s)", (int)uid, pw ? pw->pw_name : "?");
	c->link.data = c;
	g_queue_push_tail_link(&srv->conns, &c->link);
	c->bev = bufferevent_socket_new(srv->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, admin_read_cb, admin_write_cb, admin_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, ADMIN_OUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_info("event=admin_connect conn=%u uid=%d pid=%d", c->id, (int)uid, (int)pid);
}

static void
admin_close(struct admin_conn *c, const char *reason)
{
	log_info("event=admin_disconnect conn=%u reason=%s", c->id, reason);
	admin_stream_free(c);
	admin_change_abandon(c);
	g_queue_unlink(&c->srv->conns, &c->link);
	bufferevent_free(c->bev);
	g_free(c);
}

void
admin_reply(struct admin_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\n", 1);
}

void
admin_reply_store_error(struct admin_conn *c, struct store *s)
{
	char err[256];

	admin_reply(c, "ERR store %s", admin_encode(store_errmsg(s), strlen(store_errmsg(s)), err,
	    sizeof(err)));
}

/* A command finished: read the next one. */
void
admin_done(struct admin_conn *c)
{
	c->busy = 0;
	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			admin_close(c, "quit");
		else
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	admin_process(c);
}

/* Runs the buffered requests, one at a time. */
static void
admin_process(struct admin_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (!c->busy && !c->closing) {
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

		if (line == NULL) {
			/* readln's NULL is not bounded by libevent: check ourselves */
			if (evbuffer_get_length(in) > LIMIT_ADMIN_LINE) {
				admin_reply(c, "ERR usage line too long");
				c->closing = 1;
				bufferevent_disable(c->bev, EV_READ);
			}
			break;
		}
		if (n > LIMIT_ADMIN_LINE || strlen(line) != n) {
			admin_reply(c, "ERR usage %s", n > LIMIT_ADMIN_LINE ? "line too long" :
			    "NUL byte in request");
		} else if (c->import != NULL) {
			admin_import_line(c, line);
		} else {
			admin_command(c, line);
		}
		free(line);
	}
	if (c->busy)
		bufferevent_disable(c->bev, EV_READ);
}

static void
admin_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	admin_process(arg);
}

static void
admin_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_conn *c = arg;

	(void)bev;
	if (c->stream != NULL) {
		admin_stream_more(c);
		return;
	}
	if (c->closing && !c->busy) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			admin_close(c, "quit");
		else
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	}
}

static void
admin_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct admin_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		admin_close(c, (what & BEV_EVENT_WRITING) ? "write_timeout" : "idle_timeout");
	else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		admin_close(c, (what & BEV_EVENT_EOF) ? "eof" : "error");
}

