/* SPDX-License-Identifier: MIT */
/*
 * decode-rfc3834.c - automatic replies (RFC 3834): vacation and
 * out-of-office answers.  They are never bounces: the address that wrote
 * the auto-reply works.  Class autoreply, reason vacation, and the
 * recipient is the auto-reply's own sender (From:).
 *
 * Signals: Auto-Submitted: auto-replied (RFC 3834 5.1), the headers of
 * common responders (X-Autoreply, X-Autorespond, Precedence: auto_reply,
 * Apple's X-Apple-Action: VACATION), the subject prefixes mail clients
 * put on them ("Automatic reply:", "Out of Office", "Auto:", "Abwesenheit",
 * "Ausente", "Réponse automatique"... in many languages), and failing all
 * these, the opening words of an absence notice ("I am out of the office").  Bounces
 * carry Auto-Submitted too (Exim, Gmail), so a message that looks like a
 * bounce (a mailer daemon's From, X-Failed-Recipients, a delivery report,
 * a non-delivery subject) is never an auto-reply.
 */
#include <string.h>

#include "decode.h"

static const char *const responder_headers[] = {
	"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-Mail-Autoreply",
	"X-Vacation", NULL
};

static const char *const reply_subjects[] = {
	"auto:", "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response",
	"autorespons", "auto-response", "out of office", "out of the office", "ooo:",
	"vacation", "away from", "away until", "abwesenheit", "automatische antwort",
	"r\xc3\xa9ponse automatique", "respuesta autom\xc3\xa1tica", "risposta automatica",
	"automatisch antwoord", "\xe8\x87\xaa\xe5\x8b\x95\xe5\xbf\x9c\xe7\xad\x94",
	"\xe4\xb8\x8d\xe5\x9c\xa8",
	/* Outlook's and webmail's words in other languages (accents as sent or dropped) */
	"absence", "ausente", "abwesend", "afwezig", "fuori ufficio", "hors du bureau",
	"automatiska atbilde", "autom\xc4\x81tisk\xc4\x81 atbilde",       /* lv */
	"automatiskt svar", "automatisk svar", "automaattinen vastaus",      /* sv, da/no, fi */
	"resposta autom\xc3\xa1tica", "resposta automatica",                /* pt */
	"odpowied\xc5\xba automatyczna", "automatick\xc3\xa1 odpov\xc4\x9b\xc4\x8f", /* pl, cs */
	"automatikus v\xc3\xa1lasz", "otomatik yan\xc4\xb1t",                /* hu, tr */
	"fuera de la oficina", "fuera de oficina", "fora do escrit\xc3\xb3rio", /* es, pt */
	"fr\xc3\xa5nvaro", "poza biurem", "nieobecno\xc5\x9b\xc4\x87",          /* sv, pl */
	"\xd0\xb0\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbc\xd0\xb0\xd1\x82\xd0\xb8\xd1\x87\xd0\xb5\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9 \xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82", /* ru */
	NULL
};

/*
 * The first words of an absence notice, for replies that carry neither a
 * header nor a telling subject: read in the first lines of the text only.
 */
static const char *const reply_openings[] = {
	"i am out of office", "i am out of the office", "i'm out of the office",
	"i am currently out of the office", "i will be out of the office", "i am away from the office",
	"i am on vacation", "i am on holiday", "i am on annual leave", "thank you for your email. i am out",
	"je suis absent", "ich bin abwesend", "ich bin nicht im b\xc3\xbcro", "estoy ausente",
	"estoy fuera de la oficina", "sono fuori ufficio", "ik ben afwezig",
	"estoy de vacaciones", "je suis en cong\xc3\xa9", "ich bin im urlaub", "sono in ferie", NULL
};
#define OPENING_BYTES 400

/* Bounce evidence that rules an auto-reply out. */
static const char *const bounce_words[] = {
	"mailer-daemon", "postmaster", "mail delivery", "undeliver", "delivery status",
	"failure notice", "returned mail", "delivery fail", "non-delivery", NULL
};

static int
is_autoreply(const struct msg *m)
{
	const char *v;

	if (m->dsn->len > 0 || m->feedback->len > 0 || parser_msg_header(m, "X-Failed-Recipients") != NULL)
		return 0;
	for (const char *const *w = bounce_words; *w; w++)
		if (strstr(m->lfrom, *w) != NULL || strstr(m->lsubject, *w) != NULL)
			return 0;
	v = parser_msg_header(m, "Auto-Submitted");
	if (v != NULL && parser_text_casestr(v, "auto-replied") != NULL)
		return 1;
	for (const char *const *h = responder_headers; *h; h++)
		if (parser_msg_header(m, *h) != NULL)
			return 1;
	v = parser_msg_header(m, "X-Apple-Action");
	if (v != NULL && parser_text_casestr(v, "vacation") != NULL)
		return 1;
	v = parser_msg_header(m, "Precedence");
	if (v != NULL && parser_text_casestr(v, "auto_reply") != NULL)
		return 1;
	for (const char *const *s = reply_subjects; *s; s++)
		if (strstr(m->lsubject, *s) != NULL)
			return 1;
	if (m->lower != NULL) {
		char head[OPENING_BYTES + 1];

		g_strlcpy(head, m->lower, sizeof(head));
		for (const char *const *o = reply_openings; *o; o++)
			if (strstr(head, *o) != NULL)
				return 1;
	}
	return 0;
}

int
parser_decode_rfc3834(struct msg *m)
{
	const char *from = m->from, *v;
	char *addr;
	struct report_rcpt *rc;

	if (!is_autoreply(m))
		return 0;
	/* the responder answers from its own address; Reply-To is not it */
	if ((v = parser_msg_header(m, "Return-Path")) != NULL && strchr(v, '@') != NULL &&
	    (from == NULL || strchr(from, '@') == NULL))
		from = v;
	addr = from != NULL ? parser_addr_parse(from, strlen(from)) : NULL;
	if (addr == NULL) {
		m->unnamed = 1;
		parser_msg_set_text(m, &m->r->unnamed.diagnostic, m->text->str, m->text->len);
		return 1;
	}
	rc = parser_msg_add_rcpt(m, addr);
	if (rc != NULL && rc->diagnostic == NULL) {
		/* the first paragraph of the reply */
		const char *s = m->text->str, *e;

		while (*s == '\n' || *s == ' ')
			s++;
		e = strstr(s, "\n\n");
		if (e != NULL && e - s < 40 && strstr(e + 2, "\n\n") != NULL)
			e = strstr(e + 2, "\n\n");   /* a one-line salutation first */
		parser_msg_set_text(m, &rc->diagnostic, s, e != NULL ? (size_t)(e - s) : strlen(s));
	}
	return 1;
}
