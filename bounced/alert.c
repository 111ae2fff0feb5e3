/* SPDX-License-Identifier: MIT */
/*
 * alert.c - events pushed to people (alert.h): finding them, recording them
 * through the writer, and delivering them to the webhook (libcurl multi
 * interface driven by libevent: CURLMOPT_SOCKETFUNCTION and TIMERFUNCTION
 * map onto event_new()/evtimer), the admin's mailbox (sendmail, spawned
 * without blocking, reaped by the tick) and the log.
 *
 * Event ids are the first 16 hex digits of SHA-256 over what the event is
 * about: kind, incident id and opening time for incidents (a threshold for
 * "grew"), kind, sender and time bucket for surges, kind, component and hour
 * for health.  The same event found again (every scan looks at every open
 * incident) is therefore the same row.
 *
 * Webhook: POST of the JSON body, Content-Type application/json, headers
 * X-Bounced-Event (the id) and X-Bounced-Signature: sha256=<hex HMAC-SHA256
 * of the body with the secret file's bytes>.  A 2xx is delivered; anything
 * else is retried after retry_min, doubling up to retry_max, for 3 days.
 *
 * Mail: only incident_opened (one summary per incident) and test events,
 * at most mail.max_per_hour.  The envelope sender is the null sender by
 * default, so an alert that cannot be delivered makes no bounce that would
 * come back here as a failure of its own; and an admin address that bounced
 * itself suppresses (it would be refused by the socketmap) is not used: the
 * delivery fails with that reason instead of taking a suppressed path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <glib.h>

#include "alert.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "writer.h"

#define ALERT_TICK          1               /* seconds between scans */
#define ALERT_SURGE_EVERY   5               /* seconds between surge counts (a GROUP BY
                                               over the window's events) */
#define ALERT_DUE_MAX       32              /* deliveries started per scan */
#define ALERT_GIVE_UP       (3 * 86400)     /* a delivery pending this long fails */
#define ALERT_CLOSED_LOOKBACK (7 * 86400)   /* closed incidents looked at, beyond quiet */
#define ALERT_SECRET_MAX    4096
#define ALERT_TEXT_MAX      512             /* bytes of a diagnostic quoted */
#define ALERT_MAIL_MAX      16384           /* bytes of one mail (fits a pipe) */
#define ALERT_HEALTH_MAX    64              /* health events waiting for the store */
#define SINK_WEBHOOK        "webhook"
#define SINK_MAIL           "mail"

#define KIND_NAME(id, name) name,
static const char *const kind_names[ALERT_KIND_COUNT] = { ALERT_KINDS(KIND_NAME) };
#undef KIND_NAME

struct alerts {
	struct daemon *d;
	struct event *tick;
	unsigned char secret[ALERT_SECRET_MAX];
	size_t secret_len;
	CURLM *multi;
	struct event *curl_timer;
	GHashTable *inflight;           /* "id/sink" -> NULL: delivery under way */
	GPtrArray *health;              /* struct store_alert *: not recorded yet */
	GHashTable *health_seen;        /* ids of the health events of this hour */
	GPtrArray *open;                /* struct store_incident *: open at the last scan */
	GSList *children;               /* struct alert_child *: sendmail processes */
	GSList *xfers;                  /* struct alert_xfer *: webhook POSTs under way */
	int scanning;                   /* a scan job is queued or running */
	int rescan;                     /* kicked while scanning */
	uint64_t events[ALERT_KIND_COUNT]; /* added by this process */
	uint64_t deliveries[2][STORE_ALERT_STATE_COUNT]; /* webhook, mail x result */
	int64_t surge_scanned;          /* when surges were last counted */
	int64_t hour;                   /* rate limits: the current hour ... */
	unsigned hour_events, hour_mails; /* ... and what it used */
};

struct alert_scan {
	struct writer_job job;
	struct alerts *a;
	/* in */
	GPtrArray *health;
	const char *sinks[2];
	size_t nsinks;
	int mail;
	unsigned budget;                /* new events allowed */
	unsigned grew;
	unsigned surge_min;             /* 0: no surge count this time */
	int64_t surge_window, quiet;
	char host[256];
	/* out */
	GPtrArray *added, *open, *due;
};

struct alert_mark {
	struct writer_job job;
	struct alerts *a;
	char id[STORE_ALERT_ID_LEN + 1];
	char sink[16];
	enum store_alert_state state;
	int64_t next_at;
	char error[256];
};

struct alert_xfer {
	struct alerts *a;
	CURL *easy;
	struct curl_slist *hdrs;
	struct store_alert *al;
	char errbuf[CURL_ERROR_SIZE];
};

struct alert_child {
	pid_t pid;
	struct store_alert *al;
};

static void alert_tick(evutil_socket_t fd, short what, void *arg);
static void alert_scan_submit(struct alerts *a);
static int alert_scan_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256]);
static void alert_scan_done(struct writer_job *job);
static void alert_dispatch(struct alerts *a, struct store_alert *al);
static void alert_result(struct alerts *a, struct store_alert *al, int ok, const char *error);
static void alert_webhook(struct alerts *a, struct store_alert *al);
static void alert_mail(struct alerts *a, struct store_alert *al);
static void alert_reap(struct alerts *a);
static int alert_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp);
static int alert_curl_timer(CURLM *m, long ms, void *userp);
static void alert_curl_event(evutil_socket_t fd, short what, void *arg);
static void alert_curl_timeout(evutil_socket_t fd, short what, void *arg);
static void alert_curl_done(struct alerts *a);

const char *
alert_kind_name(enum alert_kind k)
{
	return (unsigned)k < ALERT_KIND_COUNT ? kind_names[k] : "unknown";
}

/* ---- ids and bodies ------------------------------------------------------ */

static void
alert_id(char id_r[STORE_ALERT_ID_LEN + 1], const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
alert_id(char id_r[STORE_ALERT_ID_LEN + 1], const char *fmt, ...)
{
	va_list ap;
	char *what;
	gchar *hex;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, what, -1);
	g_strlcpy(id_r, hex, STORE_ALERT_ID_LEN + 1);
	g_free(hex);
	g_free(what);
}

/*
 * A JSON string of at most max bytes of v: bounce text is untrusted, so
 * invalid UTF-8 becomes U+FFFD, the cut falls between characters, and
 * quotes, backslashes and control characters are escaped.
 */
static void
json_str(GString *out, const char *v, size_t max)
{
	gchar *valid = g_utf8_make_valid(v != NULL ? v : "", -1);
	const char *p = valid;

	g_string_append_c(out, '"');
	while (*p != '\0') {
		const char *next = g_utf8_next_char(p);
		unsigned char c = (unsigned char)*p;

		if ((size_t)(next - valid) > max)
			break;
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_len(out, p, next - p);
		p = next;
	}
	g_string_append_c(out, '"');
	g_free(valid);
}

/* The body's common start: id, kind, time, host, subject. */
static GString *
body_start(const struct store_alert *al, const char *host)
{
	GString *b = g_string_new("{\"id\":");

	json_str(b, al->id, 64);
	g_string_append(b, ",\"kind\":");
	json_str(b, al->kind, 64);
	g_string_append_printf(b, ",\"at\":%" G_GINT64_FORMAT ",\"host\":", al->at);
	json_str(b, host, 255);
	g_string_append(b, ",\"subject\":");
	json_str(b, al->subject, 255);
	return b;
}

static struct store_alert *
alert_new(enum alert_kind kind, const char *subject, int64_t at)
{
	struct store_alert *al = g_new0(struct store_alert, 1);

	al->kind = g_strdup(kind_names[kind]);
	al->subject = g_strdup(subject != NULL ? subject : "");
	al->at = at;
	return al;
}

static struct store_alert *
alert_incident(enum alert_kind kind, const struct store_incident *in, unsigned threshold,
    int64_t now, const char *host)
{
	struct store_alert *al = alert_new(kind, in->provider, now);
	GString *b;

	alert_id(al->id, "%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%u", al->kind, in->id,
	    in->opened, threshold);
	al->incident_id = in->id;
	b = body_start(al, host);
	g_string_append_printf(b, ",\"incident\":{\"id\":%" G_GINT64_FORMAT ",\"provider\":",
	    in->id);
	json_str(b, in->provider, 255);
	g_string_append(b, ",\"reason\":");
	json_str(b, report_reason_name(in->reason), 64);
	g_string_append_printf(b, ",\"opened\":%" G_GINT64_FORMAT ",\"first_seen\":%"
	    G_GINT64_FORMAT ",\"last_seen\":%" G_GINT64_FORMAT ",\"failures\":%" G_GUINT64_FORMAT
	    ",\"messages\":%" G_GUINT64_FORMAT ",\"open\":%s", in->opened, in->first_seen,
	    in->last_seen, in->count, in->messages, in->open ? "true" : "false");
	if (threshold > 0)
		g_string_append_printf(b, ",\"threshold\":%u", threshold);
	g_string_append(b, ",\"last_domain\":");
	json_str(b, in->last_domain, 255);
	g_string_append(b, ",\"last_status\":");
	json_str(b, in->last_status, 32);
	g_string_append(b, ",\"last_diagnostic\":");
	json_str(b, in->last_diagnostic, ALERT_TEXT_MAX);
	g_string_append(b, "}}");
	al->body = g_string_free(b, FALSE);
	return al;
}

/* ---- life cycle ------------------------------------------------------------ */

struct alerts *
alerts_new(struct daemon *d, char err[256])
{
	const struct config *cfg = d->cfg;
	struct alerts *a = g_new0(struct alerts, 1);
	struct timeval tv = { ALERT_TICK, 0 };

	a->d = d;
	if (cfg->alerts.webhook_url != NULL) {
		gchar *buf = NULL;
		gsize len = 0;
		GError *e = NULL;

		if (!g_file_get_contents(cfg->alerts.webhook_secret_file, &buf, &len, &e)) {
			g_snprintf(err, 256, "alerts.webhook.secret_file: %s", e->message);
			g_error_free(e);
			g_free(a);
			return NULL;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		if (len == 0 || len > sizeof(a->secret)) {
			g_snprintf(err, 256, "alerts.webhook.secret_file: %s: %s",
			    cfg->alerts.webhook_secret_file, len == 0 ? "empty" : "over 4096 bytes");
			g_free(buf);
			g_free(a);
			return NULL;
		}
		memcpy(a->secret, buf, len);
		a->secret_len = len;
		g_free(buf);
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		    (a->multi = curl_multi_init()) == NULL) {
			g_strlcpy(err, "alerts: libcurl does not start", 256);
			g_free(a);
			return NULL;
		}
		curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, alert_curl_socket);
		curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
		curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, alert_curl_timer);
		curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
		a->curl_timer = evtimer_new(d->base, alert_curl_timeout, a);
	}
	a->inflight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	a->health = g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_alert_free);
	a->health_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	a->open = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_incident_free);
	a->tick = event_new(d->base, -1, EV_PERSIST, alert_tick, a);
	event_add(a->tick, &tv);
	return a;
}

void
alerts_free(struct alerts *a)
{
	if (a == NULL)
		return;
	if (a->tick != NULL)
		event_free(a->tick);
	if (a->multi != NULL) {
		/* POSTs under way stay pending in the store: sent again after a restart */
		for (GSList *l = a->xfers; l != NULL; l = l->next) {
			struct alert_xfer *x = l->data;

			curl_multi_remove_handle(a->multi, x->easy);
			curl_easy_cleanup(x->easy);
			curl_slist_free_all(x->hdrs);
			store_alert_free(x->al);
			g_free(x);
		}
		g_slist_free(a->xfers);
		curl_multi_cleanup(a->multi);
		curl_global_cleanup();
	}
	if (a->curl_timer != NULL)
		event_free(a->curl_timer);
	for (GSList *l = a->children; l != NULL; l = l->next) {
		struct alert_child *c = l->data;

		store_alert_free(c->al);
		g_free(c);
	}
	g_slist_free(a->children);
	g_hash_table_destroy(a->inflight);
	g_hash_table_destroy(a->health_seen);
	g_ptr_array_free(a->health, TRUE);
	g_ptr_array_free(a->open, TRUE);
	explicit_bzero(a->secret, sizeof(a->secret));
	g_free(a);
}

static void
alert_tick(evutil_socket_t fd, short what, void *arg)
{
	struct alerts *a = arg;

	(void)fd;
	(void)what;
	alert_reap(a);
	alert_scan_submit(a);
}

void
alerts_kick(struct alerts *a)
{
	if (a == NULL)
		return;
	if (a->scanning)
		a->rescan = 1;
	else
		alert_scan_submit(a);
}

/* The hour of the rate limits. */
static void
alert_hour(struct alerts *a, int64_t now)
{
	if (now / 3600 != a->hour) {
		a->hour = now / 3600;
		a->hour_events = 0;
		a->hour_mails = 0;
		g_hash_table_remove_all(a->health_seen);
	}
}

void
alert_health(struct alerts *a, enum alert_kind kind, const char *component, const char *detail)
{
	int64_t now = (int64_t)time(NULL);
	struct store_alert *al;
	GString *b;

	if (a == NULL || a->health->len >= ALERT_HEALTH_MAX)
		return;
	alert_hour(a, now);
	al = alert_new(kind, component, now);
	alert_id(al->id, "%s|%s|%" G_GINT64_FORMAT, al->kind, al->subject, now / 3600);
	/* one event per kind and component an hour: the rest is in the log already */
	if (g_hash_table_contains(a->health_seen, al->id)) {
		store_alert_free(al);
		return;
	}
	g_hash_table_add(a->health_seen, g_strdup(al->id));
	b = body_start(al, a->d->hostname);
	g_string_append(b, ",\"detail\":");
	json_str(b, detail, ALERT_TEXT_MAX);
	g_string_append_c(b, '}');
	al->body = g_string_free(b, FALSE);
	{
		char esc[2][512];

		log_warnx("event=alert id=%s kind=%s subject=%s detail=\"%s\"", al->id, al->kind,
		    log_escape(al->subject, strlen(al->subject), esc[0], sizeof(esc[0])),
		    detail != NULL ? log_escape(detail, strlen(detail), esc[1], sizeof(esc[1])) :
		    "");
	}
	g_ptr_array_add(a->health, al);
}

void
alerts_test(struct alerts *a, char id_r[17])
{
	int64_t now = (int64_t)time(NULL);
	struct store_alert *al;
	GString *b;

	id_r[0] = '\0';
	if (a == NULL)
		return;
	al = alert_new(ALERT_TEST, "bouncectl", now);
	alert_id(al->id, "%s|%" G_GINT64_FORMAT "|%u", al->kind, g_get_real_time(),
	    g_random_int());
	b = body_start(al, a->d->hostname);
	g_string_append(b, ",\"detail\":\"a test event (bouncectl alerts --test)\"}");
	al->body = g_string_free(b, FALSE);
	g_strlcpy(id_r, al->id, 17);
	g_ptr_array_add(a->health, al);
	alerts_kick(a);
}

/* ---- scan (writer thread) ------------------------------------------------- */

static void
alert_scan_submit(struct alerts *a)
{
	const struct config *cfg = a->d->cfg;
	struct alert_scan *sc;
	int64_t now = (int64_t)time(NULL);

	if (a->scanning)
		return;
	alert_hour(a, now);
	sc = g_new0(struct alert_scan, 1);
	sc->a = a;
	sc->health = a->health;
	a->health = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_alert_free);
	if (cfg->alerts.webhook_url != NULL)
		sc->sinks[sc->nsinks++] = SINK_WEBHOOK;
	if (cfg->alerts.mail_to != NULL) {
		sc->sinks[sc->nsinks++] = SINK_MAIL;
		sc->mail = 1;
	}
	sc->budget = cfg->alerts.max_per_hour > a->hour_events ?
	    cfg->alerts.max_per_hour - a->hour_events : 0;
	sc->grew = cfg->alerts.incident_grew;
	if (now - a->surge_scanned >= ALERT_SURGE_EVERY) {
		sc->surge_min = cfg->alerts.surge_threshold;
		a->surge_scanned = now;
	}
	sc->surge_window = cfg->alerts.surge_window;
	sc->quiet = cfg->policy.incident_quiet;
	g_strlcpy(sc->host, a->d->hostname, sizeof(sc->host));
	sc->added = g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_alert_free);
	sc->open = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_incident_free);
	sc->due = g_ptr_array_new_with_free_func((GDestroyNotify)(void (*)(void))store_alert_free);
	sc->job.fn = alert_scan_fn;
	sc->job.arg = sc;
	sc->job.done = alert_scan_done;
	a->scanning = 1;
	a->rescan = 0;
	writer_submit(a->d->writer, &sc->job);
}

/* Records al (taken) when the budget allows: 1 added, 0 known or deferred, -1 error. */
static int
scan_add(struct alert_scan *sc, struct store *s, struct store_alert *al)
{
	/* mail: one summary per incident (and the test) */
	int mail = sc->mail && (strcmp(al->kind, kind_names[ALERT_INCIDENT_OPENED]) == 0 ||
	    strcmp(al->kind, kind_names[ALERT_TEST]) == 0);
	size_t n = sc->nsinks - (sc->mail && !mail);
	int r;

	if (sc->budget == 0) {
		store_alert_free(al);
		return 0;
	}
	r = store_alert_add(s, al, sc->sinks, n);
	if (r == 1) {
		sc->budget--;
		g_ptr_array_add(sc->added, al);
	} else {
		store_alert_free(al);
	}
	return r;
}

static int
alert_scan_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct alert_scan *sc = arg;
	GPtrArray *incidents = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)(void (*)(void))store_incident_free);
	GPtrArray *surges = g_ptr_array_new();
	int ret = -1;

	(void)changes;
	(void)err;
	/* health and test events noted in the loop: kept there when this fails */
	while (sc->health->len > 0) {
		struct store_alert *al = sc->health->pdata[0];
		const char *sinks[2] = { sc->sinks[0], sc->sinks[1] };
		int mail = strcmp(al->kind, kind_names[ALERT_TEST]) == 0;
		size_t n = sc->nsinks - (sc->mail && !mail);

		if (store_alert_add(s, al, sinks, n) == -1)
			goto out;
		g_ptr_array_add(sc->added, g_ptr_array_steal_index(sc->health, 0));
	}
	if (store_incidents_since(s, now, (int64_t)now - sc->quiet - ALERT_CLOSED_LOOKBACK,
	    incidents) == -1)
		goto out;
	for (guint i = 0; i < incidents->len; i++) {
		const struct store_incident *in = incidents->pdata[i];
		struct store_alert *opened = alert_incident(ALERT_INCIDENT_OPENED, in, 0, now,
		    sc->host);
		int known;

		/*
		 * Closed: only an incident whose opening was told (not those
		 * closed before this version, or while bounced was down for days).
		 */
		if (!in->open) {
			known = store_alert_known(s, opened->id);
			store_alert_free(opened);
			if (known == 1 && scan_add(sc, s, alert_incident(ALERT_INCIDENT_CLOSED, in, 0,
			    now, sc->host)) < 0)
				goto out;
			if (known < 0)
				goto out;
			continue;
		}
		if (scan_add(sc, s, opened) < 0)
			goto out;
		for (uint64_t t = sc->grew; t > 0 && t <= in->count && t <= UINT_MAX / 10; t *= 10)
			if (scan_add(sc, s, alert_incident(ALERT_INCIDENT_GREW, in, (unsigned)t, now,
			    sc->host)) < 0)
				goto out;
	}
	for (guint i = incidents->len; i > 0; i--)
		if (((struct store_incident *)incidents->pdata[i - 1])->open)
			g_ptr_array_add(sc->open, g_ptr_array_steal_index(incidents, i - 1));
	if (sc->surge_min > 0 && store_alert_surges(s, (int64_t)now - sc->surge_window,
	    sc->surge_min, surges) == -1)
		goto out;
	for (guint i = 0; i < surges->len; i++) {
		const struct store_count *c = surges->pdata[i];
		int complaint = g_str_has_prefix(c->name, "complaint:");
		const char *sender = strchr(c->name, ':') + 1;
		struct store_alert *al = alert_new(complaint ? ALERT_SURGE_COMPLAINT :
		    ALERT_SURGE_HARD, sender, now);
		GString *b;

		alert_id(al->id, "%s|%s|%" G_GINT64_FORMAT, al->kind, sender,
		    (int64_t)now / sc->surge_window);
		b = body_start(al, sc->host);
		g_string_append_printf(b, ",\"recipients\":%" G_GUINT64_FORMAT ",\"window\":%"
		    G_GINT64_FORMAT "}", c->n, sc->surge_window);
		al->body = g_string_free(b, FALSE);
		if (scan_add(sc, s, al) < 0)
			goto out;
	}
	if (store_alert_due(s, now, ALERT_DUE_MAX, sc->due) == -1)
		goto out;
	ret = 0;
out:
	for (guint i = 0; i < surges->len; i++) {
		struct store_count *c = surges->pdata[i];

		g_free(c->name);
		g_free(c);
	}
	g_ptr_array_free(surges, TRUE);
	g_ptr_array_free(incidents, TRUE);
	return ret;
}

static void
alert_scan_done(struct writer_job *job)
{
	struct alert_scan *sc = (struct alert_scan *)job;
	struct alerts *a = sc->a;

	for (guint i = 0; i < sc->added->len; i++) {
		const struct store_alert *al = sc->added->pdata[i];

		for (int k = 0; k < ALERT_KIND_COUNT; k++)
			if (strcmp(al->kind, kind_names[k]) == 0)
				a->events[k]++;
		if (!g_str_has_prefix(al->kind, "health_")) {  /* logged when noted */
			char esc[512];

			log_info("event=alert id=%s kind=%s subject=%s incident=%" G_GINT64_FORMAT,
			    al->id, al->kind, log_escape(al->subject, strlen(al->subject), esc,
			    sizeof(esc)), al->incident_id);
		}
		if (strcmp(al->kind, kind_names[ALERT_TEST]) != 0 &&
		    !g_str_has_prefix(al->kind, "health_"))
			a->hour_events++;
	}
	if (job->rc == 0) {
		g_ptr_array_free(a->open, TRUE);
		a->open = g_steal_pointer(&sc->open);
		/* stopping: what is due stays pending in the store for the next start */
		for (guint i = 0; i < sc->due->len && !a->d->stopping; i++)
			alert_dispatch(a, g_steal_pointer(&sc->due->pdata[i]));
	} else {
		/* keep what was not recorded, for the next scan */
		while (sc->health->len > 0 && a->health->len < ALERT_HEALTH_MAX)
			g_ptr_array_add(a->health, g_ptr_array_steal_index(sc->health, 0));
		log_debug("event=alert_scan_failed error=\"%s\"", job->err);
	}
	g_ptr_array_free(sc->health, TRUE);
	g_ptr_array_free(sc->added, TRUE);
	if (sc->open != NULL)
		g_ptr_array_free(sc->open, TRUE);
	g_ptr_array_free(sc->due, TRUE);
	g_free(sc);
	a->scanning = 0;
	if (a->rescan)
		alert_scan_submit(a);
}

/* ---- delivery ---------------------------------------------------------------- */

/* The key of a delivery under way (caller frees). */
static char *
inflight_key(const char *id, const char *sink)
{
	return g_strdup_printf("%s/%s", id, sink);
}

static void
alert_dispatch(struct alerts *a, struct store_alert *al)
{
	char *key = inflight_key(al->id, al->sink);

	if (g_hash_table_contains(a->inflight, key)) {
		g_free(key);
		store_alert_free(al);
		return;
	}
	g_hash_table_add(a->inflight, key);
	if (strcmp(al->sink, SINK_WEBHOOK) == 0 && a->multi != NULL)
		alert_webhook(a, al);
	else if (strcmp(al->sink, SINK_MAIL) == 0 && a->d->cfg->alerts.mail_to != NULL)
		alert_mail(a, al);
	else
		alert_result(a, al, -1, "the sink is not set up in this process (alerts changes "
		    "need a restart)");
}

static void
alert_mark_done(struct writer_job *job)
{
	struct alert_mark *mk = (struct alert_mark *)job;
	char *key = inflight_key(mk->id, mk->sink);

	if (job->rc != 0)
		log_warnx("event=alert_mark_failed id=%s sink=%s error=\"%s\"", mk->id, mk->sink,
		    job->err);
	/*
	 * Under way until the store has the result: a scan that read the
	 * delivery as pending before the mark must not start it again.
	 */
	g_hash_table_remove(mk->a->inflight, key);
	g_free(key);
	g_free(mk);
}

static int
alert_mark_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct alert_mark *mk = arg;

	(void)now;
	(void)changes;
	(void)err;
	return store_alert_mark(s, mk->id, mk->sink, mk->state, mk->next_at,
	    mk->error[0] != '\0' ? mk->error : NULL);
}

/*
 * One attempt is over: ok 1 sent, 0 retry later, -1 give up.  Takes al.
 */
static void
alert_result(struct alerts *a, struct store_alert *al, int ok, const char *error)
{
	const struct config *cfg = a->d->cfg;
	struct alert_mark *mk = g_new0(struct alert_mark, 1);
	int64_t now = (int64_t)time(NULL);
	int sink = strcmp(al->sink, SINK_MAIL) == 0;

	g_strlcpy(mk->id, al->id, sizeof(mk->id));
	g_strlcpy(mk->sink, al->sink, sizeof(mk->sink));
	if (error != NULL)
		g_strlcpy(mk->error, error, sizeof(mk->error));
	if (ok == 0 && now - al->at > ALERT_GIVE_UP)
		ok = -1;
	if (ok == 1) {
		mk->state = STORE_ALERT_SENT;
		mk->next_at = now;
		log_info("event=alert_sent id=%s kind=%s sink=%s attempts=%u", al->id, al->kind,
		    al->sink, al->attempts + 1);
	} else if (ok == 0) {
		unsigned shift = MIN(al->attempts, 20u);
		uint64_t delay = (uint64_t)cfg->alerts.webhook_retry_min << shift;

		mk->state = STORE_ALERT_PENDING;
		mk->next_at = now + (int64_t)MIN(delay, (uint64_t)cfg->alerts.webhook_retry_max);
		log_warnx("event=alert_retry id=%s kind=%s sink=%s attempts=%u next_in=%" G_GINT64_FORMAT
		    " error=\"%s\"", al->id, al->kind, al->sink, al->attempts + 1, mk->next_at - now,
		    error != NULL ? error : "");
	} else {
		mk->state = STORE_ALERT_FAILED;
		mk->next_at = now;
		log_error("event=alert_failed id=%s kind=%s sink=%s attempts=%u error=\"%s\"", al->id,
		    al->kind, al->sink, al->attempts + 1, error != NULL ? error : "");
	}
	a->deliveries[sink][mk->state]++;
	mk->a = a;
	store_alert_free(al);
	mk->job.fn = alert_mark_fn;
	mk->job.arg = mk;
	mk->job.done = alert_mark_done;
	writer_submit(a->d->writer, &mk->job);
}

static size_t
alert_curl_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

static void
alert_webhook(struct alerts *a, struct store_alert *al)
{
	const struct config *cfg = a->d->cfg;
	struct alert_xfer *x = g_new0(struct alert_xfer, 1);
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, a->secret, a->secret_len);
	char *hdr;

	x->a = a;
	x->al = al;
	g_hmac_update(h, (const guchar *)al->body, (gssize)strlen(al->body));
	hdr = g_strdup_printf("X-Bounced-Signature: sha256=%s", g_hmac_get_string(h));
	g_hmac_unref(h);
	x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
	x->hdrs = curl_slist_append(x->hdrs, hdr);
	g_free(hdr);
	hdr = g_strdup_printf("X-Bounced-Event: %s", al->id);
	x->hdrs = curl_slist_append(x->hdrs, hdr);
	g_free(hdr);
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	x->easy = curl_easy_init();
	if (x->easy == NULL || x->hdrs == NULL) {
		curl_slist_free_all(x->hdrs);
		if (x->easy != NULL)
			curl_easy_cleanup(x->easy);
		g_free(x);
		alert_result(a, al, 0, "out of memory");
		return;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, cfg->alerts.webhook_url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, al->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(al->body));
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "bounced");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, (long)cfg->alerts.webhook_timeout);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, alert_curl_discard);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (cfg->alerts.webhook_ca_file != NULL)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, cfg->alerts.webhook_ca_file);
	if (curl_multi_add_handle(a->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->hdrs);
		g_free(x);
		alert_result(a, al, 0, "libcurl refused the transfer");
		return;
	}
	a->xfers = g_slist_prepend(a->xfers, x);
}

static int
alert_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct alerts *a = userp;
	struct event *ev = sockp;
	short flags;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(a->multi, fd, NULL);
		return 0;
	}
	flags = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ev == NULL) {
		ev = event_new(a->d->base, fd, flags, alert_curl_event, a);
		if (ev == NULL)
			return -1;
		curl_multi_assign(a->multi, fd, ev);
	} else {
		event_del(ev);
		event_assign(ev, a->d->base, fd, flags, alert_curl_event, a);
	}
	event_add(ev, NULL);
	return 0;
}

static int
alert_curl_timer(CURLM *m, long ms, void *userp)
{
	struct alerts *a = userp;
	struct timeval tv;

	(void)m;
	if (ms < 0) {
		evtimer_del(a->curl_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->curl_timer, &tv);
	return 0;
}

static void
alert_curl_event(evutil_socket_t fd, short what, void *arg)
{
	struct alerts *a = arg;
	int running;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(a->multi, fd, flags, &running);
	alert_curl_done(a);
}

static void
alert_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct alerts *a = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	alert_curl_done(a);
}

/* Finished transfers: their results. */
static void
alert_curl_done(struct alerts *a)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(a->multi, &left)) != NULL) {
		struct alert_xfer *x = NULL;
		long code = 0;
		char err[320];
		int ok;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result != CURLE_OK) {
			g_snprintf(err, sizeof(err), "%s", x->errbuf[0] != '\0' ? x->errbuf :
			    curl_easy_strerror(msg->data.result));
			ok = 0;
		} else if (code >= 200 && code < 300) {
			err[0] = '\0';
			ok = 1;
		} else {
			g_snprintf(err, sizeof(err), "HTTP %ld", code);
			ok = 0;
		}
		a->xfers = g_slist_remove(a->xfers, x);
		curl_multi_remove_handle(a->multi, x->easy);
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->hdrs);
		alert_result(a, x->al, ok, ok ? NULL : err);
		g_free(x);
	}
}

/* Printable ASCII only (a header or a line of text from mail). */
static void
mail_text(GString *out, const char *v, size_t max)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p && n < max; p++, n++)
		g_string_append_c(out, *p >= 0x20 && *p < 0x7f ? (char)*p : '?');
}

static void
alert_mail(struct alerts *a, struct store_alert *al)
{
	const struct config *cfg = a->d->cfg;
	const char *to = cfg->alerts.mail_to;
	const char *from = cfg->alerts.mail_from != NULL && cfg->alerts.mail_from[0] != '\0' ?
	    cfg->alerts.mail_from : "<>";
	char norm[STORE_ADDR_MAX + 1], err[256], date[64];
	const char *argv[] = { cfg->alerts.mail_sendmail, "-i", "-f", from, "--", to, NULL };
	struct store_verdict v;
	struct alert_child *c;
	GError *e = NULL;
	GString *m;
	GPid pid;
	gint in;
	int len;
	time_t now = time(NULL);
	struct tm tm;

	len = store_addr_normalize(to, strlen(to), norm, err);
	if (len > 0 && store_check(a->d->idx, norm, (size_t)len, now, &v) == 1) {
		alert_result(a, al, -1, "the admin address is suppressed by bounced: not sent "
		    "through a suppressed path");
		return;
	}
	alert_hour(a, (int64_t)now);
	if (a->hour_mails >= cfg->alerts.mail_max_per_hour) {
		alert_result(a, al, 0, "mail.max_per_hour reached");
		return;
	}
	if (!g_spawn_async_with_pipes(NULL, (gchar **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
	    G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, &in, NULL, NULL, &e)) {
		g_snprintf(err, sizeof(err), "%s: %s", cfg->alerts.mail_sendmail, e->message);
		g_error_free(e);
		alert_result(a, al, 0, err);
		return;
	}
	a->hour_mails++;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	m = g_string_new(NULL);
	g_string_append_printf(m, "From: bounced <%s>\nTo: <%s>\nDate: %s\n"
	    "Message-ID: <alert-%s-%" G_GINT64_FORMAT "@", strcmp(from, "<>") == 0 ?
	    "MAILER-DAEMON" : from, to, date, al->id, (int64_t)now);
	mail_text(m, a->d->hostname, 255);
	g_string_append(m, ">\nAuto-Submitted: auto-generated\nX-Bounced-Event: ");
	g_string_append_printf(m, "%s\nSubject: [bounced] %s: ", al->id, al->kind);
	mail_text(m, al->subject, 200);
	g_string_append(m, "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n");
	g_string_append(m, "bounced on ");
	mail_text(m, a->d->hostname, 255);
	g_string_append_printf(m, " reports %s about ", al->kind);
	mail_text(m, al->subject, 200);
	g_string_append(m, ".\nOne mail per incident; `bouncectl incidents` and `bouncectl "
	    "alerts` say more.\n\nThe event (JSON):\n");
	mail_text(m, al->body, ALERT_MAIL_MAX - 2048);
	g_string_append(m, "\n");
	/* under a pipe's capacity: the write does not block */
	fcntl(in, F_SETFL, O_NONBLOCK);
	if (write(in, m->str, m->len) != (ssize_t)m->len)
		log_warnx("event=alert_mail_short_write id=%s", al->id);
	close(in);
	g_string_free(m, TRUE);
	c = g_new0(struct alert_child, 1);
	c->pid = pid;
	c->al = al;
	a->children = g_slist_prepend(a->children, c);
}

/* sendmail processes that ended: their results. */
static void
alert_reap(struct alerts *a)
{
	GSList *l = a->children;

	while (l != NULL) {
		struct alert_child *c = l->data;
		GSList *next = l->next;
		int status;
		pid_t r = waitpid(c->pid, &status, WNOHANG);

		if (r == c->pid || (r == -1 && errno == ECHILD)) {
			char err[64];
			int ok = r == c->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;

			if (!ok)
				g_snprintf(err, sizeof(err), "sendmail exit status %d",
				    r == c->pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			a->children = g_slist_delete_link(a->children, l);
			alert_result(a, c->al, ok, ok ? NULL : err);
			g_free(c);
		}
		l = next;
	}
}

/* ---- metrics -------------------------------------------------------------- */

void
alerts_metrics(const struct alerts *a, GString *out)
{
	static const char *const sinks[] = { SINK_WEBHOOK, SINK_MAIL };

	g_string_append(out, "# HELP bounced_alert_incident_open An open provider incident (1), "
	    "labelled with its provider and id; absent once it closed.\n"
	    "# TYPE bounced_alert_incident_open gauge\n");
	for (guint i = 0; a != NULL && i < a->open->len; i++) {
		const struct store_incident *in = a->open->pdata[i];

		g_string_append(out, "bounced_alert_incident_open{provider=");
		metrics_label(out, in->provider);
		g_string_append_printf(out, ",incident=\"%" G_GINT64_FORMAT "\"} 1\n", in->id);
	}
	g_string_append(out, "# HELP bounced_alert_events_total Alert events recorded by this "
	    "process, by kind.\n# TYPE bounced_alert_events_total counter\n");
	for (int k = 0; k < ALERT_KIND_COUNT; k++)
		g_string_append_printf(out, "bounced_alert_events_total{kind=\"%s\"} %"
		    G_GUINT64_FORMAT "\n", kind_names[k], a != NULL ? a->events[k] : 0);
	g_string_append(out, "# HELP bounced_alert_deliveries_total Delivery attempts of alerts "
	    "by sink and result (sent, pending: to be retried, failed: given up).\n"
	    "# TYPE bounced_alert_deliveries_total counter\n");
	for (int s = 0; s < 2; s++)
		for (int r = 0; r < STORE_ALERT_STATE_COUNT; r++)
			g_string_append_printf(out, "bounced_alert_deliveries_total{sink=\"%s\","
			    "result=\"%s\"} %" G_GUINT64_FORMAT "\n", sinks[s],
			    store_alert_state_name((enum store_alert_state)r),
			    a != NULL ? a->deliveries[s][r] : 0);
}
