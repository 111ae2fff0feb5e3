/* SPDX-License-Identifier: MIT */
/*
 * mta.c - which MTA or mail service wrote the bounce: a table of
 * signatures (the From address, the Subject, a header, the fixed phrases
 * of its notification text), and for prose bounces where that MTA's
 * notification ends (the line that introduces the returned message).
 *
 * The name goes to report->mta.  It selects the classification rows that
 * trust an MTA's own words about its own mailbox lookup (classify.c), and
 * tells the prose decoder where the notification stops.  A bounce whose
 * MTA is not in the table is still decoded, with the generic markers.
 *
 * Signatures are the MTAs' fixed wording, lowercased; every non-NULL group
 * of a row must match (any string of a group), rows are tried in order.
 */
#include <string.h>

#include "decode.h"

#define ANY(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOTHING ((const char *const[]){ NULL })

/* Bytes of notification text searched for an MTA's phrases. */
#define SIG_WINDOW 8192

/*
 * Lines that introduce the returned message in prose bounces, whatever
 * the MTA: the notification text ends at the first line containing one.
 */
static const char *const generic_ends[] = {
	"below this line is a copy of the message",
	"enclosed is a copy of the message",
	"this is a copy of the message",
	"this is a copy of your message",
	"copy of the original message",
	"original message follows",
	"----- original message -----",
	"-- original message --",
	"header of the original message is following",
	"included is a copy of the message header",
	"unsent message follows",
	"returned message --------",
	"------- returned message",
	"original message headers",
	"message headers follow",
	"-------original message",
	"original message:",
	"returned message follows",
	"------ original message",
	"--- original message",
	"original mail follows",
	NULL
};

/* What a list manager says when it refuses a post from a non-member. */
#define LIST_REFUSALS ANY("you are not a member", "is not a member of", "not a member of this", \
	"not allowed to post", "only members", "members only", "posting is restricted to", \
	"you are not subscribed", "non-member submission", "not on the list of members")

const struct mta_sig parser_mta_table[] = {
	/* Google */
	{ .name = "googlegroups", .from = ANY("mailer-daemon@googlemail.com", "mailer-daemon@google.com"),
	  .text = ANY("google groups", "google \xe3\x82\xb0\xe3\x83\xab\xe3\x83\xbc\xe3\x83\x97", "groups.google.com") },
	{ .name = "gmail", .from = ANY("mailer-daemon@googlemail.com", "mailer-daemon@google.com",
		"mailer-daemon@gmail.com") },
	/*
	 * Mailing-list managers (FML, Mailman, Majordomo, LISTSERV, Sympa...)
	 * refusing a post from a non-member: the list address refuses us.
	 */
	{ .name = "listmanager", .header = "X-ML-Name", .text = LIST_REFUSALS },
	{ .name = "listmanager", .from = ANY("-request@", "-admin@", "-owner@", "owner-", "majordomo@",
		"listserv@", "sympa@", "fml@"), .text = LIST_REFUSALS },
	/* Microsoft */
	{ .name = "exchange2003", .header = "X-Mailer", .header_value = ANY("internet mail service",
		"microsoft exchange server internet mail connector") },
	{ .name = "exchange2003", .text = ANY("did not reach the following recipient", "msexch:") },
	{ .name = "office365", .text = ANY("diagnostic information for administrators", "office 365") },
	{ .name = "outlook", .from = ANY("postmaster@hotmail.com", "postmaster@outlook.com",
		"postmaster@live.com", "postmaster@msn.com") },
	{ .name = "exchange2007", .text = ANY("remote server returned '", "delivery has failed to these recipients") },
	/* the old and new Unix MTAs */
	{ .name = "qmail", .text = ANY("this is the qmail-send program", "i'm afraid i wasn't able to deliver") },
	{ .name = "yahoo", .from = ANY("mailer-daemon@yahoo"),
	  .text = ANY("sorry, we were unable to deliver your message") },
	{ .name = "x4", .text = ANY("your mail message to the following address(es) could not be delivered") },
	{ .name = "x2", .text = ANY("unable to deliver message to the following address(es)") },
	{ .name = "opensmtpd", .text = ANY("this is the mailer-daemon, please do not reply",
		"an error has occurred while attempting to deliver a message for") },
	{ .name = "courier", .text = ANY("this is a delivery status notification from") },
	{ .name = "mailru", .from = ANY("@corp.mail.ru", "@mail.ru") },
	{ .name = "gmx", .from = ANY("@mail.gmx", "@gmx.") },
	{ .name = "einsundeins", .text = ANY("header of the original message is following") },
	{ .name = "exim", .text = ANY("this message was created automatically by mail delivery software") },
	{ .name = "exim", .header = "X-Failed-Recipients" },
	{ .name = "sendmail", .text = ANY("----- transcript of session follows -----",
		"----- the following addresses had permanent fatal errors -----") },
	{ .name = "postfix", .text = ANY("this is the mail system at host", "the mail system") ,
	  .from = ANY("mailer-daemon") },
	/*
	 * L-Soft LSMTP (and LISTSERV's own delivery errors): one block per
	 * recipient, "Error-For: a@b", "Error-Code: 5", "Error-Text: the
	 * reason", closed by "Error-End: n errors reported."
	 */
	{ .name = "lsmtp", .text = ANY("error-for:") },
	/* appliances and services */
	{ .name = "mcafee", .text = ANY(" --- the following addresses had delivery problems ---") },
	/* Lotus Notes / Domino (one MTA: "Notes" SMTP MTA, later Domino) */
	{ .name = "domino", .text = ANY("------- failure reasons  --------", "lotus smtp mta") },
	/*
	 * Lotus Domino names the recipient in its text as the sender addressed
	 * it ("was not delivered to:"); its DSN's Final-Recipient is the
	 * address after its own routing, and it writes no Original-Recipient.
	 */
	{ .name = "domino", .subject = ANY("delivery failure:", "delivery failure"),
	  .text = ANY("was not delivered to:"), .flags = MTA_TEXT_ORCPT },
	{ .name = "trendmicro", .text = ANY("interscan messaging security", "interscan") },
	/*
	 * Verizon's MMS gateway returns no message, only a summary after
	 * "Original Message:" whose To: is the failed handset address; its
	 * reason ("Error: ...") is stated once at the top.
	 */
	{ .name = "verizon", .from = ANY("vzwpix.com", "vtext.com"), .ends = NOTHING,
	  .flags = MTA_DIAG_WHOLE | MTA_RCPT_TO_LINE },
	{ .name = "ezweb", .from = ANY("@ezweb.ne.jp"), .flags = MTA_DIAG_WHOLE },
	{ .name = "kddi", .from = ANY(".dion.ne.jp", "@au.com") },
	{ .name = "biglobe", .from = ANY("@biglobe.ne.jp"), .flags = MTA_DIAG_WHOLE },
	{ .name = "imailserver", .header = "X-Mailer", .header_value = ANY("<smtp32") },
	{ .name = "mfilter", .header = "X-Mailer", .header_value = ANY("m-filter") },
	{ .name = "surfcontrol", .header = "X-Mailer", .header_value = ANY("surfcontrol") },
	{ .name = "zoho", .from = ANY("@mail.zoho.com", "@zoho.com") },
	{ .name = "mailfoundry", .text = ANY("unable to deliver message to: <", "delivery failed for the following reason") },
	{ .name = "mailmarshal", .text = ANY("the following recipients were affected"),
	  .flags = MTA_DIAG_WHOLE },
	{ .name = "amazonworkmail", .text = ANY("amazon workmail") },
	{ .name = "amazonses", .from = ANY("@amazonses.com", "no-reply@sns.amazonaws.com") },
	{ .name = "messagingserver", .text = ANY("this report relates to a message you sent with the following header fields") },
	{ .name = "x1", .text = ANY("---the following addresses had delivery errors---") },
	{ .name = "x3", .text = ANY("this is an automatically generated delivery status notification") },
	{ .name = "x6", .text = ANY("we had trouble delivering your message") },
	{ .name = "powermta", .header = "X-PowerMTA-VirtualMTA" },
};
const unsigned parser_mta_count = G_N_ELEMENTS(parser_mta_table);

const char *const *
parser_mta_generic_ends(void)
{
	return generic_ends;
}

static int
any_in(const char *const *pats, const char *s)
{
	if (s == NULL)
		return 0;
	for (; *pats != NULL; pats++)
		if (parser_text_casestr(s, *pats) != NULL)
			return 1;
	return 0;
}

/* pats are lowercase, s is lowercased already: plain strstr */
static int
any_lower(const char *const *pats, const char *s)
{
	for (; *pats != NULL; pats++)
		if (strstr(s, *pats) != NULL)
			return 1;
	return 0;
}

/* Same on the first len bytes of s. */
static int
any_lower_len(const char *const *pats, const char *s, size_t len)
{
	if (s[len] == '\0')
		return any_lower(pats, s);       /* strstr is faster than memmem */
	for (; *pats != NULL; pats++)
		if (memmem(s, len, *pats, strlen(*pats)) != NULL)
			return 1;
	return 0;
}

const struct mta_sig *
parser_mta_identify(const struct msg *m)
{
	for (unsigned i = 0; i < parser_mta_count; i++) {
		const struct mta_sig *sig = &parser_mta_table[i];

		if (sig->from != NULL && !any_lower(sig->from, m->lfrom))
			continue;
		if (sig->subject != NULL && !any_lower(sig->subject, m->lsubject))
			continue;
		if (sig->header != NULL) {
			const char *v = parser_msg_header(m, sig->header);

			if (v == NULL)
				continue;
			if (sig->header_value != NULL && !any_in(sig->header_value, v))
				continue;
		}
		/* an MTA's fixed phrases are in the first lines of its text */
		if (sig->text != NULL && !any_lower_len(sig->text, m->lower, MIN(m->text->len, SIG_WINDOW)))
			continue;
		return sig;
	}
	return NULL;
}
