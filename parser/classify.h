/* SPDX-License-Identifier: MIT */
/*
 * classify.h - the classification rule table: status code, SMTP reply
 * code, SMTP stage and text patterns -> reason, scope and class.
 *
 * Classification is data.  The table in classify.c is read top to bottom
 * and the first row whose every condition holds decides; its name is
 * stored in report_rcpt.rule so every verdict can be explained.  Each row
 * has a fixture under tests/fixtures/rules/, and test-classify proves that
 * no row is shadowed by an earlier one.
 *
 * Class follows from the row: a row marked CLASSIFY_HARD gives "hard" only
 * when the failure is permanent (status 5.x.x, or no status and a 5xx
 * reply, or neither and Action: failed); everything else is "soft" (or
 * "delivered" for the delivery rows).  Rows whose scope is SENDER or
 * MESSAGE are never hard: the test checks the table for it.
 */
#ifndef BOUNCED_CLASSIFY_H
#define BOUNCED_CLASSIFY_H

#include <stddef.h>

#include "report.h"

/* The SMTP stage a failure happened at, as far as the report tells. */
enum classify_cmd {
	CLASSIFY_CMD_NONE,        /* not said */
	CLASSIFY_CMD_CONN,        /* greeting / initial connection */
	CLASSIFY_CMD_HELO,        /* HELO / EHLO */
	CLASSIFY_CMD_MAIL,        /* MAIL FROM */
	CLASSIFY_CMD_RCPT,        /* RCPT TO */
	CLASSIFY_CMD_DATA,        /* DATA or end of data */
	CLASSIFY_CMD_COUNT
};

#define CLASSIFY_CMD_BIT(c) (1u << (c))

/* Row flags */
#define CLASSIFY_HARD   0x1u   /* permanent failure of this kind is hard */

/*
 * One row.  Every non-NULL / non-zero condition must hold:
 *  - decoder: the report came from this decoder (REPORT_DECODER_ARF...;
 *    REPORT_DECODER_NONE, the default, means any);
 *  - mta:     the bounce was written by this MTA (parser/mta.c): its own
 *    phrasing, trusted only in its own bounces;
 *  - category: substring of the reporting MTA's own verdict
 *    (report_rcpt.category, e.g. PowerMTA's "bad-mailbox");
 *  - action:  the DSN Action is this (lowercase);
 *  - status:  pattern on the RFC 3463 code: "5.1.1", "*.1.1", "5.7.*",
 *    "*.4.*"; '*' stands for one whole part;
 *  - reply:   pattern on the SMTP reply: "550", "5**", "4**";
 *  - cmds:    mask of CLASSIFY_CMD_BIT(stage); 0 means any stage, known
 *    or not; CLASSIFY_CMD_BIT(CLASSIFY_CMD_NONE) matches "not said";
 *  - text:    NULL-terminated list of lowercase patterns, any of which
 *    must occur in the diagnostic text (lowercased); '*' inside a pattern
 *    matches any run of characters;
 *  - domains: NULL-terminated list of lowercase domains: the recipient's
 *    domain or the remote MTA's host name is one of them or a subdomain
 *    of one (who answered, for rows about one operator's habits);
 *  - names_sender: 1 when the diagnostic must name our envelope sender
 *    ("<news@example.net>... Access denied") and not the recipient.
 */
struct classify_rule {
	const char *name;
	enum report_decoder decoder;
	const char *mta;
	const char *category;
	const char *action;
	const char *status;
	const char *reply;
	unsigned cmds;
	const char *const *text;
	const char *const *domains;
	int names_sender;
	enum report_reason reason;
	enum report_scope scope;
	unsigned flags;
};

/* What a row is matched against (all strings lowercase where text). */
struct classify_input {
	enum report_decoder decoder; /* report->decoder */
	const char *mta;          /* report->mta, or NULL */
	const char *category;     /* report_rcpt.category, "" when none */
	const char *action;       /* "" when none */
	const char *status;       /* "" when none */
	const char *reply;        /* "" when none */
	enum classify_cmd cmd;
	const char *text;         /* lowercased diagnostic, "" when none */
	const char *domain;       /* the recipient's domain (lowercase), "" when none */
	const char *rhost;        /* the remote MTA's host name (lowercase), "" when none */
	int names_sender;         /* the diagnostic names <orig_sender>, not the recipient */
	/* optional: bigrams present in text (classify_grams()), or NULL */
	const unsigned char *grams;
};

/* Bitmap of the character pairs of text (512 bytes): a fast pre-filter. */
#define CLASSIFY_GRAMS_BYTES 512
void classify_grams(const char *text, unsigned char grams[CLASSIFY_GRAMS_BYTES]);

/* May a text with these bigrams contain s?  0: certainly not, 1: maybe. */
int classify_grams_may_hold(const unsigned char grams[CLASSIFY_GRAMS_BYTES], const char *s);

/*
 * Classifies one recipient of r: sets rc->class, reason, scope and rule from
 * the first matching row.  r->decoder, r->mta and r->orig_sender,
 * rc->recipient, status, replycode, action, smtp_command, remote_mta,
 * category and diagnostic are read; context (may be NULL) is more text
 * about the recipient, matched with the diagnostic.
 * Never fails: the table ends with a catch-all row.  Before the table:
 * bounced's own refusal (no Remote-MTA, its socketmap's wording) is class
 * none, rule REPORT_RULE_OWN_REFUSAL.
 */
void classify_rcpt(struct report_rcpt *rc, const struct report *r, const char *context);

/* Same, on a prepared input; returns the deciding row (never NULL). */
const struct classify_rule *classify_input_rule(const struct classify_input *in);

/* Does row match in?  1 / 0. */
int classify_rule_matches(const struct classify_rule *row, const struct classify_input *in);

/* Class for a row and input (hard only for a permanent failure). */
enum report_class classify_class(const struct classify_rule *row, const struct classify_input *in);

/* The table (static storage) and its length. */
const struct classify_rule *classify_rules(size_t *count_r);

/* "RCPT" -> CLASSIFY_CMD_RCPT...; CLASSIFY_CMD_NONE when unknown. */
enum classify_cmd classify_cmd_from_name(const char *name);
const char *classify_cmd_name(enum classify_cmd c);

#endif
