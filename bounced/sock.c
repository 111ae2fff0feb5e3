/* SPDX-License-Identifier: MIT */
/*
 * sock.c - Unix socket helpers (see sock.h).  Permissions are set
 * explicitly after bind() with a restrictive umask in between, so the socket
 * is never more open than configured, and a socket meant for user postfix is
 * connectable whatever umask bounced was started with.
 *
 * A socket bounced created itself is watched (sock_listener_watch): when its
 * file disappears (an admin or a cleaner removed it or its directory) or is
 * replaced, it is created again at the same path as soon as that works,
 * checked every SOCK_WATCH_SECS; until then clients get ENOENT and Postfix
 * defers.  Sockets from systemd are systemd's business and not watched.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <glib.h>

#include "config.h"
#include "log.h"
#include "sock.h"

#define SOCK_BACKLOG 256
#define SOCK_LISTEN_FDS_START 3     /* sd_listen_fds(3) */
#define SOCK_WATCH_SECS 1

struct sock_listener {
	struct evconnlistener *lev;
	struct event *pause;
	sock_accept_cb cb;
	void *arg;
	char name[32];
	/* the watch (sock_listener_watch) */
	struct event *watch;
	struct cfg_socket cs;           /* cs.path owned */
	uid_t uid;
	gid_t gid;
	dev_t dev;                      /* the socket file we bound */
	ino_t ino;
	int lost;                       /* its loss is logged */
};

static void sock_accepted(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg);
static void sock_accept_error(struct evconnlistener *lev, void *arg);
static void sock_resume(evutil_socket_t fd, short what, void *arg);
static void sock_watch(evutil_socket_t fd, short what, void *arg);

int
sock_listen_unix(const struct cfg_socket *cs, uid_t uid, gid_t gid, char err[256])
{
	struct sockaddr_un sun;
	struct stat st;
	gchar *dir;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cs->path) >= sizeof(sun.sun_path)) {
		snprintf(err, 256, "%s: path longer than %zu bytes", cs->path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, cs->path, strlen(cs->path) + 1);

	/*
	 * A missing directory is created 0755 whatever the umask (postfix must
	 * traverse it) and given to the daemon's user, so that it can make its
	 * sockets again there after dropping root (sock_listener_watch).
	 */
	dir = g_path_get_dirname(cs->path);
	if (stat(dir, &st) < 0) {
		if (g_mkdir_with_parents(dir, 0755) < 0 || chmod(dir, 0755) < 0) {
			snprintf(err, 256, "%s: cannot create directory: %s", dir, strerror(errno));
			g_free(dir);
			return -1;
		}
		if (uid != (uid_t)-1 && chown(dir, uid, (gid_t)-1) < 0)
			log_warn("event=socket path=%s warning=\"cannot give the directory to uid %d\"",
			    dir, (int)uid);
	}
	g_free(dir);

	if (lstat(cs->path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, 256, "%s: exists and is not a socket", cs->path);
			return -1;
		}
		probe = sock_connect_unix(cs->path);
		if (probe >= 0) {
			close(probe);
			snprintf(err, 256, "%s: in use (another bounced is running?)", cs->path);
			return -1;
		}
		if (unlink(cs->path) < 0) {
			snprintf(err, 256, "%s: cannot remove stale socket: %s", cs->path,
			    strerror(errno));
			return -1;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, 256, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		snprintf(err, 256, "%s: bind: %s", cs->path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(cs->path, uid, gid) < 0) {
		snprintf(err, 256, "%s: chown: %s", cs->path, strerror(errno));
		goto fail;
	}
	if (chmod(cs->path, cs->mode) < 0) {
		snprintf(err, 256, "%s: chmod: %s", cs->path, strerror(errno));
		goto fail;
	}
	if (listen(fd, SOCK_BACKLOG) < 0) {
		snprintf(err, 256, "%s: listen: %s", cs->path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(cs->path);
	return -1;
}

int
sock_reachable(const char *path, char dir_r[256])
{
	struct stat sst, st;
	gchar *dir;
	int ok = 1;

	if (stat(path, &sst) < 0 || (sst.st_mode & 0066) == 0)
		return 1;     /* gone, or meant for its owner only */
	dir = g_path_get_dirname(path);
	for (;;) {
		int others = (sst.st_mode & 0006) != 0;

		if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH) &&
		    !(!others && st.st_gid == sst.st_gid && (st.st_mode & S_IXGRP))) {
			g_strlcpy(dir_r, dir, 256);
			ok = 0;
			break;
		}
		if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
			break;
		{
			gchar *up = g_path_get_dirname(dir);

			g_free(dir);
			dir = up;
		}
	}
	g_free(dir);
	return ok;
}

int
sock_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
sock_peer_cred(int fd, uid_t *uid_r, gid_t *gid_r, pid_t *pid_r)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -1;
	*uid_r = uc.uid;
	*gid_r = uc.gid;
	*pid_r = uc.pid;
	return 0;
}

static void
sock_accepted(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int socklen,
    void *arg)
{
	struct sock_listener *l = arg;

	(void)lev;
	(void)sa;
	(void)socklen;
	l->cb(fd, l->arg);
}

static void
sock_accept_error(struct evconnlistener *lev, void *arg)
{
	struct sock_listener *l = arg;
	struct timeval tv = { 1, 0 };

	/* EMFILE and friends: accepting again at once would spin */
	log_warn("event=accept_error socket=%s", l->name);
	evconnlistener_disable(lev);
	event_add(l->pause, &tv);
}

static void
sock_resume(evutil_socket_t fd, short what, void *arg)
{
	struct sock_listener *l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

struct sock_listener *
sock_listener_new(struct event_base *base, int fd, const char *name, sock_accept_cb cb,
    void *arg)
{
	struct sock_listener *l = g_new0(struct sock_listener, 1);

	l->cb = cb;
	l->arg = arg;
	g_strlcpy(l->name, name, sizeof(l->name));
	l->lev = evconnlistener_new(base, sock_accepted, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->lev == NULL) {
		g_free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->lev, sock_accept_error);
	l->pause = evtimer_new(base, sock_resume, l);
	return l;
}

void
sock_listener_free(struct sock_listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->lev);
	event_free(l->pause);
	if (l->watch != NULL)
		event_free(l->watch);
	g_free(l->cs.path);
	g_free(l);
}

int
sock_listener_watch(struct sock_listener *l, const struct cfg_socket *cs, uid_t uid, gid_t gid)
{
	struct timeval tv = { SOCK_WATCH_SECS, 0 };
	struct stat st;

	if (lstat(cs->path, &st) < 0)
		return -1;
	l->cs = *cs;
	l->cs.path = g_strdup(cs->path);
	l->cs.group = NULL;
	l->uid = uid;
	l->gid = gid;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->watch = event_new(evconnlistener_get_base(l->lev), -1, EV_PERSIST, sock_watch, l);
	return event_add(l->watch, &tv);
}

/* The socket file is gone or replaced: bind it again and serve the new one. */
static void
sock_watch(evutil_socket_t fd, short what, void *arg)
{
	struct sock_listener *l = arg;
	struct evconnlistener *lev;
	struct stat st;
	char err[256];
	int nfd, gid_dropped = 0;

	(void)fd;
	(void)what;
	if (lstat(l->cs.path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		return;
	nfd = sock_listen_unix(&l->cs, l->uid, l->gid, err);
	if (nfd < 0 && l->gid != (gid_t)-1 && geteuid() != 0) {
		/* privileges dropped: the group may be one we cannot give any more */
		nfd = sock_listen_unix(&l->cs, (uid_t)-1, (gid_t)-1, err);
		gid_dropped = nfd >= 0;
	}
	if (nfd < 0) {
		if (!l->lost)
			log_error("event=socket_lost socket=%s path=%s error=\"%s\" effect=\"clients "
			    "cannot connect; tried again every %d s\"", l->name, l->cs.path, err,
			    SOCK_WATCH_SECS);
		l->lost = 1;
		return;
	}
	lev = evconnlistener_new(evconnlistener_get_base(l->lev), sock_accepted, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, nfd);
	if (lev == NULL) {
		close(nfd);
		unlink(l->cs.path);
		return;
	}
	evconnlistener_set_error_cb(lev, sock_accept_error);
	evconnlistener_free(l->lev);
	l->lev = lev;
	l->lost = 0;
	if (lstat(l->cs.path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if (gid_dropped)
		log_error("event=socket_recreated socket=%s path=%s mode=%04o warning=\"its group "
		    "could not be given back after dropping privileges: restart bounced for the "
		    "clients of that group\"", l->name, l->cs.path, (unsigned)l->cs.mode);
	else
		log_warnx("event=socket_recreated socket=%s path=%s mode=%04o", l->name, l->cs.path,
		    (unsigned)l->cs.mode);
}

int
sock_from_systemd(const char *path)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long n;

	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	n = strtol(fds, NULL, 10);
	for (int fd = SOCK_LISTEN_FDS_START; fd < SOCK_LISTEN_FDS_START + n && n < 64; fd++) {
		struct sockaddr_un sun;
		socklen_t len = sizeof(sun);

		memset(&sun, 0, sizeof(sun));
		if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0 || sun.sun_family != AF_UNIX)
			continue;
		if (strncmp(sun.sun_path, path, sizeof(sun.sun_path)) == 0) {
			evutil_make_socket_nonblocking(fd);
			evutil_make_socket_closeonexec(fd);
			return fd;
		}
	}
	return -1;
}

void
sock_activation_done(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

void
sock_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		log_warn("event=notify_failed state=%s", state);
	close(fd);
}
