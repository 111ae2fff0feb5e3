/* SPDX-License-Identifier: MIT */
/*
 * log.c - Postfix's log in the store (see store.h, "Postfix's log"): the
 * lines of one read recorded in one transaction with the source's
 * position, each delivery line counted once, failures folded by the same
 * policy as a DSN's, and the sent map (queue ID -> Message-ID, sender) of
 * the mail this server sent.
 */
#include <string.h>

#include "store-int.h"

/* Limits. */
#define LOGSEEN_KEEP   86400   /* seconds a line's dedupe key is kept */
#define PRUNE_EVERY    60      /* seconds between expiries of the log tables */
#define LOGKEY_BYTES   16

static int log_seen(struct store *s, const struct report_log_entry *e, time_t now);
static int log_delivery(struct store *s, struct store_log_batch *b,
    const struct report_log_entry *e, time_t now, GArray *changes);
static int log_delivered(struct store *s, const struct report_rcpt *rc, int64_t at, time_t now,
    GArray *changes);
static int log_sent_map(struct store *s, const struct report_log_entry *e, time_t now);
static int log_prune(struct store *s, const struct store_log_batch *b, time_t now);
static int logpos_put(struct store *s, const struct store_logpos *p);

/* 1 when the line is new (its key recorded now), 0 when seen before, -1 error. */
static int
log_seen(struct store *s, const struct report_log_entry *e, time_t now)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	const char *status = report_log_status_name(e->status);
	guint8 digest[32];
	gsize dlen = sizeof(digest);
	sqlite3_stmt *st;

	g_checksum_update(ck, (const guchar *)e->queue_id, (gssize)strlen(e->queue_id) + 1);
	g_checksum_update(ck, (const guchar *)e->rcpt, (gssize)strlen(e->rcpt) + 1);
	g_checksum_update(ck, (const guchar *)status, (gssize)strlen(status) + 1);
	g_checksum_update(ck, (const guchar *)e->stamp, (gssize)strlen(e->stamp) + 1);
	/*
	 * delay= grows with every attempt of a message: two attempts whose lines
	 * carry the same second (postlogd or syslog late under load) are two
	 * lines, while one line read twice has the same delay.
	 */
	g_checksum_update(ck, (const guchar *)e->delay, (gssize)strlen(e->delay));
	g_checksum_get_digest(ck, digest, &dlen);
	g_checksum_free(ck);
	if ((st = store_stmt(s, STMT_LOGSEEN_INS)) == NULL)
		return -1;
	sqlite3_bind_blob(st, 1, digest, LOGKEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)now);
	if (store_step_done(s, st, "log: dedupe") == -1)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

/* A sent line: the address's soft count is reset and its last delivery recorded. */
static int
log_delivered(struct store *s, const struct report_rcpt *rc, int64_t at, time_t now,
    GArray *changes)
{
	struct store_target t;
	struct store_pevent ev;
	char err[256];
	int len = store_addr_normalize(rc->recipient, strlen(rc->recipient), t.name, err);

	if (len <= 0 || t.name[0] == '@')
		return 0;
	t.len = (size_t)len;
	if (store_target_load(s, &t, now, 0) == -1)
		return -1;
	if (!t.exists)
		return 0;   /* no history: nothing to reset */
	memset(&ev, 0, sizeof(ev));
	ev.at = at;
	ev.class = rc->class;
	ev.reason = rc->reason;
	ev.scope = rc->scope;
	ev.status = rc->status;
	if (store_policy_event(&s->pol, &t.st, &ev) != STORE_PEFFECT_STATE)
		return 0;
	if (store_target_save(s, &t, now) == -1)
		return -1;
	store_target_change(s, &t, now, changes);
	return 0;
}

static int
log_delivery(struct store *s, struct store_log_batch *b, const struct report_log_entry *e,
    time_t now, GArray *changes)
{
	struct report_rcpt *rc;
	struct store_event_origin o;
	char sender[STORE_ADDR_MAX + 1];
	int64_t at = e->at > 0 ? e->at : (int64_t)now;
	int r, twin = 0;

	r = log_seen(s, e, now);
	if (r <= 0) {
		if (r == 0)
			b->duplicates++;
		return r;
	}
	rc = report_log_rcpt(e);
	if (rc == NULL)
		return 0;
	if (rc->class == REPORT_CLASS_DELIVERED) {
		r = log_delivered(s, rc, at, now, changes);
	} else {
		sqlite3_stmt *st = store_stmt(s, STMT_SENT_SENDER);

		if (st == NULL) {
			report_rcpt_free(rc);
			return -1;
		}
		sender[0] = '\0';
		store_bind_text(st, 1, e->queue_id);
		r = sqlite3_step(st);
		if (r == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
			g_strlcpy(sender, (const char *)sqlite3_column_text(st, 0), sizeof(sender));
		sqlite3_reset(st);
		if (r != SQLITE_ROW && r != SQLITE_DONE) {
			report_rcpt_free(rc);
			return store_fail(s, r, "log: sender");
		}
		memset(&o, 0, sizeof(o));
		o.source = "log";
		o.queue_id = e->queue_id;
		o.sender = sender;
		r = store_ingest_rcpt(s, 0, at, rc, &o, now, changes, &twin);
	}
	report_rcpt_free(rc);
	if (r == -1)
		return -1;
	b->counted[e->status]++;
	b->twins += (unsigned)twin;
	return 0;
}

static int
log_sent_map(struct store *s, const struct report_log_entry *e, time_t now)
{
	int msgid = e->kind == REPORT_LOG_MESSAGE_ID;
	sqlite3_stmt *st = store_stmt(s, msgid ? STMT_SENT_MSGID : STMT_SENT_FROM);

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, e->queue_id);
	store_bind_text(st, 2, msgid ? e->message_id : e->sender);
	sqlite3_bind_int64(st, 3, e->at > 0 ? e->at : (int64_t)now);
	return store_step_done(s, st, "log: sent map");
}

/* Every PRUNE_EVERY seconds: the sent map's age and size, old dedupe keys. */
static int
log_prune(struct store *s, const struct store_log_batch *b, time_t now)
{
	sqlite3_stmt *st;

	if (now - s->log_pruned < PRUNE_EVERY)
		return 0;
	if ((st = store_stmt(s, STMT_SENT_EXPIRE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)now - b->sent_ttl);
	if (store_step_done(s, st, "log: expire sent map") == -1)
		return -1;
	if (b->sent_max > 0) {
		if ((st = store_stmt(s, STMT_SENT_BOUND)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, (int64_t)b->sent_max - 1);
		if (store_step_done(s, st, "log: bound sent map") == -1)
			return -1;
	}
	if ((st = store_stmt(s, STMT_LOGSEEN_EXPIRE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)now - LOGSEEN_KEEP);
	if (store_step_done(s, st, "log: expire dedupe keys") == -1)
		return -1;
	s->log_pruned = now;
	return 0;
}

static int
logpos_put(struct store *s, const struct store_logpos *p)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LOGPOS_PUT);

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, p->name);
	sqlite3_bind_int64(st, 2, p->inode);
	sqlite3_bind_int64(st, 3, p->offset);
	store_bind_text(st, 4, p->hash);
	store_bind_text(st, 5, p->cursor);
	return store_step_done(s, st, "log: position");
}

int
store_log_ingest(struct store *s, struct store_log_batch *b, time_t now, GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;
	int64_t pruned = s->log_pruned;

	memset(b->counted, 0, sizeof(b->counted));
	b->duplicates = b->twins = b->sent_map = 0;
	if (store_tx_begin(s) == -1)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		const struct report_log_entry *e = &b->entries[i];

		if (e->kind == REPORT_LOG_DELIVERY) {
			if (log_delivery(s, b, e, now, changes) == -1)
				goto fail;
		} else if (e->kind == REPORT_LOG_MESSAGE_ID || e->kind == REPORT_LOG_FROM) {
			if (log_sent_map(s, e, now) == -1)
				goto fail;
			b->sent_map++;
		}
	}
	if ((b->pos != NULL && logpos_put(s, b->pos) == -1) || log_prune(s, b, now) == -1 ||
	    store_tx_commit(s) == -1)
		goto fail;
	return 0;
fail:
	store_tx_rollback(s);
	s->log_pruned = pruned;
	if (changes != NULL)
		g_array_set_size(changes, mark);
	memset(b->counted, 0, sizeof(b->counted));
	b->duplicates = b->twins = b->sent_map = 0;
	return -1;
}

int
store_logpos_get(struct store *s, const char *name, struct store_logpos *r)
{
	sqlite3_stmt *st = store_stmt(s, STMT_LOGPOS_GET);
	int rc;

	memset(r, 0, sizeof(*r));
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		g_strlcpy(r->name, name, sizeof(r->name));
		r->inode = sqlite3_column_int64(st, 0);
		r->offset = sqlite3_column_int64(st, 1);
		if (sqlite3_column_text(st, 2) != NULL)
			g_strlcpy(r->hash, (const char *)sqlite3_column_text(st, 2), sizeof(r->hash));
		if (sqlite3_column_text(st, 3) != NULL)
			g_strlcpy(r->cursor, (const char *)sqlite3_column_text(st, 3),
			    sizeof(r->cursor));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, rc, "log: read position");
	return rc == SQLITE_ROW;
}

/* One lookup of the sent map by one key: 1 found (r filled), 0 not, -1 error. */
static int
sent_get_by(struct store *s, enum store_stmt which, const char *key,
    struct store_sent_msg *r)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, which)) == NULL)
		return -1;
	store_bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *v;

		if ((v = sqlite3_column_text(st, 0)) != NULL)
			g_strlcpy(r->queue_id, (const char *)v, sizeof(r->queue_id));
		if ((v = sqlite3_column_text(st, 1)) != NULL)
			g_strlcpy(r->message_id, (const char *)v, sizeof(r->message_id));
		if ((v = sqlite3_column_text(st, 2)) != NULL)
			g_strlcpy(r->sender, (const char *)v, sizeof(r->sender));
		r->at = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(s, rc, "sent lookup");
	return rc == SQLITE_ROW;
}

int
store_sent_get(struct store *s, const char *queue_id, const char *message_id,
    struct store_sent_msg *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	/* the queue ID first (exact), then the Message-ID */
	if (queue_id != NULL && queue_id[0] != '\0' &&
	    (rc = sent_get_by(s, STMT_SENT_BY_QID, queue_id, r)) != 0)
		return rc;
	if (message_id != NULL && message_id[0] != '\0')
		return sent_get_by(s, STMT_SENT_BY_MSGID, message_id, r);
	return 0;
}

enum store_sent
store_sent_lookup(struct store *s, const char *message_id, const char *queue_id)
{
	struct store_sent_msg m;

	if (s == NULL)
		return STORE_SENT_UNKNOWN;
	return store_sent_get(s, queue_id, message_id, &m) == 1 ? STORE_SENT_YES :
	    STORE_SENT_UNKNOWN;
}
