/* SPDX-License-Identifier: MIT */
/*
 * postfix-log.c - Postfix log lines -> struct report_log_entry, and a
 * delivery line -> a classified struct report_rcpt (see postfix-log.h).
 *
 * Formats (Postfix 3.x, postconf(5) and the smtp(8)/qmgr(8)/cleanup(8) logs):
 *   QID: to=<rcpt>, [orig_to=<o>, ]relay=host[ip]:port, [conn_use=n, ]
 *        delay=d, delays=a/b/c/d, dsn=X.Y.Z, status=WORD (text)
 *   QID: message-id=<id>
 *   QID: from=<sender>, size=n, nrcpt=n (queue active)
 * The text of a failure is "host NAME[ADDR] said: REPLY (in reply to CMD
 * command)", "host NAME[ADDR] refused to talk to me: REPLY", or Postfix's
 * own words ("connect to ...: Connection refused").
 */
#include <string.h>
#include <time.h>
#include <glib.h>

#include "classify.h"
#include "postfix-log.h"

struct cursor {
	const char *p, *end;
};

static int parse_prefix(struct cursor *c, int64_t now, struct report_log_entry *e);
static int parse_bsd_time(struct cursor *c, int64_t now, struct report_log_entry *e);
static int parse_rfc3339_time(struct cursor *c, struct report_log_entry *e);
static int parse_body(struct cursor *c, struct report_log_entry *e);
static int parse_delivery(struct cursor *c, struct report_log_entry *e);
static int take_value(struct cursor *c, char *out, size_t size);
static int copy_bounded(char *out, size_t size, const char *s, size_t n);
static int skip_word(struct cursor *c);

static const char *const status_names[] = { "", "sent", "deferred", "bounced", "expired" };

const char *
report_log_status_name(enum report_log_status s)
{
	return (unsigned)s < G_N_ELEMENTS(status_names) ? status_names[s] : "?";
}

/* Copies n bytes (cut to size - 1); 1 when it fit, 0 when cut.  No NUL or control bytes kept. */
static int
copy_bounded(char *out, size_t size, const char *s, size_t n)
{
	size_t k = n < size - 1 ? n : size - 1;

	for (size_t i = 0; i < k; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[k] = '\0';
	return k == n;
}

static int
skip_word(struct cursor *c)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p != ' ')
		c->p++;
	if (c->p == s || c->p == c->end)
		return -1;
	while (c->p < c->end && *c->p == ' ')
		c->p++;
	return 0;
}

static int
digits(const char *s, const char *end, int n, int *v_r)
{
	int v = 0;

	if (end - s < n)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!g_ascii_isdigit(s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return 1;
}

/*
 * Local time -> unix time without GDateTime (which costs ~80 us a line):
 * timegm() of the fields, then the zone's offset at that instant (twice,
 * for the hour a DST change moves).
 */
static int64_t
local_to_unix(struct tm *tm)
{
	time_t guess = timegm(tm), at;
	struct tm lt;

	if (localtime_r(&guess, &lt) == NULL)
		return (int64_t)guess;
	at = guess - lt.tm_gmtoff;
	if (localtime_r(&at, &lt) != NULL)
		at = guess - lt.tm_gmtoff;
	return (int64_t)at;
}

/* "Dec  5 10:02:03[.123456] ": local time, the year that puts it at most a day after now. */
static int
parse_bsd_time(struct cursor *c, int64_t now, struct report_log_entry *e)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *s = c->p, *t;
	int mon = 0, day, hh, mm, ss, nd;
	time_t nowt = (time_t)now;
	struct tm tm, nowtm;

	if (c->end - s < 15)
		return -1;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(s, months + 3 * mon, 3) == 0)
			break;
	if (mon == 12 || s[3] != ' ')
		return -1;
	t = s + 4;
	if (*t == ' ')
		t++;
	nd = t + 1 < c->end && g_ascii_isdigit(t[1]) ? 2 : 1;
	if (!digits(t, c->end, nd, &day) || day < 1 || day > 31)
		return -1;
	t += nd;
	if (t + 9 > c->end || *t != ' ' || !digits(t + 1, c->end, 2, &hh) || t[3] != ':' ||
	    !digits(t + 4, c->end, 2, &mm) || t[6] != ':' || !digits(t + 7, c->end, 2, &ss) ||
	    hh > 23 || mm > 59 || ss > 60)
		return -1;
	t += 9;
	if (t < c->end && *t == '.')
		for (t++; t < c->end && g_ascii_isdigit(*t); t++)
			;
	if (t >= c->end || *t != ' ')
		return -1;
	copy_bounded(e->stamp, sizeof(e->stamp), s, (size_t)(t - s));
	c->p = t + 1;
	if (localtime_r(&nowt, &nowtm) == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = nowtm.tm_year;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	e->at = local_to_unix(&tm);
	if (e->at > now + 86400) {
		tm.tm_year--;
		e->at = local_to_unix(&tm);
	}
	return 0;
}

/* "2026-12-05T10:02:03[.frac](Z|+01:00) " */
static int
parse_rfc3339_time(struct cursor *c, struct report_log_entry *e)
{
	const char *s = c->p, *t, *sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
	int y, mo, d, hh, mm, ss, oh = 0, om = 0, sign = 0;
	struct tm tm;

	if (sp == NULL || (size_t)(sp - s) >= sizeof(e->stamp) || sp - s < 20 ||
	    !digits(s, sp, 4, &y) || s[4] != '-' || !digits(s + 5, sp, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, sp, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
	    !digits(s + 11, sp, 2, &hh) || s[13] != ':' || !digits(s + 14, sp, 2, &mm) ||
	    s[16] != ':' || !digits(s + 17, sp, 2, &ss) || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    hh > 23 || mm > 59 || ss > 60)
		return -1;
	t = s + 19;
	if (t < sp && *t == '.')
		for (t++; t < sp && g_ascii_isdigit(*t); t++)
			;
	if (t < sp && (*t == 'Z' || *t == 'z')) {
		t++;
	} else if (t < sp && (*t == '+' || *t == '-')) {
		sign = *t == '-' ? -1 : 1;
		if (sp - t != 6 || !digits(t + 1, sp, 2, &oh) || t[3] != ':' ||
		    !digits(t + 4, sp, 2, &om))
			return -1;
		t += 6;
	} else {
		return -1;
	}
	if (t != sp)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	e->at = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	copy_bounded(e->stamp, sizeof(e->stamp), s, (size_t)(sp - s));
	c->p = sp + 1;
	return 0;
}

/* TIME HOST IDENT[PID]: */
static int
parse_prefix(struct cursor *c, int64_t now, struct report_log_entry *e)
{
	const char *id, *ide;
	int time_ok;

	if (c->end - c->p >= 4 && g_ascii_isdigit(c->p[0]) && g_ascii_isdigit(c->p[3]))
		time_ok = parse_rfc3339_time(c, e);
	else
		time_ok = parse_bsd_time(c, now, e);
	if (time_ok < 0 || skip_word(c) < 0)   /* the host */
		return -1;
	id = c->p;
	while (c->p < c->end && *c->p != '[' && *c->p != ':' && *c->p != ' ')
		c->p++;
	ide = c->p;
	if (ide == id || (size_t)(ide - id) > REPORT_LOG_IDENT_MAX)
		return -1;
	if (c->p < c->end && *c->p == '[') {
		c->p++;
		while (c->p < c->end && g_ascii_isdigit(*c->p))
			c->p++;
		if (c->p >= c->end || *c->p != ']')
			return -1;
		c->p++;
	}
	if (c->end - c->p < 2 || c->p[0] != ':' || c->p[1] != ' ')
		return -1;
	c->p += 2;
	copy_bounded(e->ident, sizeof(e->ident), id, (size_t)(ide - id));
	return 0;
}

/*
 * One field value at c->p: "<...>" up to the '>' that ends the field (the
 * next byte is ',' or the end), or a plain value up to ", ".  Leaves c->p
 * after the value.  1 fit, 0 cut, -1 malformed.
 */
static int
take_value(struct cursor *c, char *out, size_t size)
{
	const char *s = c->p, *v = c->p;

	if (c->p < c->end && *c->p == '<') {
		const char *q = c->p + 1;

		for (;;) {
			q = memchr(q, '>', (size_t)(c->end - q));
			if (q == NULL)
				return -1;
			if (q + 1 == c->end || q[1] == ',')
				break;
			q++;
		}
		c->p = q + 1;
		return copy_bounded(out, size, s + 1, (size_t)(q - s - 1));
	}
	while (c->p < c->end && !(*c->p == ',' && c->p + 1 < c->end && c->p[1] == ' '))
		c->p++;
	return copy_bounded(out, size, v, (size_t)(c->p - v));
}

static int
key_is(const struct cursor *c, const char *key)
{
	size_t n = strlen(key);

	return (size_t)(c->end - c->p) > n && memcmp(c->p, key, n) == 0 && c->p[n] == '=';
}

/* After "QID: to=" ... up to the status and its text. */
static int
parse_delivery(struct cursor *c, struct report_log_entry *e)
{
	char dsn[16];

	c->p += 3;
	if (c->p >= c->end || *c->p != '<' || take_value(c, e->rcpt, sizeof(e->rcpt)) < 1)
		return -1;
	dsn[0] = '\0';
	while (c->p < c->end) {
		const char *k;
		char skip[REPORT_LOG_FIELD_MAX + 1];

		if (c->end - c->p < 2 || c->p[0] != ',' || c->p[1] != ' ')
			return -1;
		c->p += 2;
		if (key_is(c, "status")) {
			const char *w;

			c->p += 7;
			w = c->p;
			while (c->p < c->end && g_ascii_isalpha(*c->p))
				c->p++;
			for (unsigned i = 1; i < G_N_ELEMENTS(status_names); i++)
				if ((size_t)(c->p - w) == strlen(status_names[i]) &&
				    memcmp(w, status_names[i], (size_t)(c->p - w)) == 0)
					e->status = (enum report_log_status)i;
			if (e->status == REPORT_LOG_STATUS_NONE)
				return -1;
			break;
		}
		k = c->p;
		while (c->p < c->end && *c->p != '=' && *c->p != ',' && *c->p != ' ')
			c->p++;
		if (c->p >= c->end || *c->p != '=' || c->p == k)
			return -1;
		c->p++;
		if (c->p - k == 8 && memcmp(k, "orig_to=", 8) == 0) {
			if (take_value(c, e->orig_to, sizeof(e->orig_to)) < 1)
				return -1;
		} else if (c->p - k == 6 && memcmp(k, "relay=", 6) == 0) {
			if (take_value(c, e->relay, sizeof(e->relay)) < 0)
				return -1;
		} else if (c->p - k == 4 && memcmp(k, "dsn=", 4) == 0) {
			if (take_value(c, dsn, sizeof(dsn)) < 1)
				return -1;
		} else if (c->p - k == 6 && memcmp(k, "delay=", 6) == 0) {
			/* kept only as the dedupe key's tiebreak: a long value is cut, not refused */
			if (take_value(c, skip, sizeof(skip)) < 0)
				return -1;
			g_strlcpy(e->delay, skip, sizeof(e->delay));
		} else if (take_value(c, skip, sizeof(skip)) < 0) {
			return -1;
		}
	}
	if (e->status == REPORT_LOG_STATUS_NONE)
		return -1;
	if (dsn[0] != '\0') {
		if (!report_status_valid(dsn))
			return -1;
		g_strlcpy(e->dsn, dsn, sizeof(e->dsn));
	}
	/* " (text)": everything up to the last byte, which closes it unless the line was cut */
	if (c->end - c->p >= 2 && c->p[0] == ' ' && c->p[1] == '(') {
		const char *t = c->p + 2, *te = c->end;

		if (te > t && te[-1] == ')')
			te--;
		else
			e->text_cut = 1;
		if (!copy_bounded(e->text, sizeof(e->text), t, (size_t)(te - t)))
			e->text_cut = 1;
	} else if (c->p != c->end && c->p[0] != ',') {
		return -1;
	}
	e->kind = REPORT_LOG_DELIVERY;
	return 1;
}

/* "QID: ..." after the prefix; e->ident set. */
static int
parse_body(struct cursor *c, struct report_log_entry *e)
{
	const char *q = c->p, *slash = strrchr(e->ident, '/');
	int svc;

	e->service = slash != NULL ? slash + 1 : e->ident;
	if (strcmp(e->service, "smtp") == 0 || strcmp(e->service, "lmtp") == 0)
		svc = REPORT_LOG_DELIVERY;
	else if (strcmp(e->service, "cleanup") == 0)
		svc = REPORT_LOG_MESSAGE_ID;
	else if (strcmp(e->service, "qmgr") == 0)
		svc = REPORT_LOG_FROM;
	else
		return 0;
	while (c->p < c->end && g_ascii_isalnum(*c->p))
		c->p++;
	if (c->p == q || c->end - c->p < 2 || c->p[0] != ':' || c->p[1] != ' ')
		return 0;      /* no queue ID: "connect to ...", warnings */
	if (c->p - q > REPORT_LOG_QID_MAX)
		return -1;
	copy_bounded(e->queue_id, sizeof(e->queue_id), q, (size_t)(c->p - q));
	c->p += 2;
	if (svc == REPORT_LOG_DELIVERY) {
		if (!key_is(c, "to"))
			return 0;  /* "host ... said:" notes, "lost connection", "conversation..." */
		return parse_delivery(c, e);
	}
	if (svc == REPORT_LOG_MESSAGE_ID) {
		if (!key_is(c, "message-id"))
			return 0;
		c->p += 11;
		if (c->p < c->end && *c->p == '<') {
			const char *gt = memchr(c->p, '>', (size_t)(c->end - c->p));

			if (gt == NULL)
				return -1;
			copy_bounded(e->message_id, sizeof(e->message_id), c->p + 1,
			    (size_t)(gt - c->p - 1));
		} else {
			copy_bounded(e->message_id, sizeof(e->message_id), c->p,
			    (size_t)(c->end - c->p));
		}
		if (e->message_id[0] == '\0')
			return 0;
		e->kind = REPORT_LOG_MESSAGE_ID;
		return 1;
	}
	if (!key_is(c, "from"))
		return 0;
	c->p += 5;
	if (c->p >= c->end || *c->p != '<' || take_value(c, e->sender, sizeof(e->sender)) < 1)
		return -1;
	e->kind = REPORT_LOG_FROM;
	return 1;
}

static void
entry_init(struct report_log_entry *e)
{
	e->kind = REPORT_LOG_OTHER;
	e->at = 0;
	e->stamp[0] = e->ident[0] = e->queue_id[0] = e->rcpt[0] = e->orig_to[0] = '\0';
	e->relay[0] = e->dsn[0] = e->text[0] = e->message_id[0] = e->sender[0] = '\0';
	e->service = e->ident;
	e->status = REPORT_LOG_STATUS_NONE;
	e->text_cut = 0;
}

int
report_log_parse(const char *line, size_t len, int64_t now, struct report_log_entry *e)
{
	struct cursor c;
	int rc;

	entry_init(e);
	c.p = line;
	c.end = line + (len < REPORT_LOG_LINE_MAX ? len : REPORT_LOG_LINE_MAX);
	while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
		c.end--;
	if (parse_prefix(&c, now, e) < 0)
		return 0;      /* not a syslog line: not ours */
	rc = parse_body(&c, e);
	if (rc == 1 && len > REPORT_LOG_LINE_MAX)
		e->text_cut = 1;
	if (rc != 1)
		e->kind = REPORT_LOG_OTHER;
	return rc;
}

int
report_log_parse_message(const char *ident, size_t ident_len, const char *msg, size_t len,
    int64_t at, struct report_log_entry *e)
{
	struct cursor c;
	int rc;

	entry_init(e);
	if (ident_len == 0 || ident_len > REPORT_LOG_IDENT_MAX)
		return 0;
	copy_bounded(e->ident, sizeof(e->ident), ident, ident_len);
	e->at = at;
	g_snprintf(e->stamp, sizeof(e->stamp), "%" G_GINT64_FORMAT, at);
	c.p = msg;
	c.end = msg + (len < REPORT_LOG_LINE_MAX ? len : REPORT_LOG_LINE_MAX);
	while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
		c.end--;
	rc = parse_body(&c, e);
	if (rc != 1)
		e->kind = REPORT_LOG_OTHER;
	return rc;
}

/* "RCPT TO" -> "RCPT"...; NULL when not an SMTP stage. */
static const char *
stage_name(const char *s, size_t n)
{
	static const struct { const char *text, *cmd; } stages[] = {
		{ "RCPT TO", "RCPT" }, { "MAIL FROM", "MAIL" }, { "end of DATA", "DATA" },
		{ "DATA", "DATA" }, { "EHLO", "HELO" }, { "HELO", "HELO" }, { "LHLO", "HELO" },
		{ "initial greeting", "CONN" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(stages); i++)
		if (strlen(stages[i].text) == n && memcmp(s, stages[i].text, n) == 0)
			return stages[i].cmd;
	return NULL;
}

/*
 * "NAME[ADDR]" -> "NAME": the host as Postfix's DSN names it in Remote-MTA
 * (so the providers' rows, which look at it, see the same in both).
 */
static char *
remote_name(const char *s, const char *end)
{
	const char *b = memchr(s, '[', (size_t)(end - s));

	return g_strndup(s, (gsize)((b != NULL && b > s ? b : end) - s));
}

struct report_rcpt *
report_log_rcpt(const struct report_log_entry *e)
{
	static const char said[] = " said: ", refused[] = " refused to talk to me: ";
	static const char reply_to[] = " (in reply to ", command[] = " command)";
	struct report r;
	struct report_rcpt *rc;
	const char *addr, *text = e->text, *reply = NULL, *cmd = NULL, *hs;
	size_t rlen = 0;

	if (e->kind != REPORT_LOG_DELIVERY)
		return NULL;
	addr = e->orig_to[0] != '\0' ? e->orig_to : e->rcpt;
	if (addr[0] == '\0')
		return NULL;
	rc = report_rcpt_new(addr);
	if (e->orig_to[0] != '\0' && strcmp(e->orig_to, e->rcpt) != 0)
		rc->final_recipient = g_strdup(e->rcpt);
	g_strlcpy(rc->status, e->dsn, sizeof(rc->status));
	rc->action = g_strdup(e->status == REPORT_LOG_STATUS_SENT ? "delivered" :
	    e->status == REPORT_LOG_STATUS_DEFERRED ? "delayed" : "failed");

	/* "host NAME[ADDR] said: REPLY (in reply to CMD command)": Postfix's frame, the reply inside */
	if (strncmp(text, "host ", 5) == 0 && (hs = strstr(text + 5, said)) != NULL) {
		rc->remote_mta = remote_name(text + 5, hs);
		reply = hs + sizeof(said) - 1;
		rlen = strlen(reply);
		/* Postfix appends the stage last: only a suffix counts */
		if (rlen > sizeof(command) - 1 && !e->text_cut &&
		    strcmp(reply + rlen - (sizeof(command) - 1), command) == 0) {
			const char *end = reply + rlen - (sizeof(command) - 1);
			const char *open = g_strrstr_len(reply, end - reply, reply_to);

			if (open != NULL) {
				const char *st = open + sizeof(reply_to) - 1;

				cmd = stage_name(st, (size_t)(end - st));
				if (cmd != NULL)
					rlen = (size_t)(open - reply);
			}
		}
	} else if (strncmp(text, "host ", 5) == 0 && (hs = strstr(text + 5, refused)) != NULL) {
		rc->remote_mta = remote_name(text + 5, hs);
		reply = hs + sizeof(refused) - 1;
		rlen = strlen(reply);
		cmd = "CONN";
	}
	if (reply != NULL) {
		rc->diagnostic = g_strndup(reply, rlen);
		rc->diagnostic_type = g_strdup("smtp");
		if (rlen >= 3 && reply[0] >= '2' && reply[0] <= '5' && g_ascii_isdigit(reply[1]) &&
		    g_ascii_isdigit(reply[2]) && (rlen == 3 || reply[3] == ' ' || reply[3] == '-'))
			memcpy(rc->replycode, reply, 3), rc->replycode[3] = '\0';
	} else if (text[0] != '\0') {
		rc->diagnostic = g_strdup(text);
		rc->diagnostic_type = g_strdup(e->status == REPORT_LOG_STATUS_SENT ? "smtp" :
		    "x-postfix");
	}
	if (cmd != NULL)
		rc->smtp_command = g_strdup(cmd);
	/*
	 * The verdict of the DSN Postfix writes for this recipient: its
	 * decoder and MTA, so rows tied to Postfix's own phrases apply alike.
	 */
	memset(&r, 0, sizeof(r));
	r.decoder = REPORT_DECODER_RFC3464;
	r.mta = "postfix";
	classify_rcpt(rc, &r, NULL);
	return rc;
}
