/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - the commands of bouncectl (tools/bouncectl.c dispatches to them)
 * and the helpers they share.  A command gets argv without the program
 * name (argv[0] is the command name) and returns the process exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 *
 * The commands that talk to the daemon (all but parse) use the exit
 * statuses CMD_EXIT_* below, documented in bouncectl(1):
 *   0  done (check: every address may be sent to)
 *   1  a negative answer: check found a suppressed address, show/forget an
 *      unknown one, unsuppress had nothing to lift, import skipped bad lines
 *      or aborted under --strict
 *   2  usage: bad option, argument or value (the daemon's "invalid" too)
 *   3  the daemon cannot be reached or failed (store error, shutdown,
 *      broken connection, protocol error)
 *   4  permission denied: the uid is not in admin.allow_uids, or the socket
 *      file cannot be opened
 *
 * Helpers (client.c): finding the sockets (--socket, --dir, --config, the
 * installed config), the admin protocol of bounced/admin.h (requests with
 * percent-encoded values, "+ key=value" data lines, "OK"/"ERR" status
 * lines), time parsing; (format.c): CSV (RFC 4180) and JSON writing and
 * reading, ISO 8601 times.  Every input line and field is bounded by the
 * CMD_*_MAX limits below.
 */
#ifndef BOUNCED_CMD_H
#define BOUNCED_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <glib.h>

#include "util.h"

int cmd_parse(int argc, char **argv);
/* offline: the live Postfix configuration checked for bounced (cmd-postfix-check.c) */
int cmd_postfix_check(int argc, char **argv);

/*
 * Appends s as a JSON string, or null when s is NULL: util.h's writer, the
 * one the daemon's side uses too (the cmd_ name is kept for the commands).
 */
static inline void
cmd_json_string(GString *out, const char *s)
{
	util_json_write_string(out, s);
}

/* ---- the daemon commands (one tools/cmd-*.c each) ------------------- */

int cmd_check(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_suppress(int argc, char **argv);
int cmd_unsuppress(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_incidents(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_reevaluate(int argc, char **argv);
int cmd_alerts(int argc, char **argv);

enum {
	CMD_EXIT_OK = 0,
	CMD_EXIT_NO = 1,
	CMD_EXIT_USAGE = 2,
	CMD_EXIT_DAEMON = 3,
	CMD_EXIT_DENIED = 4,
};

/* Limits. */
#define CMD_LINE_MAX     (1024 * 1024)   /* one response line from the daemon */
#define CMD_FIELDS_MAX   64              /* key=value fields in one line */
#define CMD_RECORD_MAX   (64 * 1024)     /* one input record (import) */
#define CMD_COLUMNS_MAX  64              /* columns of one input record */
#define CMD_NOTE_MAX     1024            /* a note, and a diagnostic kept as note */

struct config;

/* Options every daemon command takes. */
struct cmd_opts {
	const char *command;          /* "list", for messages */
	const char *socket;           /* --socket PATH: the admin socket */
	const char *query_socket;     /* --query-socket PATH (check) */
	const char *dir;              /* --dir DIR: DIR/admin.sock, DIR/query.sock */
	const char *config;           /* --config FILE */
	int json;                     /* --json */
	struct config *cfg;           /* the config read (--config or the installed one) */
};

/* getopt_long values of the common options (beyond any character). */
enum {
	CMD_OPT_SOCKET = 0x100, CMD_OPT_QUERY_SOCKET, CMD_OPT_DIR, CMD_OPT_CONFIG, CMD_OPT_JSON,
	CMD_OPT_HELP, CMD_OPT_FIRST_FREE,
};
#define CMD_COMMON_LONGOPTS \
	{ "socket", required_argument, NULL, CMD_OPT_SOCKET }, \
	{ "query-socket", required_argument, NULL, CMD_OPT_QUERY_SOCKET }, \
	{ "dir", required_argument, NULL, CMD_OPT_DIR }, \
	{ "config", required_argument, NULL, CMD_OPT_CONFIG }, \
	{ "json", no_argument, NULL, CMD_OPT_JSON }, \
	{ "help", no_argument, NULL, CMD_OPT_HELP }

/* Help text of the common options, for the commands' --help. */
extern const char cmd_common_help[];

/*
 * Starts a daemon command's option reading: o->command = command (for
 * messages), getopt reset to argv[1] with its own messages off (the
 * command reports a bad option with cmd_bad_option).
 */
void cmd_opts_init(struct cmd_opts *o, const char *command);
/*
 * getopt_long over the command's longopts (which end with
 * CMD_COMMON_LONGOPTS), taking the common options into o on the way.
 * Returns the next option that is the command's own (optarg set),
 * CMD_OPT_HELP for --help (the caller prints its help and returns 0), '?'
 * for a bad option, -1 at the end of the options (optind: the first
 * argument).
 */
int cmd_getopt(struct cmd_opts *o, int argc, char **argv, const char *shortopts,
    const struct option *longopts);
void cmd_opts_clear(struct cmd_opts *o);

/* "bouncectl COMMAND: message" on stderr; returns code. */
int cmd_fail(const struct cmd_opts *o, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/*
 * Flushes stdout at the end of a command: returns code, or
 * CMD_EXIT_DAEMON after a message when the output could not be written.
 */
int cmd_flush(const struct cmd_opts *o, int code);
/* After getopt_long returned '?' (opterr = 0): names the bad option; returns 2. */
int cmd_bad_option(const struct cmd_opts *o, char **argv);
/* The usage error: message, then "try bouncectl COMMAND --help"; returns 2. */
int cmd_usage(const struct cmd_opts *o, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * The socket path: admin (query = 0) or query (query = 1), from --socket /
 * --query-socket, --dir, --config, the installed config, or the built-in
 * default.  Returns 0, or an exit status after a message.
 */
int cmd_socket_path(struct cmd_opts *o, int query, char *out, size_t outsz);

/*
 * The config of --config (a message when it does not load) or the
 * installed one, or NULL; owned by o.  (stats names provider groups.)
 */
const struct config *cmd_config(struct cmd_opts *o);

/* ---- the admin protocol client (client.c) --------------------------- */

struct cmd_client;

/* Connects; NULL after a message (*code_r: CMD_EXIT_DAEMON or _DENIED). */
struct cmd_client *cmd_client_connect(const struct cmd_opts *o, const char *path, int *code_r);
/*
 * cmd_socket_path then cmd_client_connect: the admin (query = 0) or query
 * (query = 1) socket.  NULL after a message, with the exit status in
 * *code_r.
 */
struct cmd_client *cmd_connect(struct cmd_opts *o, int query, int *code_r);
void cmd_client_free(struct cmd_client *c);

/* One response line split into fields (decoded in place). */
struct cmd_fields {
	unsigned n;
	char *key[CMD_FIELDS_MAX];
	char *val[CMD_FIELDS_MAX];
};

/* The value of key, or NULL; cmd_field_opt also maps "-" (none) to NULL. */
const char *cmd_field(const struct cmd_fields *f, const char *key);
const char *cmd_field_opt(const struct cmd_fields *f, const char *key);
/*
 * Splits "+ k=v k=v" or "OK k=v ..." in place and decodes the values
 * (admin_split).  0, or -1 for too many fields, a word without "key=", a
 * bad %XX or %00, a key given twice.
 */
int cmd_fields_parse(char *s, struct cmd_fields *f);

/* A request being built: "VERB k=v ..." with values percent-encoded. */
void cmd_req_start(GString *req, const char *verb);
void cmd_req_add(GString *req, const char *key, const char *value);
void cmd_req_addf(GString *req, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Percent-encodes as the admin protocol does (bytes < 0x21, > 0x7e, '%', '='). */
void cmd_encode(GString *out, const char *value);

/* Sends bytes (a request, import lines).  0, or -1 after a message. */
int cmd_client_send(struct cmd_client *c, const char *buf, size_t len);

/*
 * Reads one line (LF and a CR before it removed, NUL-terminated, borrowed
 * until the next read).  1 line, 0 end of stream, -1 error (message given).
 * nonblock: 0 when nothing is buffered yet instead of waiting.
 */
int cmd_client_readline(struct cmd_client *c, char **line_r, size_t *len_r, int nonblock);
/* Reads exactly len bytes into out (RAW).  0 / -1 after a message. */
int cmd_client_read(struct cmd_client *c, char *out, size_t len);

/*
 * The status of a response: line is "OK ...", or "ERR code text".
 * Returns CMD_EXIT_OK for OK, else prints "bouncectl CMD: [what: ]text" and
 * returns the exit status for the code (notfound 1, usage/invalid 2,
 * denied 4, the rest 3).
 */
int cmd_status(const struct cmd_opts *o, const char *what, char *line);

/*
 * Sends request and reads its response: every "+ " line's fields go to
 * row (which returns 0 to go on, -1 to stop reading rows and fail), then
 * the status line is checked with cmd_status.  *ok_fields_r (may be NULL)
 * gets the OK line's fields, valid until the next read.  Returns an exit
 * status.
 */
typedef int (*cmd_row_fn)(struct cmd_fields *f, void *ud);
int cmd_call(struct cmd_client *c, const struct cmd_opts *o, const GString *request,
    cmd_row_fn row, void *ud, struct cmd_fields *ok_fields_r);

/*
 * Sends request, a verb answered by "OK bytes=N", N bytes and a LF (RAW,
 * METRICS), and reads the N bytes into *buf_r (caller g_frees;
 * NUL-terminated in place of the LF) and *len_r.  what names the verb in
 * the daemon's error messages ("raw: ..."); an N above max is a protocol
 * error.  Returns an exit status.
 */
int cmd_call_bytes(struct cmd_client *c, const struct cmd_opts *o, const GString *request,
    const char *what, guint64 max, char **buf_r, size_t *len_r);

/* ---- times and formats (format.c) ----------------------------------- */

/* How a time argument is read: a duration counts back (since) or ahead (until). */
enum cmd_time_dir { CMD_TIME_PAST, CMD_TIME_FUTURE };

/*
 * Parses a time given by a user or a file: ISO 8601 ("2024-05-01",
 * "2024-05-01T12:00:00Z", "2024-05-01 12:00:00", with an offset or
 * fractions), "@UNIX" or plain unix seconds, "now", or a duration ("7d",
 * "48h", "30m", "2w", "90s") before or after now.  0 / -1 with err.
 */
int cmd_parse_time(const char *s, enum cmd_time_dir dir, time_t now, int64_t *t_r, char err[256]);
/* "2024-05-01T12:00:00Z" (UTC): util.h's formatter, the one bounced answers with. */
static inline char *
cmd_iso8601(int64_t t, char out[32])
{
	return util_iso8601_format(t, out);
}

/* Appends one CSV field (RFC 4180: quoted when it holds , " CR LF or edge spaces). */
void cmd_csv_field(GString *out, const char *s);

/*
 * Reads one CSV record (RFC 4180; quoted fields may span lines; LF or
 * CRLF) of at most CMD_RECORD_MAX bytes and CMD_COLUMNS_MAX fields into
 * fields (strings owned by the array).  *lines_r gets the physical lines
 * it took.  1 record, 0 end of input, -1 malformed or too long (err
 * filled, the rest of the record skipped).
 */
int cmd_csv_read(FILE *in, GPtrArray *fields, unsigned *lines_r, char err[256]);

/*
 * Parses one JSON object of strings, numbers, booleans and nulls (nested
 * values are an error) into names and values (owned by the arrays; null
 * gives a NULL value).  0 / -1 with err.
 */
int cmd_json_object(const char *s, size_t len, GPtrArray *names, GPtrArray *values,
    char err[256]);

/*
 * Appends a JSON object of response fields.  spec: NULL-terminated names,
 * "name" (the field of that name) or "name:field"; a leading '#' writes a
 * number.  A missing field or "-" is null, and so is "never" for "until".
 */
void cmd_json_fields(GString *out, const struct cmd_fields *f, const char *const *spec);

/* Appends s, cut to max bytes, with control characters shown as '?' (tables). */
void cmd_table_text(GString *out, const char *s, size_t max);

#endif
