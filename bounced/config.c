/* SPDX-License-Identifier: MIT */
/*
 * config.c - loads the YAML configuration into a struct config.
 *
 * One table, cfg_keys[], lists every key with its type, default, minimum
 * and maximum.  Loading is: built-in defaults (store_policy_default() for the
 * policy, the table's defaults for the rest, parsed by the same code as file
 * values), then the file's document walked against the table.  A mapping is a
 * section when some key starts with its dotted name; "*" rows take any child
 * name (a reason under policy.expiry, a group under policy.provider_groups).
 * The first error stops the load and names FILE:LINE: KEY.  Nothing is
 * applied until the whole file has been read and cross-checked, so a reload
 * with a bad file keeps the running config.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <yaml.h>

#include "build-config.h"
#include "config.h"
#include "bounds.h"
#include "trust.h"

#define CFG_LIST_MAX      1024      /* items in one YAML list */
#define CFG_GROUPS_MAX    64        /* provider groups */
#define CFG_NAME_MAX      128       /* a dotted key name */

enum cfg_type {
	CFG_STRING,     /* free text; empty or null = unset */
	CFG_WORD,       /* non-empty, no white space */
	CFG_PATH,       /* file name; relative to the config file's directory */
	CFG_BOOL,       /* true/false/yes/no/on/off */
	CFG_UINT,       /* unsigned, min..max */
	CFG_SIZE,       /* size_t bytes, "64M" */
	CFG_SECONDS,    /* unsigned seconds, "5m" */
	CFG_DURATION,   /* int64_t seconds, "48h" */
	CFG_TTL,        /* int64_t seconds or "never" (0) */
	CFG_MODE,       /* octal permission bits, "0660" */
	CFG_LOG_TO,     /* stderr | syslog */
	CFG_LEVEL,      /* error | warn | info | debug */
	CFG_UIDS,       /* list of uids or user names */
	CFG_DELIMS,     /* a set of delimiter characters, may be empty */
	CFG_VERP,       /* two delimiter characters */
	CFG_EXPIRY,     /* policy.expiry.<reason>: TTL */
	CFG_GROUP_LIST, /* policy.provider_groups.<name>: list of domains */
	CFG_TRUST,      /* signed | signed-or-sent | any */
	CFG_DOMAINS,    /* list of domain names */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	const char *def;        /* parsed like a file value; NULL = leave as is */
	int64_t min, max;
};

/* Storage the policy points into. */
struct cfg_priv {
	GPtrArray *group_names;         /* char * */
	GPtrArray *group_domains;       /* GPtrArray * of char * */
	struct store_provider_group *groups;
	const char ***domain_vecs;
	GHashTable *seen;               /* dotted name -> line, for cfg_check_system() */
};

/* The state of one load. */
struct cfg_loader {
	struct config *cfg;
	const char *name;               /* file name for messages */
	const char *base_dir;           /* relative paths start here */
	const struct cfg_defaults *dflt;
	yaml_document_t *doc;
	GHashTable *seen;               /* dotted names set by the file */
	char *err;
	unsigned long line;             /* of the node being read */
	const char *key;                /* dotted name being read */
};

#define OFF(field) offsetof(struct config, field)
#define SOCKET_KEYS(sec, dflt_sock, dflt_mode, dflt_group, conns, conns_max, idle) \
	{ #sec ".socket", CFG_PATH, OFF(sec.sock.path), dflt_sock, 0, 0 }, \
	{ #sec ".mode", CFG_MODE, OFF(sec.sock.mode), dflt_mode, 0, 07777 }, \
	{ #sec ".group", CFG_STRING, OFF(sec.sock.group), dflt_group, 0, 0 }, \
	{ #sec ".max_connections", CFG_UINT, OFF(sec.sock.max_connections), conns, 1, conns_max }, \
	{ #sec ".idle_timeout", CFG_SECONDS, OFF(sec.sock.idle_timeout), idle, 1, 86400 }

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct cfg_key cfg_keys[] = {
	{ "user", CFG_WORD, OFF(user), NULL, 0, 0 },
	{ "group", CFG_WORD, OFF(group), NULL, 0, 0 },

	{ "log.to", CFG_LOG_TO, OFF(log_to_syslog), "stderr", 0, 0 },
	{ "log.level", CFG_LEVEL, OFF(log_level), "info", 0, 0 },
	{ "log.hash_addresses", CFG_BOOL, OFF(log_hash_addresses), "false", 0, 0 },

	SOCKET_KEYS(lmtp, "$run/lmtp.sock", "0660", "postfix", "32", LIMIT_LMTP_CONNS,
	    STR(LIMIT_LMTP_IDLE)),
	{ "lmtp.hostname", CFG_WORD, OFF(lmtp.hostname), NULL, 0, 0 },
	{ "lmtp.max_message_size", CFG_SIZE, OFF(lmtp.max_message_size), "64M", 1024,
	    LIMIT_LMTP_MESSAGE },
	{ "lmtp.keep_bytes", CFG_SIZE, OFF(lmtp.keep_bytes), "4M", 1024, LIMIT_LMTP_KEEP },
	{ "lmtp.max_recipients", CFG_UINT, OFF(lmtp.max_recipients), "1000", 1, LIMIT_LMTP_RCPTS },
	{ "lmtp.max_bad_commands", CFG_UINT, OFF(lmtp.max_bad_commands), "20", 1,
	    LIMIT_LMTP_BADCMDS },

	SOCKET_KEYS(query, "$run/query.sock", "0666", NULL, "1024", LIMIT_QUERY_CONNS,
	    STR(LIMIT_QUERY_IDLE)),

	SOCKET_KEYS(socketmap, "$run/socketmap.sock", "0666", NULL, "256", LIMIT_QUERY_CONNS,
	    STR(LIMIT_QUERY_IDLE)),
	{ "socketmap.name", CFG_WORD, OFF(socketmap.name), "suppressed", 0, 0 },
	{ "socketmap.transport_name", CFG_WORD, OFF(socketmap.transport_name),
	    "suppressed_transport", 0, 0 },
	{ "socketmap.recipient_delimiter", CFG_DELIMS, OFF(socketmap.recipient_delimiter), "+",
	    0, 0 },

	SOCKET_KEYS(policy_service, "$run/policy.sock", "0666", NULL, "256", LIMIT_QUERY_CONNS,
	    STR(LIMIT_QUERY_IDLE)),
	{ "policy_service.fail_closed", CFG_BOOL, OFF(policy_service.fail_closed), "false", 0, 0 },

	SOCKET_KEYS(admin, "$run/admin.sock", "0600", NULL, "8", LIMIT_ADMIN_CONNS, "3600"),
	{ "admin.allow_uids", CFG_UIDS, OFF(admin.allow_uids), "0", 0, 0 },

	{ "store.path", CFG_PATH, OFF(store.path), "$state/bounced.db", 0, 0 },
	{ "store.secret_file", CFG_PATH, OFF(store.secret_file), "$state/secret", 0, 0 },
	{ "store.busy_timeout_ms", CFG_UINT, OFF(store.busy_timeout_ms), "2000", 0, 60000 },
	{ "store.cache_kib", CFG_UINT, OFF(store.cache_kib), "2048", 64, 1048576 },
	{ "store.batch_max", CFG_UINT, OFF(store.batch_max), "256", 1, 4096 },
	{ "store.commit_delay_us", CFG_UINT, OFF(store.commit_delay_us), "1000", 0, 100000 },

	{ "verp.enabled", CFG_BOOL, OFF(verp.enabled), "true", 0, 0 },
	{ "verp.delimiters", CFG_VERP, OFF(verp.delimiters), "+=", 0, 0 },

	{ "trust.mode", CFG_TRUST, OFF(trust.mode), "signed", 0, 0 },
	{ "trust.domains", CFG_DOMAINS, OFF(trust.domains), NULL, 0, 0 },
	{ "trust.validity", CFG_DURATION, OFF(trust.validity), "7d", 86400, 365 * 86400 },
	/* default: beside store.secret_file (cfg_finish) */
	{ "trust.keys_file", CFG_PATH, OFF(trust.keys_file), NULL, 0, 0 },
	{ "trust.sign_name", CFG_WORD, OFF(trust.sign_name), "sign", 0, 0 },
	{ "logsource.type", CFG_WORD, OFF(logsource.type), "none", 0, 0 },
	{ "logsource.path", CFG_PATH, OFF(logsource.path), NULL, 0, 0 },
	{ "logsource.unit", CFG_WORD, OFF(logsource.unit), "postfix", 0, 0 },
	{ "logsource.sent_ttl", CFG_DURATION, OFF(logsource.sent_ttl), "7d", 3600, 366 * 86400 },
	{ "logsource.sent_max", CFG_UINT, OFF(logsource.sent_max), "1000000", 1000, 100000000 },

	{ "metrics.http", CFG_STRING, OFF(metrics.http), NULL, 0, 0 },
	{ "metrics.allow_non_loopback", CFG_BOOL, OFF(metrics.allow_non_loopback), "false", 0, 0 },

	/* alerts (issue 17; bounced/alert.h) */
	{ "alerts.max_per_hour", CFG_UINT, OFF(alerts.max_per_hour), "60", 1, 100000 },
	{ "alerts.incident_grew", CFG_UINT, OFF(alerts.incident_grew), "100", 2, 1000000 },
	{ "alerts.surge.threshold", CFG_UINT, OFF(alerts.surge_threshold), "50", 2, 10000000 },
	{ "alerts.surge.window", CFG_DURATION, OFF(alerts.surge_window), "1h", 60, 7 * 86400 },
	{ "alerts.webhook.url", CFG_WORD, OFF(alerts.webhook_url), NULL, 0, 0 },
	{ "alerts.webhook.secret_file", CFG_PATH, OFF(alerts.webhook_secret_file), NULL, 0, 0 },
	{ "alerts.webhook.ca_file", CFG_PATH, OFF(alerts.webhook_ca_file), NULL, 0, 0 },
	{ "alerts.webhook.timeout", CFG_SECONDS, OFF(alerts.webhook_timeout), "10", 1, 300 },
	{ "alerts.webhook.retry_min", CFG_SECONDS, OFF(alerts.webhook_retry_min), "5", 1, 3600 },
	{ "alerts.webhook.retry_max", CFG_SECONDS, OFF(alerts.webhook_retry_max), "600", 1,
	    86400 },
	{ "alerts.mail.to", CFG_WORD, OFF(alerts.mail_to), NULL, 0, 0 },
	{ "alerts.mail.from", CFG_STRING, OFF(alerts.mail_from), NULL, 0, 0 },
	{ "alerts.mail.sendmail", CFG_PATH, OFF(alerts.mail_sendmail), "/usr/sbin/sendmail", 0, 0 },
	{ "alerts.mail.max_per_hour", CFG_UINT, OFF(alerts.mail_max_per_hour), "10", 1, 10000 },

	/* policy: the defaults are store_policy_default()'s */
	{ "policy.soft.threshold", CFG_UINT, OFF(policy.soft_threshold), NULL, 1, 1000 },
	{ "policy.soft.min_span", CFG_DURATION, OFF(policy.soft_min_span), NULL, 0, 366 * 86400 },
	{ "policy.soft.stale", CFG_DURATION, OFF(policy.soft_stale), NULL, 3600, 366 * 86400 },
	{ "policy.delivered_resets", CFG_BOOL, OFF(policy.delivered_resets), NULL, 0, 0 },
	{ "policy.expiry.*", CFG_EXPIRY, 0, NULL, 0, 0 },
	{ "policy.raw_retention", CFG_TTL, OFF(policy.raw_retention), NULL, 3600, INT64_MAX },
	{ "policy.incident_quiet", CFG_DURATION, OFF(policy.incident_quiet), NULL, 1,
	    366 * 86400 },
	{ "policy.incident_min_messages", CFG_UINT, OFF(policy.incident_min_messages), NULL, 1,
	    1000 },
	{ "policy.incident_window", CFG_DURATION, OFF(policy.incident_window), NULL, 60,
	    366 * 86400 },
	{ "policy.provider_groups.*", CFG_GROUP_LIST, 0, NULL, 0, 0 },
};

static int cfg_fail(struct cfg_loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const struct cfg_key *cfg_find(const char *name);
static int cfg_is_section(const char *name);
static int cfg_set(struct cfg_loader *l, const struct cfg_key *k, const char *name,
    yaml_node_t *node);
static int cfg_set_scalar(struct cfg_loader *l, const struct cfg_key *k, const char *name,
    const char *v);
static int cfg_walk(struct cfg_loader *l, yaml_node_t *map, const char *prefix);
static int cfg_finish(struct cfg_loader *l);
static struct config *cfg_new(const struct cfg_defaults *dflt, const char *base_dir,
    struct cfg_loader *l);
static char *cfg_path(struct cfg_loader *l, const char *v);
static int cfg_is_null(yaml_node_t *n);
static int cfg_parse_uint(const char *s, int64_t *n_r);
static void cfg_priv_free(struct cfg_priv *p);
static int cfg_fail_at(struct cfg_loader *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- small parsers --------------------------------------------------- */

int
cfg_parse_duration(const char *s, int never_ok, int64_t *secs_r)
{
	static const struct { char unit; int64_t mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	int64_t n = 0, mult = 1;
	const char *p = s;

	if (never_ok && strcmp(s, "never") == 0) {
		*secs_r = 0;
		return 1;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - 9) / 10)
			return 0;
		n = n * 10 + (*p - '0');
	}
	if (*p != '\0') {
		size_t i;

		for (i = 0; i < G_N_ELEMENTS(units); i++)
			if (*p == units[i].unit)
				break;
		if (i == G_N_ELEMENTS(units) || p[1] != '\0')
			return 0;
		mult = units[i].mult;
	}
	if (n > INT64_MAX / mult)
		return 0;
	*secs_r = n * mult;
	return 1;
}

/* Decimal digits only, at most 18 of them.  1 / 0. */
static int
cfg_parse_uint(const char *s, int64_t *n_r)
{
	int64_t n = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 18)
			return 0;
		n = n * 10 + (s[i] - '0');
	}
	if (i == 0)
		return 0;
	*n_r = n;
	return 1;
}

int
cfg_parse_size(const char *s, size_t *bytes_r)
{
	uint64_t n = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': mult = 1024; p++; break;
	case 'm': case 'M': mult = 1024 * 1024; p++; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; p++; break;
	default: return 0;
	}
	if (*p == 'i' || *p == 'B') /* "64MiB", "64MB" */
		p += (*p == 'i' && p[1] == 'B') ? 2 : 1;
	if (*p != '\0' || n > SIZE_MAX / mult)
		return 0;
	*bytes_r = (size_t)(n * mult);
	return 1;
}

int
cfg_parse_listen(const char *s, char host_r[64], unsigned *port_r, int *loopback_r,
    char err[256])
{
	const char *colon, *host = s, *port;
	size_t hlen;
	int64_t p;
	struct in_addr a4;
	struct in6_addr a6;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, 256, "\"%s\" is not [IPv6]:port", s);
			return 0;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon) {
			snprintf(err, 256, "\"%s\" is not host:port (e.g. 127.0.0.1:9187)", s);
			return 0;
		}
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (!cfg_parse_uint(port, &p) || p < 1 || p > 65535) {
		snprintf(err, 256, "\"%s\": the port must be a number from 1 to 65535", s);
		return 0;
	}
	if (hlen == 0 || hlen >= 64) {
		snprintf(err, 256, "\"%s\": no host", s);
		return 0;
	}
	memcpy(host_r, host, hlen);
	host_r[hlen] = '\0';
	if (strcmp(host_r, "localhost") == 0)
		g_strlcpy(host_r, "127.0.0.1", 64);
	if (s[0] != '[' && inet_pton(AF_INET, host_r, &a4) == 1) {
		*loopback_r = (ntohl(a4.s_addr) >> 24) == 127;
	} else if (s[0] == '[' && inet_pton(AF_INET6, host_r, &a6) == 1) {
		*loopback_r = IN6_IS_ADDR_LOOPBACK(&a6);
	} else {
		snprintf(err, 256, "\"%s\": the host must be a numeric address or localhost", s);
		return 0;
	}
	*port_r = (unsigned)p;
	return 1;
}

/* ---- the table -------------------------------------------------------- */

static const struct cfg_key *
cfg_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cfg_keys); i++) {
		const char *k = cfg_keys[i].name;
		size_t klen = strlen(k);

		if (strcmp(k, name) == 0)
			return &cfg_keys[i];
		/* "a.b.*" takes one more name component */
		if (klen > 2 && k[klen - 1] == '*' && strncmp(k, name, klen - 1) == 0 &&
		    name[klen - 1] != '\0' && strchr(name + klen - 1, '.') == NULL)
			return &cfg_keys[i];
	}
	return NULL;
}

static int
cfg_is_section(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < G_N_ELEMENTS(cfg_keys); i++) {
		const char *k = cfg_keys[i].name;

		if (strncmp(k, name, len) == 0 && k[len] == '.')
			return 1;
	}
	return 0;
}

static int
cfg_fail(struct cfg_loader *l, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->key != NULL)
		snprintf(l->err, 512, "%s:%lu: %s: %s", l->name, l->line, l->key, msg);
	else
		snprintf(l->err, 512, "%s:%lu: %s", l->name, l->line, msg);
	return -1;
}

/* A cross-check failure: names the line where key was set, if it was. */
static int
cfg_fail_at(struct cfg_loader *l, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->key = key;
	l->line = GPOINTER_TO_SIZE(g_hash_table_lookup(l->seen, key));
	return cfg_fail(l, "%s", msg);
}

static int
cfg_is_null(yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static char *
cfg_path(struct cfg_loader *l, const char *v)
{
	if (strncmp(v, "$state/", 7) == 0)
		return g_build_filename(l->dflt->state_dir, v + 7, NULL);
	if (strncmp(v, "$run/", 5) == 0)
		return g_build_filename(l->dflt->run_dir, v + 5, NULL);
	if (g_path_is_absolute(v))
		return g_strdup(v);
	return g_build_filename(l->base_dir, v, NULL);
}

/* Sets one key from a scalar value (file or built-in default). */
static int
cfg_set_scalar(struct cfg_loader *l, const struct cfg_key *k, const char *name,
    const char *v)
{
	char *field = (char *)l->cfg + k->off;
	int64_t d;
	size_t sz;

	(void)name;
	switch (k->type) {
	case CFG_STRING:
	case CFG_WORD:
	case CFG_PATH: {
		char **sp = (char **)(void *)field;

		if (k->type == CFG_WORD) {
			if (*v == '\0')
				return cfg_fail(l, "must not be empty");
			for (const char *p = v; *p; p++)
				if (g_ascii_isspace(*p) || (unsigned char)*p < 0x20)
					return cfg_fail(l, "\"%s\" must be one word", v);
		}
		if (k->type == CFG_PATH && *v == '\0')
			return cfg_fail(l, "must not be empty");
		if (k->type == CFG_PATH && strlen(v) >= PATH_MAX)
			return cfg_fail(l, "path too long");
		g_free(*sp);
		*sp = NULL;
		if (*v == '\0')
			return 0;
		*sp = k->type == CFG_PATH ? cfg_path(l, v) : g_strdup(v);
		return 0;
	}
	case CFG_BOOL: {
		static const char *const yes[] = { "true", "yes", "on", "1" };
		static const char *const no[] = { "false", "no", "off", "0" };

		for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
			if (g_ascii_strcasecmp(v, yes[i]) == 0) {
				*(int *)(void *)field = 1;
				return 0;
			}
			if (g_ascii_strcasecmp(v, no[i]) == 0) {
				*(int *)(void *)field = 0;
				return 0;
			}
		}
		return cfg_fail(l, "\"%s\" is not a boolean (true or false)", v);
	}
	case CFG_UINT:
	case CFG_SECONDS:
	case CFG_DURATION:
		if (k->type == CFG_UINT ? !cfg_parse_uint(v, &d) : !cfg_parse_duration(v, 0, &d))
			return cfg_fail(l, k->type == CFG_UINT ? "\"%s\" is not a number" :
			    "\"%s\" is not a duration (e.g. 90s, 15m, 48h, 7d)", v);
		if (d < k->min)
			return cfg_fail(l, "%s is below the minimum %" PRId64, v, k->min);
		if (d > k->max)
			return cfg_fail(l, "%s is above the maximum %" PRId64, v, k->max);
		if (k->type == CFG_DURATION)
			*(int64_t *)(void *)field = d;
		else
			*(unsigned *)(void *)field = (unsigned)d;
		return 0;
	case CFG_TTL:
		if (!cfg_parse_duration(v, 1, &d))
			return cfg_fail(l, "\"%s\" is not a duration (e.g. 30d, 48h) or never", v);
		if (d != 0 && (d < k->min || d > k->max))
			return cfg_fail(l, "%s is out of range (at least %" PRId64 "s, or never)", v,
			    k->min);
		*(int64_t *)(void *)field = d;
		return 0;
	case CFG_SIZE:
		if (!cfg_parse_size(v, &sz))
			return cfg_fail(l, "\"%s\" is not a size (e.g. 4096, 64k, 4M)", v);
		if ((int64_t)sz < k->min)
			return cfg_fail(l, "%s is below the minimum %" PRId64 " bytes", v, k->min);
		if ((int64_t)sz > k->max)
			return cfg_fail(l, "%s is above the maximum %" PRId64 " bytes", v, k->max);
		*(size_t *)(void *)field = sz;
		return 0;
	case CFG_MODE: {
		char *end;
		unsigned long m;

		if (*v < '0' || *v > '7')
			return cfg_fail(l, "\"%s\" is not an octal mode (e.g. \"0660\")", v);
		errno = 0;
		m = strtoul(v, &end, 8);
		if (errno != 0 || *end != '\0' || m > (unsigned long)k->max)
			return cfg_fail(l, "\"%s\" is not an octal mode (e.g. \"0660\")", v);
		if (m & 07000)
			return cfg_fail(l, "%s: setuid, setgid and sticky bits make no sense here", v);
		*(mode_t *)(void *)field = (mode_t)m;
		return 0;
	}
	case CFG_LOG_TO:
		if (strcmp(v, "stderr") == 0)
			*(int *)(void *)field = 0;
		else if (strcmp(v, "syslog") == 0)
			*(int *)(void *)field = 1;
		else
			return cfg_fail(l, "\"%s\" is not stderr or syslog", v);
		return 0;
	case CFG_LEVEL: {
		enum log_level lv;

		if (!log_level_from_name(v, &lv))
			return cfg_fail(l, "\"%s\" is not error, warn, info or debug", v);
		*(enum log_level *)(void *)field = lv;
		return 0;
	}
	case CFG_DELIMS: {
		char **sp = (char **)(void *)field;

		if (strlen(v) > 8)
			return cfg_fail(l, "at most 8 delimiter characters");
		for (const char *p = v; *p; p++)
			if (!g_ascii_ispunct(*p) || *p == '@' || *p == '"')
				return cfg_fail(l, "'%c' cannot be a delimiter", *p);
		g_free(*sp);
		*sp = g_strdup(v);
		return 0;
	}
	case CFG_VERP:
		if (strlen(v) != 2 || !g_ascii_ispunct(v[0]) || !g_ascii_ispunct(v[1]) ||
		    v[0] == v[1] || strchr(v, '@') != NULL || strchr(v, '"') != NULL)
			return cfg_fail(l, "\"%s\" is not two distinct delimiter characters "
			    "(Postfix's default is \"+=\")", v);
		memcpy(field, v, 3);
		return 0;
	case CFG_UIDS: {
		/* a built-in default: one uid */
		uid_t **up = (uid_t **)(void *)field;
		int64_t u;

		if (!cfg_parse_uint(v, &u) || u > INT_MAX)
			return cfg_fail(l, "\"%s\" is not a uid", v);
		g_free(*up);
		*up = g_new(uid_t, 1);
		(*up)[0] = (uid_t)u;
		l->cfg->admin.nallow_uids = 1;
		return 0;
	}
	case CFG_TRUST: {
		enum trust_mode m;

		if (!trust_mode_from_name(v, &m))
			return cfg_fail(l, "\"%s\" is not signed, signed-or-sent or any", v);
		*(int *)(void *)field = (int)m;
		return 0;
	}
	case CFG_EXPIRY:
	case CFG_GROUP_LIST:
	case CFG_DOMAINS:
		break;
	}
	return cfg_fail(l, "internal: no scalar form");
}

/* Sets key k (dotted name) from a YAML node. */
static int
cfg_set(struct cfg_loader *l, const struct cfg_key *k, const char *name, yaml_node_t *node)
{
	struct cfg_priv *priv = l->cfg->priv;

	if (k->type == CFG_UIDS || k->type == CFG_GROUP_LIST || k->type == CFG_DOMAINS) {
		GArray *uids = NULL;
		GPtrArray *doms = NULL;
		yaml_node_item_t *it;
		int n = 0;

		if (node->type == YAML_SCALAR_NODE && cfg_is_null(node) && k->type == CFG_UIDS) {
			g_free(l->cfg->admin.allow_uids);
			l->cfg->admin.allow_uids = NULL;
			l->cfg->admin.nallow_uids = 0;
			return 0;
		}
		if (node->type != YAML_SEQUENCE_NODE)
			return cfg_fail(l, "must be a list, e.g. [%s]",
			    k->type == CFG_UIDS ? "0, 110" : k->type == CFG_DOMAINS ?
			    "bounce.example.com" : "orange.fr, wanadoo.fr");
		if (k->type == CFG_UIDS)
			uids = g_array_new(FALSE, FALSE, sizeof(uid_t));
		else
			doms = g_ptr_array_new_with_free_func(g_free);
		for (it = node->data.sequence.items.start; it < node->data.sequence.items.top;
		    it++) {
			yaml_node_t *in = yaml_document_get_node(l->doc, *it);
			const char *v;

			l->line = in->start_mark.line + 1;
			if (++n > CFG_LIST_MAX) {
				cfg_fail(l, "more than %d items", CFG_LIST_MAX);
				goto list_fail;
			}
			if (in->type != YAML_SCALAR_NODE || cfg_is_null(in)) {
				cfg_fail(l, "list items must be plain values");
				goto list_fail;
			}
			v = (const char *)in->data.scalar.value;
			if (strlen(v) != in->data.scalar.length) {
				cfg_fail(l, "NUL byte in value");
				goto list_fail;
			}
			if (uids != NULL) {
				int64_t u;
				uid_t uid;

				if (cfg_parse_uint(v, &u)) {
					if (u > INT_MAX) {
						cfg_fail(l, "%s is not a uid", v);
						goto list_fail;
					}
					uid = (uid_t)u;
				} else {
					struct passwd *pw = getpwnam(v);

					if (pw == NULL) {
						cfg_fail(l, "no such user \"%s\"", v);
						goto list_fail;
					}
					uid = pw->pw_uid;
				}
				g_array_append_val(uids, uid);
			} else {
				gchar *ascii = g_hostname_to_ascii(v);
				gchar *low;

				if (ascii == NULL || *ascii == '\0' || strchr(ascii, '@') != NULL ||
				    strchr(ascii, ' ') != NULL || ascii[0] == '.') {
					g_free(ascii);
					cfg_fail(l, "\"%s\" is not a domain name", v);
					goto list_fail;
				}
				low = g_ascii_strdown(ascii, -1);
				g_free(ascii);
				for (guint gi = 0; k->type == CFG_GROUP_LIST &&
				    gi < priv->group_domains->len; gi++) {
					GPtrArray *other = g_ptr_array_index(priv->group_domains, gi);

					for (guint di = 0; di < other->len; di++)
						if (strcmp(g_ptr_array_index(other, di), low) == 0) {
							cfg_fail(l, "%s is already in group %s", low,
							    (char *)g_ptr_array_index(priv->group_names, gi));
							g_free(low);
							goto list_fail;
						}
				}
				g_ptr_array_add(doms, low);
			}
		}
		if (uids != NULL) {
			g_free(l->cfg->admin.allow_uids);
			l->cfg->admin.nallow_uids = uids->len;
			l->cfg->admin.allow_uids = (uid_t *)(void *)g_array_free(uids, FALSE);
		} else if (k->type == CFG_DOMAINS) {
			g_strfreev(l->cfg->trust.domains);
			l->cfg->trust.ndomains = doms->len;
			g_ptr_array_add(doms, NULL);
			l->cfg->trust.domains = (char **)g_ptr_array_steal(doms, NULL);
			g_ptr_array_free(doms, TRUE);
		} else {
			if (priv->group_names->len >= CFG_GROUPS_MAX) {
				cfg_fail(l, "more than %d provider groups", CFG_GROUPS_MAX);
				goto list_fail;
			}
			if (doms->len == 0) {
				cfg_fail(l, "a provider group needs at least one domain");
				goto list_fail;
			}
			g_ptr_array_add(priv->group_names, g_strdup(strrchr(name, '.') + 1));
			g_ptr_array_add(priv->group_domains, doms);
		}
		return 0;
list_fail:
		if (uids != NULL)
			g_array_free(uids, TRUE);
		if (doms != NULL)
			g_ptr_array_free(doms, TRUE);
		return -1;
	}

	if (node->type != YAML_SCALAR_NODE)
		return cfg_fail(l, "must be a single value, not a %s",
		    node->type == YAML_MAPPING_NODE ? "mapping" : "list");
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return cfg_fail(l, "NUL byte in value");

	if (k->type == CFG_EXPIRY) {
		const char *what = strrchr(name, '.') + 1;
		enum report_reason r;
		int64_t *ttl;

		if (strcmp(what, "soft") == 0)
			ttl = &l->cfg->policy.ttl_soft;
		else if (strcmp(what, "complaint") == 0)
			ttl = &l->cfg->policy.ttl_complaint;
		else if (report_reason_from_name(what, &r))
			ttl = &l->cfg->policy.ttl_reason[r];
		else
			return cfg_fail(l, "unknown reason \"%s\" (expected soft, complaint or a "
			    "reason such as userunknown, hostunknown)", what);
		if (cfg_is_null(node))
			return cfg_fail(l, "needs a duration or never");
		if (!cfg_parse_duration((const char *)node->data.scalar.value, 1, ttl))
			return cfg_fail(l, "\"%s\" is not a duration (e.g. 30d, 48h) or never",
			    (const char *)node->data.scalar.value);
		if (*ttl != 0 && *ttl < 60)
			return cfg_fail(l, "an expiry under a minute makes no sense");
		return 0;
	}
	if (cfg_is_null(node)) {
		/*
		 * "key:" with no value: the default; a free string (a socket's
		 * group) or a word or path without default (user, logsource.path)
		 * is unset.
		 */
		if (k->type == CFG_STRING || ((k->type == CFG_WORD || k->type == CFG_PATH) &&
		    k->def == NULL)) {
			char **sp = (char **)(void *)((char *)l->cfg + k->off);

			g_free(*sp);
			*sp = NULL;
			return 0;
		}
		if (k->def == NULL)
			return cfg_fail(l, "needs a value");
		return cfg_set_scalar(l, k, name, k->def);
	}
	return cfg_set_scalar(l, k, name, (const char *)node->data.scalar.value);
}

/* Walks one mapping whose dotted name is prefix ("" for the root). */
static int
cfg_walk(struct cfg_loader *l, yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(l->doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(l->doc, pair->value);
		char name[CFG_NAME_MAX + 1];
		const struct cfg_key *k;
		const char *ks;
		int n;

		l->key = NULL;
		l->line = kn->start_mark.line + 1;
		if (kn->type != YAML_SCALAR_NODE)
			return cfg_fail(l, "keys must be plain names");
		ks = (const char *)kn->data.scalar.value;
		if (strlen(ks) != kn->data.scalar.length || *ks == '\0' || strchr(ks, '.') != NULL)
			return cfg_fail(l, "invalid key name");
		n = snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", ks);
		if (n < 0 || (size_t)n >= sizeof(name))
			return cfg_fail(l, "key name too long");
		l->key = name;
		if (g_hash_table_contains(l->seen, name))
			return cfg_fail(l, "duplicate key");
		g_hash_table_insert(l->seen, g_strdup(name), GSIZE_TO_POINTER(l->line));

		k = cfg_find(name);
		if (k != NULL) {
			l->line = vn->start_mark.line + 1;
			if (cfg_set(l, k, name, vn) < 0)
				return -1;
			continue;
		}
		if (cfg_is_section(name)) {
			if (cfg_is_null(vn))
				continue;
			if (vn->type != YAML_MAPPING_NODE)
				return cfg_fail(l, "must be a section (a mapping of keys)");
			if (cfg_walk(l, vn, name) < 0)
				return -1;
			continue;
		}
		return cfg_fail(l, "unknown key");
	}
	return 0;
}

/* Cross-checks, then builds what the policy points to. */
static int
cfg_finish(struct cfg_loader *l)
{
	struct config *c = l->cfg;
	struct cfg_priv *p = c->priv;
	const struct cfg_socket *socks[] = { &c->lmtp.sock, &c->query.sock, &c->socketmap.sock,
	    &c->policy_service.sock, &c->admin.sock };
	static const char *const sock_names[] = { "lmtp", "query", "socketmap", "policy_service",
	    "admin" };

	if (c->lmtp.keep_bytes > c->lmtp.max_message_size)
		return cfg_fail_at(l, "lmtp.keep_bytes", "is larger than lmtp.max_message_size");
	for (size_t i = 0; i < G_N_ELEMENTS(socks); i++) {
		char key[32];

		for (size_t j = i + 1; j < G_N_ELEMENTS(socks); j++)
			if (strcmp(socks[i]->path, socks[j]->path) == 0) {
				snprintf(key, sizeof(key), "%s.socket", sock_names[j]);
				return cfg_fail_at(l, key, "%s is also %s.socket", socks[j]->path,
				    sock_names[i]);
			}
		if (strcmp(socks[i]->path, c->store.path) == 0)
			return cfg_fail_at(l, "store.path", "is also %s.socket", sock_names[i]);
	}
	if (strcmp(c->socketmap.name, c->socketmap.transport_name) == 0)
		return cfg_fail_at(l, "socketmap.transport_name", "must differ from socketmap.name");
	if (strcmp(c->store.path, c->store.secret_file) == 0)
		return cfg_fail_at(l, "store.secret_file", "is also store.path");
	if (c->trust.keys_file == NULL) {
		gchar *dir = g_path_get_dirname(c->store.secret_file);

		c->trust.keys_file = g_build_filename(dir, "signing-keys", NULL);
		g_free(dir);
	}
	if (strcmp(c->trust.keys_file, c->store.path) == 0 ||
	    strcmp(c->trust.keys_file, c->store.secret_file) == 0)
		return cfg_fail_at(l, "trust.keys_file", "is also store.path or store.secret_file");
	if (strcmp(c->trust.sign_name, c->socketmap.name) == 0 ||
	    strcmp(c->trust.sign_name, c->socketmap.transport_name) == 0)
		return cfg_fail_at(l, "trust.sign_name", "must differ from the socketmap's other maps");
	if (c->group != NULL && c->user == NULL)
		return cfg_fail_at(l, "group", "is only used with user");
	if (strcmp(c->logsource.type, "file") == 0) {
		if (c->logsource.path == NULL)
			return cfg_fail_at(l, "logsource.type", "file needs logsource.path (the log to "
			    "follow)");
	} else if (strcmp(c->logsource.type, "none") != 0 &&
	    strcmp(c->logsource.type, "journal") != 0) {
		/* journal: path, when set, is a directory of journal files */
		return cfg_fail_at(l, "logsource.type", "\"%s\" is not none, file or journal",
		    c->logsource.type);
	}
	if (c->alerts.webhook_url != NULL) {
		if (!g_str_has_prefix(c->alerts.webhook_url, "http://") &&
		    !g_str_has_prefix(c->alerts.webhook_url, "https://"))
			return cfg_fail_at(l, "alerts.webhook.url", "%s is not an http:// or https:// "
			    "URL", c->alerts.webhook_url);
		if (c->alerts.webhook_secret_file == NULL)
			return cfg_fail_at(l, "alerts.webhook.url", "needs alerts.webhook.secret_file "
			    "(the key of the signature)");
	}
	if (c->alerts.webhook_retry_min > c->alerts.webhook_retry_max)
		return cfg_fail_at(l, "alerts.webhook.retry_min", "%u is above retry_max %u",
		    c->alerts.webhook_retry_min, c->alerts.webhook_retry_max);
	if (c->alerts.mail_to != NULL && (strchr(c->alerts.mail_to, '@') == NULL ||
	    c->alerts.mail_to[0] == '-'))
		return cfg_fail_at(l, "alerts.mail.to", "%s is not an address", c->alerts.mail_to);
	if (c->alerts.mail_from != NULL && (strpbrk(c->alerts.mail_from, " \t\r\n") != NULL ||
	    c->alerts.mail_from[0] == '-'))
		return cfg_fail_at(l, "alerts.mail.from", "%s is not an address", c->alerts.mail_from);

	if (c->metrics.http != NULL) {
		char err[256];
		int loopback;

		if (!cfg_parse_listen(c->metrics.http, c->metrics.http_host, &c->metrics.http_port,
		    &loopback, err))
			return cfg_fail_at(l, "metrics.http", "%s", err);
		if (!loopback && !c->metrics.allow_non_loopback)
			return cfg_fail_at(l, "metrics.http", "%s is not a loopback address (set "
			    "metrics.allow_non_loopback: true to serve the metrics to the network)",
			    c->metrics.http_host);
	}

	c->lmtp.sock.group_explicit = g_hash_table_contains(l->seen, "lmtp.group");
	c->query.sock.group_explicit = g_hash_table_contains(l->seen, "query.group");
	c->socketmap.sock.group_explicit = g_hash_table_contains(l->seen, "socketmap.group");
	c->policy_service.sock.group_explicit = g_hash_table_contains(l->seen,
	    "policy_service.group");
	c->admin.sock.group_explicit = g_hash_table_contains(l->seen, "admin.group");

	if (g_hash_table_contains(l->seen, "policy.provider_groups") ||
	    p->group_names->len > 0) {
		guint n = p->group_names->len;

		p->groups = g_new0(struct store_provider_group, n ? n : 1);
		p->domain_vecs = g_new0(const char **, n ? n : 1);
		for (guint i = 0; i < n; i++) {
			GPtrArray *d = g_ptr_array_index(p->group_domains, i);

			p->domain_vecs[i] = g_new0(const char *, d->len);
			for (guint j = 0; j < d->len; j++)
				p->domain_vecs[i][j] = g_ptr_array_index(d, j);
			p->groups[i].name = g_ptr_array_index(p->group_names, i);
			p->groups[i].domains = p->domain_vecs[i];
			p->groups[i].ndomains = d->len;
		}
		c->policy.groups = p->groups;
		c->policy.ngroups = n;
	}
	return 0;
}

static struct config *
cfg_new(const struct cfg_defaults *dflt, const char *base_dir, struct cfg_loader *l)
{
	static const struct cfg_defaults builtin = {
		.state_dir = BOUNCED_LOCALSTATEDIR,
		.run_dir = BOUNCED_RUNSTATEDIR,
	};
	struct config *c = g_new0(struct config, 1);
	struct cfg_priv *p = g_new0(struct cfg_priv, 1);

	p->group_names = g_ptr_array_new_with_free_func(g_free);
	p->group_domains = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	c->priv = p;
	store_policy_default(&c->policy);
	/* the built-in groups, if any, stay until the file names its own */
	l->cfg = c;
	l->base_dir = base_dir;
	l->dflt = dflt != NULL ? dflt : &builtin;
	l->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	l->name = l->name != NULL ? l->name : "(built-in)";
	for (size_t i = 0; i < G_N_ELEMENTS(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->def == NULL)
			continue;
		l->key = k->name;
		l->line = 0;
		if (cfg_set_scalar(l, k, k->name, k->def) < 0)
			return c; /* a broken built-in default: l->err tells */
	}
	l->key = NULL;
	l->err[0] = '\0';
	return c;
}

struct config *
cfg_load_buffer(const char *buf, size_t len, const char *name, const char *base_dir,
    const struct cfg_defaults *dflt, char err[512])
{
	struct cfg_loader l = { .name = name, .err = err };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct config *c;
	int rc = -1;

	err[0] = '\0';
	c = cfg_new(dflt, base_dir, &l);
	if (err[0] != '\0')
		goto out;
	if (len > LIMIT_CONFIG_BYTES) {
		snprintf(err, 512, "%s: larger than %u bytes", name, LIMIT_CONFIG_BYTES);
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, 512, "%s: out of memory", name);
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, 512, "%s:%lu: YAML error: %s%s%s", name,
		    (unsigned long)parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "invalid document",
		    parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		goto out;
	}
	l.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || cfg_is_null(root)) {
		rc = 0; /* an empty file: every default */
	} else if (root->type != YAML_MAPPING_NODE) {
		l.line = root->start_mark.line + 1;
		cfg_fail(&l, "the document must be a mapping of keys");
	} else {
		rc = cfg_walk(&l, root, "");
	}
	if (rc == 0) {
		yaml_document_t next;

		/* a second document ("---") would be silently ignored: refuse it */
		if (!yaml_parser_load(&parser, &next)) {
			snprintf(err, 512, "%s:%lu: YAML error: %s", name,
			    (unsigned long)parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "invalid document");
			rc = -1;
		} else {
			if (yaml_document_get_root_node(&next) != NULL) {
				snprintf(err, 512, "%s: only one YAML document is allowed", name);
				rc = -1;
			}
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc == 0)
		rc = cfg_finish(&l);
out:
	((struct cfg_priv *)c->priv)->seen = l.seen;  /* the lines, for cfg_check_system() */
	if (rc < 0) {
		cfg_free(c);
		return NULL;
	}
	c->file = g_strdup(name);
	return c;
}

struct config *
cfg_load(const char *file, const struct cfg_defaults *dflt, char err[512])
{
	struct config *c;
	gchar *buf = NULL, *dir, *abs;
	gsize len = 0;
	GError *gerr = NULL;
	struct stat st;

	if (stat(file, &st) == 0 && st.st_size > (off_t)LIMIT_CONFIG_BYTES) {
		snprintf(err, 512, "%s: larger than %u bytes", file, LIMIT_CONFIG_BYTES);
		return NULL;
	}
	if (!g_file_get_contents(file, &buf, &len, &gerr)) {
		snprintf(err, 512, "%s: %s", file, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	abs = g_canonicalize_filename(file, NULL);
	dir = g_path_get_dirname(abs);
	c = cfg_load_buffer(buf, len, file, dir, dflt, err);
	g_free(dir);
	g_free(abs);
	g_free(buf);
	return c;
}

struct config *
cfg_default_dir(const char *dir, char err[512])
{
	gchar *abs = g_canonicalize_filename(dir, NULL);
	struct cfg_defaults d = { .state_dir = abs, .run_dir = abs };
	struct config *c;

	/*
	 * A development run: no Postfix signs its Return-Path, so the bounces fed
	 * to it (examples/send-sample-dsn) count unsigned; the daemon warns at
	 * start (trust.mode any).  A config file defaults to trust.mode signed.
	 */
	static const char dev[] = "trust:\n  mode: any\n";

	c = cfg_load_buffer(dev, sizeof(dev) - 1, "(--dir default)", abs, &d, err);
	if (c != NULL) {
		uid_t me = getuid();

		g_free(c->file);
		c->file = NULL;
		/* the developer running it may administer it */
		if (me != 0) {
			c->admin.allow_uids = g_renew(uid_t, c->admin.allow_uids,
			    c->admin.nallow_uids + 1);
			c->admin.allow_uids[c->admin.nallow_uids++] = me;
		}
	}
	g_free(abs);
	return c;
}

static void
cfg_priv_free(struct cfg_priv *p)
{
	if (p == NULL)
		return;
	if (p->domain_vecs != NULL)
		for (guint i = 0; i < p->group_names->len; i++)
			g_free(p->domain_vecs[i]);
	g_free(p->domain_vecs);
	g_free(p->groups);
	g_ptr_array_free(p->group_names, TRUE);
	g_ptr_array_free(p->group_domains, TRUE);
	if (p->seen != NULL)
		g_hash_table_destroy(p->seen);
	g_free(p);
}

/*
 * A directory the daemon needs before it can run: it must exist, unless
 * the daemon makes it itself (started as root with user:, it creates the
 * state directory).
 */
static int
cfg_check_dir(const struct config *c, struct cfg_loader *l, const char *key, const char *path)
{
	char *dir = g_path_get_dirname(path);
	struct stat st;
	int rc = 0;

	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		rc = cfg_fail_at(l, key, "%s: %s is not a directory", path, dir);
	else if (stat(dir, &st) < 0 && errno == ENOENT && !(geteuid() == 0 && c->user != NULL))
		rc = cfg_fail_at(l, key, "%s: the directory %s does not exist (bounced creates it "
		    "only when started as root with user:)", path, dir);
	else if (stat(dir, &st) < 0 && errno != ENOENT)
		rc = cfg_fail_at(l, key, "%s: %s: %s", path, dir, g_strerror(errno));
	g_free(dir);
	return rc;
}

int
cfg_check_system(const struct config *c, char err[512])
{
	struct cfg_priv *p = c->priv;
	struct cfg_loader l = { .name = c->file != NULL ? c->file : "(--dir default)",
	    .err = err, .seen = p->seen };
	const struct cfg_socket *socks[] = { &c->lmtp.sock, &c->query.sock, &c->socketmap.sock,
	    &c->admin.sock };
	static const char *const group_keys[] = { "lmtp.group", "query.group", "socketmap.group",
	    "admin.group" };

	err[0] = '\0';
	if (c->user != NULL && getpwnam(c->user) == NULL)
		return cfg_fail_at(&l, "user", "no such user %s", c->user);
	if (c->group != NULL && getgrnam(c->group) == NULL)
		return cfg_fail_at(&l, "group", "no such group %s", c->group);
	for (size_t i = 0; i < G_N_ELEMENTS(socks); i++)
		if (socks[i]->group_explicit && socks[i]->group != NULL &&
		    getgrnam(socks[i]->group) == NULL)
			return cfg_fail_at(&l, group_keys[i], "no such group %s", socks[i]->group);
	if (cfg_check_dir(c, &l, "store.path", c->store.path) < 0 ||
	    cfg_check_dir(c, &l, "store.secret_file", c->store.secret_file) < 0)
		return -1;
	return 0;
}

void
cfg_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->type == CFG_STRING || k->type == CFG_WORD || k->type == CFG_PATH ||
		    k->type == CFG_DELIMS || k->type == CFG_UIDS)
			g_free(*(void **)(void *)((char *)c + k->off));
	}
	g_strfreev(c->trust.domains);
	cfg_priv_free(c->priv);
	g_free(c->file);
	g_free(c);
}
