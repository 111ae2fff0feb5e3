/* SPDX-License-Identifier: MIT */
/*
 * store.c - the SQLite side of the store: opening and migrating the
 * database, errors, prepared statements, transactions, and the writes the
 * daemon makes on its hot path (ingest, suppress, unsuppress) plus loading
 * the index.  The policy itself is in policy.c (pure), the index in
 * index.c; forget, re-evaluation and purge in maintain.c; reads in read.c.
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT that returned is on
 * disk; the daemon batches every bounce that arrived during the previous
 * commit into one store_ingest() (group commit).  Every write is one
 * BEGIN IMMEDIATE transaction: on any failure it is rolled back and the
 * call returns -1 with the cause classified (store_errcode()).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-int.h"

/* Limits. */
#define SCHEMA_VERSION 5
#define DEFAULT_BUSY_MS 2000
#define DEFAULT_CACHE_KIB 2048

#define STMT_SQL(id, sql) sql,
static const char *const stmt_sql[] = { STORE_STMTS(STMT_SQL) };
#undef STMT_SQL

#define MIGRATION_SQL(sql) sql,
static const char *const migrations[] = { STORE_MIGRATIONS(MIGRATION_SQL) };
#undef MIGRATION_SQL
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == SCHEMA_VERSION);

#define CAUSE_NAME(id, name) name,
static const char *const cause_names[] = { STORE_CAUSES(CAUSE_NAME) };
#undef CAUSE_NAME
#define ERROR_NAME(id, name) name,
static const char *const error_names[] = { STORE_ERRORS(ERROR_NAME) };
#undef ERROR_NAME

static const char *const rules[] = {
	STORE_RULE_HARD, STORE_RULE_COMPLAINT, STORE_RULE_SOFT, STORE_RULE_MANUAL,
	STORE_RULE_UNSUPPRESS, STORE_RULE_DELIVERED, STORE_RULE_EXPIRED,
};

static enum store_error store_error_from_sqlite(int rc, int sys_errno);
static void describe(sqlite3 *db, int rc, const char *what, enum store_error *code_r,
    char buf[256]);
static int migrate(struct store *s, char err[256]);
static void open_probe(const char *path, char err[256]);
static int exec_pragmas(struct store *s, const struct store_config *cfg, char err[256]);
static int ingest_one(struct store *s, struct store_bounce *b, time_t now, GArray *changes);
static const char *col_text(sqlite3_stmt *st, int i);

/* ---- names, errors ------------------------------------------------ */

const char *
store_cause_name(enum store_cause c)
{
	return (unsigned)c < STORE_CAUSE_COUNT ? cause_names[c] : "?";
}

int
store_cause_from_name(const char *name, enum store_cause *cause_r)
{
	for (int i = 0; i < STORE_CAUSE_COUNT; i++) {
		if (g_ascii_strcasecmp(name, cause_names[i]) == 0) {
			*cause_r = (enum store_cause)i;
			return 1;
		}
	}
	return 0;
}

const char *
store_error_name(enum store_error e)
{
	return (unsigned)e < STORE_ERR_COUNT ? error_names[e] : "?";
}

const char *
store_errmsg(const struct store *s)
{
	return s->errbuf[0] != '\0' ? s->errbuf : "no error";
}

enum store_error
store_errcode(const struct store *s)
{
	return s->errcode;
}

/* Which store_error an SQLite result code (and the errno under it) is. */
static enum store_error
store_error_from_sqlite(int rc, int sys_errno)
{
	if (sys_errno == ENOSPC || sys_errno == EDQUOT)
		return STORE_ERR_FULL;
	if (sys_errno == EROFS || sys_errno == EACCES || sys_errno == EPERM)
		return STORE_ERR_READONLY;
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return STORE_ERR_FULL;
	case SQLITE_READONLY:
		return STORE_ERR_READONLY;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_ERR_LOCKED;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_ERR_CORRUPT;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return STORE_ERR_IO;
	case SQLITE_NOMEM:
		return STORE_ERR_NOMEM;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return STORE_ERR_INVALID;
	default:
		return STORE_ERR_INTERNAL;
	}
}

static void
describe(sqlite3 *db, int rc, const char *what, enum store_error *code_r, char buf[256])
{
	int sys = db != NULL ? sqlite3_system_errno(db) : 0;
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	enum store_error code = store_error_from_sqlite(rc, sys);

	/* SQLite's message names the SQLite failure; add the system's when there is one. */
	if (sys != 0 && (rc & 0xff) != SQLITE_BUSY)
		g_snprintf(buf, 256, "%s: %s (%s: %s)", what, msg, store_error_name(code),
		    g_strerror(sys));
	else
		g_snprintf(buf, 256, "%s: %s (%s)", what, msg, store_error_name(code));
	if (code_r != NULL)
		*code_r = code;
}

int
store_fail(struct store *s, int rc, const char *what)
{
	describe(s->db, rc, what, &s->errcode, s->errbuf);
	return -1;
}

int
store_failf(struct store *s, enum store_error code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	s->errcode = code;
	return -1;
}

/* ---- statements, transactions ------------------------------------- */

sqlite3_stmt *
store_stmt(struct store *s, enum store_stmt id)
{
	int rc;

	if (s->stmt[id] != NULL)
		return s->stmt[id];
	rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
	    NULL);
	if (rc != SQLITE_OK) {
		store_fail(s, rc, "prepare");
		return NULL;
	}
	return s->stmt[id];
}

int
store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_fail(s, rc, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

int
store_moved(struct store *s)
{
	int moved = 0;

	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
		return -1;
	return moved != 0;
}

int
store_tx_begin(struct store *s)
{
	sqlite3_stmt *st;
	int rc;

	if (s->readonly)
		return store_failf(s, STORE_ERR_READONLY, "begin: a read-only store cannot write");
	/*
	 * A file deleted or replaced under us (its directory removed, a restore)
	 * would take the commit and lose it at the next open: refuse, the caller
	 * answers 4xx and opens the path again.
	 */
	if (store_moved(s) == 1)
		return store_failf(s, STORE_ERR_IO, "begin: the database file was deleted or "
		    "replaced while open (io)");
	if ((st = store_stmt(s, STMT_BEGIN)) == NULL || store_step_done(s, st, "begin") == -1)
		return -1;
	/* Inside the write lock: exact even if another writer erased addresses. */
	if ((st = store_stmt(s, STMT_ADDR_FORGOTTEN)) == NULL)
		goto fail;
	rc = sqlite3_step(st);
	s->forgotten = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		store_fail(s, rc, "begin");
		goto fail;
	}
	return 0;
fail:
	store_tx_rollback(s);
	return -1;
}

int
store_tx_commit(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, STMT_COMMIT);

	if (st == NULL || store_step_done(s, st, "commit") == -1) {
		store_tx_rollback(s);
		return -1;
	}
	return 0;
}

void
store_tx_rollback(struct store *s)
{
	sqlite3_stmt *st;

	/* SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR...). */
	if (sqlite3_get_autocommit(s->db))
		return;
	st = store_stmt(s, STMT_ROLLBACK);
	if (st != NULL) {
		sqlite3_step(st);
		sqlite3_reset(st);
	} else {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

/* ---- open, migrations --------------------------------------------- */

static int
exec_pragmas(struct store *s, const struct store_config *cfg, char err[256])
{
	char sql[64];
	int rc;

	sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms != 0 ? (int)cfg->busy_timeout_ms :
	    DEFAULT_BUSY_MS);
	/* Numbers only: the one place SQL is formatted, from integers. */
	g_snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%u",
	    cfg->cache_kib != 0 ? cfg->cache_kib : DEFAULT_CACHE_KIB);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF",
		    NULL, NULL, NULL);
	if (rc == SQLITE_OK && !s->readonly)
		/*
		 * WAL: readers never block the writer.  synchronous=FULL: a WAL
		 * commit is fsynced before COMMIT returns.  secure_delete: erased
		 * rows are overwritten, not left in free pages (GDPR forget).
		 */
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		    " PRAGMA secure_delete = ON", NULL, NULL, NULL);
	if (rc == SQLITE_OK && s->readonly)
		rc = sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		describe(s->db, rc, "open: pragmas", NULL, err);
		return -1;
	}
	return 0;
}

static int
migrate(struct store *s, char err[256])
{
	sqlite3_stmt *st;
	int version, rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		describe(s->db, rc != SQLITE_OK ? rc : sqlite3_errcode(s->db), "open: schema version",
		    NULL, err);
		sqlite3_finalize(st);
		return -1;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SCHEMA_VERSION) {
		g_snprintf(err, 256, "open: database schema version %d is newer than this "
		    "bounced's (%d) (schema)", version, SCHEMA_VERSION);
		return -1;
	}
	if (version < SCHEMA_VERSION && s->readonly) {
		g_snprintf(err, 256, "open: database schema version %d, need %d: open it read-write "
		    "once to migrate (schema)", version, SCHEMA_VERSION);
		return -1;
	}
	for (; version < SCHEMA_VERSION; version++) {
		char what[64];

		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			g_snprintf(what, sizeof(what), "open: migration to schema version %d",
			    version + 1);
			describe(s->db, rc, what, NULL, err);
			if (!sqlite3_get_autocommit(s->db))
				sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

/*
 * A failed read-write open: SQLite says "unable to open" for a read-only
 * file system or directory; say which, so the admin fixes the right thing.
 */
static void
open_probe(const char *path, char err[256])
{
	char *dir = g_path_get_dirname(path);
	const char *what = NULL;
	int e = 0;

	if (access(dir, W_OK) != 0)
		what = dir, e = errno;
	else if (access(path, W_OK) != 0 && errno != ENOENT)
		what = path, e = errno;
	if (what != NULL && (e == EROFS || e == EACCES || e == EPERM)) {
		char sqlite_msg[256];

		g_strlcpy(sqlite_msg, err, sizeof(sqlite_msg));
		g_snprintf(err, 256, "open: %s is not writable: %s (read-only) [%s]", what,
		    g_strerror(e), sqlite_msg);
	}
	g_free(dir);
}

/*
 * The empty -wal that store_close() leaves: SQLite gives an empty -wal the
 * database file's mode whenever it opens it, so one opened while the file
 * was read-only (an admin's chmod 444) stays read-only after the file is
 * writable again, and makes the first read-write connection read-only.
 * Give it the file's mode back first, as SQLite's own next open would.
 */
static void
wal_mode_sync(const char *path)
{
	char *wal = g_strconcat(path, "-wal", NULL);
	struct stat db, w;

	if (stat(path, &db) == 0 && stat(wal, &w) == 0 && w.st_size == 0 &&
	    (w.st_mode & 0777) != (db.st_mode & 0777))
		(void)chmod(wal, db.st_mode & 0777); /* best effort: SQLite says what fails */
	g_free(wal);
}

struct store *
store_open(const struct store_config *cfg, const struct store_policy *pol, char err[256])
{
	struct store *s;
	int flags, rc;

	err[0] = '\0';
	if (cfg->path == NULL || cfg->path[0] == '\0') {
		g_strlcpy(err, "open: no database path", 256);
		return NULL;
	}
	if (cfg->secret == NULL || cfg->secret_len == 0) {
		g_strlcpy(err, "open: no secret: the index and GDPR erasure need one", 256);
		return NULL;
	}
	s = g_new0(struct store, 1);
	s->readonly = cfg->readonly;
	s->secret = g_memdup2(cfg->secret, cfg->secret_len);
	s->secret_len = cfg->secret_len;
	store_sipkey_derive(cfg->secret, cfg->secret_len, s->sipkey);
	s->parse = NULL;
	if (pol != NULL)
		s->pol = *pol;
	else
		store_policy_default(&s->pol);

	flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
	    (cfg->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (!cfg->readonly)
		wal_mode_sync(cfg->path);
	rc = sqlite3_open_v2(cfg->path, &s->db, flags, cfg->vfs);
	if (rc != SQLITE_OK) {
		describe(s->db, rc, "open", NULL, err);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/*
	 * SQLite opens a file it cannot write read-only without a word (and a
	 * WAL database on a read-only file system, once its -wal and -shm
	 * exist): a read-write open that cannot write fails here, classified.
	 */
	if (!cfg->readonly && sqlite3_db_readonly(s->db, "main") == 1) {
		g_strlcpy(err, "open: attempt to write a readonly database (read-only)", 256);
		goto fail;
	}
	if (exec_pragmas(s, cfg, err) == -1 || migrate(s, err) == -1)
		goto fail;
	return s;
fail:
	if (!cfg->readonly)
		open_probe(cfg->path, err);
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/*
	 * Fold the WAL back into the database file before a read-write
	 * connection goes: SQLite does it only on the last close of all, and a
	 * read-only connection closed last cannot.  Without it, after a clean
	 * stop every row may still be in bounced.db-wal and a copy of bounced.db
	 * alone is empty.  Best effort: a reader still inside a transaction
	 * makes it partial (SQLITE_BUSY), the WAL then stays valid.  The -wal
	 * and -shm files stay (empty) with their owner and mode: recreated
	 * later they would take the database file's mode, and a -shm made while
	 * the file was read-only keeps every later connection read-only.
	 */
	if (s->db != NULL && !s->readonly) {
		int persist = 1;

		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close_v2(s->db);
	if (s->secret != NULL) {
		memset(s->secret, 0, s->secret_len);
		g_free(s->secret);
	}
	g_free(s);
}

void
store_set_policy(struct store *s, const struct store_policy *pol)
{
	s->pol = *pol;
}

void
store_set_parser(struct store *s, store_parse_fn fn, void *ud)
{
	s->parse = fn;
	s->parse_ud = ud;
}

/* ---- targets: the per-address state rows ------------------------- */

const char *
store_rule_intern(const char *text)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
		if (strcmp(text, rules[i]) == 0)
			return rules[i];
	return "";
}

void
store_hmac_name(const struct store *s, const char *norm, size_t len, char *out)
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, s->secret, s->secret_len);
	uint64_t key = store_siphash24(s->sipkey, norm, len);

	g_hmac_update(h, (const guchar *)norm, (gssize)len);
	g_snprintf(out, STORE_HMAC_NAME_LEN + 1, "hmac:%s:%016" G_GINT64_MODIFIER "x",
	    g_hmac_get_string(h), (guint64)key);
	g_hmac_unref(h);
}

void
store_addr_log_hash(const unsigned char *secret, size_t secret_len, const char *addr,
    char *out)
{
	char norm[STORE_ADDR_MAX + 1], err[256];
	int n = store_addr_normalize(addr, strlen(addr), norm, err);
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, secret, secret_len);

	if (n > 0)
		g_hmac_update(h, (const guchar *)norm, n);
	else
		g_hmac_update(h, (const guchar *)addr, (gssize)strlen(addr));
	g_snprintf(out, STORE_LOG_HASH_LEN + 1, "hmac:%.16s", g_hmac_get_string(h));
	g_hmac_unref(h);
}

char *
store_text_redact(const char *text, size_t len, const char *needle, const char *with,
    size_t *len_r)
{
	GString *out = g_string_sized_new(len + 1);
	size_t n = strlen(needle), i = 0;

	while (i < len) {
		if (n > 0 && len - i >= n && g_ascii_strncasecmp(text + i, needle, n) == 0) {
			g_string_append(out, with);
			i += n;
		} else {
			g_string_append_c(out, text[i]);
			i++;
		}
	}
	*len_r = out->len;
	return g_string_free(out, FALSE);
}

uint64_t
store_name_key(const uint8_t k[STORE_SIPKEY_LEN], const char *name, size_t len)
{
	if (len == STORE_HMAC_NAME_LEN && strncmp(name, "hmac:", 5) == 0)
		return g_ascii_strtoull(name + STORE_HMAC_NAME_LEN - 16, NULL, 16);
	return store_siphash24(k, name, len);
}

int
store_row_load(struct store *s, const char *name, struct store_target *t)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ADDR_GET);
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_pstate *p = &t->st;

		p->cause = (enum store_cause)sqlite3_column_int(st, 0);
		p->reason = (enum report_reason)sqlite3_column_int(st, 1);
		p->scope = (enum report_scope)sqlite3_column_int(st, 2);
		g_strlcpy(p->status, col_text(st, 3), sizeof(p->status));
		p->since = sqlite3_column_int64(st, 4);
		p->until = sqlite3_column_int64(st, 5);
		p->event_id = sqlite3_column_int64(st, 6);
		p->rule = store_rule_intern(col_text(st, 7));
		g_strlcpy(t->source, col_text(st, 8), sizeof(t->source));
		p->soft_count = (unsigned)sqlite3_column_int(st, 10);
		p->soft_first = sqlite3_column_int64(st, 11);
		p->soft_last = sqlite3_column_int64(st, 12);
		p->last_delivered = sqlite3_column_int64(st, 13);
		p->manual_at = sqlite3_column_int64(st, 14);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "load state");
	return 0;
}

/*
 * t->name set.  Loads its state; an address forgotten earlier (a hmac row)
 * that shows up again is adopted back: its suppression carries over, and
 * an audit entry "restore" records it so a replay keeps it.
 */
int
store_target_load(struct store *s, struct store_target *t, time_t now, int adopt)
{
	int rc;

	store_pstate_init(&t->st);
	g_strlcpy(t->source, "lmtp", sizeof(t->source));
	t->exists = 0;
	rc = store_row_load(s, t->name, t);
	if (rc == 0 && adopt && s->forgotten > 0 && t->name[0] != '@' &&
	    strncmp(t->name, "hmac:", 5) != 0) {
		char hname[STORE_HMAC_NAME_LEN + 1];

		store_hmac_name(s, t->name, t->len, hname);
		rc = store_row_load(s, hname, t);
		if (rc == 1) {
			sqlite3_stmt *st = store_stmt(s, STMT_ADDR_DEL);

			if (st == NULL)
				return -1;
			store_bind_text(st, 1, hname);
			if (store_step_done(s, st, "restore forgotten entry") == -1 ||
			    store_audit(s, now, "store", "restore", t->name, &t->st,
			    "address seen again after erasure") == -1)
				return -1;
		}
	}
	if (rc == -1)
		return -1;
	t->exists = rc;
	store_policy_verdict(&t->st, now, &t->before);
	return 0;
}

int
store_target_save(struct store *s, struct store_target *t, time_t now)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ADDR_PUT);
	const struct store_pstate *p = &t->st;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, t->name);
	sqlite3_bind_int(st, 2, (int)p->cause);
	sqlite3_bind_int(st, 3, (int)p->reason);
	sqlite3_bind_int(st, 4, (int)p->scope);
	store_bind_text(st, 5, p->status);
	sqlite3_bind_int64(st, 6, p->since);
	sqlite3_bind_int64(st, 7, p->until);
	if (p->event_id != 0)
		sqlite3_bind_int64(st, 8, p->event_id);
	else
		sqlite3_bind_null(st, 8);
	store_bind_text(st, 9, p->rule != NULL ? p->rule : "");
	store_bind_text(st, 10, t->source);
	sqlite3_bind_int64(st, 11, (int64_t)now);
	sqlite3_bind_int(st, 12, (int)p->soft_count);
	sqlite3_bind_int64(st, 13, p->soft_first);
	sqlite3_bind_int64(st, 14, p->soft_last);
	sqlite3_bind_int64(st, 15, p->last_delivered);
	sqlite3_bind_int64(st, 16, p->manual_at);
	if (store_step_done(s, st, "save state") == -1)
		return -1;
	t->exists = 1;
	return 0;
}

void
store_target_change(struct store *s, const struct store_target *t, time_t now,
    GArray *changes)
{
	struct store_change c;

	if (changes == NULL)
		return;
	memset(&c, 0, sizeof(c));
	store_policy_verdict(&t->st, now, &c.v);
	if (c.v.cause == t->before.cause && c.v.reason == t->before.reason &&
	    c.v.since == t->before.since && c.v.until == t->before.until)
		return;
	c.key = store_name_key(s->sipkey, t->name, t->len);
	g_array_append_val(changes, c);
}

int
store_audit(struct store *s, int64_t at, const char *actor, const char *action,
    const char *target, const struct store_pstate *p, const char *note)
{
	sqlite3_stmt *st = store_stmt(s, STMT_AUDIT_INS);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, at);
	store_bind_text(st, 2, actor != NULL ? actor : "unknown");
	store_bind_text(st, 3, action);
	store_bind_text(st, 4, target);
	sqlite3_bind_int(st, 5, (int)p->cause);
	sqlite3_bind_int(st, 6, (int)p->reason);
	store_bind_text(st, 7, p->status);
	sqlite3_bind_int64(st, 8, p->since);
	sqlite3_bind_int64(st, 9, p->until);
	store_bind_text(st, 10, note);
	return store_step_done(s, st, "audit");
}

/* ---- ingest ------------------------------------------------------- */

int
store_incident_note(struct store *s, const char *domain, int64_t at, int64_t event_id,
    int64_t bounce_id, enum report_reason reason, const char *status, const char *diagnostic)
{
	const char *provider = store_policy_provider(&s->pol, domain);
	sqlite3_stmt *st = store_stmt(s, STMT_INCIDENT_OPEN);
	int64_t id = 0, opened = 0, first = 0, messages = 0, last_bounce = 0;
	int newmsg;
	int r;

	if (!store_policy_incident_worthy(status, diagnostic))
		return 0;
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, provider);
	sqlite3_bind_int64(st, 2, at - s->pol.incident_quiet);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		opened = sqlite3_column_int64(st, 1);
		first = sqlite3_column_int64(st, 2);
		messages = sqlite3_column_int64(st, 3);
		last_bounce = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail(s, r, "find incident");
	/* A candidate whose first failure is out of the window starts again. */
	if (id != 0 && opened == 0 && at - first > s->pol.incident_window)
		id = 0;
	/* The recipients of one bounce are one message. */
	newmsg = id != 0 && (bounce_id == 0 || bounce_id != last_bounce);
	if (id == 0)
		messages = 1;
	else
		messages += newmsg;
	if (opened == 0 && messages >= (int64_t)s->pol.incident_min_messages)
		opened = at;
	st = store_stmt(s, id != 0 ? STMT_INCIDENT_UPD : STMT_INCIDENT_INS);
	if (st == NULL)
		return -1;
	if (id != 0)
		sqlite3_bind_int64(st, 1, id);
	else
		store_bind_text(st, 1, provider);
	sqlite3_bind_int(st, 2, (int)reason);
	sqlite3_bind_int64(st, 3, at);
	sqlite3_bind_int64(st, 4, event_id);
	store_bind_text(st, 5, domain);
	store_bind_text(st, 6, status);
	store_bind_text(st, 7, diagnostic);
	sqlite3_bind_int64(st, 8, opened);
	if (id != 0) {
		sqlite3_bind_int(st, 9, newmsg);
		sqlite3_bind_int64(st, 10, bounce_id);
	} else {
		sqlite3_bind_int64(st, 9, bounce_id);
	}
	return store_step_done(s, st, "record incident");
}

/*
 * Records one recipient of a bounce as an event; name_r gets its normalised
 * address (len_r > 0) or, when it has none, the text as given (len_r 0:
 * recorded, never folded into a state).  o (NULL: a bounce over LMTP with
 * no queue ID) says where it came from; a failure ("failed") whose queue ID
 * and address an event of the other source already counted is recorded as
 * its twin (*twin_r 1): evidence, never counted again.
 */
int
store_event_insert(struct store *s, int64_t bounce_id, int64_t at, const struct report_rcpt *rc,
    const struct store_event_origin *o, char name_r[STORE_ADDR_MAX + 1], size_t *len_r,
    int64_t *id_r, int *twin_r)
{
	sqlite3_stmt *st;
	char err[256];
	int64_t twin = 0;
	int len;

	len = store_addr_normalize(rc->recipient, rc->recipient != NULL ?
	    strlen(rc->recipient) : 0, name_r, err);
	if (len > 0 && name_r[0] != '@') {
		*len_r = (size_t)len;
	} else {
		g_strlcpy(name_r, rc->recipient != NULL ? rc->recipient : "", STORE_ADDR_MAX + 1);
		*len_r = 0;
	}
	if (o != NULL && !o->untrusted && o->queue_id != NULL && *len_r > 0 && rc->action != NULL &&
	    strcmp(rc->action, "failed") == 0) {
		int r;

		if ((st = store_stmt(s, STMT_EVENT_TWIN)) == NULL)
			return -1;
		store_bind_text(st, 1, o->queue_id);
		store_bind_text(st, 2, name_r);
		store_bind_text(st, 3, o->source != NULL ? o->source : "lmtp");
		r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			twin = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (r != SQLITE_ROW && r != SQLITE_DONE)
			return store_fail(s, r, "find the other source's event");
	}
	if ((st = store_stmt(s, STMT_EVENT_INS)) == NULL)
		return -1;
	if (bounce_id != 0)
		sqlite3_bind_int64(st, 1, bounce_id);
	else
		sqlite3_bind_null(st, 1);
	store_bind_text(st, 2, name_r);
	sqlite3_bind_int64(st, 3, at);
	sqlite3_bind_int(st, 4, (int)rc->class);
	sqlite3_bind_int(st, 5, (int)rc->reason);
	sqlite3_bind_int(st, 6, (int)rc->scope);
	store_bind_text(st, 7, rc->status);
	store_bind_text(st, 8, rc->replycode);
	store_bind_text(st, 9, rc->action);
	store_bind_text(st, 10, rc->diagnostic);
	store_bind_text(st, 11, rc->diagnostic_type);
	store_bind_text(st, 12, rc->remote_mta);
	store_bind_text(st, 13, rc->smtp_command);
	store_bind_text(st, 14, rc->rule);
	sqlite3_bind_int(st, 15, o != NULL && o->untrusted);
	store_bind_text(st, 16, o != NULL ? o->source : NULL);
	store_bind_text(st, 17, o != NULL ? o->queue_id : NULL);
	store_bind_text(st, 18, o != NULL ? o->sender : NULL);
	if (twin != 0)
		sqlite3_bind_int64(st, 19, twin);
	else
		sqlite3_bind_null(st, 19);
	if (store_step_done(s, st, "record event") == -1)
		return -1;
	*id_r = sqlite3_last_insert_rowid(s->db);
	*twin_r = twin != 0;
	return 0;
}

int
store_ingest_rcpt(struct store *s, int64_t bounce_id, int64_t at, const struct report_rcpt *rc,
    const struct store_event_origin *o, time_t now, GArray *changes, int *twin_r)
{
	struct store_target t;
	struct store_pevent ev;
	const char *source = o != NULL && o->source != NULL ? o->source : "lmtp";

	memset(&ev, 0, sizeof(ev));
	if (store_event_insert(s, bounce_id, at, rc, o, t.name, &t.len, &ev.id, twin_r) == -1)
		return -1;
	/* untrusted: kept as evidence, never a state nor an incident; a twin: counted already */
	if (t.len == 0 || *twin_r || (o != NULL && o->untrusted))
		return 0;
	ev.at = at;
	ev.class = rc->class;
	ev.reason = rc->reason;
	ev.scope = rc->scope;
	ev.status = rc->status;
	if (store_target_load(s, &t, now, 1) == -1)
		return -1;
	switch (store_policy_event(&s->pol, &t.st, &ev)) {
	case STORE_PEFFECT_INCIDENT: {
		/*
		 * One message counts once: a bounce by its id, a log line by its
		 * queue ID (a negative key, never a bounce's id).
		 */
		int64_t msg = bounce_id;

		if (msg == 0 && o != NULL && o->queue_id != NULL)
			msg = -1 - (int64_t)(g_str_hash(o->queue_id) & 0x7fffffff);
		return store_incident_note(s, strrchr(t.name, '@') + 1, at, ev.id, msg,
		    rc->reason, rc->status, rc->diagnostic);
	}
	case STORE_PEFFECT_MESSAGE:
		return 0;
	case STORE_PEFFECT_RECORD:
		if (!t.exists)
			return 0;   /* an auto-reply alone creates no state */
		break;
	case STORE_PEFFECT_STATE:
		break;
	}
	if (t.st.event_id == ev.id || !t.exists)
		g_strlcpy(t.source, source, sizeof(t.source));
	if (store_target_save(s, &t, now) == -1)
		return -1;
	store_target_change(s, &t, now, changes);
	return 0;
}

static int
ingest_one(struct store *s, struct store_bounce *b, time_t now, GArray *changes)
{
	const struct report *r = b->report;
	sqlite3_stmt *st = store_stmt(s, STMT_BOUNCE_INS);
	guint8 digest[32];
	gsize dlen = sizeof(digest);
	GChecksum *ck;
	int64_t at = b->received != 0 ? b->received : (int64_t)now;
	unsigned nrcpt = r != NULL && r->rcpts != NULL ? r->rcpts->len : 0;
	struct store_event_origin o;

	b->id_r = 0;
	b->duplicate_r = 0;
	if (st == NULL)
		return -1;
	ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, (const guchar *)b->raw, (gssize)b->raw_len);
	g_checksum_get_digest(ck, digest, &dlen);
	g_checksum_free(ck);

	sqlite3_bind_blob(st, 1, digest, (int)dlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, at);
	store_bind_text(st, 3, b->envelope_rcpt);
	store_bind_text(st, 4, b->verp_rcpt);
	store_bind_text(st, 5, r != NULL ? report_decoder_name(r->decoder) : NULL);
	store_bind_text(st, 6, r != NULL ? r->reporting_mta : NULL);
	store_bind_text(st, 7, r != NULL ? r->orig_message_id : NULL);
	store_bind_text(st, 8, r != NULL ? r->orig_sender : NULL);
	store_bind_text(st, 9, r != NULL ? r->feedback_type : NULL);
	store_bind_text(st, 10, r != NULL ? r->subject : NULL);
	sqlite3_bind_int(st, 11, (int)nrcpt);
	sqlite3_bind_blob64(st, 12, b->raw != NULL ? b->raw : "", b->raw_len, SQLITE_STATIC);
	store_bind_text(st, 13, b->trust);
	store_bind_text(st, 14, b->untrusted);
	if (store_step_done(s, st, "record bounce") == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0) {
		/* The same message again (a retry after a lost 250): count nothing. */
		int rc;

		if ((st = store_stmt(s, STMT_BOUNCE_BY_DIGEST)) == NULL)
			return -1;
		sqlite3_bind_blob(st, 1, digest, (int)dlen, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			b->id_r = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return store_fail(s, rc, "find duplicate bounce");
		b->duplicate_r = 1;
		return 0;
	}
	b->id_r = sqlite3_last_insert_rowid(s->db);
	memset(&o, 0, sizeof(o));
	o.queue_id = r != NULL ? r->orig_queue_id : NULL;
	o.sender = r != NULL ? r->orig_sender : NULL;
	o.untrusted = b->untrusted != NULL;
	for (unsigned i = 0; i < nrcpt; i++) {
		int twin;

		if (store_ingest_rcpt(s, b->id_r, at, g_ptr_array_index(r->rcpts, i), &o, now,
		    changes, &twin) == -1)
			return -1;
	}
	return 0;
}

int
store_ingest(struct store *s, struct store_bounce *b, size_t n, time_t now, GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;

	if (store_tx_begin(s) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ingest_one(s, &b[i], now, changes) == -1)
			goto fail;
	}
	if (store_tx_commit(s) == -1)
		goto fail;
	return 0;
fail:
	store_tx_rollback(s);
	if (changes != NULL)
		g_array_set_size(changes, mark);
	for (size_t i = 0; i < n; i++) {
		b[i].id_r = 0;
		b[i].duplicate_r = 0;
	}
	return -1;
}

/* ---- manual entries ------------------------------------------------ */

/* Normalises a target: address, "@domain", or a hmac: name.  0 / -1. */
static int
target_name(struct store *s, const char *in, struct store_target *t)
{
	char err[256];
	int len;

	if (in != NULL && strncmp(in, "hmac:", 5) == 0) {
		if (!store_erased_name_valid(in))
			return store_failf(s, STORE_ERR_INVALID, "invalid erased-entry name \"%.40s\"",
			    in);
		t->len = STORE_HMAC_NAME_LEN;
		memcpy(t->name, in, t->len + 1);
		return 0;
	}
	len = store_addr_normalize(in, in != NULL ? strlen(in) : 0, t->name, err);
	if (len < 0)
		return store_failf(s, STORE_ERR_INVALID, "invalid address: %s", err);
	t->len = (size_t)len;
	return 0;
}

int
store_suppress(struct store *s, const struct store_manual *m, size_t n, time_t now,
    GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;

	if (store_tx_begin(s) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct store_target t;
		struct store_paction act;

		if (m[i].cause == STORE_CAUSE_NONE || (unsigned)m[i].cause >= STORE_CAUSE_COUNT ||
		    (unsigned)m[i].reason >= REPORT_REASON_COUNT) {
			store_failf(s, STORE_ERR_INVALID, "suppress: invalid cause or reason");
			goto fail;
		}
		if (m[i].status != NULL && m[i].status[0] != '\0' &&
		    !report_status_valid(m[i].status)) {
			store_failf(s, STORE_ERR_INVALID, "suppress: invalid status \"%.20s\"",
			    m[i].status);
			goto fail;
		}
		if (target_name(s, m[i].target, &t) == -1 || store_target_load(s, &t, now, 1) == -1)
			goto fail;
		memset(&act, 0, sizeof(act));
		act.at = now;
		act.suppress = 1;
		act.cause = m[i].cause;
		act.reason = m[i].reason;
		act.status = m[i].status;
		act.since = m[i].since != 0 ? m[i].since : (int64_t)now;
		act.until = m[i].until;
		store_policy_action(&s->pol, &t.st, &act);
		g_strlcpy(t.source, m[i].source != NULL ? m[i].source :
		    m[i].cause == STORE_CAUSE_MANUAL ? "manual" : "import", sizeof(t.source));
		if (store_target_save(s, &t, now) == -1 ||
		    store_audit(s, now, m[i].actor, m[i].cause == STORE_CAUSE_MANUAL ? "suppress" :
		    "import", t.name, &t.st, m[i].note) == -1)
			goto fail;
		store_target_change(s, &t, now, changes);
	}
	if (store_tx_commit(s) == -1)
		goto fail;
	return 0;
fail:
	store_tx_rollback(s);
	if (changes != NULL)
		g_array_set_size(changes, mark);
	return -1;
}

int
store_unsuppress(struct store *s, const char *target, const char *note, const char *actor,
    time_t now, GArray *changes)
{
	guint mark = changes != NULL ? changes->len : 0;
	struct store_target t;
	struct store_paction act;
	int was;

	if (store_tx_begin(s) == -1)
		return -1;
	if (target_name(s, target, &t) == -1 || store_target_load(s, &t, now, 1) == -1)
		goto fail;
	if (!t.exists) {
		store_tx_rollback(s);
		return 0;
	}
	was = t.before.cause != STORE_CAUSE_NONE;
	memset(&act, 0, sizeof(act));
	act.at = now;
	act.suppress = 0;
	store_policy_action(&s->pol, &t.st, &act);
	g_strlcpy(t.source, "manual", sizeof(t.source));
	if (store_target_save(s, &t, now) == -1 ||
	    store_audit(s, now, actor, "unsuppress", t.name, &t.st, note) == -1)
		goto fail;
	store_target_change(s, &t, now, changes);
	if (store_tx_commit(s) == -1)
		goto fail;
	return was;
fail:
	store_tx_rollback(s);
	if (changes != NULL)
		g_array_set_size(changes, mark);
	return -1;
}

/* ---- the index ----------------------------------------------------- */

int
store_load_index(struct store *s, struct store_index *idx)
{
	sqlite3_stmt *st = store_stmt(s, STMT_ADDR_COUNT_SUPPRESSED);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    store_index_reserve(idx, (size_t)sqlite3_column_int64(st, 0)) == -1) {
		sqlite3_reset(st);
		return store_failf(s, STORE_ERR_NOMEM, "load index: out of memory");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "load index");
	if ((st = store_stmt(s, STMT_ADDR_SUPPRESSED)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		struct store_verdict v;
		uint64_t key;

		if (name == NULL)
			continue;
		memset(&v, 0, sizeof(v));
		v.cause = (enum store_cause)sqlite3_column_int(st, 1);
		v.reason = (enum report_reason)sqlite3_column_int(st, 2);
		v.since = sqlite3_column_int64(st, 3);
		v.until = sqlite3_column_int64(st, 4);
		key = strncmp(name, "hmac:", 5) == 0 ? store_name_key(s->sipkey, name, len) :
		    store_index_key(idx, name, len);
		if (store_index_put(idx, key, &v) == -1) {
			sqlite3_reset(st);
			return store_failf(s, STORE_ERR_NOMEM, "load index: out of memory");
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "load index");
	return 0;
}
