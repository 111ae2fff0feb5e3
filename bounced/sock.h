/* SPDX-License-Identifier: MIT */
/*
 * sock.h - Unix sockets: creating the listening sockets with the configured
 * owner, group and mode (before privileges are dropped), accepting without
 * busy-looping when file descriptors run out, and asking the kernel who the
 * peer is (SO_PEERCRED).
 */
#ifndef BOUNCED_SOCK_H
#define BOUNCED_SOCK_H

#include <sys/types.h>

struct event_base;
struct cfg_socket;

/*
 * Creates, binds and listens on cs->path: a stale socket left by a dead
 * bounced is replaced, a live one (something answers) is an error, the
 * parent directory is created (0755, owned by uid when given) when missing.  The file gets mode
 * cs->mode exactly (the umask does not apply) and, when gid != -1, that
 * group; when uid != -1, that owner.  Returns the fd (non-blocking,
 * close-on-exec) or -1 with err filled.
 */
int sock_listen_unix(const struct cfg_socket *cs, uid_t uid, gid_t gid, char err[256]);

/*
 * Whether the clients a socket's mode lets in (its group, or everyone) can
 * reach it: every directory above it must be searchable by them.  Returns
 * 1, or 0 with the first directory that is not in dir_r.
 */
int sock_reachable(const char *path, char dir_r[256]);

/* Connects to a Unix socket (tests, clients).  fd or -1 (errno set). */
int sock_connect_unix(const char *path);

/*
 * Accepts on fd (taken over, closed by sock_listener_free): cb(fd, arg) gets
 * each new non-blocking connection.  Accept errors (EMFILE, ENFILE, ENOBUFS)
 * pause accepting for a second instead of spinning.  name is for the log.
 */
typedef void (*sock_accept_cb)(int fd, void *arg);
struct sock_listener;
struct sock_listener *sock_listener_new(struct event_base *base, int fd, const char *name,
    sock_accept_cb cb, void *arg);
void sock_listener_free(struct sock_listener *l);

/*
 * Watches the socket file at cs->path, which l serves and this process
 * created (with owner uid, group gid: -1 for unchanged): when the file is
 * removed or replaced, the socket is created again (sock_listen_unix) and
 * served instead, as soon as that works; checked every second.  0 / -1.
 */
int sock_listener_watch(struct sock_listener *l, const struct cfg_socket *cs, uid_t uid,
    gid_t gid);

/*
 * Socket activation: the listening socket systemd passed for path
 * (LISTEN_PID/LISTEN_FDS, matched by the socket's own path), or -1.
 * sock_activation_done() unsets the variables once every socket is taken.
 */
int sock_from_systemd(const char *path);
void sock_activation_done(void);

/* sd_notify(3) without libsystemd: "READY=1", "STOPPING=1"...  No-op without NOTIFY_SOCKET. */
void sock_notify(const char *state);

/* The peer's uid/gid/pid.  0 / -1. */
int sock_peer_cred(int fd, uid_t *uid_r, gid_t *gid_r, pid_t *pid_r);

#endif
