/* SPDX-License-Identifier: MIT */
/*
 * test-store-faults-fs.c - the store on a real, small file system (a tmpfs
 * mounted for the test): it fills up, every failing ingest returns -1
 * classified "disk-full" with nothing half-written, and it works again once
 * the file system grows; then the file system is made read-only and
 * opening the store read-write fails with "read-only" until it is writable
 * again.  Needs root (mount(2)); exits 77 (skipped) when it cannot mount.
 *
 * Limit: Linux refuses to remount read-only a file system with files open
 * for writing, so "becomes read-only while open" is covered by the
 * read-only connection in test-store-faults, not here.
 */
#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

#include "test-store-util.h"

static char *mnt;

static struct store *
open_store(char err[256])
{
	char *path = g_build_filename(mnt, "bounced.db", NULL);
	struct store_config cfg;
	struct store *s;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.secret = (const unsigned char *)TEST_SECRET;
	cfg.secret_len = strlen(TEST_SECRET);
	cfg.busy_timeout_ms = 100;
	s = store_open(&cfg, NULL, err);
	g_free(path);
	return s;
}

static void
check_consistent(gint64 want)
{
	char *ok = tu_sql(mnt, "PRAGMA integrity_check");

	g_assert_cmpstr(ok, ==, "ok");
	g_free(ok);
	g_assert_cmpint(tu_sql_int(mnt, "SELECT count(*) FROM bounce"), ==, want);
	g_assert_cmpint(tu_sql_int(mnt, "SELECT count(*) FROM event"), ==, want);
	g_assert_cmpint(tu_sql_int(mnt, "SELECT count(*) FROM addr"), ==, want);
}

static void
test_full_then_grow(void)
{
	char err[256];
	struct store *s = open_store(err);
	gint64 have = 0;
	int next = 0, failures = 0;

	if (s == NULL)
		g_error("open: %s", err);
	/* Fill the 512 KiB file system: batches of 10 x 4 KiB. */
	while (failures < 3 && next < 2000) {
		if (tu_ingest_batch(s, next, 10, NULL) == 0) {
			have += 10;
		} else {
			failures++;
			g_test_message("full: %s", store_errmsg(s));
			g_assert_cmpint(store_errcode(s), ==, STORE_ERR_FULL);
			g_assert_nonnull(strstr(store_errmsg(s), "disk-full"));
		}
		next += 10;
	}
	g_assert_cmpint(failures, ==, 3);
	g_assert_cmpint(have, >, 0);
	check_consistent(have);

	/* The admin grows the file system: the same handle works again. */
	g_assert_cmpint(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m"), ==, 0);
	g_assert_cmpint(tu_ingest_batch(s, next, 10, NULL), ==, 0);
	check_consistent(have + 10);
	store_close(s);
}

static void
test_readonly_fs(void)
{
	char err[256];
	struct store *s;

	/* A read-only file system: opening read-write fails, classified. */
	g_assert_cmpint(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL), ==, 0);
	s = open_store(err);
	g_assert_null(s);
	g_test_message("read-only fs: %s", err);
	g_assert_nonnull(strstr(err, "read-only"));
	g_assert_cmpint(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m"), ==, 0);
	s = open_store(err);
	g_assert_nonnull(s);
	g_assert_cmpint(tu_ingest_batch(s, 100000, 1, NULL), ==, 0);
	store_close(s);
}

int
main(int argc, char **argv)
{
	char *dir;
	int ret;

	g_test_init(&argc, &argv, NULL);
	dir = tu_mkdir();
	mnt = g_build_filename(dir, "mnt", NULL);
	g_assert_cmpint(g_mkdir(mnt, 0700), ==, 0);
	if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=512k,mode=0700") != 0) {
		g_printerr("cannot mount a tmpfs (%s): skipped\n",
		    geteuid() != 0 ? "not root" : g_strerror(errno));
		g_rmdir(mnt);
		g_free(mnt);
		tu_rmdir(dir);
		return 77;
	}
	g_test_add_func("/faults-fs/full-then-grow", test_full_then_grow);
	g_test_add_func("/faults-fs/readonly", test_readonly_fs);
	ret = g_test_run();
	umount2(mnt, MNT_DETACH);
	g_rmdir(mnt);
	g_free(mnt);
	tu_rmdir(dir);
	return ret;
}
