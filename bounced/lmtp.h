/* SPDX-License-Identifier: MIT */
/*
 * lmtp.h - the LMTP session engine (RFC 2033): bytes in, replies out, no
 * sockets.  lmtp-server.c glues it to libevent; the unit tests and the
 * fuzzer feed it directly, one byte at a time if they like.
 *
 * Commands: LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (and VRFY, HELP);
 * extensions PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SMTPUTF8, SIZE.
 * Several transactions per session.  At the end of DATA the engine hands the
 * transaction to the callback and waits (lmtp_engine_feed() consumes nothing
 * more) until lmtp_engine_complete() gives the outcome; it then writes one
 * reply per accepted recipient (RFC 2033 section 4.2) and goes on with the
 * input the client pipelined meanwhile.
 *
 * Bounds (struct lmtp_limits): command line length, recipients per
 * transaction, bad commands per session (then 421 and close), bytes kept of
 * a message.  A message larger than max_message is still read to its end and
 * handed over truncated: a bounce answered 5xx is dropped by Postfix, so the
 * engine never refuses one for its size.
 */
#ifndef BOUNCED_LMTP_H
#define BOUNCED_LMTP_H

#include <stddef.h>
#include <glib.h>

struct lmtp_limits {
	size_t max_line;        /* command bytes, without CRLF */
	size_t max_message;     /* SIZE advertised */
	size_t keep_bytes;      /* bytes of a message kept */
	unsigned max_rcpts;     /* RCPT per transaction */
	unsigned max_bad;       /* bad commands per session */
};

/* Fills *lim with the bounds.h defaults. */
void lmtp_limits_default(struct lmtp_limits *lim);

/* One transaction, handed over at the end of DATA. */
struct lmtp_txn {
	char *mail_from;        /* reverse-path without <>; "" for the null sender */
	GPtrArray *rcpts;       /* char *: accepted recipients without <>, in order */
	GByteArray *data;       /* the first keep_bytes of the message, dot-unstuffed */
	size_t size;            /* bytes of the whole message, dot-unstuffed */
	int truncated;          /* 1: size > keep_bytes */
	int over_size;          /* 1: size > max_message (or the declared SIZE was) */
	size_t declared_size;   /* MAIL ... SIZE=n, or 0 */
};

void lmtp_txn_free(struct lmtp_txn *t);

enum lmtp_state {
	LMTP_STATE_GREETED,     /* waiting for LHLO */
	LMTP_STATE_READY,       /* LHLO done, no transaction */
	LMTP_STATE_MAIL,        /* MAIL (and RCPTs) given */
	LMTP_STATE_DATA,        /* reading the message */
	LMTP_STATE_WAIT,        /* message handed over, waiting for lmtp_engine_complete() */
	LMTP_STATE_CLOSED,      /* QUIT or 421 sent: flush the output and hang up */
};

/*
 * Called at the end of DATA.  Takes ownership of txn (free with
 * lmtp_txn_free).  May call lmtp_engine_complete() before returning.
 */
typedef void (*lmtp_txn_cb)(void *ud, struct lmtp_txn *txn);

struct lmtp_engine;

/* A new session; the 220 greeting is already in the output.  hostname is copied. */
struct lmtp_engine *lmtp_engine_new(const struct lmtp_limits *lim, const char *hostname,
    lmtp_txn_cb cb, void *ud);
void lmtp_engine_free(struct lmtp_engine *e);

/*
 * Feeds received bytes.  Returns the bytes consumed: all of them, except
 * while the engine waits for lmtp_engine_complete(), when the rest must be
 * fed again later (the caller keeps it).
 */
size_t lmtp_engine_feed(struct lmtp_engine *e, const char *buf, size_t len);

/*
 * The outcome of the transaction handed over: ok 1 gives each recipient
 * "250 2.0.0 <rcpt> text", ok 0 gives "451 4.3.0 <rcpt> text".  text is a
 * short ASCII phrase.  Nothing happens when no transaction is waiting.
 */
void lmtp_engine_complete(struct lmtp_engine *e, int ok, const char *text);

/* The client was silent too long: "421 4.4.2", closed. */
void lmtp_engine_timeout(struct lmtp_engine *e);

/*
 * Every session slot is taken and this one is idle between transactions:
 * "421 4.4.2 ... Idle connection closed" and closed (returns 1), so that a
 * new session can be served (Postfix reconnects when it has mail).  A
 * session inside a transaction is left alone (returns 0).
 */
int lmtp_engine_evict(struct lmtp_engine *e);

/*
 * The daemon stops: a session between transactions gets "421 4.3.2" and is
 * closed at once (returns 1); one inside DATA or waiting for its commit is
 * closed right after its replies (returns 0).  A session with MAIL/RCPT but
 * no DATA yet is closed at once: the client sends the message again.
 */
int lmtp_engine_shutdown(struct lmtp_engine *e);

/* Replies not yet sent: the caller writes and erases them (g_string_erase). */
GString *lmtp_engine_output(struct lmtp_engine *e);

enum lmtp_state lmtp_engine_state(const struct lmtp_engine *e);

/* Counters of the session, for its log line. */
struct lmtp_stats {
	unsigned transactions;
	unsigned bad_commands;
};
void lmtp_engine_stats(const struct lmtp_engine *e, struct lmtp_stats *st_r);

#endif
