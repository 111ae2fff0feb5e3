/* SPDX-License-Identifier: MIT */
/*
 * decode-rfc3464.c - delivery status notifications: the
 * message/delivery-status part of a multipart/report (RFC 3464, RFC 6522)
 * and its internationalised form message/global-delivery-status (RFC 6533).
 *
 * The part is a per-message block (Reporting-MTA...) and one block per
 * recipient (Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code...), separated by blank lines.  Every recipient block
 * gives a recipient.  The address is Original-Recipient (ORCPT, RFC 3461)
 * when it is a valid address, else Final-Recipient: the application knows
 * the address it sent to, not the one a forward turned it into.
 *
 * Real MTAs bend the format, so: a first block that already holds
 * recipient fields is a recipient block; an address type may be missing
 * ("Original-Recipient: <a@b>"); a Final-Recipient that is not an address
 * (Exim's "|/usr/bin/prog" pipes and file deliveries) falls back to the
 * X-Failed-Recipients header; a missing Diagnostic-Code is taken from the
 * notification text; a generic Status ("5.0.0") yields to a precise one in
 * the diagnostic.  A part with no recipient block at all is left to the
 * prose decoder (returns 0).
 */
#include <string.h>

#include "decode.h"

/* Fields read per block. */
#define DSN_FIELDS_MAX 64

static char *strip_type(const char *v);
static int has_rcpt_fields(const GPtrArray *f);
static char *aol_member(const struct msg *m, const char *v, const char *reporting);
static void rcpt_block(struct msg *m, const GPtrArray *f, unsigned index, const char *reporting);
static void rcpt_blocks(struct msg *m, const GPtrArray *f, unsigned *index, const char *reporting);
static char *nth_failed_recipient(const struct msg *m, unsigned index);
static int line_is(const char *p, const char *name);
static void dsn_from_text(struct msg *m);

/* "dns; mx.example.org" -> "mx.example.org" */
static char *
strip_type(const char *v)
{
	const char *semi = strchr(v, ';');
	const char *s = semi != NULL ? semi + 1 : v;
	char *out;

	while (*s == ' ' || *s == '\t')
		s++;
	out = g_strdup(s);
	g_strstrip(out);
	if (out[0] == '\0') {
		g_free(out);
		return NULL;
	}
	return out;
}

static int
has_rcpt_fields(const GPtrArray *f)
{
	return parser_fields_get(f, "Final-Recipient") != NULL || parser_fields_get(f, "Original-Recipient") != NULL ||
		parser_fields_get(f, "X-Actual-Recipient") != NULL;
}

static char *
nth_failed_recipient(const struct msg *m, unsigned index)
{
	const char *v = parser_msg_header(m, "X-Failed-Recipients");
	const char *s, *end;
	size_t len;
	unsigned i = 0;

	if (v == NULL)
		return NULL;
	end = v + strlen(v);
	while (parser_addr_find(v, end, &s, &len)) {
		if (i++ == index)
			return parser_addr_parse(s, len);
		v = s + len;
	}
	return NULL;
}

/*
 * AOL's own reports name a member by screen name alone
 * ("Final-Recipient: rfc822; screenname"): its address is at aol.com.
 * Only in AOL's reports; NULL otherwise (caller frees).
 */
static char *
aol_member(const struct msg *m, const char *v, const char *reporting)
{
	const char *sc;
	char *name, *addr;

	if (v == NULL || !parser_msg_from_aol(m, reporting))
		return NULL;
	sc = strchr(v, ';');
	if (sc != NULL)
		v = sc + 1;
	name = parser_msg_screen_name(v, strlen(v));
	if (name == NULL)
		return NULL;
	addr = g_strconcat(name, "@aol.com", NULL);
	g_free(name);
	return addr;
}

static void
rcpt_block(struct msg *m, const GPtrArray *f, unsigned index, const char *reporting)
{
	const char *orcpt = parser_fields_get(f, "Original-Recipient");
	const char *frcpt = parser_fields_get(f, "Final-Recipient");
	const char *v;
	char *o = NULL, *fin = NULL, *addr;
	struct report_rcpt *rc;

	if (frcpt == NULL)
		frcpt = parser_fields_get(f, "X-Actual-Recipient");
	if (orcpt != NULL)
		o = parser_addr_parse(orcpt, strlen(orcpt));
	if (frcpt != NULL)
		fin = parser_addr_parse(frcpt, strlen(frcpt));
	if (o == NULL && fin == NULL) {
		fin = nth_failed_recipient(m, index);
		if (fin == NULL)
			fin = aol_member(m, frcpt != NULL ? frcpt : orcpt, reporting);
		if (fin == NULL) {
			const char *v0 = frcpt != NULL ? frcpt : orcpt;

			/* an address no store could hold: said, not silently dropped */
			if (v0 != NULL && strlen(v0) > REPORT_ADDR_MAX && strchr(v0, '@') != NULL)
				parser_msg_warn(m, "recipient address of %zu bytes is over the %d-byte limit: "
				    "not recorded", strlen(v0), REPORT_ADDR_MAX);
			return;
		}
	}
	addr = o != NULL ? o : g_strdup(fin);
	rc = parser_msg_add_rcpt(m, addr);
	if (rc == NULL) {
		g_free(fin);
		return;
	}
	if (fin != NULL && strcmp(fin, rc->recipient) != 0 && rc->final_recipient == NULL)
		rc->final_recipient = fin;
	else
		g_free(fin);

	if (rc->action == NULL && (v = parser_fields_get(f, "Action")) != NULL) {
		char *a = g_ascii_strdown(v, -1);

		g_strstrip(a);
		a[strcspn(a, " \t(;")] = '\0';
		if (a[0] != '\0' && strlen(a) < 32)
			rc->action = a;
		else
			g_free(a);
	}
	if (rc->status[0] == '\0' && (v = parser_fields_get(f, "Status")) != NULL) {
		char st[16];

		if (parser_text_find_status(v, st) && report_status_valid(st))
			g_strlcpy(rc->status, st, sizeof(rc->status));
	}
	if (rc->remote_mta == NULL && (v = parser_fields_get(f, "Remote-MTA")) != NULL) {
		char *s = strip_type(v);

		if (s != NULL && strlen(s) > m->lim->max_field)
			s[m->lim->max_field] = '\0';
		rc->remote_mta = s;
	}
	if (rc->diagnostic == NULL && (v = parser_fields_get(f, "Diagnostic-Code")) != NULL) {
		const char *semi = strchr(v, ';');
		const char *text = v;

		/* "smtp; 550 ..." -> type "smtp", text "550 ..." */
		if (semi != NULL && semi - v < 32 && memchr(v, ' ', (size_t)(semi - v)) == NULL) {
			char *t = g_ascii_strdown(v, semi - v);

			g_strstrip(t);
			if (t[0] != '\0' && rc->diagnostic_type == NULL)
				rc->diagnostic_type = t;
			else
				g_free(t);
			text = semi + 1;
		}
		{
			char *d = g_strdup(text);

			parser_text_join_smtp_lines(d);
			parser_msg_set_text(m, &rc->diagnostic, d, strlen(d));
			g_free(d);
		}
	}
	if (rc->category == NULL && (v = parser_fields_get(f, "X-PowerMTA-BounceCategory")) != NULL) {
		rc->category = g_ascii_strdown(v, -1);
		g_strstrip(rc->category);
	}
	if (rc->diagnostic == NULL || rc->smtp_command == NULL) {
		/*
		 * The notification's lines about this recipient: its diagnostic when
		 * the block has none, and the SMTP stage, which Postfix writes only
		 * there ("(in reply to RCPT TO command)").
		 */
		char *prose = parser_note_diag_for_addr(m, rc->recipient);

		if (prose == NULL && rc->final_recipient != NULL)
			prose = parser_note_diag_for_addr(m, rc->final_recipient);
		if (prose != NULL && rc->smtp_command == NULL) {
			/* a transcript's pairing of replies and commands first */
			enum classify_cmd c = m->lower != NULL ?
				parser_text_transcript_command(m->lower, rc->recipient) : CLASSIFY_CMD_NONE;

			if (c == CLASSIFY_CMD_NONE)
				c = parser_text_find_command(prose);

			/* Postfix names the stage on the final recipient's lines */
			if (c == CLASSIFY_CMD_NONE && rc->final_recipient != NULL) {
				char *fp = parser_note_diag_for_addr(m, rc->final_recipient);

				if (fp != NULL)
					c = parser_text_find_command(fp);
				g_free(fp);
			}
			if (c != CLASSIFY_CMD_NONE)
				rc->smtp_command = g_strdup(classify_cmd_name(c));
		}
		if (rc->diagnostic == NULL)
			rc->diagnostic = prose;
		else if (prose != NULL)
			g_hash_table_replace(m->context, rc, prose);
	}
	/* a generic "5.0.0" yields to the diagnostic's own precise code */
	if (rc->diagnostic != NULL &&
	    (rc->status[0] == '\0' || strcmp(rc->status + 1, ".0.0") == 0)) {
		char st[16];

		if (parser_text_find_status(rc->diagnostic, st) && report_status_valid(st) &&
		    (rc->status[0] == '\0' || st[0] == rc->status[0]))
			g_strlcpy(rc->status, st, sizeof(rc->status));
	}
}

/* Does the line at p start with name (case-insensitive, column 0)? */
static int
line_is(const char *p, const char *name)
{
	return g_ascii_strncasecmp(p, name, strlen(name)) == 0;
}

/*
 * No delivery-status part, but its fields in the text: a DSN forwarded
 * inline, a multipart whose boundary is broken, MTAs that write the
 * fields into the notification.  The region runs from the Reporting-MTA
 * line before the first recipient field (or that field's paragraph) to
 * the next MIME boundary, part header or returned message.
 */
static void
dsn_from_text(struct msg *m)
{
	const char *text = m->text->str, *first = NULL, *start, *end, *p;

	for (p = text; p != NULL && *p; ) {
		if (line_is(p, "final-recipient:") || line_is(p, "original-recipient:")) {
			first = p;
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (first == NULL)
		return;
	/* back to Reporting-MTA (within 40 lines) or the paragraph start */
	start = first;
	for (int lines = 0; p > text && lines < 40; lines++) {
		const char *prev = p - 1;

		while (prev > text && prev[-1] != '\n')
			prev--;
		if (line_is(prev, "reporting-mta:")) {
			start = prev;
			break;
		}
		if (line_is(prev, "--") || line_is(prev, "content-type:"))
			break;
		p = prev;
	}
	if (start == first) {
		while (start > text && !(start[-1] == '\n' && start - 1 > text && start[-2] == '\n'))
			start--;
	}
	for (end = first; *end; ) {
		if (end != first && (line_is(end, "--") || line_is(end, "content-type:") ||
		    line_is(end, "received:") || line_is(end, "return-path:")))
			break;
		end = strchr(end, '\n');
		if (end == NULL) {
			end = text + m->text->len;
			break;
		}
		end++;
	}
	g_ptr_array_add(m->dsn, g_string_new_len(start, end - start));
	parser_msg_warn(m, "delivery-status fields found in the text, not in a MIME part");
}

/*
 * One block of fields may hold several recipients when the MTA left out the
 * blank lines between them (AOL, some Exchange versions): a Final-Recipient
 * when the block already has one, or an Original-Recipient after a
 * Final-Recipient and an Action, starts the next recipient's block.
 */
static void
rcpt_blocks(struct msg *m, const GPtrArray *f, unsigned *index, const char *reporting)
{
	GPtrArray *sub = g_ptr_array_new();   /* borrowed fields of f */
	int final = 0, action = 0;

	for (guint i = 0; i < f->len; i++) {
		const struct field *fl = g_ptr_array_index(f, i);
		int is_final = g_ascii_strcasecmp(fl->name, "Final-Recipient") == 0;

		if ((is_final && final) ||
		    (g_ascii_strcasecmp(fl->name, "Original-Recipient") == 0 && final && action)) {
			if (has_rcpt_fields(sub))
				rcpt_block(m, sub, (*index)++, reporting);
			g_ptr_array_set_size(sub, 0);
			final = action = 0;
		}
		final |= is_final;
		action |= g_ascii_strcasecmp(fl->name, "Action") == 0;
		g_ptr_array_add(sub, (gpointer)fl);
	}
	if (has_rcpt_fields(sub))
		rcpt_block(m, sub, (*index)++, reporting);
	g_ptr_array_free(sub, TRUE);
}

int
parser_decode_rfc3464(struct msg *m)
{
	unsigned before = m->r->rcpts->len;
	char *reporting = NULL, *orig_id = NULL;

	if (m->dsn->len == 0)
		dsn_from_text(m);

	for (guint i = 0; i < m->dsn->len; i++) {
		const GString *body = g_ptr_array_index(m->dsn, i);
		const char *pos = body->str, *end = body->str + body->len;
		unsigned index = 0;
		GPtrArray *f = g_ptr_array_new_with_free_func(parser_field_free);
		const char *v;

		parser_fields_parse(&pos, end, f, DSN_FIELDS_MAX);
		if (reporting == NULL && (v = parser_fields_get(f, "Reporting-MTA")) != NULL)
			reporting = strip_type(v);
		if (orig_id == NULL && (v = parser_fields_get(f, "X-Original-Message-ID")) != NULL) {
			char *a = g_strdup(v);

			g_strstrip(a);
			g_strdelimit(a, "<>", ' ');
			g_strstrip(a);
			orig_id = a;
		}
		if (m->r->orig_queue_id == NULL && (v = parser_fields_get(f, "X-Postfix-Queue-ID")) != NULL) {
			char *q = g_strstrip(g_strdup(v));
			size_t n = strlen(q);

			/* letters and digits only: it is matched against the log's queue IDs */
			if (n == 0 || n > 31 || strspn(q, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz") != n)
				g_free(q);
			else
				m->r->orig_queue_id = q;
		}
		if (has_rcpt_fields(f))
			rcpt_blocks(m, f, &index, reporting);
		while (pos < end) {
			g_ptr_array_set_size(f, 0);
			if (parser_fields_parse(&pos, end, f, DSN_FIELDS_MAX) == 0)
				continue;
			if (has_rcpt_fields(f))
				rcpt_blocks(m, f, &index, reporting);
		}
		g_ptr_array_free(f, TRUE);
	}
	if (m->r->rcpts->len == before) {
		g_free(reporting);
		g_free(orig_id);
		return 0;
	}
	if (m->mta != NULL && (m->mta->flags & MTA_TEXT_ORCPT) && m->r->rcpts->len == 1) {
		/* the MTA's text holds the address as the sender wrote it: its ORCPT */
		struct report_rcpt *rc = g_ptr_array_index(m->r->rcpts, 0);
		char *o = rc->final_recipient == NULL ? parser_note_single_recipient(m) : NULL;

		if (o != NULL && strcmp(o, rc->recipient) != 0) {
			rc->final_recipient = rc->recipient;
			rc->recipient = o;
		} else {
			g_free(o);
		}
	}
	if (m->r->reporting_mta == NULL)
		m->r->reporting_mta = reporting;
	else
		g_free(reporting);
	if (m->r->orig_message_id == NULL && orig_id != NULL && orig_id[0] != '\0')
		m->r->orig_message_id = orig_id;
	else
		g_free(orig_id);
	return 1;
}
