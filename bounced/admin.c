/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the admin socket (protocol in admin.h).
 *
 * A connection runs one command at a time: reading is disabled while a
 * writer job or a streamed listing is in progress, so pipelined requests
 * wait in the socket.  Listings are fetched from the read-only store in
 * chunks of ADMIN_CHUNK rows with keyset paging (after=<last address>), the
 * next chunk only once the client has read the output down to the low
 * watermark: memory stays constant whatever the number of rows.
 */
#include <errno.h>
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

#include "admin.h"
#include "bounds.h"
#include "build-config.h"
#include "config.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "log.h"
#include "metrics.h"
#include "sock.h"

#define ADMIN_ARGS_MAX   16
#define ADMIN_CHUNK      1000            /* rows per store_list() call */
#define ADMIN_OUT_HIGH   (256u * 1024)   /* stop fetching rows above this */
#define ADMIN_OUT_LOW    (64u * 1024)    /* fetch again below this */
#define ADMIN_IMPORT_BATCH 1000          /* entries per import transaction */
#define ADMIN_IMPORT_ERRORS 1000         /* error lines sent; the rest are counted */
#define ADMIN_FIELD      (3 * STORE_ADDR_MAX + 1)

struct admin_args {
	char *verb;
	unsigned n;
	char *key[ADMIN_ARGS_MAX];
	char *val[ADMIN_ARGS_MAX];
};

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

struct admin_stream {
	struct store_filter f;
	char *domain;
	char after[STORE_ADDR_MAX + 1];
	int has_after;
	int is_list;
	unsigned limit;                 /* LIST: rows wanted; 0 = all */
	uint64_t count;
};

struct admin_import {
	char source[128];
	unsigned line;
	GArray *manual;                 /* pending entries */
	GStringChunk *strings;
	uint64_t imported, errors;
};

struct admin_conn {
	struct admin_server *srv;
	struct bufferevent *bev;
	unsigned id;
	uid_t uid;
	char actor[128];
	int busy;                       /* a command is running */
	int closing;
	struct admin_job *job;
	struct admin_stream *stream;
	struct admin_import *import;
	GList link;
};

struct admin_server {
	struct daemon *d;
	struct sock_listener *listener;
	GQueue conns;
	unsigned next_id;
};

static void admin_accept(int fd, void *arg);
static void admin_read_cb(struct bufferevent *bev, void *arg);
static void admin_write_cb(struct bufferevent *bev, void *arg);
static void admin_event_cb(struct bufferevent *bev, short what, void *arg);
static void admin_close(struct admin_conn *c, const char *reason);
static void admin_process(struct admin_conn *c);
static void admin_command(struct admin_conn *c, char *line);
static void admin_reply(struct admin_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void admin_done(struct admin_conn *c);
static int admin_parse(char *line, struct admin_args *a, char err[128]);
static const char *admin_arg(const struct admin_args *a, const char *key);
static int admin_check_keys(struct admin_conn *c, const struct admin_args *a,
    const char *const *allowed);
static int admin_parse_time(const char *s, int until, time_t now, int64_t *t_r);
static void admin_put_entry(struct evbuffer *out, const char *type, const struct store_entry *e);
static void admin_show(struct admin_conn *c, const struct admin_args *a);
static void admin_raw(struct admin_conn *c, const struct admin_args *a);
static void admin_store_stats(struct admin_conn *c, const struct admin_args *a);
static void admin_incidents(struct admin_conn *c, const struct admin_args *a);
static void admin_audit(struct admin_conn *c, const struct admin_args *a);
static void admin_put_incident(struct admin_conn *c, const struct store_incident *in);
#define ADMIN_F(s, buf) ((s) != NULL && *(s) ? admin_encode((s), strlen(s), (buf), sizeof(buf)) : "-")
static void admin_stream_more(struct admin_conn *c);
static int admin_verb_in(const char *verb, const char *list);
static void admin_submit(struct admin_conn *c, struct admin_job *j);
static void admin_job_done(struct writer_job *job);
static void admin_job_free(struct admin_job *j);
static int admin_import_line(struct admin_conn *c, char *line);
static void admin_import_flush(struct admin_conn *c, int last);
static void admin_import_done(struct admin_conn *c);
static void admin_import_free(struct admin_conn *c);

/* ---- encoding --------------------------------------------------------- */

char *
admin_encode(const char *value, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)value[i];
		int esc = ch < 0x21 || ch > 0x7e || ch == '%' || ch == '=';

		if (o + (esc ? 3 : 1) + 1 > outsz)
			break;
		if (esc) {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

long
admin_decode(char *s)
{
	size_t i = 0, o = 0;

	while (s[i] != '\0') {
		if (s[i] == '%') {
			int hi = g_ascii_xdigit_value(s[i + 1]);
			int lo = hi >= 0 ? g_ascii_xdigit_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -1;
			s[o++] = (char)(hi * 16 + lo);
			i += 3;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return (long)o;
}

/* Splits "VERB k=v k=v" in place and decodes the values. */
static int
admin_parse(char *line, struct admin_args *a, char err[128])
{
	char *save = NULL, *tok;

	memset(a, 0, sizeof(*a));
	a->verb = strtok_r(line, " \t", &save);
	if (a->verb == NULL) {
		snprintf(err, 128, "empty request");
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		long n;

		if (a->n == ADMIN_ARGS_MAX) {
			snprintf(err, 128, "too many arguments");
			return -1;
		}
		if (eq == NULL || eq == tok) {
			snprintf(err, 128, "arguments are key=value");
			return -1;
		}
		*eq = '\0';
		n = admin_decode(eq + 1);
		if (n < 0 || (size_t)n != strlen(eq + 1)) {
			snprintf(err, 128, "bad %%XX encoding or NUL in %s", tok);
			return -1;
		}
		for (unsigned i = 0; i < a->n; i++)
			if (strcmp(a->key[i], tok) == 0) {
				snprintf(err, 128, "%s given twice", tok);
				return -1;
			}
		a->key[a->n] = tok;
		a->val[a->n++] = eq + 1;
	}
	return 0;
}

static const char *
admin_arg(const struct admin_args *a, const char *key)
{
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->key[i], key) == 0)
			return a->val[i];
	return NULL;
}

static int
admin_check_keys(struct admin_conn *c, const struct admin_args *a, const char *const *allowed)
{
	for (unsigned i = 0; i < a->n; i++) {
		size_t k;

		for (k = 0; allowed[k] != NULL; k++)
			if (strcmp(allowed[k], a->key[i]) == 0)
				break;
		if (allowed[k] == NULL) {
			char esc[128];

			admin_reply(c, "ERR usage unknown argument %s",
			    admin_encode(a->key[i], strlen(a->key[i]), esc, sizeof(esc)));
			return -1;
		}
	}
	return 0;
}

/* "2024-05-01T12:00:00Z", unix seconds, "never" (until only: 0), or "30d" from now (until). */
static int
admin_parse_time(const char *s, int until, time_t now, int64_t *t_r)
{
	int64_t v;
	GDateTime *dt;
	char *end;

	if (until && strcmp(s, "never") == 0) {
		*t_r = STORE_TTL_NEVER;
		return 0;
	}
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0') {
			*t_r = v;
			return 0;
		}
		if (until && cfg_parse_duration(s, 0, &v) && v > 0) {
			*t_r = (int64_t)now + v;
			return 0;
		}
	}
	dt = g_date_time_new_from_iso8601(s, NULL);
	if (dt == NULL)
		return -1;
	*t_r = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 0;
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
	if (c->job != NULL)
		c->job->job.ud = NULL;
	if (c->stream != NULL) {
		g_free(c->stream->domain);
		g_free(c->stream);
	}
	admin_import_free(c);
	g_queue_unlink(&c->srv->conns, &c->link);
	bufferevent_free(c->bev);
	g_free(c);
}

static void
admin_reply(struct admin_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\n", 1);
}

/* A command finished: read the next one. */
static void
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

/* ---- commands ---------------------------------------------------------- */

static void
admin_put_entry(struct evbuffer *out, const char *type, const struct store_entry *e)
{
	char addr[ADMIN_FIELD], src[256], rule[128], since[32], until[32], upd[32], ld[32];

	evbuffer_add_printf(out, "+ %s%saddress=%s cause=%s reason=%s status=%s since=%s until=%s "
	    "source=%s updated=%s soft_count=%u last_delivered=%s scope=%s rule=%s\n",
	    type ? "type=" : "", type ? type : "", admin_encode(e->address, strlen(e->address), addr,
	    sizeof(addr)), store_cause_name(e->v.cause), report_reason_name(e->v.reason),
	    e->status[0] ? e->status : "-", query_iso8601(e->v.since, since),
	    e->v.until == STORE_TTL_NEVER ? "never" : query_iso8601(e->v.until, until),
	    e->source && *e->source ? admin_encode(e->source, strlen(e->source), src, sizeof(src)) :
	    "-", query_iso8601(e->updated, upd), e->soft_count,
	    e->last_delivered ? query_iso8601(e->last_delivered, ld) : "-",
	    report_scope_name(e->scope), e->rule && *e->rule ? admin_encode(e->rule,
	    strlen(e->rule), rule, sizeof(rule)) : "-");
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
/* 1 when verb is one of the space-separated words of list (case-insensitive). */
static int
admin_verb_in(const char *verb, const char *list)
{
	size_t vl = strlen(verb);

	for (const char *p = list; *p != '\0'; ) {
		size_t n = strcspn(p, " ");

		if (n == vl && g_ascii_strncasecmp(p, verb, n) == 0)
			return 1;
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static void
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
	g_free(st->domain);
	g_free(st);
	c->stream = NULL;
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

		if (!cfg_parse_duration(v, 0, &n) || n <= 0 || n > 1000000 ||
		    !g_ascii_isdigit(v[strlen(v) - 1]))
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
	if (c->srv->d->writer == NULL) {
		/* the store could not be set up yet (main.c retries) */
		admin_reply(c, "ERR store unavailable: the database cannot be opened (see the log); "
		    "try again");
		admin_job_free(j);
		return;
	}
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
		    "kept_suppressed=%d", j->result, j->forget.events, j->forget.bounces,
		    j->forget.audit, j->forget.kept_suppressed);
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

/* The daemon's own counters (type=daemon lines). */
static void
admin_stats(struct admin_conn *c)
{
	struct daemon *d = c->srv->d;
	struct writer_stats ws;

	writer_get_stats(d->writer, &ws);
	admin_reply(c, "+ type=daemon uptime=%ld version=%s index_entries=%zu index_bytes=%zu "
	    "store_writable=%d", (long)(time(NULL) - d->started), BOUNCED_VERSION,
	    store_index_count(d->idx), store_index_bytes(d->idx), writer_healthy(d->writer));
	admin_reply(c, "+ type=daemon lmtp_sessions=%u bounces=%" G_GUINT64_FORMAT
	    " bounces_failed=%" G_GUINT64_FORMAT " duplicates=%" G_GUINT64_FORMAT,
	    lmtp_server_sessions(d->lmtp), d->bounces, d->bounces_failed, d->duplicates);
	admin_reply(c, "+ type=daemon commits=%" G_GUINT64_FORMAT " committed_bounces=%"
	    G_GUINT64_FORMAT " commit_failures=%" G_GUINT64_FORMAT " max_batch=%" G_GUINT64_FORMAT
	    " writer_pending=%u", ws.commits, ws.bounces, ws.failed, ws.max_batch,
	    writer_pending(d->writer));
	admin_reply(c, "+ type=daemon queries=%" G_GUINT64_FORMAT " queries_suppressed=%"
	    G_GUINT64_FORMAT " query_errors=%" G_GUINT64_FORMAT " query_connections=%u",
	    d->qctx.requests, d->qctx.suppressed, d->qctx.errors, query_server_connections(d->query));
	admin_reply(c, "+ type=daemon socketmap_requests=%" G_GUINT64_FORMAT " socketmap_found=%"
	    G_GUINT64_FORMAT " socketmap_connections=%u", d->sctx.requests, d->sctx.found,
	    query_server_connections(d->smap));
}

static void
admin_put_incident(struct admin_conn *c, const struct store_incident *in)
{
	char prov[256], dom[256], st[64], diag[ADMIN_FIELD], first[32], last[32];

	admin_reply(c, "+ type=incident id=%" G_GINT64_FORMAT " provider=%s reason=%s first_seen=%s "
	    "last_seen=%s count=%" G_GUINT64_FORMAT " open=%d last_domain=%s last_status=%s "
	    "last_diagnostic=%s", in->id, ADMIN_F(in->provider, prov),
	    report_reason_name(in->reason), query_iso8601(in->first_seen, first),
	    query_iso8601(in->last_seen, last), in->count, in->open, ADMIN_F(in->last_domain, dom),
	    ADMIN_F(in->last_status, st), ADMIN_F(in->last_diagnostic, diag));
}

/* STATS [from=T] [to=T] [domains=N]: the daemon's counters, then the store's. */
static void
admin_store_stats(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	struct store_stats st;
	time_t now = time(NULL);
	int64_t from = 0, to = (int64_t)now + 1;
	int64_t ndom = 20;
	const char *v;
	char name[256];

	if (((v = admin_arg(a, "from")) != NULL && admin_parse_time(v, 0, now, &from) < 0) ||
	    ((v = admin_arg(a, "to")) != NULL && admin_parse_time(v, 0, now, &to) < 0) ||
	    ((v = admin_arg(a, "domains")) != NULL && (!cfg_parse_duration(v, 0, &ndom) ||
	    ndom < 1 || ndom > 10000 || !g_ascii_isdigit(v[strlen(v) - 1])))) {
		admin_reply(c, "ERR invalid from, to or domains");
		return;
	}
	memset(&st, 0, sizeof(st));
	if (store_stats(ro, from, to, now, (unsigned)ndom, &st) < 0) {
		admin_reply(c, "ERR store %s", admin_encode(store_errmsg(ro), strlen(store_errmsg(ro)),
		    name, sizeof(name)));
		store_stats_clear(&st);
		return;
	}
	admin_stats(c);
	admin_reply(c, "+ type=total from=%" G_GINT64_FORMAT " to=%" G_GINT64_FORMAT " bounces=%"
	    G_GUINT64_FORMAT " events=%" G_GUINT64_FORMAT, st.from, st.to, st.bounces, st.events);
	for (int i = 0; i < REPORT_CLASS_COUNT; i++)
		if (st.by_class[i])
			admin_reply(c, "+ type=class name=%s n=%" G_GUINT64_FORMAT,
			    report_class_name((enum report_class)i), st.by_class[i]);
	for (int i = 0; i < REPORT_REASON_COUNT; i++)
		if (st.by_reason[i])
			admin_reply(c, "+ type=reason name=%s n=%" G_GUINT64_FORMAT,
			    report_reason_name((enum report_reason)i), st.by_reason[i]);
	for (int i = 0; i < REPORT_SCOPE_COUNT; i++)
		if (st.by_scope[i])
			admin_reply(c, "+ type=scope name=%s n=%" G_GUINT64_FORMAT,
			    report_scope_name((enum report_scope)i), st.by_scope[i]);
	for (int i = 1; i < STORE_CAUSE_COUNT; i++)
		admin_reply(c, "+ type=suppressed name=%s n=%" G_GUINT64_FORMAT,
		    store_cause_name((enum store_cause)i), st.suppressed[i]);
	for (guint i = 0; st.domains != NULL && i < st.domains->len; i++) {
		const struct store_count *sc = g_ptr_array_index(st.domains, i);

		admin_reply(c, "+ type=domain name=%s n=%" G_GUINT64_FORMAT, ADMIN_F(sc->name, name),
		    sc->n);
	}
	for (guint i = 0; st.soft_by_provider != NULL && i < st.soft_by_provider->len; i++) {
		const struct store_count *sc = g_ptr_array_index(st.soft_by_provider, i);

		admin_reply(c, "+ type=soft_provider name=%s n=%" G_GUINT64_FORMAT,
		    ADMIN_F(sc->name, name), sc->n);
	}
	for (guint i = 0; st.incidents != NULL && i < st.incidents->len; i++)
		admin_put_incident(c, g_ptr_array_index(st.incidents, i));
	admin_reply(c, "OK");
	store_stats_clear(&st);
}

/* INCIDENTS [all=1] */
static void
admin_incidents(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)store_incident_free);
	const char *all = admin_arg(a, "all");
	char err[256];

	if (store_incidents(ro, time(NULL), !(all != NULL && strcmp(all, "0") != 0), out) < 0) {
		admin_reply(c, "ERR store %s", admin_encode(store_errmsg(ro), strlen(store_errmsg(ro)),
		    err, sizeof(err)));
	} else {
		for (guint i = 0; i < out->len; i++)
			admin_put_incident(c, g_ptr_array_index(out, i));
		admin_reply(c, "OK count=%u", out->len);
	}
	g_ptr_array_free(out, TRUE);
}

static void
admin_put_audit(struct admin_conn *c, const struct store_audit_entry *au)
{
	char actor[256], target[ADMIN_FIELD], note[ADMIN_FIELD], at[32], since[32], until[32];

	admin_reply(c, "+ type=audit id=%" G_GINT64_FORMAT " at=%s actor=%s action=%s target=%s "
	    "cause=%s reason=%s status=%s since=%s until=%s note=%s", au->id,
	    query_iso8601(au->at, at), ADMIN_F(au->actor, actor), au->action ? au->action : "-",
	    ADMIN_F(au->target, target), store_cause_name(au->cause),
	    report_reason_name(au->reason), au->status[0] ? au->status : "-",
	    au->since ? query_iso8601(au->since, since) : "-",
	    au->until == STORE_TTL_NEVER ? "never" : query_iso8601(au->until, until),
	    ADMIN_F(au->note, note));
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

	admin_put_audit(w->c, au);
	w->n++;
	w->last = au->id;
	return 0;
}

/* AUDIT [target=A] [after=ID] [limit=N] (default 1000, at most 100000) */
static void
admin_audit(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	struct admin_audit_walk w = { .c = c };
	char norm[STORE_ADDR_MAX + 1], err[256];
	const char *target = admin_arg(a, "target"), *v;
	int64_t after = 0, limit = 1000;

	if (((v = admin_arg(a, "after")) != NULL && (!cfg_parse_duration(v, 0, &after) ||
	    !g_ascii_isdigit(v[strlen(v) - 1]))) ||
	    ((v = admin_arg(a, "limit")) != NULL && (!cfg_parse_duration(v, 0, &limit) ||
	    limit < 1 || limit > 100000 || !g_ascii_isdigit(v[strlen(v) - 1])))) {
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
		admin_reply(c, "ERR store %s", admin_encode(store_errmsg(ro), strlen(store_errmsg(ro)),
		    err, sizeof(err)));
		return;
	}
	if (w.n == (unsigned)limit)
		admin_reply(c, "OK count=%u next=%" G_GINT64_FORMAT, w.n, w.last);
	else
		admin_reply(c, "OK count=%u", w.n);
}

/* SHOW address=A [events=N] (default 50; 0 = all) */
static void
admin_show(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	const char *addr = admin_arg(a, "address"), *v;
	char norm[STORE_ADDR_MAX + 1], err[256];
	struct store_show sh;
	int64_t max = 50;
	int rc;

	if (addr == NULL) {
		admin_reply(c, "ERR usage SHOW address=A [events=N]");
		return;
	}
	if ((v = admin_arg(a, "events")) != NULL && (!cfg_parse_duration(v, 0, &max) ||
	    max > 100000 || !g_ascii_isdigit(v[strlen(v) - 1]))) {
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
		admin_reply(c, "ERR store %s", admin_encode(store_errmsg(ro), strlen(store_errmsg(ro)),
		    err, sizeof(err)));
	} else if (rc == 0) {
		admin_reply(c, "ERR notfound %s is not known", admin_encode(norm, strlen(norm), err,
		    sizeof(err)));
	} else {
		struct evbuffer *out = bufferevent_get_output(c->bev);

		if (sh.has_entry)
			admin_put_entry(out, "entry ", &sh.entry);
		for (guint i = 0; sh.events != NULL && i < sh.events->len; i++) {
			const struct store_event *ev = g_ptr_array_index(sh.events, i);
			char at[32], act[64], diag[ADMIN_FIELD], dtype[64], mta[256], cmd[64], rule[128],
			    dec[64], rmta[256], mid[ADMIN_FIELD], snd[ADMIN_FIELD], subj[ADMIN_FIELD],
			    unt[64], tru[256];

			admin_reply(c, "+ type=event id=%" G_GINT64_FORMAT " bounce=%" G_GINT64_FORMAT
			    " at=%s class=%s reason=%s scope=%s status=%s replycode=%s action=%s "
			    "diagnostic=%s diagnostic_type=%s remote_mta=%s smtp_command=%s rule=%s "
			    "decoder=%s reporting_mta=%s message_id=%s orig_sender=%s subject=%s raw=%d "
			    "untrusted=%s trust=%s",
			    ev->id, ev->bounce_id, query_iso8601(ev->at, at),
			    report_class_name(ev->class), report_reason_name(ev->reason),
			    report_scope_name(ev->scope), ev->status[0] ? ev->status : "-",
			    ev->replycode[0] ? ev->replycode : "-", ADMIN_F(ev->action, act),
			    ADMIN_F(ev->diagnostic, diag), ADMIN_F(ev->diagnostic_type, dtype),
			    ADMIN_F(ev->remote_mta, mta), ADMIN_F(ev->smtp_command, cmd),
			    ADMIN_F(ev->rule, rule), ADMIN_F(ev->decoder, dec),
			    ADMIN_F(ev->reporting_mta, rmta), ADMIN_F(ev->orig_message_id, mid),
			    ADMIN_F(ev->orig_sender, snd), ADMIN_F(ev->subject, subj), ev->raw_kept,
			    ADMIN_F(ev->untrusted, unt), ADMIN_F(ev->trust, tru));
		}
		for (guint i = 0; sh.audit != NULL && i < sh.audit->len; i++)
			admin_put_audit(c, g_ptr_array_index(sh.audit, i));
		admin_reply(c, "OK events=%u audit=%u", sh.events ? sh.events->len : 0,
		    sh.audit ? sh.audit->len : 0);
	}
	store_show_clear(&sh);
}

/* RAW bounce=ID -> "OK bytes=N" then exactly N bytes of the message, then LF. */
static void
admin_raw(struct admin_conn *c, const struct admin_args *a)
{
	struct store *ro = c->srv->d->ro;
	const char *v = admin_arg(a, "bounce");
	int64_t id;
	char *raw = NULL, err[256];
	size_t len = 0;
	int rc;

	if (v == NULL || !cfg_parse_duration(v, 0, &id) || !g_ascii_isdigit(v[strlen(v) - 1])) {
		admin_reply(c, "ERR usage RAW bounce=ID");
		return;
	}
	rc = store_raw(ro, id, &raw, &len);
	if (rc < 0)
		admin_reply(c, "ERR store %s", admin_encode(store_errmsg(ro), strlen(store_errmsg(ro)),
		    err, sizeof(err)));
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

static void
admin_command(struct admin_conn *c, char *line)
{
	static const char *const no_keys[] = { NULL };
	static const char *const addr_keys[] = { "address", NULL };
	static const char *const filter_keys[] = { "state", "cause", "reason", "scope", "domain",
	    "since", "until", "after", "limit", NULL };
	static const char *const suppress_keys[] = { "target", "reason", "until", "note", "cause",
	    "status", "since", NULL };
	static const char *const unsuppress_keys[] = { "target", "note", NULL };
	static const char *const reeval_keys[] = { "dry_run", NULL };
	static const char *const import_keys[] = { "source", NULL };
	struct daemon *d = c->srv->d;
	struct admin_args a;
	char err[256], esc[ADMIN_FIELD];
	const char *verb;

	if (admin_parse(line, &a, err) < 0) {
		admin_reply(c, "ERR usage %s", err);
		return;
	}
	verb = a.verb;
	log_info("event=admin_command conn=%u actor=\"%s\" verb=%s", c->id, c->actor,
	    log_escape(verb, strlen(verb), esc, 64));
	if (d->stopping && g_ascii_strcasecmp(verb, "QUIT") != 0) {
		admin_reply(c, "ERR shutdown bounced is stopping");
		return;
	}
	/* the database could not be opened (main.c retries): reads cannot answer */
	if ((d->ro == NULL && admin_verb_in(verb, "LIST EXPORT STATS INCIDENTS AUDIT SHOW RAW")) ||
	    (d->qctx.idx == NULL && admin_verb_in(verb, "CHECK"))) {
		admin_reply(c, "ERR store unavailable: the database cannot be opened (see the log); "
		    "try again");
		return;
	}
	if (g_ascii_strcasecmp(verb, "PING") == 0) {
		if (admin_check_keys(c, &a, no_keys) == 0)
			admin_reply(c, "OK version=1 daemon=%s", BOUNCED_VERSION);
	} else if (g_ascii_strcasecmp(verb, "QUIT") == 0) {
		admin_reply(c, "OK bye");
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
	} else if (g_ascii_strcasecmp(verb, "CHECK") == 0) {
		const char *addr = admin_arg(&a, "address");
		char norm[STORE_ADDR_MAX + 1], since[32], until[32];
		struct store_verdict v;
		int n, rc;

		if (admin_check_keys(c, &a, addr_keys) < 0)
			return;
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
		rc = store_check(d->idx, norm, (size_t)n, time(NULL), &v);
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
			    query_iso8601(v.since, since), v.until == STORE_TTL_NEVER ? "never" :
			    query_iso8601(v.until, until), v.domain ? "domain" : "address");
		admin_reply(c, "OK");
	} else if (g_ascii_strcasecmp(verb, "LIST") == 0 ||
	    g_ascii_strcasecmp(verb, "EXPORT") == 0) {
		int is_list = g_ascii_strcasecmp(verb, "LIST") == 0;
		struct admin_stream *st;

		if (admin_check_keys(c, &a, filter_keys) < 0)
			return;
		if (!is_list && (admin_arg(&a, "limit") || admin_arg(&a, "after"))) {
			admin_reply(c, "ERR usage EXPORT takes no limit or after (use LIST)");
			return;
		}
		st = g_new0(struct admin_stream, 1);
		st->is_list = is_list;
		if (admin_filter(c, &a, st, !is_list) < 0) {
			g_free(st);
			return;
		}
		c->stream = st;
		c->busy = 1;
		admin_stream_more(c);
	} else if (g_ascii_strcasecmp(verb, "SUPPRESS") == 0) {
		struct admin_job *j;
		struct store_manual m;

		if (admin_check_keys(c, &a, suppress_keys) < 0)
			return;
		j = g_new0(struct admin_job, 1);
		j->kind = ADMIN_JOB_SUPPRESS;
		j->strings = g_string_chunk_new(256);
		j->manual = g_array_new(FALSE, FALSE, sizeof(struct store_manual));
		if (admin_manual(&a, c->actor, j->strings, time(NULL), 0, &m, err) < 0) {
			admin_reply(c, "ERR invalid %s", admin_encode(err, strlen(err), esc, sizeof(esc)));
			admin_job_free(j);
			return;
		}
		g_array_append_val(j->manual, m);
		admin_submit(c, j);
	} else if (g_ascii_strcasecmp(verb, "UNSUPPRESS") == 0 ||
	    g_ascii_strcasecmp(verb, "FORGET") == 0) {
		int forget = g_ascii_strcasecmp(verb, "FORGET") == 0;
		const char *t = admin_arg(&a, forget ? "address" : "target");
		char norm[STORE_ADDR_MAX + 1];
		struct admin_job *j;
		int n;

		if (admin_check_keys(c, &a, forget ? addr_keys : unsuppress_keys) < 0)
			return;
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
		j = g_new0(struct admin_job, 1);
		j->kind = forget ? ADMIN_JOB_FORGET : ADMIN_JOB_UNSUPPRESS;
		j->target = g_strdup(norm);
		j->note = g_strdup(admin_arg(&a, "note"));
		admin_submit(c, j);
	} else if (g_ascii_strcasecmp(verb, "REEVALUATE") == 0) {
		const char *dr = admin_arg(&a, "dry_run");
		struct admin_job *j;

		if (admin_check_keys(c, &a, reeval_keys) < 0)
			return;
		j = g_new0(struct admin_job, 1);
		j->kind = ADMIN_JOB_REEVALUATE;
		j->dry_run = dr != NULL && strcmp(dr, "0") != 0;
		j->diffs = g_ptr_array_new_with_free_func((GDestroyNotify)store_reeval_diff_free);
		admin_submit(c, j);
	} else if (g_ascii_strcasecmp(verb, "PURGE") == 0) {
		struct admin_job *j;

		if (admin_check_keys(c, &a, no_keys) < 0)
			return;
		j = g_new0(struct admin_job, 1);
		j->kind = ADMIN_JOB_PURGE;
		admin_submit(c, j);
	} else if (g_ascii_strcasecmp(verb, "IMPORT") == 0) {
		const char *src = admin_arg(&a, "source");
		struct admin_import *im;

		if (admin_check_keys(c, &a, import_keys) < 0)
			return;
		im = g_new0(struct admin_import, 1);
		snprintf(im->source, sizeof(im->source), "import:%s", src ? src : "admin");
		im->manual = g_array_new(FALSE, FALSE, sizeof(struct store_manual));
		im->strings = g_string_chunk_new(64 * 1024);
		c->import = im;
		admin_reply(c, "OK send");
	} else if (g_ascii_strcasecmp(verb, "METRICS") == 0) {
		if (admin_check_keys(c, &a, no_keys) == 0) {
			struct metrics_snapshot snap;
			GString *text = g_string_sized_new(16 * 1024);

			metrics_collect(d, &snap);
			metrics_render(d->metrics, &snap, text);
			admin_reply(c, "OK bytes=%zu", text->len);
			evbuffer_add(bufferevent_get_output(c->bev), text->str, text->len);
			evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
			g_string_free(text, TRUE);
		}
	} else if (g_ascii_strcasecmp(verb, "STATS") == 0) {
		static const char *const stats_keys[] = { "from", "to", "domains", NULL };

		if (admin_check_keys(c, &a, stats_keys) == 0)
			admin_store_stats(c, &a);
	} else if (g_ascii_strcasecmp(verb, "SHOW") == 0) {
		static const char *const show_keys[] = { "address", "events", NULL };

		if (admin_check_keys(c, &a, show_keys) == 0)
			admin_show(c, &a);
	} else if (g_ascii_strcasecmp(verb, "RAW") == 0) {
		static const char *const raw_keys[] = { "bounce", NULL };

		if (admin_check_keys(c, &a, raw_keys) == 0)
			admin_raw(c, &a);
	} else if (g_ascii_strcasecmp(verb, "INCIDENTS") == 0) {
		static const char *const inc_keys[] = { "all", NULL };

		if (admin_check_keys(c, &a, inc_keys) == 0)
			admin_incidents(c, &a);
	} else if (g_ascii_strcasecmp(verb, "AUDIT") == 0) {
		static const char *const audit_keys[] = { "target", "after", "limit", NULL };

		if (admin_check_keys(c, &a, audit_keys) == 0)
			admin_audit(c, &a);
	} else {
		admin_reply(c, "ERR usage unknown command %s",
		    admin_encode(verb, strlen(verb), esc, sizeof(esc)));
	}
}

/* ---- import ------------------------------------------------------------ */

static int
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
	for (unsigned i = 0; i < a.n; i++) {
		size_t k;

		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(keys[k], a.key[i]) == 0)
				break;
		if (keys[k] == NULL) {
			snprintf(err, sizeof(err), "unknown field %s", a.key[i]);
			goto bad;
		}
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
