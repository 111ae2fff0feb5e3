/* SPDX-License-Identifier: MIT */
/*
 * lmtp.c - the LMTP session engine (see lmtp.h): command lines are collected
 * up to max_line (the excess is dropped to the end of the line and answered
 * "500 5.5.2"), parsed and answered into the output buffer; DATA is read
 * through a small state machine that finds the final dot and removes dot
 * stuffing without holding more than two bytes back.
 *
 * Reply texts follow Postfix and RFC 3463 enhanced codes.  Every refusal
 * before DATA is a 4xx or a 5xx to a command, never to a delivered message:
 * after the final dot the only answers are 250 and 451 (lmtp_engine_complete).
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "bounds.h"
#include "lmtp.h"

/* Where the DATA reader is within a line. */
enum lmtp_dstate {
	LMTP_D_BOL,             /* at the beginning of a line */
	LMTP_D_MID,             /* inside a line */
	LMTP_D_DOT,             /* "." seen at the beginning of a line */
	LMTP_D_DOTCR,           /* ".\r" seen at the beginning of a line */
};

struct lmtp_engine {
	struct lmtp_limits lim;
	char *hostname;
	lmtp_txn_cb cb;
	void *ud;
	enum lmtp_state state;
	GString *out;

	/* the command line being collected */
	GString *line;
	int line_overflow;

	/* the transaction */
	struct lmtp_txn *txn;
	enum lmtp_dstate dstate;

	int shutting_down;
	unsigned bad;
	unsigned transactions;
};

static size_t lmtp_read_line(struct lmtp_engine *e, const char *buf, size_t len);
static size_t lmtp_read_data(struct lmtp_engine *e, const char *buf, size_t len);
static void lmtp_command(struct lmtp_engine *e, const char *line, size_t len);
static void lmtp_reply(struct lmtp_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void lmtp_bad(struct lmtp_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void lmtp_txn_reset(struct lmtp_engine *e);
static void lmtp_data_append(struct lmtp_engine *e, const char *p, size_t n);
static void lmtp_data_end(struct lmtp_engine *e);
static int lmtp_parse_path(const char *s, size_t len, const char *prefix, char **path_r,
    const char **params_r);
static int lmtp_param(struct lmtp_engine *e, const char *p, size_t len, int is_mail);

void
lmtp_limits_default(struct lmtp_limits *lim)
{
	lim->max_line = LIMIT_LMTP_LINE;
	lim->max_message = LIMIT_LMTP_MESSAGE;
	lim->keep_bytes = LIMIT_LMTP_KEEP;
	lim->max_rcpts = LIMIT_LMTP_RCPTS;
	lim->max_bad = LIMIT_LMTP_BADCMDS;
}

void
lmtp_txn_free(struct lmtp_txn *t)
{
	if (t == NULL)
		return;
	g_free(t->mail_from);
	if (t->rcpts != NULL)
		g_ptr_array_free(t->rcpts, TRUE);
	if (t->data != NULL)
		g_byte_array_free(t->data, TRUE);
	g_free(t);
}

struct lmtp_engine *
lmtp_engine_new(const struct lmtp_limits *lim, const char *hostname, lmtp_txn_cb cb, void *ud)
{
	struct lmtp_engine *e = g_new0(struct lmtp_engine, 1);

	e->lim = *lim;
	e->hostname = g_strdup(hostname);
	e->cb = cb;
	e->ud = ud;
	e->out = g_string_sized_new(512);
	e->line = g_string_sized_new(128);
	e->state = LMTP_STATE_GREETED;
	lmtp_reply(e, "220 %s LMTP bounced ready", e->hostname);
	return e;
}

void
lmtp_engine_free(struct lmtp_engine *e)
{
	if (e == NULL)
		return;
	lmtp_txn_free(e->txn);
	g_string_free(e->out, TRUE);
	g_string_free(e->line, TRUE);
	g_free(e->hostname);
	g_free(e);
}

GString *
lmtp_engine_output(struct lmtp_engine *e)
{
	return e->out;
}

enum lmtp_state
lmtp_engine_state(const struct lmtp_engine *e)
{
	return e->state;
}

void
lmtp_engine_stats(const struct lmtp_engine *e, struct lmtp_stats *st_r)
{
	st_r->transactions = e->transactions;
	st_r->bad_commands = e->bad;
}

static void
lmtp_reply(struct lmtp_engine *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_string_append_vprintf(e->out, fmt, ap);
	va_end(ap);
	g_string_append(e->out, "\r\n");
}

/* A refused command: counts towards max_bad; the last one closes the session. */
static void
lmtp_bad(struct lmtp_engine *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_string_append_vprintf(e->out, fmt, ap);
	va_end(ap);
	g_string_append(e->out, "\r\n");
	if (++e->bad >= e->lim.max_bad) {
		lmtp_reply(e, "421 4.7.0 %s Too many errors, closing", e->hostname);
		lmtp_txn_reset(e);
		e->state = LMTP_STATE_CLOSED;
	}
}

static void
lmtp_txn_reset(struct lmtp_engine *e)
{
	lmtp_txn_free(e->txn);
	e->txn = NULL;
	if (e->state == LMTP_STATE_MAIL || e->state == LMTP_STATE_DATA)
		e->state = LMTP_STATE_READY;
}

size_t
lmtp_engine_feed(struct lmtp_engine *e, const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		switch (e->state) {
		case LMTP_STATE_CLOSED:
			return len; /* after QUIT or 421: ignored */
		case LMTP_STATE_WAIT:
			return i;
		case LMTP_STATE_DATA:
			i += lmtp_read_data(e, buf + i, len - i);
			break;
		default:
			i += lmtp_read_line(e, buf + i, len - i);
			break;
		}
	}
	return i;
}

/* Collects one command line; runs it when its LF arrives.  Returns bytes used. */
static size_t
lmtp_read_line(struct lmtp_engine *e, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl != NULL ? (size_t)(nl - buf) : len;

	if (!e->line_overflow) {
		/* +1: room for the CR that precedes the LF */
		if (e->line->len + n > e->lim.max_line + 1) {
			e->line_overflow = 1;
			g_string_truncate(e->line, 0);
		} else {
			g_string_append_len(e->line, buf, (gssize)n);
		}
	}
	if (nl == NULL)
		return len;
	if (e->line_overflow) {
		e->line_overflow = 0;
		lmtp_bad(e, "500 5.5.2 Line too long");
	} else {
		size_t l = e->line->len;

		if (l > 0 && e->line->str[l - 1] == '\r')
			l--;
		if (l > e->lim.max_line)
			lmtp_bad(e, "500 5.5.2 Line too long");
		else
			lmtp_command(e, e->line->str, l);
	}
	g_string_truncate(e->line, 0);
	return n + 1;
}

/* Case-insensitive "does the command start with word (then space or end)". */
static int
lmtp_verb(const char *line, size_t len, const char *word, const char **rest_r)
{
	size_t wl = strlen(word);

	if (len < wl || g_ascii_strncasecmp(line, word, wl) != 0)
		return 0;
	if (len > wl && line[wl] != ' ')
		return 0;
	*rest_r = line + wl;
	return 1;
}

/*
 * Parses "FROM:<path> params" (prefix "FROM:") or "TO:<path> params".
 * Accepts a space after the colon and a path without <> (RFC 5321 wants
 * them; old clients omit them).  Quoted local parts may hold '>' and spaces.
 * Returns 1 with *path_r (caller frees) and *params_r (after the path,
 * spaces skipped), 0 on a syntax error.
 */
static int
lmtp_parse_path(const char *s, size_t len, const char *prefix, char **path_r,
    const char **params_r)
{
	size_t pl = strlen(prefix), i, start, end;

	while (len > 0 && *s == ' ') {
		s++;
		len--;
	}
	if (len < pl || g_ascii_strncasecmp(s, prefix, pl) != 0)
		return 0;
	i = pl;
	while (i < len && s[i] == ' ')
		i++;
	if (i < len && s[i] == '<') {
		int quoted = 0;

		start = ++i;
		for (; i < len; i++) {
			if (quoted && s[i] == '\\' && i + 1 < len) {
				i++;
				continue;
			}
			if (s[i] == '"')
				quoted = !quoted;
			else if (s[i] == '>' && !quoted)
				break;
		}
		if (i == len)
			return 0;
		end = i++;
	} else {
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		end = i;
		if (end == start)
			return 0;
	}
	/*
	 * No path limit below the line's (max_line): the envelope is Postfix's,
	 * and a VERP address grows with the recipient it encodes; a RCPT refused
	 * with 5xx would lose the bounce.  Whether the decoded address fits the
	 * store is decided later (verp.c, store_addr_normalize).
	 */
	if (i < len && s[i] != ' ')
		return 0;
	for (size_t j = start; j < end; j++)
		if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
			return 0;
	while (i < len && s[i] == ' ')
		i++;
	*path_r = g_strndup(s + start, end - start);
	*params_r = s + i;
	return 1;
}

/*
 * One ESMTP parameter of MAIL or RCPT.  Returns 1 when accepted, 0 when
 * refused (the reply has been written).
 */
static int
lmtp_param(struct lmtp_engine *e, const char *p, size_t len, int is_mail)
{
	const char *eq = memchr(p, '=', len);
	size_t kl = eq != NULL ? (size_t)(eq - p) : len;
	const char *v = eq != NULL ? eq + 1 : NULL;
	size_t vl = eq != NULL ? len - kl - 1 : 0;

	if (is_mail && kl == 4 && g_ascii_strncasecmp(p, "BODY", 4) == 0 && v != NULL) {
		if ((vl == 4 && g_ascii_strncasecmp(v, "7BIT", 4) == 0) ||
		    (vl == 8 && g_ascii_strncasecmp(v, "8BITMIME", 8) == 0))
			return 1;
		lmtp_bad(e, "501 5.5.4 Unsupported BODY type");
		return 0;
	}
	if (is_mail && kl == 4 && g_ascii_strncasecmp(p, "SIZE", 4) == 0 && v != NULL) {
		size_t n = 0;

		if (vl == 0 || vl > 18) {
			lmtp_bad(e, "501 5.5.4 Bad SIZE value");
			return 0;
		}
		for (size_t i = 0; i < vl; i++) {
			if (!g_ascii_isdigit(v[i])) {
				lmtp_bad(e, "501 5.5.4 Bad SIZE value");
				return 0;
			}
			n = n * 10 + (size_t)(v[i] - '0');
		}
		/*
		 * Larger than we advertise: accepted anyway.  A 552 here would make
		 * Postfix drop the bounce; the message is read and kept truncated.
		 */
		e->txn->declared_size = n;
		if (n > e->lim.max_message)
			e->txn->over_size = 1;
		return 1;
	}
	if (is_mail && kl == 8 && g_ascii_strncasecmp(p, "SMTPUTF8", 8) == 0 && v == NULL)
		return 1;
	lmtp_bad(e, "555 5.5.4 Unsupported option: %.*s", (int)MIN(kl, 64), p);
	return 0;
}

/* Checks every parameter; 1 all accepted, 0 one refused (replied). */
static int
lmtp_params(struct lmtp_engine *e, const char *params, size_t len, int is_mail)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;

		while (j < len && params[j] != ' ')
			j++;
		if (j > i && !lmtp_param(e, params + i, j - i, is_mail))
			return 0;
		i = j + 1;
	}
	return 1;
}

static void
lmtp_command(struct lmtp_engine *e, const char *line, size_t len)
{
	const char *rest;
	size_t rlen;

	if (memchr(line, '\0', len) != NULL) {
		lmtp_bad(e, "500 5.5.2 Invalid command (NUL byte)");
		return;
	}
	if (lmtp_verb(line, len, "LHLO", &rest)) {
		rlen = len - (size_t)(rest - line);
		while (rlen > 0 && *rest == ' ') {
			rest++;
			rlen--;
		}
		if (rlen == 0) {
			lmtp_bad(e, "501 5.5.4 Syntax: LHLO hostname");
			return;
		}
		lmtp_txn_reset(e);
		e->state = LMTP_STATE_READY;
		lmtp_reply(e, "250-%s", e->hostname);
		lmtp_reply(e, "250-PIPELINING");
		lmtp_reply(e, "250-SIZE %zu", e->lim.max_message);
		lmtp_reply(e, "250-ENHANCEDSTATUSCODES");
		lmtp_reply(e, "250-8BITMIME");
		lmtp_reply(e, "250 SMTPUTF8");
		return;
	}
	if (lmtp_verb(line, len, "MAIL", &rest)) {
		char *path;
		const char *params;

		if (e->state == LMTP_STATE_GREETED) {
			lmtp_bad(e, "503 5.5.1 Error: send LHLO first");
			return;
		}
		if (e->state == LMTP_STATE_MAIL) {
			lmtp_bad(e, "503 5.5.1 Error: nested MAIL command");
			return;
		}
		if (!lmtp_parse_path(rest, len - (size_t)(rest - line), "FROM:", &path, &params)) {
			lmtp_bad(e, "501 5.5.4 Syntax: MAIL FROM:<address>");
			return;
		}
		e->txn = g_new0(struct lmtp_txn, 1);
		e->txn->mail_from = path;
		e->txn->rcpts = g_ptr_array_new_with_free_func(g_free);
		e->txn->data = g_byte_array_new();
		if (!lmtp_params(e, params, len - (size_t)(params - line), 1)) {
			lmtp_txn_free(e->txn);
			e->txn = NULL;
			return;
		}
		e->state = LMTP_STATE_MAIL;
		lmtp_reply(e, "250 2.1.0 Ok");
		return;
	}
	if (lmtp_verb(line, len, "RCPT", &rest)) {
		char *path;
		const char *params;

		if (e->state != LMTP_STATE_MAIL) {
			lmtp_bad(e, "503 5.5.1 Error: need MAIL command");
			return;
		}
		if (!lmtp_parse_path(rest, len - (size_t)(rest - line), "TO:", &path, &params)) {
			lmtp_bad(e, "501 5.5.4 Syntax: RCPT TO:<address>");
			return;
		}
		if (*path == '\0') {
			g_free(path);
			lmtp_bad(e, "501 5.1.3 Bad recipient address syntax");
			return;
		}
		if (!lmtp_params(e, params, len - (size_t)(params - line), 0)) {
			g_free(path);
			return;
		}
		if (e->txn->rcpts->len >= e->lim.max_rcpts) {
			/* not a bad command: RFC 5321 4.5.3.1.10, the client retries later */
			g_free(path);
			lmtp_reply(e, "452 4.5.3 Error: too many recipients");
			return;
		}
		g_ptr_array_add(e->txn->rcpts, path);
		lmtp_reply(e, "250 2.1.5 Ok");
		return;
	}
	if (lmtp_verb(line, len, "DATA", &rest)) {
		if (rest != line + len) {
			lmtp_bad(e, "501 5.5.4 Syntax: DATA");
			return;
		}
		if (e->state != LMTP_STATE_MAIL) {
			lmtp_bad(e, "503 5.5.1 Error: need MAIL command");
			return;
		}
		if (e->txn->rcpts->len == 0) {
			lmtp_bad(e, "503 5.5.1 Error: need RCPT command");
			return;
		}
		e->state = LMTP_STATE_DATA;
		e->dstate = LMTP_D_BOL;
		lmtp_reply(e, "354 End data with <CR><LF>.<CR><LF>");
		return;
	}
	if (lmtp_verb(line, len, "RSET", &rest)) {
		lmtp_txn_reset(e);
		lmtp_reply(e, "250 2.0.0 Ok");
		return;
	}
	if (lmtp_verb(line, len, "NOOP", &rest)) {
		lmtp_reply(e, "250 2.0.0 Ok");
		return;
	}
	if (lmtp_verb(line, len, "QUIT", &rest)) {
		lmtp_reply(e, "221 2.0.0 Bye");
		lmtp_txn_reset(e);
		e->state = LMTP_STATE_CLOSED;
		return;
	}
	if (lmtp_verb(line, len, "VRFY", &rest)) {
		lmtp_reply(e, "252 2.5.2 Cannot VRFY user");
		return;
	}
	if (lmtp_verb(line, len, "HELP", &rest)) {
		lmtp_reply(e, "214 2.0.0 LHLO MAIL RCPT DATA RSET NOOP QUIT");
		return;
	}
	if (lmtp_verb(line, len, "HELO", &rest) || lmtp_verb(line, len, "EHLO", &rest)) {
		lmtp_bad(e, "500 5.5.1 Error: this is LMTP, send LHLO");
		return;
	}
	lmtp_bad(e, "500 5.5.2 Error: command not recognized");
}

static void
lmtp_data_append(struct lmtp_engine *e, const char *p, size_t n)
{
	struct lmtp_txn *t = e->txn;
	size_t room = t->data->len < e->lim.keep_bytes ? e->lim.keep_bytes - t->data->len : 0;

	if (n > room)
		t->truncated = 1;
	if (room > 0)
		g_byte_array_append(t->data, (const guint8 *)p, (guint)MIN(n, room));
	t->size += n;
	if (t->size > e->lim.max_message)
		t->over_size = 1;
}

/* Reads message bytes up to and including the final dot.  Returns bytes used. */
static size_t
lmtp_read_data(struct lmtp_engine *e, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		switch (e->dstate) {
		case LMTP_D_MID: {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

			lmtp_data_append(e, p, n);
			p += n;
			if (nl != NULL)
				e->dstate = LMTP_D_BOL;
			break;
		}
		case LMTP_D_BOL:
			if (*p == '.') {
				e->dstate = LMTP_D_DOT;
				p++;
			} else {
				e->dstate = LMTP_D_MID;
			}
			break;
		case LMTP_D_DOT:
			if (*p == '\n') {
				lmtp_data_end(e);
				return (size_t)(p + 1 - buf);
			}
			if (*p == '\r') {
				e->dstate = LMTP_D_DOTCR;
				p++;
			} else {
				e->dstate = LMTP_D_MID; /* dot stuffing: the dot is dropped */
			}
			break;
		case LMTP_D_DOTCR:
			if (*p == '\n') {
				lmtp_data_end(e);
				return (size_t)(p + 1 - buf);
			}
			lmtp_data_append(e, "\r", 1); /* ".\rx": keep the CR, drop the dot */
			e->dstate = LMTP_D_MID;
			break;
		}
	}
	return len;
}

static void
lmtp_data_end(struct lmtp_engine *e)
{
	struct lmtp_txn *t = e->txn;

	e->txn = NULL;
	e->state = LMTP_STATE_WAIT;
	e->transactions++;
	/* keep the recipients to answer each of them */
	e->txn = g_new0(struct lmtp_txn, 1);
	e->txn->rcpts = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < t->rcpts->len; i++)
		g_ptr_array_add(e->txn->rcpts, g_strdup(g_ptr_array_index(t->rcpts, i)));
	e->cb(e->ud, t);
}

void
lmtp_engine_complete(struct lmtp_engine *e, int ok, const char *text)
{
	if (e->state != LMTP_STATE_WAIT)
		return;
	for (guint i = 0; i < e->txn->rcpts->len; i++) {
		const char *r = g_ptr_array_index(e->txn->rcpts, i);

		if (ok)
			lmtp_reply(e, "250 2.0.0 <%s> %s", r, text);
		else
			lmtp_reply(e, "451 4.3.0 <%s> %s", r, text);
	}
	lmtp_txn_free(e->txn);
	e->txn = NULL;
	e->state = LMTP_STATE_READY;
	if (e->shutting_down) {
		lmtp_reply(e, "421 4.3.2 %s Service shutting down, closing", e->hostname);
		e->state = LMTP_STATE_CLOSED;
	}
}

void
lmtp_engine_timeout(struct lmtp_engine *e)
{
	/* while we commit, the silence is ours, not the client's */
	if (e->state == LMTP_STATE_CLOSED || e->state == LMTP_STATE_WAIT)
		return;
	lmtp_reply(e, "421 4.4.2 %s Error: timeout exceeded", e->hostname);
	lmtp_txn_reset(e);
	e->state = LMTP_STATE_CLOSED;
}

int
lmtp_engine_evict(struct lmtp_engine *e)
{
	if (e->state != LMTP_STATE_GREETED && e->state != LMTP_STATE_READY)
		return 0;
	lmtp_reply(e, "421 4.4.2 %s Idle connection closed: all sessions are in use", e->hostname);
	e->state = LMTP_STATE_CLOSED;
	return 1;
}

int
lmtp_engine_shutdown(struct lmtp_engine *e)
{
	switch (e->state) {
	case LMTP_STATE_CLOSED:
		return 1;
	case LMTP_STATE_DATA:
	case LMTP_STATE_WAIT:
		e->shutting_down = 1;
		return 0;
	default:
		lmtp_reply(e, "421 4.3.2 %s Service shutting down, closing", e->hostname);
		lmtp_txn_reset(e);
		e->state = LMTP_STATE_CLOSED;
		return 1;
	}
}
