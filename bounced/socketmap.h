/* SPDX-License-Identifier: MIT */
/*
 * socketmap.h - the Postfix socketmap protocol (socketmap_table(5)) on the
 * suppression index, so Postfix itself refuses mail to suppressed
 * addresses:
 *
 *   main.cf:
 *     smtpd_recipient_restrictions = permit_mynetworks, ...,
 *         check_recipient_access socketmap:unix:/run/bounced/socketmap.sock:suppressed
 *   or, for every injection path (sendmail, pickup, smtpd):
 *     transport_maps = socketmap:unix:/run/bounced/socketmap.sock:suppressed_transport
 *
 * Request and reply are netstrings ("<len>:<data>,").  The request is
 * "<name> <key>"; the reply is
 *   OK <action>     the key is suppressed:
 *                   access map:    "550 5.1.1 suppressed: hard userunknown since ..."
 *                   transport map: "error:5.1.1 suppressed: hard userunknown since ..."
 *   NOTFOUND        may send (or a key that is not an address: a bare domain,
 *                   "user@"; the full address already covers domain entries)
 *   PERM <reason>   unknown map name, request too long
 * The "sign" map (sender_canonical_maps) answers "OK prvs=...=sender" for a
 * sender of trust.domains not signed yet, NOTFOUND for any other key.
 * A key "user+ext@domain" (recipient_delimiter) is looked up as itself, then
 * as "user@domain".  A malformed netstring ends the connection.
 */
#ifndef BOUNCED_SOCKETMAP_H
#define BOUNCED_SOCKETMAP_H

#include <stddef.h>
#include <time.h>

#include "query.h"
#include "trust.h"

struct smap_ctx {
	const struct store_index *idx;  /* NULL until the store opened: "TEMP store unavailable" */
	const char *name;               /* access map name ("suppressed") */
	const char *transport_name;     /* transport map name */
	const char *delimiters;         /* recipient_delimiter characters, "" for none */
	const char *sign_name;          /* sender_canonical_maps map name ("sign") */
	const char *const *sign_domains; /* sender domains signed */
	size_t nsign_domains;
	const struct trust_keyring *keys; /* NULL: no key loaded yet ("TEMP") */
	uint64_t requests;
	uint64_t found;
	uint64_t signed_count;          /* senders signed */
};

/* The engine (query_engine_fn); ctx is a struct smap_ctx. */
int smap_engine(void *ctx, struct query_buf *b, time_t now);

/*
 * Answers one request ("name key") into out as the netstring's content
 * (without the netstring framing).  Returns its length.
 */
size_t smap_answer(struct smap_ctx *ctx, time_t now, const char *req, size_t len, char *out,
    size_t outsz);

/*
 * "suppressed[ (domain entry)]: <cause> <reason> since <time>[ until <time>]",
 * the text Postfix shows for a suppressed recipient, into out.  Its length.
 */
size_t smap_describe(const struct store_verdict *v, char *out, size_t outsz);

/* The RFC 3463 code for a suppressed recipient ("5.1.1", "5.2.2", ...); static text. */
const char *smap_status(const struct store_verdict *v);

/*
 * store_check of a normalised address, then, when absent and the local part
 * has one of the delimiters, of "user@domain" (norm is cut to that).  The
 * index's 1/0/-1; v_r filled when 1.
 */
int smap_lookup(const struct store_index *idx, const char *delimiters, char *norm, time_t now,
    struct store_verdict *v_r);

#endif
