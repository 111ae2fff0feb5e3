/* SPDX-License-Identifier: MIT */
/*
 * decode.h - private to parser/: what parse.c hands to the decoders, the
 * decoder function table, the notification they share (note.c) and the
 * text helpers (text.c).
 * Nothing outside parser/ includes this file but the parser's own unit
 * tests; the module's public headers are report.h and classify.h.  Every
 * global declared here (and in json.h) carries the private prefix parser_,
 * the public ones report_ and classify_.
 *
 * Flow: parse.c normalises the bytes, builds the GMime tree and walks it
 * into a struct msg (headers, notification text, delivery-status and
 * feedback-report bodies, the returned message's headers).  Each decoder of
 * parser_decoder_table[] in turn looks at the msg; the first that returns 1
 * has filled the report.  Then every recipient goes through classify.c.
 */
#ifndef BOUNCED_DECODE_H
#define BOUNCED_DECODE_H

#include <stddef.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "report.h"
#include "classify.h"

/* A header of the bounce itself: both strings borrowed from GMime. */
struct hdr {
	const char *name;
	const char *raw;
};

/* One "Name: value" field of a header block (unfolded value). */
struct field {
	char *name;
	char *value;
};

struct note;

/*
 * The parsed message as the decoders see it, alive for one report_parse()
 * call.  Strings are owned by it unless marked borrowed.
 */
struct msg {
	const struct report_limits *lim;
	struct report *r;

	/* the bounce itself; its headers are read with parser_msg_header() */
	GMimeMessage *top;        /* borrowed until report_parse() returns; may be NULL */
	const char *from;         /* From: (raw), "" when absent */
	const char *subject;      /* Subject: (decoded, owned by m->r), "" when absent */

	/*
	 * Notification text: every text part that is not inside a returned
	 * message (nor a header-block attachment), decoded to UTF-8, LF line
	 * ends, no NUL, HTML reduced to text (text/plain preferred in
	 * multipart/alternative); parts joined by "\n".
	 */
	GString *text;
	char *lower;              /* text lowercased (ASCII), for the phrase tables */
	GPtrArray *dsn;           /* of GString *: delivery-status bodies */
	GPtrArray *feedback;      /* of GString *: feedback-report bodies */
	/* headers of the returned message (message/rfc822 or text/rfc822-headers) */
	GPtrArray *orig;          /* of struct field *, or NULL */
	GPtrArray *inner_dsn;     /* of GString *: delivery-status of a forwarded bounce */
	GString *inner_text;      /* its notification text */
	int in_inner;             /* walking inside a forwarded bounce */
	int unnamed;              /* the decoder filled r->unnamed: a verdict naming nobody */
	/*
	 * Per recipient (struct report_rcpt * -> char *, owned): what the
	 * notification text says about it besides its diagnostic, read by the
	 * classification only (a DSN's Diagnostic-Code is short; Google's and
	 * Dovecot's own words are in the text).
	 */
	GHashTable *context;
	struct note *note;        /* note.c: the notification, cached */
	GArray *hdrs;             /* of struct hdr: the bounce's headers, raw values */
	char *lfrom, *lsubject;   /* From: and Subject: lowercased */
	const struct mta_sig *mta;/* who wrote the bounce (mta.c), or NULL */
	unsigned parts;           /* MIME parts walked */
	int warned_depth, warned_parts, warned_rcpts;
	int trouble;              /* broken structure: GMime's warnings are wanted */
};

/*
 * A decoder: returns 1 when it recognised the message and filled m->r
 * (recipients, unnamed verdict), 0 when the message is not its kind (and
 * m->r is untouched).  The driver then sets m->r->decoder to the row's id.
 */
typedef int (*decoder_fn)(struct msg *m);

struct decoder {
	enum report_decoder id;
	decoder_fn fn;
};

/*
 * mta.c: one signature per MTA or service; every non-NULL group must match
 * (any of its lowercase strings): From:, Subject:, a header (present, and
 * when header_value is set, containing one of them), the notification text.
 */
struct mta_sig {
	const char *name;
	const char *const *from;
	const char *const *subject;
	const char *header;
	const char *const *header_value;
	const char *const *text;
	/* prose layout: where its notification ends (NULL: the generic list) */
	const char *const *ends;
	unsigned flags;           /* MTA_* below */
};

/* The reason is stated once for all, not next to each recipient. */
#define MTA_DIAG_WHOLE   0x1u
/* Its summary of the failed message has a "To:" line naming the recipient. */
#define MTA_RCPT_TO_LINE 0x2u
/* Its text names the recipient as originally addressed: an ORCPT for its DSN. */
#define MTA_TEXT_ORCPT   0x4u
extern const struct mta_sig parser_mta_table[];
extern const unsigned parser_mta_count;
/* The first matching signature, or NULL. */
const struct mta_sig *parser_mta_identify(const struct msg *m);
/* Lowercase phrases of lines that introduce a returned message. */
const char *const *parser_mta_generic_ends(void);

/* decode-*.c */
int parser_decode_arf(struct msg *m);
int parser_decode_rfc3464(struct msg *m);
int parser_decode_rfc3834(struct msg *m);
int parser_decode_ses(struct msg *m);
int parser_decode_prose(struct msg *m);

/* -- note.c: the notification text, shared by the decoders --------------- */

/* Candidate recipient addresses looked at in one notification. */
#define NOTE_CANDIDATES_MAX 2000

/* One address of the notification. */
struct note_cand {
	char *addr;
	size_t line;              /* offset of its line in the notification */
	int alone;                /* the line is just the address ("<a@b>:") */
	int own;                  /* one of our own addresses (To:, From:...) */
};

/*
 * The notification of m, computed once per message (parser_note_get): its text
 * and lowercased text up to the returned message, our own addresses and
 * every candidate address in it.
 */
struct note {
	char *text, *lower;
	GPtrArray *own;           /* of char * */
	GPtrArray *cands;         /* of struct note_cand *, in order */
};

/* m's notification, built on first use; borrowed until report_parse() returns. */
struct note *parser_note_get(struct msg *m);
/* Frees the cached notification; NULL is a no-op. */
void parser_note_free(struct note *n);
/* Frees a struct note_cand (a GDestroyNotify). */
void parser_note_cand_free(gpointer p);
/* Is addr in list (of char *)?  1 / 0. */
int parser_note_in_list(const GPtrArray *list, const char *addr);
/* addr's own lines in n (caller frees), or NULL. */
char *parser_note_diag_for(const struct msg *m, const struct note *n, const char *addr);
/* The whole of n minus headings and the lines of cands' addresses (caller frees). */
char *parser_note_diag_whole(const struct msg *m, const struct note *n, const GPtrArray *cands);
/* The notification's own lines about addr, or NULL (caller frees). */
char *parser_note_diag_for_addr(struct msg *m, const char *addr);
/* The whole notification text, squeezed and bounded, or NULL (caller frees). */
char *parser_note_whole(struct msg *m);
/*
 * Offset in m->text (and m->lower) where the notification ends and the
 * returned message begins: its introducing line ("----- Unsent message
 * follows -----"...) or its first header line; the text's length if none.
 */
size_t parser_note_end(const struct msg *m);
/*
 * Appends to names (of char *, caller's free func g_free) the bare names
 * n lists as failed (a local part with no domain: AOL screen names,
 * GroupWise user IDs), lowercase, each once, in order.
 */
void parser_note_bare_names(const struct note *n, GPtrArray *names);
/* The only address the notification names (not ours), or NULL (caller frees). */
char *parser_note_single_recipient(struct msg *m);

/* The table, in the order tried (parse.c). */
extern const struct decoder parser_decoder_table[];
extern const unsigned parser_decoder_count;

/* -- text.c: helpers on bounded, NUL-terminated UTF-8 text -------------- */

/* Header blocks ("Name: value" lines, folded).  Parses from *pos to the
 * first empty line (or end); appends struct field * to out (which frees
 * them with parser_field_free); leaves *pos after the empty line.  Returns the
 * number of fields read. */
unsigned parser_fields_parse(const char **pos, const char *end, GPtrArray *out, unsigned max);
void parser_field_free(gpointer p);
/* First field named name (case-insensitive), borrowed; NULL if none. */
const char *parser_fields_get(const GPtrArray *fields, const char *name);

/* Message header of the bounce itself (case-insensitive): its raw value
 * (folded, not RFC 2047-decoded), borrowed until report_parse() returns. */
const char *parser_msg_header(const struct msg *m, const char *name);

/*
 * Extracts one addr-spec from s (len bytes): skips an "rfc822;" type, a
 * display name, <>, quotes around the whole; lowercases.  Returns a new
 * string (g_free) or NULL when there is no plausible address.
 */
char *parser_addr_parse(const char *s, size_t len);
/* Is c a character that can appear in an unquoted addr-spec? */
int parser_addr_char(int c);
/* Finds the next address-looking token in [s, end); sets *start_r and
 * *len_r (the token without <>).  Returns 1 when found. */
int parser_addr_find(const char *s, const char *end, const char **start_r, size_t *len_r);

/* First RFC 3463 status code in s ("5.1.1"), out is char[16]; 1 if found. */
int parser_text_find_status(const char *s, char *out);
/* SMTP reply code at the start of s or after "said:"-like words; char[4]. */
int parser_text_find_reply(const char *s, char *out);
/* SMTP stage named in s ("in reply to RCPT TO command", "after end of
 * data"...), a CLASSIFY_CMD_* value, CLASSIFY_CMD_NONE if none. */
enum classify_cmd parser_text_find_command(const char *s);
/* Same on text already lowercased. */
enum classify_cmd parser_text_find_command_lower(const char *lower);
/* The stage in a Sendmail-style ">>> command" / "<<< reply" transcript
 * (lowercased text) of the failure about addr (lowercase; NULL: the first
 * failure); CLASSIFY_CMD_NONE when there is no transcript. */
enum classify_cmd parser_text_transcript_command(const char *lower, const char *addr);

/* Case-insensitive ASCII substring search; NULL if absent. */
const char *parser_text_casestr(const char *hay, const char *needle);
/* Copy of [s, s+len) with runs of white space (incl. newlines) squeezed to
 * one space, trimmed, at most max bytes (cut on a UTF-8 boundary). */
char *parser_text_squeeze(const char *s, size_t len, size_t max);
/* Removes multi-line SMTP reply prefixes ("550-5.7.1 ", "550 5.7.1 " on
 * continuation lines) in place, so the reply reads as one text. */
void parser_text_join_smtp_lines(char *s);
/* Reduces HTML to text (tags dropped, a few entities decoded), appends to out. */
void parser_text_from_html(const char *s, size_t len, GString *out);

/* -- report building ------------------------------------------------------ */

/* Adds a recipient (addr already normalised; taken over, freed on failure
 * or duplicate).  Returns the new rcpt, or the existing one with the same
 * address, or NULL when the cap is hit (a warning is recorded). */
struct report_rcpt *parser_msg_add_rcpt(struct msg *m, char *addr);
/* Sets *dst to a bounded, squeezed copy of [s, s+len) when *dst is NULL. */
void parser_msg_set_text(struct msg *m, char **dst, const char *s, size_t len);
/*
 * AOL screen names.  AOL's mailer names a member by screen name alone (a
 * local part with no domain) in its failed-address list and transcript.
 * parser_msg_from_aol(): is the bounce AOL's own (its From: address, or
 * reporting_mta when not NULL, is aol.com / aol.net or a host under
 * them)?  1 / 0.  parser_msg_screen_name(): the bare name in [s, s+len)
 * (white space, <> and quotes around it allowed), lowercased, caller
 * frees; NULL when it is not one.  Callers add "@aol.com" only when the
 * bounce is AOL's: a domain is never invented elsewhere.
 */
int parser_msg_from_aol(const struct msg *m, const char *reporting_mta);
char *parser_msg_screen_name(const char *s, size_t len);
/* Records a warning (printf-style), bounded in count. */
void parser_msg_warn(struct msg *m, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Fills orig_message_id and orig_sender from the returned message's
 * headers (m->orig) when not set yet. */
void parser_msg_orig_from_fields(struct msg *m, const GPtrArray *fields);
/* Finds an inline copy of the original message in text (after a marker
 * line) and reads Message-ID / From from it. */
void parser_msg_orig_from_text(struct msg *m, const char *text);

#endif
