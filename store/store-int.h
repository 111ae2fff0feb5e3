/* SPDX-License-Identifier: MIT */
/*
 * store-int.h - declarations shared by the files of store/ and by its unit
 * tests, not by the rest of the project (which uses store.h only).
 *
 * The policy (policy.c) is a pure function: it folds one address's events
 * and manual actions, in time order, into a state.  Ingest feeds it one
 * event at a time starting from the stored state; re-evaluation replays it
 * from an empty state over every event.  Both use the same step functions,
 * so a replay of unchanged events gives the state ingest stored.  No SQL,
 * no clock: every time is passed in.
 */
#ifndef BOUNCED_STORE_INT_H
#define BOUNCED_STORE_INT_H

#include <stdint.h>
#include <sqlite3.h>

#include "store.h"
#include "sql.h"

/* Per-address state the policy keeps (one row of table addr). */
struct store_pstate {
	enum store_cause cause;       /* NONE: not suppressed */
	enum report_reason reason;
	enum report_scope scope;      /* scope of the deciding event */
	char status[16];
	int64_t since;
	int64_t until;                /* STORE_TTL_NEVER: never */
	int64_t event_id;             /* deciding event, 0 none */
	const char *rule;             /* static: policy rule that decided, "" none */
	unsigned soft_count;
	int64_t soft_first, soft_last;
	int64_t last_delivered;
	int64_t manual_at;            /* last manual action, 0 none */
};

/* One event, as the policy sees it. */
struct store_pevent {
	int64_t id;
	int64_t at;
	enum report_class class;
	enum report_reason reason;
	enum report_scope scope;
	const char *status;           /* may be NULL */
};

/* One manual action (suppress, unsuppress, import). */
struct store_paction {
	int64_t at;                   /* when the admin acted */
	int suppress;                 /* 1 suppress, 0 unsuppress */
	enum store_cause cause;
	enum report_reason reason;
	const char *status;           /* may be NULL */
	int64_t since;
	int64_t until;
};

/* What an event means beyond the address's state. */
enum store_peffect {
	STORE_PEFFECT_STATE,          /* folded into the address's state */
	STORE_PEFFECT_INCIDENT,       /* sender scope: opens/extends an incident */
	STORE_PEFFECT_MESSAGE,        /* message scope: recorded against the message */
	STORE_PEFFECT_RECORD,         /* recorded only (autoreply, none) */
};

/* Policy rule names stored with a decision ("the rule that decided"). */
#define STORE_RULE_HARD "hard-at-once"
#define STORE_RULE_COMPLAINT "complaint-at-once"
#define STORE_RULE_SOFT "soft-persisted"
#define STORE_RULE_MANUAL "manual-suppress"
#define STORE_RULE_UNSUPPRESS "manual-unsuppress"
#define STORE_RULE_DELIVERED "delivered-lifts-soft"
#define STORE_RULE_EXPIRED "expired"

void store_pstate_init(struct store_pstate *st);

/* Folds ev into st (see policy.c for the rules).  Returns what ev means. */
enum store_peffect store_policy_event(const struct store_policy *pol, struct store_pstate *st,
    const struct store_pevent *ev);

/* Folds a manual action into st. */
void store_policy_action(const struct store_policy *pol, struct store_pstate *st,
    const struct store_paction *act);

/*
 * Replays events and actions (each sorted by time) from an empty state.
 * On equal times events go first: an admin acts on what was there.
 */
void store_policy_replay(const struct store_policy *pol, const struct store_pevent *ev, size_t nev,
    const struct store_paction *act, size_t nact, struct store_pstate *st);

/* The answer st gives at now: 1 suppressed (*v filled), 0 not (*v cleared). */
int store_policy_verdict(const struct store_pstate *st, int64_t now, struct store_verdict *v);

/* The incident provider of a recipient domain: its group's name, or the domain. */
const char *store_policy_provider(const struct store_policy *pol, const char *domain);

/* ---- index.c ------------------------------------------------------ */

#define STORE_SIPKEY_LEN 16

/* The 128-bit SipHash key of the index: HMAC-SHA256(secret, "bounced index key"). */
void store_sipkey_derive(const unsigned char *secret, size_t len, uint8_t k[STORE_SIPKEY_LEN]);

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of data under k. */
uint64_t store_siphash24(const uint8_t k[STORE_SIPKEY_LEN], const void *data, size_t len);

/* Presizes idx for n entries (avoids rehashing while loading).  0 / -1. */
int store_index_reserve(struct store_index *idx, size_t n);

/* Lookup by key: 1 found and not expired at now, 0 not. */
int store_index_lookup(const struct store_index *idx, uint64_t key, time_t now,
    struct store_verdict *r);

/* Inserts or removes one entry.  0 / -1 (allocation). */
int store_index_put(struct store_index *idx, uint64_t key, const struct store_verdict *v);

/* ---- store.c: the handle, shared by the files that run SQL -------- */

#define STORE_STMT_ENUM(id, sql) STMT_##id,
enum store_stmt { STORE_STMTS(STORE_STMT_ENUM) STMT_COUNT };
#undef STORE_STMT_ENUM

/* hmac:<64 hex HMAC-SHA256>:<16 hex index key> */
#define STORE_HMAC_NAME_LEN (5 + 64 + 1 + 16)

struct store {
	sqlite3 *db;
	struct store_policy pol;
	int readonly;
	unsigned char *secret;
	size_t secret_len;
	uint8_t sipkey[STORE_SIPKEY_LEN];
	store_parse_fn parse;
	void *parse_ud;
	sqlite3_stmt *stmt[STMT_COUNT];
	int64_t log_pruned;           /* when store_log_ingest last expired its tables */
	int64_t forgotten;            /* hmac rows, counted at each BEGIN: 0 skips the
	                               * HMAC and second lookup for a new address */
	enum store_error errcode;
	char errbuf[256];
};

/* A target's state while a transaction works on it. */
struct store_target {
	char name[STORE_ADDR_MAX + 1];
	size_t len;
	int exists;                   /* a row was stored */
	struct store_pstate st;
	char source[128];
	struct store_verdict before;  /* at now, before the change */
};

/* Prepared (cached) statement id; NULL with the error set. */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id);

/* Sets the error from SQLite's state after rc; returns -1. */
int store_fail(struct store *s, int rc, const char *what);

/* Sets an error of a given kind; returns -1. */
int store_failf(struct store *s, enum store_error code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Steps a statement that returns no row, and resets it.  0 / -1. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what);

/* Binds text or NULL. */
void store_bind_text(sqlite3_stmt *st, int i, const char *v);

/* Transactions: BEGIN IMMEDIATE, COMMIT (rolls back on failure), ROLLBACK. */
int store_tx_begin(struct store *s);
int store_tx_commit(struct store *s);
void store_tx_rollback(struct store *s);

/*
 * Loads / saves a target's state.  With adopt, a forgotten address that
 * shows up again takes back its hmac row's suppression (audited "restore").
 */
int store_row_load(struct store *s, const char *name, struct store_target *t);
int store_target_load(struct store *s, struct store_target *t, time_t now, int adopt);
int store_target_save(struct store *s, struct store_target *t, time_t now);

/* Appends the index change of t when its verdict at now changed. */
void store_target_change(struct store *s, const struct store_target *t, time_t now,
    GArray *changes);

/* Where an event came from: a bounce over LMTP or a line of Postfix's log. */
struct store_event_origin {
	const char *source;           /* "log", or NULL: "lmtp" */
	const char *queue_id;         /* the original message's Postfix queue ID, or NULL */
	const char *sender;           /* the original message's sender, or NULL */
	int untrusted;                /* 1: an untrusted bounce's: evidence only (trust) */
};

/* Records one recipient as an event (see store.c); o may be NULL. */
int store_event_insert(struct store *s, int64_t bounce_id, int64_t at,
    const struct report_rcpt *rc, const struct store_event_origin *o,
    char name_r[STORE_ADDR_MAX + 1], size_t *len_r, int64_t *id_r, int *twin_r);

/*
 * Records one recipient (bounce_id 0: none, a log line) and folds it into
 * its address's state, or its provider's incident; a twin of the other
 * source's event (*twin_r 1) is recorded only.  0 / -1.
 */
int store_ingest_rcpt(struct store *s, int64_t bounce_id, int64_t at,
    const struct report_rcpt *rc, const struct store_event_origin *o, time_t now,
    GArray *changes, int *twin_r);

/*
 * Opens or extends the incident of domain's provider (or its candidate:
 * policy.incident_min_messages); noise (store_policy_incident_worthy) is
 * left out.  bounce_id: the message the failure came from.
 */
int store_incident_note(struct store *s, const char *domain, int64_t at, int64_t event_id,
    int64_t bounce_id, enum report_reason reason, const char *status, const char *diagnostic);

/* The audit log. */
int store_audit(struct store *s, int64_t at, const char *actor, const char *action,
    const char *target, const struct store_pstate *st, const char *note);

/* hmac:<hmac>:<key> of a normalised address into out (STORE_HMAC_NAME_LEN + 1). */
void store_hmac_name(const struct store *s, const char *norm, size_t len, char *out);

/* Static rule text for a stored one. */
const char *store_rule_intern(const char *text);

/* Index key of a stored name (parses the key of a hmac: name). */
uint64_t store_name_key(const uint8_t k[STORE_SIPKEY_LEN], const char *name, size_t len);

#endif
