/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - the commands of bouncectl (tools/bouncectl.c dispatches to them)
 * and the helpers they share.  A command gets argv without the program
 * name (argv[0] is the command name) and returns the process exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */
#ifndef BOUNCED_CMD_H
#define BOUNCED_CMD_H

#include <glib.h>

int cmd_parse(int argc, char **argv);

/*
 * Appends s as a JSON string (RFC 8259: quotes, backslash, control
 * characters escaped; invalid UTF-8 bytes become U+FFFD), or null when s
 * is NULL.
 */
void cmd_json_string(GString *out, const char *s);

#endif
