/* SPDX-License-Identifier: MIT */
/*
 * test-store-faults.c - what the daemon sees when the disk is full, the
 * database is read-only, locked by another connection, or corrupt: every
 * failing call returns -1 with a classified, readable error, nothing is
 * half-written (a fresh connection finds integrity_check "ok" and the
 * counts of before), and the same handle works again once the fault is
 * cleared.
 *
 * Full disk here uses a thin test VFS over SQLite's default one whose
 * xWrite fails with SQLITE_FULL once a byte budget is spent, so the fault
 * lands at every point of a transaction (page writes, WAL frames, the
 * commit frame) and the test always runs.  test-store-faults-fs does the
 * same on a real, small file system (tmpfs) when it can mount one.
 */
#include "test-store-util.h"

/* ---- the faulty VFS -------------------------------------------------- */

struct faulty_file {
	sqlite3_file base;
	sqlite3_file *real;          /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs faulty_vfs;
static sqlite3_int64 write_budget = -1;   /* bytes still writable; -1: no limit */
static unsigned write_failures;

#define REAL(f) (((struct faulty_file *)(void *)(f))->real)

static int
f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int
f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	if (write_budget >= 0) {
		if (amt > write_budget) {
			write_budget = 0;
			write_failures++;
			return SQLITE_FULL;
		}
		write_budget -= amt;
	}
	return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
f_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
f_reserved(sqlite3_file *f, int *r)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}

static int
f_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
f_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
f_shmmap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods faulty_io = {
	2, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_reserved,
	f_fcntl, f_sector, f_devchar, f_shmmap, f_shmlock, f_shmbarrier, f_shmunmap,
	NULL, NULL,
};

static int
f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
	struct faulty_file *ff = (struct faulty_file *)(void *)file;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(void *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	ff->base.pMethods = ff->real->pMethods != NULL ? &faulty_io : NULL;
	return rc;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync);
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int
v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}

static int
v_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, t);
}

static int
v_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, out);
}

static int
v_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

static void
faulty_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	memset(&faulty_vfs, 0, sizeof(faulty_vfs));
	faulty_vfs.iVersion = 2;
	faulty_vfs.szOsFile = (int)sizeof(struct faulty_file) + real_vfs->szOsFile;
	faulty_vfs.mxPathname = real_vfs->mxPathname;
	faulty_vfs.zName = "faulty";
	faulty_vfs.xOpen = f_open;
	faulty_vfs.xDelete = v_delete;
	faulty_vfs.xAccess = v_access;
	faulty_vfs.xFullPathname = v_fullpath;
	faulty_vfs.xRandomness = v_random;
	faulty_vfs.xSleep = v_sleep;
	faulty_vfs.xCurrentTime = v_time;
	faulty_vfs.xGetLastError = v_lasterr;
	faulty_vfs.xCurrentTimeInt64 = v_time64;
	g_assert_cmpint(sqlite3_vfs_register(&faulty_vfs, 0), ==, SQLITE_OK);
}

/* ---- helpers ------------------------------------------------------- */

static struct store *
open_vfs(const char *dir, const char *vfs)
{
	char *path = g_build_filename(dir, "bounced.db", NULL);
	struct store_policy pol;
	struct store_config cfg;
	struct store *s;
	char err[256];

	store_policy_default(&pol);
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.secret = (const unsigned char *)TEST_SECRET;
	cfg.secret_len = strlen(TEST_SECRET);
	cfg.busy_timeout_ms = 100;
	cfg.vfs = vfs;
	s = store_open(&cfg, &pol, err);
	if (s == NULL)
		g_error("open: %s", err);
	g_free(path);
	return s;
}

/* Integrity and counts through a fresh connection with the default VFS. */
static void
check_consistent(const char *dir, gint64 want_bounces)
{
	char *ok = tu_sql(dir, "PRAGMA integrity_check");

	g_assert_cmpstr(ok, ==, "ok");
	g_free(ok);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM bounce"), ==, want_bounces);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM event"), ==, want_bounces);
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM addr"), ==, want_bounces);
}

/* ---- tests --------------------------------------------------------- */

static void
test_full_vfs(void)
{
	char *dir = tu_mkdir();
	struct store *s = open_vfs(dir, "faulty");
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	gint64 have = 0;
	int next = 0;
	unsigned failed = 0;

	g_assert_cmpint(tu_ingest_batch(s, next, 10, changes), ==, 0);
	next += 10;
	have = 10;
	/* Budgets that stop writing at many points of a 20-bounce transaction. */
	for (sqlite3_int64 budget = 0; budget < 160000; budget += 3001) {
		int ret;

		g_array_set_size(changes, 0);
		write_budget = budget;
		ret = tu_ingest_batch(s, next, 20, changes);
		write_budget = -1;
		if (ret == 0) {
			have += 20;
			g_assert_cmpuint(changes->len, ==, 20);
		} else {
			failed++;
			g_assert_cmpint(store_errcode(s), ==, STORE_ERR_FULL);
			g_assert_nonnull(strstr(store_errmsg(s), "disk-full"));
			g_assert_cmpuint(changes->len, ==, 0);
		}
		next += 20;
		/* All or nothing, and a sound file, whatever the point of failure. */
		check_consistent(dir, have);
	}
	g_assert_cmpuint(failed, >, 10);
	g_assert_cmpuint(write_failures, >=, failed);
	/* The fault cleared, the same handle works. */
	g_assert_cmpint(tu_ingest_batch(s, next, 10, changes), ==, 0);
	check_consistent(dir, have + 10);

	/* A manual suppress and a forget fail whole too. */
	write_budget = 0;
	g_assert_cmpint(store_suppress(s, &(struct store_manual){ .target = "m@example.com",
	    .cause = STORE_CAUSE_MANUAL, .actor = "t" }, 1, T0, changes), ==, -1);
	g_assert_cmpint(store_errcode(s), ==, STORE_ERR_FULL);
	write_budget = -1;
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM audit"), ==, 0);

	store_close(s);
	g_array_free(changes, TRUE);
	tu_rmdir(dir);
}

static void
test_locked(void)
{
	char *dir = tu_mkdir();
	struct store *s = open_vfs(dir, NULL);
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	char *path = g_build_filename(dir, "bounced.db", NULL);
	sqlite3 *other;
	gint64 t0;

	g_assert_cmpint(tu_ingest_batch(s, 0, 5, changes), ==, 0);
	/* Another process holds the write lock. */
	g_assert_cmpint(sqlite3_open(path, &other), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
	g_array_set_size(changes, 0);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(tu_ingest_batch(s, 5, 5, changes), ==, -1);
	/* It waited busy_timeout (100 ms) before giving up. */
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 90 * 1000);
	g_assert_cmpint(store_errcode(s), ==, STORE_ERR_LOCKED);
	g_assert_nonnull(strstr(store_errmsg(s), "locked"));
	g_assert_cmpuint(changes->len, ==, 0);
	g_assert_cmpint(store_unsuppress(s, "user1@example.com", "n", "a", T0, changes), ==, -1);
	g_assert_cmpint(store_errcode(s), ==, STORE_ERR_LOCKED);
	/* Reads still work (WAL). */
	g_assert_cmpint(tu_sql_int(dir, "SELECT count(*) FROM bounce"), ==, 5);
	g_assert_cmpint(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(other);
	check_consistent(dir, 5);
	/* Released: works again. */
	g_assert_cmpint(tu_ingest_batch(s, 5, 5, changes), ==, 0);
	check_consistent(dir, 10);
	store_close(s);
	g_free(path);
	g_array_free(changes, TRUE);
	tu_rmdir(dir);
}

static void
test_readonly_connection(void)
{
	char *dir = tu_mkdir();
	struct store *s = open_vfs(dir, NULL);
	struct store *ro = tu_open(dir, NULL, 1);
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));

	g_assert_cmpint(tu_ingest_batch(s, 0, 3, changes), ==, 0);
	g_array_set_size(changes, 0);
	g_assert_cmpint(tu_ingest_batch(ro, 3, 3, changes), ==, -1);
	g_assert_cmpint(store_errcode(ro), ==, STORE_ERR_READONLY);
	g_assert_nonnull(strstr(store_errmsg(ro), "read-only"));
	g_assert_cmpuint(changes->len, ==, 0);
	check_consistent(dir, 3);
	store_close(ro);
	store_close(s);
	g_array_free(changes, TRUE);
	tu_rmdir(dir);
}

static void
test_corrupt(void)
{
	char *dir = tu_mkdir();
	char *path = g_build_filename(dir, "bounced.db", NULL);
	char *junk = g_strnfill(8192, 'J');
	struct store_config cfg;
	char err[256];

	g_assert_true(g_file_set_contents(path, junk, 8192, NULL));
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.secret = (const unsigned char *)TEST_SECRET;
	cfg.secret_len = strlen(TEST_SECRET);
	g_assert_null(store_open(&cfg, NULL, err));
	g_assert_nonnull(strstr(err, "corrupt"));
	g_test_message("corrupt file: %s", err);
	/* No secret: refused before touching anything. */
	cfg.secret_len = 0;
	g_assert_null(store_open(&cfg, NULL, err));
	g_assert_nonnull(strstr(err, "secret"));
	g_free(junk);
	g_free(path);
	tu_rmdir(dir);
}

/*
 * The database file deleted (its directory removed) or replaced while open:
 * writes refuse (a commit into an unlinked file is lost at the next open),
 * reads of the old file go on, a new open of the path works again.
 */
static void
test_moved(void)
{
	char *dir = tu_mkdir();
	struct store *s = tu_open(dir, NULL, 0);
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	char *path = g_build_filename(dir, "bounced.db", NULL);
	char *aside = g_build_filename(dir, "aside.db", NULL);

	g_assert_cmpint(store_moved(s), ==, 0);
	g_assert_cmpint(tu_ingest_batch(s, 0, 3, changes), ==, 0);
	/* replaced: renamed aside (a restore would put another file there) */
	g_assert_cmpint(rename(path, aside), ==, 0);
	g_assert_cmpint(store_moved(s), ==, 1);
	g_array_set_size(changes, 0);
	g_assert_cmpint(tu_ingest_batch(s, 3, 2, changes), ==, -1);
	g_assert_cmpint(store_errcode(s), ==, STORE_ERR_IO);
	g_assert_nonnull(strstr(store_errmsg(s), "deleted or replaced"));
	g_assert_cmpuint(changes->len, ==, 0);
	g_assert_cmpint(store_unsuppress(s, "user1@example.com", "n", "a", T0, changes), ==, -1);
	store_close(s);
	/* nothing was written to the old file after it moved */
	g_assert_cmpint(rename(aside, path), ==, 0);
	check_consistent(dir, 3);
	/* deleted: the same */
	s = tu_open(dir, NULL, 0);
	g_assert_cmpint(unlink(path), ==, 0);
	g_assert_cmpint(store_moved(s), ==, 1);
	g_assert_cmpint(tu_ingest_batch(s, 3, 2, changes), ==, -1);
	store_close(s);
	/* opened again: a new database at the path takes bounces */
	s = tu_open(dir, NULL, 0);
	g_assert_cmpint(store_moved(s), ==, 0);
	g_assert_cmpint(tu_ingest_batch(s, 3, 2, changes), ==, 0);
	store_close(s);
	g_free(aside);
	g_free(path);
	g_array_free(changes, TRUE);
	tu_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	faulty_register();
	g_test_add_func("/faults/full-vfs", test_full_vfs);
	g_test_add_func("/faults/locked", test_locked);
	g_test_add_func("/faults/readonly-connection", test_readonly_connection);
	g_test_add_func("/faults/corrupt", test_corrupt);
	g_test_add_func("/faults/moved", test_moved);
	return g_test_run();
}
