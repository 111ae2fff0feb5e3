/* SPDX-License-Identifier: MIT */
/*
 * maintain.c - the store's maintenance writes: GDPR erasure, re-evaluation
 * of stored bounces with the current parser and policy, and the retention
 * purge of raw bounces.
 *
 * Erasure keeps only hmac:<HMAC-SHA256(secret, address)>:<index key> with
 * the cause, reason, status and dates, so the address stays suppressed (the
 * index finds it by key) without its text being stored; the bounce rows
 * naming it become tombstones (digest and time only, so a re-delivery is
 * still recognised as a duplicate).  A bounce that is also another
 * address's evidence (a DSN or an ARF naming several recipients) is not the
 * forgotten person's to erase: it stays, redacted (every occurrence of the
 * address in the raw message becomes FORGET_REDACTED, the fields naming it
 * are cleared), and only the forgotten address's events go.  The raw
 * search is a case-insensitive substring match of the normalised address:
 * an address only present base64- or quoted-printable-encoded in a raw
 * bounce is not found by it, but every bounce that produced an event for it
 * is erased (or, shared, unlinked from it) regardless.
 *
 * Re-evaluation runs in one transaction: every stored raw bounce is parsed
 * again (the injectable parser, report_parse by default) and its events
 * replaced; then every address that had or has events is replayed with
 * the policy (policy.c) from its events and manual actions; incidents are
 * rebuilt from the sender-scope events.  A dry run does the same work and
 * rolls back, so it shows exactly what applying would change.
 */
#include <string.h>

#include "store-int.h"

/* Limits. */
#define PURGE_BATCH 1000              /* rows a purge transaction clears */

/* What a forgotten address becomes in a raw bounce kept for others. */
#define FORGET_REDACTED "[erased]"

static int forget_scrub(struct store *s, const char *norm, struct store_forget_result *r);
static int forget_redact_shared(struct store *s, const char *norm, unsigned *n_r);
static int reparse(struct store *s, int64_t id, GHashTable *targets);
static int collect_targets(struct store *s, GHashTable *targets);
static int replay_target(struct store *s, const char *name, time_t now, int dry_run,
    GPtrArray *diffs, GArray *changes);
static int rebuild_incidents(struct store *s);
static int state_equal(const struct store_pstate *a, const struct store_pstate *b);
static int verdict_equal(const struct store_verdict *a, const struct store_verdict *b);
static gint cmp_names(gconstpointer a, gconstpointer b);

/* ---- forget --------------------------------------------------------- */

static int
forget_scrub(struct store *s, const char *norm, struct store_forget_result *r)
{
	static const enum store_stmt scrub[] = {
		STMT_FORGET_EVENT_TEXT, STMT_FORGET_INCIDENT_TEXT, STMT_FORGET_AUDIT_TEXT,
		STMT_FORGET_ADDR_TEXT,
	};
	sqlite3_stmt *st;

	/* Raw bounces first: they are found through the events. */
	if (forget_redact_shared(s, norm, &r->bounces_redacted) == -1)
		return -1;
	if ((st = store_stmt(s, STMT_FORGET_BOUNCES)) == NULL)
		return -1;
	store_bind_text(st, 1, norm);
	if (store_step_done(s, st, "forget: bounces") == -1)
		return -1;
	r->bounces = (unsigned)sqlite3_changes(s->db);
	if ((st = store_stmt(s, STMT_FORGET_EVENTS)) == NULL)
		return -1;
	store_bind_text(st, 1, norm);
	if (store_step_done(s, st, "forget: events") == -1)
		return -1;
	r->events = (unsigned)sqlite3_changes(s->db);
	/* Its text anywhere else (another recipient's diagnostic, a note...). */
	for (size_t i = 0; i < G_N_ELEMENTS(scrub); i++) {
		if ((st = store_stmt(s, scrub[i])) == NULL)
			return -1;
		store_bind_text(st, 1, norm);
		if (store_step_done(s, st, "forget: text") == -1)
			return -1;
		if (scrub[i] == STMT_FORGET_AUDIT_TEXT)
			r->audit += (unsigned)sqlite3_changes(s->db);
	}
	return 0;
}

/*
 * The bounces naming norm that are other addresses' evidence too: each is
 * kept with norm redacted from its raw message and fields.  Read first,
 * written after (no update under an open SELECT of the same table).
 */
static int
forget_redact_shared(struct store *s, const char *norm, unsigned *n_r)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(sqlite3_int64));
	GPtrArray *raws = g_ptr_array_new_with_free_func(g_free);
	GArray *lens = g_array_new(FALSE, FALSE, sizeof(size_t));
	sqlite3_stmt *st;
	int rc = -1, step;

	*n_r = 0;
	if ((st = store_stmt(s, STMT_FORGET_BOUNCES_SHARED)) == NULL)
		goto out;
	store_bind_text(st, 1, norm);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		const char *raw = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1), rlen = 0;

		g_array_append_val(ids, id);
		g_ptr_array_add(raws, raw != NULL ? store_text_redact(raw, len, norm,
		    FORGET_REDACTED, &rlen) : NULL);
		g_array_append_val(lens, rlen);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		store_fail(s, step, "forget: shared bounces");
		goto out;
	}
	for (guint i = 0; i < ids->len; i++) {
		const char *b = g_ptr_array_index(raws, i);

		if ((st = store_stmt(s, STMT_FORGET_BOUNCE_REDACT)) == NULL)
			goto out;
		store_bind_text(st, 1, norm);
		if (b != NULL)
			sqlite3_bind_blob64(st, 2, b, g_array_index(lens, size_t, i), SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_int64(st, 3, g_array_index(ids, sqlite3_int64, i));
		if (store_step_done(s, st, "forget: redact") == -1)
			goto out;
	}
	*n_r = ids->len;
	rc = 0;
out:
	g_array_free(ids, TRUE);
	g_array_free(lens, TRUE);
	g_ptr_array_free(raws, TRUE);
	return rc;
}

int
store_forget(struct store *s, const char *norm, const char *actor, time_t now,
    struct store_forget_result *r, GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;
	struct store_target t, kept;
	char hname[STORE_HMAC_NAME_LEN + 1];
	char err[256];
	sqlite3_stmt *st;
	int len, found;

	memset(r, 0, sizeof(*r));
	len = store_addr_normalize(norm, norm != NULL ? strlen(norm) : 0, t.name, err);
	if (len < 0)
		return store_failf(s, STORE_ERR_INVALID, "forget: invalid address: %s", err);
	if (t.name[0] == '@')
		return store_failf(s, STORE_ERR_INVALID,
		    "forget: \"%s\" is a domain entry, not a person's address", t.name);
	t.len = (size_t)len;
	store_hmac_name(s, t.name, t.len, hname);
	if (store_tx_begin(s) == -1)
		return -1;
	if (store_target_load(s, &t, now, 0) == -1 || forget_scrub(s, t.name, r) == -1)
		goto fail;

	/* The audit trail stays, under the keyed hash. */
	if ((st = store_stmt(s, STMT_FORGET_AUDIT_TARGET)) == NULL)
		goto fail;
	store_bind_text(st, 1, t.name);
	store_bind_text(st, 2, hname);
	if (store_step_done(s, st, "forget: audit") == -1)
		goto fail;
	r->audit += (unsigned)sqlite3_changes(s->db);

	found = t.exists || r->events > 0 || r->bounces > 0 || r->bounces_redacted > 0 ||
	    r->audit > 0;
	if (t.exists) {
		if ((st = store_stmt(s, STMT_ADDR_DEL)) == NULL)
			goto fail;
		store_bind_text(st, 1, t.name);
		if (store_step_done(s, st, "forget: state") == -1)
			goto fail;
	}
	if (t.before.cause != STORE_CAUSE_NONE) {
		/* Still suppressed: only the decision stays, under the hash. */
		memset(&kept, 0, sizeof(kept));
		g_strlcpy(kept.name, hname, sizeof(kept.name));
		kept.len = strlen(hname);
		kept.st = t.st;
		kept.st.event_id = 0;
		kept.st.soft_count = 0;
		kept.st.soft_first = kept.st.soft_last = 0;
		kept.st.last_delivered = 0;
		g_strlcpy(kept.source, t.source, sizeof(kept.source));
		if (store_target_save(s, &kept, now) == -1)
			goto fail;
		r->kept_suppressed = 1;
	} else if (t.exists) {
		/* Not suppressed any more: the index forgets it too. */
		store_pstate_init(&t.st);
		store_target_change(s, &t, now, changes);
	}
	if (found && store_audit(s, now, actor, "forget", hname, &t.st, NULL) == -1)
		goto fail;
	if (store_tx_commit(s) == -1)
		goto fail;
	/* Push the erased pages out of the WAL into the (secure_delete) file; best effort. */
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return found;
fail:
	store_tx_rollback(s);
	if (changes != NULL)
		g_array_set_size(changes, mark);
	memset(r, 0, sizeof(*r));
	return -1;
}

/* ---- re-evaluation ------------------------------------------------ */

static int
state_equal(const struct store_pstate *a, const struct store_pstate *b)
{
	return a->cause == b->cause && a->reason == b->reason && a->scope == b->scope &&
	    strcmp(a->status, b->status) == 0 && a->since == b->since && a->until == b->until &&
	    a->event_id == b->event_id && strcmp(a->rule, b->rule) == 0 &&
	    a->soft_count == b->soft_count && a->soft_first == b->soft_first &&
	    a->soft_last == b->soft_last && a->last_delivered == b->last_delivered &&
	    a->manual_at == b->manual_at;
}

static int
verdict_equal(const struct store_verdict *a, const struct store_verdict *b)
{
	return a->cause == b->cause && a->reason == b->reason && a->since == b->since &&
	    a->until == b->until;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Parses bounce id again and replaces its events; adds their addresses to targets. */
static int
reparse(struct store *s, int64_t id, GHashTable *targets)
{
	sqlite3_stmt *st = store_stmt(s, STMT_REEVAL_BOUNCE);
	struct store_event_origin o;
	struct report *r;
	int64_t received;
	int rc, untrusted;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reevaluate: read bounce");
	}
	{
		const char *raw = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		const char *verp = (const char *)sqlite3_column_text(st, 2);

		received = sqlite3_column_int64(st, 1);
		untrusted = sqlite3_column_int(st, 3);
		r = s->parse != NULL ? s->parse(raw != NULL ? raw : "", len, s->parse_ud) :
		    report_parse(raw != NULL ? raw : "", len, NULL);
		if (r != NULL && verp != NULL && report_adopt_recipient(r, verp) == -1) {
			report_free(r);
			r = NULL;
		}
	}
	sqlite3_reset(st);
	if (r == NULL)
		return 0;   /* no report (an injected parser's NULL, a refused VERP recipient): skipped */

	if ((st = store_stmt(s, STMT_REEVAL_EVENTS_DEL)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (store_step_done(s, st, "reevaluate: old events") == -1)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.queue_id = r->orig_queue_id;
	o.sender = r->orig_sender;
	o.untrusted = untrusted;
	for (guint i = 0; i < r->rcpts->len; i++) {
		char name[STORE_ADDR_MAX + 1];
		size_t nlen;
		int64_t eid;
		int twin;

		if (store_event_insert(s, id, received, g_ptr_array_index(r->rcpts, i), &o, name,
		    &nlen, &eid, &twin) == -1)
			goto fail;
		if (nlen > 0)
			g_hash_table_add(targets, g_strdup(name));
	}
	if ((st = store_stmt(s, STMT_REEVAL_BOUNCE_UPD)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, report_decoder_name(r->decoder));
	store_bind_text(st, 3, r->reporting_mta);
	store_bind_text(st, 4, r->orig_message_id);
	store_bind_text(st, 5, r->orig_sender);
	store_bind_text(st, 6, r->feedback_type);
	store_bind_text(st, 7, r->subject);
	sqlite3_bind_int(st, 8, (int)r->rcpts->len);
	if (store_step_done(s, st, "reevaluate: bounce") == -1)
		goto fail;
	report_free(r);
	return 0;
fail:
	report_free(r);
	return -1;
}

/* Every address that has events now. */
static int
collect_targets(struct store *s, GHashTable *targets)
{
	sqlite3_stmt *st = store_stmt(s, STMT_REEVAL_TARGETS);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		g_hash_table_add(targets, g_strdup((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reevaluate: addresses");
}

static int
replay_target(struct store *s, const char *name, time_t now, int dry_run, GPtrArray *diffs,
    GArray *changes)
{
	struct store_target t;
	struct store_pstate st_new;
	struct store_verdict after;
	GArray *evs = g_array_new(FALSE, TRUE, sizeof(struct store_pevent));
	GArray *acts = g_array_new(FALSE, TRUE, sizeof(struct store_paction));
	GStringChunk *strs = g_string_chunk_new(256);
	char check[STORE_ADDR_MAX + 1];
	sqlite3_stmt *st;
	int rc, ret = -1;

	/* Events recorded under an address that does not normalise have no state. */
	rc = store_addr_normalize(name, strlen(name), check, NULL);
	if (rc <= 0 || strcmp(check, name) != 0) {
		ret = 0;
		goto out;
	}
	g_strlcpy(t.name, name, sizeof(t.name));
	t.len = strlen(name);
	if (store_target_load(s, &t, now, 0) == -1)
		goto out;

	if ((st = store_stmt(s, STMT_REEVAL_ADDR_EVENTS)) == NULL)
		goto out;
	store_bind_text(st, 1, name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_pevent e;

		memset(&e, 0, sizeof(e));
		e.id = sqlite3_column_int64(st, 0);
		e.at = sqlite3_column_int64(st, 1);
		e.class = (enum report_class)sqlite3_column_int(st, 2);
		e.reason = (enum report_reason)sqlite3_column_int(st, 3);
		e.scope = (enum report_scope)sqlite3_column_int(st, 4);
		e.status = g_string_chunk_insert_const(strs,
		    (const char *)sqlite3_column_text(st, 5) != NULL ?
		    (const char *)sqlite3_column_text(st, 5) : "");
		g_array_append_val(evs, e);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, rc, "reevaluate: events");
		goto out;
	}
	if ((st = store_stmt(s, STMT_REEVAL_ADDR_ACTIONS)) == NULL)
		goto out;
	store_bind_text(st, 1, name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_paction a;
		const char *action = (const char *)sqlite3_column_text(st, 1);

		memset(&a, 0, sizeof(a));
		a.at = sqlite3_column_int64(st, 0);
		a.suppress = action == NULL || strcmp(action, "unsuppress") != 0;
		a.cause = (enum store_cause)sqlite3_column_int(st, 2);
		a.reason = (enum report_reason)sqlite3_column_int(st, 3);
		a.status = g_string_chunk_insert_const(strs,
		    (const char *)sqlite3_column_text(st, 4) != NULL ?
		    (const char *)sqlite3_column_text(st, 4) : "");
		a.since = sqlite3_column_int64(st, 5);
		a.until = sqlite3_column_int64(st, 6);
		g_array_append_val(acts, a);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, rc, "reevaluate: actions");
		goto out;
	}

	store_policy_replay(&s->pol, (const struct store_pevent *)(void *)evs->data, evs->len,
	    (const struct store_paction *)(void *)acts->data, acts->len, &st_new);
	store_policy_verdict(&st_new, now, &after);
	if (!t.exists && st_new.cause == STORE_CAUSE_NONE && st_new.soft_count == 0) {
		ret = 0;   /* nothing to keep (autoreplies, sender scope only) */
		goto out;
	}
	if (t.exists && state_equal(&t.st, &st_new)) {
		ret = 0;
		goto out;
	}
	if (!verdict_equal(&t.before, &after)) {
		struct store_reeval_diff *d = g_new0(struct store_reeval_diff, 1);

		d->address = g_strdup(name);
		d->before = t.before;
		d->after = after;
		if (diffs != NULL)
			g_ptr_array_add(diffs, d);
		else
			store_reeval_diff_free(d);
	}
	if (st_new.event_id != 0)
		g_strlcpy(t.source, "lmtp", sizeof(t.source));
	{
		struct store_verdict before = t.before;

		t.st = st_new;
		if (store_target_save(s, &t, now) == -1)
			goto out;
		if (!verdict_equal(&before, &after) && !dry_run) {
			char note[128];

			g_snprintf(note, sizeof(note), "was %s/%s", store_cause_name(before.cause),
			    report_reason_name(before.reason));
			if (store_audit(s, now, "reevaluate", "reevaluate", name, &t.st, note) == -1)
				goto out;
			store_target_change(s, &t, now, changes);
		}
	}
	ret = 0;
out:
	g_array_free(evs, TRUE);
	g_array_free(acts, TRUE);
	g_string_chunk_free(strs);
	return ret;
}

static int
rebuild_incidents(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, STMT_INCIDENT_CLEAR);
	int rc;
	struct sender_ev {
		int64_t id, at, bounce_id;
		enum report_reason reason;
		char *domain, *status, *diag;
	};
	GArray *evs = g_array_new(FALSE, TRUE, sizeof(struct sender_ev));
	int ret = -1;

	if (st == NULL || store_step_done(s, st, "reevaluate: incidents") == -1)
		goto out;
	if ((st = store_stmt(s, STMT_REEVAL_SENDER_EVENTS)) == NULL)
		goto out;
	sqlite3_bind_int(st, 1, REPORT_SCOPE_SENDER);
	sqlite3_bind_int(st, 2, REPORT_CLASS_HARD);
	sqlite3_bind_int(st, 3, REPORT_CLASS_SOFT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sender_ev e;
		const char *addr = (const char *)sqlite3_column_text(st, 1);
		const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

		if (at == NULL)
			continue;
		e.id = sqlite3_column_int64(st, 0);
		e.at = sqlite3_column_int64(st, 2);
		e.reason = (enum report_reason)sqlite3_column_int(st, 3);
		e.domain = g_strdup(at + 1);
		e.status = g_strdup((const char *)sqlite3_column_text(st, 4));
		e.diag = g_strdup((const char *)sqlite3_column_text(st, 5));
		e.bounce_id = sqlite3_column_int64(st, 6);
		g_array_append_val(evs, e);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, rc, "reevaluate: sender events");
		goto out;
	}
	for (guint i = 0; i < evs->len; i++) {
		struct sender_ev *e = &g_array_index(evs, struct sender_ev, i);

		if (store_incident_note(s, e->domain, e->at, e->id, e->bounce_id, e->reason,
		    e->status, e->diag) == -1)
			goto out;
	}
	ret = 0;
out:
	for (guint i = 0; i < evs->len; i++) {
		struct sender_ev *e = &g_array_index(evs, struct sender_ev, i);

		g_free(e->domain);
		g_free(e->status);
		g_free(e->diag);
	}
	g_array_free(evs, TRUE);
	return ret;
}

int
store_reevaluate(struct store *s, int dry_run, time_t now, GPtrArray *diffs, GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;
	guint dmark = diffs != NULL ? diffs->len : 0;
	GHashTable *targets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	GPtrArray *names = NULL;
	sqlite3_stmt *st;
	int rc;

	if (store_tx_begin(s) == -1)
		goto fail_notx;
	/* Addresses with events before (an event may move to another address)... */
	if (collect_targets(s, targets) == -1)
		goto fail;
	if ((st = store_stmt(s, STMT_REEVAL_BOUNCES)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		g_array_append_val(ids, id);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_fail(s, rc, "reevaluate: bounces");
		goto fail;
	}
	for (guint i = 0; i < ids->len; i++)
		if (reparse(s, g_array_index(ids, int64_t, i), targets) == -1)
			goto fail;
	/* ...and after; replayed in address order (stable output). */
	{
		GHashTableIter it;
		gpointer key;

		names = g_ptr_array_sized_new(g_hash_table_size(targets));
		g_hash_table_iter_init(&it, targets);
		while (g_hash_table_iter_next(&it, &key, NULL))
			g_ptr_array_add(names, key);
		g_ptr_array_sort(names, cmp_names);
	}
	for (guint i = 0; i < names->len; i++)
		if (replay_target(s, g_ptr_array_index(names, i), now, dry_run, diffs,
		    dry_run ? NULL : changes) == -1)
			goto fail;
	if (rebuild_incidents(s) == -1)
		goto fail;
	if (dry_run)
		store_tx_rollback(s);
	else if (store_tx_commit(s) == -1)
		goto fail;
	g_ptr_array_free(names, TRUE);
	g_hash_table_destroy(targets);
	g_array_free(ids, TRUE);
	return 0;
fail:
	store_tx_rollback(s);
fail_notx:
	if (changes != NULL)
		g_array_set_size(changes, mark);
	if (diffs != NULL)
		while (diffs->len > dmark)
			store_reeval_diff_free(g_ptr_array_steal_index(diffs, diffs->len - 1));
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_hash_table_destroy(targets);
	g_array_free(ids, TRUE);
	return -1;
}

void
store_reeval_diff_free(struct store_reeval_diff *d)
{
	if (d == NULL)
		return;
	g_free(d->address);
	g_free(d);
}

/* ---- retention ---------------------------------------------------- */

int64_t
store_purge(struct store *s, time_t now)
{
	int64_t total = 0;

	if (s->pol.raw_retention == 0)
		return 0;
	/* Short transactions: the writer thread is never held for long. */
	for (;;) {
		sqlite3_stmt *st;
		int n;

		if (store_tx_begin(s) == -1)
			return -1;
		if ((st = store_stmt(s, STMT_PURGE)) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, (int64_t)now - s->pol.raw_retention);
		sqlite3_bind_int(st, 2, PURGE_BATCH);
		if (store_step_done(s, st, "purge") == -1)
			goto fail;
		n = sqlite3_changes(s->db);
		if (store_tx_commit(s) == -1)
			goto fail;
		total += n;
		if (n < PURGE_BATCH)
			return total;
	}
fail:
	store_tx_rollback(s);
	return -1;
}
