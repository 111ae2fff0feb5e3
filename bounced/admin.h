/* SPDX-License-Identifier: MIT */
/*
 * admin.h - the admin socket, bouncectl's way in.  Only uids listed in
 * admin.allow_uids may connect (checked with SO_PEERCRED at accept; any
 * other peer gets "ERR denied ..." and is disconnected).  Changes go through
 * the writer thread like bounces do; reads use the loop's read-only store
 * and stream in chunks as the client drains them (constant memory for a
 * million rows).
 *
 * Protocol, version 1.  One request per line (LF or CRLF); one command at a
 * time per connection (pipelined requests wait their turn):
 *
 *   request  = VERB *(SP key "=" value)
 *   response = *("+" SP fields LF) ("OK" [SP fields] | "ERR" SP code SP text) LF
 *   fields   = key "=" value *(SP key "=" value)
 *
 * Values are percent-encoded: every byte below 0x21 or above 0x7e and the
 * bytes '%' and '=' are written %XX (so a value never holds a space or a
 * line end).  Times are ISO 8601 UTC ("2024-05-01T12:00:00Z"), "never" for
 * no expiry; inputs also take unix seconds and, for until, a duration
 * ("30d").  Error codes: usage (bad request), denied, invalid (bad value),
 * notfound, store (the store failed: try again), busy, shutdown.
 *
 *   PING                           -> OK version=1 daemon=<version>
 *   CHECK address=A                -> + address= state=ok|suppressed [cause= reason= since=
 *                                       until= entry=address|domain]; OK   (the index)
 *   SHOW address=A|@D [events=N]   -> + type=entry <entry>          (when stored)
 *                                     + type=event id= bounce= at= class= reason= scope=
 *                                       status= replycode= action= diagnostic=
 *                                       diagnostic_type= remote_mta= smtp_command= rule=
 *                                       decoder= reporting_mta= message_id= orig_sender=
 *                                       subject= raw=0|1          (newest first, N=50)
 *                                     + type=audit <audit>        (oldest first)
 *                                  -> OK events=N audit=N | ERR notfound ...
 *   RAW bounce=ID                  -> OK bytes=N, then exactly N bytes (the stored
 *                                     message) and a LF  | ERR notfound ...
 *   LIST [filters] [after=A] [limit=N]
 *                                  -> + <entry> ...; OK count=N [next=A]
 *   EXPORT [filters]               -> + <entry> ... (every row, streamed); OK count=N
 *        filters: state=suppressed|all (LIST: all, EXPORT: suppressed),
 *                 cause=hard,soft,complaint,manual,import  reason=R  scope=S
 *                 domain=D  since=T  until=T  (on the entry's since)
 *        <entry>: address= cause= reason= status= since= until= source= updated=
 *                 soft_count= last_delivered= scope= rule=   ("-": none)
 *   SUPPRESS target=A|@D [reason=R] [until=T|duration] [note=TEXT] [cause=manual|import]
 *            [status=S] [since=T]  -> OK changed=1
 *   UNSUPPRESS target=A|@D [note=TEXT]
 *                                  -> OK lifted=1|0
 *   FORGET address=A               -> OK forgotten=1|0 events=N bounces=N audit=N
 *                                       kept_suppressed=0|1
 *   REEVALUATE [dry_run=1]         -> + address= before=cause/reason after=cause/reason ...;
 *                                     OK changed=N dry_run=0|1
 *   IMPORT [source=NAME]           -> OK send; then the client sends entry lines
 *                                     "+ target=A cause= reason= status= since= until=
 *                                     note= source=" (an EXPORT line works as is:
 *                                     address= stands for target=, the other fields are
 *                                     ignored) and a line "."; a bad line is answered
 *                                     "+ error line=N text=..." as it comes and skipped;
 *                                     entries are committed 1000 at a time
 *                                  -> OK imported=N errors=N
 *                                     (ERR store ... if a batch fails: what came before
 *                                     it is stored, the connection is closed)
 *   STATS [from=T] [to=T] [domains=N]
 *                                  -> + type=daemon <counters> (several lines)
 *                                     + type=total from= to= bounces= events=
 *                                     + type=class|reason|scope|suppressed name= n=
 *                                     + type=domain name= n=        (most first)
 *                                     + type=soft_provider name= n=
 *                                     + type=incident <incident>    (open ones)
 *                                     OK
 *   METRICS                        -> OK bytes=N, then exactly N bytes (the daemon's
 *                                     metrics, Prometheus text format: metrics.h) and a LF
 *   INCIDENTS [all=1]              -> + type=incident id= provider= reason= first_seen=
 *                                       last_seen= count= open= last_domain= last_status=
 *                                       last_diagnostic= ...; OK count=N
 *   AUDIT [target=A] [after=ID] [limit=N]
 *                                  -> + type=audit id= at= actor= action= target= cause=
 *                                       reason= status= since= until= note= ...;
 *                                     OK count=N [next=ID]
 *   PURGE                          -> OK purged=N   (raw bounces past raw_retention)
 *   QUIT                           -> OK bye
 *
 * Every change is audited by the store with the actor "uid=N (name)".
 */
#ifndef BOUNCED_ADMIN_H
#define BOUNCED_ADMIN_H

#include <stddef.h>

struct daemon;
struct admin_server;
struct sock_listener;

struct admin_server *admin_server_new(struct daemon *d, int fd);
/* The listening socket (for sock_listener_watch); borrowed. */
struct sock_listener *admin_server_listener(struct admin_server *srv);

/* Stops accepting and closes every connection (a running job's reply is dropped). */
void admin_server_free(struct admin_server *srv);

/*
 * Percent-encodes value (len bytes) into out for a response field.  Returns
 * out.  outsz >= 3 * len + 1 always suffices.
 */
char *admin_encode(const char *value, size_t len, char *out, size_t outsz);

/* Decodes in place; returns the new length, or -1 on a malformed %XX. */
long admin_decode(char *s);

/*
 * Splits a request or response line "WORD k=v k=v" in place, on spaces and
 * tabs: *word_r is the first word (the verb, "+" or "OK"), then at most max
 * pairs go to key[] and val[] (*n_r of them), values decoded.  0, or -1
 * with err: an empty line, more than max pairs, a word without "key=", a
 * bad %XX or %00 in a value, a key given twice.  The daemon and bouncectl
 * both read lines with it.
 */
int admin_split(char *line, char **word_r, char **key, char **val, unsigned max, unsigned *n_r,
    char err[128]);

/* The value of name among n pairs split by admin_split(), or NULL; borrowed. */
const char *admin_field(char *const *key, char *const *val, unsigned n, const char *name);

#endif
