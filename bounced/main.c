/* SPDX-License-Identifier: MIT */
/*
 * main.c - bounced's entry point: command line, startup, signals, shutdown.
 *
 * Startup order matters:
 *   1. load and validate the config (nothing else happens if it is wrong);
 *   2. as root: create the sockets with their owner/group/mode (or take them
 *      from systemd), create the state directory for the user, then drop to
 *      the configured user and group for good;
 *   3. as that user: read or create the HMAC secret, open the store
 *      read-write (the writer thread's) and read-only (the loop's), load the
 *      index, start the writer and the servers, tell systemd READY=1.
 *      A store that cannot be opened (state directory missing or not
 *      accessible, file unreadable) does not stop the daemon: LMTP answers
 *      451 (the writer retries its open), queries answer ERR / TEMP, and the
 *      reader's open is retried every second (main_reader_check) until it
 *      works.  The same check reopens the reader, and loads the index on top
 *      of what is known, when the database file is deleted or replaced.
 * Signals go through evsignal: SIGHUP re-reads the config file and applies
 * the log level and the policy; SIGTERM/SIGINT stop accepting, let LMTP
 * transactions in progress finish with their commits and replies, then
 * exit (after SHUTDOWN_GRACE at most).  SIGPIPE is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "admin.h"
#include "alert.h"
#include "build-config.h"
#include "config.h"
#include "daemon.h"
#include "lmtp-server.h"
#include "log.h"
#include "logsrc.h"
#include "metrics.h"
#include "query.h"
#include "snapshot.h"
#include "sock.h"
#include "socketmap.h"
#include "store.h"
#include "writer.h"

#define SECRET_BYTES     32
#define SECRET_MAX       1024
#define SHUTDOWN_GRACE   25              /* seconds (systemd's TimeoutStopSec is 30) */
#define PURGE_INTERVAL   (6 * 3600)      /* raw bounce retention runs this often */
#define EX_CONFIG_ERR    78              /* sysexits.h EX_CONFIG */
#define READER_CHECK     1               /* seconds: retry or check the read-only store */
#define MAIN_NSOCKETS    5               /* lmtp, query, socketmap, admin, policy_service */

/* One process's state beyond struct daemon. */
struct main_ctx {
	struct daemon d;
	struct event *sig_term, *sig_int, *sig_hup, *shutdown_tick, *purge_timer, *reader_timer;
	struct store_config rsc;        /* the read-only store's (path in the config) */
	int reader_failing;             /* logged the reader's failure already */
	int probing;                    /* a writer probe job is queued */
	gint64 shutdown_deadline;
	unsigned char secret[SECRET_MAX];
	size_t secret_len;
	char *created_sockets[MAIN_NSOCKETS]; /* unlinked at exit (not systemd's) */
};

/* A policy change for the writer's store (SIGHUP). */
struct main_policy_job {
	struct writer_job job;
	struct config *old;             /* freed once the writer uses the new one */
};

struct main_purge_job {
	struct writer_job job;
	int64_t purged;
};

static void usage(FILE *fp);
static int main_secret(struct main_ctx *m, const char *path, char err[256]);
static int main_rotate_key(const struct config *cfg, int64_t overlap);
static void main_trust_ctx(struct daemon *d);
static int main_sockets(struct main_ctx *m, uid_t uid, gid_t gid);
static int main_in_group(gid_t gid);
static int main_drop_privileges(const struct config *cfg, uid_t *uid_r, gid_t *gid_r);
static void main_on_signal(evutil_socket_t sig, short what, void *arg);
static void main_reload(struct main_ctx *m);
static void main_shutdown(struct main_ctx *m);
static void main_shutdown_tick(evutil_socket_t fd, short what, void *arg);
static void main_purge(evutil_socket_t fd, short what, void *arg);
static void main_on_commit(unsigned bounces, unsigned failed, int64_t usec, void *ud);
static int main_state(struct main_ctx *m, char err[512]);
static int main_reader(struct main_ctx *m, char err[512]);
static void main_reader_check(evutil_socket_t fd, short what, void *arg);
static int main_probe_fn(struct store *s, void *arg, time_t now, GArray *changes,
    char err[256]);
static void main_probe_done(struct writer_job *job);

void
daemon_apply_changes(const GArray *changes, void *ud)
{
	struct daemon *d = ud;

	metrics_changes(d->metrics, changes);
	if (store_index_apply(d->idx, changes) < 0)
		log_error("event=index_apply_failed changes=%u", changes->len);
}

/*
 * The writer's commit durations go to the metrics (writer_commit_fn), and a
 * commit of bounces may have opened an incident: the alerts look now.
 */
static void
main_on_commit(unsigned bounces, unsigned failed, int64_t usec, void *ud)
{
	struct daemon *d = ud;

	metrics_commit(d->metrics, bounces, failed, usec);
	if (bounces > failed)
		alerts_kick(d->alerts);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bounced --config FILE [--check-config]\n"
	    "       bounced --dir DIR [--check-config]\n"
	    "       bounced --version\n"
	    "\n"
	    "  -c, --config FILE   run with this configuration (see config.example.yaml)\n"
	    "  -d, --dir DIR       run with the built-in defaults: database, secret and\n"
	    "                      sockets (lmtp.sock, query.sock, socketmap.sock, policy.sock,\n"
	    "                      admin.sock) under DIR; every bounce counts there\n"
	    "                      (trust.mode any: nothing signs a development run)\n"
	    "  -t, --check-config  validate the configuration and exit (0: valid)\n"
	    "  -R, --rotate-key    add a new signing key to trust.keys_file and exit; the\n"
	    "                      previous key stays valid for --overlap DURATION\n"
	    "                      (default trust.validity; 0: refused at once). Then\n"
	    "                      send bounced a HUP (doc/security.md)\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "bounced runs in the foreground and logs to stderr unless log.to is syslog.\n"
	    "Signals: HUP re-reads the policy and the log level; TERM or INT stop it\n"
	    "after the LMTP transactions in progress.\n");
}

/* bounced --rotate-key: the key file stays the daemon user's.  Exit status. */
static int
main_rotate_key(const struct config *cfg, int64_t overlap)
{
	char err[256];
	struct passwd *pw = NULL;

	if (trust_keys_rotate(cfg->trust.keys_file, time(NULL), overlap, err) < 0) {
		fprintf(stderr, "bounced: %s\n", err);
		return 1;
	}
	if (geteuid() == 0 && cfg->user != NULL && (pw = getpwnam(cfg->user)) != NULL &&
	    chown(cfg->trust.keys_file, pw->pw_uid, pw->pw_gid) < 0) {
		fprintf(stderr, "bounced: chown %s: %s\n", cfg->trust.keys_file, g_strerror(errno));
		return 1;
	}
	printf("bounced: %s: new signing key added; the previous one is accepted for %" G_GINT64_FORMAT
	    " more seconds. Send bounced a HUP to use it.\n", cfg->trust.keys_file, overlap);
	return 0;
}

/* The socketmap's view of the trust settings (startup, SIGHUP). */
static void
main_trust_ctx(struct daemon *d)
{
	d->sctx.sign_name = d->cfg->trust.sign_name;
	d->sctx.sign_domains = (const char *const *)d->cfg->trust.domains;
	d->sctx.nsign_domains = d->cfg->trust.ndomains;
	d->sctx.keys = d->keys.n > 0 ? &d->keys : NULL;
	if (d->cfg->trust.mode == TRUST_MODE_ANY)
		log_warnx("event=trust_any effect=\"every bounce counts, forged ones too: for a "
		    "migration or a development run (--dir) only\" hint=\"configure the signing "
		    "(doc/postfix.md) and set trust.mode: signed\"");
	else if (d->cfg->trust.ndomains == 0)
		log_warnx("event=trust_no_domains mode=%s effect=\"nothing is signed: bounces will be "
		    "stored as untrusted\" hint=\"set trust.domains to the bounce domain\"",
		    trust_mode_name((enum trust_mode)d->cfg->trust.mode));
}

/* Reads the HMAC secret, or creates it (0600, random) when missing. */
static int
main_secret(struct main_ctx *m, const char *path, char err[256])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		unsigned char buf[SECRET_BYTES];
		gchar *dir = g_path_get_dirname(path);

		g_mkdir_with_parents(dir, 0750);
		g_free(dir);
		if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
			snprintf(err, 256, "getrandom: %s", strerror(errno));
			return -1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0) {
			snprintf(err, 256, "%s: cannot create: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		log_info("event=secret_created path=%s", path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) {
		snprintf(err, 256, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_warnx("event=secret_permissions path=%s mode=%04o hint=\"chmod 600\"", path,
		    (unsigned)(st.st_mode & 07777));
	n = read(fd, m->secret, sizeof(m->secret));
	close(fd);
	if (n < 16) {
		snprintf(err, 256, "%s: too short (want at least 16 bytes)", path);
		return -1;
	}
	m->secret_len = (size_t)n;
	return 0;
}

/* 1 when the process may give files group gid (its group or a supplementary one). */
static int
main_in_group(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(G_N_ELEMENTS(groups), groups);

	if (getegid() == gid)
		return 1;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* Creates (or takes from systemd) the four listening sockets. */
static int
main_sockets(struct main_ctx *m, uid_t uid, gid_t gid)
{
	struct daemon *d = &m->d;
	struct config *c = d->cfg;
	struct cfg_socket *socks[MAIN_NSOCKETS] = { &c->lmtp.sock, &c->query.sock,
	    &c->socketmap.sock, &c->admin.sock, &c->policy_service.sock };
	static const char *const names[MAIN_NSOCKETS] = { "lmtp", "query", "socketmap", "admin",
	    "policy_service" };
	struct sock_listener *ls[MAIN_NSOCKETS];
	gid_t sgids[MAIN_NSOCKETS];
	int fds[MAIN_NSOCKETS];

	for (size_t i = 0; i < MAIN_NSOCKETS; i++) {
		const struct cfg_socket *cs = socks[i];
		gid_t sgid = gid;
		char err[256];

		fds[i] = sock_from_systemd(cs->path);
		if (fds[i] >= 0) {
			log_info("event=socket socket=%s path=%s from=systemd", names[i], cs->path);
			continue;
		}
		if (cs->group != NULL) {
			struct group *gr = getgrnam(cs->group);

			if (gr != NULL && !cs->group_explicit && geteuid() != 0 && !main_in_group(gr->gr_gid)) {
				/* the default group of an unprivileged run: nothing to do about it */
				log_warnx("event=socket socket=%s warning=\"not in group %s: the socket keeps "
				    "the daemon's group\"", names[i], cs->group);
			} else if (gr != NULL) {
				sgid = gr->gr_gid;
			} else if (cs->group_explicit) {
				log_error("event=startup_failed socket=%s error=\"no such group %s (%s.group)\"",
				    names[i], cs->group, names[i]);
				return -1;
			} else {
				log_warnx("event=socket socket=%s warning=\"group %s does not exist (is "
				    "Postfix installed?): the socket keeps the daemon's group, so Postfix, "
				    "which connects in group %s, cannot deliver to it; harmless for a "
				    "development run fed by hand\"", names[i], cs->group, cs->group);
			}
		}
		sgids[i] = sgid;
		fds[i] = sock_listen_unix(cs, uid, sgid, err);
		if (fds[i] < 0 && cs == &c->policy_service.sock) {
			/* optional: without it Postfix applies its default_action (the guide: DUNNO) */
			log_error("event=socket_unavailable socket=%s error=\"%s\" effect=\"Postfix cannot "
			    "ask the policy service: its default_action applies\"", names[i], err);
			continue;
		}
		if (fds[i] < 0) {
			log_error("event=startup_failed socket=%s error=\"%s\"", names[i], err);
			return -1;
		}
		m->created_sockets[i] = g_strdup(cs->path);
		log_info("event=socket socket=%s path=%s mode=%04o", names[i], cs->path,
		    (unsigned)cs->mode);
		if (!sock_reachable(cs->path, err))
			log_warnx("event=socket socket=%s path=%s warning=\"directory %s is not "
			    "searchable by the clients the socket's mode lets in: they cannot connect\"",
			    names[i], cs->path, err);
	}
	sock_activation_done();

	d->lmtp = lmtp_server_new(d, fds[0]);
	d->query = query_server_new(d->base, fds[1], "query", c->query.sock.max_connections,
	    c->query.sock.idle_timeout, query_engine, &d->qctx, "ERR too many connections\n");
	d->smap = query_server_new(d->base, fds[2], "socketmap", c->socketmap.sock.max_connections,
	    c->socketmap.sock.idle_timeout, smap_engine, &d->sctx,
	    "22:TEMP too many connections,");
	d->admin = admin_server_new(d, fds[3]);
	if (fds[4] >= 0)
		d->policy = query_server_new(d->base, fds[4], "policy",
		    c->policy_service.sock.max_connections, c->policy_service.sock.idle_timeout,
		    policy_engine, &d->pctx,
		    "action=DEFER_IF_PERMIT 4.3.2 bounced: too many connections\n\n");
	if (d->lmtp == NULL || d->query == NULL || d->smap == NULL || d->admin == NULL ||
	    (fds[4] >= 0 && d->policy == NULL)) {
		log_error("event=startup_failed error=\"cannot listen\"");
		return -1;
	}
	/* the sockets we created are made again if their files disappear */
	ls[0] = lmtp_server_listener(d->lmtp);
	ls[1] = query_server_listener(d->query);
	ls[2] = query_server_listener(d->smap);
	ls[3] = admin_server_listener(d->admin);
	ls[4] = d->policy != NULL ? query_server_listener(d->policy) : NULL;
	for (size_t i = 0; i < MAIN_NSOCKETS; i++)
		if (m->created_sockets[i] != NULL && sock_listener_watch(ls[i], socks[i], uid,
		    sgids[i]) < 0)
			log_warn("event=socket socket=%s warning=\"cannot watch %s\"", names[i],
			    socks[i]->path);
	return 0;
}

/* Resolves user/group (root only). 1: will drop, 0: stays, -1: error. */
static int
main_drop_privileges(const struct config *cfg, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	if (cfg->user == NULL) {
		log_warnx("event=startup warning=\"running as root: no user: in the config, so the "
		    "daemon keeps root while it parses mail from strangers, and its files belong to "
		    "root; fine for a development run, in production set user: bounced to drop to "
		    "that user after creating the sockets\"");
		return 0;
	}
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		log_error("event=startup_failed error=\"no such user %s (user)\"", cfg->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_warnx("event=startup warning=\"user: %s is root: privileges are not dropped\"",
		    cfg->user);
		return 0;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (cfg->group != NULL) {
		struct group *gr = getgrnam(cfg->group);

		if (gr == NULL) {
			log_error("event=startup_failed error=\"no such group %s (group)\"", cfg->group);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 't' },
		{ "rotate-key", no_argument, NULL, 'R' },
		{ "overlap", required_argument, NULL, 'O' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct main_ctx *m;
	struct daemon *d;
	const char *config_file = NULL, *dir = NULL;
	int check = 0, rotate = 0, opt, drop;
	int64_t overlap = -1;
	char err[512];
	uid_t uid;
	gid_t gid;
	struct store_config sc;
	struct rlimit rl;
	uint64_t stored, duplicates, failed;
	struct timeval purge_tv = { PURGE_INTERVAL, 0 }, reader_tv = { READER_CHECK, 0 };

	while ((opt = getopt_long(argc, argv, "c:d:tRO:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_file = optarg; break;
		case 'd': dir = optarg; break;
		case 't': check = 1; break;
		case 'R': rotate = 1; break;
		case 'O':
			if (!cfg_parse_duration(optarg, 0, &overlap)) {
				fprintf(stderr, "bounced: --overlap: \"%s\" is not a duration\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("bounced %s\n", BOUNCED_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (config_file == NULL) == (dir == NULL)) {
		usage(stderr);
		return 2;
	}

	m = g_new0(struct main_ctx, 1);
	d = &m->d;
	d->cfg = config_file != NULL ? cfg_load(config_file, NULL, err) : cfg_default_dir(dir, err);
	if (d->cfg == NULL) {
		fprintf(stderr, "bounced: %s\n", err);
		g_free(m);
		return EX_CONFIG_ERR;
	}
	if (check && cfg_check_system(d->cfg, err) < 0) {
		fprintf(stderr, "bounced: %s\n", err);
		cfg_free(d->cfg);
		g_free(m);
		return EX_CONFIG_ERR;
	}
	if (check) {
		printf("bounced: %s: configuration ok\n", config_file ? config_file : dir);
		cfg_free(d->cfg);
		g_free(m);
		return 0;
	}
	if (rotate) {
		int rc = main_rotate_key(d->cfg, overlap >= 0 ? overlap : d->cfg->trust.validity);

		cfg_free(d->cfg);
		g_free(m);
		return rc;
	}
	log_init("bounced", d->cfg->log_to_syslog, d->cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (d->cfg->lmtp.hostname != NULL)
		g_strlcpy(d->hostname, d->cfg->lmtp.hostname, sizeof(d->hostname));
	else if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0 || d->hostname[0] == '\0')
		g_strlcpy(d->hostname, "localhost", sizeof(d->hostname));

	d->base = event_base_new();
	if (d->base == NULL)
		fatalx("event=startup_failed error=\"event_base_new\"");
	d->started = time(NULL);
	d->metrics = metrics_new();

	/* 2. sockets and privileges */
	drop = main_drop_privileges(d->cfg, &uid, &gid);
	if (drop < 0)
		exit(1);	/* logged; exit keeps main's state reachable */
	if (drop) {
		gchar *sdir = g_path_get_dirname(d->cfg->store.path);
		struct stat st;

		if (stat(sdir, &st) < 0 && errno == ENOENT) {
			if (g_mkdir_with_parents(sdir, 0750) < 0 || chown(sdir, uid, gid) < 0)
				fatal("event=startup_failed path=%s error=\"cannot create the state "
				    "directory\"", sdir);
		}
		g_free(sdir);
	}
	/* the query/socketmap contexts must exist before their servers */
	d->qctx.idx = NULL;
	d->sctx.name = d->cfg->socketmap.name;
	d->sctx.transport_name = d->cfg->socketmap.transport_name;
	d->sctx.delimiters = d->cfg->socketmap.recipient_delimiter ?
	    d->cfg->socketmap.recipient_delimiter : "";
	main_trust_ctx(d);
	d->pctx.delimiters = d->sctx.delimiters;
	d->pctx.fail_closed = d->cfg->policy_service.fail_closed;
	if (main_sockets(m, drop ? uid : (uid_t)-1, (gid_t)-1) < 0)
		exit(1);	/* logged; exit keeps main's state reachable */
	if (d->cfg->metrics.http != NULL) {
		/* before the drop, like the sockets: any port the config names */
		d->metrics_http = metrics_http_new(d->base, d->cfg->metrics.http_host,
		    d->cfg->metrics.http_port, d->cfg->metrics.http, d->metrics, snapshot_collect_cb, d,
		    err);
		if (d->metrics_http == NULL)
			fatalx("event=startup_failed error=\"%s\"", err);
		log_info("event=metrics_http listen=%s:%u path=/metrics", d->cfg->metrics.http_host,
		    d->cfg->metrics.http_port);
	}
	if (drop) {
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			fatal("event=startup_failed error=\"cannot drop privileges to %s\"", d->cfg->user);
		if (setuid(0) == 0)
			fatalx("event=startup_failed error=\"could regain root after dropping it\"");
		log_info("event=privileges_dropped user=%s uid=%d gid=%d", d->cfg->user, (int)uid,
		    (int)gid);
	}

	/* 3. state */
	g_mime_init();
	report_limits_default(&d->rlim);
	d->rlim.max_bytes = d->cfg->lmtp.keep_bytes;
	memset(&sc, 0, sizeof(sc));
	sc.path = d->cfg->store.path;
	sc.secret = m->secret;
	sc.busy_timeout_ms = d->cfg->store.busy_timeout_ms;
	sc.cache_kib = d->cfg->store.cache_kib;
	m->rsc = sc;
	if (main_state(m, err) < 0) {
		log_error("event=store_unavailable store=%s error=\"%s\" effect=\"LMTP answers 451, "
		    "queries ERR, until it opens (retried every second)\"", sc.path, err);
		m->reader_failing = 1;
	}
	m->reader_timer = event_new(d->base, -1, EV_PERSIST, main_reader_check, m);
	event_add(m->reader_timer, &reader_tv);
	d->alerts = alerts_new(d, err);
	if (d->alerts == NULL)
		fatalx("event=startup_failed error=\"%s\"", err);
	/* Postfix's log: read once the store is open (it holds the position) */
	d->logsrc = logsrc_new(d);

	m->sig_term = evsignal_new(d->base, SIGTERM, main_on_signal, m);
	m->sig_int = evsignal_new(d->base, SIGINT, main_on_signal, m);
	m->sig_hup = evsignal_new(d->base, SIGHUP, main_on_signal, m);
	event_add(m->sig_term, NULL);
	event_add(m->sig_int, NULL);
	event_add(m->sig_hup, NULL);
	m->purge_timer = event_new(d->base, -1, EV_PERSIST, main_purge, m);
	event_add(m->purge_timer, &purge_tv);

	log_info("event=started version=%s pid=%d store=%s index_entries=%zu lmtp=%s query=%s "
	    "socketmap=%s policy=%s admin=%s", BOUNCED_VERSION, (int)getpid(), sc.path,
	    d->idx != NULL ? store_index_count(d->idx) : 0, d->cfg->lmtp.sock.path, d->cfg->query.sock.path,
	    d->cfg->socketmap.sock.path, d->cfg->policy_service.sock.path, d->cfg->admin.sock.path);
	sock_notify("READY=1");

	event_base_dispatch(d->base);

	/*
	 * stopped: the servers, the read-only connection, then the writer (its
	 * queue is empty by now): the read-write connection closes last and
	 * folds the WAL into the database file (store_close()).
	 */
	metrics_http_free(d->metrics_http);
	logsrc_free(d->logsrc);
	lmtp_server_free(d->lmtp);
	admin_server_free(d->admin);
	query_server_free(d->query);
	query_server_free(d->smap);
	query_server_free(d->policy);
	store_close(d->ro);
	d->ro = NULL;
	writer_free(d->writer);
	alerts_free(d->alerts);         /* after the writer: its last jobs' done() */
	store_index_free(d->idx);
	metrics_lmtp_messages(d->metrics, &stored, &duplicates, &failed);
	metrics_free(d->metrics);
	for (size_t i = 0; i < G_N_ELEMENTS(m->created_sockets); i++) {
		if (m->created_sockets[i] != NULL)
			unlink(m->created_sockets[i]); /* may fail after the drop: harmless */
		g_free(m->created_sockets[i]);
	}
	event_free(m->sig_term);
	event_free(m->sig_int);
	event_free(m->sig_hup);
	event_free(m->purge_timer);
	event_free(m->reader_timer);
	if (m->shutdown_tick != NULL)
		event_free(m->shutdown_tick);
	event_base_free(d->base);
	log_info("event=stopped bounces=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT,
	    stored + duplicates + failed, failed);
	cfg_free(d->cfg);
	g_mime_shutdown();
	explicit_bzero(m->secret, sizeof(m->secret));
	explicit_bzero(&d->keys, sizeof(d->keys));
	g_free(m);
	return 0;
}

static void
main_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;

	(void)what;
	if (sig == SIGHUP)
		main_reload(m);
	else
		main_shutdown(m);
}

/*
 * The state behind the sockets: the secret (read or created), the writer
 * thread (it opens the database, creating and migrating it, and retries its
 * open by itself), the index, the read-only store.  Called at startup and,
 * while something is missing (the state directory not there or not
 * accessible), again every READER_CHECK seconds.  Until the writer exists
 * LMTP answers 451 (lmtp-server.c) and writer_*() of NULL are no-ops.
 * 0 / -1 (err filled).
 */
static int
main_state(struct main_ctx *m, char err[512])
{
	struct daemon *d = &m->d;
	struct store_config sc = m->rsc;
	char e[256];

	if (m->secret_len == 0 && main_secret(m, d->cfg->store.secret_file, e) < 0) {
		g_strlcpy(err, e, 512);
		return -1;
	}
	d->secret = m->secret;          /* log.hash_addresses */
	d->secret_len = m->secret_len;
	if (d->keys.n == 0) {
		if (trust_keys_load(d->cfg->trust.keys_file, 1, time(NULL), &d->keys, e) < 0) {
			g_strlcpy(err, e, 512);
			return -1;
		}
		d->sctx.keys = &d->keys;
		log_info("event=signing_keys path=%s keys=%zu", d->cfg->trust.keys_file, d->keys.n);
	}
	if (d->writer == NULL) {
		sc.secret_len = m->secret_len;
		sc.readonly = 0;
		/* the writer opens (creating and migrating) the database first */
		d->writer = writer_new(d->base, &sc, &d->cfg->policy, d->cfg->store.batch_max,
		    daemon_apply_changes, d, e);
		if (d->writer == NULL)
			fatalx("event=startup_failed error=\"cannot start the writer thread\"");
		writer_set_commit_delay(d->writer, d->cfg->store.commit_delay_us);
		writer_set_commit_hook(d->writer, main_on_commit, d);
		m->rsc.secret_len = m->secret_len;
		m->rsc.readonly = 1;
		d->idx = store_index_new(m->secret, m->secret_len);
	}
	return main_reader(m, err);
}

/*
 * Opens the read-only store and loads its suppressions into the index, on
 * top of what the index holds (nothing at startup; after a database file
 * was replaced, what was known stays known).  Queries are answered from the
 * index once this worked.  0 / -1 (err filled).
 */
static int
main_reader(struct main_ctx *m, char err[512])
{
	struct daemon *d = &m->d;
	struct store *ro;
	char e[256];

	ro = store_open(&m->rsc, &d->cfg->policy, e);
	if (ro == NULL) {
		g_strlcpy(err, e, 512);
		return -1;
	}
	if (store_load_index(ro, d->idx) < 0) {
		snprintf(err, 512, "loading the index: %s", store_errmsg(ro));
		store_close(ro);
		return -1;
	}
	d->ro = ro;
	d->qctx.idx = d->idx;
	d->sctx.idx = d->idx;
	d->pctx.idx = d->idx;
	return 0;
}

static int
main_probe_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	(void)s;
	(void)arg;
	(void)now;
	(void)changes;
	(void)err;
	return 0;
}

static void
main_probe_done(struct writer_job *job)
{
	struct main_ctx *m = job->ud;

	m->probing = 0;
	g_free(job);
}

/*
 * Every READER_CHECK seconds: open the reader if it is not, reopen a moved
 * one.  While the store is unavailable, an empty writer job makes the writer
 * try its own open again (it otherwise waits for a bounce): the database is
 * created as soon as its directory can be written.
 */
static void
main_reader_check(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct daemon *d = &m->d;
	char err[512];

	(void)fd;
	(void)what;
	if (d->stopping)
		return;
	if (d->writer == NULL) {
		/* no secret yet: nothing else can start */
		if (main_state(m, err) < 0)
			return;
		m->reader_failing = 0;
		log_info("event=store_available store=%s index_entries=%zu", m->rsc.path,
		    store_index_count(d->idx));
		return;
	}
	if (d->ro != NULL) {
		if (store_moved(d->ro) != 1)
			return;
		log_warnx("event=store_moved store=%s effect=\"reopening; LMTP answers 451 until the "
		    "path can be written again, queries answer from what is known\"", m->rsc.path);
		store_close(d->ro);
		d->ro = NULL;
	}
	if (!writer_healthy(d->writer) && !m->probing) {
		struct writer_job *job = g_new0(struct writer_job, 1);

		job->fn = main_probe_fn;
		job->done = main_probe_done;
		job->ud = m;
		m->probing = 1;
		writer_submit(d->writer, job);
	}
	if (main_reader(m, err) < 0) {
		if (!m->reader_failing)
			log_error("event=store_unavailable store=%s error=\"%s\"", m->rsc.path, err);
		alert_health(d->alerts, ALERT_HEALTH_STORE, "store", err);
		m->reader_failing = 1;
		return;
	}
	m->reader_failing = 0;
	log_info("event=store_available store=%s index_entries=%zu", m->rsc.path,
	    store_index_count(d->idx));
}

static void
main_policy_done(struct writer_job *job)
{
	struct main_policy_job *pj = (struct main_policy_job *)job;

	if (job->rc == 0)
		log_info("event=reloaded what=policy");
	cfg_free(pj->old);
	g_free(pj);
}

/* SIGHUP: the log level and the policy; the rest needs a restart. */
static void
main_reload(struct main_ctx *m)
{
	struct daemon *d = &m->d;
	struct config *nc, *old = d->cfg;
	struct main_policy_job *pj;
	char err[512];

	if (d->stopping)
		return;
	if (old->file == NULL) {
		log_info("event=reload skipped=\"no config file (--dir)\"");
		return;
	}
	sock_notify("RELOADING=1");
	nc = cfg_load(old->file, NULL, err);
	if (nc == NULL) {
		log_error("event=reload_failed error=\"%s\" kept=running_config", err);
		sock_notify("READY=1");
		return;
	}
	if (strcmp(nc->lmtp.sock.path, old->lmtp.sock.path) != 0 ||
	    strcmp(nc->query.sock.path, old->query.sock.path) != 0 ||
	    strcmp(nc->socketmap.sock.path, old->socketmap.sock.path) != 0 ||
	    strcmp(nc->policy_service.sock.path, old->policy_service.sock.path) != 0 ||
	    strcmp(nc->admin.sock.path, old->admin.sock.path) != 0 ||
	    strcmp(nc->store.path, old->store.path) != 0 ||
	    g_strcmp0(nc->user, old->user) != 0 ||
	    g_strcmp0(nc->metrics.http, old->metrics.http) != 0 ||
	    strcmp(nc->logsource.type, old->logsource.type) != 0 ||
	    g_strcmp0(nc->logsource.path, old->logsource.path) != 0 ||
	    strcmp(nc->logsource.unit, old->logsource.unit) != 0)
		log_warnx("event=reload warning=\"socket, store, user, metrics.http and logsource "
		    "changes need a restart\"");
	log_set_level(nc->log_level);
	d->cfg = nc;
	d->sctx.name = nc->socketmap.name;
	d->sctx.transport_name = nc->socketmap.transport_name;
	d->sctx.delimiters = nc->socketmap.recipient_delimiter ?
	    nc->socketmap.recipient_delimiter : "";
	{
		struct trust_keyring kr;
		char kerr[256];

		/* a rotated key: read again; a broken file keeps the keys in use */
		if (trust_keys_load(nc->trust.keys_file, 0, time(NULL), &kr, kerr) < 0)
			log_error("event=reload_failed what=signing_keys error=\"%s\" kept=running_keys",
			    kerr);
		else {
			d->keys = kr;
			log_info("event=reloaded what=signing_keys keys=%zu", kr.n);
		}
		explicit_bzero(&kr, sizeof(kr));
	}
	main_trust_ctx(d);
	d->pctx.delimiters = d->sctx.delimiters;
	d->pctx.fail_closed = nc->policy_service.fail_closed;
	if (d->ro != NULL)
		store_set_policy(d->ro, &nc->policy);
	pj = g_new0(struct main_policy_job, 1);
	pj->old = old;
	pj->job.done = main_policy_done;
	writer_set_policy(d->writer, &nc->policy, &pj->job);
	log_info("event=reload file=%s log_level=%s", nc->file, log_level_name(nc->log_level));
	sock_notify("READY=1");
}

static void
main_purge_done(struct writer_job *job)
{
	struct main_purge_job *pj = (struct main_purge_job *)job;

	if (job->rc < 0)
		log_warnx("event=purge_failed error=\"%s\"", job->err);
	else if (pj->purged > 0)
		log_info("event=purged raw_bounces=%" G_GINT64_FORMAT, pj->purged);
	g_free(pj);
}

static int
main_purge_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct main_purge_job *pj = arg;

	(void)changes;
	pj->purged = store_purge(s, now);
	if (pj->purged < 0) {
		g_strlcpy(err, store_errmsg(s), 256);
		return -1;
	}
	return 0;
}

static void
main_purge(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct main_purge_job *pj;

	(void)fd;
	(void)what;
	if (m->d.stopping)
		return;
	pj = g_new0(struct main_purge_job, 1);
	pj->job.fn = main_purge_fn;
	pj->job.arg = pj;
	pj->job.done = main_purge_done;
	writer_submit(m->d.writer, &pj->job);
}

/* SIGTERM: stop accepting; wait for LMTP transactions and commits. */
static void
main_shutdown(struct main_ctx *m)
{
	struct daemon *d = &m->d;
	struct timeval tick = { 0, 50 * 1000 };
	unsigned left;

	if (d->stopping) {
		log_warnx("event=shutdown warning=\"second signal: stopping now\"");
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = 1;
	sock_notify("STOPPING=1");
	query_server_stop(d->query);
	query_server_stop(d->smap);
	if (d->policy != NULL)
		query_server_stop(d->policy);
	left = lmtp_server_shutdown(d->lmtp);
	log_info("event=shutdown lmtp_sessions_left=%u writer_pending=%u", left,
	    writer_pending(d->writer));
	m->shutdown_deadline = g_get_monotonic_time() + (gint64)SHUTDOWN_GRACE * G_USEC_PER_SEC;
	m->shutdown_tick = event_new(d->base, -1, EV_PERSIST, main_shutdown_tick, m);
	event_add(m->shutdown_tick, &tick);
	main_shutdown_tick(-1, 0, m);
}

static void
main_shutdown_tick(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct daemon *d = &m->d;

	(void)fd;
	(void)what;
	if (lmtp_server_sessions(d->lmtp) == 0 && writer_pending(d->writer) == 0) {
		event_base_loopbreak(d->base);
		return;
	}
	if (g_get_monotonic_time() > m->shutdown_deadline) {
		log_warnx("event=shutdown warning=\"grace period over\" lmtp_sessions_left=%u "
		    "writer_pending=%u", lmtp_server_sessions(d->lmtp), writer_pending(d->writer));
		event_base_loopbreak(d->base);
	}
}
