/* SPDX-License-Identifier: MIT */
/*
 * cmd-list.c - "bouncectl list" (a page of entries for a human) and
 * "bouncectl export" (every suppressed entry for a machine), with the same
 * filters: --state, --class, --reason, --scope, --domain, --since, --until
 * (the last two on the date the entry was suppressed).
 *
 * Both stream: each row the daemon sends is written out at once, so an
 * export of a million entries runs in constant memory on both sides (the
 * daemon pages through the store as the output drains).
 *
 * The export format (also what import reads back, exactly):
 *   CSV     header "address,class,reason,status,since,until,source", one
 *           row per entry, RFC 4180 quoting, CRLF line ends as the RFC says
 *           (--lf for LF); empty status: none; empty until: never
 *   json    one array, one object per line
 *   ndjson  one object per line
 * Times are ISO 8601 UTC to the second; rows come in address order, so
 * two exports of the same entries are byte-identical.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "cmd.h"

#define LIST_DEFAULT_LIMIT 100

enum list_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_NDJSON };

struct list_run {
	struct cmd_opts o;
	enum list_format fmt;
	FILE *out;
	GString *line;
	uint64_t rows;
	int crlf;
	int write_error;
	int export;                     /* 1: bouncectl export */
};

static int list_help(int export);
static int list_filter_option(struct list_run *r, GString *req, int opt, const char *arg);
static int list_row(struct cmd_fields *f, void *ud);
static int list_run(int argc, char **argv, int export);

static const char *const export_json[] = { "address", "class:cause", "reason", "status",
    "since", "until", "source", NULL };
static const char *const list_json[] = { "address", "class:cause", "reason", "status",
    "since", "until", "source", "updated", "#soft_count", "last_delivered", "scope", "rule",
    NULL };

enum {
	OPT_STATE = CMD_OPT_FIRST_FREE, OPT_CLASS, OPT_REASON, OPT_SCOPE, OPT_DOMAIN, OPT_SINCE,
	OPT_UNTIL, OPT_LIMIT, OPT_AFTER, OPT_ALL, OPT_FORMAT, OPT_OUTPUT, OPT_LF,
};

static int
list_help(int export)
{
	if (export)
		printf("usage: bouncectl export [--format csv|json|ndjson] [--output FILE] [FILTERS]\n"
		    "Streams every suppressed entry (address, class, reason, status, since,\n"
		    "until, source), in address order; `bouncectl import` reads it back exactly.\n"
		    "  --format F           csv (default: header row, RFC 4180, CRLF), json (one\n"
		    "                       array, an object per line) or ndjson\n"
		    "  --output FILE        write FILE (complete or not at all) instead of stdout\n"
		    "  --lf                 CSV lines end with LF instead of CRLF\n");
	else
		printf("usage: bouncectl list [FILTERS] [--limit N] [--after ADDRESS] [--all]\n"
		    "The entries (suppressed or not), in address order, a page at a time.\n"
		    "  --limit N            entries per page (default %d)\n"
		    "  --after ADDRESS      the page after this address (given at the end of a page)\n"
		    "  --all                every entry, no paging\n", LIST_DEFAULT_LIMIT);
	printf("Filters:\n"
	    "  --state S            suppressed (%s) or all; list: untrusted, the addresses\n"
	    "                       named by bounces that did not count (doc/security.md)\n"
	    "  --class C[,C...]     hard, soft, complaint, manual, import\n"
	    "  --reason R           userunknown, mailboxfull, hostunknown... (bounced.yaml(5))\n"
	    "  --scope S            scope of the deciding event: address, domain, sender,\n"
	    "                       message, none\n"
	    "  --domain D           entries of this domain (and its @D entry)\n"
	    "  --since T, --until T suppressed in [since, until): 2024-05-01, an ISO 8601\n"
	    "                       time, unix seconds, or a duration back from now (7d)\n"
	    "%s", export ? "the default" : "default: all", cmd_common_help);
	return 0;
}

/* A filter option into the request.  0, or an exit status after a message. */
static int
list_filter_option(struct list_run *r, GString *req, int opt, const char *arg)
{
	int64_t t;
	char err[256];

	switch (opt) {
	case OPT_STATE:
		if (strcmp(arg, "suppressed") != 0 && strcmp(arg, "all") != 0 &&
		    (r->export || strcmp(arg, "untrusted") != 0))
			return cmd_usage(&r->o, "--state is suppressed or all%s",
			    r->export ? "" : " or untrusted");
		cmd_req_add(req, "state", arg);
		return 0;
	case OPT_CLASS: {
		gchar **names = g_strsplit(arg, ",", 0);
		int bad = 0;

		for (gchar **p = names; *p != NULL; p++) {
			enum store_cause c;

			if (!store_cause_from_name(*p, &c) || c == STORE_CAUSE_NONE)
				bad = 1;
		}
		g_strfreev(names);
		if (bad)
			return cmd_usage(&r->o, "--class takes hard, soft, complaint, manual, import "
			    "(comma-separated)");
		cmd_req_add(req, "cause", arg);
		return 0;
	}
	case OPT_REASON: {
		enum report_reason rr;

		if (!report_reason_from_name(arg, &rr))
			return cmd_usage(&r->o, "unknown reason \"%s\"", arg);
		cmd_req_add(req, "reason", arg);
		return 0;
	}
	case OPT_SCOPE: {
		enum report_scope s;

		if (!report_scope_from_name(arg, &s))
			return cmd_usage(&r->o, "--scope is address, domain, sender, message or none");
		cmd_req_add(req, "scope", arg);
		return 0;
	}
	case OPT_DOMAIN: {
		char norm[STORE_ADDR_MAX + 1], at[STORE_ADDR_MAX + 2];

		snprintf(at, sizeof(at), "@%s", arg[0] == '@' ? arg + 1 : arg);
		if (store_addr_normalize(at, strlen(at), norm, err) < 0)
			return cmd_usage(&r->o, "invalid domain \"%s\": %s", arg, err);
		cmd_req_add(req, "domain", norm + 1);
		return 0;
	}
	case OPT_SINCE:
	case OPT_UNTIL:
		if (cmd_parse_time(arg, CMD_TIME_PAST, time(NULL), &t, err) < 0)
			return cmd_usage(&r->o, "%s: %s", opt == OPT_SINCE ? "--since" : "--until", err);
		cmd_req_addf(req, opt == OPT_SINCE ? "since" : "until", "%" G_GINT64_FORMAT, t);
		return 0;
	default:
		return cmd_usage(&r->o, "unknown option");
	}
}

static int
list_row(struct cmd_fields *f, void *ud)
{
	struct list_run *r = ud;
	GString *b = r->line;
	const char *v;

	if (r->write_error)
		return -1;
	g_string_truncate(b, 0);
	switch (r->fmt) {
	case FMT_CSV:
		cmd_csv_field(b, cmd_field(f, "address"));
		g_string_append_c(b, ',');
		cmd_csv_field(b, cmd_field(f, "cause"));
		g_string_append_c(b, ',');
		cmd_csv_field(b, cmd_field(f, "reason"));
		g_string_append_c(b, ',');
		cmd_csv_field(b, cmd_field_opt(f, "status"));
		g_string_append_c(b, ',');
		cmd_csv_field(b, cmd_field_opt(f, "since"));
		g_string_append_c(b, ',');
		v = cmd_field_opt(f, "until");
		cmd_csv_field(b, v != NULL && strcmp(v, "never") != 0 ? v : NULL);
		g_string_append_c(b, ',');
		cmd_csv_field(b, cmd_field_opt(f, "source"));
		g_string_append(b, r->crlf ? "\r\n" : "\n");
		break;
	case FMT_JSON:
		if (r->rows > 0)
			g_string_append(b, ",\n");
		cmd_json_fields(b, f, r->o.command[0] == 'e' ? export_json : list_json);
		break;
	case FMT_NDJSON:
		cmd_json_fields(b, f, export_json);
		g_string_append_c(b, '\n');
		break;
	case FMT_TABLE: {
		const char *cause = cmd_field(f, "cause"), *state = "suppressed";
		const char *since = cmd_field(f, "since");
		int64_t u;
		char err[256];

		/* tracked, never suppressed (soft bounces counted, a delivery): no since */
		if (since == NULL || strcmp(since, "1970-01-01T00:00:00Z") == 0)
			since = "-";
		v = cmd_field_opt(f, "until");
		if (cause == NULL || strcmp(cause, "none") == 0)
			state = "ok";
		else if (v != NULL && strcmp(v, "never") != 0 &&
		    cmd_parse_time(v, CMD_TIME_FUTURE, time(NULL), &u, err) == 0 && u <= time(NULL))
			state = "expired";
		cmd_table_text(b, cmd_field(f, "address"), STORE_ADDR_MAX);
		if (b->len < 34)
			g_string_append_printf(b, "%*s", (int)(34 - b->len), "");
		else
			g_string_append_c(b, ' ');
		g_string_append_printf(b, "%-10s %-9s %-15s %-7s %-20s %-20s %s\n", state,
		    cause ? cause : "-", cmd_field(f, "reason"), cmd_field(f, "status"),
		    since, v ? v : "-", cmd_field(f, "source"));
		break;
	}
	}
	if (fwrite(b->str, 1, b->len, r->out) != b->len) {
		r->write_error = errno ? errno : EIO;
		return -1;
	}
	r->rows++;
	return 0;
}

static int
list_run(int argc, char **argv, int export)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, OPT_STATE },
		{ "class", required_argument, NULL, OPT_CLASS },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "lf", no_argument, NULL, OPT_LF },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct list_run r;
	struct cmd_client *c = NULL;
	struct cmd_fields ok;
	GString *req = g_string_new(NULL);
	const char *output = NULL, *after = NULL, *next;
	char *tmp = NULL;
	guint64 limit = LIST_DEFAULT_LIMIT;
	int opt, code = CMD_EXIT_OK, all = 0;

	memset(&r, 0, sizeof(r));
	r.fmt = export ? FMT_CSV : FMT_TABLE;
	r.crlf = 1;
	r.out = stdout;
	r.export = export;
	cmd_req_start(req, export ? "EXPORT" : "LIST");
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			g_string_free(req, TRUE);
			return list_help(export);
		case OPT_LIMIT:
			if (export)
				goto bad_option;
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, 1000000, &limit, NULL)) {
				code = cmd_usage(&r.o, "--limit takes a number from 1 to 1000000");
				goto out;
			}
			break;
		case OPT_AFTER:
			if (export)
				goto bad_option;
			after = optarg;
			break;
		case OPT_ALL:
			if (export)
				goto bad_option;
			all = 1;
			break;
		case OPT_FORMAT:
			if (!export)
				goto bad_option;
			if (strcmp(optarg, "csv") == 0)
				r.fmt = FMT_CSV;
			else if (strcmp(optarg, "json") == 0)
				r.fmt = FMT_JSON;
			else if (strcmp(optarg, "ndjson") == 0 || strcmp(optarg, "jsonl") == 0)
				r.fmt = FMT_NDJSON;
			else {
				code = cmd_usage(&r.o, "--format is csv, json or ndjson");
				goto out;
			}
			break;
		case OPT_OUTPUT:
			if (!export)
				goto bad_option;
			output = optarg;
			break;
		case OPT_LF:
			if (!export)
				goto bad_option;
			r.crlf = 0;
			break;
		case '?':
			code = cmd_bad_option(&r.o, argv);
			goto out;
		default:
			code = list_filter_option(&r, req, opt, optarg);
			if (code != 0)
				goto out;
		}
	}
	if (optind < argc) {
		code = cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
		goto out;
	}
	if (!export) {
		if (r.o.json)
			r.fmt = FMT_JSON;
		if (after != NULL)
			cmd_req_add(req, "after", after);
		if (!all)
			cmd_req_addf(req, "limit", "%" G_GUINT64_FORMAT, limit);
	} else if (r.o.json && r.fmt == FMT_CSV) {
		r.fmt = FMT_JSON;
	}
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	if (output != NULL) {
		int fd;

		tmp = g_strdup_printf("%s.tmp-XXXXXX", output);
		fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0 || (r.out = fdopen(fd, "w")) == NULL) {
			code = cmd_fail(&r.o, CMD_EXIT_USAGE, "cannot create %s: %s", tmp,
			    g_strerror(errno));
			if (fd >= 0)
				close(fd);
			r.out = stdout;
			g_free(tmp);
			tmp = NULL;
			goto out;
		}
	}
	r.line = g_string_sized_new(512);
	if (r.fmt == FMT_CSV)
		fputs(r.crlf ? "address,class,reason,status,since,until,source\r\n" :
		    "address,class,reason,status,since,until,source\n", r.out);
	else if (r.fmt == FMT_JSON)
		fputs(export ? "[\n" : "{\"entries\": [\n", r.out);
	else if (r.fmt == FMT_TABLE)
		fprintf(r.out, "%-34s%-10s %-9s %-15s %-7s %-20s %-20s %s\n", "ADDRESS", "STATE",
		    "CLASS", "REASON", "STATUS", "SINCE", "UNTIL", "SOURCE");
	code = cmd_call(c, &r.o, req, list_row, &r, &ok);
	if (r.write_error) {
		code = cmd_fail(&r.o, CMD_EXIT_DAEMON, "cannot write %s: %s", output ? tmp :
		    "the output", g_strerror(r.write_error));
		goto out;
	}
	if (code != CMD_EXIT_OK)
		goto out;
	next = export ? NULL : cmd_field(&ok, "next");
	if (r.fmt == FMT_JSON && export) {
		fputs(r.rows ? "\n]\n" : "]\n", r.out);
	} else if (r.fmt == FMT_JSON) {
		GString *n = g_string_new(NULL);

		cmd_json_string(n, next);
		fprintf(r.out, "%s], \"count\": %" G_GUINT64_FORMAT ", \"next\": %s}\n",
		    r.rows ? "\n" : "", r.rows, n->str);
		g_string_free(n, TRUE);
	} else if (r.fmt == FMT_TABLE) {
		fflush(r.out);
		if (next != NULL)
			fprintf(stderr, "-- %" G_GUINT64_FORMAT " entries shown; the next page: "
			    "bouncectl list ... --after '%s'\n", r.rows, next);
		else
			fprintf(stderr, "-- %" G_GUINT64_FORMAT " entries\n", r.rows);
	}
	if (fflush(r.out) != 0 || (output != NULL && fsync(fileno(r.out)) != 0)) {
		code = cmd_fail(&r.o, CMD_EXIT_DAEMON, "cannot write %s: %s", output ? tmp :
		    "the output", g_strerror(errno));
		goto out;
	}
	if (output != NULL) {
		fclose(r.out);
		r.out = stdout;
		if (rename(tmp, output) != 0) {
			code = cmd_fail(&r.o, CMD_EXIT_DAEMON, "cannot rename %s to %s: %s", tmp, output,
			    g_strerror(errno));
			goto out;
		}
		g_free(tmp);
		tmp = NULL;
	}
	goto out;
bad_option:
	code = cmd_usage(&r.o, "option not valid for %s", r.o.command);
out:
	if (r.out != stdout)
		fclose(r.out);
	if (tmp != NULL) {
		unlink(tmp);
		g_free(tmp);
	}
	if (r.line != NULL)
		g_string_free(r.line, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}

int
cmd_list(int argc, char **argv)
{
	return list_run(argc, argv, 0);
}

int
cmd_export(int argc, char **argv)
{
	return list_run(argc, argv, 1);
}
