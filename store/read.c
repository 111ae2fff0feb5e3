/* SPDX-License-Identifier: MIT */
/*
 * read.c - the store's reads for the admin side: one entry, list/export
 * (streamed in address order with keyset paging, constant memory), show
 * (an entry with its events, evidence and audit trail), a stored raw
 * bounce, stats over a period, open incidents and the audit log.  Reads
 * run on the daemon's read-only connection and never write.
 */
#include <string.h>

#include "store-int.h"

/* Limits. */
#define LIST_BATCH_MAX (-1)           /* LIMIT -1: no limit */

static void entry_fill(sqlite3_stmt *st, struct store_entry *e, int borrowed);
static const char *col_text(sqlite3_stmt *st, int i);

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

/* Row: address, ADDR_COLS. */
static void
entry_fill(sqlite3_stmt *st, struct store_entry *e, int borrowed)
{
	memset(e, 0, sizeof(*e));
	if (borrowed) {
		e->address = (char *)col_text(st, 0);
		e->rule = (char *)col_text(st, 8);
		e->source = (char *)col_text(st, 9);
	} else {
		e->address = g_strdup(col_text(st, 0));
		e->rule = g_strdup(col_text(st, 8));
		e->source = g_strdup(col_text(st, 9));
	}
	e->v.cause = (enum store_cause)sqlite3_column_int(st, 1);
	e->v.reason = (enum report_reason)sqlite3_column_int(st, 2);
	e->scope = (enum report_scope)sqlite3_column_int(st, 3);
	g_strlcpy(e->status, col_text(st, 4), sizeof(e->status));
	e->v.since = sqlite3_column_int64(st, 5);
	e->v.until = sqlite3_column_int64(st, 6);
	e->v.domain = e->address[0] == '@';
	e->event_id = sqlite3_column_int64(st, 7);
	e->updated = sqlite3_column_int64(st, 10);
	e->soft_count = (unsigned)sqlite3_column_int(st, 11);
	e->soft_first = sqlite3_column_int64(st, 12);
	e->soft_last = sqlite3_column_int64(st, 13);
	e->last_delivered = sqlite3_column_int64(st, 14);
	e->manual_at = sqlite3_column_int64(st, 15);
}

void
store_entry_clear(struct store_entry *e)
{
	if (e == NULL)
		return;
	g_free(e->address);
	g_free(e->source);
	g_free(e->rule);
	memset(e, 0, sizeof(*e));
}

int
store_get(struct store *s, const char *norm, struct store_entry *e)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ADDR_ENTRY);
	char hname[STORE_HMAC_NAME_LEN + 1];
	const char *names[2] = { norm, NULL };

	memset(e, 0, sizeof(*e));
	if (st == NULL)
		return -1;
	if (norm[0] != '@' && strncmp(norm, "hmac:", 5) != 0) {
		/* A forgotten address is still found, through its keyed hash. */
		store_hmac_name(s, norm, strlen(norm), hname);
		names[1] = hname;
	}
	for (int i = 0; i < 2 && names[i] != NULL; i++) {
		int rc;

		sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			entry_fill(st, e, 0);
			sqlite3_reset(st);
			return 1;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store_fail(s, rc, "get entry");
	}
	return 0;
}

int
store_list(struct store *s, const struct store_filter *f, time_t now, store_entry_cb cb,
    void *ud)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ADDR_LIST);
	struct store_filter none;
	int rc;

	if (st == NULL)
		return -1;
	if (f == NULL) {
		memset(&none, 0, sizeof(none));
		none.reason = -1;
		none.scope = -1;
		f = &none;
	}
	store_bind_text(st, 1, f->after != NULL ? f->after : "");
	sqlite3_bind_int(st, 2, f->suppressed_only != 0);
	sqlite3_bind_int64(st, 3, (int64_t)now);
	sqlite3_bind_int64(st, 4, (int64_t)f->cause_mask);
	sqlite3_bind_int(st, 5, f->reason);
	sqlite3_bind_int(st, 6, f->scope);
	store_bind_text(st, 7, f->domain);
	sqlite3_bind_int64(st, 8, f->since);
	sqlite3_bind_int64(st, 9, f->until);
	sqlite3_bind_int64(st, 10, f->limit != 0 ? (int64_t)f->limit : LIST_BATCH_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_entry e;

		entry_fill(st, &e, 1);
		if (cb(&e, ud) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "list");
	return 0;
}
