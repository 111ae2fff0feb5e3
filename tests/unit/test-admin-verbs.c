/* SPDX-License-Identifier: MIT */
/*
 * test-admin-verbs.c - every row of the admin verb table, driven through
 * the real admin server: a listening Unix socket in a temp directory, a
 * client connected to it (SO_PEERCRED: our uid is allowed), the real writer
 * thread and read-only store on a temp SQLite file holding one stored
 * bounce.  Each case sends one request and compares the whole answer, byte
 * for byte ('*' in a wanted answer matches what depends on the clock).  The
 * last test fails when a verb of the table has no case here.
 */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>

#include "admin-int.h"
#include "admin.h"
#include "build-config.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "metrics.h"
#include "sock.h"
#include "test-store-util.h"

struct fixture {
	char *dir;
	struct daemon d;
	int client;
};

static void
apply(const GArray *changes, void *ud)
{
	struct daemon *d = ud;

	g_assert_cmpint(store_index_apply(d->idx, changes), ==, 0);
}

/* A store with one hard bounce of hard@example.com, received at T0. */
static void
seed(const char *dir, const struct store_policy *pol)
{
	struct store *s = tu_open(dir, pol, 0);
	struct report *r = tu_report();

	tu_add(r, "hard@example.com", REPORT_CLASS_HARD, REPORT_SCOPE_ADDRESS,
	    REPORT_REASON_USERUNKNOWN, "5.1.1", "550 5.1.1 no such user");
	tu_ingest(s, r, "seed", T0, NULL);
	report_free(r);
	store_close(s);
}

/* A listening Unix socket at path (the servers take it over). */
static int
listen_on(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	g_assert_cmpint(listen(fd, 8), ==, 0);
	return fd;
}

static void
fixture_up(struct fixture *f)
{
	struct daemon *d = &f->d;
	struct store_config sc = { 0 };
	char err[512], *path;

	f->dir = tu_mkdir();
	d->cfg = cfg_default_dir(f->dir, err);
	g_assert_nonnull(d->cfg);
	seed(f->dir, &d->cfg->policy);
	d->base = event_base_new();
	d->started = time(NULL);
	d->metrics = metrics_new();
	d->idx = store_index_new((const unsigned char *)TEST_SECRET, strlen(TEST_SECRET));
	path = g_build_filename(f->dir, "bounced.db", NULL);
	sc.path = path;
	sc.secret = (const unsigned char *)TEST_SECRET;
	sc.secret_len = strlen(TEST_SECRET);
	sc.busy_timeout_ms = 2000;
	d->writer = writer_new(d->base, &sc, &d->cfg->policy, 16, apply, d, err);
	g_assert_nonnull(d->writer);
	sc.readonly = 1;
	d->ro = store_open(&sc, &d->cfg->policy, err);
	g_assert_nonnull(d->ro);
	g_assert_cmpint(store_load_index(d->ro, d->idx), ==, 0);
	d->qctx.idx = d->idx;
	g_free(path);

	path = g_build_filename(f->dir, "admin.sock", NULL);
	d->admin = admin_server_new(d, listen_on(path));
	g_assert_nonnull(d->admin);
	f->client = sock_connect_unix(path);
	g_assert_cmpint(f->client, >=, 0);
	g_free(path);
}

static void
fixture_down(struct fixture *f)
{
	struct daemon *d = &f->d;

	close(f->client);
	lmtp_server_free(d->lmtp);
	admin_server_free(d->admin);
	writer_free(d->writer);
	store_close(d->ro);
	store_index_free(d->idx);
	metrics_free(d->metrics);
	event_base_free(d->base);
	cfg_free(d->cfg);
	tu_rmdir(f->dir);
}

/*
 * An answer is complete at its "OK"/"ERR" line; after "OK bytes=N" the N
 * bytes and a LF follow.  Returns 1 when buf holds a complete answer.
 */
static int
answer_complete(const GString *buf)
{
	const char *line = buf->str, *end;

	while ((end = memchr(line, '\n', buf->len - (size_t)(line - buf->str))) != NULL) {
		if (strncmp(line, "OK", 2) == 0 || strncmp(line, "ERR", 3) == 0) {
			size_t n;

			if (sscanf(line, "OK bytes=%zu", &n) == 1)
				return buf->len - (size_t)(end + 1 - buf->str) >= n + 1;
			return 1;
		}
		line = end + 1;
	}
	return 0;
}

/* An LMTP reply is complete at a line "NNN text" (not "NNN-text"). */
static int
lmtp_complete(const GString *buf)
{
	const char *line = buf->str, *end;

	while ((end = memchr(line, '\n', buf->len - (size_t)(line - buf->str))) != NULL) {
		if (end - line >= 4 && line[3] == ' ')
			return 1;
		line = end + 1;
	}
	return 0;
}

/* Sends request (a line end added; NULL: nothing) on fd, runs the loop until complete(answer). */
static GString *
exchange(struct fixture *f, int fd, const char *request, int (*complete)(const GString *))
{
	GString *buf = g_string_new(NULL);
	gint64 give_up = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	if (request != NULL) {
		GString *req = g_string_new(request);

		g_string_append(req, complete == lmtp_complete ? "\r\n" : "\n");
		g_assert_cmpint(write(fd, req->str, req->len), ==, (ssize_t)req->len);
		g_string_free(req, TRUE);
	}
	while (!complete(buf)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[4096];

		event_base_loop(f->d.base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 5) == 1) {
			ssize_t n = read(fd, chunk, sizeof(chunk));

			if (n <= 0)
				break;
			g_string_append_len(buf, chunk, n);
		}
		/* a hang guard, not a timing test: the answer never came */
		if (g_get_monotonic_time() > give_up)
			g_error("no answer to %s; got \"%s\"", request, buf->str);
	}
	return buf;
}

static GString *
ask(struct fixture *f, const char *request)
{
	return exchange(f, f->client, request, answer_complete);
}

static void
expect(struct fixture *f, const char *request, const char *want)
{
	GString *got = ask(f, request);

	if (strchr(want, '*') != NULL ? !g_pattern_match_simple(want, got->str) :
	    strcmp(want, got->str) != 0)
		g_error("%s:\ngot  \"%s\"\nwant \"%s\"", request, got->str, want);
	g_string_free(got, TRUE);
}

#define SEEN "2023-11-14T22:13:20Z"     /* T0 */
#define ENTRY_HARD "address=hard@example.com cause=hard reason=userunknown status=5.1.1 " \
	"since=" SEEN " until=never source=lmtp updated=" SEEN " soft_count=0 last_delivered=- " \
	"scope=address rule=hard-at-once"

/* One request and its whole answer, in the order they run. */
static const struct {
	const char *request;
	const char *want;
} cases[] = {
	{ "PING", "OK version=1 daemon=" BOUNCED_VERSION "\n" },
	{ "ping", "OK version=1 daemon=" BOUNCED_VERSION "\n" },
	{ "PING x=1", "ERR usage unknown argument x\n" },
	{ "PING x=%zz", "ERR usage bad %XX encoding or NUL in x\n" },
	{ "PING x=a%00", "ERR usage bad %XX encoding or NUL in x\n" },
	{ "CHECK address=Hard@Example.com",
	  "+ address=hard@example.com state=suppressed cause=hard reason=userunknown since=" SEEN
	  " until=never entry=address\nOK\n" },
	{ "CHECK address=other@example.com", "+ address=other@example.com state=ok\nOK\n" },
	{ "CHECK address=@example.com", "ERR invalid a domain, not an address\n" },
	{ "CHECK", "ERR usage CHECK address=A\n" },
	{ "LIST", "+ " ENTRY_HARD "\nOK count=1\n" },
	{ "LIST limit=1", "+ " ENTRY_HARD "\nOK count=1 next=hard@example.com\n" },
	{ "LIST limit=0", "ERR invalid bad filter value\n" },
	{ "LIST cause=soft", "OK count=0\n" },
	{ "EXPORT", "+ " ENTRY_HARD "\nOK count=1\n" },
	{ "EXPORT limit=1", "ERR usage EXPORT takes no limit or after (use LIST)\n" },
	{ "SHOW address=hard@example.com",
	  "+ type=entry " ENTRY_HARD "\n+ type=event id=1 bounce=1 at=" SEEN " class=hard "
	  "reason=userunknown scope=address status=5.1.1 replycode=- action=failed "
	  "diagnostic=550%205.1.1%20no%20such%20user *\nOK events=1 audit=0\n" },
	{ "SHOW address=nobody@example.com", "ERR notfound nobody@example.com is not known\n" },
	{ "SHOW address=x@example.com events=1d", "ERR invalid events\n" },
	{ "RAW bounce=1", "OK bytes=44\nFrom: MAILER-DAEMON\r\nSubject: seed\r\n\r\nbody\r\n\n" },
	{ "RAW bounce=99", "ERR notfound bounce 99 is not stored (unknown, purged or erased)\n" },
	{ "RAW", "ERR usage RAW bounce=ID\n" },
	{ "STATS from=" SEEN,
	  "+ type=daemon uptime=* version=" BOUNCED_VERSION " index_entries=1 index_bytes=* store_writable=1\n"
	  "+ type=daemon lmtp_sessions=0 bounces=0 bounces_failed=0 duplicates=0\n"
	  "+ type=daemon commits=0 committed_bounces=0 commit_failures=0 max_batch=0 "
	  "writer_pending=0\n"
	  "+ type=daemon queries=0 queries_suppressed=0 query_errors=0 query_connections=0\n"
	  "+ type=daemon socketmap_requests=0 socketmap_found=0 socketmap_connections=0\n"
	  "+ type=total from=1700000000 to=* bounces=1 events=1\n"
	  "+ type=class name=hard n=1\n+ type=reason name=userunknown n=1\n"
	  "+ type=scope name=address n=1\n"
	  "+ type=suppressed name=hard n=1\n+ type=suppressed name=complaint n=0\n"
	  "+ type=suppressed name=soft n=0\n+ type=suppressed name=manual n=0\n"
	  "+ type=suppressed name=import n=0\n"
	  "+ type=domain name=example.com n=1\nOK\n" },
	{ "STATS domains=0", "ERR invalid from, to or domains\n" },
	{ "METRICS", "OK bytes=*\n# HELP *bounced_index_entries 1\n*\n" },
	{ "INCIDENTS all=1", "OK count=0\n" },
	{ "ALERTS", "OK count=0\n" },
	{ "ALERTS limit=0", "ERR usage limit takes a number from 1 to 1000\n" },
	{ "SUPPRESS target=Manual@Example.com reason=policyviolation note=by%20hand",
	  "OK changed=1\n" },
	{ "SUPPRESS target=x@example.com cause=bogus", "ERR invalid unknown%20cause\n" },
	{ "CHECK address=manual@example.com",
	  "+ address=manual@example.com state=suppressed cause=manual reason=policyviolation since=* "
	  "until=never entry=address\nOK\n" },
	{ "AUDIT target=manual@example.com",
	  "+ type=audit id=1 at=* actor=uid%3D*%20(*) action=suppress target=manual@example.com "
	  "cause=manual reason=policyviolation status=- since=* until=never note=by%20hand\nOK count=1\n" },
	{ "AUDIT limit=1",
	  "+ type=audit id=1 at=* action=suppress target=manual@example.com *\nOK count=1 next=1\n" },
	{ "UNSUPPRESS target=manual@example.com", "OK lifted=1\n" },
	{ "UNSUPPRESS target=manual@example.com", "OK lifted=0\n" },
	{ "CHECK address=manual@example.com", "+ address=manual@example.com state=ok\nOK\n" },
	{ "UNSUPPRESS", "ERR usage UNSUPPRESS target=A|@D [note=TEXT]\n" },
	/* the seed's raw message is no bounce: parsed again, it would lift the entry */
	{ "REEVALUATE dry_run=1", "+ address=hard@example.com before=hard/userunknown "
	  "after=none/undefined\nOK changed=1 dry_run=1\n" },
	/* the seed was received in 2023: its raw message is past raw_retention */
	{ "PURGE", "OK purged=1\n" },
	{ "RAW bounce=1", "ERR notfound bounce 1 is not stored (unknown, purged or erased)\n" },
	{ "FORGET address=@example.com", "ERR invalid FORGET takes an address\n" },
	{ "FORGET address=hard@example.com",
	  "OK forgotten=1 events=1 bounces=1 audit=0 kept_suppressed=1 bounces_redacted=0\n" },
	/* forgotten, but still suppressed (kept under its keyed hash) */
	{ "CHECK address=hard@example.com",
	  "+ address=hard@example.com state=suppressed cause=hard reason=userunknown since=" SEEN
	  " until=never entry=address\nOK\n" },
	{ "SHOW address=hard@example.com",
	  "+ type=entry address=hmac:* cause=hard *\n+ type=audit id=4 at=* action=forget "
	  "target=hmac:* note=-\nOK events=0 audit=1\n" },
	{ "IMPORT source=unit", "OK send\n" },
	{ "+ target=imported@example.com reason=policyviolation", "" },
	{ "+ nokey", "" },
	{ ".", "+ error line=2 text=arguments%20are%20key%3Dvalue\nOK imported=1 errors=1\n" },
	{ "CHECK address=imported@example.com",
	  "+ address=imported@example.com state=suppressed cause=import reason=policyviolation since=* "
	  "until=never entry=address\nOK\n" },
	{ "a=b", "ERR usage unknown command a%3Db\n" },
	{ "NOPE", "ERR usage unknown command NOPE\n" },
	{ "QUIT now=1", "OK bye\n" },
};

static void
test_every_verb(void)
{
	struct fixture f = { 0 };
	char reply[64];
	ssize_t n;

	fixture_up(&f);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		if (cases[i].want[0] == '\0') {
			/* an IMPORT line: answered only when bad, at the "." */
			g_assert_cmpint(write(f.client, cases[i].request, strlen(cases[i].request)), >, 0);
			g_assert_cmpint(write(f.client, "\n", 1), ==, 1);
			continue;
		}
		expect(&f, cases[i].request, cases[i].want);
	}
	/* after QUIT the daemon closes the connection */
	event_base_loop(f.d.base, EVLOOP_NONBLOCK);
	n = read(f.client, reply, sizeof(reply));
	g_assert_cmpint(n, ==, 0);
	fixture_down(&f);
}

/* What the table says a verb needs: without it, the verb is refused. */
static void
test_needs(void)
{
	struct fixture f = { 0 };
	struct writer *w;
	struct store *ro;

	fixture_up(&f);
	ro = f.d.ro;
	f.d.ro = NULL;
	expect(&f, "LIST", ADMIN_ERR_UNAVAILABLE "\n");
	expect(&f, "SHOW address=a@example.com", ADMIN_ERR_UNAVAILABLE "\n");
	expect(&f, "PING", "OK version=1 daemon=" BOUNCED_VERSION "\n");
	f.d.ro = ro;
	f.d.qctx.idx = NULL;
	expect(&f, "CHECK address=a@example.com", ADMIN_ERR_UNAVAILABLE "\n");
	f.d.qctx.idx = f.d.idx;
	w = f.d.writer;
	f.d.writer = NULL;
	expect(&f, "SUPPRESS target=a@example.com", ADMIN_ERR_UNAVAILABLE "\n");
	/* IMPORT is refused before its "OK send", not after the lines came */
	expect(&f, "IMPORT", ADMIN_ERR_UNAVAILABLE "\n");
	expect(&f, "CHECK address=a@example.com", "+ address=a@example.com state=ok\nOK\n");
	f.d.writer = w;
	f.d.stopping = 1;
	expect(&f, "PING", "ERR shutdown bounced is stopping\n");
	expect(&f, "NOPE", "ERR shutdown bounced is stopping\n");
	expect(&f, "QUIT", "OK bye\n");
	fixture_down(&f);
}

/*
 * A bounce that arrives while the store cannot be opened is answered 451
 * and counted once, where STATS and METRICS both read it (they used to keep
 * two sets of counters, and this path bumped only one).
 */
static void
test_unavailable_counted(void)
{
	static const char *const dialogue[][2] = {
		{ "LHLO test.example", "250-*250 *" },
		{ "MAIL FROM:<>", "250 *" },
		{ "RCPT TO:<bounces@sender.example>", "250 *" },
		{ "DATA", "354 *" },
		{ "Subject: bounce\r\n\r\nbody\r\n.", "451 4.3.0 *" },
		{ "QUIT", "221 *" },
	};
	struct fixture f = { 0 };
	struct writer *w;
	char *path;
	int fd;
	GString *got;

	fixture_up(&f);
	path = g_build_filename(f.dir, "lmtp.sock", NULL);
	f.d.lmtp = lmtp_server_new(&f.d, listen_on(path));
	g_assert_nonnull(f.d.lmtp);
	fd = sock_connect_unix(path);
	g_assert_cmpint(fd, >=, 0);
	got = exchange(&f, fd, NULL, lmtp_complete);       /* the greeting */
	g_assert_true(g_str_has_prefix(got->str, "220 "));
	g_string_free(got, TRUE);
	w = f.d.writer;
	f.d.writer = NULL;      /* as main.c has it until the store opens */
	for (size_t i = 0; i < G_N_ELEMENTS(dialogue); i++) {
		got = exchange(&f, fd, dialogue[i][0], lmtp_complete);
		if (!g_pattern_match_simple(dialogue[i][1], got->str))
			g_error("%s: got \"%s\" want \"%s\"", dialogue[i][0], got->str, dialogue[i][1]);
		g_string_free(got, TRUE);
	}
	close(fd);
	f.d.writer = w;
	expect(&f, "STATS", "*\n+ type=daemon lmtp_sessions=* bounces=1 bounces_failed=1 "
	    "duplicates=0\n*");
	expect(&f, "METRICS", "OK bytes=*\nbounced_lmtp_messages_total{result=\"failed\"} 1\n"
	    "*\nbounced_lmtp_tempfail_total{reason=\"store\"} 1\n*");
	g_free(path);
	fixture_down(&f);
}

/* Every verb of the table has a case above (a new verb needs its test). */
static void
test_table_covered(void)
{
	for (const struct admin_verb *v = admin_verbs; v->name != NULL; v++) {
		size_t len = strlen(v->name), i;

		g_assert_nonnull(v->run);
		for (i = 0; i < G_N_ELEMENTS(cases); i++)
			if (g_ascii_strncasecmp(cases[i].request, v->name, len) == 0 &&
			    (cases[i].request[len] == '\0' || cases[i].request[len] == ' '))
				break;
		if (i == G_N_ELEMENTS(cases))
			g_error("verb %s has no case in test-admin-verbs.c", v->name);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/admin-verbs/every-verb", test_every_verb);
	g_test_add_func("/admin-verbs/needs", test_needs);
	g_test_add_func("/admin-verbs/table-covered", test_table_covered);
	g_test_add_func("/admin-verbs/unavailable-counted", test_unavailable_counted);
	return g_test_run();
}
