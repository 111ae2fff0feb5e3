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
	sqlite3_stmt *st = store_stmt(s, f != NULL && f->untrusted_only ?
	    STMT_ADDR_LIST_UNTRUSTED : STMT_ADDR_LIST);
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

/* ---- show ---------------------------------------------------------- */

static char *
dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? g_strdup((const char *)t) : NULL;
}

void
store_event_free(struct store_event *ev)
{
	if (ev == NULL)
		return;
	g_free(ev->action);
	g_free(ev->diagnostic);
	g_free(ev->diagnostic_type);
	g_free(ev->remote_mta);
	g_free(ev->smtp_command);
	g_free(ev->rule);
	g_free(ev->decoder);
	g_free(ev->reporting_mta);
	g_free(ev->orig_message_id);
	g_free(ev->orig_sender);
	g_free(ev->subject);
	g_free(ev->untrusted);
	g_free(ev->trust);
	g_free(ev->source);
	g_free(ev->queue_id);
	g_free(ev->sender);
	g_free(ev);
}

void
store_audit_entry_free(struct store_audit_entry *a)
{
	if (a == NULL)
		return;
	g_free(a->actor);
	g_free(a->action);
	g_free(a->target);
	g_free(a->note);
	g_free(a);
}

/* Row of AUDIT_*: id, at, actor, action, target, cause, reason, status, since, until, note. */
static void
audit_fill(sqlite3_stmt *st, struct store_audit_entry *a, int borrowed)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->at = sqlite3_column_int64(st, 1);
	if (borrowed) {
		a->actor = (char *)col_text(st, 2);
		a->action = (char *)col_text(st, 3);
		a->target = (char *)col_text(st, 4);
		a->note = (char *)sqlite3_column_text(st, 10);
	} else {
		a->actor = dup_col(st, 2);
		a->action = dup_col(st, 3);
		a->target = dup_col(st, 4);
		a->note = dup_col(st, 10);
	}
	a->cause = (enum store_cause)sqlite3_column_int(st, 5);
	a->reason = (enum report_reason)sqlite3_column_int(st, 6);
	g_strlcpy(a->status, col_text(st, 7), sizeof(a->status));
	a->since = sqlite3_column_int64(st, 8);
	a->until = sqlite3_column_int64(st, 9);
}

int
store_audit_list(struct store *s, const char *target, int64_t after_id, unsigned limit,
    store_audit_cb cb, void *ud)
{
	sqlite3_stmt *st = store_stmt(s, target != NULL ? STMT_AUDIT_BY_TARGET : STMT_AUDIT_ALL);
	int rc;

	if (st == NULL)
		return -1;
	if (target != NULL)
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int64(st, 3, limit != 0 ? (int64_t)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit_entry a;

		audit_fill(st, &a, 1);
		if (cb(&a, ud) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "audit log");
}

static int
audit_collect(const struct store_audit_entry *a, void *ud)
{
	struct store_audit_entry *c = g_new(struct store_audit_entry, 1);

	*c = *a;
	c->actor = g_strdup(a->actor);
	c->action = g_strdup(a->action);
	c->target = g_strdup(a->target);
	c->note = g_strdup(a->note);
	g_ptr_array_add(ud, c);
	return 0;
}

void
store_show_clear(struct store_show *r)
{
	if (r == NULL)
		return;
	store_entry_clear(&r->entry);
	if (r->events != NULL)
		g_ptr_array_free(r->events, TRUE);
	if (r->audit != NULL)
		g_ptr_array_free(r->audit, TRUE);
	memset(r, 0, sizeof(*r));
}

int
store_show(struct store *s, const char *norm, unsigned max_events, struct store_show *r)
{
	sqlite3_stmt *st;
	int rc;

	memset(r, 0, sizeof(*r));
	r->events = g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_event_free);
	r->audit = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_audit_entry_free);
	rc = store_get(s, norm, &r->entry);
	if (rc == -1)
		return -1;
	r->has_entry = rc;
	if ((st = store_stmt(s, STMT_SHOW_EVENTS)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, max_events != 0 ? (int64_t)max_events : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event *ev = g_new0(struct store_event, 1);

		ev->id = sqlite3_column_int64(st, 0);
		ev->bounce_id = sqlite3_column_int64(st, 1);
		ev->at = sqlite3_column_int64(st, 2);
		ev->class = (enum report_class)sqlite3_column_int(st, 3);
		ev->reason = (enum report_reason)sqlite3_column_int(st, 4);
		ev->scope = (enum report_scope)sqlite3_column_int(st, 5);
		g_strlcpy(ev->status, col_text(st, 6), sizeof(ev->status));
		g_strlcpy(ev->replycode, col_text(st, 7), sizeof(ev->replycode));
		ev->action = dup_col(st, 8);
		ev->diagnostic = dup_col(st, 9);
		ev->diagnostic_type = dup_col(st, 10);
		ev->remote_mta = dup_col(st, 11);
		ev->smtp_command = dup_col(st, 12);
		ev->rule = dup_col(st, 13);
		ev->decoder = dup_col(st, 14);
		ev->reporting_mta = dup_col(st, 15);
		ev->orig_message_id = dup_col(st, 16);
		ev->orig_sender = dup_col(st, 17);
		ev->subject = dup_col(st, 18);
		ev->raw_kept = sqlite3_column_int(st, 19);
		ev->untrusted = dup_col(st, 20);
		ev->trust = dup_col(st, 21);
		ev->source = g_strdup(sqlite3_column_type(st, 22) == SQLITE_NULL ? "lmtp" :
		    col_text(st, 22));
		ev->queue_id = dup_col(st, 23);
		ev->sender = dup_col(st, 24);
		ev->twin_of = sqlite3_column_int64(st, 25);
		g_ptr_array_add(r->events, ev);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "show: events");
	if (store_audit_list(s, r->has_entry ? r->entry.address : norm, 0, 0, audit_collect,
	    r->audit) == -1)
		return -1;
	return r->has_entry || r->events->len > 0 || r->audit->len > 0;
}

int
store_raw(struct store *s, int64_t bounce_id, char **raw_r, size_t *len_r)
{
	sqlite3_stmt *st = store_stmt(s, STMT_RAW);
	int rc;

	*raw_r = NULL;
	*len_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, bounce_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		const void *p = sqlite3_column_blob(st, 0);
		char *buf = g_malloc(len + 1);

		if (len > 0)
			memcpy(buf, p, len);
		buf[len] = '\0';
		*raw_r = buf;
		*len_r = len;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "raw bounce");
}

/* ---- stats, incidents ---------------------------------------------- */

void
store_incident_free(struct store_incident *in)
{
	if (in == NULL)
		return;
	g_free(in->provider);
	g_free(in->last_domain);
	g_free(in->last_status);
	g_free(in->last_diagnostic);
	g_free(in);
}

static int
incidents_read(struct store *s, time_t now, int open_only, int64_t since, GPtrArray *out)
{
	sqlite3_stmt *st = store_stmt(s, STMT_INCIDENTS);
	int64_t open_since = (int64_t)now - s->pol.incident_quiet;
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, open_only != 0);
	sqlite3_bind_int64(st, 2, open_since);
	sqlite3_bind_int64(st, 3, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_incident *in = g_new0(struct store_incident, 1);

		in->id = sqlite3_column_int64(st, 0);
		in->provider = dup_col(st, 1);
		in->reason = (enum report_reason)sqlite3_column_int(st, 2);
		in->first_seen = sqlite3_column_int64(st, 3);
		in->last_seen = sqlite3_column_int64(st, 4);
		in->count = (uint64_t)sqlite3_column_int64(st, 5);
		in->last_domain = dup_col(st, 6);
		in->last_status = dup_col(st, 7);
		in->last_diagnostic = dup_col(st, 8);
		in->opened = sqlite3_column_int64(st, 9);
		in->messages = (uint64_t)sqlite3_column_int64(st, 10);
		in->open = in->last_seen >= open_since;
		g_ptr_array_add(out, in);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "incidents");
}

int
store_incidents(struct store *s, time_t now, int open_only, GPtrArray *out)
{
	return incidents_read(s, now, open_only, INT64_MIN, out);
}

int
store_incidents_since(struct store *s, time_t now, int64_t since, GPtrArray *out)
{
	return incidents_read(s, now, 0, since, out);
}

static void
count_free(gpointer p)
{
	struct store_count *c = p;

	g_free(c->name);
	g_free(c);
}

static gint
count_cmp(gconstpointer a, gconstpointer b)
{
	const struct store_count *x = *(struct store_count *const *)a;
	const struct store_count *y = *(struct store_count *const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
store_stats_clear(struct store_stats *r)
{
	if (r == NULL)
		return;
	if (r->domains != NULL)
		g_ptr_array_free(r->domains, TRUE);
	if (r->soft_by_provider != NULL)
		g_ptr_array_free(r->soft_by_provider, TRUE);
	if (r->incidents != NULL)
		g_ptr_array_free(r->incidents, TRUE);
	memset(r, 0, sizeof(*r));
}

/* Rows (name, n) of st appended to out; by_provider: summed per provider. */
static int
stats_counts(struct store *s, sqlite3_stmt *st, GPtrArray *out, int by_provider)
{
	GHashTable *sum = by_provider ? g_hash_table_new(g_str_hash, g_str_equal) : NULL;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = col_text(st, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
		struct store_count *c;

		if (by_provider) {
			name = store_policy_provider(&s->pol, name);
			if ((c = g_hash_table_lookup(sum, name)) != NULL) {
				c->n += n;
				continue;
			}
		}
		c = g_new(struct store_count, 1);
		c->name = g_strdup(name);
		c->n = n;
		g_ptr_array_add(out, c);
		if (by_provider)
			g_hash_table_insert(sum, c->name, c);
	}
	sqlite3_reset(st);
	if (sum != NULL)
		g_hash_table_destroy(sum);
	g_ptr_array_sort(out, count_cmp);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "stats");
}

int
store_stats(struct store *s, int64_t from, int64_t to, time_t now, unsigned max_domains,
    struct store_stats *r)
{
	sqlite3_stmt *st;
	int rc;

	memset(r, 0, sizeof(*r));
	r->from = from;
	r->to = to;
	r->domains = g_ptr_array_new_with_free_func(count_free);
	r->soft_by_provider = g_ptr_array_new_with_free_func(count_free);
	r->incidents = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_incident_free);

	if ((st = store_stmt(s, STMT_STATS_BOUNCES)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r->bounces = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "stats: bounces");

	if ((st = store_stmt(s, STMT_STATS_EVENTS)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		unsigned c = (unsigned)sqlite3_column_int(st, 0);
		unsigned reason = (unsigned)sqlite3_column_int(st, 1);
		unsigned scope = (unsigned)sqlite3_column_int(st, 2);
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 3);

		r->events += n;
		if (c < REPORT_CLASS_COUNT)
			r->by_class[c] += n;
		if (reason < REPORT_REASON_COUNT)
			r->by_reason[reason] += n;
		if (scope < REPORT_SCOPE_COUNT)
			r->by_scope[scope] += n;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "stats: events");

	if ((st = store_stmt(s, STMT_STATS_SUPPRESSED)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		unsigned c = (unsigned)sqlite3_column_int(st, 0);

		if (c < STORE_CAUSE_COUNT)
			r->suppressed[c] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "stats: suppressed");

	/* Failures by domain. */
	if ((st = store_stmt(s, STMT_STATS_DOMAINS)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	sqlite3_bind_int(st, 3, REPORT_CLASS_HARD);
	sqlite3_bind_int(st, 4, REPORT_CLASS_SOFT);
	sqlite3_bind_int(st, 5, REPORT_CLASS_COMPLAINT);
	sqlite3_bind_int64(st, 6, max_domains != 0 ? max_domains : 20);
	if (stats_counts(s, st, r->domains, 0) == -1)
		return -1;
	/* Soft bounces by provider: every domain, grouped as the policy says. */
	sqlite3_bind_int(st, 3, REPORT_CLASS_SOFT);
	sqlite3_bind_int(st, 4, REPORT_CLASS_SOFT);
	sqlite3_bind_int(st, 5, REPORT_CLASS_SOFT);
	sqlite3_bind_int64(st, 6, -1);
	if (stats_counts(s, st, r->soft_by_provider, 1) == -1)
		return -1;
	return store_incidents(s, now, 1, r->incidents);
}
