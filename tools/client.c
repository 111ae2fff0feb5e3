/* SPDX-License-Identifier: MIT */
/*
 * client.c - bouncectl's way to the daemon: the options every daemon
 * command shares, finding the sockets, and a client of the admin protocol
 * (bounced/admin.h): a request line with percent-encoded values, "+ "
 * data lines, then one "OK ..." or "ERR code text" line.
 *
 * Where the sockets are, first match wins: --socket / --query-socket,
 * --dir DIR (DIR/admin.sock, DIR/query.sock, as `bounced --dir`), the
 * config of --config, the installed config (BOUNCED_SYSCONFDIR/bounced.yaml)
 * when it exists and is readable, then the built-in BOUNCED_RUNSTATEDIR.
 *
 * Responses are read through one buffer; a line longer than CMD_LINE_MAX is
 * an error, never a reason to grow without bound.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "build-config.h"
#include "config.h"
#include "cmd.h"

#define CLIENT_BUF_MIN  (64 * 1024)

struct cmd_client {
	const struct cmd_opts *o;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *buf;                    /* buf[off, len) is unread */
	size_t off, len, cap;
	int eof;
};

static int client_opts_take(struct cmd_opts *o, int opt, const char *arg);
static int client_fill(struct cmd_client *c, int nonblock);
static int client_load_config(struct cmd_opts *o, const char *file, int explicit);

const char cmd_common_help[] =
    "  --socket PATH        the daemon's admin socket\n"
    "  --dir DIR            the sockets of `bounced --dir DIR` (DIR/admin.sock...)\n"
    "  --config FILE        take the socket paths from this bounced config\n"
    "  --json               JSON output\n"
    "  --help               this help\n"
    "Exit: 0 done, 1 negative answer, 2 usage, 3 daemon unreachable or failed,\n"
    "4 permission denied (see bouncectl(1)).\n";

/* ---- options ----------------------------------------------------------- */

void
cmd_opts_init(struct cmd_opts *o, const char *command)
{
	o->command = command;
	optind = 1;
	opterr = 0;
}

int
cmd_getopt(struct cmd_opts *o, int argc, char **argv, const char *shortopts,
    const struct option *longopts)
{
	int opt;

	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if (!client_opts_take(o, opt, optarg))
			break;
	return opt;
}

/* Takes a common option into o: 1 when opt was one, 0 when not (--help is not). */
static int
client_opts_take(struct cmd_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CMD_OPT_SOCKET:
		o->socket = arg;
		return 1;
	case CMD_OPT_QUERY_SOCKET:
		o->query_socket = arg;
		return 1;
	case CMD_OPT_DIR:
		o->dir = arg;
		return 1;
	case CMD_OPT_CONFIG:
		o->config = arg;
		return 1;
	case CMD_OPT_JSON:
		o->json = 1;
		return 1;
	default:
		return 0;
	}
}

void
cmd_opts_clear(struct cmd_opts *o)
{
	cfg_free(o->cfg);
	o->cfg = NULL;
}

int
cmd_fail(const struct cmd_opts *o, int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bouncectl %s: ", o->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cmd_flush(const struct cmd_opts *o, int code)
{
	if (fflush(stdout) != 0)
		return cmd_fail(o, CMD_EXIT_DAEMON, "cannot write output: %s", g_strerror(errno));
	return code;
}

int
cmd_usage(const struct cmd_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bouncectl %s: ", o->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'bouncectl %s --help'.\n", o->command);
	return CMD_EXIT_USAGE;
}

int
cmd_bad_option(const struct cmd_opts *o, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (optopt != 0 && arg[0] == '-' && arg[1] != '-')
		return cmd_usage(o, "unknown option or missing value: -%c", optopt);
	return cmd_usage(o, "unknown option or missing value: %s", arg);
}

/* Reads a config; an explicit one must load, the installed one may be missing. */
static int
client_load_config(struct cmd_opts *o, const char *file, int explicit)
{
	char err[512];

	if (o->cfg != NULL)
		return 0;
	if (!explicit && access(file, R_OK) != 0)
		return 0;
	o->cfg = cfg_load(file, NULL, err);
	if (o->cfg == NULL) {
		if (explicit)
			return cmd_fail(o, CMD_EXIT_USAGE, "cannot use the config: %s", err);
		fprintf(stderr, "bouncectl %s: warning: ignoring the installed config: %s\n",
		    o->command, err);
	}
	return 0;
}

const struct config *
cmd_config(struct cmd_opts *o)
{
	if (o->cfg == NULL) {
		if (o->config != NULL)
			client_load_config(o, o->config, 1);
		else
			client_load_config(o, BOUNCED_SYSCONFDIR "/bounced.yaml", 0);
	}
	return o->cfg;
}

int
cmd_socket_path(struct cmd_opts *o, int query, char *out, size_t outsz)
{
	const char *given = query ? o->query_socket : o->socket;
	const char *name = query ? "query.sock" : "admin.sock";
	int rc;

	if (given != NULL) {
		g_strlcpy(out, given, outsz);
	} else if (o->dir != NULL) {
		snprintf(out, outsz, "%s/%s", o->dir, name);
	} else {
		if (o->config != NULL)
			rc = client_load_config(o, o->config, 1);
		else
			rc = client_load_config(o, BOUNCED_SYSCONFDIR "/bounced.yaml", 0);
		if (rc != 0)
			return rc;
		if (o->cfg != NULL)
			g_strlcpy(out, query ? o->cfg->query.sock.path : o->cfg->admin.sock.path,
			    outsz);
		else
			snprintf(out, outsz, "%s/%s", BOUNCED_RUNSTATEDIR, name);
	}
	if (strlen(out) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cmd_fail(o, CMD_EXIT_USAGE, "socket path too long: %s", out);
	return 0;
}

/* ---- connection ------------------------------------------------------- */

struct cmd_client *
cmd_client_connect(const struct cmd_opts *o, const char *path, int *code_r)
{
	struct sockaddr_un sun;
	struct cmd_client *c;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*code_r = cmd_fail(o, CMD_EXIT_USAGE, "socket path too long: %s", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*code_r = cmd_fail(o, CMD_EXIT_DAEMON, "socket: %s", g_strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		if (e == EACCES || e == EPERM)
			*code_r = cmd_fail(o, CMD_EXIT_DENIED, "cannot connect to %s: %s (admin "
			    "commands need a uid listed in admin.allow_uids)", path, g_strerror(e));
		else
			*code_r = cmd_fail(o, CMD_EXIT_DAEMON, "cannot connect to %s: %s (is bounced "
			    "running? see --socket, --dir, --config)", path, g_strerror(e));
		return NULL;
	}
	c = g_new0(struct cmd_client, 1);
	c->o = o;
	c->fd = fd;
	g_strlcpy(c->path, path, sizeof(c->path));
	c->cap = CLIENT_BUF_MIN;
	c->buf = g_malloc(c->cap);
	return c;
}

struct cmd_client *
cmd_connect(struct cmd_opts *o, int query, int *code_r)
{
	/* longer than sun_path: a path too long is reported, never cut */
	char path[256];

	*code_r = cmd_socket_path(o, query, path, sizeof(path));
	if (*code_r != 0)
		return NULL;
	return cmd_client_connect(o, path, code_r);
}

void
cmd_client_free(struct cmd_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	g_free(c->buf);
	g_free(c);
}

int
cmd_client_send(struct cmd_client *c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/*
			 * The daemon may have answered and hung up (a refusal, a
			 * store error during an import): the caller reads its reason.
			 */
			if (errno == EPIPE || errno == ECONNRESET)
				return -1;
			cmd_fail(c->o, CMD_EXIT_DAEMON, "cannot write to %s: %s", c->path,
			    g_strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more into the buffer.  1 got bytes, 0 eof (or nothing, nonblock), -1 error. */
static int
client_fill(struct cmd_client *c, int nonblock)
{
	ssize_t n;

	if (c->eof)
		return 0;
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == c->cap) {
		if (c->cap >= CMD_LINE_MAX + 2) {
			cmd_fail(c->o, CMD_EXIT_DAEMON, "response line longer than %d bytes from %s",
			    CMD_LINE_MAX, c->path);
			return -1;
		}
		c->cap = MIN(c->cap * 2, (size_t)CMD_LINE_MAX + 2);
		c->buf = g_realloc(c->buf, c->cap);
	}
	for (;;) {
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, nonblock ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0) {
		if (nonblock && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (errno == ECONNRESET) {
			c->eof = 1;
			return 0;
		}
		cmd_fail(c->o, CMD_EXIT_DAEMON, "cannot read from %s: %s", c->path, g_strerror(errno));
		return -1;
	}
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	c->len += (size_t)n;
	return 1;
}

int
cmd_client_readline(struct cmd_client *c, char **line_r, size_t *len_r, int nonblock)
{
	for (;;) {
		char *start = c->buf + c->off;
		char *nl = memchr(start, '\n', c->len - c->off);
		int rc;

		if (nl != NULL) {
			size_t n = (size_t)(nl - start);

			if (n > CMD_LINE_MAX) {
				cmd_fail(c->o, CMD_EXIT_DAEMON, "response line longer than %d bytes",
				    CMD_LINE_MAX);
				return -1;
			}
			*nl = '\0';
			c->off += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				start[--n] = '\0';
			*line_r = start;
			if (len_r != NULL)
				*len_r = n;
			return 1;
		}
		rc = client_fill(c, nonblock);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (c->eof && c->len > c->off) {
				/* a last line without LF: treat it as a line */
				if (c->len == c->cap)
					c->buf = g_realloc(c->buf, ++c->cap);
				c->buf[c->len] = '\n';
				c->len++;
				continue;
			}
			return 0;
		}
	}
}

int
cmd_client_read(struct cmd_client *c, char *out, size_t len)
{
	while (len > 0) {
		size_t have = c->len - c->off;

		if (have > 0) {
			size_t n = MIN(have, len);

			memcpy(out, c->buf + c->off, n);
			c->off += n;
			out += n;
			len -= n;
			continue;
		}
		c->off = c->len = 0;
		if (client_fill(c, 0) <= 0) {
			if (c->eof)
				cmd_fail(c->o, CMD_EXIT_DAEMON, "connection closed by bounced in the middle "
				    "of a message");
			return -1;
		}
	}
	return 0;
}

/* ---- protocol ---------------------------------------------------------- */

void
cmd_encode(GString *out, const char *value)
{
	size_t len = strlen(value), need = 3 * len + 1;
	char small[256], *buf = need <= sizeof(small) ? small : g_malloc(need);

	/* bounced's own encoder (admin.h), so both sides agree byte for byte */
	g_string_append(out, admin_encode(value, len, buf, need));
	if (buf != small)
		g_free(buf);
}

void
cmd_req_start(GString *req, const char *verb)
{
	g_string_assign(req, verb);
}

void
cmd_req_add(GString *req, const char *key, const char *value)
{
	if (value == NULL)
		return;
	g_string_append_printf(req, " %s=", key);
	cmd_encode(req, value);
}

void
cmd_req_addf(GString *req, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	cmd_req_add(req, key, v);
	g_free(v);
}

int
cmd_fields_parse(char *s, struct cmd_fields *f)
{
	char *word, err[128];

	/* bounced's own reader: strict, as the daemon reads requests */
	return admin_split(s, &word, f->key, f->val, CMD_FIELDS_MAX, &f->n, err);
}

const char *
cmd_field(const struct cmd_fields *f, const char *key)
{
	return admin_field(f->key, f->val, f->n, key);
}

const char *
cmd_field_opt(const struct cmd_fields *f, const char *key)
{
	const char *v = cmd_field(f, key);

	return v == NULL || strcmp(v, "-") == 0 || *v == '\0' ? NULL : v;
}

int
cmd_status(const struct cmd_opts *o, const char *what, char *line)
{
	static const struct { const char *code; int exit; } codes[] = {
		{ "notfound", CMD_EXIT_NO }, { "usage", CMD_EXIT_USAGE },
		{ "invalid", CMD_EXIT_USAGE }, { "denied", CMD_EXIT_DENIED },
	};
	char *code, *text;
	int ex = CMD_EXIT_DAEMON;

	if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0)
		return CMD_EXIT_OK;
	if (strncmp(line, "ERR ", 4) != 0)
		return cmd_fail(o, CMD_EXIT_DAEMON, "%s%sunexpected answer from bounced: %.200s",
		    what ? what : "", what ? ": " : "", line);
	code = line + 4;
	text = strchr(code, ' ');
	if (text != NULL)
		*text++ = '\0';
	else
		text = (char *)"";
	for (size_t i = 0; i < G_N_ELEMENTS(codes); i++)
		if (strcmp(code, codes[i].code) == 0)
			ex = codes[i].exit;
	/*
	 * the daemon percent-encodes the variable parts of its texts; a text
	 * that does not decode (a literal '%') is shown as it came
	 */
	{
		char *dec = g_strdup(text);
		long n = admin_decode(dec);

		if (n >= 0 && (size_t)n == strlen(dec))
			memcpy(text, dec, (size_t)n + 1);
		g_free(dec);
	}
	if (strcmp(code, "store") == 0)
		return cmd_fail(o, ex, "%s%sbounced's store failed: %s (try again; see the daemon's "
		    "log)", what ? what : "", what ? ": " : "", text);
	if (strcmp(code, "denied") == 0)
		return cmd_fail(o, ex, "%s%srefused by bounced: %s (admin.allow_uids in its "
		    "config lists who may)", what ? what : "", what ? ": " : "", text);
	if (strcmp(code, "invalid") == 0 || strcmp(code, "notfound") == 0)
		return cmd_fail(o, ex, "%s%s%s", what ? what : "", what ? ": " : "", text);
	if (strcmp(code, "shutdown") == 0 || strcmp(code, "busy") == 0)
		return cmd_fail(o, ex, "%s%sbounced is %s: %s", what ? what : "", what ? ": " : "",
		    strcmp(code, "busy") == 0 ? "busy" : "stopping", text);
	return cmd_fail(o, ex, "%s%sbounced answered %s: %s", what ? what : "", what ? ": " : "",
	    code, text);
}

int
cmd_call(struct cmd_client *c, const struct cmd_opts *o, const GString *request,
    cmd_row_fn row, void *ud, struct cmd_fields *ok_fields_r)
{
	char *line;
	int rc, failed = 0;
	GString *req = g_string_new_len(request->str, request->len);

	g_string_append_c(req, '\n');
	/* a failed send is not final: the daemon may have said why before closing */
	cmd_client_send(c, req->str, req->len);
	g_string_free(req, TRUE);
	for (;;) {
		rc = cmd_client_readline(c, &line, NULL, 0);
		if (rc < 0)
			return CMD_EXIT_DAEMON;
		if (rc == 0)
			return cmd_fail(o, CMD_EXIT_DAEMON, "connection closed by bounced before "
			    "its answer (see the daemon's log)");
		if (strncmp(line, "+ ", 2) == 0) {
			struct cmd_fields f;

			if (failed)
				continue;
			if (cmd_fields_parse(line, &f) < 0) {
				cmd_fail(o, CMD_EXIT_DAEMON, "a malformed line from bounced (more than %d "
				    "fields, a bad %%XX value or a repeated key)", CMD_FIELDS_MAX);
				failed = 1;
				continue;
			}
			if (row != NULL && row(&f, ud) < 0)
				failed = 1;
			continue;
		}
		rc = cmd_status(o, NULL, line);
		if (rc == CMD_EXIT_OK && ok_fields_r != NULL)
			cmd_fields_parse(line, ok_fields_r);
		return failed && rc == CMD_EXIT_OK ? CMD_EXIT_DAEMON : rc;
	}
}

int
cmd_call_bytes(struct cmd_client *c, const struct cmd_opts *o, const GString *request,
    const char *what, guint64 max, char **buf_r, size_t *len_r)
{
	GString *req = g_string_new_len(request->str, request->len);
	struct cmd_fields f;
	const char *bytes;
	char *line, *buf;
	guint64 n;
	int rc;

	*buf_r = NULL;
	*len_r = 0;
	g_string_append_c(req, '\n');
	/* as in cmd_call: a failed send is not final, the answer may say why */
	cmd_client_send(c, req->str, req->len);
	g_string_free(req, TRUE);
	rc = cmd_client_readline(c, &line, NULL, 0);
	if (rc <= 0)
		return rc == 0 ? cmd_fail(o, CMD_EXIT_DAEMON, "connection closed by bounced") :
		    CMD_EXIT_DAEMON;
	rc = cmd_status(o, what, line);
	if (rc != CMD_EXIT_OK)
		return rc;
	cmd_fields_parse(line, &f);
	bytes = cmd_field(&f, "bytes");
	if (bytes == NULL || !g_ascii_string_to_unsigned(bytes, 10, 0, max, &n, NULL))
		return cmd_fail(o, CMD_EXIT_DAEMON, "bad %.*s answer from bounced",
		    (int)strcspn(request->str, " "), request->str);
	/* the N bytes and the LF that ends them */
	buf = g_malloc(n + 1);
	if (cmd_client_read(c, buf, (size_t)n + 1) < 0) {
		g_free(buf);
		return CMD_EXIT_DAEMON;
	}
	buf[n] = '\0';
	*buf_r = buf;
	*len_r = (size_t)n;
	return CMD_EXIT_OK;
}
