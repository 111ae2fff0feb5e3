/* SPDX-License-Identifier: MIT */
/*
 * policy.h - Postfix's SMTPD access policy delegation protocol
 * (check_policy_service, SMTPD_POLICY_README) on the suppression index, so
 * smtpd refuses a suppressed recipient at RCPT with the sender, client and
 * SASL user of the transaction at hand.
 *
 * A request is "name=value" lines ending with an empty line; the answer is
 * one "action=..." line and an empty line:
 *   action=550 5.1.1 suppressed: hard userunknown since 2024-05-01T12:00:00Z
 *   action=DEFER_IF_PERMIT 4.2.2 suppressed: soft mailboxfull since ... until ...
 *                          (a soft suppression: it expires, so the client may retry)
 *   action=DUNNO           not suppressed, no recipient (a DATA-stage request),
 *                          not an smtpd_access_policy request, an unusable request
 *                          (the client is never refused for our failure: fail-open),
 *   action=DEFER_IF_PERMIT 4.3.0 ...  instead of that DUNNO when fail_closed is set
 * Postfix keeps the connection open and sends the next request on it.
 *
 * Which mail is checked is decided by where main.cf calls the service
 * (doc/postfix.md section 5: only mail leaving the server); bounced only
 * sees addresses.  Limits: a line of at most LIMIT_QUERY_LINE bytes,
 * POLICY_MAX_ATTRS attributes and POLICY_MAX_BYTES bytes per request;
 * beyond, the rest of the request is read and dropped and the answer is the
 * error answer above.  The engine is a pure function of the connection's
 * bytes (query_engine_fn): the socket side is query.c's.
 */
#ifndef BOUNCED_POLICY_H
#define BOUNCED_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "query.h"

#define POLICY_MAX_ATTRS 128            /* Postfix 3.7 sends about 30 */
#define POLICY_MAX_BYTES (64u * 1024)   /* one request, line ends included */

struct policy_ctx {
	const struct store_index *idx;  /* NULL until the store opened: error answer */
	const char *delimiters;         /* recipient_delimiter characters, "" for none */
	int fail_closed;                /* 1: errors answer DEFER_IF_PERMIT, not DUNNO */
	uint64_t requests;
	uint64_t rejected;              /* 5xx answers */
	uint64_t deferred;              /* DEFER_IF_PERMIT for a soft suppression */
	uint64_t errors;                /* unusable requests, store unavailable */
};

/* The engine (query_engine_fn); ctx is a struct policy_ctx. */
int policy_engine(void *ctx, struct query_buf *b, time_t now);

/*
 * The action for a complete request (without "action=" and line ends) into
 * out.  Logs the decision with the sender, recipient, client and SASL user
 * when it is not DUNNO.  Returns the length of out.
 */
size_t policy_decide(struct policy_ctx *ctx, time_t now, const struct query_policy_req *r,
    char *out, size_t outsz);

#endif
