/* SPDX-License-Identifier: MIT */
/*
 * decode-prose.c - bounces written as prose by an MTA (qmail, Exim,
 * Sendmail v5 transcripts, Exchange 2003, Notes, Gmail, Yahoo, the
 * appliances...), with no machine-readable delivery-status part.
 *
 * One engine for all of them (on the notification as note.c reads it),
 * because they share a shape: an introduction
 * ("I'm afraid I wasn't able to deliver your message to the following
 * addresses"), then each failed recipient followed (or preceded) by the
 * remote server's answer, then a line introducing the returned message.
 *
 *  1. the notification is the text up to the first line that introduces
 *     the returned message (mta.c generic_ends); nothing after it is read,
 *     so addresses of the returned message are never taken as recipients;
 *  2. recipients: X-Failed-Recipients when present (Exim, Gmail); else
 *     every address of the notification that is not ours (the bounce's
 *     To/From, the original sender), not on a header-like line ("To:",
 *     "From:", "Message-ID:" of a quoted header summary) and not in a
 *     sender context ("MAIL FROM:<...>", "sent by <...>");
 *  3. each recipient's diagnostic: its line and the lines after it up to a
 *     blank line or the next recipient; when that holds nothing, the whole
 *     notification minus headings and address lines;
 *  4. AOL's own bounces name a member by screen name alone: when the
 *     notification names no address, its bare names are the recipients,
 *     at aol.com (parser_note_bare_names());
 *  5. a bounce that names nobody keeps its verdict in report->unnamed.
 */
#include <string.h>

#include "decode.h"

static int looks_like_bounce(const struct msg *m);
static const char *prose_action(const char *lower_note);
static void pick_recipients(const struct msg *m, const char *lnote, const GPtrArray *own,
	GPtrArray *cands, const char *xfr);

/* From: local parts and display names of the mailer daemons. */
static const char *const daemon_from[] = {
	"mailer-daemon", "mailer_daemon", "mail-daemon", "postmaster", "post_master",
	"mail delivery", "mdaemon", "mail.delivery", "ndr administrator", "mailerdaemon",
	"delivery subsystem", "delivery system", NULL
};

/* Subjects of non-delivery reports. */
static const char *const bounce_subjects[] = {
	"undeliver", "delivery fail", "failure notice", "returned mail", "mail delivery failed",
	"delivery status notification", "non-delivery", "nondelivery", "could not be delivered",
	"delivery failure", "mail system error", "returning message to sender", "failed delivery",
	"undelivered", "delivery notification", "mail failure", "delivery report",
	"delivery problem", "not delivered", "rejected", "there was an error sending",
	"message delivery has failed", "delivery status", NULL
};

/* Text saying the report is only a delay warning. */
static const char *const delay_phrases[] = {
	"has been delayed", "will be retried", "warning message only", "delivery delayed",
	"not yet been delivered", "still trying", "will keep trying", "delayed delivery",
	"message will be retried", NULL
};

static int
looks_like_bounce(const struct msg *m)
{
	if (m->mta != NULL || parser_msg_header(m, "X-Failed-Recipients") != NULL)
		return 1;
	for (const char *const *p = daemon_from; *p; p++)
		if (strstr(m->lfrom, *p) != NULL)
			return 1;
	for (const char *const *p = bounce_subjects; *p; p++)
		if (strstr(m->lsubject, *p) != NULL)
			return 1;
	return 0;
}

static const char *
prose_action(const char *lower_note)
{
	for (const char *const *p = delay_phrases; *p; p++)
		if (strstr(lower_note, *p) != NULL)
			return "delayed";
	return "failed";
}


/*
 * Which candidates are the failed recipients:
 *  - X-Failed-Recipients (Exim, Gmail) when the text names them too;
 *  - else the text's addresses that are not ours;
 *  - else X-Failed-Recipients alone (Google Groups name only the sender);
 *  - else our own address when it stands alone on a recipient line (a
 *    message sent to ourselves).
 * cands is rewritten to the chosen recipients, in order.
 */
static void
pick_recipients(const struct msg *m, const char *lnote, const GPtrArray *own, GPtrArray *cands,
	const char *xfr)
{
	GPtrArray *xl = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *keep = g_ptr_array_new();
	int step;

	(void)own;
	if (xfr != NULL) {
		const char *v = xfr, *s, *e = xfr + strlen(xfr);
		size_t len;

		while (xl->len < NOTE_CANDIDATES_MAX && parser_addr_find(v, e, &s, &len)) {
			char *a = parser_addr_parse(s, len);

			if (a != NULL && !parser_note_in_list(xl, a))
				g_ptr_array_add(xl, a);
			else
				g_free(a);
			v = s + len;
		}
	}
	for (step = 0; step < 4 && keep->len == 0; step++) {
		for (guint i = 0; i < cands->len; i++) {
			struct note_cand *c = g_ptr_array_index(cands, i);

			if ((step == 0 && xl->len > 0 && parser_note_in_list(xl, c->addr)) ||
			    (step == 1 && !c->own) ||
			    (step == 3 && c->own && c->alone))
				g_ptr_array_add(keep, c);
		}
		if (step == 2 && xl->len > 0) {
			/* X-Failed-Recipients alone: find each one's line if any */
			for (guint i = 0; i < xl->len; i++) {
				const char *a = g_ptr_array_index(xl, i);
				const char *at = strstr(lnote, a);
				struct note_cand *c = g_new0(struct note_cand, 1);

				c->addr = g_strdup(a);
				if (at != NULL) {
					while (at > lnote && at[-1] != '\n')
						at--;
					c->line = (size_t)(at - lnote);
				} else {
					c->line = (size_t)-1;
				}
				g_ptr_array_add(cands, c);
				g_ptr_array_add(keep, c);
			}
		}
	}
	/* keep only the chosen ones, in their order */
	for (guint i = 0; i < cands->len; ) {
		struct note_cand *c = g_ptr_array_index(cands, i);
		int kept = 0;

		for (guint k = 0; k < keep->len; k++)
			if (g_ptr_array_index(keep, k) == c)
				kept = 1;
		if (!kept)
			g_ptr_array_remove_index(cands, i);   /* frees c */
		else
			i++;
	}
	(void)m;
	g_ptr_array_free(keep, TRUE);
	g_ptr_array_free(xl, TRUE);
}

int
parser_decode_prose(struct msg *m)
{
	struct note *n;
	GPtrArray *cands;
	const char *action;
	int found = 0;

	if (!looks_like_bounce(m))
		return 0;
	n = parser_note_get(m);
	action = prose_action(n->lower);
	/* a working copy: pick_recipients() rewrites it */
	cands = g_ptr_array_new_with_free_func(parser_note_cand_free);
	for (guint i = 0; i < n->cands->len; i++) {
		const struct note_cand *c = g_ptr_array_index(n->cands, i);
		struct note_cand *d = g_new(struct note_cand, 1);

		*d = *c;
		d->addr = g_strdup(c->addr);
		g_ptr_array_add(cands, d);
	}
	pick_recipients(m, n->lower, n->own, cands, parser_msg_header(m, "X-Failed-Recipients"));
	if (cands->len == 0 && parser_msg_from_aol(m, NULL)) {
		GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

		parser_note_bare_names(n, names);
		for (guint i = 0; i < names->len; i++) {
			const char *name = g_ptr_array_index(names, i);
			struct report_rcpt *rc = parser_msg_add_rcpt(m, g_strconcat(name, "@aol.com", NULL));

			if (rc == NULL)
				break;
			found = 1;
			if (rc->action == NULL)
				rc->action = g_strdup(action);
			if (rc->diagnostic == NULL)
				rc->diagnostic = parser_note_diag_for(m, n, name);
			if (rc->diagnostic == NULL)
				rc->diagnostic = parser_note_diag_whole(m, n, n->cands);
		}
		g_ptr_array_free(names, TRUE);
	}

	for (guint i = 0; i < cands->len; i++) {
		struct note_cand *c = g_ptr_array_index(cands, i);
		struct report_rcpt *rc;
		char *diag = NULL;

		if (m->mta == NULL || !(m->mta->flags & MTA_DIAG_WHOLE))
			diag = parser_note_diag_for(m, n, c->addr);
		if (diag == NULL)
			diag = parser_note_diag_whole(m, n, n->cands);
		rc = parser_msg_add_rcpt(m, g_strdup(c->addr));
		if (rc == NULL) {
			g_free(diag);
			break;
		}
		found = 1;
		if (rc->action == NULL)
			rc->action = g_strdup(action);
		if (rc->diagnostic == NULL)
			rc->diagnostic = diag;
		else
			g_free(diag);
	}
	if (!found) {
		/* a bounce that lost its recipient: keep the verdict for VERP */
		m->unnamed = 1;
		m->r->unnamed.action = g_strdup(action);
		m->r->unnamed.diagnostic = parser_note_diag_whole(m, n, n->cands);
	}
	g_ptr_array_free(cands, TRUE);
	return 1;
}
