/* SPDX-License-Identifier: MIT */
/*
 * bouncectl.c - the admin CLI: "bouncectl COMMAND [ARGS]".  Commands are
 * rows of cmds[] (name, function, usage, one-line help); each lives in its
 * own tools/cmd-*.c.  Only "parse" works offline; the others talk to the
 * daemon's sockets.
 */
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "cmd.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct cmd cmds[] = {
	{ "parse", cmd_parse, "parse [--json] FILE|DIR|- ...",
	  "parse bounces offline and print what bounced makes of each recipient" },
};

static void usage(FILE *f);

static void
usage(FILE *f)
{
	fprintf(f, "usage: bouncectl COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		fprintf(f, "  %-40s %s\n", cmds[i].usage, cmds[i].help);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("bouncectl %s\n", BOUNCED_VERSION);
		return 0;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "bouncectl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
