/* SPDX-License-Identifier: MIT */
/*
 * alert.c - the store side of alerts (issue 17): events pushed to people
 * and the state of their delivery to each sink, kept in tables alert and
 * alert_delivery so that a restart or an unreachable receiver loses none.
 * What the events are and how they are sent is bounced/alert.c's; this file
 * only records, lists and marks them, plus the one read that finds surges.
 */
#include <string.h>

#include "store-int.h"

static const char *const state_names[STORE_ALERT_STATE_COUNT] = {
	"pending", "sent", "failed",
};

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t != NULL ? g_strdup(t) : NULL;
}

const char *
store_alert_state_name(enum store_alert_state st)
{
	return (unsigned)st < STORE_ALERT_STATE_COUNT ? state_names[st] : "unknown";
}

void
store_alert_free(struct store_alert *a)
{
	if (a == NULL)
		return;
	g_free(a->kind);
	g_free(a->subject);
	g_free(a->body);
	g_free(a->sink);
	g_free(a->error);
	g_free(a);
}

int
store_alert_add(struct store *s, const struct store_alert *a, const char *const *sinks,
    size_t nsinks)
{
	sqlite3_stmt *st;
	int added;

	if (store_tx_begin(s) == -1)
		return -1;
	if ((st = store_stmt(s, STMT_ALERT_INS)) == NULL)
		goto fail;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->kind);
	store_bind_text(st, 3, a->subject != NULL ? a->subject : "");
	sqlite3_bind_int64(st, 4, a->at);
	if (a->incident_id != 0)
		sqlite3_bind_int64(st, 5, a->incident_id);
	else
		sqlite3_bind_null(st, 5);
	store_bind_text(st, 6, a->body != NULL ? a->body : "{}");
	if (store_step_done(s, st, "record alert") == -1)
		goto fail;
	added = sqlite3_changes(s->db) > 0;
	for (size_t i = 0; added && i < nsinks; i++) {
		if ((st = store_stmt(s, STMT_ALERT_DELIVERY_INS)) == NULL)
			goto fail;
		store_bind_text(st, 1, a->id);
		store_bind_text(st, 2, sinks[i]);
		sqlite3_bind_int64(st, 3, a->at);
		if (store_step_done(s, st, "record alert delivery") == -1)
			goto fail;
	}
	if (store_tx_commit(s) == -1)
		return -1;
	return added;
fail:
	store_tx_rollback(s);
	return -1;
}

int
store_alert_known(struct store *s, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ALERT_EXISTS);
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "alert lookup");
}

/* The rows of ALERT_DUE and ALERT_RECENT (same columns). */
static int
alert_rows(struct store *s, sqlite3_stmt *st, GPtrArray *out, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_alert *a = g_new0(struct store_alert, 1);
		const char *id = (const char *)sqlite3_column_text(st, 0);

		g_strlcpy(a->id, id != NULL ? id : "", sizeof(a->id));
		a->kind = col_dup(st, 1);
		a->subject = col_dup(st, 2);
		a->at = sqlite3_column_int64(st, 3);
		a->incident_id = sqlite3_column_int64(st, 4);
		a->body = col_dup(st, 5);
		a->sink = col_dup(st, 6);
		a->state = (enum store_alert_state)sqlite3_column_int(st, 7);
		a->attempts = (unsigned)sqlite3_column_int(st, 8);
		a->next_at = sqlite3_column_int64(st, 9);
		a->error = col_dup(st, 10);
		g_ptr_array_add(out, a);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, what);
}

int
store_alert_due(struct store *s, int64_t now, unsigned limit, GPtrArray *out)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ALERT_DUE);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, (int)limit);
	return alert_rows(s, st, out, "alerts due");
}

int
store_alert_recent(struct store *s, unsigned limit, GPtrArray *out)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ALERT_RECENT);

	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, (int)limit);
	return alert_rows(s, st, out, "recent alerts");
}

int
store_alert_mark(struct store *s, const char *id, const char *sink,
    enum store_alert_state state, int64_t next_at, const char *error)
{
	sqlite3_stmt *st;

	if (store_tx_begin(s) == -1)
		return -1;
	if ((st = store_stmt(s, STMT_ALERT_MARK)) == NULL)
		goto fail;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, sink);
	sqlite3_bind_int(st, 3, (int)state);
	sqlite3_bind_int64(st, 4, next_at);
	store_bind_text(st, 5, error);
	if (store_step_done(s, st, "mark alert delivery") == -1)
		goto fail;
	return store_tx_commit(s);
fail:
	store_tx_rollback(s);
	return -1;
}

int
store_alert_surges(struct store *s, int64_t since, unsigned min, GPtrArray *out)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ALERT_SURGES);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int(st, 2, REPORT_CLASS_HARD);
	sqlite3_bind_int(st, 3, REPORT_CLASS_COMPLAINT);
	sqlite3_bind_int(st, 4, (int)min);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_count *c = g_new0(struct store_count, 1);
		const char *sender = (const char *)sqlite3_column_text(st, 0);

		c->name = g_strdup_printf("%s:%s",
		    report_class_name((enum report_class)sqlite3_column_int(st, 1)),
		    sender != NULL ? sender : "");
		c->n = (uint64_t)sqlite3_column_int64(st, 2);
		g_ptr_array_add(out, c);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "surges");
}
