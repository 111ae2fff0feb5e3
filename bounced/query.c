/* SPDX-License-Identifier: MIT */
/*
 * query.c - the query protocol's engine and the socket server shared with
 * the socketmap (see query.h).
 *
 * The server's hot path, per readable connection: one read() into the
 * connection's fixed input buffer, the engine answers every complete request
 * into the fixed output buffer, one write().  EV_WRITE is only armed when a
 * write() was short, and reading stops while the output buffer is too full
 * to take another reply: a client that never reads costs QUERY_OUT_SIZE and
 * nothing more.  Idle timeouts use one libevent common timeout, so a
 * thousand connections cost O(1) per event.
 *
 * Connections are kept in least-recently-used order (moved to the tail on
 * every read).  When max_conns are open, a new client does not get the busy
 * reply if the least recently used connection has been idle for
 * QUERY_EVICT_IDLE: that one is closed instead (its client reconnects when
 * it has a question), so idle connections cannot lock applications out.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>

#include "log.h"
#include "query.h"
#include "sock.h"
#include "util.h"

#define QUERY_EVICT_IDLE (1 * G_USEC_PER_SEC)  /* idle this long: may give its slot away */

struct query_conn {
	struct query_server *srv;
	struct event *rev, *wev;
	int fd;
	unsigned id;
	gint64 last;            /* last read (monotonic) */
	GList link;             /* in srv->conns; data = this */
	int eof;                /* the client is done writing: answer, then close */
	struct query_buf b;
};

struct query_server {
	struct event_base *base;
	struct sock_listener *listener;
	char name[16];
	unsigned max_conns;
	const struct timeval *idle;     /* a common timeout */
	query_engine_fn engine;
	void *ctx;
	char *busy_reply;
	GQueue conns;           /* least recently used first */
	unsigned next_id;
};

static void query_accept(int fd, void *arg);
static void query_readable(evutil_socket_t fd, short what, void *arg);
static void query_writable(evutil_socket_t fd, short what, void *arg);
static int query_flush(struct query_conn *c);
static void query_close(struct query_conn *c, const char *reason);
static size_t query_copy_reply(char *out, size_t outsz, const char *s);

/* ---- the engine --------------------------------------------------------- */

/* Copies s into out, turning control bytes into '?' (the reply is one line). */
static size_t
query_copy_reply(char *out, size_t outsz, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 2 < outsz; s++)
		out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

size_t
query_answer(struct query_ctx *ctx, time_t now, const char *line, size_t len, char *out,
    size_t outsz)
{
	char norm[STORE_ADDR_MAX + 1], err[256], since[32], until[32], msg[QUERY_REPLY_MAX];

	struct store_verdict v;
	size_t i = 0;
	int n, rc;

	ctx->requests++;
	if (len >= 5 && g_ascii_strncasecmp(line, "CHECK", 5) == 0 &&
	    (len == 5 || line[5] == ' ' || line[5] == '\t')) {
		i = 5;
	} else {
		ctx->errors++;
		while (i < len && line[i] != ' ')
			i++;
		if (len == 0)
			return query_copy_reply(out, outsz, "ERR empty request");
		return query_copy_reply(out, outsz, "ERR unknown command (expected CHECK <address>)");
	}
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (i == len) {
		ctx->errors++;
		return query_copy_reply(out, outsz, "ERR missing address (CHECK <address>)");
	}
	n = store_addr_normalize(line + i, len - i, norm, err);
	if (n < 0) {
		ctx->errors++;
		snprintf(msg, sizeof(msg), "ERR invalid address: %s", err);
		return query_copy_reply(out, outsz, msg);
	}
	if (norm[0] == '@') {
		ctx->errors++;
		return query_copy_reply(out, outsz, "ERR invalid address: a domain, not an address");
	}
	if (ctx->idx == NULL) {
		/* the database could not be opened yet: nothing is known, "OK" would be a guess */
		ctx->errors++;
		return query_copy_reply(out, outsz, "ERR store unavailable, try again later");
	}
	rc = store_check(ctx->idx, norm, (size_t)n, now, &v);
	if (rc < 0) {
		ctx->errors++;
		return query_copy_reply(out, outsz, "ERR invalid address");
	}
	if (rc == 0) {
		memcpy(out, "OK\n", 4);
		return 3;
	}
	ctx->suppressed++;
	/* "SUPPRESSED <cause> <reason> <since>[ until=<t>][ entry=domain]\n", built by hand */
	{
		const char *cause = store_cause_name(v.cause), *reason = report_reason_name(v.reason);
		size_t cl = strlen(cause), rl = strlen(reason), o = 0;

		if (11 + cl + 1 + rl + 1 + 20 + 7 + 20 + 13 + 2 > outsz)
			return query_copy_reply(out, outsz, "ERR internal: reply too long");
		memcpy(out, "SUPPRESSED ", 11);
		o = 11;
		memcpy(out + o, cause, cl);
		o += cl;
		out[o++] = ' ';
		memcpy(out + o, reason, rl);
		o += rl;
		out[o++] = ' ';
		util_iso8601_format(v.since, since);
		o += g_strlcpy(out + o, since, 21);
		if (v.until != STORE_TTL_NEVER) {
			memcpy(out + o, " until=", 7);
			o += 7;
			util_iso8601_format(v.until, until);
			o += g_strlcpy(out + o, until, 21);
		}
		if (v.domain) {
			memcpy(out + o, " entry=domain", 13);
			o += 13;
		}
		out[o++] = '\n';
		out[o] = '\0';
		return o;
	}
}

int
query_engine(void *ctx, struct query_buf *b, time_t now)
{
	size_t pos = 0;

	while (b->out_len + QUERY_REPLY_MAX <= QUERY_OUT_SIZE) {
		char *nl = memchr(b->in + pos, '\n', b->in_len - pos);
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (b->in + pos));
		if (b->discard) {
			/* the end of a request too long to hold */
			b->discard = 0;
			b->out_len += query_copy_reply(b->out + b->out_len, QUERY_OUT_SIZE - b->out_len,
			    "ERR request too long");
		} else {
			size_t l = len;

			if (l > 0 && b->in[pos + l - 1] == '\r')
				l--;
			if (l > LIMIT_QUERY_LINE)
				b->out_len += query_copy_reply(b->out + b->out_len,
				    QUERY_OUT_SIZE - b->out_len, "ERR request too long");
			else
				b->out_len += query_answer(ctx, now, b->in + pos, l, b->out + b->out_len,
				    QUERY_OUT_SIZE - b->out_len);
		}
		pos += len + 1;
	}
	if (pos > 0) {
		memmove(b->in, b->in + pos, b->in_len - pos);
		b->in_len -= pos;
	}
	/* a full buffer with no line end: drop it and answer at the line end */
	if (b->in_len == QUERY_IN_SIZE && memchr(b->in, '\n', b->in_len) == NULL) {
		b->discard = 1;
		b->in_len = 0;
	}
	return 0;
}

/* ---- the server --------------------------------------------------------- */

struct query_server *
query_server_new(struct event_base *base, int fd, const char *name, unsigned max_conns,
    unsigned idle_timeout, query_engine_fn engine, void *ctx, const char *busy_reply)
{
	struct query_server *s = g_new0(struct query_server, 1);
	struct timeval tv = { (time_t)idle_timeout, 0 };

	s->base = base;
	g_strlcpy(s->name, name, sizeof(s->name));
	s->max_conns = max_conns;
	s->idle = event_base_init_common_timeout(base, &tv);
	s->engine = engine;
	s->ctx = ctx;
	s->busy_reply = g_strdup(busy_reply);
	g_queue_init(&s->conns);
	s->listener = sock_listener_new(base, fd, name, query_accept, s);
	if (s->listener == NULL) {
		close(fd);
		g_free(s->busy_reply);
		g_free(s);
		return NULL;
	}
	return s;
}

void
query_server_stop(struct query_server *s)
{
	sock_listener_free(s->listener);
	s->listener = NULL;
}

void
query_server_free(struct query_server *s)
{
	if (s == NULL)
		return;
	query_server_stop(s);
	while (s->conns.head != NULL)
		query_close(s->conns.head->data, "shutdown");
	g_free(s->busy_reply);
	g_free(s);
}

struct sock_listener *
query_server_listener(struct query_server *s)
{
	return s->listener;
}

unsigned
query_server_connections(const struct query_server *s)
{
	return s->conns.length;
}

static void
query_accept(int fd, void *arg)
{
	struct query_server *s = arg;
	struct query_conn *c;

	if (s->conns.length >= s->max_conns && s->conns.head != NULL) {
		struct query_conn *lru = s->conns.head->data;
		gint64 idle = g_get_monotonic_time() - lru->last;

		if (idle >= QUERY_EVICT_IDLE) {
			log_info("event=evicted socket=%s conn=%u idle_seconds=%.1f "
			    "reason=too_many_connections", s->name, lru->id, (double)idle / 1e6);
			query_close(lru, "evicted");
		}
	}
	if (s->conns.length >= s->max_conns) {
		ssize_t w = write(fd, s->busy_reply, strlen(s->busy_reply));

		(void)w;
		log_warnx("event=refused socket=%s reason=too_many_connections max=%u", s->name,
		    s->max_conns);
		close(fd);
		return;
	}
	c = g_malloc(sizeof(*c));
	c->srv = s;
	c->fd = fd;
	c->id = ++s->next_id;
	c->b.in_len = c->b.out_len = 0;
	c->b.discard = 0;
	c->b.skip = 0;
	memset(&c->b.preq, 0, sizeof(c->b.preq));
	c->eof = 0;
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, query_readable, c);
	c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, query_writable, c);
	c->last = g_get_monotonic_time();
	c->link.data = c;
	c->link.prev = c->link.next = NULL;
	g_queue_push_tail_link(&s->conns, &c->link);
	event_add(c->rev, s->idle);
	log_debug("event=connect socket=%s conn=%u", s->name, c->id);
}

static void
query_close(struct query_conn *c, const char *reason)
{
	struct query_server *s = c->srv;

	log_debug("event=disconnect socket=%s conn=%u reason=%s", s->name, c->id, reason);
	g_queue_unlink(&s->conns, &c->link);
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	g_free(c);
}

/* Writes what it can.  Returns 0, or -1 when the connection is gone. */
static int
query_flush(struct query_conn *c)
{
	while (c->b.out_len > 0) {
		ssize_t n = write(c->fd, c->b.out, c->b.out_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if ((size_t)n < c->b.out_len)
			memmove(c->b.out, c->b.out + n, c->b.out_len - (size_t)n);
		c->b.out_len -= (size_t)n;
	}
	if (c->b.out_len > 0) {
		/* a client that stops reading for idle_timeout is dropped */
		if (!event_pending(c->wev, EV_WRITE, NULL))
			event_add(c->wev, c->srv->idle);
	} else
		event_del(c->wev);
	return 0;
}

/*
 * Runs the engine and writes; stops reading while the replies back up.
 * After the client's EOF (a shell's `printf ... | socat`, which half-closes)
 * the requests already read are all answered before the connection closes:
 * the engine runs again while it consumes input and the replies go out.
 */
static void
query_pump(struct query_conn *c)
{
	struct query_server *s = c->srv;
	struct timeval now;
	size_t before;
	int rc;

	event_base_gettimeofday_cached(s->base, &now);
	do {
		before = c->b.in_len;
		rc = s->engine(s->ctx, &c->b, now.tv_sec);
		if (query_flush(c) < 0) {
			query_close(c, "write_error");
			return;
		}
		if (rc < 0) {
			/* protocol error: the replies go out best effort, then hang up */
			query_close(c, "protocol_error");
			return;
		}
		if (c->eof && c->b.out_len > 0)
			return;         /* query_writable comes back here */
	} while (c->eof && c->b.in_len != before);
	if (c->eof) {
		/* answered all; what is left is an unterminated line */
		query_close(c, "eof");
		return;
	}
	if (c->b.out_len + QUERY_REPLY_MAX > QUERY_OUT_SIZE || c->b.in_len == QUERY_IN_SIZE)
		event_del(c->rev);
	else if (!event_pending(c->rev, EV_READ, NULL))
		event_add(c->rev, s->idle);
}

static void
query_readable(evutil_socket_t fd, short what, void *arg)
{
	struct query_conn *c = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		query_close(c, "idle_timeout");
		return;
	}
	n = read(fd, c->b.in + c->b.in_len, QUERY_IN_SIZE - c->b.in_len);
	if (n == 0) {
		c->eof = 1;
		event_del(c->rev);
		query_pump(c);
		return;
	}
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		query_close(c, "read_error");
		return;
	}
	c->b.in_len += (size_t)n;
	/* most recently used: to the tail */
	c->last = g_get_monotonic_time();
	if (c->link.next != NULL) {
		g_queue_unlink(&c->srv->conns, &c->link);
		g_queue_push_tail_link(&c->srv->conns, &c->link);
	}
	query_pump(c);
}

static void
query_writable(evutil_socket_t fd, short what, void *arg)
{
	struct query_conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		query_close(c, "write_timeout");
		return;
	}
	event_del(c->wev); /* re-armed, with a fresh timeout, if still short */
	if (query_flush(c) < 0) {
		query_close(c, "write_error");
		return;
	}
	/* room again: answer what was held back, read again */
	if (c->b.out_len + QUERY_REPLY_MAX <= QUERY_OUT_SIZE)
		query_pump(c);
}
