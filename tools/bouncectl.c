/* SPDX-License-Identifier: MIT */
/*
 * bouncectl.c - the admin CLI: "bouncectl COMMAND [ARGS]".  Commands are
 * rows of cmds[] (name, function, usage, one-line help); each lives in its
 * own tools/cmd-*.c.  Only "parse" works offline; the others talk to the
 * daemon's sockets (tools/client.c).
 *
 * The options that find the daemon (--socket, --query-socket, --dir,
 * --config) and --json may also come before the command name: they are
 * moved behind it, where the command's own parser reads them.
 */
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "cmd.h"

#define MAIN_ARGS_MAX 4096

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
	int own_help;                 /* 1: the command answers --help itself */
};

static const struct cmd cmds[] = {
	{ "parse", cmd_parse, "parse [--json] FILE|DIR|- ...",
	  "parse bounces offline and print what bounced makes of each recipient", 0 },
	{ "postfix-check", cmd_postfix_check,
	  "postfix-check [-c DIR] [--bounce-domain D] [--socket-activation yes|no]",
	  "offline: what of Postfix's configuration is wired right, missing, harmful for bounced", 1 },
	{ "check", cmd_check, "check ADDRESS...|-",
	  "may I send? exit 0 when every address may be sent to, 1 when one is suppressed", 1 },
	{ "show", cmd_show, "show ADDRESS|@DOMAIN | show --raw [--bounce ID] [ADDRESS]",
	  "state, reason, rule, events with their evidence, audit (alias: explain)", 1 },
	{ "explain", cmd_show, "explain ADDRESS|@DOMAIN", "the same as show", 1 },
	{ "list", cmd_list, "list [FILTERS] [--limit N] [--after A] [--all]",
	  "the entries, paged, filtered by class, reason, scope, domain, dates, state", 1 },
	{ "export", cmd_export, "export [--format csv|json|ndjson] [FILTERS]",
	  "stream every suppressed entry (CSV with a header row, RFC 4180)", 1 },
	{ "import", cmd_import, "import FILE|- [--format F] [--reason R] [--strict]",
	  "import an export, a plain address list, or an SES/Postmark/SendGrid CSV", 1 },
	{ "suppress", cmd_suppress, "suppress ADDRESS|@DOMAIN [--reason R] [--until D] [--note T]",
	  "suppress an address or a whole domain (audited)", 1 },
	{ "unsuppress", cmd_unsuppress, "unsuppress ADDRESS|@DOMAIN --note TEXT",
	  "lift a suppression (audited)", 1 },
	{ "forget", cmd_forget, "forget ADDRESS",
	  "GDPR erasure: delete the address's data, keep it suppressed by a keyed hash", 1 },
	{ "stats", cmd_stats, "stats [--since T] [--until T] [--prometheus]",
	  "counts by class, reason, scope, domain; open incidents; soft bounces by provider", 1 },
	{ "incidents", cmd_incidents, "incidents [--all]",
	  "sender-scope incidents: where our mail is blocked or rate-limited", 1 },
	{ "alerts", cmd_alerts, "alerts [--limit N] [--test]",
	  "recent alert events and their delivery (webhook, mail); --test sends one", 1 },
	{ "audit", cmd_audit, "audit [ADDRESS|@DOMAIN] [--limit N] [--after ID]",
	  "the audit log of manual changes, imports, erasures, re-evaluations", 1 },
	{ "reevaluate", cmd_reevaluate, "reevaluate [--dry-run]",
	  "re-run the current parser and policy over the stored bounces", 1 },
};

static void usage(FILE *f);
static int is_front_option(const char *arg, int *takes_value_r);

static void
usage(FILE *f)
{
	fprintf(f, "usage: bouncectl [--socket PATH | --dir DIR | --config FILE] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		fprintf(f, "  %s\n      %s\n", cmds[i].usage, cmds[i].help);
	fprintf(f, "\n'bouncectl COMMAND --help' describes a command; bouncectl(1) all of them.\n");
}

/* The options that may come before the command name. */
static int
is_front_option(const char *arg, int *takes_value_r)
{
	static const char *const with_value[] = { "--socket", "--query-socket", "--dir",
	    "--config" };

	*takes_value_r = 0;
	if (strcmp(arg, "--json") == 0)
		return 1;
	for (size_t i = 0; i < G_N_ELEMENTS(with_value); i++) {
		size_t n = strlen(with_value[i]);

		if (strncmp(arg, with_value[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
			*takes_value_r = arg[n] == '\0';
			return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char *args[MAIN_ARGS_MAX + 1];
	int nfront = 0, first = 1, nargs;

	/* leading daemon options: remember them, find the command */
	while (first < argc) {
		int takes;

		if (!is_front_option(argv[first], &takes))
			break;
		if (takes && first + 1 >= argc) {
			fprintf(stderr, "bouncectl: %s needs a value\n", argv[first]);
			return 2;
		}
		nfront += 1 + takes;
		first += 1 + takes;
	}
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0 ||
	    strcmp(argv[first], "help") == 0) {
		if (strcmp(argv[first], "help") == 0 && first + 1 < argc) {
			/* "bouncectl help CMD" is "bouncectl CMD --help" */
			for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
				if (strcmp(argv[first + 1], cmds[i].name) == 0 && cmds[i].own_help) {
					char *hargv[] = { argv[first + 1], (char *)"--help", NULL };

					return cmds[i].fn(2, hargv);
				}
		}
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[first], "--version") == 0) {
		printf("bouncectl %s\n", BOUNCED_VERSION);
		return 0;
	}
	if (argc > MAIN_ARGS_MAX) {
		fprintf(stderr, "bouncectl: more than %d arguments\n", MAIN_ARGS_MAX);
		return 2;
	}
	/* argv for the command: its name, the leading options, the rest */
	nargs = 0;
	args[nargs++] = argv[first];
	for (int i = 1; i <= nfront; i++)
		args[nargs++] = argv[i];
	for (int i = first + 1; i < argc; i++)
		args[nargs++] = argv[i];
	args[nargs] = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		if (strcmp(argv[first], cmds[i].name) != 0)
			continue;
		if (!cmds[i].own_help)
			for (int k = 1; k < nargs && strcmp(args[k], "--") != 0; k++)
				if (strcmp(args[k], "--help") == 0 || strcmp(args[k], "-h") == 0) {
					printf("usage: bouncectl %s\n%s\n", cmds[i].usage, cmds[i].help);
					return 0;
				}
		return cmds[i].fn(nargs, args);
	}
	fprintf(stderr, "bouncectl: unknown command \"%s\"\n", argv[first]);
	usage(stderr);
	return 2;
}
