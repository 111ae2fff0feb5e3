/* SPDX-License-Identifier: MIT */
/*
 * trust.h - is a bounce an answer to mail this server sent?  (doc/security.md)
 *
 * The signed return path (BATV-style): Postfix asks the socketmap "sign
 * bounces@bounce.example.com" (sender_canonical_maps) and gets
 *
 *   prvs=KDDDHHHHHHHHHH=bounces@bounce.example.com
 *
 * K the key id (one digit), DDD the day (days since the epoch mod 1000),
 * H the first 10 hex digits of HMAC-SHA256(key, "K DDD original-address").
 * The tag is a prefix of the local part, so Postfix's XVERP, which appends
 * "+rcpt=domain" to the local part, keeps it intact
 * (prvs=...=bounces+rcpt=domain@bounce.example.com); the verifier accepts
 * the signed address itself or it with such a suffix.
 *
 * Keys: a text file in the state directory (0600, created at first start),
 * one key a line, "ID HEX64 NOT_BEFORE NOT_AFTER" (unix times; NOT_AFTER 0:
 * the current key).  `bounced --rotate-key` adds a key and gives the
 * previous current one a NOT_AFTER (the overlap); a tag of a key past its
 * NOT_AFTER is refused ("retired").
 *
 * Pure functions apart from trust_keys_load/trust_keys_rotate (file I/O).
 */
#ifndef BOUNCED_TRUST_H
#define BOUNCED_TRUST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

#define TRUST_KEYS_MAX   10             /* one-digit key ids */
#define TRUST_KEY_BYTES  32
#define TRUST_DAYS_MOD   1000
#define TRUST_TAG_PREFIX "prvs="
#define TRUST_TAG_LEN    (5 + 1 + 3 + 10 + 1) /* "prvs=" K DDD HHHHHHHHHH "=" */

/* The state of the tag on a bounce's envelope recipient. */
#define TRUST_TAGS(X) \
	X(ABSENT, "absent")       /* no tag: unsigned mail, or a forgery */ \
	X(VALID, "valid") \
	X(EXPIRED, "expired")     /* signed longer ago than signing.validity (or in the future) */ \
	X(BAD, "bad-signature")   /* wrong signature, unknown key id, malformed tag */ \
	X(RETIRED, "retired-key") /* signed with a key past its overlap */

#define TRUST_ENUM_TAG(id, name) TRUST_TAG_##id,
enum trust_tag { TRUST_TAGS(TRUST_ENUM_TAG) TRUST_TAG_COUNT };
#undef TRUST_ENUM_TAG

const char *trust_tag_name(enum trust_tag t);
/* "tag-" and the tag's name: the cause of an untrusted bounce (metrics, store). */
const char *trust_cause_name(enum trust_tag t);

/* The `trust:` setting: what counts toward suppression. */
enum trust_mode {
	TRUST_MODE_SIGNED,          /* only bounces with a valid tag */
	TRUST_MODE_SIGNED_OR_SENT,  /* a valid tag, or a DSN matched to mail we sent */
	TRUST_MODE_ANY,             /* everything (migration) */
};

/* 1 and *m set when name is a mode's name, else 0. */
int trust_mode_from_name(const char *name, enum trust_mode *m_r);
const char *trust_mode_name(enum trust_mode m);

struct trust_key {
	unsigned id;                /* 0..9 */
	unsigned char key[TRUST_KEY_BYTES];
	int64_t not_before, not_after; /* not_after 0: current */
};

struct trust_keyring {
	struct trust_key keys[TRUST_KEYS_MAX];
	size_t n;
};

/*
 * Reads the key file; when it is missing and create is 1, creates it (0600)
 * with one random key.  0 / -1 with err filled (file and line).
 */
int trust_keys_load(const char *path, int create, time_t now, struct trust_keyring *kr,
    char err[256]);

/*
 * Adds a new current key to the file (rewritten atomically, 0600); the
 * previous current key stays valid for overlap seconds (0: refused at once,
 * a compromised key), keys past their NOT_AFTER are dropped.  0 / -1.
 */
int trust_keys_rotate(const char *path, time_t now, int64_t overlap, char err[256]);

/*
 * The signed form of the normalised address addr when its domain is one of
 * domains (lowercase) and it is not signed already: 1 and out filled; 0 when
 * it is not to be signed; -1 when no key is current or out is too small.
 */
int trust_sign(const struct trust_keyring *kr, const char *const *domains, size_t ndomains,
    const char *addr, time_t now, char *out, size_t outsz);

/*
 * The tag of rcpt (an LMTP recipient).  validity: seconds a tag is good for.
 * delim: Postfix's VERP delimiter ('+'): the verifier also tries rcpt with
 * the VERP suffix Postfix appended after signing removed.
 */
enum trust_tag trust_verify(const struct trust_keyring *kr, const char *rcpt, char delim,
    int64_t validity, time_t now);

/* What is known of one bounce. */
struct trust_evidence {
	enum trust_tag tag;
	int null_sender;            /* MAIL FROM:<> (RFC 5321 4.5.5) */
	int well_formed;            /* a machine-readable report (RFC 3464, ARF) */
	enum store_sent sent;       /* store_sent_lookup() of the returned message */
};

/*
 * The decision: NULL when the bounce counts, else why not (a static cause
 * name for the metric and the store: "tag-absent", "tag-expired",
 * "tag-bad-signature", "tag-retired-key").
 */
const char *trust_decide(enum trust_mode m, const struct trust_evidence *e);

/* "tag=valid sender=null report=rfc3464 sent=unknown" into out. */
void trust_evidence_format(const struct trust_evidence *e, const char *decoder, char *out,
    size_t outsz);

#endif
