/* SPDX-License-Identifier: MIT */
/*
 * sock.c - Unix socket helpers (see sock.h).  Permissions are set
 * explicitly after bind() with a restrictive umask in between, so the socket
 * is never more open than configured, and a socket meant for user postfix is
 * connectable whatever umask bounced was started with.
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

struct sock_listener {
	struct evconnlistener *lev;
	struct event *pause;
	sock_accept_cb cb;
	void *arg;
	char name[32];
};

static void sock_accepted(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg);
static void sock_accept_error(struct evconnlistener *lev, void *arg);
static void sock_resume(evutil_socket_t fd, short what, void *arg);

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

	/* a missing directory is created 0755 whatever the umask: postfix must traverse it */
	dir = g_path_get_dirname(cs->path);
	if (stat(dir, &st) < 0 && (g_mkdir_with_parents(dir, 0755) < 0 || chmod(dir, 0755) < 0)) {
		snprintf(err, 256, "%s: cannot create directory: %s", dir, strerror(errno));
		g_free(dir);
		return -1;
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
	g_free(l);
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
