/* SPDX-License-Identifier: MIT */
/*
 * alert.h - alerts that reach a person (issue 17): events about provider
 * incidents, bounce surges and bounced's own health, pushed to the sinks of
 * the config's alerts section: a signed webhook (libcurl's multi interface
 * on the event loop), a mail to the admin through the local sendmail, a
 * syslog line each, and Prometheus families on /metrics.
 *
 *   commit --alerts_kick--> scan (a writer job: incidents, surges and the
 *   health events noted since -> store_alert_add(), stable ids, so nothing
 *   is added twice) --> deliveries due (store_alert_due) --> webhook / mail
 *   --> store_alert_mark(): sent, or pending again after a back-off.
 *
 * Pending deliveries live in the store, so a restart or a receiver that is
 * down loses none; a delivery is at least once (a receiver dedupes by id).
 * New events are rate-limited (alerts.max_per_hour): the excess waits for
 * the next hour, it is not dropped.
 *
 * Threads: everything here runs in the loop thread; the store work runs in
 * the writer's thread as jobs.  Ownership: alerts_new()/alerts_free();
 * alerts_free(NULL) is a no-op.  Every function takes a NULL handle.
 */
#ifndef BOUNCED_ALERT_H
#define BOUNCED_ALERT_H

#include <glib.h>

struct daemon;
struct alerts;

#define ALERT_KINDS(X) \
	X(INCIDENT_OPENED, "incident_opened") \
	X(INCIDENT_GREW, "incident_grew") \
	X(INCIDENT_CLOSED, "incident_closed") \
	X(SURGE_HARD, "surge_hard") \
	X(SURGE_COMPLAINT, "surge_complaint") \
	X(HEALTH_STORE, "health_store_unavailable") \
	X(HEALTH_TEMPFAIL, "health_lmtp_tempfail") \
	X(HEALTH_LOG_STALLED, "health_log_source_stalled") \
	X(TEST, "test")

#define ALERT_KIND_ENUM(id, name) ALERT_##id,
enum alert_kind { ALERT_KINDS(ALERT_KIND_ENUM) ALERT_KIND_COUNT };
#undef ALERT_KIND_ENUM

const char *alert_kind_name(enum alert_kind k);

/*
 * Reads the webhook secret and sets up the sinks of d->cfg (borrowed: d
 * outlives the handle).  NULL with err filled when the secret cannot be
 * read or libcurl cannot start.
 */
struct alerts *alerts_new(struct daemon *d, char err[256]);
/* After the writer stopped (its last jobs' done() may still use the handle). */
void alerts_free(struct alerts *a);

/* A commit happened: look for new events now (not at the next second's tick). */
void alerts_kick(struct alerts *a);

/*
 * bounced's own health: kind one of the HEALTH_* kinds, component what it
 * is about ("store", "lmtp", "postfix-log"), detail free text (escaped).
 * Logged at once; recorded and delivered once the store takes it; the same
 * kind and component make one event an hour at most.
 */
void alert_health(struct alerts *a, enum alert_kind kind, const char *component,
    const char *detail);

/* A test event to every sink (bouncectl alerts --test); its id in id_r. */
void alerts_test(struct alerts *a, char id_r[17]);

/* The alert families of /metrics: a gauge per open incident, counters per kind. */
void alerts_metrics(const struct alerts *a, GString *out);

#endif
