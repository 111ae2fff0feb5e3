/* SPDX-License-Identifier: MIT */
/*
 * note.c - the notification text of a bounce as every decoder reads it:
 * where it ends (the line introducing the returned message), our own
 * addresses, the candidate recipient addresses it names (not on quoted
 * header lines, not in a sender context), and the lines it says about one
 * recipient.  decode-prose.c builds its recipients from it; the RFC 3464
 * decoder and parse.c ask it for a recipient's own lines, the whole text,
 * or the single address it names.  Computed once per message (m->note).
 */
#include <string.h>

#include "decode.h"

/* Bytes of notification text read (the rest is returned message, noise). */
#define NOTE_MAX (64u * 1024)

static int header_like(const struct msg *m, const char *line, const char *eol);
static int sender_context(const char *note, const char *at);
static int alias_context(const char *note, const char *at);
static int word_before(const char *note, const char *at, const char *const *words, size_t nwords);
static void own_addresses(const struct msg *m, GPtrArray *own);
static char *diag_for(const struct msg *m, const char *note, const char *lnote,
	const GPtrArray *cands, const char *addr);
static size_t diag_block(const struct msg *m, const char *note, size_t line,
	const GPtrArray *cands, const char *addr, GString *d);
static int has_code(const char *s, size_t len);
static int line_alone(const char *p, const char *eol, const char *a, size_t n);
static int code_line(const char *p, const char *eol);
static char *diag_whole(const struct msg *m, const char *note, const GPtrArray *cands);
static void scan_candidates(const struct msg *m, const char *note, const GPtrArray *own,
	GPtrArray *cands);
static int cand_index(const GPtrArray *cands, const char *addr);
static char *entry_name(const char *p, const char *eol);

/* Lines whose heading names the recipient ("Original-Recipient: rfc822;x"). */
static const char *const rcpt_fields[] = {
	"original-recipient", "final-recipient", "recipient", "x-failed-recipients",
	"address", "to-address", "rcpt",
	"in", "out",      /* Postfix/Sendmail session transcripts: " In:  RCPT TO:<a@b>" */
	"error-for",      /* L-Soft LSMTP / LISTSERV: "Error-For: a@b", then Error-Text: */
	NULL
};

void
parser_note_cand_free(gpointer p)
{
	struct note_cand *c = p;

	g_free(c->addr);
	g_free(c);
}

/*
 * Where the notification ends: the first line introducing the returned
 * message, or a line that starts a header block ("Received:",
 * "Return-Path:" at column 0: prose never starts a line with them).
 */
size_t
parser_note_end(const struct msg *m)
{
	const char *lower = m->lower;
	size_t len = MIN(strlen(lower), NOTE_MAX);
	size_t end = len;
	const char *const *ends = m->mta != NULL && m->mta->ends != NULL ? m->mta->ends :
		parser_mta_generic_ends();

	for (const char *const *e = ends; *e; e++) {
		const char *at = lower[end] == '\0' ? strstr(lower, *e) : memmem(lower, end, *e, strlen(*e));

		if (at != NULL && (size_t)(at - lower) < end) {
			while (at > lower && at[-1] != '\n')
				at--;
			end = (size_t)(at - lower);
		}
	}
	for (const char *p = lower; p != NULL && (size_t)(p - lower) < end; ) {
		if (strchr("rdfo", *p) != NULL && *p != '\0' && (strncmp(p, "received: ", 10) == 0 || strncmp(p, "return-path: ", 13) == 0 ||
		    strncmp(p, "return-path:<", 13) == 0 || strncmp(p, "dkim-signature: ", 16) == 0 ||
		    strncmp(p, "reporting-mta:", 14) == 0 || strncmp(p, "final-recipient:", 16) == 0 ||
		    strncmp(p, "original-recipient:", 19) == 0 ||
		    strncmp(p, "original-envelope-id:", 21) == 0)) {
			end = (size_t)(p - lower);
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return end;
}

/*
 * "Name: value" with a one-word name: a header of the original message
 * quoted in the notification (To:, From:, Message-ID:...), or of a bounce
 * forwarded with "> " quoting.  Headings that
 * name the recipient are not (rcpt_fields).
 */
static int
header_like(const struct msg *m, const char *line, const char *eol)
{
	const char *p = line;
	size_t n;

	/* also behind the "> " of a forwarded (quoted) notification */
	while (p < eol && (*p == ' ' || *p == '\t' || *p == '>'))
		p++;
	line = p;
	while (p < eol && (g_ascii_isalnum(*p) || *p == '-' || *p == '_'))
		p++;
	if (p == line || p >= eol || *p != ':')
		return 0;
	n = (size_t)(p - line);
	if (n == 2 && m->mta != NULL && (m->mta->flags & MTA_RCPT_TO_LINE) &&
	    g_ascii_strncasecmp(line, "to", 2) == 0)
		return 0;
	for (const char *const *f = rcpt_fields; *f; f++)
		if (strlen(*f) == n && g_ascii_strncasecmp(line, *f, n) == 0)
			return 0;
	return 1;
}

/*
 * Does one of words (n of them) end the text just before at (up to 40
 * bytes back, across at most one line break, punctuation trimmed)?
 */
static int
word_before(const char *note, const char *at, const char *const *words, size_t nwords)
{
	const char *start = at;
	char buf[48];
	size_t n;
	int lines = 0;

	while (start > note && at - start < 40) {
		if (start[-1] == '\n' && ++lines > 1)
			break;
		start--;
	}
	n = MIN((size_t)(at - start), sizeof(buf) - 1);
	memcpy(buf, at - n, n);
	buf[n] = '\0';
	/* trim the punctuation between the word and the address */
	while (n > 0 && strchr(" \t\n:<\"'([=", buf[n - 1]) != NULL)
		buf[--n] = '\0';
	for (size_t i = 0; i < nwords; i++) {
		size_t w = strlen(words[i]);

		if (n >= w && g_ascii_strncasecmp(buf + n - w, words[i], w) == 0)
			return 1;
	}
	return 0;
}

/* The address follows "from", "sender", "sent by": it is the sender. */
static int
sender_context(const char *note, const char *at)
{
	static const char *const words[] = { "from", "sender", "sent by", "mail from",
		"envelope-from", "return-path", "generated from", "contact", "send mail to",
		"write to", "questions to",
		/* help text: who to ask, never a failed recipient */
		"us at", "report this to", "report it to", "please email",
		"send an email to", "administrator at", "postmaster at", "helpdesk at", "support at" };

	return word_before(note, at, words, G_N_ELEMENTS(words));
}

/*
 * "(expanded from <alias@b>)" (Sendmail, Postfix): the address the
 * recipient was reached by, not a sender and not another recipient.
 */
static int
alias_context(const char *note, const char *at)
{
	static const char *const words[] = { "expanded from" };

	return word_before(note, at, words, G_N_ELEMENTS(words));
}

/* Our own addresses in the bounce's headers: never failed recipients. */
static void
own_addresses(const struct msg *m, GPtrArray *own)
{
	/*
	 * Not Delivered-To / X-Original-To: some MTAs (DragonFly) write the
	 * failed recipient there, and ours are the same as To: anyway.
	 */
	static const char *const names[] = { "To", "From", "Return-Path", "Reply-To", "Sender" };

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		const char *v = parser_msg_header(m, names[i]);
		const char *s, *end;
		size_t len;

		if (v == NULL)
			continue;
		end = v + strlen(v);
		while (parser_addr_find(v, end, &s, &len)) {
			char *a = parser_addr_parse(s, len);

			if (a != NULL)
				g_ptr_array_add(own, a);
			v = s + len;
		}
	}
	if (m->orig != NULL) {
		const char *v = parser_fields_get(m->orig, "From");

		if (v != NULL) {
			char *a = parser_addr_parse(v, strlen(v));

			if (a != NULL)
				g_ptr_array_add(own, a);
		}
	}
}

int
parser_note_in_list(const GPtrArray *list, const char *addr)
{
	for (guint i = 0; i < list->len; i++) {
		const char *s = g_ptr_array_index(list, i);

		if (strcmp(s, addr) == 0)
			return 1;
	}
	return 0;
}

/* Does the line [p, eol) mention another candidate than addr? */
static int
line_has_other(const char *p, const char *eol, const GPtrArray *cands, const char *addr)
{
	/* no '@', no address: the common case, answered without a search */
	if (cands == NULL || memchr(p, '@', (size_t)(eol - p)) == NULL)
		return 0;
	for (guint i = 0; i < cands->len; i++) {
		const struct note_cand *c = g_ptr_array_index(cands, i);
		size_t n = strlen(c->addr);

		if (strcmp(c->addr, addr) == 0)
			continue;
		for (const char *q = p; q + n <= eol; q++)
			if (g_ascii_strncasecmp(q, c->addr, n) == 0)
				return 1;
	}
	return 0;
}

/* A heading line: "----- The following addresses had errors -----". */
static int
heading(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t'))
		eol--;
	/* Exchange's "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##" is a reply */
	if (eol - p >= 2 && *p == '#' && g_ascii_isdigit(p[1]))
		return 0;
	return eol - p >= 3 && (strchr("-=*_#", *p) != NULL) && (strchr("-=*_#:", eol[-1]) != NULL);
}

/* Does the text hold an SMTP reply or RFC 3463 status code? */
static int
has_code(const char *s, size_t len)
{
	char *t = g_strndup(s, len);
	char st[16], rp[4];
	int yes = parser_text_find_status(t, st) || parser_text_find_reply(t, rp);

	g_free(t);
	return yes;
}

/* Does the line start with an SMTP reply code at column 0 ("550 ...")? */
static int
code_line(const char *p, const char *eol)
{
	return eol - p >= 4 && g_ascii_isdigit(p[0]) && g_ascii_isdigit(p[1]) &&
		g_ascii_isdigit(p[2]) && p[3] == ' ';
}

/*
 * One block about addr, from the line at note + line: that line without
 * the address, then the lines after it until a blank line, a heading,
 * another recipient or (in Sendmail transcripts, where every record is a
 * "550 <a@b>... text" line) the next reply line.  A line that only
 * introduces the address ("There was an error delivering your mail to
 * <a@b>.") is followed by the next paragraph when that one holds a code.
 * Appends to d; returns the offset where the block ended.
 */
static size_t
diag_block(const struct msg *m, const char *note, size_t line, const GPtrArray *cands,
	const char *addr, GString *d)
{
	const char *p = note + line;
	int first = 1, lines = 0, para = 0, coded = 0, sentence = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *q;
		int blank = 1;

		if (eol == NULL)
			eol = p + strlen(p);
		for (q = p; q < eol; q++)
			if (*q != ' ' && *q != '\t')
				blank = 0;
		if (!first && blank && lines == 1 && !para) {
			const char *np = p, *pe;

			while (*np == '\n' || *np == ' ' || *np == '\t')
				np++;
			pe = strstr(np, "\n\n");
			if (pe == NULL)
				pe = np + strlen(np);
			para = 1;
			/* "...delivering your mail to <a@b>." is a sentence: its
			 * reason follows; a bare address line is followed by one only
			 * when the next paragraph holds a code */
			if ((sentence || has_code(np, (size_t)(pe - np))) && !heading(np, pe) &&
			    !line_has_other(np, pe, cands, addr)) {
				p = np;
				continue;
			}
			break;
		}
		if (!first && (blank || heading(p, eol) || line_has_other(p, eol, cands, addr) ||
		    (coded && code_line(p, eol))))
			break;
		if (first) {
			/* the line minus the address and its <>, quotes, colon */
			size_t n = strlen(addr);
			const char *a = NULL;

			coded = code_line(p, eol);
			for (q = p; q + n <= eol; q++)
				if (g_ascii_strncasecmp(q, addr, n) == 0) {
					a = q;
					break;
				}
			if (a != NULL) {
				const char *b = a, *e = a + n;

				sentence = !line_alone(p, eol, a, n);
				while (b > p && strchr("<\"'", b[-1]) != NULL)
					b--;
				while (e < eol && strchr(">\"':", *e) != NULL)
					e++;
				g_string_append_len(d, p, b - p);
				g_string_append_c(d, ' ');
				g_string_append_len(d, e, eol - e);
			} else {
				g_string_append_len(d, p, eol - p);
			}
		} else {
			g_string_append_c(d, '\n');
			g_string_append_len(d, p, eol - p);
		}
		first = 0;
		lines++;
		if (d->len > m->lim->max_field * 4)
			break;
		p = *eol ? eol + 1 : eol;
	}
	return (size_t)(p - note);
}

/*
 * Everything the notification says about addr: one block per line that
 * names it (Office 365 names the recipient in its summary and again in
 * "Diagnostic information for administrators").  NULL when it says
 * nothing but the address.
 */
static char *
diag_for(const struct msg *m, const char *note, const char *lnote, const GPtrArray *cands,
	const char *addr)
{
	GString *d = g_string_new(NULL);
	const char *from = lnote, *at;
	size_t covered = 0, alen = strlen(addr);
	char *out;
	int alnum = 0;

	while ((at = strstr(from, addr)) != NULL && d->len < m->lim->max_field * 4) {
		const char *ls = at;

		while (ls > lnote && ls[-1] != '\n')
			ls--;
		if ((size_t)(ls - lnote) >= covered) {
			if (d->len > 0)
				g_string_append_c(d, '\n');
			covered = diag_block(m, note, (size_t)(ls - lnote), cands, addr, d);
		}
		from = at + alen;
	}
	parser_text_join_smtp_lines(d->str);
	out = parser_text_squeeze(d->str, strlen(d->str), m->lim->max_field);
	g_string_free(d, TRUE);
	/* nothing but punctuation left: no diagnostic of its own */
	for (const char *q = out; *q; q++)
		if (g_ascii_isalpha(*q) || ((unsigned char)*q & 0x80))
			alnum++;
	if (alnum < 3) {
		g_free(out);
		return NULL;
	}
	return out;
}

/* The notification without headings and recipient lines. */
static char *
diag_whole(const struct msg *m, const char *note, const GPtrArray *cands)
{
	GString *d = g_string_new(NULL);
	const char *p = note;
	char *out;

	while (*p && d->len < m->lim->max_field * 4) {
		const char *eol = strchr(p, '\n');

		if (eol == NULL)
			eol = p + strlen(p);
		(void)cands;
		if (!heading(p, eol)) {
			g_string_append_len(d, p, eol - p);
			g_string_append_c(d, '\n');
		}
		p = *eol ? eol + 1 : eol;
	}
	parser_text_join_smtp_lines(d->str);
	out = parser_text_squeeze(d->str, strlen(d->str), m->lim->max_field);
	g_string_free(d, TRUE);
	if (out[0] == '\0') {
		g_free(out);
		return NULL;
	}
	return out;
}

static int
cand_index(const GPtrArray *cands, const char *addr)
{
	for (guint i = 0; i < cands->len; i++) {
		const struct note_cand *c = g_ptr_array_index(cands, i);

		if (strcmp(c->addr, addr) == 0)
			return (int)i;
	}
	return -1;
}

/* Is [p, eol) only the address at [a, a+n) with punctuation around it? */
static int
line_alone(const char *p, const char *eol, const char *a, size_t n)
{
	for (const char *q = p; q < eol; q++) {
		if (q >= a && q < a + n)
			continue;
		if (strchr(" \t<>\"':;,.*-", *q) == NULL)
			return 0;
	}
	return 1;
}

/*
 * Every address of the notification, in order, except those on
 * header-like lines and those in a sender context.
 */
static void
scan_candidates(const struct msg *m, const char *note, const GPtrArray *own, GPtrArray *cands)
{
	GPtrArray *shunned = g_ptr_array_new_with_free_func(g_free);
	const char *p = note;

	while (*p && cands->len < NOTE_CANDIDATES_MAX) {
		const char *eol = strchr(p, '\n');
		const char *v, *s;
		size_t len;

		if (eol == NULL)
			eol = p + strlen(p);
		if (!header_like(m, p, eol)) {
			v = p;
			while (parser_addr_find(v, eol, &s, &len)) {
				char *a = parser_addr_parse(s, len);
				const char *after = s + len;
				struct note_cand *c;

				v = s + len;
				if (a == NULL)
					continue;
				while (after < eol && (*after == ' ' || *after == '\t'))
					after++;
				/*
				 * Not a recipient: the sender or a contact address (once
				 * so, always so), a display name that is an address
				 * ("a@b <c@d>"), the tail of "x@y@z".
				 */
				if (alias_context(note, s)) {
					g_free(a);
					continue;
				}
				if (sender_context(note, s)) {
					if (!parser_note_in_list(shunned, a))
						g_ptr_array_add(shunned, g_strdup(a));
					g_free(a);
					continue;
				}
				if (after < eol && *after == '<' && (s == note || s[-1] != '<')) {
					const char *gt = memchr(after, '>', (size_t)(eol - after));
					char *inner = gt != NULL ? parser_addr_parse(after, (size_t)(gt - after + 1)) : NULL;
					int other = inner != NULL && strcmp(inner, a) != 0;

					g_free(inner);
					if (other) {
						if (!parser_note_in_list(shunned, a))
							g_ptr_array_add(shunned, g_strdup(a));
						g_free(a);
						continue;
					}
				}
				if ((s > note && s[-1] == '@') || cand_index(cands, a) >= 0) {
					g_free(a);
					continue;
				}
				c = g_new0(struct note_cand, 1);
				c->addr = a;
				c->line = (size_t)(p - note);
				c->alone = line_alone(p, eol, s, len);
				c->own = parser_note_in_list(own, a);
				g_ptr_array_add(cands, c);
			}
		}
		p = *eol ? eol + 1 : eol;
	}
	for (guint i = 0; i < cands->len; ) {
		struct note_cand *c = g_ptr_array_index(cands, i);

		if (parser_note_in_list(shunned, c->addr))
			g_ptr_array_remove_index(cands, i);
		else
			i++;
	}
	g_ptr_array_free(shunned, TRUE);
}


struct note *
parser_note_get(struct msg *m)
{
	struct note *n;
	size_t end;

	if (m->note != NULL)
		return m->note;
	n = g_new0(struct note, 1);
	end = parser_note_end(m);
	n->text = g_strndup(m->text->str, end);
	n->lower = g_strndup(m->lower, end);
	n->own = g_ptr_array_new_with_free_func(g_free);
	n->cands = g_ptr_array_new_with_free_func(parser_note_cand_free);
	own_addresses(m, n->own);
	scan_candidates(m, n->text, n->own, n->cands);
	m->note = n;
	return n;
}

void
parser_note_free(struct note *n)
{
	if (n == NULL)
		return;
	g_free(n->text);
	g_free(n->lower);
	g_ptr_array_free(n->own, TRUE);
	g_ptr_array_free(n->cands, TRUE);
	g_free(n);
}

/*
 * For the other decoders: the notification's own lines about addr (a
 * delivery-status part without Diagnostic-Code), or NULL.
 */
char *
parser_note_diag_for_addr(struct msg *m, const char *addr)
{
	struct note *n = parser_note_get(m);

	if (strstr(n->lower, addr) == NULL)
		return NULL;
	return diag_for(m, n->text, n->lower, n->cands, addr);
}

/* The whole notification, for a report whose only recipient it does not name. */
char *
parser_note_whole(struct msg *m)
{
	struct note *n = parser_note_get(m);

	return diag_whole(m, n->text, NULL);
}

char *
parser_note_single_recipient(struct msg *m)
{
	struct note *n = parser_note_get(m);
	const char *out = NULL;
	int count = 0;

	for (guint i = 0; i < n->cands->len; i++) {
		const struct note_cand *c = g_ptr_array_index(n->cands, i);

		if (!c->own) {
			count++;
			out = c->addr;
		}
	}
	return count == 1 ? g_strdup(out) : NULL;
}

/* addr's own lines in the notification n, or NULL (for decode-prose.c). */
char *
parser_note_diag_for(const struct msg *m, const struct note *n, const char *addr)
{
	return diag_for(m, n->text, n->lower, n->cands, addr);
}

/* The whole notification minus headings and the lines of cands' addresses. */
char *
parser_note_diag_whole(const struct msg *m, const struct note *n, const GPtrArray *cands)
{
	return diag_whole(m, n->text, cands);
}

/*
 * The screen name an entry line of a failed-address list starts with:
 * "screenname", "<screenname>", "screenname    (reason: 550 ...)" or a
 * transcript's "screenname... User unknown".  NULL when the line is not
 * such an entry (caller frees).
 */
static char *
entry_name(const char *p, const char *eol)
{
	const char *e;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	e = p;
	while (e < eol && *e != ' ' && *e != '\t' && *e != '(' && strncmp(e, "...", 3) != 0)
		e++;
	for (const char *q = e; q < eol; q++) {
		if (*q == '(' || *q == '.')
			break;       /* "(reason: ...)", "... User unknown" */
		if (*q != ' ' && *q != '\t')
			return NULL; /* a sentence, not a list entry */
	}
	return parser_msg_screen_name(p, (size_t)(e - p));
}

/*
 * The bare names (local parts with no domain: AOL screen names, GroupWise
 * user IDs) of a notification, lowercase, in order:
 * the entries of a list introduced by a line ending in ':' or by the
 * "----- The following addresses had permanent fatal errors -----"
 * heading (up to the first line that is not an entry nor an indented
 * or parenthesised continuation), and the "550 screenname... User
 * unknown" lines of a transcript.
 */
void
parser_note_bare_names(const struct note *n, GPtrArray *names)
{
	const char *p = n->lower;
	int list = 0, entries = 0;

	while (*p && names->len < NOTE_CANDIDATES_MAX) {
		const char *eol = strchr(p, '\n'), *t, *te;
		char *name = NULL;

		if (eol == NULL)
			eol = p + strlen(p);
		for (t = p; t < eol && (*t == ' ' || *t == '\t'); t++)
			;
		for (te = eol; te > t && (te[-1] == ' ' || te[-1] == '\t'); te--)
			;
		if (te - t >= 8 && g_ascii_isdigit(t[0]) && g_ascii_isdigit(t[1]) &&
		    g_ascii_isdigit(t[2]) && t[3] == ' ' && g_strstr_len(t, te - t, "... ") != NULL) {
			const char *dots = g_strstr_len(t, te - t, "... ");

			name = parser_msg_screen_name(t + 4, (size_t)(dots - t - 4));
		} else if (list && te > t) {
			name = entry_name(t, te);
			if (name == NULL && *t != '(' && t == p)
				list = 0;
			else if (name != NULL)
				entries++;
		} else if (list && te == t && entries > 0) {
			list = 0;
		}
		if (!list && te > t && (te[-1] == ':' ||
		    g_strstr_len(t, te - t, "addresses had permanent fatal errors") != NULL)) {
			list = 1;
			entries = 0;
		}
		if (name != NULL && !parser_note_in_list(names, name))
			g_ptr_array_add(names, name);
		else
			g_free(name);
		p = *eol ? eol + 1 : eol;
	}
}
