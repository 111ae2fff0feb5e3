/* SPDX-License-Identifier: MIT */
/*
 * bench-store.c - the store at scale (issue 3): with N suppressed addresses
 * (default 1,000,000) it prints bytes per address on disk, point lookups/s
 * from the in-memory index and from SQLite, the index's memory, durable
 * ingest events/s with group commit at batch sizes 1, 10 and 100, the time
 * to export every entry (store_list, CSV-formatted), and the time to
 * re-evaluate 10,000 stored bounces.  Figures, not pass/fail: run by hand
 * or with `meson test --benchmark --suite bench`.
 *
 *   bench-store [--n N] [--dir DIR] [--cache-kib K]
 *   (DIR: a temp dir under $TMPDIR by default; K: the writer's SQLite cache, 16384)
 *
 * Timings depend on the disk's fsync latency (ingest) and on what else
 * runs on the machine; the figures for the record are taken on an idle one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "store.h"

#define SECRET "bench secret"
#define T0 ((time_t)1700000000)
#define IMPORT_BATCH 10000
#define NDOMAINS 1000
#define REEVAL_BOUNCES 10000

/* The writer's page cache: 16 MiB keeps the 1M-entry state table's upper
 * B-tree levels cached (with SQLite's 2 MiB default, ingest at batch 10
 * measured ~40% slower here). */
static unsigned cache_kib = 16384;

static double
now_s(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

static long
rss_kib(void)
{
	char *s = NULL;
	long pages = 0, rss = 0;

	if (g_file_get_contents("/proc/self/statm", &s, NULL, NULL))
		sscanf(s, "%ld %ld", &pages, &rss);   /* our own /proc text, not mail */
	g_free(s);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static long long
file_size(const char *dir, const char *name)
{
	char *p = g_build_filename(dir, name, NULL);
	struct stat st;
	long long n = stat(p, &st) == 0 ? (long long)st.st_size : 0;

	g_free(p);
	return n;
}

static struct store *
open_store(const char *path)
{
	struct store_config cfg;
	struct store_policy pol;
	struct store *s;
	char err[256];

	store_policy_default(&pol);
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.secret = (const unsigned char *)SECRET;
	cfg.secret_len = strlen(SECRET);
	cfg.cache_kib = cache_kib;
	s = store_open(&cfg, &pol, err);
	if (s == NULL) {
		fprintf(stderr, "bench-store: %s\n", err);
		exit(1);
	}
	return s;
}

static void
addr_of(unsigned i, char *buf, size_t len)
{
	g_snprintf(buf, len, "user%07u@domain%03u.example", i, i % NDOMAINS);
}

/* A Postfix-style DSN of ~2 KiB for recipient rcpt. */
static char *
dsn(const char *rcpt, unsigned i)
{
	return g_strdup_printf(
	    "Return-Path: <>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\r\n"
	    "From: MAILER-DAEMON@mx.sender.example (Mail Delivery System)\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\nTo: bounces@sender.example\r\n"
	    "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B%u\"\r\nMessage-Id: <%u.bench@mx.sender.example>\r\n\r\n"
	    "--B%u\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is the mail system at host mx.sender.example.\r\n\r\n"
	    "I'm sorry to have to inform you that your message could not\r\n"
	    "be delivered to one or more recipients. It's attached below.\r\n\r\n"
	    "<%s>: host mx.remote.example[192.0.2.1] said: 550 5.1.1\r\n"
	    "    <%s>: Recipient address rejected: User unknown (in reply to RCPT TO\r\n"
	    "    command)\r\n\r\n--B%u\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.sender.example\r\nX-Postfix-Queue-ID: 4SV%u\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:19 +0000 (UTC)\r\n\r\n"
	    "Final-Recipient: rfc822; %s\r\nOriginal-Recipient: rfc822;%s\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.remote.example\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User\r\n"
	    "    unknown\r\n\r\n--B%u\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "Return-Path: <bounces@sender.example>\r\nReceived: by mx.sender.example "
	    "(Postfix, from userid 33) id 4SV%u; Tue, 14 Nov 2023 22:13:19 +0000 (UTC)\r\n"
	    "To: %s\r\nSubject: Your weekly newsletter\r\n"
	    "Message-Id: <%u.news@sender.example>\r\nDate: Tue, 14 Nov 2023 22:13:19 +0000\r\n"
	    "From: News <news@sender.example>\r\n\r\n--B%u--\r\n",
	    i, i, i, rcpt, rcpt, i, i, rcpt, rcpt, rcpt, i, i, rcpt, i, i);
}

/* What a parser makes of dsn(): the report built directly. */
static struct report *
report_for(const char *rcpt)
{
	struct report *r = report_new();
	struct report_rcpt *rc = report_rcpt_new(rcpt);

	r->decoder = REPORT_DECODER_RFC3464;
	rc->class = REPORT_CLASS_HARD;
	rc->reason = REPORT_REASON_USERUNKNOWN;
	rc->scope = REPORT_SCOPE_ADDRESS;
	g_strlcpy(rc->status, "5.1.1", sizeof(rc->status));
	g_strlcpy(rc->replycode, "550", sizeof(rc->replycode));
	rc->action = g_strdup("failed");
	rc->diagnostic = g_strdup("550 5.1.1 Recipient address rejected: User unknown");
	rc->remote_mta = g_strdup("mx.remote.example");
	g_ptr_array_add(r->rcpts, rc);
	return r;
}

/* A parser for re-evaluation that finds the recipient in the Final-Recipient line. */
static struct report *
grep_parse(const char *buf, size_t len, void *ud)
{
	const char *p = g_strstr_len(buf, (gssize)len, "Final-Recipient: rfc822; ");
	char rcpt[256];
	size_t n = 0;

	(void)ud;
	if (p == NULL)
		return report_for("unknown@invalid.example");
	p += 25;
	while (n < sizeof(rcpt) - 1 && p + n < buf + len && p[n] != '\r')
		n++;
	memcpy(rcpt, p, n);
	rcpt[n] = '\0';
	return report_for(rcpt);
}

struct export_ctx {
	GString *out;
	int fd;
	unsigned long rows;
};

static int
export_cb(const struct store_entry *e, void *ud)
{
	struct export_ctx *x = ud;

	/* address,class,reason,status,since,until,source (what bouncectl export writes) */
	g_string_append_printf(x->out, "%s,%s,%s,%s,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%s\n",
	    e->address, store_cause_name(e->v.cause), report_reason_name(e->v.reason), e->status,
	    (gint64)e->v.since, (gint64)e->v.until, e->source);
	if (x->out->len > 65536) {
		if (write(x->fd, x->out->str, x->out->len) < 0)
			return 1;
		g_string_truncate(x->out, 0);
	}
	x->rows++;
	return 0;
}

static double
ingest_run(struct store *s, unsigned batch, unsigned events, unsigned first)
{
	struct store_bounce *b = g_new0(struct store_bounce, batch);
	struct report **r = g_new0(struct report *, batch);
	char **raws = g_new0(char *, batch);
	double t = 0;

	for (unsigned done = 0; done < events; done += batch) {
		double t1;

		for (unsigned i = 0; i < batch; i++) {
			char rcpt[64];

			g_snprintf(rcpt, sizeof(rcpt), "new%u-%u@ingest.example", batch, first + done + i);
			raws[i] = dsn(rcpt, first + done + i);
			r[i] = report_for(rcpt);
			memset(&b[i], 0, sizeof(b[i]));
			b[i].raw = raws[i];
			b[i].raw_len = strlen(raws[i]);
			b[i].report = r[i];
			b[i].received = T0;
		}
		/* Timed: the transaction only (the daemon parses before it). */
		t1 = now_s();
		if (store_ingest(s, b, batch, T0, NULL) != 0) {
			fprintf(stderr, "bench-store: ingest: %s\n", store_errmsg(s));
			exit(1);
		}
		t += now_s() - t1;
		for (unsigned i = 0; i < batch; i++) {
			report_free(r[i]);
			g_free(raws[i]);
		}
	}
	g_free(b);
	g_free(r);
	g_free(raws);
	return events / t;
}

int
main(int argc, char **argv)
{
	unsigned n = 1000000;
	const char *dir_opt = NULL;
	char *dir, *path, *path2, *dir2;
	struct store *s;
	struct store_index *idx;
	struct store_manual *m;
	char (*names)[64];
	double t, t1;
	long rss0, rss1;
	GError *e = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = (unsigned)g_ascii_strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir_opt = argv[++i];
		else if (strcmp(argv[i], "--cache-kib") == 0 && i + 1 < argc)
			cache_kib = (unsigned)g_ascii_strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench-store [--n N] [--dir DIR] [--cache-kib K]\n");
			return 2;
		}
	}
	dir = dir_opt != NULL ? g_strdup(dir_opt) : g_dir_make_tmp("bench-store-XXXXXX", &e);
	if (dir == NULL) {
		fprintf(stderr, "bench-store: %s\n", e->message);
		return 1;
	}
	path = g_build_filename(dir, "bounced.db", NULL);
	g_remove(path);
	printf("bench-store: %u suppressed addresses in %s (SQLite %s, cache %u KiB)\n", n, path,
	    sqlite3_libversion(), cache_kib);

	/* 1. Populate through the import path, 10,000 a transaction. */
	s = open_store(path);
	m = g_new0(struct store_manual, IMPORT_BATCH);
	names = g_malloc((size_t)IMPORT_BATCH * 64);
	t = now_s();
	for (unsigned done = 0; done < n; done += IMPORT_BATCH) {
		unsigned k = MIN(IMPORT_BATCH, n - done);

		for (unsigned i = 0; i < k; i++) {
			addr_of(done + i, names[i], 64);
			m[i].target = names[i];
			m[i].cause = STORE_CAUSE_IMPORT;
			m[i].reason = REPORT_REASON_USERUNKNOWN;
			m[i].status = "5.1.1";
			m[i].since = T0 - (time_t)(done + i);
			m[i].until = STORE_TTL_NEVER;
			m[i].actor = "import:bench";
		}
		if (store_suppress(s, m, k, T0, NULL) != 0) {
			fprintf(stderr, "bench-store: import: %s\n", store_errmsg(s));
			return 1;
		}
	}
	t = now_s() - t;
	printf("import            %u entries in %.1f s (%.0f entries/s, audited, %d a txn)\n", n, t,
	    n / t, IMPORT_BATCH);
	store_close(s);   /* checkpoints and removes the WAL */
	printf("disk              %lld bytes, %.0f bytes/address (state row + audit entry)\n",
	    file_size(dir, "bounced.db"), (double)file_size(dir, "bounced.db") / n);

	/* 2. The index. */
	s = open_store(path);
	rss0 = rss_kib();
	idx = store_index_new((const unsigned char *)SECRET, strlen(SECRET));
	t = now_s();
	if (store_load_index(s, idx) != 0) {
		fprintf(stderr, "bench-store: load: %s\n", store_errmsg(s));
		return 1;
	}
	t = now_s() - t;
	rss1 = rss_kib();
	printf("index load        %zu entries in %.2f s; %.1f MiB (%.1f bytes/entry), RSS +%.1f MiB\n",
	    store_index_count(idx), t, store_index_bytes(idx) / 1048576.0,
	    (double)store_index_bytes(idx) / (double)store_index_count(idx),
	    (rss1 - rss0) / 1024.0);
	{
		const unsigned lookups = 4000000, pool = 65536;
		char (*q)[64] = g_malloc((size_t)pool * 64);
		size_t *ql = g_new(size_t, pool);
		GRand *rnd = g_rand_new_with_seed(1);
		unsigned hits = 0;
		struct store_verdict v;

		/* Half present, half absent (absent ones miss both address and domain). */
		for (unsigned i = 0; i < pool; i++) {
			unsigned k = (unsigned)g_rand_int_range(rnd, 0, (gint32)n);

			if (i % 2 == 0)
				addr_of(k, q[i], 64);
			else
				g_snprintf(q[i], 64, "other%07u@domain%03u.example", k, k % NDOMAINS);
			ql[i] = strlen(q[i]);
		}
		t = now_s();
		for (unsigned i = 0; i < lookups; i++)
			hits += (unsigned)store_check(idx, q[i & (pool - 1)], ql[i & (pool - 1)], T0,
			    &v) == 1;
		t = now_s() - t;
		printf("index lookups     %.0f/s (%u of %u suppressed; address + domain step)\n",
		    lookups / t, hits, lookups);
		t = now_s();
		hits = 0;
		for (unsigned i = 0; i < lookups; i++) {
			char norm[STORE_ADDR_MAX + 1];
			int len = store_addr_normalize(q[i & (pool - 1)], ql[i & (pool - 1)], norm, NULL);

			hits += (unsigned)store_check(idx, norm, (size_t)len, T0, &v) == 1;
		}
		t = now_s() - t;
		printf("normalise+lookup  %.0f/s\n", lookups / t);

		/* SQLite point lookups (present addresses; an absent one costs two). */
		t = now_s();
		for (unsigned i = 0; i < 200000; i++) {
			struct store_entry en;

			if (store_get(s, q[(i * 2) & (pool - 1)], &en) == 1)
				hits++;
			store_entry_clear(&en);
		}
		t = now_s() - t;
		printf("sqlite lookups    %.0f/s (store_get, present addresses)\n", 200000 / t);
		g_rand_free(rnd);
		g_free(q);
		g_free(ql);
	}
	printf("process RSS       %.1f MiB with the index loaded\n", rss_kib() / 1024.0);

	/* 3. Export. */
	{
		struct export_ctx x = { g_string_sized_new(70000), open("/dev/null", O_WRONLY), 0 };
		struct store_filter f;

		memset(&f, 0, sizeof(f));
		f.reason = -1;
		f.scope = -1;
		t = now_s();
		if (store_list(s, &f, T0, export_cb, &x) != 0) {
			fprintf(stderr, "bench-store: export: %s\n", store_errmsg(s));
			return 1;
		}
		t = now_s() - t;
		printf("export            %lu rows in %.2f s (store_list + CSV formatting)\n", x.rows, t);
		close(x.fd);
		g_string_free(x.out, TRUE);
	}

	/* 4. Durable ingest, group commit, into the big database. */
	printf("ingest (durable, synchronous=FULL, ~2.3 KiB raw each, into the %u-entry db):\n", n);
	printf("  batch   1       %.0f events/s\n", ingest_run(s, 1, 200, 0));
	printf("  batch  10       %.0f events/s\n", ingest_run(s, 10, 2000, 0));
	printf("  batch 100       %.0f events/s\n", ingest_run(s, 100, 10000, 0));
	store_close(s);
	store_index_free(idx);

	/* 5. Re-evaluation of 10,000 stored bounces, on a database of its own. */
	dir2 = g_build_filename(dir, "reeval", NULL);
	g_mkdir_with_parents(dir2, 0700);
	path2 = g_build_filename(dir2, "bounced.db", NULL);
	g_remove(path2);
	s = open_store(path2);
	ingest_run(s, 100, REEVAL_BOUNCES, 0);
	for (int pass = 0; pass < 2; pass++) {
		GPtrArray *diffs = g_ptr_array_new_with_free_func(
		    (GDestroyNotify)(void (*)(void))store_reeval_diff_free);

		if (pass == 0)
			store_set_parser(s, grep_parse, NULL);
		else
			store_set_parser(s, NULL, NULL);   /* report_parse, the real parser */
		t1 = now_s();
		if (store_reevaluate(s, 1, T0, diffs, NULL) != 0) {
			fprintf(stderr, "bench-store: reevaluate: %s\n", store_errmsg(s));
			return 1;
		}
		t1 = now_s() - t1;
		printf("reevaluate        %d bounces in %.2f s, dry run, %s parser (%u would change)\n",
		    REEVAL_BOUNCES, t1, pass == 0 ? "trivial" : "report_parse", diffs->len);
		g_ptr_array_free(diffs, TRUE);
	}
	store_close(s);

	if (dir_opt == NULL) {
		g_remove(path2);
		g_rmdir(dir2);
		g_remove(path);
		g_rmdir(dir);
	}
	g_free(path2);
	g_free(dir2);
	g_free(m);
	g_free(names);
	g_free(path);
	g_free(dir);
	return 0;
}
