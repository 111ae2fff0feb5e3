/* SPDX-License-Identifier: MIT */
/*
 * msg.c - what a decoder writes into the report being built (decode.h):
 * a recipient (once, up to the report's limit), a bounded text field, a
 * warning (bounded too), and the original message's Message-ID and sender
 * from its header fields or from a copy quoted in the notification text;
 * and whether a bare name (an AOL screen name) may take AOL's domain.
 * parse.c walks the message and calls the decoders; the decoders call
 * these, never back into parse.c.
 */
#include <stdarg.h>
#include <string.h>

#include "decode.h"

/* Warnings kept per report; more are counted in one last line. */
#define WARNINGS_MAX 32
/* Header fields read from a returned message's header block. */
#define ORIG_FIELDS_MAX 256

/* Bytes of an AOL screen name (AOL allowed 3 to 16; room for the old ones). */
#define SCREEN_NAME_MAX 32

static int host_is_aol(const char *host, size_t len);

void
parser_msg_warn(struct msg *m, const char *fmt, ...)
{
	GPtrArray *w = m->r->warnings;
	va_list ap;

	if (w->len > WARNINGS_MAX)
		return;
	if (w->len == WARNINGS_MAX) {
		g_ptr_array_add(w, g_strdup("more warnings not recorded"));
		return;
	}
	va_start(ap, fmt);
	g_ptr_array_add(w, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

struct report_rcpt *
parser_msg_add_rcpt(struct msg *m, char *addr)
{
	GPtrArray *a = m->r->rcpts;
	struct report_rcpt *rc;

	for (guint i = 0; i < a->len; i++) {
		rc = g_ptr_array_index(a, i);
		if (strcmp(rc->recipient, addr) == 0) {
			g_free(addr);
			return rc;
		}
	}
	if (a->len >= m->lim->max_rcpts) {
		if (!m->warned_rcpts)
			parser_msg_warn(m, "limit: more than %u recipients, the rest ignored",
				m->lim->max_rcpts);
		m->warned_rcpts = 1;
		g_free(addr);
		return NULL;
	}
	rc = g_new0(struct report_rcpt, 1);
	rc->recipient = addr;
	g_ptr_array_add(a, rc);
	return rc;
}

void
parser_msg_set_text(struct msg *m, char **dst, const char *s, size_t len)
{
	if (*dst != NULL || s == NULL)
		return;
	*dst = parser_text_squeeze(s, len, m->lim->max_field);
	if ((*dst)[0] == '\0') {
		g_free(*dst);
		*dst = NULL;
	}
}

void
parser_msg_orig_from_fields(struct msg *m, const GPtrArray *fields)
{
	const char *v;

	if (m->r->orig_message_id == NULL && (v = parser_fields_get(fields, "Message-ID")) != NULL) {
		const char *s = v, *e;

		while (*s == ' ' || *s == '<')
			s++;
		e = s;
		while (*e && *e != '>' && *e != ' ')
			e++;
		if (e > s && (size_t)(e - s) < m->lim->max_field)
			m->r->orig_message_id = g_strndup(s, (gsize)(e - s));
	}
	if (m->r->orig_sender == NULL) {
		v = parser_fields_get(fields, "From");
		if (v == NULL)
			v = parser_fields_get(fields, "Return-Path");
		if (v != NULL)
			m->r->orig_sender = parser_addr_parse(v, strlen(v));
	}
}

/*
 * A copy of the original message inside the notification text (qmail,
 * Exim, Gmail...): the first header block holding a Message-ID line.
 */
void
parser_msg_orig_from_text(struct msg *m, const char *text)
{
	const char *line = NULL;

	if (m->r->orig_message_id != NULL && m->r->orig_sender != NULL)
		return;
	/* m->lower is text lowercased: same offsets */
	if (g_ascii_strncasecmp(text, "message-id:", 11) == 0) {
		line = text;
	} else {
		const char *at = strstr(m->lower, "\nmessage-id:");

		if (at == NULL)
			return;
		line = text + (at - m->lower) + 1;
	}
	/* back to the start of the block */
	while (line > text) {
		const char *prev = line - 1;    /* the '\n' ending the previous line */
		const char *ps = prev;

		while (ps > text && ps[-1] != '\n')
			ps--;
		if (ps == prev)                 /* empty line: block starts at line */
			break;
		line = ps;
	}
	{
		GPtrArray *f = g_ptr_array_new_with_free_func(parser_field_free);
		const char *pos = line;

		parser_fields_parse(&pos, line + strlen(line), f, ORIG_FIELDS_MAX);
		parser_msg_orig_from_fields(m, f);
		g_ptr_array_free(f, TRUE);
	}
}

/* Is host (len bytes) aol.com or aol.net, or a host under them? */
static int
host_is_aol(const char *host, size_t len)
{
	static const char *const aol[] = { "aol.com", "aol.net" };

	while (len > 0 && (host[len - 1] == '.' || host[len - 1] == '>' || host[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < G_N_ELEMENTS(aol); i++) {
		size_t n = strlen(aol[i]);

		if (len >= n && g_ascii_strncasecmp(host + len - n, aol[i], n) == 0 &&
		    (len == n || host[len - n - 1] == '.' || host[len - n - 1] == '@'))
			return 1;
	}
	return 0;
}

int
parser_msg_from_aol(const struct msg *m, const char *reporting_mta)
{
	char *from = parser_addr_parse(m->from, strlen(m->from));
	int yes = from != NULL && host_is_aol(from, strlen(from));

	g_free(from);
	if (!yes && reporting_mta != NULL) {
		const char *h = reporting_mta, *sc = strchr(h, ';');

		if (sc != NULL)
			h = sc + 1;
		while (*h == ' ' || *h == '\t')
			h++;
		yes = h[0] != '\0' && host_is_aol(h, strcspn(h, " \t\r\n("));
	}
	return yes;
}

char *
parser_msg_screen_name(const char *s, size_t len)
{
	static const char *const not_members[] = { "postmaster", "mailer-daemon", "root",
		"abuse", "undisclosed-recipients" };
	const char *e = s + len;
	char *name;

	while (s < e && (g_ascii_isspace(*s) || *s == '<' || *s == '"'))
		s++;
	while (e > s && (g_ascii_isspace(e[-1]) || e[-1] == '>' || e[-1] == '"'))
		e--;
	/* a letter first, then letters, digits, '.', '_' or '-' */
	if (e - s < 3 || e - s > SCREEN_NAME_MAX || !g_ascii_isalpha(*s))
		return NULL;
	for (const char *q = s; q < e; q++)
		if (!g_ascii_isalnum(*q) && *q != '.' && *q != '_' && *q != '-')
			return NULL;
	name = g_ascii_strdown(s, e - s);
	for (size_t i = 0; i < G_N_ELEMENTS(not_members); i++)
		if (strcmp(name, not_members[i]) == 0) {
			g_free(name);
			return NULL;
		}
	return name;
}
