/* SPDX-License-Identifier: MIT */
/*
 * cmd-stats.c - what is going on: "bouncectl stats" (counts by class,
 * reason, scope and domain over a period, suppressions by class now, soft
 * bounces per provider, open incidents, the daemon's counters; or the
 * Prometheus text exposition format with --prometheus), "bouncectl
 * incidents" (where our mail is blocked or rate-limited) and "bouncectl
 * audit" (the log of manual changes).
 *
 * An incident is named after its provider group when the config says which
 * domains form it ("blocked by orange.fr/wanadoo.fr/laposte.net since ..."):
 * the group comes from --config or the installed config.
 *
 * --prometheus prints the daemon's metrics (admin verb METRICS, rendered
 * by bounced/metrics.c, the same text as its HTTP endpoint), then the
 * store's counts over the period as gauges (documented in doc/metrics.md
 * and bouncectl(1)); every name and label set of those is fixed here, label
 * values are escaped by the daemon's own metrics_label (backslash, quote,
 * newline), and the per-domain family is capped by --domains.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "store.h"
#include "cmd.h"

#define STATS_DEFAULT_PERIOD (7 * 86400)
#define AUDIT_DEFAULT_LIMIT  100
#define AUDIT_PAGE_MAX       100000   /* the daemon's page limit */
#define STATS_METRICS_MAX    (16u * 1024 * 1024) /* bytes of a METRICS answer */

/* One "+ type=..." line kept until the output is written. */
struct stats_line {
	char *type;
	GHashTable *f;                /* key -> value (owned) */
};

struct stats_run {
	struct cmd_opts o;
	GPtrArray *lines;             /* struct stats_line * */
	GString *out;
	unsigned n;
	int64_t last_id;
};

/* The Prometheus families written from STATS lines: line type -> family (label name). */
static const struct {
	const char *type;
	const char *name;
	const char *label;
	const char *help;
} stats_families[] = {
	{ "class", "bounced_events", "class",
	  "Recipients in the stored bounces of the period, by class." },
	{ "reason", "bounced_events_by_reason", "reason",
	  "Recipients in the stored bounces of the period, by reason." },
	{ "scope", "bounced_events_by_scope", "scope",
	  "Recipients in the stored bounces of the period, by whose fault (scope)." },
	{ "suppressed", "bounced_suppressed", "class",
	  "Entries answering suppressed now, by class." },
	{ "domain", "bounced_domain_failures", "domain",
	  "Hard, soft and complaint recipients of the period by domain (the top --domains)." },
	{ "soft_provider", "bounced_soft_bounces", "provider",
	  "Soft bounces of the period by provider (group or domain)." },
};

static int stats_row(struct cmd_fields *f, void *ud);
static void stats_line_free(gpointer p);
static const char *stats_get(const struct stats_line *l, const char *key);
static void stats_provider(const struct config *cfg, const char *provider, GString *out);
static void stats_incident_text(const struct config *cfg, const struct stats_line *l,
    GString *out);
static void stats_incident_json(const struct config *cfg, const struct stats_line *l,
    GString *out);
static void stats_prometheus(struct stats_run *r);
static int stats_metrics(struct stats_run *r, struct cmd_client *c);
static void stats_human(struct stats_run *r);
static void stats_json(struct stats_run *r);
static int stats_connect(struct stats_run *r, struct cmd_client **c_r);
static gint stats_cmp_key(gconstpointer a, gconstpointer b);
static void stats_daemon_text(struct stats_run *r, int gauges, GString *b);
static int audit_row(struct cmd_fields *f, void *ud);

static void
stats_line_free(gpointer p)
{
	struct stats_line *l = p;

	g_free(l->type);
	g_hash_table_destroy(l->f);
	g_free(l);
}

static const char *
stats_get(const struct stats_line *l, const char *key)
{
	const char *v = g_hash_table_lookup(l->f, key);

	return v != NULL && strcmp(v, "-") != 0 ? v : NULL;
}

static int
stats_row(struct cmd_fields *f, void *ud)
{
	struct stats_run *r = ud;
	struct stats_line *l = g_new0(struct stats_line, 1);

	l->type = g_strdup(cmd_field(f, "type") ? cmd_field(f, "type") : "audit");
	l->f = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (unsigned i = 0; i < f->n; i++)
		g_hash_table_replace(l->f, g_strdup(f->key[i]), g_strdup(f->val[i]));
	g_ptr_array_add(r->lines, l);
	return 0;
}

/* "orange (orange.fr/wanadoo.fr/laposte.net/sfr.fr)" when the config knows the group. */
static void
stats_provider(const struct config *cfg, const char *provider, GString *out)
{
	if (provider == NULL) {
		g_string_append(out, "?");
		return;
	}
	cmd_table_text(out, provider, 253);
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->policy.ngroups; i++) {
		const struct store_provider_group *g = &cfg->policy.groups[i];

		if (strcmp(g->name, provider) != 0)
			continue;
		g_string_append(out, " (");
		for (size_t k = 0; k < g->ndomains; k++)
			g_string_append_printf(out, "%s%s", k ? "/" : "", g->domains[k]);
		g_string_append_c(out, ')');
	}
}

/* "blocked by orange (...) since T: N failures, last T on D: status diagnostic" */
static void
stats_incident_text(const struct config *cfg, const struct stats_line *l, GString *out)
{
	static const struct { const char *reason, *verb; } verbs[] = {
		{ "blocked", "blocked by" }, { "badreputation", "bad reputation at" },
		{ "ratelimited", "rate-limited by" }, { "toomanyconn", "too many connections to" },
		{ "speeding", "rate-limited by" }, { "authfailure", "SPF/DKIM/DMARC failures at" },
		{ "requireptr", "reverse DNS (PTR) required by" },
		{ "securityerror", "TLS/security errors with" },
		{ "policyviolation", "policy rejections by" }, { "norelaying", "relaying refused by" },
	};
	const char *reason = stats_get(l, "reason"), *verb = NULL, *v;

	for (size_t i = 0; reason != NULL && i < G_N_ELEMENTS(verbs); i++)
		if (strcmp(reason, verbs[i].reason) == 0)
			verb = verbs[i].verb;
	if (verb != NULL)
		g_string_append_printf(out, "%s ", verb);
	else
		g_string_append_printf(out, "%s at ", reason ? reason : "failures");
	stats_provider(cfg, stats_get(l, "provider"), out);
	g_string_append_printf(out, " since %s: %s failure%s, last %s", stats_get(l, "first_seen"),
	    stats_get(l, "count"), g_strcmp0(stats_get(l, "count"), "1") ? "s" : "",
	    stats_get(l, "last_seen"));
	if ((v = stats_get(l, "last_domain")) != NULL) {
		g_string_append(out, " on ");
		cmd_table_text(out, v, 253);
	}
	if ((v = stats_get(l, "last_status")) != NULL)
		g_string_append_printf(out, " (%s)", v);
	if ((v = stats_get(l, "last_diagnostic")) != NULL) {
		g_string_append(out, ": ");
		cmd_table_text(out, v, 200);
	}
	if (g_strcmp0(stats_get(l, "open"), "1") != 0)
		g_string_append(out, " [closed]");
}

/* An incident as a JSON object: its fields, and its text as stats prints it. */
static void
stats_incident_json(const struct config *cfg, const struct stats_line *l, GString *out)
{
	static const char *const keys[] = { "provider", "reason", "first_seen", "last_seen",
	    "last_domain", "last_status", "last_diagnostic" };
	GString *text = g_string_new(NULL);

	g_string_append_c(out, '{');
	for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
		g_string_append_printf(out, "\"%s\": ", keys[k]);
		cmd_json_string(out, stats_get(l, keys[k]));
		g_string_append(out, ", ");
	}
	g_string_append_printf(out, "\"count\": %s, \"open\": %s, \"text\": ",
	    stats_get(l, "count") ? stats_get(l, "count") : "0",
	    g_strcmp0(stats_get(l, "open"), "1") == 0 ? "true" : "false");
	stats_incident_text(cfg, l, text);
	cmd_json_string(out, text->str);
	g_string_append_c(out, '}');
	g_string_free(text, TRUE);
}

static void
stats_prometheus(struct stats_run *r)
{
	GString *b = r->out;
	const char *v;

	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);

		if (strcmp(l->type, "total") != 0)
			continue;
		g_string_append_printf(b, "# HELP bounced_stored_bounces Bounce messages stored "
		    "(in the period: all time unless --since).\n# TYPE bounced_stored_bounces gauge\n"
		    "bounced_stored_bounces %s\n", stats_get(l, "bounces") ? stats_get(l, "bounces") :
		    "0");
		g_string_append_printf(b, "# HELP bounced_stored_recipients Recipients in the stored "
		    "bounces of the period.\n# TYPE bounced_stored_recipients gauge\n"
		    "bounced_stored_recipients %s\n", stats_get(l, "events") ? stats_get(l, "events") :
		    "0");
	}
	for (size_t m = 0; m < G_N_ELEMENTS(stats_families); m++) {
		int header = 0;

		for (guint i = 0; i < r->lines->len; i++) {
			const struct stats_line *l = g_ptr_array_index(r->lines, i);

			if (strcmp(l->type, stats_families[m].type) != 0)
				continue;
			if (!header++)
				g_string_append_printf(b, "# HELP %s %s\n# TYPE %s gauge\n",
				    stats_families[m].name, stats_families[m].help, stats_families[m].name);
			g_string_append_printf(b, "%s{%s=", stats_families[m].name, stats_families[m].label);
			metrics_label(b, stats_get(l, "name"));
			g_string_append_printf(b, "} %s\n", stats_get(l, "n") ? stats_get(l, "n") : "0");
		}
	}
	{
		static const struct { const char *key, *name, *help; } inc[] = {
			{ "open", "bounced_incident_open",
			  "1 for each open sender-scope incident (our mail refused by a provider)." },
			{ "count", "bounced_incident_failures", "Failures counted in the incident." },
			{ "first_seen", "bounced_incident_first_seen_seconds",
			  "Unix time of the incident's first failure." },
			{ "last_seen", "bounced_incident_last_seen_seconds",
			  "Unix time of the incident's last failure." },
		};

		for (size_t m = 0; m < G_N_ELEMENTS(inc); m++) {
			g_string_append_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", inc[m].name,
			    inc[m].help, inc[m].name);
			for (guint i = 0; i < r->lines->len; i++) {
				const struct stats_line *l = g_ptr_array_index(r->lines, i);
				int64_t t;
				char err[256];

				if (strcmp(l->type, "incident") != 0 || (v = stats_get(l, inc[m].key)) == NULL)
					continue;
				g_string_append_printf(b, "%s{provider=", inc[m].name);
				metrics_label(b, stats_get(l, "provider"));
				g_string_append(b, ",reason=");
				metrics_label(b, stats_get(l, "reason"));
				if (m >= 2 && cmd_parse_time(v, CMD_TIME_PAST, 0, &t, err) == 0)
					g_string_append_printf(b, "} %" G_GINT64_FORMAT "\n", t);
				else
					g_string_append_printf(b, "} %s\n", v);
			}
		}
	}
}

static void
stats_json(struct stats_run *r)
{
	GString *b = r->out;
	const char *types[] = { "class", "reason", "scope", "suppressed", "domain",
	    "soft_provider" };

	g_string_append(b, "{\n  \"daemon\": {");
	{
		int first = 1;

		for (guint i = 0; i < r->lines->len; i++) {
			const struct stats_line *l = g_ptr_array_index(r->lines, i);
			GHashTableIter it;
			gpointer k, v;

			if (strcmp(l->type, "daemon") != 0)
				continue;
			g_hash_table_iter_init(&it, l->f);
			while (g_hash_table_iter_next(&it, &k, &v)) {
				if (strcmp(k, "type") == 0)
					continue;
				g_string_append(b, first ? "" : ", ");
				first = 0;
				cmd_json_string(b, k);
				g_string_append(b, ": ");
				if (strspn(v, "0123456789") == strlen(v) && *(char *)v)
					g_string_append(b, v);
				else
					cmd_json_string(b, v);
			}
		}
	}
	g_string_append(b, "},\n");
	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);
		char f[32], t[32];

		if (strcmp(l->type, "total") != 0)
			continue;
		g_string_append_printf(b, "  \"from\": \"%s\", \"to\": \"%s\", \"bounces\": %s, "
		    "\"recipients\": %s,\n", cmd_iso8601(g_ascii_strtoll(stats_get(l, "from") ?
		    stats_get(l, "from") : "0", NULL, 10), f), cmd_iso8601(g_ascii_strtoll(
		    stats_get(l, "to") ? stats_get(l, "to") : "0", NULL, 10), t),
		    stats_get(l, "bounces") ? stats_get(l, "bounces") : "0",
		    stats_get(l, "events") ? stats_get(l, "events") : "0");
	}
	for (size_t k = 0; k < G_N_ELEMENTS(types); k++) {
		int first = 1;

		g_string_append_printf(b, "  \"%s\": {", strcmp(types[k], "class") == 0 ? "by_class" :
		    strcmp(types[k], "reason") == 0 ? "by_reason" : strcmp(types[k], "scope") == 0 ?
		    "by_scope" : strcmp(types[k], "domain") == 0 ? "by_domain" :
		    strcmp(types[k], "soft_provider") == 0 ? "soft_by_provider" : "suppressed");
		for (guint i = 0; i < r->lines->len; i++) {
			const struct stats_line *l = g_ptr_array_index(r->lines, i);

			if (strcmp(l->type, types[k]) != 0)
				continue;
			g_string_append(b, first ? "" : ", ");
			first = 0;
			cmd_json_string(b, stats_get(l, "name"));
			g_string_append_printf(b, ": %s", stats_get(l, "n") ? stats_get(l, "n") : "0");
		}
		g_string_append(b, "},\n");
	}
	g_string_append(b, "  \"incidents\": [");
	{
		int first = 1;

		for (guint i = 0; i < r->lines->len; i++) {
			const struct stats_line *l = g_ptr_array_index(r->lines, i);

			if (strcmp(l->type, "incident") != 0)
				continue;
			g_string_append(b, first ? "\n    " : ",\n    ");
			first = 0;
			stats_incident_json(r->o.cfg, l, b);
		}
		g_string_append(b, first ? "]\n}\n" : "\n  ]\n}\n");
	}
}

/* g_ptr_array_sort of strings: it passes pointers to the elements. */
static gint
stats_cmp_key(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
stats_human(struct stats_run *r)
{
	GString *b = r->out;
	const char *sections[][2] = { { "class", "by class" }, { "reason", "by reason" },
	    { "scope", "by scope" }, { "suppressed", "suppressed now, by class" } };
	unsigned incidents = 0, n;

	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);
		char f[32], t[32];

		if (strcmp(l->type, "total") != 0)
			continue;
		g_string_append_printf(b, "period %s .. %s: %s bounces, %s recipients\n",
		    cmd_iso8601(g_ascii_strtoll(stats_get(l, "from") ? stats_get(l, "from") : "0",
		    NULL, 10), f), cmd_iso8601(g_ascii_strtoll(stats_get(l, "to") ?
		    stats_get(l, "to") : "0", NULL, 10), t), stats_get(l, "bounces"),
		    stats_get(l, "events"));
	}
	for (size_t s = 0; s < G_N_ELEMENTS(sections); s++) {
		g_string_append_printf(b, "  %-26s", sections[s][1]);
		n = 0;
		for (guint i = 0; i < r->lines->len; i++) {
			const struct stats_line *l = g_ptr_array_index(r->lines, i);

			if (strcmp(l->type, sections[s][0]) != 0)
				continue;
			g_string_append_printf(b, "%s%s %s", n++ ? ", " : "", stats_get(l, "name"),
			    stats_get(l, "n"));
		}
		g_string_append(b, n ? "\n" : "-\n");
	}
	g_string_append(b, "top domains (hard+soft+complaint recipients of the period):\n");
	n = 0;
	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);

		if (strcmp(l->type, "domain") != 0)
			continue;
		g_string_append_printf(b, "  %8s  ", stats_get(l, "n"));
		cmd_table_text(b, stats_get(l, "name"), 253);
		g_string_append_c(b, '\n');
		n++;
	}
	if (n == 0)
		g_string_append(b, "  -\n");
	g_string_append(b, "soft bounces per provider (period):\n");
	n = 0;
	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);

		if (strcmp(l->type, "soft_provider") != 0)
			continue;
		g_string_append_printf(b, "  %8s  ", stats_get(l, "n"));
		stats_provider(r->o.cfg, stats_get(l, "name"), b);
		g_string_append_c(b, '\n');
		n++;
	}
	if (n == 0)
		g_string_append(b, "  -\n");
	g_string_append(b, "open incidents (sender scope: our mail refused):\n");
	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);

		if (strcmp(l->type, "incident") != 0)
			continue;
		g_string_append(b, "  ");
		stats_incident_text(r->o.cfg, l, b);
		g_string_append_c(b, '\n');
		incidents++;
	}
	if (incidents == 0)
		g_string_append(b, "  none\n");
	stats_daemon_text(r, 1, b);
	stats_daemon_text(r, 0, b);
	g_string_append_c(b, '\n');
}

/*
 * The daemon's figures, in two groups: what is open or true now (gauges),
 * and the counts since it started (totals).  A key not listed as a gauge is
 * a total.
 */
static int
stats_is_gauge(const char *key)
{
	static const char *const gauges[] = { "index_bytes", "index_entries", "store_writable",
	    "uptime", "version", "lmtp_sessions", "query_connections", "socketmap_connections",
	    "admin_connections", "writer_pending" };

	for (size_t i = 0; i < G_N_ELEMENTS(gauges); i++)
		if (strcmp(key, gauges[i]) == 0)
			return 1;
	return 0;
}

static void
stats_daemon_text(struct stats_run *r, int gauges, GString *b)
{
	g_string_append(b, gauges ? "daemon, now (open connections, pending, sizes):" :
	    "daemon, counts since it started (and the largest batch):");
	for (guint i = 0; i < r->lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r->lines, i);
		GHashTableIter it;
		gpointer k, v;
		GPtrArray *keys;

		if (strcmp(l->type, "daemon") != 0)
			continue;
		keys = g_ptr_array_new();
		g_hash_table_iter_init(&it, l->f);
		while (g_hash_table_iter_next(&it, &k, &v))
			if (strcmp(k, "type") != 0 && stats_is_gauge(k) == gauges)
				g_ptr_array_add(keys, k);
		g_ptr_array_sort(keys, stats_cmp_key);
		if (keys->len > 0)
			g_string_append(b, "\n ");
		for (guint j = 0; j < keys->len; j++) {
			const char *key = g_ptr_array_index(keys, j);

			g_string_append_printf(b, " %s=%s", key, stats_get(l, key));
		}
		g_ptr_array_free(keys, TRUE);
	}
	if (gauges)
		g_string_append_c(b, '\n');
}

/* METRICS: the daemon's own metrics (bounced/metrics.c), appended to r->out. */
static int
stats_metrics(struct stats_run *r, struct cmd_client *c)
{
	GString *req = g_string_new(NULL);
	char *buf;
	size_t n;
	int code;

	cmd_req_start(req, "METRICS");
	code = cmd_call_bytes(c, &r->o, req, "metrics", STATS_METRICS_MAX, &buf, &n);
	g_string_free(req, TRUE);
	if (code == CMD_EXIT_OK)
		g_string_append_len(r->out, buf, (gssize)n);
	g_free(buf);
	return code;
}

static int
stats_connect(struct stats_run *r, struct cmd_client **c_r)
{
	char path[256];
	int code = cmd_socket_path(&r->o, 0, path, sizeof(path));

	if (code != 0)
		return code;
	if (r->o.config != NULL && cmd_config(&r->o) == NULL)
		return CMD_EXIT_USAGE;
	*c_r = cmd_client_connect(&r->o, path, &code);
	return *c_r == NULL ? code : 0;
}

int
cmd_stats(int argc, char **argv)
{
	enum { OPT_SINCE = CMD_OPT_FIRST_FREE, OPT_UNTIL, OPT_DOMAINS, OPT_PROM, OPT_ALL_TIME };
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "from", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "to", required_argument, NULL, OPT_UNTIL },
		{ "all-time", no_argument, NULL, OPT_ALL_TIME },
		{ "domains", required_argument, NULL, OPT_DOMAINS },
		{ "prometheus", no_argument, NULL, OPT_PROM },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct stats_run r;
	struct cmd_client *c = NULL;
	GString *req;
	time_t now = time(NULL);
	int64_t from = (int64_t)now - STATS_DEFAULT_PERIOD, to = (int64_t)now + 1;
	guint64 domains = 20;
	int opt, code, prom = 0, from_set = 0;
	char err[256];

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			printf("usage: bouncectl stats [OPTIONS]\n"
			    "Counts over a period: bounces and recipients by class, reason, scope and\n"
			    "domain, soft bounces per provider; suppressions by class now; the open\n"
			    "incidents (\"blocked by orange.fr/wanadoo.fr/laposte.net since ...\"); the\n"
			    "daemon's counters.\n"
			    "  --since T            start of the period (default 7d: a week ago); a date,\n"
			    "                       an ISO 8601 time, unix seconds or a duration back\n"
			    "  --until T            end of the period (default now)\n"
			    "  --all-time           the whole store\n"
			    "  --domains N          rows of the per-domain counts (default 20)\n"
			    "  --prometheus         the Prometheus text exposition format (the period is\n"
			    "                       all time unless --since is given); metrics in\n"
			    "                       bouncectl(1)\n%s", cmd_common_help);
			return 0;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (cmd_parse_time(optarg, CMD_TIME_PAST, now, opt == OPT_SINCE ? &from : &to,
			    err) < 0)
				return cmd_usage(&r.o, "%s", err);
			if (opt == OPT_SINCE)
				from_set = 1;
			break;
		case OPT_ALL_TIME:
			from = 0;
			from_set = 1;
			break;
		case OPT_DOMAINS:
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, 10000, &domains, NULL))
				return cmd_usage(&r.o, "--domains takes a number from 1 to 10000");
			break;
		case OPT_PROM:
			prom = 1;
			break;
		default:
			return cmd_bad_option(&r.o, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
	if (prom && !from_set)
		from = 0;
	if (from >= to)
		return cmd_usage(&r.o, "the period is empty (--since is not before --until)");
	req = g_string_new(NULL);
	r.lines = g_ptr_array_new_with_free_func(stats_line_free);
	r.out = g_string_sized_new(8192);
	code = stats_connect(&r, &c);
	if (code != 0)
		goto out;
	/* the daemon's own metrics (metrics.c), then the store's counts of the period */
	if (prom && (code = stats_metrics(&r, c)) != CMD_EXIT_OK)
		goto out;
	cmd_req_start(req, "STATS");
	cmd_req_addf(req, "from", "%" G_GINT64_FORMAT, from);
	cmd_req_addf(req, "to", "%" G_GINT64_FORMAT, to);
	cmd_req_addf(req, "domains", "%" G_GUINT64_FORMAT, domains);
	code = cmd_call(c, &r.o, req, stats_row, &r, NULL);
	if (code != CMD_EXIT_OK)
		goto out;
	if (prom)
		stats_prometheus(&r);
	else if (r.o.json)
		stats_json(&r);
	else
		stats_human(&r);
	fputs(r.out->str, stdout);
	code = cmd_flush(&r.o, code);
out:
	g_ptr_array_free(r.lines, TRUE);
	g_string_free(r.out, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}

int
cmd_incidents(int argc, char **argv)
{
	enum { OPT_ALL = CMD_OPT_FIRST_FREE };
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct stats_run r;
	struct cmd_client *c = NULL;
	GString *req;
	int opt, code, all = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		if (opt == CMD_OPT_HELP) {
			printf("usage: bouncectl incidents [--all] [OPTIONS]\n"
			    "Sender-scope incidents: a provider refusing our mail (IP blocked, bad\n"
			    "reputation, rate limits, SPF/DKIM/DMARC, missing PTR).  They never\n"
			    "suppress the recipients.  Open ones by default; --all adds closed ones.\n%s",
			    cmd_common_help);
			return 0;
		}
		if (opt != OPT_ALL)
			return cmd_bad_option(&r.o, argv);
		all = 1;
	}
	if (optind < argc)
		return cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
	req = g_string_new(NULL);
	r.lines = g_ptr_array_new_with_free_func(stats_line_free);
	r.out = g_string_sized_new(4096);
	code = stats_connect(&r, &c);
	if (code != 0)
		goto out;
	cmd_req_start(req, "INCIDENTS");
	if (all)
		cmd_req_add(req, "all", "1");
	code = cmd_call(c, &r.o, req, stats_row, &r, NULL);
	if (code != CMD_EXIT_OK)
		goto out;
	if (r.o.json)
		g_string_append_c(r.out, '[');
	for (guint i = 0; i < r.lines->len; i++) {
		const struct stats_line *l = g_ptr_array_index(r.lines, i);

		if (r.o.json) {
			g_string_append(r.out, i ? ",\n  " : "\n  ");
			stats_incident_json(r.o.cfg, l, r.out);
		} else {
			stats_incident_text(r.o.cfg, l, r.out);
			g_string_append_c(r.out, '\n');
		}
	}
	if (r.o.json)
		g_string_append(r.out, r.lines->len ? "\n]\n" : "]\n");
	else if (r.lines->len == 0)
		g_string_append_printf(r.out, "no %sincidents\n", all ? "" : "open ");
	fputs(r.out->str, stdout);
	code = cmd_flush(&r.o, code);
out:
	if (r.lines != NULL)
		g_ptr_array_free(r.lines, TRUE);
	if (r.out != NULL)
		g_string_free(r.out, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}

/* ---- audit --------------------------------------------------------------- */

static int
audit_row(struct cmd_fields *f, void *ud)
{
	static const char *const spec[] = { "#id", "at", "actor", "action", "target",
	    "class:cause", "reason", "status", "since", "until", "note", NULL };
	struct stats_run *r = ud;
	GString *b = r->out;
	const char *v, *id = cmd_field(f, "id");

	g_string_truncate(b, 0);
	if (id != NULL)
		r->last_id = g_ascii_strtoll(id, NULL, 10);
	if (r->o.json) {
		g_string_append(b, r->n++ ? ",\n  " : "\n  ");
		cmd_json_fields(b, f, spec);
	} else {
		r->n++;
		g_string_append_printf(b, "%6s  %s  ", id ? id : "?", cmd_field(f, "at"));
		cmd_table_text(b, cmd_field_opt(f, "actor"), 100);
		g_string_append_printf(b, "  %s ", cmd_field(f, "action"));
		cmd_table_text(b, cmd_field_opt(f, "target"), STORE_ADDR_MAX);
		g_string_append_printf(b, " -> %s %s", cmd_field(f, "cause"), cmd_field(f, "reason"));
		if ((v = cmd_field_opt(f, "until")) != NULL && g_strcmp0(cmd_field(f, "cause"),
		    "none") != 0)
			g_string_append_printf(b, " until %s", v);
		if ((v = cmd_field_opt(f, "note")) != NULL) {
			g_string_append(b, "  note: ");
			cmd_table_text(b, v, CMD_NOTE_MAX);
		}
		g_string_append_c(b, '\n');
	}
	fputs(b->str, stdout);
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	enum { OPT_LIMIT = CMD_OPT_FIRST_FREE, OPT_AFTER, OPT_ALL };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "all", no_argument, NULL, OPT_ALL },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct stats_run r;
	struct cmd_client *c = NULL;
	struct cmd_fields ok;
	GString *req;
	guint64 limit = AUDIT_DEFAULT_LIMIT, after = 0;
	char norm[STORE_ADDR_MAX + 1], err[256];
	const char *target = NULL, *next = NULL;
	int opt, code, all = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			printf("usage: bouncectl audit [ADDRESS|@DOMAIN] [--limit N] [--after ID] [--all]\n"
			    "The audit log, oldest first: who suppressed, unsuppressed, imported,\n"
			    "forgot or re-evaluated what, when, and the note given.\n"
			    "  --limit N            entries per page (default %d)\n"
			    "  --after ID           the page after this entry id\n"
			    "  --all                every entry\n%s", AUDIT_DEFAULT_LIMIT, cmd_common_help);
			return 0;
		case OPT_LIMIT:
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, AUDIT_PAGE_MAX, &limit, NULL))
				return cmd_usage(&r.o, "--limit takes a number from 1 to %d", AUDIT_PAGE_MAX);
			break;
		case OPT_AFTER:
			if (!g_ascii_string_to_unsigned(optarg, 10, 0, G_MAXINT64, &after, NULL))
				return cmd_usage(&r.o, "--after takes an audit entry id");
			break;
		case OPT_ALL:
			all = 1;
			break;
		default:
			return cmd_bad_option(&r.o, argv);
		}
	}
	if (optind < argc) {
		target = argv[optind++];
		if (strncmp(target, "hmac:", 5) != 0) {
			if (store_addr_normalize(target, strlen(target), norm, err) < 0)
				return cmd_fail(&r.o, CMD_EXIT_USAGE, "invalid address \"%.200s\": %s",
				    target, err);
			target = norm;
		}
	}
	if (optind < argc)
		return cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
	req = g_string_new(NULL);
	r.out = g_string_sized_new(1024);
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	if (r.o.json)
		fputs("[", stdout);
	r.last_id = (int64_t)after;
	do {
		cmd_req_start(req, "AUDIT");
		cmd_req_add(req, "target", target);
		if (r.last_id > 0)
			cmd_req_addf(req, "after", "%" G_GINT64_FORMAT, r.last_id);
		cmd_req_addf(req, "limit", "%" G_GUINT64_FORMAT, all ? (guint64)AUDIT_PAGE_MAX : limit);
		code = cmd_call(c, &r.o, req, audit_row, &r, &ok);
		if (code != CMD_EXIT_OK)
			goto out;
		next = cmd_field(&ok, "next");
	} while (all && next != NULL);
	if (r.o.json)
		fputs(r.n ? "\n]\n" : "]\n", stdout);
	else if (next != NULL)
		fprintf(stderr, "-- %u entries shown; the next page: bouncectl audit ... --after %s\n",
		    r.n, next);
	code = cmd_flush(&r.o, code);
out:
	g_string_free(r.out, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}
