/* SPDX-License-Identifier: MIT */
/*
 * cmd-parse.c - "bouncectl parse [--json] FILE|DIR|- ...": runs the parser
 * offline on files and prints, for every (message, recipient), what
 * bounced makes of it.
 *
 * A directory stands for every regular file in it (sorted by name, not
 * recursive); "-" is standard input; a file starting with an mbox "From "
 * line is split into messages at every "From " line that follows an empty
 * line.  A message naming no recipient gives one line with recipient null
 * and class "none" (its verdict for a VERP-recovered address, if it is a
 * bounce, in "unnamed_class").
 *
 * Output: a table by default; with --json one object per line with file
 * (basename), message (1-based index in the file), recipient, class,
 * reason, scope, status, replycode, action, diagnostic and the rest of the
 * report.  Exit 0 when every file was read, 1 when one could not be (the
 * others are still parsed; the cause goes to stderr), 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "cmd.h"

/* Largest file read (an mbox of bounces); bigger ones are an error. */
#define PARSE_FILE_MAX (512u * 1024 * 1024)
/* Bytes of diagnostic shown in the table (the JSON has it whole). */
#define TABLE_DIAG_MAX 100

struct out {
	int json;
	GString *buf;
};

static int read_all(int fd, const char *name, GByteArray *data);
static int parse_path(struct out *o, const char *path, int in_dir);
static void parse_bytes(struct out *o, const char *name, const char *data, size_t len);
static void emit(struct out *o, const char *file, unsigned msgno, const struct report *r,
	const struct report_rcpt *rc);
static void table_text(GString *b, const char *s, size_t max);
static gint name_cmp(gconstpointer a, gconstpointer b);

static int
read_all(int fd, const char *name, GByteArray *data)
{
	guint8 chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bouncectl: cannot read %s: %s\n", name, g_strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (data->len + (size_t)n > PARSE_FILE_MAX) {
			fprintf(stderr, "bouncectl: cannot read %s: larger than %u bytes\n",
				name, PARSE_FILE_MAX);
			return -1;
		}
		g_byte_array_append(data, chunk, (guint)n);
	}
}

/* Printable, one line, bounded: bounce text is untrusted. */
static void
table_text(GString *b, const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL || *s == '\0') {
		g_string_append_c(b, '-');
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p && n < max; p++, n++)
		g_string_append_c(b, (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p);
	if (strlen(s) > max)
		g_string_append(b, "...");
}

static void
emit(struct out *o, const char *file, unsigned msgno, const struct report *r,
	const struct report_rcpt *rc)
{
	GString *b = o->buf;
	const struct report_rcpt *v = rc != NULL ? rc : &r->unnamed;

	g_string_truncate(b, 0);
	if (!o->json) {
		g_string_append_printf(b, "%s", file);
		if (msgno > 1)
			g_string_append_printf(b, "#%u", msgno);
		g_string_append_c(b, ' ');
		table_text(b, rc != NULL ? rc->recipient : NULL, 254);
		if (rc != NULL && rc->inferred)
			g_string_append(b, "(inferred)");
		g_string_append_printf(b, " %s", rc != NULL ? report_class_name(rc->class) : "none");
		if (rc == NULL && r->unnamed.class != REPORT_CLASS_NONE)
			g_string_append_printf(b, "(unnamed:%s)", report_class_name(r->unnamed.class));
		if (rc != NULL || r->unnamed.class != REPORT_CLASS_NONE)
			g_string_append_printf(b, " %s %s %s %s %s %s ",
				report_reason_name(v->reason), report_scope_name(v->scope),
				v->status[0] ? v->status : "-", v->replycode[0] ? v->replycode : "-",
				v->smtp_command != NULL ? v->smtp_command : "-",
				v->rule != NULL ? v->rule : "-");
		else
			g_string_append_printf(b, " - - - - - - ");
		table_text(b, v->diagnostic, TABLE_DIAG_MAX);
		g_string_append_c(b, '\n');
		fputs(b->str, stdout);
		return;
	}
	g_string_append(b, "{\"file\": ");
	cmd_json_string(b, file);
	g_string_append_printf(b, ", \"message\": %u, \"recipient\": ", msgno);
	cmd_json_string(b, rc != NULL ? rc->recipient : NULL);
	g_string_append(b, ", \"class\": ");
	cmd_json_string(b, rc != NULL ? report_class_name(rc->class) : "none");
	if (rc == NULL) {
		g_string_append(b, ", \"unnamed_class\": ");
		cmd_json_string(b, report_class_name(r->unnamed.class));
	}
	if (rc != NULL || r->unnamed.class != REPORT_CLASS_NONE) {
		g_string_append(b, ", \"reason\": ");
		cmd_json_string(b, report_reason_name(v->reason));
		g_string_append(b, ", \"scope\": ");
		cmd_json_string(b, report_scope_name(v->scope));
	} else {
		g_string_append(b, ", \"reason\": \"\", \"scope\": \"\"");
	}
	g_string_append(b, ", \"status\": ");
	cmd_json_string(b, v->status);
	g_string_append(b, ", \"replycode\": ");
	cmd_json_string(b, v->replycode);
	g_string_append(b, ", \"action\": ");
	cmd_json_string(b, v->action != NULL ? v->action : "");
	g_string_append(b, ", \"diagnostic\": ");
	cmd_json_string(b, v->diagnostic != NULL ? v->diagnostic : "");
	g_string_append(b, ", \"diagnostic_type\": ");
	cmd_json_string(b, v->diagnostic_type);
	g_string_append(b, ", \"smtp_command\": ");
	cmd_json_string(b, v->smtp_command);
	g_string_append(b, ", \"final_recipient\": ");
	cmd_json_string(b, v->final_recipient);
	if (rc != NULL && rc->inferred)
		g_string_append(b, ", \"inferred\": true");
	g_string_append(b, ", \"remote_mta\": ");
	cmd_json_string(b, v->remote_mta);
	g_string_append(b, ", \"category\": ");
	cmd_json_string(b, v->category);
	g_string_append(b, ", \"rule\": ");
	cmd_json_string(b, v->rule);
	g_string_append(b, ", \"decoder\": ");
	cmd_json_string(b, report_decoder_name(r->decoder));
	g_string_append(b, ", \"mta\": ");
	cmd_json_string(b, r->mta);
	g_string_append(b, ", \"reporting_mta\": ");
	cmd_json_string(b, r->reporting_mta);
	g_string_append(b, ", \"orig_message_id\": ");
	cmd_json_string(b, r->orig_message_id);
	g_string_append(b, ", \"orig_sender\": ");
	cmd_json_string(b, r->orig_sender);
	g_string_append(b, ", \"feedback_type\": ");
	cmd_json_string(b, r->feedback_type);
	g_string_append(b, ", \"warnings\": [");
	for (guint i = 0; i < r->warnings->len; i++) {
		if (i > 0)
			g_string_append(b, ", ");
		cmd_json_string(b, g_ptr_array_index(r->warnings, i));
	}
	g_string_append(b, "]}\n");
	fputs(b->str, stdout);
}

/*
 * One file's bytes: a single message, or an mbox (first line "From "):
 * a message starts at every "From " line that follows an empty line.
 */
static void
parse_bytes(struct out *o, const char *name, const char *data, size_t len)
{
	size_t start = 0;
	unsigned msgno = 0;
	int mbox = len >= 5 && memcmp(data, "From ", 5) == 0;

	while (start < len || msgno == 0) {
		size_t end = len;
		struct report *r;

		if (mbox) {
			for (size_t i = start + 5; i + 5 <= len; i++) {
				if (data[i] == 'F' && memcmp(data + i, "From ", 5) == 0 &&
				    i >= 2 && data[i - 1] == '\n' &&
				    (data[i - 2] == '\n' || (i >= 3 && data[i - 2] == '\r' && data[i - 3] == '\n'))) {
					end = i;
					break;
				}
			}
		}
		msgno++;
		r = report_parse(data + start, end - start, NULL);
		if (r->rcpts->len == 0)
			emit(o, name, msgno, r, NULL);
		for (guint i = 0; i < r->rcpts->len; i++)
			emit(o, name, msgno, r, g_ptr_array_index(r->rcpts, i));
		report_free(r);
		start = end;
		if (!mbox)
			break;
	}
}

/* g_ptr_array_sort passes pointers to the elements */
static gint
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
parse_path(struct out *o, const char *path, int in_dir)
{
	GByteArray *data;
	struct stat st;
	char *base;
	int fd, rc;

	if (strcmp(path, "-") == 0 && !in_dir) {
		data = g_byte_array_new();
		rc = read_all(STDIN_FILENO, "standard input", data);
		if (rc == 0)
			parse_bytes(o, "-", (const char *)data->data, data->len);
		g_byte_array_free(data, TRUE);
		return rc;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "bouncectl: cannot read %s: %s\n", path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode) && !in_dir) {
		DIR *d = fdopendir(fd);
		GPtrArray *names;
		struct dirent *de;
		int status = 0;

		if (d == NULL) {
			fprintf(stderr, "bouncectl: cannot read %s: %s\n", path, g_strerror(errno));
			close(fd);
			return -1;
		}
		names = g_ptr_array_new_with_free_func(g_free);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			g_ptr_array_add(names, g_build_filename(path, de->d_name, NULL));
		}
		closedir(d);
		g_ptr_array_sort(names, name_cmp);
		for (guint i = 0; i < names->len; i++) {
			const char *p = g_ptr_array_index(names, i);
			struct stat fst;

			if (stat(p, &fst) == 0 && !S_ISREG(fst.st_mode))
				continue;   /* sub-directories, sockets...: not bounces */
			if (parse_path(o, p, 1) < 0)
				status = -1;
		}
		g_ptr_array_free(names, TRUE);
		return status;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "bouncectl: cannot read %s: not a regular file or directory\n", path);
		close(fd);
		return -1;
	}
	data = g_byte_array_new();
	rc = read_all(fd, path, data);
	close(fd);
	if (rc == 0) {
		base = g_path_get_basename(path);
		parse_bytes(o, base, (const char *)data->data, data->len);
		g_free(base);
	}
	g_byte_array_free(data, TRUE);
	return rc;
}

int
cmd_parse(int argc, char **argv)
{
	struct out o = { 0, NULL };
	int status = 0, first = 1, files = 0;

	for (; first < argc; first++) {
		if (strcmp(argv[first], "--json") == 0) {
			o.json = 1;
		} else if (strcmp(argv[first], "--") == 0) {
			first++;
			break;
		} else if (argv[first][0] == '-' && argv[first][1] != '\0') {
			fprintf(stderr, "bouncectl parse: unknown option %s\n"
				"usage: bouncectl parse [--json] FILE|DIR|- ...\n", argv[first]);
			return 2;
		} else {
			break;
		}
	}
	if (first >= argc) {
		fprintf(stderr, "usage: bouncectl parse [--json] FILE|DIR|- ...\n");
		return 2;
	}
	o.buf = g_string_sized_new(4096);
	if (!o.json)
		printf("# FILE RECIPIENT CLASS REASON SCOPE STATUS REPLY STAGE RULE DIAGNOSTIC\n");
	for (int i = first; i < argc; i++, files++)
		if (parse_path(&o, argv[i], 0) < 0)
			status = 1;
	g_string_free(o.buf, TRUE);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "bouncectl: cannot write output: %s\n", g_strerror(errno));
		return 1;
	}
	return status;
}
