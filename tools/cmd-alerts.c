/* SPDX-License-Identifier: MIT */
/*
 * cmd-alerts.c - `bouncectl alerts [--limit N] [--test]` (issue 17): the
 * recent alert events and the state of their delivery to each sink
 * (webhook, mail), or a test event sent to every sink.  A client of the
 * admin verb ALERTS.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "cmd.h"

#define ALERTS_DEFAULT_LIMIT 20
#define ALERTS_LIMIT_MAX     1000

struct alerts_run {
	struct cmd_opts o;
	GString *out;
	unsigned n;
};

static int
alerts_row(struct cmd_fields *f, void *ud)
{
	static const char *const spec[] = { "id", "kind", "subject", "at", "#incident", "sink",
	    "state", "#attempts", "next", "error", NULL };
	static const char *const cols[] = { "at", "id", "kind", "subject", "sink", "state" };
	static const size_t widths[] = { 20, 16, 25, 24, 7, 7 };
	struct alerts_run *r = ud;

	if (r->o.json) {
		g_string_append(r->out, r->n ? ",\n  " : "\n  ");
		cmd_json_fields(r->out, f, spec);
	} else {
		const char *err = cmd_field_opt(f, "error"), *next = cmd_field_opt(f, "next");

		for (size_t i = 0; i < G_N_ELEMENTS(cols); i++) {
			const char *v = cmd_field_opt(f, cols[i]);
			size_t len = r->out->len;

			cmd_table_text(r->out, v != NULL ? v : "-", 200);
			for (size_t w = r->out->len - len; w < widths[i]; w++)
				g_string_append_c(r->out, ' ');
			g_string_append_c(r->out, ' ');
		}
		g_string_append_printf(r->out, "attempts=%s", cmd_field_opt(f, "attempts") ?
		    cmd_field_opt(f, "attempts") : "0");
		if (next != NULL)
			g_string_append_printf(r->out, " next=%s", next);
		if (err != NULL) {
			g_string_append(r->out, " error=");
			cmd_table_text(r->out, err, 200);
		}
		g_string_append_c(r->out, '\n');
	}
	r->n++;
	return 0;
}

int
cmd_alerts(int argc, char **argv)
{
	enum { OPT_LIMIT = CMD_OPT_FIRST_FREE, OPT_TEST };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "test", no_argument, NULL, OPT_TEST },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct alerts_run r;
	struct cmd_client *c = NULL;
	struct cmd_fields ok;
	GString *req;
	guint64 limit = ALERTS_DEFAULT_LIMIT;
	int opt, code, test = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			printf("usage: bouncectl alerts [--limit N] [--test]\n"
			    "Alert events (incidents opened, grown, closed; bounce surges; bounced's\n"
			    "health), newest first, with the state of their delivery to each sink\n"
			    "(pending, sent, failed), or --test: send a test event to every sink.\n"
			    "  --limit N            events shown (default %d)\n"
			    "  --test               send a test event; print its id\n%s",
			    ALERTS_DEFAULT_LIMIT, cmd_common_help);
			return 0;
		case OPT_LIMIT:
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, ALERTS_LIMIT_MAX, &limit, NULL))
				return cmd_usage(&r.o, "--limit takes a number from 1 to %d",
				    ALERTS_LIMIT_MAX);
			break;
		case OPT_TEST:
			test = 1;
			break;
		default:
			return cmd_bad_option(&r.o, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
	req = g_string_new(NULL);
	r.out = g_string_sized_new(4096);
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	cmd_req_start(req, "ALERTS");
	if (test)
		cmd_req_add(req, "test", "1");
	else
		cmd_req_addf(req, "limit", "%" G_GUINT64_FORMAT, limit);
	code = cmd_call(c, &r.o, req, alerts_row, &r, &ok);
	if (code != CMD_EXIT_OK)
		goto out;
	if (test) {
		const char *id = cmd_field(&ok, "id");

		if (r.o.json)
			printf("{\"id\":\"%s\"}\n", id != NULL ? id : "");
		else
			printf("test event %s queued for every sink (see bouncectl alerts)\n",
			    id != NULL ? id : "-");
	} else if (r.o.json) {
		printf("[%s%s]\n", r.out->str, r.n ? "\n" : "");
	} else {
		fputs(r.out->str, stdout);
		if (r.n == 0)
			puts("no alerts");
	}
	code = cmd_flush(&r.o, code);
out:
	cmd_client_free(c);
	g_string_free(req, TRUE);
	g_string_free(r.out, TRUE);
	cmd_opts_clear(&r.o);
	return code;
}
