/* SPDX-License-Identifier: MIT */
/*
 * test-store-util.h - helpers shared by the store's unit tests: a temp
 * directory, a store opened in it with an explicit policy, and reports
 * built by hand with report.h's constructors (no parsing: the tests do not
 * depend on the parser's decoders).
 */
#ifndef BOUNCED_TEST_STORE_UTIL_H
#define BOUNCED_TEST_STORE_UTIL_H

#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "store.h"

#define TEST_SECRET "unit-test secret"
#define H 3600
#define D 86400
#define T0 ((time_t)1700000000)

/* A report with no recipient yet (report_new(), decoder NONE). */
static inline struct report *
tu_report(void)
{
	return report_new();
}

static inline struct report_rcpt *
tu_add(struct report *r, const char *rcpt, enum report_class c, enum report_scope sc,
    enum report_reason reason, const char *status, const char *diag)
{
	struct report_rcpt *rc = report_rcpt_new(rcpt);

	rc->class = c;
	rc->scope = sc;
	rc->reason = reason;
	g_strlcpy(rc->status, status != NULL ? status : "", sizeof(rc->status));
	rc->diagnostic = g_strdup(diag);
	rc->remote_mta = g_strdup("mx.example.net");
	rc->action = g_strdup(c == REPORT_CLASS_DELIVERED ? "delivered" : "failed");
	rc->rule = "test-rule";
	g_ptr_array_add(r->rcpts, rc);
	return rc;
}

/* A temporary directory for one test; tu_rmdir() removes it and its files. */
static inline char *
tu_mkdir(void)
{
	GError *e = NULL;
	char *dir = g_dir_make_tmp("test-store-XXXXXX", &e);

	g_assert_no_error(e);
	return dir;
}

static inline void
tu_rmdir(char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);

		g_remove(p);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	g_rmdir(dir);
	g_free(dir);
}

static inline struct store *
tu_open(const char *dir, const struct store_policy *pol, int readonly)
{
	char *path = g_build_filename(dir, "bounced.db", NULL);
	struct store_config cfg;
	struct store *s;
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.secret = (const unsigned char *)TEST_SECRET;
	cfg.secret_len = strlen(TEST_SECRET);
	cfg.readonly = readonly;
	cfg.busy_timeout_ms = 200;
	s = store_open(&cfg, pol, err);
	if (s == NULL)
		g_error("store_open %s: %s", path, err);
	g_free(path);
	return s;
}

/* Ingests one report (raw made unique by tag) at t.  Returns the bounce. */
static inline struct store_bounce
tu_ingest(struct store *s, struct report *r, const char *tag, time_t t, GArray *changes)
{
	struct store_bounce b;
	char *raw = g_strdup_printf("From: MAILER-DAEMON\r\nSubject: %s\r\n\r\nbody\r\n", tag);

	memset(&b, 0, sizeof(b));
	b.raw = raw;
	b.raw_len = strlen(raw);
	b.report = r;
	b.envelope_rcpt = "bounces@sender.example";
	b.received = t;
	if (store_ingest(s, &b, 1, t, changes) != 0)
		g_error("ingest %s: %s", tag, store_errmsg(s));
	g_free(raw);
	return b;
}

/*
 * Ingests n hard bounces of ~4 KiB each (user<first+i>@example.com, received
 * at T0 + first + i) in one store_ingest() call.  Returns its result.
 */
static inline int
tu_ingest_batch(struct store *s, int first, int n, GArray *changes)
{
	struct store_bounce *b = g_new0(struct store_bounce, (gsize)n);
	struct report **r = g_new0(struct report *, (gsize)n);
	char **raws = g_new0(char *, (gsize)n);
	char *pad = g_strnfill(4000, 'x');
	int ret;

	for (int i = 0; i < n; i++) {
		char rcpt[64];

		g_snprintf(rcpt, sizeof(rcpt), "user%d@example.com", first + i);
		r[i] = tu_report();
		tu_add(r[i], rcpt, REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
		    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 unknown");
		raws[i] = g_strdup_printf("Subject: bounce %d\r\n\r\n%s\r\n", first + i, pad);
		b[i].raw = raws[i];
		b[i].raw_len = strlen(raws[i]);
		b[i].report = r[i];
		b[i].received = T0 + first + i;
	}
	ret = store_ingest(s, b, (size_t)n, T0 + first + n, changes);
	for (int i = 0; i < n; i++) {
		report_free(r[i]);
		g_free(raws[i]);
	}
	g_free(pad);
	g_free(raws);
	g_free(r);
	g_free(b);
	return ret;
}

/*
 * One SQL value from a fresh connection on the test's database: the tests
 * check the file with SQLite itself (counts, integrity_check), never
 * through the code under test.
 */
static inline char *
tu_sql(const char *dir, const char *sql)
{
	char *path = g_build_filename(dir, "bounced.db", NULL);
	sqlite3 *db;
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		g_error("open %s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		g_error("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		out = g_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	g_free(path);
	return out != NULL ? out : g_strdup("");
}

/* Runs SQL on a read-write connection (to show what the schema refuses). */
static inline int
tu_sql_exec(const char *dir, const char *sql)
{
	char *path = g_build_filename(dir, "bounced.db", NULL);
	sqlite3 *db;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		g_error("open %s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 2000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	g_free(path);
	return rc;
}

static inline gint64
tu_sql_int(const char *dir, const char *sql)
{
	char *v = tu_sql(dir, sql);
	gint64 n = g_ascii_strtoll(v, NULL, 10);

	g_free(v);
	return n;
}

#endif
