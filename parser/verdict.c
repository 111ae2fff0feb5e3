/* SPDX-License-Identifier: MIT */
/*
 * verdict.c - one recipient's verdict, in the order of evidence: bounced's
 * own refusal quoted back (never a new bounce), then the providers' own
 * codes (providers.c), then the generic rule table (classify.c).  The
 * class follows from the deciding row and the failure's permanence
 * (classify_class).  classify_rcpt() is declared in classify.h.
 */
#include <string.h>

#include "classify.h"
#include "providers.h"

/*
 * Does rc's own diagnostic name the original message's sender in angle
 * brackets and not the recipient?  Then the answer is about the sender.
 */
static int
names_sender(const struct report_rcpt *rc, const struct report *r)
{
	char *diag, *bracketed;
	int named;

	if (rc->diagnostic == NULL || r->orig_sender == NULL || rc->recipient == NULL ||
	    strcmp(r->orig_sender, rc->recipient) == 0)
		return 0;
	diag = g_ascii_strdown(rc->diagnostic, -1);
	bracketed = g_strconcat("<", r->orig_sender, ">", NULL);
	named = strstr(diag, bracketed) != NULL && strstr(diag, rc->recipient) == NULL;
	g_free(bracketed);
	g_free(diag);
	return named;
}

/*
 * bounced's own refusal: the text its socketmap gives Postfix for a
 * suppressed recipient (bounced/socketmap.c: "550 5.1.1 suppressed: hard
 * userunknown since ..." at SMTP time, "error:5.1.1 suppressed (domain
 * entry): ..." through the error transport), returned by the local Postfix
 * (no Remote-MTA).  Not a new bounce: the address is suppressed already.
 */
static int
classify_own_refusal(const struct report_rcpt *rc)
{
	static const char *const causes[] = { "hard ", "complaint ", "soft ", "manual ",
	    "import " };
	const char *p;

	if (rc->remote_mta != NULL || rc->diagnostic == NULL ||
	    (p = strstr(rc->diagnostic, "suppressed")) == NULL)
		return 0;
	p += strlen("suppressed");
	if (strncmp(p, " (domain entry)", 15) == 0)
		p += 15;
	if (strncmp(p, ": ", 2) != 0)
		return 0;
	p += 2;
	for (size_t i = 0; i < G_N_ELEMENTS(causes); i++)
		if (strncmp(p, causes[i], strlen(causes[i])) == 0 &&
		    strstr(p, " since ") != NULL)
			return 1;
	return 0;
}

void
classify_rcpt(struct report_rcpt *rc, const struct report *r, const char *context)
{
	struct classify_input in;
	const struct classify_rule *row;
	const struct provider_row *prow;
	unsigned char grams[CLASSIFY_GRAMS_BYTES];
	char *lower, *rhost;

	if (classify_own_refusal(rc)) {
		rc->class = REPORT_CLASS_NONE;
		rc->reason = REPORT_REASON_UNDEFINED;
		rc->scope = REPORT_SCOPE_NONE;
		rc->rule = REPORT_RULE_OWN_REFUSAL;
		return;
	}

	if (context != NULL) {
		char *both = g_strconcat(rc->diagnostic != NULL ? rc->diagnostic : "", "\n", context, NULL);

		lower = g_ascii_strdown(both, -1);
		g_free(both);
	} else {
		lower = rc->diagnostic != NULL ? g_ascii_strdown(rc->diagnostic, -1) : NULL;
	}

	in.decoder = r->decoder;
	in.mta = r->mta;
	in.category = rc->category != NULL ? rc->category : "";
	in.action = rc->action != NULL ? rc->action : "";
	in.status = rc->status;
	in.reply = rc->replycode;
	in.cmd = classify_cmd_from_name(rc->smtp_command);
	in.text = lower != NULL ? lower : "";
	{
		const char *at = rc->recipient != NULL ? strrchr(rc->recipient, '@') : NULL;

		in.domain = at != NULL ? at + 1 : "";
	}
	rhost = rc->remote_mta != NULL ? g_ascii_strdown(rc->remote_mta, -1) : NULL;
	if (rhost != NULL)
		g_strstrip(rhost);
	in.rhost = rhost != NULL ? rhost : "";
	in.names_sender = names_sender(rc, r);
	classify_grams(in.text, grams);
	in.grams = grams;
	/* the providers' own codes first (providers.c), then the generic rules */
	prow = providers_match(&in, rc->remote_mta);
	row = prow != NULL ? &prow->rule : classify_input_rule(&in);
	rc->class = classify_class(row, &in);
	rc->reason = row->reason;
	rc->scope = row->scope;
	rc->rule = row->name;
	g_free(rhost);
	g_free(lower);
}
