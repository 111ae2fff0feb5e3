/* SPDX-License-Identifier: MIT */
/*
 * postfix-log.h - one line of Postfix's log in, the facts bounced uses out:
 * delivery lines of smtp/lmtp (to=, orig_to=, relay=, dsn=, status= and the
 * text in parentheses), cleanup's message-id= and qmgr's from=.  Pure: no
 * I/O, no clock (the caller passes "now" to place a year-less timestamp).
 *
 * Accepted prefixes (then "IDENT[PID]: MESSAGE"):
 *   - BSD syslog and Postfix's own maillog_file (postlogd):
 *     "Dec  5 10:02:03 host postfix/smtp[123]: ..." (fraction of a second
 *     allowed), local time, year taken from now;
 *   - RFC 3339 (rsyslog's high-precision format):
 *     "2026-12-05T10:02:03.123456+01:00 host postfix/smtp[123]: ...";
 *   - the journal: report_log_parse_message() with SYSLOG_IDENTIFIER and
 *     MESSAGE, the time from the entry.
 *
 * Postfix logs remote text (the "said:" reply), so the line is parsed from
 * the left: the fields Postfix writes itself, up to status=WORD, then the
 * text inside the final parentheses.  Nothing in that text is read as a
 * field (a reply saying "status=sent" is only text).  Every field is
 * bounded; a line longer than REPORT_LOG_LINE_MAX is cut there.
 */
#ifndef BOUNCED_POSTFIX_LOG_H
#define BOUNCED_POSTFIX_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define REPORT_LOG_LINE_MAX   8192   /* bytes of a line looked at */
#define REPORT_LOG_QID_MAX    31     /* long queue IDs are ~ 15-20 characters */
#define REPORT_LOG_TEXT_MAX   2048   /* bytes kept of the text in parentheses */
#define REPORT_LOG_FIELD_MAX  255    /* relay=, dsn=, message-id=... */
#define REPORT_LOG_IDENT_MAX  63     /* "postfix/smtp" */

enum report_log_kind {
	REPORT_LOG_OTHER,         /* a line bounced does not use */
	REPORT_LOG_DELIVERY,      /* smtp/lmtp: QID: to=<...>, ... status=... */
	REPORT_LOG_MESSAGE_ID,    /* cleanup: QID: message-id=<...> */
	REPORT_LOG_FROM,          /* qmgr: QID: from=<...>, size=... */
};

enum report_log_status {
	REPORT_LOG_STATUS_NONE,
	REPORT_LOG_STATUS_SENT,
	REPORT_LOG_STATUS_DEFERRED,
	REPORT_LOG_STATUS_BOUNCED,
	REPORT_LOG_STATUS_EXPIRED,
};

/* One parsed line.  Strings are NUL-terminated, "" when absent. */
struct report_log_entry {
	enum report_log_kind kind;
	int64_t at;                       /* unix time of the line; 0 unknown */
	char stamp[40];                   /* the timestamp as written (dedupe key) */
	char ident[REPORT_LOG_IDENT_MAX + 1]; /* "postfix/smtp" */
	const char *service;              /* points into ident: "smtp", "cleanup"... */
	char queue_id[REPORT_LOG_QID_MAX + 1];
	/* DELIVERY */
	char rcpt[REPORT_ADDR_MAX + 1];   /* to= */
	char orig_to[REPORT_ADDR_MAX + 1];
	char relay[REPORT_LOG_FIELD_MAX + 1];
	char dsn[16];                     /* a valid RFC 3463 code or "" */
	char delay[16];                   /* delay= as written: grows with every attempt
	                                     of a message, so two attempts in the same
	                                     second of the timestamp differ (dedupe key) */
	enum report_log_status status;
	char text[REPORT_LOG_TEXT_MAX + 1]; /* inside the final parentheses */
	int text_cut;                     /* 1: the line or the text was cut */
	/* MESSAGE_ID */
	char message_id[REPORT_LOG_FIELD_MAX + 1]; /* without <> */
	/* FROM */
	char sender[REPORT_ADDR_MAX + 1]; /* "" for the null sender */
};

/*
 * Parses one syslog or maillog_file line (no line end).  Returns 1 when it
 * is a line bounced uses (e->kind set), 0 when it is another line (another
 * program, another Postfix message), -1 when a line that looked like a
 * delivery, message-id or from line is malformed (skip it and count it).
 */
int report_log_parse(const char *line, size_t len, int64_t now, struct report_log_entry *e);

/*
 * The same for a journal entry: ident is SYSLOG_IDENTIFIER ("postfix/smtp"),
 * msg the MESSAGE (len bytes, not NUL-terminated), at its time.
 */
int report_log_parse_message(const char *ident, size_t ident_len, const char *msg, size_t len,
    int64_t at, struct report_log_entry *e);

/*
 * The recipient of a delivery line as a DSN would report it, classified by
 * the same rule table as the DSN Postfix writes for it (decoder rfc3464,
 * mta postfix): recipient (orig_to when logged, else to), status, reply
 * code, action (sent: delivered, deferred: delayed, bounced and expired:
 * failed), remote MTA, SMTP stage and the remote's reply as diagnostic.
 * NULL when e is not a delivery line or names no recipient.  Caller frees
 * with report_rcpt_free().
 */
struct report_rcpt *report_log_rcpt(const struct report_log_entry *e);

const char *report_log_status_name(enum report_log_status s);

#endif
