/* SPDX-License-Identifier: MIT */
/*
 * report.h - the parser's one public header: bytes of one message in,
 * struct report out.
 *
 * A report lists every recipient the message is about (a bounce's failed or
 * delayed recipients, a complaint's complained-about recipient, the sender of
 * an auto-reply, a DSN's delivered recipients), each classified by the rule
 * table in classify.c: what bounced should do with the address (class), why
 * (reason, Sisimai's names), and whose fault it is (scope).
 *
 * The parser is pure: no sockets, no SQL, no logging, no global mutable
 * state.  GMime's parser warnings and every limit that was hit are recorded
 * in report->warnings, so the caller can log them.
 *
 * Ownership: report_parse() returns a report the caller frees with
 * report_free(); every string in it is owned by the report.  The *_name()
 * functions return static strings.
 */
#ifndef BOUNCED_REPORT_H
#define BOUNCED_REPORT_H

#include <stddef.h>
#include <glib.h>

/* What bounced should do with the address. */
#define REPORT_CLASSES(X) \
	X(NONE, "none")           /* nothing found: not a bounce */ \
	X(HARD, "hard")           /* the address itself does not work */ \
	X(SOFT, "soft")           /* temporary, or not the address's fault */ \
	X(COMPLAINT, "complaint") /* the recipient reported the mail (ARF) */ \
	X(AUTOREPLY, "autoreply") /* RFC 3834 auto-reply, vacation: never a bounce */ \
	X(DELIVERED, "delivered") /* DSN reporting delivery, relay or expansion */

/* Whose fault it is.  A SENDER or MESSAGE failure is never HARD. */
#define REPORT_SCOPES(X) \
	X(NONE, "none")       /* no failure (autoreply, delivered, none) */ \
	X(ADDRESS, "address") /* the mailbox: unknown, full, disabled, moved */ \
	X(DOMAIN, "domain")   /* the recipient's domain: no MX, accepts no mail */ \
	X(SENDER, "sender")   /* our IP/domain: blocked, rate-limited, SPF/DKIM/DMARC, PTR */ \
	X(MESSAGE, "message") /* this message: too big, content or spam rejected */

/*
 * Reasons: Sisimai's names where the meaning is the same, so results can be
 * compared across tools.  Append only: the numeric values are stored.
 */
#define REPORT_REASONS(X) \
	X(UNDEFINED, "undefined") \
	X(USERUNKNOWN, "userunknown") \
	X(HOSTUNKNOWN, "hostunknown") \
	X(HASMOVED, "hasmoved") \
	X(NOTACCEPT, "notaccept") \
	X(MAILBOXFULL, "mailboxfull") \
	X(SUSPEND, "suspend") \
	X(EXPIRED, "expired") \
	X(BLOCKED, "blocked") \
	X(BADREPUTATION, "badreputation") \
	X(RATELIMITED, "ratelimited") \
	X(TOOMANYCONN, "toomanyconn") \
	X(SPAMDETECTED, "spamdetected") \
	X(VIRUSDETECTED, "virusdetected") \
	X(POLICYVIOLATION, "policyviolation") \
	X(CONTENTERROR, "contenterror") \
	X(MESGTOOBIG, "mesgtoobig") \
	X(EXCEEDLIMIT, "exceedlimit") \
	X(SECURITYERROR, "securityerror") \
	X(AUTHFAILURE, "authfailure") \
	X(REQUIREPTR, "requireptr") \
	X(NORELAYING, "norelaying") \
	X(REJECTED, "rejected") \
	X(FILTERED, "filtered") \
	X(NETWORKERROR, "networkerror") \
	X(SYSTEMERROR, "systemerror") \
	X(SYSTEMFULL, "systemfull") \
	X(MAILERERROR, "mailererror") \
	X(SYNTAXERROR, "syntaxerror") \
	X(NOTCOMPLIANTRFC, "notcompliantrfc") \
	X(ONHOLD, "onhold") \
	X(FEEDBACK, "feedback") \
	X(VACATION, "vacation") \
	X(DELIVERED, "delivered") \
	X(SPEEDING, "speeding")

/*
 * Decoders (parser/decode-*.c), in the order parse.c tries them; NONE: no
 * decoder recognised the message.  The names are stored and printed.
 */
#define REPORT_DECODERS(X) \
	X(NONE, "none") \
	X(ARF, "arf") \
	X(SES, "amazonses") \
	X(RFC3464, "rfc3464") \
	X(RFC3834, "rfc3834") \
	X(PROSE, "prose")

#define REPORT_ENUM_DECODER(id, name) REPORT_DECODER_##id,
#define REPORT_ENUM_CLASS(id, name) REPORT_CLASS_##id,
#define REPORT_ENUM_SCOPE(id, name) REPORT_SCOPE_##id,
#define REPORT_ENUM_REASON(id, name) REPORT_REASON_##id,
enum report_class { REPORT_CLASSES(REPORT_ENUM_CLASS) REPORT_CLASS_COUNT };
enum report_scope { REPORT_SCOPES(REPORT_ENUM_SCOPE) REPORT_SCOPE_COUNT };
enum report_reason { REPORT_REASONS(REPORT_ENUM_REASON) REPORT_REASON_COUNT };
enum report_decoder { REPORT_DECODERS(REPORT_ENUM_DECODER) REPORT_DECODER_COUNT };
#undef REPORT_ENUM_DECODER
#undef REPORT_ENUM_CLASS
#undef REPORT_ENUM_SCOPE
#undef REPORT_ENUM_REASON

/*
 * Longest address (local@domain, in bytes) the parser reports and the store
 * keeps: RFC 5321 allows 64 + 1 + 255 octets, real MTAs write longer VERP
 * and SRS local parts.  A recipient over it is not reported (it could never
 * be stored or asked for); the report gets a warning instead.
 */
#define REPORT_ADDR_MAX 1024

/* Parser limits: every input is bounded.  report_limits_default() fills them. */
struct report_limits {
	size_t max_bytes;        /* bytes of the message looked at; the rest is ignored */
	unsigned max_depth;      /* MIME nesting walked */
	unsigned max_parts;      /* MIME parts walked */
	unsigned max_rcpts;      /* recipients reported */
	size_t max_field;        /* bytes kept of any one text field (diagnostic...) */
	/*
	 * GMime's parser warnings cost GMime extra validation work (about a
	 * third of its parse time), so by default they are collected only for
	 * a message that needed help: no decoder understood it, or its MIME
	 * structure is broken (the message is then parsed a second time with
	 * warnings on).  REPORT_GMIME_WARNINGS_ALWAYS collects them always.
	 */
	int gmime_warnings;      /* REPORT_GMIME_WARNINGS_* */
};

#define REPORT_GMIME_WARNINGS_NEVER   0
#define REPORT_GMIME_WARNINGS_ON_TROUBLE 1
#define REPORT_GMIME_WARNINGS_ALWAYS  2

/*
 * The rule of a recipient refused by bounced itself (its socketmap's answer
 * returned by the local Postfix): class none, never counted as a bounce.
 */
#define REPORT_RULE_OWN_REFUSAL "bounced-refusal"

/* One recipient the message is about. */
struct report_rcpt {
	char *recipient;          /* lowercased addr-spec (ORCPT preferred); never NULL */
	char *final_recipient;    /* Final-Recipient when it differs from recipient, or NULL */
	enum report_class class;
	enum report_reason reason;
	enum report_scope scope;
	char status[16];          /* RFC 3463 "5.1.1", reported or inferred; "" if none */
	char replycode[4];        /* SMTP reply "550"; "" if none */
	char *action;             /* DSN Action, lowercased ("failed", "delayed"...), or NULL */
	char *diagnostic;         /* diagnostic text, unfolded, bounded, or NULL */
	char *diagnostic_type;    /* "smtp", "x-postfix"... or NULL */
	char *remote_mta;         /* Remote-MTA host, or NULL */
	char *smtp_command;       /* failed SMTP command ("RCPT", "DATA"...), or NULL */
	const char *rule;         /* static: name of the classify rule that decided, or NULL */
	char *category;           /* the reporting MTA's own verdict, lowercased, or NULL:
	                             PowerMTA X-PowerMTA-BounceCategory ("bad-mailbox"),
	                             Amazon SES bounceType/bounceSubType ("permanent/general") */
	int inferred;             /* 1: the bounce names nobody; the address is the single To:
	                             of the returned message's headers.  A guess: the class is
	                             capped at soft, and report_adopt_recipient() replaces it */
};

/* One parsed message. */
struct report {
	enum report_decoder decoder; /* which decoder read it (report_decoder_name()) */
	const char *mta;          /* static: the MTA or service that wrote it ("exim", "gmail",
	                             "exchange2003"...: parser/mta.c), or NULL when unknown */
	char *reporting_mta;      /* Reporting-MTA host, or NULL */
	char *orig_message_id;    /* original message's Message-ID without <>, or NULL */
	char *orig_sender;        /* original message's sender (lowercased), or NULL */
	char *orig_queue_id;      /* the original message's queue ID (Postfix's
	                             X-Postfix-Queue-ID: letters and digits), or NULL */
	char *feedback_type;      /* ARF Feedback-Type (complaints), or NULL */
	char *subject;            /* the report's own Subject (decoded, bounded), or NULL */
	GPtrArray *rcpts;         /* of struct report_rcpt *, owned; never NULL */
	/*
	 * The message's verdict when it names no recipient (a prose bounce whose
	 * address was lost): what report_adopt_recipient() applies.  class is
	 * REPORT_CLASS_NONE when the message is not a bounce at all.  Its
	 * recipient is NULL; the other fields are filled as for a recipient.
	 */
	struct report_rcpt unnamed;
	GPtrArray *warnings;      /* of char *, owned: GMime warnings, limits hit */
};

/* Fills *lim with the built-in limits. */
void report_limits_default(struct report_limits *lim);

/*
 * An empty report: decoder NONE, no recipients, no warnings, unnamed
 * class NONE.  rcpts owns its elements (freed with report_rcpt_free).
 * Caller frees with report_free().  (GLib aborts on allocation failure.)
 */
struct report *report_new(void);

/*
 * A recipient for r->rcpts with a copy of addr (already normalised) and
 * every other field empty.  Owned by the caller until added to rcpts.
 */
struct report_rcpt *report_rcpt_new(const char *addr);

/* Frees a recipient and its strings; report_rcpt_free(NULL) is a no-op. */
void report_rcpt_free(struct report_rcpt *rc);

/*
 * Parses one message (the bytes Postfix delivers: LF, CRLF or CR line ends,
 * an mbox "From " line first or not).  lim may be NULL for the defaults.
 * Never fails on bad input: a message that is not understood gives a report
 * with no recipients and decoder NONE.  Never returns NULL (GLib aborts
 * when memory runs out).  Caller frees with report_free().
 */
struct report *report_parse(const char *buf, size_t len, const struct report_limits *lim);

/* Frees a report; report_free(NULL) is a no-op. */
void report_free(struct report *r);

/*
 * Makes addr (a recipient recovered from a VERP envelope address, already
 * normalised by the caller) the recipient the report is about, since it is
 * the address the application used:
 *  - no recipient in the report: adds one from r->unnamed, if the message
 *    is a bounce (unnamed.class != NONE);
 *  - exactly one recipient inferred from the returned message (inferred):
 *    replaced by one from r->unnamed, with the uncapped verdict;
 *  - exactly one recipient: it becomes addr (its old address moves to
 *    final_recipient when different);
 *  - several: nothing changes (the envelope cannot say which one).
 * Returns 1 when the report changed, 0 when not, -1 on allocation failure.
 */
int report_adopt_recipient(struct report *r, const char *addr);

/* Names: static strings; "?" for an out-of-range value. */
const char *report_class_name(enum report_class c);
const char *report_scope_name(enum report_scope s);
const char *report_reason_name(enum report_reason r);
const char *report_decoder_name(enum report_decoder d);

/* Name -> value.  Return 1 and set *_r when known, 0 when not. */
int report_class_from_name(const char *name, enum report_class *class_r);
int report_scope_from_name(const char *name, enum report_scope *scope_r);
int report_reason_from_name(const char *name, enum report_reason *reason_r);

/*
 * Validates an RFC 3463 status code "c.sss.ddd" (class 2, 4 or 5, subject
 * 0-999, detail 0-999, no leading junk).  The one place status codes are
 * checked.  Returns 1 when valid, 0 when not.
 */
int report_status_valid(const char *s);

#endif
