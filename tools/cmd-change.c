/* SPDX-License-Identifier: MIT */
/*
 * cmd-change.c - the commands that change state, each one admin request
 * the daemon runs through its writer and audits with the caller's uid:
 *
 *   suppress ADDRESS|@DOMAIN...  [--reason R] [--until T] [--note TEXT]
 *   unsuppress ADDRESS|@DOMAIN... --note TEXT   (exit 1: was not suppressed)
 *   forget ADDRESS...            GDPR erasure; prints what was deleted
 *                                (exit 1: the address was unknown)
 *   reevaluate [--dry-run]       re-runs the parser and policy over the
 *                                stored bounces; prints the changes
 *
 * Targets are checked with the store's normaliser before anything is sent,
 * so a typo is a usage error (2) that changes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "cmd.h"

enum change_kind { CHANGE_SUPPRESS, CHANGE_UNSUPPRESS, CHANGE_FORGET };

struct change_run {
	struct cmd_opts o;
	GString *out;
	unsigned n;
};

static int change_help(enum change_kind k);
static int change_run(int argc, char **argv, enum change_kind k);
static int reeval_row(struct cmd_fields *f, void *ud);

static int
change_help(enum change_kind k)
{
	switch (k) {
	case CHANGE_SUPPRESS:
		printf("usage: bouncectl suppress [OPTIONS] ADDRESS|@DOMAIN...\n"
		    "Suppresses addresses (or whole domains: @example.com) by hand; audited with\n"
		    "your uid, the time and the note.\n"
		    "  --reason R           the reason recorded (default undefined): userunknown,\n"
		    "                       hostunknown, mailboxfull, blocked... (bounced.yaml(5))\n"
		    "  --until T            expires then: a date, an ISO 8601 time, a duration from\n"
		    "                       now (30d) or never (the default)\n"
		    "  --note TEXT          why (kept in the audit log)\n");
		break;
	case CHANGE_UNSUPPRESS:
		printf("usage: bouncectl unsuppress --note TEXT [OPTIONS] ADDRESS|@DOMAIN...\n"
		    "Lifts a suppression (\"the customer says this address works again\");\n"
		    "audited with your uid, the time and the note, which is required.\n"
		    "Exit 1 when an address was not suppressed.\n");
		break;
	case CHANGE_FORGET:
		printf("usage: bouncectl forget [OPTIONS] ADDRESS...\n"
		    "GDPR erasure: deletes the address's events, the raw bounces naming it and\n"
		    "its text in the audit log; a keyed hash (HMAC) keeps it suppressed if it\n"
		    "was.  Prints what was deleted.  Cannot be undone.\n"
		    "Exit 1 when an address was unknown.\n");
		break;
	}
	printf("%s", cmd_common_help);
	return 0;
}

static int
change_run(int argc, char **argv, enum change_kind k)
{
	enum { OPT_REASON = CMD_OPT_FIRST_FREE, OPT_UNTIL, OPT_NOTE };
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "note", required_argument, NULL, OPT_NOTE },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct change_run r;
	struct cmd_client *c = NULL;
	GString *req = g_string_new(NULL);
	const char *reason = NULL, *note = NULL;
	char until[32] = "never", err[256];
	int opt, code = CMD_EXIT_OK, worst = CMD_EXIT_OK;
	GPtrArray *targets = g_ptr_array_new_with_free_func(g_free);

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		if (opt == CMD_OPT_HELP) {
			code = change_help(k);
			goto out;
		}
		if ((opt == OPT_REASON || opt == OPT_UNTIL) && k != CHANGE_SUPPRESS) {
			code = cmd_usage(&r.o, "--reason and --until are for suppress");
			goto out;
		}
		if (opt == OPT_NOTE && k == CHANGE_FORGET) {
			code = cmd_usage(&r.o, "forget takes no note (it would store text about the "
			    "person)");
			goto out;
		}
		switch (opt) {
		case OPT_REASON: {
			enum report_reason rr;

			if (!report_reason_from_name(optarg, &rr)) {
				code = cmd_usage(&r.o, "unknown reason \"%s\"", optarg);
				goto out;
			}
			reason = optarg;
			break;
		}
		case OPT_UNTIL:
			if (strcmp(optarg, "never") != 0) {
				int64_t u;

				if (cmd_parse_time(optarg, CMD_TIME_FUTURE, time(NULL), &u, err) < 0) {
					code = cmd_usage(&r.o, "--until: %s", err);
					goto out;
				}
				if (u <= time(NULL)) {
					code = cmd_usage(&r.o, "--until %s is in the past", optarg);
					goto out;
				}
				snprintf(until, sizeof(until), "%" G_GINT64_FORMAT, u);
			}
			break;
		case OPT_NOTE:
			if (strlen(optarg) > CMD_NOTE_MAX) {
				code = cmd_usage(&r.o, "--note longer than %d bytes", CMD_NOTE_MAX);
				goto out;
			}
			note = optarg;
			break;
		default:
			code = cmd_bad_option(&r.o, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		code = cmd_usage(&r.o, "no %s given", k == CHANGE_FORGET ? "address" :
		    "address or @domain");
		goto out;
	}
	if (k == CHANGE_UNSUPPRESS && (note == NULL || *note == '\0')) {
		code = cmd_usage(&r.o, "--note TEXT is required: say why (it goes to the audit log)");
		goto out;
	}
	/* every target is checked before anything is changed */
	for (int i = optind; i < argc; i++) {
		char norm[STORE_ADDR_MAX + 1];

		if (store_addr_normalize(argv[i], strlen(argv[i]), norm, err) < 0) {
			code = cmd_fail(&r.o, CMD_EXIT_USAGE, "invalid address \"%.200s\": %s", argv[i],
			    err);
			goto out;
		}
		if (k == CHANGE_FORGET && norm[0] == '@') {
			code = cmd_usage(&r.o, "forget takes addresses, not domains");
			goto out;
		}
		g_ptr_array_add(targets, g_strdup(norm));
	}
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	r.out = g_string_new(NULL);
	if (r.o.json)
		printf("[\n");
	for (guint i = 0; i < targets->len; i++) {
		const char *target = g_ptr_array_index(targets, i);
		struct cmd_fields ok;

		switch (k) {
		case CHANGE_SUPPRESS:
			cmd_req_start(req, "SUPPRESS");
			cmd_req_add(req, "target", target);
			cmd_req_add(req, "reason", reason);
			cmd_req_add(req, "until", until);
			cmd_req_add(req, "note", note);
			break;
		case CHANGE_UNSUPPRESS:
			cmd_req_start(req, "UNSUPPRESS");
			cmd_req_add(req, "target", target);
			cmd_req_add(req, "note", note);
			break;
		case CHANGE_FORGET:
			cmd_req_start(req, "FORGET");
			cmd_req_add(req, "address", target);
			break;
		}
		code = cmd_call(c, &r.o, req, NULL, NULL, &ok);
		if (code != CMD_EXIT_OK) {
			worst = code;
			break;
		}
		g_string_truncate(r.out, 0);
		if (r.o.json) {
			g_string_append(r.out, i ? ",\n  {\"target\": " : "  {\"target\": ");
			cmd_json_string(r.out, target);
		}
		if (k == CHANGE_SUPPRESS) {
			char iso[32] = "never";

			if (strcmp(until, "never") != 0)
				cmd_iso8601(g_ascii_strtoll(until, NULL, 10), iso);
			if (r.o.json)
				g_string_append_printf(r.out, ", \"suppressed\": true, \"reason\": \"%s\", "
				    "\"until\": %s%s%s}", reason ? reason : "undefined",
				    strcmp(iso, "never") ? "\"" : "", strcmp(iso, "never") ? iso : "null",
				    strcmp(iso, "never") ? "\"" : "");
			else
				g_string_append_printf(r.out, "suppressed %s (manual %s, until %s)\n", target,
				    reason ? reason : "undefined", iso);
		} else if (k == CHANGE_UNSUPPRESS) {
			const char *lifted = cmd_field(&ok, "lifted");
			int yes = lifted != NULL && strcmp(lifted, "1") == 0;

			if (r.o.json)
				g_string_append_printf(r.out, ", \"lifted\": %s}", yes ? "true" : "false");
			else if (yes)
				g_string_append_printf(r.out, "lifted the suppression of %s\n", target);
			else
				g_string_append_printf(r.out, "%s was not suppressed: nothing lifted\n",
				    target);
			if (!yes)
				worst = MAX(worst, CMD_EXIT_NO);
		} else {
			const char *forgotten = cmd_field(&ok, "forgotten");
			const char *kept = cmd_field(&ok, "kept_suppressed");
			int yes = forgotten != NULL && strcmp(forgotten, "1") == 0;
			int k_yes = kept != NULL && strcmp(kept, "1") == 0;
			const char *ev = cmd_field(&ok, "events"), *bo = cmd_field(&ok, "bounces"),
			    *au = cmd_field(&ok, "audit"), *rd = cmd_field(&ok, "bounces_redacted");
			int shared = rd != NULL && strcmp(rd, "0") != 0;

			if (r.o.json)
				g_string_append_printf(r.out, ", \"forgotten\": %s, \"events\": %s, "
				    "\"bounces\": %s, \"bounces_redacted\": %s, \"audit\": %s, "
				    "\"kept_suppressed\": %s}", yes ? "true" : "false", ev ? ev : "0",
				    bo ? bo : "0", rd ? rd : "0", au ? au : "0", k_yes ? "true" : "false");
			else if (yes)
				g_string_append_printf(r.out, "forgot %s: deleted %s events and %s raw "
				    "bounces%s%s%s, erased the address from %s audit entries; %s\n", target,
				    ev ? ev : "0", bo ? bo : "0",
				    shared ? ", redacted it from " : "", shared ? rd : "",
				    shared ? " raw bounces kept as other recipients' evidence" : "",
				    au ? au : "0", k_yes ?
				    "it stays suppressed through a keyed hash (no address text kept)" :
				    "it was not suppressed, nothing of it is kept");
			else
				g_string_append_printf(r.out, "%s is unknown: nothing to forget\n", target);
			if (!yes)
				worst = MAX(worst, CMD_EXIT_NO);
		}
		fputs(r.out->str, stdout);
	}
	if (r.o.json)
		printf("\n]\n");
	code = cmd_flush(&r.o, worst);
out:
	if (r.out != NULL)
		g_string_free(r.out, TRUE);
	g_ptr_array_free(targets, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}

int
cmd_suppress(int argc, char **argv)
{
	return change_run(argc, argv, CHANGE_SUPPRESS);
}

int
cmd_unsuppress(int argc, char **argv)
{
	return change_run(argc, argv, CHANGE_UNSUPPRESS);
}

int
cmd_forget(int argc, char **argv)
{
	return change_run(argc, argv, CHANGE_FORGET);
}

/* ---- reevaluate --------------------------------------------------------- */

static int
reeval_row(struct cmd_fields *f, void *ud)
{
	struct change_run *r = ud;
	GString *b = r->out;

	g_string_truncate(b, 0);
	if (r->o.json) {
		g_string_append(b, r->n++ ? ",\n    {\"address\": " : "\n    {\"address\": ");
		cmd_json_string(b, cmd_field(f, "address"));
		g_string_append(b, ", \"before\": ");
		cmd_json_string(b, cmd_field(f, "before"));
		g_string_append(b, ", \"after\": ");
		cmd_json_string(b, cmd_field(f, "after"));
		g_string_append_c(b, '}');
	} else {
		r->n++;
		cmd_table_text(b, cmd_field(f, "address"), STORE_ADDR_MAX);
		g_string_append_printf(b, ": %s -> %s\n", cmd_field(f, "before"),
		    cmd_field(f, "after"));
	}
	fputs(b->str, stdout);
	return 0;
}

int
cmd_reevaluate(int argc, char **argv)
{
	enum { OPT_DRY_RUN = CMD_OPT_FIRST_FREE };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct change_run r;
	struct cmd_client *c = NULL;
	struct cmd_fields ok;
	GString *req;
	int opt, code, dry = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "n", longopts)) != -1) {
		if (opt == CMD_OPT_HELP) {
			printf("usage: bouncectl reevaluate [--dry-run] [OPTIONS]\n"
			    "Runs the current parser and policy again over every stored raw bounce and\n"
			    "prints the addresses whose state changes (class/reason before -> after).\n"
			    "Without --dry-run the changes are applied and audited (how false positives\n"
			    "are fixed once the rules improve).\n"
			    "  -n, --dry-run        only show what would change\n%s", cmd_common_help);
			return 0;
		}
		if (opt != OPT_DRY_RUN && opt != 'n')
			return cmd_bad_option(&r.o, argv);
		dry = 1;
	}
	if (optind < argc)
		return cmd_usage(&r.o, "unexpected argument \"%s\"", argv[optind]);
	req = g_string_new(NULL);
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	r.out = g_string_new(NULL);
	cmd_req_start(req, "REEVALUATE");
	if (dry)
		cmd_req_add(req, "dry_run", "1");
	if (r.o.json)
		printf("{\"dry_run\": %s, \"changes\": [", dry ? "true" : "false");
	code = cmd_call(c, &r.o, req, reeval_row, &r, &ok);
	if (code != CMD_EXIT_OK)
		goto out;
	if (r.o.json)
		printf("%s], \"changed\": %u}\n", r.n ? "\n  " : "", r.n);
	else
		printf("%u address%s %s\n", r.n, r.n == 1 ? "" : "es", dry ? "would change (dry run: "
		    "nothing applied)" : "changed (applied and audited)");
	code = cmd_flush(&r.o, code);
out:
	if (r.out != NULL)
		g_string_free(r.out, TRUE);
	g_string_free(req, TRUE);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}
