/* SPDX-License-Identifier: MIT */
/*
 * decode-arf.c - complaint reports: RFC 5965 Abuse Reporting Format (the
 * feedback loops of Yahoo, AOL, Comcast, Gmail's aggregate FBL, Return
 * Path...), Microsoft's JMRP (no feedback-report part: the complained-about
 * message attached with X-HmXmrOriginalRecipient), and Apple Mail's
 * "unsubscribe" messages (the recipient asks to stop: treated as an
 * opt-out complaint).
 *
 * The complained-about recipient is, in order: every Original-Rcpt-To of
 * the report (RFC 6650), Removal-Recipient (older drafts), Microsoft's
 * X-HmXmrOriginalRecipient, then the single To address of the attached
 * message: for a complaint the attached message is the evidence of who
 * complained (RFC 5965 section 2).  Providers often redact it; a report
 * naming nobody keeps a "complaint" verdict in report->unnamed, which the
 * VERP-recovered address adopts.
 */
#include <string.h>

#include "decode.h"

#define ARF_FIELDS_MAX 128

static void add_complaint(struct msg *m, const char *v, const char *diag);
static char *first_paragraph(const struct msg *m);

static void
add_complaint(struct msg *m, const char *v, const char *diag)
{
	char *a = parser_addr_parse(v, strlen(v));
	struct report_rcpt *rc;

	if (a == NULL)
		return;
	rc = parser_msg_add_rcpt(m, a);
	if (rc != NULL && rc->diagnostic == NULL && diag != NULL)
		rc->diagnostic = g_strdup(diag);
}

/* The report's human-readable part: its first paragraph, squeezed. */
static char *
first_paragraph(const struct msg *m)
{
	const char *s = m->text->str, *e;

	while (*s == '\n' || *s == ' ' || *s == '\t')
		s++;
	e = strstr(s, "\n\n");
	if (e == NULL)
		e = s + strlen(s);
	if (e == s)
		return NULL;
	return parser_text_squeeze(s, (size_t)(e - s), m->lim->max_field);
}

int
parser_decode_arf(struct msg *m)
{
	struct report *r = m->r;
	GPtrArray *f = NULL;
	const char *v, *type = NULL;
	char *diag;
	unsigned before = r->rcpts->len;

	if (m->feedback->len > 0) {
		const GString *body = g_ptr_array_index(m->feedback, 0);
		const char *pos = body->str;

		f = g_ptr_array_new_with_free_func(parser_field_free);
		parser_fields_parse(&pos, body->str + body->len, f, ARF_FIELDS_MAX);
		type = parser_fields_get(f, "Feedback-Type");
		if (type == NULL)
			type = "abuse";
	} else if ((v = parser_fields_get(m->orig, "X-HmXmrOriginalRecipient")) != NULL ||
		   strstr(m->lsubject, "complaint about message from") != NULL) {
		type = "abuse";     /* Microsoft JMRP */
	} else if (strstr(m->lower, "apple mail sent this email to unsubscribe") != NULL) {
		type = "opt-out";
	} else {
		return 0;
	}

	diag = first_paragraph(m);
	if (f != NULL) {
		for (guint i = 0; i < f->len; i++) {
			const struct field *fd = g_ptr_array_index(f, i);

			if (g_ascii_strcasecmp(fd->name, "Original-Rcpt-To") == 0 ||
			    g_ascii_strcasecmp(fd->name, "Removal-Recipient") == 0)
				add_complaint(m, fd->value, diag);
		}
	}
	if (r->rcpts->len == before && (v = parser_fields_get(m->orig, "X-HmXmrOriginalRecipient")) != NULL)
		add_complaint(m, v, diag);
	if (r->rcpts->len == before && strcmp(type, "opt-out") == 0 && m->from[0] != '\0')
		add_complaint(m, m->from, diag);   /* the unsubscribing recipient wrote it */
	if (r->rcpts->len == before && (v = parser_fields_get(m->orig, "To")) != NULL &&
	    strchr(v, ',') == NULL)
		add_complaint(m, v, diag);

	r->feedback_type = g_ascii_strdown(type, -1);
	g_strstrip(r->feedback_type);
	if (f != NULL && r->orig_sender == NULL && (v = parser_fields_get(f, "Original-Mail-From")) != NULL)
		r->orig_sender = parser_addr_parse(v, strlen(v));
	if (r->rcpts->len == before) {
		m->unnamed = 1;
		r->unnamed.diagnostic = diag;
	} else {
		g_free(diag);
	}
	if (f != NULL)
		g_ptr_array_free(f, TRUE);
	return 1;
}
