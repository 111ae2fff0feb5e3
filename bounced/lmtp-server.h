/* SPDX-License-Identifier: MIT */
/*
 * lmtp-server.h - where a bounce enters bounced: the LMTP socket.  Each
 * connection is a bufferevent feeding an lmtp engine (lmtp.h); at the end
 * of DATA the message is parsed (report_parse), its VERP recipient
 * recovered, and it is queued to the writer; the per-recipient replies are
 * sent when the commit is done and the index updated.
 */
#ifndef BOUNCED_LMTP_SERVER_H
#define BOUNCED_LMTP_SERVER_H

struct daemon;
struct lmtp_server;
struct sock_listener;

/* Serves the listening socket fd (taken over).  NULL on failure. */
struct lmtp_server *lmtp_server_new(struct daemon *d, int fd);

/*
 * Shutdown: stops accepting, closes idle sessions with 421; sessions in
 * DATA or waiting for a commit finish first.  Returns the sessions left.
 */
unsigned lmtp_server_shutdown(struct lmtp_server *srv);

/* The listening socket (for sock_listener_watch), NULL once stopped; borrowed. */
struct sock_listener *lmtp_server_listener(struct lmtp_server *srv);

/* Sessions open. */
unsigned lmtp_server_sessions(const struct lmtp_server *srv);

/* Closes everything (sessions still waiting lose their commit's reply). */
void lmtp_server_free(struct lmtp_server *srv);

#endif
