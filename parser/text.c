/* SPDX-License-Identifier: MIT */
/*
 * text.c - text helpers shared by the decoders: header blocks (the fields
 * of a delivery-status or feedback-report part, a returned message's
 * headers), addresses, RFC 3463 status codes, SMTP reply codes and SMTP
 * stages found in diagnostic text, and text squeezing.
 *
 * Everything here works on NUL-terminated UTF-8 text with LF line ends
 * (parse.c normalises first), never allocates more than its input, and
 * never reads past the terminating NUL or the given end.
 */
#include <string.h>

#include "decode.h"

/* Longest addr-spec we accept: the store's limit (report.h). */
#define ADDR_MAX REPORT_ADDR_MAX
/* Longest header field value kept by parser_fields_parse(). */
#define FIELD_VALUE_MAX (16u * 1024)
/* Commands, and replies, read in one round of a session transcript. */
#define TRANSCRIPT_ROUND_MAX 16

/* One exchange of a transcript: the commands sent, then the replies. */
struct transcript_round {
	unsigned ncmds, nreplies;
	struct { enum classify_cmd cmd; int about; } cmds[TRANSCRIPT_ROUND_MAX];
	struct { int failed; int about; } replies[TRANSCRIPT_ROUND_MAX];
};

static int status_at(const char *s, const char *start, char *out);
static int dot_atom(const char *s, size_t len);
static char *addr_canonical(const char *local, size_t llen, const char *domain, size_t dlen);
static int reply_at(const char *s, const char *start);
static int domain_char(int c);
static int domain_ok(const char *d, size_t len);
static size_t letter_at(const char *p, const char *end);
static size_t letter_before(const char *start, const char *p);
static int scan_char(int c);
static enum classify_cmd transcript_cmd(const char *p);
static enum classify_cmd transcript_resolve(const struct transcript_round *t, int want_any);

void
parser_field_free(gpointer p)
{
	struct field *f = p;

	if (f == NULL)
		return;
	g_free(f->name);
	g_free(f->value);
	g_free(f);
}

/*
 * RFC 5322 section 2.2: "name: value", continuation lines start with white
 * space.  Lines without a colon that are not continuations are skipped (some
 * MTAs write free text into delivery-status parts).
 */
unsigned
parser_fields_parse(const char **pos, const char *end, GPtrArray *out, unsigned max)
{
	const char *p = *pos;
	struct field *cur = NULL;
	GString *val = NULL;
	unsigned n = 0;

	/* leading blank lines do not end an empty block */
	while (p < end && (*p == '\n' || *p == ' ' || *p == '\t')) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *q = p;

		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < end && *q != '\n')
			break;
		p = nl != NULL ? nl + 1 : end;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		const char *next = nl != NULL ? nl + 1 : end;
		const char *colon;

		if (eol == p)
			{ p = next; break; }     /* empty line ends the block */
		if (*p == ' ' || *p == '\t') {
			const char *q = p;

			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q == eol) {
				/* a line of blanks ends the block too */
				p = next;
				break;
			}
			if (cur != NULL && val->len < FIELD_VALUE_MAX) {
				g_string_append_c(val, ' ');
				g_string_append_len(val, q, MIN((gssize)(eol - q),
					(gssize)(FIELD_VALUE_MAX - val->len)));
			}
			p = next;
			continue;
		}
		if (cur != NULL) {
			cur->value = g_string_free(val, FALSE);
			g_ptr_array_add(out, cur);
			cur = NULL;
			n++;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon != NULL && colon > p && n < max) {
			const char *name_end = colon;
			const char *v = colon + 1;
			int ok = 1;

			while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
				name_end--;
			for (const char *q = p; q < name_end; q++)
				if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 127)
					ok = 0;
			if (ok && name_end > p) {
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				cur = g_new0(struct field, 1);
				cur->name = g_strndup(p, (gsize)(name_end - p));
				val = g_string_sized_new((gsize)(eol - v) + 16);
				g_string_append_len(val, v, MIN((gssize)(eol - v),
					(gssize)FIELD_VALUE_MAX));
			}
		}
		p = next;
	}
	if (cur != NULL) {
		cur->value = g_string_free(val, FALSE);
		g_ptr_array_add(out, cur);
		n++;
	}
	*pos = p;
	return n;
}

const char *
parser_fields_get(const GPtrArray *fields, const char *name)
{
	if (fields == NULL)
		return NULL;
	for (guint i = 0; i < fields->len; i++) {
		const struct field *f = g_ptr_array_index(fields, i);

		if (g_ascii_strcasecmp(f->name, name) == 0)
			return f->value;
	}
	return NULL;
}

const char *
parser_msg_header(const struct msg *m, const char *name)
{
	char first = g_ascii_tolower(name[0]);

	if (m->hdrs == NULL)
		return NULL;
	for (guint i = 0; i < m->hdrs->len; i++) {
		const struct hdr *h = &g_array_index(m->hdrs, struct hdr, i);

		if (g_ascii_tolower(h->name[0]) == first && g_ascii_strcasecmp(h->name, name) == 0)
			return h->raw;
	}
	return NULL;
}

int
parser_addr_char(int c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr(".!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
		(c & 0x80);
}

/* Characters taken when scanning prose for an address: atext without the
 * ones prose uses as delimiters (quotes, braces, bars). */
static int
scan_char(int c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr(".!#$%&*+-/=?^_~", c) != NULL);
}

/*
 * Internationalised addresses (RFC 6531) in prose: a letter of the Latin,
 * Greek or Cyrillic blocks (U+00C0-U+052F) belongs to the address, so
 * "m\xc3\xbcller@example.de" is not cut to "ller@example.de".  Other scripts
 * (CJK text runs into addresses without a space) end it.  Returns the
 * length in bytes of such a letter at p, or 0.
 */
static size_t
letter_at(const char *p, const char *end)
{
	gunichar c;
	const char *next;

	if (p >= end || !((unsigned char)*p & 0x80))
		return 0;
	c = g_utf8_get_char_validated(p, end - p);
	if (c == (gunichar)-1 || c == (gunichar)-2 || c < 0xC0 || c > 0x52F || c == 0xD7 || c == 0xF7)
		return 0;
	next = g_utf8_next_char(p);
	return (size_t)(next - p);
}

/* Same for the character that ends just before p (not before start). */
static size_t
letter_before(const char *start, const char *p)
{
	const char *q = p;

	for (int i = 0; i < 4 && q > start; i++) {
		q--;
		if (((unsigned char)*q & 0xC0) != 0x80)
			break;
	}
	if (q == p || letter_at(q, p) != (size_t)(p - q))
		return 0;
	return (size_t)(p - q);
}

static int
domain_char(int c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
}

char *
parser_addr_parse(const char *s, size_t len)
{
	const char *end = s + len, *at, *lt, *gt, *l, *r;
	char *out;

	/* address type "rfc822;" or "utf-8;" (RFC 3464 2.3.2, RFC 6533) */
	for (const char *q = s; q < end; q++) {
		if (*q == '@' || *q == '<' || *q == '"')
			break;
		if (*q == ';') {
			s = q + 1;
			break;
		}
	}
	while (s < end && g_ascii_isspace(*s))
		s++;
	while (end > s && g_ascii_isspace(end[-1]))
		end--;
	if (end <= s)
		return NULL;
	lt = memchr(s, '<', (size_t)(end - s));
	if (lt != NULL && (gt = memchr(lt, '>', (size_t)(end - lt))) != NULL) {
		s = lt + 1;
		end = gt;
	}
	at = NULL;
	for (const char *q = end; q > s; q--)
		if (q[-1] == '@') {
			at = q - 1;
			break;
		}
	if (at == NULL || at == s || at + 1 >= end)
		return NULL;
	/* local part: quoted string (with \-escapes) or atext run ending at '@' */
	l = at;
	if (l[-1] == '"') {
		l--;
		for (;;) {
			size_t bs = 0;

			while (l > s && l[-1] != '"')
				l--;
			if (l == s)
				return NULL;
			/* l[-1] is a quote: an escaped one after an odd number of backslashes */
			while (l - 1 - bs > s && l[-2 - (ptrdiff_t)bs] == '\\')
				bs++;
			if (bs % 2 == 0)
				break;
			l--;
		}
		l--;
	} else {
		/* ' and ` are atext (o'brien@...): all of the run is the local part */
		while (l > s && parser_addr_char((unsigned char)l[-1]))
			l--;
	}
	if (l == at)
		return NULL;
	/* an X.400 / Exchange address-type prefix: "dda:SMTP=user@example.org" */
	if (at - l > 5 && g_ascii_strncasecmp(l, "smtp=", 5) == 0)
		l += 5;
	else if (at - l > 7 && g_ascii_strncasecmp(l, "rfc822=", 7) == 0)
		l += 7;
	/* domain: a name or an address literal */
	r = at + 1;
	if (*r == '[') {
		while (r < end && *r != ']')
			r++;
		if (r == end)
			return NULL;
		r++;
	} else {
		while (r < end && (domain_char((unsigned char)*r) || ((unsigned char)*r & 0x80)))
			r++;
		while (r > at + 1 && (r[-1] == '.' || r[-1] == '-'))
			r--;
	}
	/* prose quotes an address as 'a@b' or `a@b`: the quotes are not part of it */
	if ((*l == '\'' || *l == '`') && r < end && *r == *l)
		l++;
	if (l == at || r == at + 1 || (size_t)(r - l) > ADDR_MAX)
		return NULL;
	/* a name needs no dot here (DSN fields may say user@localhost), but no
	 * leading dot, no empty label */
	if (at[1] != '[' && (at[1] == '.' || at[1] == '-' || g_strstr_len(at + 1, r - at - 1, "..") != NULL))
		return NULL;
	out = addr_canonical(l, (size_t)(at - l), at + 1, (size_t)(r - at - 1));
	for (char *q = out; *q; q++)
		*q = g_ascii_tolower(*q);
	return out;
}

/* RFC 5322 3.2.3 dot-atom: atext runs separated by single dots. */
static int
dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!parser_addr_char((unsigned char)s[i]) || s[i] == '"') {
			return 0;
		}
	}
	return 1;
}

/*
 * The canonical spelling of a mailbox (RFC 5321 4.1.2): a quoted local
 * part that is a dot-atom loses its quotes, an unquoted one that is not
 * (Postfix writes "a..b@c" in ORCPT) gains them, so both spellings of
 * one mailbox compare equal.
 */
static char *
addr_canonical(const char *local, size_t llen, const char *domain, size_t dlen)
{
	char *out = g_malloc(llen + dlen + 4), *w = out;
	int quote = 0;

	if (llen >= 2 && local[0] == '"' && local[llen - 1] == '"' && dot_atom(local + 1, llen - 2)) {
		local++;
		llen -= 2;
	} else if (local[0] != '"' && !dot_atom(local, llen)) {
		quote = 1;
	}
	if (quote)
		*w++ = '"';
	memcpy(w, local, llen);
	w += llen;
	if (quote)
		*w++ = '"';
	*w++ = '@';
	memcpy(w, domain, dlen);
	w += dlen;
	*w = '\0';
	return out;
}

int
parser_addr_find(const char *s, const char *end, const char **start_r, size_t *len_r)
{
	const char *p = s;

	while (p < end) {
		const char *at = memchr(p, '@', (size_t)(end - p));
		const char *l, *r;
		int dot = 0;

		if (at == NULL)
			return 0;
		l = at;
		for (;;) {
			size_t n;

			if (l > s && scan_char((unsigned char)l[-1]))
				l--;
			else if ((n = letter_before(s, l)) > 0)
				l -= n;
			else
				break;
		}
		while (l < at && *l == '.')
			l++;
		r = at + 1;
		for (;;) {
			size_t n;

			if (r < end && domain_char((unsigned char)*r)) {
				if (*r == '.')
					dot = 1;
				r++;
			} else if ((n = letter_at(r, end)) > 0) {
				r += n;
			} else {
				break;
			}
		}
		while (r > at + 1 && (r[-1] == '.' || r[-1] == '-' || r[-1] == '_'))
			r--;
		if (l < at && r > at + 1 && dot && (size_t)(r - l) <= ADDR_MAX &&
		    domain_ok(at + 1, (size_t)(r - at - 1))) {
			*start_r = l;
			*len_r = (size_t)(r - l);
			return 1;
		}
		p = at + 1;
	}
	return 0;
}

/*
 * A plausible host name: labels of at least one character separated by
 * single dots, at least two labels, not starting with a dot or hyphen.
 */
static int
domain_ok(const char *d, size_t len)
{
	int labels = 1;

	if (len < 3 || d[0] == '.' || d[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (i + 1 == len || d[i + 1] == '.')
				return 0;
			labels++;
		}
	}
	return labels >= 2;
}

/* A status code "c.sss.ddd" at s, not glued to other digits or dots. */
static int
status_at(const char *s, const char *start, char *out)
{
	const char *p = s;
	int n1 = 0, n2 = 0;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	if (p > start && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '_' || p[-1] == '-'))
		return 0;
	if (p[1] != '.')
		return 0;
	p += 2;
	while (g_ascii_isdigit(p[n1]))
		n1++;
	if (n1 < 1 || n1 > 3 || p[n1] != '.')
		return 0;
	p += n1 + 1;
	while (g_ascii_isdigit(p[n2]))
		n2++;
	if (n2 < 1 || n2 > 3)
		return 0;
	p += n2;
	if (g_ascii_isalnum(*p) || (*p == '.' && g_ascii_isdigit(p[1])))
		return 0;
	memcpy(out, s, (size_t)(p - s));
	out[p - s] = '\0';
	return 1;
}

/* The first failure code (4.x.x, 5.x.x) wins over success codes before it. */
int
parser_text_find_status(const char *s, char *out)
{
	char first[16] = "";
	int have = 0;

	for (const char *p = s; *p; p++) {
		if (p[1] == '.' && status_at(p, s, out)) {
			if (out[0] != '2')
				return 1;
			if (!have)
				memcpy(first, out, sizeof(first));
			have = 1;
		}
	}
	if (have)
		memcpy(out, first, sizeof(first));
	return have;
}

static int
reply_at(const char *s, const char *start)
{
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] < '0' || s[1] > '5' ||
	    !g_ascii_isdigit(s[2]))
		return 0;
	if (s > start && (g_ascii_isalnum(s[-1]) || strchr(".-_=/#%+", s[-1]) != NULL) &&
	    s[-1] != '#')
		return 0;
	if (s > start && s[-1] == '#' && s - 1 > start && g_ascii_isalnum(s[-2]))
		return 0;
	switch (s[3]) {
	case '\0': case ' ': case '-': case ':': case ',': case '\t': case '\n':
	case ')': case '\'': case '"': case ';':
		return 1;
	default:
		return 0;
	}
}

/* As for statuses: the first 4xx/5xx reply wins over 2xx/3xx ones before it. */
int
parser_text_find_reply(const char *s, char *out)
{
	char first[4] = "";
	int have = 0;

	for (const char *p = s; *p; p++) {
		if (reply_at(p, s)) {
			if (p[0] != '2' && p[0] != '3') {
				memcpy(out, p, 3);
				out[3] = '\0';
				return 1;
			}
			if (!have)
				memcpy(first, p, 3);
			have = 1;
		}
	}
	if (have) {
		memcpy(out, first, 3);
		out[3] = '\0';
	}
	return have;
}

/*
 * The stage an MTA names in its text: a Sendmail-style transcript first
 * (parser_text_transcript_command), then phrases: Postfix "(in reply to RCPT TO
 * command)", Exim "SMTP error from remote mail server after RCPT TO:",
 * qmail "does not like recipient", Oracle "Remote SMTP server has rejected
 * address", and a few more.  The first phrase found wins.
 */
enum classify_cmd
parser_text_find_command(const char *s)
{
	char *lower = g_ascii_strdown(s, -1);
	enum classify_cmd c = parser_text_find_command_lower(lower);

	g_free(lower);
	return c;
}

enum classify_cmd
parser_text_find_command_lower(const char *lower)
{
	static const struct {
		const char *phrase;
		enum classify_cmd cmd;
	} phrases[] = {
		{ "in reply to rcpt to", CLASSIFY_CMD_RCPT },
		{ "after rcpt to", CLASSIFY_CMD_RCPT },
		{ "after pipelined rcpt to", CLASSIFY_CMD_RCPT },        /* Exim 4.9x */
		{ "our rcpt to", CLASSIFY_CMD_RCPT },
		{ "smtp:rcpt", CLASSIFY_CMD_RCPT },
		{ "rcpt to command", CLASSIFY_CMD_RCPT },
		{ ">>> rcpt to:", CLASSIFY_CMD_RCPT },
		{ "after rcpt command", CLASSIFY_CMD_RCPT },
		{ "does not like recipient", CLASSIFY_CMD_RCPT },
		{ "[rcpt_to]", CLASSIFY_CMD_RCPT },
		{ "remote smtp server has rejected address", CLASSIFY_CMD_RCPT },
		{ "rcpt to:<", CLASSIFY_CMD_RCPT },
		{ "in reply to end of data", CLASSIFY_CMD_DATA },
		{ "after end of data", CLASSIFY_CMD_DATA },
		{ "after pipelined end of data", CLASSIFY_CMD_DATA },
		{ "after pipelined data", CLASSIFY_CMD_DATA },
		{ "in reply to data", CLASSIFY_CMD_DATA },
		{ "after data", CLASSIFY_CMD_DATA },
		{ "our final data", CLASSIFY_CMD_DATA },
		{ "our data", CLASSIFY_CMD_DATA },
		{ "message (data)", CLASSIFY_CMD_DATA },
		{ "smtp:data", CLASSIFY_CMD_DATA },
		{ ">>> data", CLASSIFY_CMD_DATA },
		{ "for text command", CLASSIFY_CMD_DATA },
		{ "after data command", CLASSIFY_CMD_DATA },
		{ "failed after i sent the message", CLASSIFY_CMD_DATA },
		{ "failed on data command", CLASSIFY_CMD_DATA },         /* qmail-remote */
		{ "in reply to mail from", CLASSIFY_CMD_MAIL },
		{ "after mail from", CLASSIFY_CMD_MAIL },
		{ "after pipelined mail from", CLASSIFY_CMD_MAIL },
		{ "our mail from", CLASSIFY_CMD_MAIL },
		{ "smtp:mail", CLASSIFY_CMD_MAIL },
		{ ">>> mail from:", CLASSIFY_CMD_MAIL },
		{ "but sender was rejected", CLASSIFY_CMD_MAIL },
		{ "[mail_from]", CLASSIFY_CMD_MAIL },
		{ "in reply to helo", CLASSIFY_CMD_HELO },
		{ "in reply to ehlo", CLASSIFY_CMD_HELO },
		{ "after helo", CLASSIFY_CMD_HELO },
		{ "after ehlo", CLASSIFY_CMD_HELO },
		{ "but my name was rejected", CLASSIFY_CMD_HELO },       /* qmail-remote */
		{ "after initial connection", CLASSIFY_CMD_CONN },
		{ "refused to talk to me", CLASSIFY_CMD_CONN },
		{ "but greeting failed", CLASSIFY_CMD_CONN },            /* qmail-remote */
		{ "after connection", CLASSIFY_CMD_CONN },
	};
	const char *best = NULL;
	enum classify_cmd cmd = parser_text_transcript_command(lower, NULL);

	if (cmd != CLASSIFY_CMD_NONE)
		return cmd;
	for (size_t i = 0; i < G_N_ELEMENTS(phrases); i++) {
		const char *at = strstr(lower, phrases[i].phrase);

		if (at != NULL && (best == NULL || at < best)) {
			best = at;
			cmd = phrases[i].cmd;
		}
	}
	return cmd;
}

/* The command of a transcript line ("mail from:<x>", "rcpt to:<x>"...). */
static enum classify_cmd
transcript_cmd(const char *p)
{
	if (g_str_has_prefix(p, "rcpt"))
		return CLASSIFY_CMD_RCPT;
	if (g_str_has_prefix(p, "data") || g_str_has_prefix(p, "bdat") || p[0] == '.')
		return CLASSIFY_CMD_DATA;
	if (g_str_has_prefix(p, "mail"))
		return CLASSIFY_CMD_MAIL;
	if (g_str_has_prefix(p, "helo") || g_str_has_prefix(p, "ehlo") ||
	    g_str_has_prefix(p, "lhlo") || g_str_has_prefix(p, "starttls"))
		return CLASSIFY_CMD_HELO;
	return CLASSIFY_CMD_NONE;
}

/*
 * The stage of a failure in a Sendmail-style transcript (lowercased text):
 *
 *     ... while talking to mx.example.org.:
 *     >>> MAIL From:<news@example.net> SIZE=1234
 *     >>> RCPT To:<reader@example.org>
 *     >>> DATA
 *     <<< 250 2.1.0 Ok
 *     <<< 550 5.1.1 <reader@example.org>... User unknown
 *
 * Commands are queued as sent and the final reply lines ("<<< NNN ", not
 * "NNN-") answer them in order, so pipelined transcripts read right (see
 * transcript_resolve for the commands Sendmail leaves out).  The stage is
 * the command answered by the first 4xx/5xx reply about addr (the reply
 * names it, or it answers "RCPT To:<addr>"); with addr NULL, the first
 * 4xx/5xx reply's; a refused MAIL, HELO or greeting in a round that names
 * addr (the "503 Need MAIL" replies after it only follow from it).  A "... while talking to" line starts a new
 * conversation.  CLASSIFY_CMD_NONE: no transcript, or none about addr.
 */
/*
 * Pairs a round's replies with its commands and returns the stage of its
 * first failure about addr (any failure when addr is NULL), or NONE.  More
 * replies than commands: Sendmail shows only the last command of a
 * pipelined group (">>> DATA"), so the replies before those of the shown
 * commands answer the RCPT TO commands it left out.
 */
static enum classify_cmd
transcript_resolve(const struct transcript_round *t, int want_any)
{
	unsigned surplus = t->nreplies > t->ncmds ? t->nreplies - t->ncmds : 0;
	int round_about = want_any;

	for (unsigned i = 0; i < t->ncmds; i++)
		round_about |= t->cmds[i].about;
	for (unsigned i = 0; i < t->nreplies; i++)
		round_about |= t->replies[i].about;
	for (unsigned i = 0; i < t->nreplies; i++) {
		enum classify_cmd c = CLASSIFY_CMD_RCPT;
		int about = t->replies[i].about;

		if (i >= surplus) {
			c = t->cmds[i - surplus].cmd;
			about |= t->cmds[i - surplus].about;
		}
		/*
		 * refused before any recipient was named, in a round that names
		 * addr: its later replies ("503 Need MAIL") only follow from it
		 */
		if (t->replies[i].failed && round_about && (c == CLASSIFY_CMD_CONN ||
		    c == CLASSIFY_CMD_HELO || c == CLASSIFY_CMD_MAIL))
			return c;
		if (t->replies[i].failed && c != CLASSIFY_CMD_NONE && (want_any || about))
			return c;
	}
	return CLASSIFY_CMD_NONE;
}

enum classify_cmd
parser_text_transcript_command(const char *lower, const char *addr)
{
	struct transcript_round t = { 0 };
	enum classify_cmd c;
	const char *p = strstr(lower, ">>> ");

	if (p == NULL || strstr(p, "<<< ") == NULL)
		return CLASSIFY_CMD_NONE;
	/* from the start of the line of the first command */
	while (p > lower && p[-1] != '\n')
		p--;
	for (;;) {
		const char *e = strchr(p, '\n'), *l = p;
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		int cmd, talk, reply;

		while (l < p + n && (*l == ' ' || *l == '\t' || *l == '>') && !g_str_has_prefix(l, ">>> "))
			l++;
		talk = g_str_has_prefix(l, "... while talking to") || g_str_has_prefix(l, "while talking to");
		cmd = g_str_has_prefix(l, ">>> ");
		reply = g_str_has_prefix(l, "<<< ") && g_ascii_isdigit(l[4]) && g_ascii_isdigit(l[5]) &&
			g_ascii_isdigit(l[6]) && l[7] != '-';
		/* a new conversation, or commands after replies: the round is complete */
		if (talk || (cmd && t.nreplies > 0)) {
			if ((c = transcript_resolve(&t, addr == NULL)) != CLASSIFY_CMD_NONE)
				return c;
			t.ncmds = t.nreplies = 0;
		}
		if (cmd && t.ncmds < TRANSCRIPT_ROUND_MAX) {
			t.cmds[t.ncmds].cmd = transcript_cmd(l + 4);
			t.cmds[t.ncmds].about = addr != NULL && g_strstr_len(l, (gssize)(p + n - l), addr) != NULL;
			t.ncmds++;
		} else if (reply && t.nreplies < TRANSCRIPT_ROUND_MAX) {
			t.replies[t.nreplies].failed = l[4] == '4' || l[4] == '5';
			t.replies[t.nreplies].about = addr != NULL &&
				g_strstr_len(l, (gssize)(p + n - l), addr) != NULL;
			t.nreplies++;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return transcript_resolve(&t, addr == NULL);
}

const char *
parser_text_casestr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	unsigned char first;

	if (n == 0)
		return hay;
	first = (unsigned char)g_ascii_tolower(needle[0]);
	for (const char *p = hay; *p; p++) {
		if ((unsigned char)g_ascii_tolower(*p) == first &&
		    g_ascii_strncasecmp(p, needle, n) == 0)
			return p;
	}
	return NULL;
}

char *
parser_text_squeeze(const char *s, size_t len, size_t max)
{
	GString *out = g_string_sized_new(MIN(len, max) + 1);
	int space = 0;

	for (size_t i = 0; i < len && out->len < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			break;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = 1;
			continue;
		}
		if (space && out->len > 0) {
			if (out->len + 1 >= max)
				break;
			g_string_append_c(out, ' ');
		}
		space = 0;
		g_string_append_c(out, (char)c);
	}
	/* do not end inside a UTF-8 sequence */
	if (out->len >= max) {
		gsize l = out->len;

		while (l > 0 && ((unsigned char)out->str[l - 1] & 0xC0) == 0x80)
			l--;
		if (l > 0 && ((unsigned char)out->str[l - 1] & 0x80))
			l--;
		g_string_truncate(out, l);
	}
	return g_string_free(out, FALSE);
}

/*
 * RFC 5321 4.2.1: a multi-line reply repeats the code on every line
 * ("550-5.7.26 text", ..., "550 5.7.26 text").  Keep the first line's code
 * and drop the repeats so the text reads as one sentence.
 */
void
parser_text_join_smtp_lines(char *s)
{
	char code[4] = "", status[16] = "", pat[24];
	char *w = s;
	const char *r = s;

	while (*r) {
		const char *eol = strchr(r, '\n');
		const char *line = r;
		const char *from = r;

		if (eol == NULL)
			eol = r + strlen(r);
		while (line < eol && (*line == ' ' || *line == '\t'))
			line++;
		if (eol - line >= 4 && reply_at(line, line) && (line[3] == '-' || line[3] == ' ')) {
			if (code[0] == '\0') {
				memcpy(code, line, 3);
				code[3] = '\0';
				if (!status_at(line + 4, line + 4, status))
					status[0] = '\0';
			} else if (memcmp(line, code, 3) == 0) {
				/* a continuation: drop "550-5.7.1 " and join */
				from = line + 4;
				if (status[0] != '\0' && strncmp(from, status, strlen(status)) == 0)
					from += strlen(status);
				while (from < eol && *from == ' ')
					from++;
				if (w > s && w[-1] == '\n')
					w[-1] = ' ';
			}
		}
		{
			size_t n = (size_t)(eol - from);
			char *dst = w;

			memmove(w, from, n);
			w += n;
			/* "550-5.7.1" on the first line reads "550 5.7.1" */
			if (from == r && line + 3 < eol && memcmp(line, code, 3) == 0 &&
			    dst[line - r + 3] == '-')
				dst[line - r + 3] = ' ';
		}
		r = eol;
		if (*r == '\n')
			*w++ = *r++;
	}
	*w = '\0';
	if (code[0] == '\0')
		return;
	/*
	 * Continuations already unfolded into one line (a DSN field): drop the
	 * repeats " 550-5.7.1 " / " 550 5.7.1 " after the first one.
	 */
	for (int dash = 0; dash < 2; dash++) {
		char *p, *first;

		if (status[0] != '\0')
			g_snprintf(pat, sizeof(pat), " %s%c%s ", code, dash ? '-' : ' ', status);
		else
			g_snprintf(pat, sizeof(pat), " %s-", code);
		if (status[0] == '\0' && !dash)
			continue;
		first = strstr(s, code);
		if (first == NULL)
			continue;
		while ((p = strstr(first + 3, pat)) != NULL) {
			size_t skip = strlen(pat) - 1;   /* keep one space */

			memmove(p + 1, p + 1 + skip, strlen(p + 1 + skip) + 1);
		}
	}
}

void
parser_text_from_html(const char *s, size_t len, GString *out)
{
	const char *end = s + len;
	const char *p = s;

	while (p < end && *p) {
		if (*p == '<') {
			const char *q = p + 1;
			const char *gt = memchr(q, '>', (size_t)(end - q));
			int block = 0;

			if (gt == NULL)
				break;
			if (*q == '/')
				q++;
			if (g_ascii_strncasecmp(q, "br", 2) == 0 || g_ascii_strncasecmp(q, "p", 1) == 0 ||
			    g_ascii_strncasecmp(q, "tr", 2) == 0 || g_ascii_strncasecmp(q, "div", 3) == 0 ||
			    g_ascii_strncasecmp(q, "li", 2) == 0 || g_ascii_strncasecmp(q, "h", 1) == 0 ||
			    g_ascii_strncasecmp(q, "table", 5) == 0)
				block = 1;
			if (p[1] != '/' && (g_ascii_strncasecmp(q, "style", 5) == 0 ||
			    g_ascii_strncasecmp(q, "script", 6) == 0 || g_ascii_strncasecmp(q, "head", 4) == 0)) {
				const char *close = NULL;
				char tag[8];
				size_t tl = g_ascii_strncasecmp(q, "style", 5) == 0 ? 5 :
					g_ascii_strncasecmp(q, "head", 4) == 0 ? 4 : 6;

				g_snprintf(tag, sizeof(tag), "</%.*s", (int)tl, q);
				for (const char *c = gt; c + tl + 2 <= end; c++)
					if (c[0] == '<' && g_ascii_strncasecmp(c, tag, tl + 2) == 0) {
						close = c;
						break;
					}
				if (close == NULL)
					break;
				gt = memchr(close, '>', (size_t)(end - close));
				if (gt == NULL)
					break;
			}
			if (block)
				g_string_append_c(out, '\n');
			else
				g_string_append_c(out, ' ');
			p = gt + 1;
			continue;
		}
		if (*p == '&') {
			static const struct { const char *ent; char c; } ents[] = {
				{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
				{ "&quot;", '"' }, { "&#39;", '\'' }, { "&nbsp;", ' ' },
				{ "&#34;", '"' }, { "&apos;", '\'' },
			};
			size_t i;

			for (i = 0; i < G_N_ELEMENTS(ents); i++) {
				size_t n = strlen(ents[i].ent);

				if ((size_t)(end - p) >= n && g_ascii_strncasecmp(p, ents[i].ent, n) == 0) {
					g_string_append_c(out, ents[i].c);
					p += n;
					break;
				}
			}
			if (i < G_N_ELEMENTS(ents))
				continue;
		}
		g_string_append_c(out, *p);
		p++;
	}
}
