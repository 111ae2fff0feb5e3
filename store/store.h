/* SPDX-License-Identifier: MIT */
/*
 * store.h - the store's one public header: per-address suppression state
 * and its evidence in one SQLite database, the policy that decides the
 * state, and the in-memory index that answers "may I send to X?".
 *
 * Threads: a struct store is one SQLite connection and is used by one
 * thread at a time.  The daemon opens one read-write store in its writer
 * thread (ingest, admin changes) and one read-only store in its event loop
 * (show, list, export, stats).  A struct store_index is plain memory owned by
 * the loop thread; every write returns the changes (struct store_change) the
 * caller applies to its index after the commit, before it answers.
 *
 * Returns (STYLE.md): actions 0 / -1; lookups 1 / 0 / -1 (found, absent,
 * error); constructors NULL.  On -1 store_errmsg() tells why; every -1 leaves
 * the database as it was (the transaction is rolled back), so the daemon can
 * answer 451 and the MTA retries.
 *
 * Ownership: pointers passed in are borrowed for the call; strings returned
 * in structs are owned by the struct and freed by its *_clear()/_free().
 */
#ifndef BOUNCED_STORE_H
#define BOUNCED_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <glib.h>

#include "postfix-log.h"
#include "report.h"

/* Longest normalised address (local@domain) the store accepts: the parser's. */
#define STORE_ADDR_MAX REPORT_ADDR_MAX

/* TTL value meaning "never expires". */
#define STORE_TTL_NEVER ((int64_t)0)

/* Why an address is suppressed. */
#define STORE_CAUSES(X) \
	X(NONE, "none")           /* not suppressed */ \
	X(HARD, "hard")           /* a hard bounce: the address does not work */ \
	X(COMPLAINT, "complaint") /* the recipient complained (ARF) */ \
	X(SOFT, "soft")           /* soft bounces that persisted (policy) */ \
	X(MANUAL, "manual")       /* an admin's suppress */ \
	X(IMPORT, "import")       /* imported from another system */

#define STORE_ENUM_CAUSE(id, name) STORE_CAUSE_##id,
enum store_cause { STORE_CAUSES(STORE_ENUM_CAUSE) STORE_CAUSE_COUNT };
#undef STORE_ENUM_CAUSE

const char *store_cause_name(enum store_cause c);
int store_cause_from_name(const char *name, enum store_cause *cause_r);

/*
 * A group of destination domains that share antispam tools (Orange,
 * Wanadoo, La Poste and SFR): sender-scope failures on any of them open or
 * extend one incident, named after the group.
 */
struct store_provider_group {
	const char *name;
	const char *const *domains;   /* lowercased ASCII */
	size_t ndomains;
};

/* The policy, from the config's "policy" section (every knob documented there). */
struct store_policy {
	unsigned soft_threshold;      /* soft bounces needed to suppress (3) */
	int64_t soft_min_span;        /* seconds between first and last of them (48 h) */
	int64_t soft_stale;           /* a soft count older than this starts again (7 d) */
	int delivered_resets;         /* a delivered DSN resets the soft count (1) */
	int64_t ttl_reason[REPORT_REASON_COUNT]; /* hard suppression TTL per reason; STORE_TTL_NEVER */
	int64_t ttl_soft;             /* soft-escalated suppression TTL (30 d) */
	int64_t ttl_complaint;        /* STORE_TTL_NEVER by default */
	int64_t raw_retention;        /* raw bounces kept this long (90 d); 0 = forever */
	int64_t incident_quiet;       /* an incident with nothing new for this long is closed (24 h) */
	unsigned incident_min_messages; /* failed messages (bounces) needed to open one (2) */
	int64_t incident_window;      /* ... within this long of the first of them (1 h) */
	const struct store_provider_group *groups;
	size_t ngroups;
};

/* Fills *pol with the built-in defaults (the values in parentheses above). */
void store_policy_default(struct store_policy *pol);

struct store_config {
	const char *path;             /* SQLite file; created with its directory's permissions */
	const unsigned char *secret;  /* HMAC key for erasure and the index; borrowed */
	size_t secret_len;
	int readonly;                 /* 1: a read-only connection (no migrations) */
	unsigned busy_timeout_ms;     /* wait this long on a lock before failing (2000) */
	unsigned cache_kib;           /* SQLite page cache per connection (2048) */
	const char *vfs;              /* SQLite VFS name, NULL for the default (tests) */
};

struct store;

/*
 * Opens (creating and migrating when read-write) the database.  Returns NULL
 * with err filled on failure.  pol is copied; the groups it points to must
 * outlive the store.
 */
struct store *store_open(const struct store_config *cfg, const struct store_policy *pol,
    char err[256]);
void store_close(struct store *s);

/*
 * 1 when the database file this handle has open was deleted, renamed or
 * replaced at its path since it was opened (its directory removed, a backup
 * restored), 0 when not, -1 when unknown.  Writes refuse to go on in a
 * moved file (STORE_ERR_IO); the daemon then opens the path again.
 */
int store_moved(struct store *s);

/* Last error of this handle: static or handle-owned text, never NULL. */
const char *store_errmsg(const struct store *s);

/*
 * What kind of failure the last -1 was, for the daemon's log and reply
 * (every kind is a 4xx for LMTP: the MTA keeps the bounce and retries).
 */
#define STORE_ERRORS(X) \
	X(NONE, "none") \
	X(INVALID, "invalid")     /* bad input (address, cause...): not retryable as is */ \
	X(FULL, "disk-full")      /* SQLITE_FULL, ENOSPC */ \
	X(READONLY, "read-only")  /* read-only file, file system or connection */ \
	X(LOCKED, "locked")       /* another connection held the lock past busy_timeout */ \
	X(CORRUPT, "corrupt")     /* malformed database or not a database */ \
	X(IO, "io")               /* other I/O error */ \
	X(NOMEM, "no-memory") \
	X(SCHEMA, "schema")       /* unknown or too new schema version */ \
	X(INTERNAL, "internal")

#define STORE_ENUM_ERROR(id, name) STORE_ERR_##id,
enum store_error { STORE_ERRORS(STORE_ENUM_ERROR) STORE_ERR_COUNT };
#undef STORE_ENUM_ERROR

enum store_error store_errcode(const struct store *s);
const char *store_error_name(enum store_error e);

/*
 * The parser re-evaluation runs over stored raw bounces; report_parse()
 * with the default limits unless replaced (tests inject another one).
 * Returns a report the store frees with report_free(), or NULL (the
 * bounce is then skipped and keeps its events).
 */
typedef struct report *(*store_parse_fn)(const char *buf, size_t len, void *ud);
void store_set_parser(struct store *s, store_parse_fn fn, void *ud);

/* Replaces the policy (SIGHUP); the groups must outlive the store. */
void store_set_policy(struct store *s, const struct store_policy *pol);

/*
 * The one address normaliser (ingest, queries, import, CLI): trims white
 * space, removes angle brackets and a "mailto:"/"rfc822;" prefix, lowercases
 * the local part (see README: mailbox names are case-insensitive in
 * practice), lowercases the domain and converts it to ASCII (IDNA).
 * Invalid syntax is rejected with a clear error in err.  An input of the
 * form "@domain" is a domain entry and normalises to "@domain".
 * out must hold STORE_ADDR_MAX + 1 bytes.  Returns the length written, or
 * -1 with err filled.
 */
int store_addr_normalize(const char *in, size_t len, char out[STORE_ADDR_MAX + 1], char err[256]);

/*
 * An address as the logs show it with log.hash_addresses: "hmac:" and the
 * first 16 hex digits of HMAC-SHA256(secret, the normalised address), the
 * prefix of the name store_forget() keeps (so an admin with the secret can
 * match a log line to an address or an erased entry, nobody else can read
 * it).  Text that is not an address is hashed as it is.  out: at least
 * STORE_LOG_HASH_LEN + 1 bytes.
 */
#define STORE_LOG_HASH_LEN (5 + 16)
void store_addr_log_hash(const unsigned char *secret, size_t secret_len, const char *addr,
    char *out);

/*
 * text (len bytes, NULs allowed) with every ASCII-case-insensitive
 * occurrence of needle replaced by with.  Returns a new NUL-terminated
 * buffer the caller g_free()s, its length in *len_r.
 */
char *store_text_redact(const char *text, size_t len, const char *needle, const char *with,
    size_t *len_r);

/*
 * 1 when name is an erased entry's name as forget leaves it and export
 * writes it, "hmac:<64 lowercase hex>:<16 lowercase hex>"; else 0.  The
 * one check of such names (the store, the admin verbs, bouncectl import).
 */
int store_erased_name_valid(const char *name);

/* ---- the answer: in-memory index ---------------------------------- */

/* What a lookup answers. */
struct store_verdict {
	enum store_cause cause;       /* STORE_CAUSE_NONE: may send */
	enum report_reason reason;
	int64_t since;                /* unix time */
	int64_t until;                /* unix time it expires, STORE_TTL_NEVER for never */
	int domain;                   /* 1: decided by a domain entry */
};

struct store_index;

/* A change to apply to an index after a commit. */
struct store_change {
	uint64_t key;                 /* store_index_key() of the address or "@domain" */
	struct store_verdict v;       /* v.cause NONE: remove */
};

/* An empty index whose keys are keyed by the secret (the same as the store's). */
struct store_index *store_index_new(const unsigned char *secret, size_t secret_len);
void store_index_free(struct store_index *idx);

/* The index key of a normalised address or "@domain". */
uint64_t store_index_key(const struct store_index *idx, const char *norm, size_t len);

/* Applies changes (a GArray of struct store_change).  0 / -1 (allocation). */
int store_index_apply(struct store_index *idx, const GArray *changes);

/* Number of entries and bytes of memory held. */
size_t store_index_count(const struct store_index *idx);
size_t store_index_bytes(const struct store_index *idx);

/*
 * "May I send to norm?" against the index: the address, then its domain;
 * an entry whose until has passed at now is not suppressed.
 * Returns 1 (suppressed, *r filled), 0 (may send), -1 (norm not an address).
 */
int store_check(const struct store_index *idx, const char *norm, size_t len, time_t now,
    struct store_verdict *r);

/* Loads every current suppression of the database into idx (startup, reload). */
int store_load_index(struct store *s, struct store_index *idx);

/* ---- was this message sent by us? ----------------------------------- */

/* What the sent-mail record says of a returned message. */
enum store_sent {
	STORE_SENT_UNKNOWN,           /* no record (or no record kept yet) */
	STORE_SENT_YES,               /* this server sent it */
	STORE_SENT_NO,                /* the record covers the period and has no such mail */
};

/*
 * The pluggable "was this message sent by us?" lookup for the trust check
 * (bounced/trust.h): message_id (without <>) and/or the Postfix queue_id
 * named in a bounce, either may be NULL.  Backed by the log source's sent
 * map (store_sent_get(), store/log.c): YES when the message is in it;
 * otherwise UNKNOWN, never NO (the map expires after logsource.sent_ttl and
 * is empty without a log source: an absent message may be an old one).
 * s may be NULL (store not open) and a store error is unknown too.
 */
enum store_sent store_sent_lookup(struct store *s, const char *message_id, const char *queue_id);

/* ---- writes: each call is one durable transaction ------------------ */

/* One received bounce. */
struct store_bounce {
	const char *raw;              /* the message as received; stored for re-evaluation */
	size_t raw_len;
	const struct report *report;  /* what the parser made of it */
	const char *envelope_rcpt;    /* LMTP RCPT (the Return-Path mailbox) or NULL */
	const char *verp_rcpt;        /* recipient decoded from a VERP envelope, or NULL:
	                               * kept so re-evaluation can adopt it again */
	int64_t received;             /* unix time; 0: now */
	const char *untrusted;        /* NULL: counts; else why not (trust_decide()): stored
	                               * with its events, never suppresses nor opens an incident */
	const char *trust;            /* the evidence ("tag=valid sender=null ..."), or NULL */
	/* out */
	int64_t id_r;                 /* the stored bounce's id */
	int duplicate_r;              /* 1: same digest already stored; nothing counted again */
};

/*
 * Records n bounces in one transaction (group commit: the daemon passes
 * every bounce that arrived while the previous commit ran), applies the
 * policy at now, and appends to changes (may be NULL) what the index must
 * learn.  Durable when it returns 0 (synchronous=FULL).  On -1 nothing of
 * the batch is stored.
 */
int store_ingest(struct store *s, struct store_bounce *b, size_t n, time_t now, GArray *changes);

/* An admin's manual entry (suppress) or an imported one. */
struct store_manual {
	const char *target;           /* normalised address or "@domain" */
	enum store_cause cause;       /* MANUAL or IMPORT (or HARD/COMPLAINT/SOFT when importing an export) */
	enum report_reason reason;
	const char *status;           /* "" or NULL when none */
	int64_t since;                /* 0: now */
	int64_t until;                /* STORE_TTL_NEVER: never */
	const char *note;             /* free text, may be NULL */
	const char *actor;            /* who: "uid=0 (root)", "import:file.csv" */
	const char *source;           /* the entry's source as exported ("lmtp"...), or NULL:
	                               * "manual" for MANUAL, "import" otherwise */
};

/* Suppresses targets (one transaction); audited.  0 / -1. */
int store_suppress(struct store *s, const struct store_manual *m, size_t n, time_t now,
    GArray *changes);

/* Lifts a suppression; audited.  1 lifted, 0 was not suppressed, -1 error. */
int store_unsuppress(struct store *s, const char *target, const char *note, const char *actor,
    time_t now, GArray *changes);

/* What a GDPR erasure removed. */
struct store_forget_result {
	unsigned events;              /* events deleted */
	unsigned bounces;             /* raw bounces deleted */
	unsigned bounces_redacted;    /* kept for other addresses, the address redacted */
	unsigned audit;               /* audit entries scrubbed of the address */
	int kept_suppressed;          /* 1: a keyed hash keeps the address suppressed */
};

/*
 * GDPR erasure: deletes the address's events, the raw bounces naming it and
 * its text everywhere, keeping only HMAC(secret, address) with cause, reason
 * and dates so it stays suppressed.  A raw bounce that is also another
 * address's evidence stays, with the address redacted from it.  1
 * forgotten, 0 unknown address, -1 error.
 */
int store_forget(struct store *s, const char *norm, const char *actor, time_t now,
    struct store_forget_result *r, GArray *changes);

/* One address whose state re-evaluation changes. */
struct store_reeval_diff {
	char *address;
	struct store_verdict before, after;
};

/*
 * Runs the current parser and policy again over every stored raw bounce and
 * replays the address states.  dry_run: only fills diffs (a GPtrArray of
 * struct store_reeval_diff *, caller frees with store_reeval_diff_free).
 * Otherwise applies them in one transaction, audited, and fills changes.
 */
int store_reevaluate(struct store *s, int dry_run, time_t now, GPtrArray *diffs, GArray *changes);
void store_reeval_diff_free(struct store_reeval_diff *d);

/* Retention: purges raw bounces older than policy.raw_retention.  Rows purged or -1. */
int64_t store_purge(struct store *s, time_t now);

/* ---- Postfix's log (issue 16; store/log.c) ------------------------- */

/* Where a log source stopped; saved in the transaction of its lines. */
struct store_logpos {
	char name[128];               /* the source: "file:PATH" or "journal" */
	int64_t inode;                /* file: inode of the file followed */
	int64_t offset;               /* file: bytes of it consumed */
	char hash[65];                /* file: SHA-256 (hex) of the last line consumed, "" none */
	char cursor[512];             /* journal: the cursor of the last entry consumed */
};

/* The stored position of source name: 1 found (*r filled), 0 none, -1 error. */
int store_logpos_get(struct store *s, const char *name, struct store_logpos *r);

/* Lines of the log read since the last commit. */
struct store_log_batch {
	const struct report_log_entry *entries; /* borrowed; kind OTHER entries are skipped */
	size_t n;
	const struct store_logpos *pos; /* saved with them, or NULL */
	int64_t sent_ttl;             /* the sent map keeps a message this long (seconds) */
	unsigned sent_max;            /* and at most this many messages */
	/* out: what the lines did */
	unsigned counted[REPORT_LOG_STATUS_EXPIRED + 1]; /* delivery lines by status */
	unsigned duplicates;          /* delivery lines seen before (read twice) */
	unsigned twins;               /* failures their DSN had already counted */
	unsigned sent_map;            /* message-id= and from= lines kept */
};

/*
 * Records a batch of log lines in one transaction, with the source's
 * position, so a restart neither loses nor repeats a line:
 *  - a delivery line is counted once (its key: queue ID, recipient, status
 *    and timestamp; keys are kept a day);
 *  - deferred and bounced lines become events (source "log", with the
 *    queue ID and the sender from the sent map) folded by the policy like a
 *    DSN's: soft counts, hard suppressions, incidents.  A bounced line
 *    whose DSN was already stored for the same queue ID and recipient is a
 *    twin: recorded, not counted (and the DSN that follows a counted line
 *    is the twin);
 *  - a sent line resets the soft count and records "last delivered" of an
 *    address the store already has (no event, no new row: deliveries are
 *    most of the log);
 *  - message-id= and from= lines fill the sent map (expired after
 *    sent_ttl, at most sent_max rows).
 * Appends the index changes.  0 / -1 (nothing stored).
 */
int store_log_ingest(struct store *s, struct store_log_batch *b, time_t now, GArray *changes);

/* A message this server sent, from the log's sent map. */
struct store_sent_msg {
	char queue_id[REPORT_LOG_QID_MAX + 1];
	char message_id[REPORT_LOG_FIELD_MAX + 1];
	char sender[STORE_ADDR_MAX + 1];  /* "" when unknown or the null sender */
	int64_t at;                   /* when it was logged */
};

/*
 * Was this message sent by us?  By queue_id, else by message_id (without
 * <>; the newest if several); either may be NULL.  1 found (*r filled),
 * 0 not in the map (never sent, or expired), -1 error.
 */
int store_sent_get(struct store *s, const char *queue_id, const char *message_id,
    struct store_sent_msg *r);

/* ---- reads -------------------------------------------------------- */

/*
 * One address or domain entry.  From store_get() the strings are owned
 * (store_entry_clear() frees them); in a store_list() callback they are
 * borrowed for the call only (do not clear).
 */
struct store_entry {
	char *address;                /* normalised, "@domain", or "hmac:<hmac>:<key>" once
	                               * forgotten (self-contained: an export of it imports) */
	struct store_verdict v;       /* the stored decision (v.cause NONE: not suppressed);
	                               * compare v.until with now for "answers suppressed" */
	char status[16];
	char *source;                 /* "lmtp", "manual", "import"... */
	int64_t updated;
	unsigned soft_count;
	int64_t soft_first, soft_last;
	int64_t last_delivered;       /* 0 none */
	enum report_scope scope;      /* scope of the deciding event */
	char *rule;                   /* policy rule that decided ("hard-at-once"...), "" none */
	int64_t event_id;             /* deciding event, 0 none (manual, import) */
	int64_t manual_at;            /* last manual action, 0 none */
};
void store_entry_clear(struct store_entry *e);

/*
 * The stored entry of one normalised address or "@domain" (a forgotten
 * address is found through its keyed hash).  1 found, 0 unknown, -1 error.
 */
int store_get(struct store *s, const char *norm, struct store_entry *e);

/* Filters for list/export; zero = no filter on that field. */
struct store_filter {
	int suppressed_only;          /* 1: only entries answering "suppressed" at now */
	unsigned cause_mask;          /* bits (1 << enum store_cause); 0 = all */
	int reason;                   /* -1 = all, else enum report_reason */
	int scope;                    /* -1 = all, else enum report_scope of the deciding event */
	const char *domain;           /* "example.com" or NULL */
	int64_t since, until;         /* on the entry's since */
	const char *after;            /* keyset paging: addresses > after, or NULL */
	unsigned limit;               /* 0 = no limit */
	int untrusted_only;           /* 1: addresses named by untrusted bounces (with their
	                               * state, or not suppressed); since/until on the events;
	                               * cause, reason, scope and suppressed_only ignored */
};

/* Calls cb for each entry in address order; cb returns 0 to go on, 1 to stop.  0 / -1. */
typedef int (*store_entry_cb)(const struct store_entry *e, void *ud);
int store_list(struct store *s, const struct store_filter *f, time_t now, store_entry_cb cb,
    void *ud);

/* One event of an address, with its bounce's evidence (owned strings, or NULL). */
struct store_event {
	int64_t id;
	int64_t bounce_id;            /* 0 when the bounce was erased */
	int64_t at;
	enum report_class class;
	enum report_reason reason;
	enum report_scope scope;
	char status[16];
	char replycode[4];
	char *action, *diagnostic, *diagnostic_type, *remote_mta, *smtp_command;
	char *rule;                   /* the classify rule that decided */
	char *decoder, *reporting_mta, *orig_message_id, *orig_sender, *subject;
	int raw_kept;                 /* 1: store_raw(bounce_id) has the message */
	char *untrusted;              /* NULL: the bounce counted; else why not ("tag-absent") */
	char *trust;                  /* the bounce's evidence, or NULL (before trust existed) */
	char *source;                 /* "lmtp" or "log" (Postfix's log) */
	char *queue_id;               /* the original message's Postfix queue ID, or NULL */
	char *sender;                 /* the original message's sender, or NULL */
	int64_t twin_of;              /* the same failure counted by the other source's
	                               * event (this one is evidence only), or 0 */
};
void store_event_free(struct store_event *ev);

/* One audit log entry (owned strings). */
struct store_audit_entry {
	int64_t id;
	int64_t at;
	char *actor;                  /* "uid=0 (root)", "reevaluate", "store" */
	char *action;                 /* suppress, import, unsuppress, forget, reevaluate, restore */
	char *target;                 /* address, "@domain" or "hmac:..." */
	enum store_cause cause;       /* the state after the action */
	enum report_reason reason;
	char status[16];
	int64_t since, until;
	char *note;
};
void store_audit_entry_free(struct store_audit_entry *a);

/* What `bouncectl show` prints. */
struct store_show {
	int has_entry;                /* 1: entry is filled (state stored) */
	struct store_entry entry;     /* owned */
	GPtrArray *events;            /* struct store_event *, newest first, owned */
	GPtrArray *audit;             /* struct store_audit_entry *, oldest first, owned */
};

/*
 * An address's (or "@domain"'s) state, its last max_events events (0: all)
 * with their evidence, and its audit trail.  A forgotten address shows its
 * kept hashed entry and audit.  1 found, 0 unknown, -1 error.  Clear with
 * store_show_clear() in every case.
 */
int store_show(struct store *s, const char *norm, unsigned max_events, struct store_show *r);
void store_show_clear(struct store_show *r);

/*
 * The stored raw bounce: 1 (*raw_r caller frees with g_free, NUL-terminated,
 * *len_r bytes), 0 (unknown, purged or erased), -1 error.
 */
int store_raw(struct store *s, int64_t bounce_id, char **raw_r, size_t *len_r);

/* A name and a count (stats). */
struct store_count {
	char *name;
	uint64_t n;
};

/* An incident: sender-scope failures at one provider (group or domain). */
struct store_incident {
	int64_t id;
	char *provider;               /* group name or domain */
	enum report_reason reason;    /* of the last failure */
	int64_t first_seen, last_seen;
	uint64_t count;
	char *last_domain, *last_status, *last_diagnostic;
	int open;                     /* 1: last_seen within policy.incident_quiet of now */
	int64_t opened;               /* when enough messages had failed to open it */
	uint64_t messages;            /* failed messages (bounces) in it */
};
void store_incident_free(struct store_incident *in);

/*
 * Open incidents (open_only) or all, newest first (GPtrArray of struct
 * store_incident *).  Candidates (too few messages yet) are not incidents.
 */
int store_incidents(struct store *s, time_t now, int open_only, GPtrArray *out);
/* The same, limited to incidents whose last failure is at or after since. */
int store_incidents_since(struct store *s, time_t now, int64_t since, GPtrArray *out);

/*
 * 1 when a sender-scope failure may open or extend an incident, 0 when it is
 * noise: greylisting and other first-contact deferrals ("try again later"
 * on a 4xx), and bounced's own refusals (the socketmap's "suppressed:"
 * answer coming back in a DSN).  Pure; status and diagnostic may be NULL.
 */
int store_policy_incident_worthy(const char *status, const char *diagnostic);

/*
 * Alerts (issue 17): events pushed to people, each delivered to every sink
 * configured when it was created.  Ids are stable (the caller hashes what
 * the event is about), so adding the same event twice adds nothing.
 */
#define STORE_ALERT_ID_LEN 16

enum store_alert_state {
	STORE_ALERT_PENDING,          /* to be (re)tried at next_at */
	STORE_ALERT_SENT,
	STORE_ALERT_FAILED,           /* given up */
	STORE_ALERT_STATE_COUNT
};
const char *store_alert_state_name(enum store_alert_state st);

struct store_alert {
	char id[STORE_ALERT_ID_LEN + 1];
	char *kind;                   /* "incident_opened", ... (alert.h) */
	char *subject;                /* provider, sender or component */
	int64_t at;
	int64_t incident_id;          /* 0: none */
	char *body;                   /* JSON object */
	/* one delivery (reads): sink NULL when the alert had no sink */
	char *sink;
	enum store_alert_state state;
	unsigned attempts;
	int64_t next_at;
	char *error;
};
void store_alert_free(struct store_alert *a);

/*
 * Records a (fills only id, kind, subject, at, incident_id, body) with one
 * pending delivery per sink, due at a->at.  1 added, 0 known already (the
 * id exists: nothing changes), -1 error.
 */
int store_alert_add(struct store *s, const struct store_alert *a, const char *const *sinks,
    size_t nsinks);
/* 1 when an alert of this id was recorded, 0 when not, -1 error. */
int store_alert_known(struct store *s, const char *id);
/* Pending deliveries due at now, oldest first, at most limit (struct store_alert *). */
int store_alert_due(struct store *s, int64_t now, unsigned limit, GPtrArray *out);
/* The deliveries of the limit newest alerts, newest first (struct store_alert *). */
int store_alert_recent(struct store *s, unsigned limit, GPtrArray *out);
/* One attempt of a delivery done: its new state (next_at for PENDING), error or NULL. */
int store_alert_mark(struct store *s, const char *id, const char *sink,
    enum store_alert_state state, int64_t next_at, const char *error);
/*
 * Senders (the bounced messages' From, "" unknown) with at least min
 * recipients of class since since (hard or complaint), most first
 * (struct store_count *, name "class:sender").
 */
int store_alert_surges(struct store *s, int64_t since, unsigned min, GPtrArray *out);

/* `bouncectl stats`: events in [from, to), states at now. */
struct store_stats {
	int64_t from, to;
	uint64_t bounces;                          /* messages received */
	uint64_t events;                           /* recipients in them */
	uint64_t by_class[REPORT_CLASS_COUNT];
	uint64_t by_reason[REPORT_REASON_COUNT];
	uint64_t by_scope[REPORT_SCOPE_COUNT];
	uint64_t suppressed[STORE_CAUSE_COUNT];    /* entries answering suppressed at now */
	GPtrArray *domains;          /* struct store_count *: hard+soft+complaint by domain, most first */
	GPtrArray *soft_by_provider; /* struct store_count *: soft bounces by provider, most first */
	GPtrArray *incidents;        /* struct store_incident *: open at now */
};

/* Fills r (max_domains: rows of r->domains, 0 = 20).  0 / -1; clear r in both cases. */
int store_stats(struct store *s, int64_t from, int64_t to, time_t now, unsigned max_domains,
    struct store_stats *r);
void store_stats_clear(struct store_stats *r);

/*
 * The audit log, oldest first: entries of target (NULL: all) with id >
 * after_id, at most limit (0: all).  cb gets an entry borrowed for the call
 * and returns 0 to go on, 1 to stop.  0 / -1.
 */
typedef int (*store_audit_cb)(const struct store_audit_entry *a, void *ud);
int store_audit_list(struct store *s, const char *target, int64_t after_id, unsigned limit,
    store_audit_cb cb, void *ud);

#endif
