/* SPDX-License-Identifier: MIT */
/*
 * cmd-import.c - "bouncectl import FILE|-": suppressions from a file into
 * the daemon (its IMPORT verb: entries committed 1000 per transaction,
 * each audited as "import:NAME" with the caller's uid).
 *
 * What it reads (the container and the columns are recognised from the
 * first line; --format names the columns when that is ambiguous):
 *   bouncectl  our own export, CSV (header address,class,reason,status,
 *              since,until,source), JSON (one object per line, in an array
 *              or not): imported exactly as exported, so export -> import
 *              -> export is byte-identical
 *   plain      one address (or @domain) per line, # comments; the reason
 *              comes from --reason, which is then required
 *   ses        Amazon SES account-level suppression list: the CSV of its
 *              bulk actions ("address,BOUNCE|COMPLAINT", no header) or a
 *              CSV/JSON with the API's fields EmailAddress, Reason,
 *              LastUpdateTime
 *   postmark   Postmark suppressions: EmailAddress, SuppressionReason
 *              (HardBounce, SpamComplaint, ManualSuppression), Origin,
 *              CreatedAt
 *   sendgrid   SendGrid suppression CSV downloads: email, created and, by
 *              list, status and reason (bounces, blocks), reason (invalid
 *              emails), ip (spam reports), nothing more (unsubscribes)
 * Column names are matched without case, spaces, '_' or '-' ("Email
 * Address" = EmailAddress).  The mapping to class and reason is in
 * bouncectl(1); a SendGrid row whose status and text say the failure was
 * not the address's (a block of our IP, a rejected message, a 4xx) is
 * skipped and said so: it must not suppress a good address.
 *
 * Bad lines are reported with their line number and skipped; with
 * --strict the whole file is checked first and nothing is imported if one
 * line is bad (standard input is spooled to a temporary file for that).
 * Every line is checked here with the daemon's own functions (the store's
 * address normaliser, the reason and status validators), so what passes
 * here passes there.  A progress line goes to stderr when it is a terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "store.h"
#include "cmd.h"

#define IMPORT_SEND_CHUNK   (64 * 1024)    /* bytes buffered before a send */
#define IMPORT_ERRORS_SHOWN 100            /* bad lines printed; the rest are counted */
#define IMPORT_SKIPS_SHOWN  20
#define IMPORT_SOURCE_MAX   100
#define IMPORT_HEAD_MAX     (256 * 1024)   /* bytes read to recognise the format */
#define IMPORT_PROGRESS_US  (200 * 1000)

enum imp_container { IN_CSV, IN_JSON, IN_PLAIN };
enum imp_format { FMT_AUTO, FMT_BOUNCECTL, FMT_PLAIN, FMT_SES, FMT_POSTMARK, FMT_SENDGRID };

static const char *const format_names[] = { "auto", "bouncectl", "plain", "ses", "postmark",
    "sendgrid" };

/* The bytes read ahead to recognise the format, then the rest of the file. */
struct imp_chain {
	GString *head;
	size_t off;
	FILE *rest;
};

/* A daemon line number -> file line number breakpoint. */
struct imp_break {
	uint64_t sent;                /* the nth line sent (1-based) */
	int64_t delta;                /* file line - sent */
};

struct imp_run {
	struct cmd_opts o;
	const char *file;             /* as given; "-" for stdin */
	const char *name;             /* in messages */
	enum imp_format format;
	enum imp_container container;
	const char *reason, *cls, *note;
	char until[32];               /* "never" or unix seconds */
	int until_set;
	int strict, dry_run, progress;
	char source[IMPORT_SOURCE_MAX + 1];

	FILE *raw;                    /* the file (or the spool of stdin) */
	FILE *in;                     /* raw through the chain */
	off_t size;                   /* 0: unknown */
	GPtrArray *header;            /* normalised column names (CSV) */
	GPtrArray *names, *values;    /* the current record */
	unsigned line;                /* physical line where the next record starts */
	unsigned rec_line;            /* line of the current record */
	int header_done;

	uint64_t records, good, errors, skipped, sent;
	GArray *breaks;               /* struct imp_break */
	struct cmd_client *c;
	GString *buf;                 /* protocol lines not sent yet */
	gint64 last_progress, started;
	int daemon_failed;
	uint64_t daemon_errors;
};

static int import_help(void);
static ssize_t chain_read(void *cookie, char *buf, size_t size);
static int chain_close(void *cookie);
static FILE *chain_open(GString *head, FILE *rest);
static void imp_normalise_name(const char *in, char *out, size_t outsz);
static int imp_detect(struct imp_run *r);
static int imp_open(struct imp_run *r);
static void imp_close(struct imp_run *r);
static int imp_rewind(struct imp_run *r);
static int imp_next(struct imp_run *r, char err[256]);
static const char *imp_col(const struct imp_run *r, const char *name);
static int imp_map(struct imp_run *r, GString *line, char err[256]);
static int imp_target(const char *addr, int allow_special, char norm[STORE_ADDR_MAX + 1],
    char err[256]);
static int imp_time(const char *v, int64_t *t_r, char err[256]);
static void imp_classify(const char *status, const char *text, enum report_class *cls_r,
    enum report_reason *reason_r, enum report_scope *scope_r);
static void imp_bad(struct imp_run *r, unsigned line, const char *what, const char *text);
static int imp_pass(struct imp_run *r, int send);
static int imp_flush(struct imp_run *r, int final);
static int imp_responses(struct imp_run *r, int nonblock, struct cmd_fields *ok_r);
static void imp_progress(struct imp_run *r, int done);

static int
import_help(void)
{
	printf("usage: bouncectl import [OPTIONS] FILE|-\n"
	    "Imports suppressions: a bouncectl export (CSV or JSON, round-trips exactly), a\n"
	    "plain list of addresses (one per line, needs --reason), or the suppression\n"
	    "lists of Amazon SES, Postmark or SendGrid (CSV; column mapping in bouncectl(1)).\n"
	    "  --format F           auto (default: from the first line), bouncectl, plain,\n"
	    "                       ses, postmark, sendgrid\n"
	    "  --reason R           plain lists: the reason of every entry (userunknown...)\n"
	    "  --class C            plain lists: import (default), manual, hard, complaint\n"
	    "  --until T            plain and provider lists: expiry (default never)\n"
	    "  --note TEXT          recorded in the audit log with every entry\n"
	    "  --source NAME        the import's name in the audit log (default: file name)\n"
	    "  --strict             check the whole file first; one bad line aborts the\n"
	    "                       import and nothing is imported\n"
	    "  --dry-run            check and count, import nothing\n"
	    "  --progress, --no-progress  the progress line on stderr (default: when\n"
	    "                       stderr is a terminal)\n"
	    "%s"
	    "import exits 0 when every line was imported, 1 when bad lines were skipped\n"
	    "(or --strict aborted), 2 on usage errors, 3 when bounced failed.\n",
	    cmd_common_help);
	return 0;
}

/* ---- input ---------------------------------------------------------------- */

static ssize_t
chain_read(void *cookie, char *buf, size_t size)
{
	struct imp_chain *ch = cookie;

	if (ch->off < ch->head->len) {
		size_t n = MIN(size, ch->head->len - ch->off);

		memcpy(buf, ch->head->str + ch->off, n);
		ch->off += n;
		return (ssize_t)n;
	}
	{
		size_t n = fread(buf, 1, size, ch->rest);

		if (n == 0 && ferror(ch->rest))
			return -1;
		return (ssize_t)n;
	}
}

static int
chain_close(void *cookie)
{
	struct imp_chain *ch = cookie;

	g_string_free(ch->head, TRUE);
	g_free(ch);
	return 0;
}

static FILE *
chain_open(GString *head, FILE *rest)
{
	cookie_io_functions_t io = { .read = chain_read, .close = chain_close };
	struct imp_chain *ch = g_new0(struct imp_chain, 1);
	FILE *f;

	ch->head = head;
	ch->rest = rest;
	f = fopencookie(ch, "r", io);
	if (f == NULL)
		chain_close(ch);
	return f;
}

/* "Email Address" -> "emailaddress" */
static void
imp_normalise_name(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < outsz; in++)
		if (g_ascii_isalnum(*in))
			out[o++] = g_ascii_tolower(*in);
	out[o] = '\0';
}

/* Opens the input (spooling stdin for --strict) and recognises its format. */
static int
imp_open(struct imp_run *r)
{
	struct stat st;

	if (strcmp(r->file, "-") == 0) {
		r->raw = stdin;
		r->name = "stdin";
	} else {
		r->raw = fopen(r->file, "re");
		r->name = r->file;
		if (r->raw == NULL)
			return cmd_fail(&r->o, CMD_EXIT_USAGE, "cannot open %s: %s", r->file,
			    g_strerror(errno));
	}
	if (fstat(fileno(r->raw), &st) == 0 && S_ISREG(st.st_mode))
		r->size = st.st_size;
	if (r->size == 0 && (r->strict || r->dry_run) && r->raw == stdin) {
		/* two passes over a pipe: keep a copy */
		FILE *spool = tmpfile();
		char chunk[65536];
		size_t n;

		if (spool == NULL)
			return cmd_fail(&r->o, CMD_EXIT_DAEMON, "cannot create a temporary file: %s",
			    g_strerror(errno));
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if (fwrite(chunk, 1, n, spool) != n) {
				fclose(spool);
				return cmd_fail(&r->o, CMD_EXIT_DAEMON, "cannot spool standard input: %s",
				    g_strerror(errno));
			}
		if (ferror(stdin) || fflush(spool) != 0) {
			fclose(spool);
			return cmd_fail(&r->o, CMD_EXIT_USAGE, "cannot read standard input: %s",
			    g_strerror(errno));
		}
		rewind(spool);
		r->raw = spool;
		if (fstat(fileno(spool), &st) == 0)
			r->size = st.st_size;
	}
	return imp_detect(r);
}

static void
imp_close(struct imp_run *r)
{
	if (r->in != NULL)
		fclose(r->in);
	r->in = NULL;
	if (r->raw != NULL && r->raw != stdin)
		fclose(r->raw);
	r->raw = NULL;
}

/* Back to the start of a seekable input (the second pass of --strict). */
static int
imp_rewind(struct imp_run *r)
{
	if (r->in != NULL)
		fclose(r->in);          /* the chain: r->raw stays open */
	r->in = NULL;
	if (fseeko(r->raw, 0, SEEK_SET) != 0)
		return cmd_fail(&r->o, CMD_EXIT_USAGE, "cannot read %s again: %s", r->name,
		    g_strerror(errno));
	if (r->header != NULL)
		g_ptr_array_free(r->header, TRUE);
	r->header = NULL;
	r->header_done = 0;
	return imp_detect(r);
}

/*
 * Reads up to the first meaningful line (not blank, not a # comment),
 * decides the container and the column mapping, and sets r->in to read
 * everything from the start again.
 */
static int
imp_detect(struct imp_run *r)
{
	GString *head = g_string_new(NULL);
	const char *first = NULL;
	size_t first_len = 0;
	int c, json_array = 0;

	for (;;) {
		size_t start = head->len;

		while ((c = getc(r->raw)) != EOF && c != '\n' && head->len < IMPORT_HEAD_MAX)
			g_string_append_c(head, (char)c);
		if (c == '\n')
			g_string_append_c(head, '\n');
		if (start == 0 && head->len >= 3 && memcmp(head->str, "\xef\xbb\xbf", 3) == 0)
			start = 3;      /* a UTF-8 byte order mark, as Excel writes */
		{
			const char *p = head->str + start;
			size_t n = head->len - start;

			while (n > 0 && g_ascii_isspace(*p))
				p++, n--;
			while (n > 0 && g_ascii_isspace(p[n - 1]))
				n--;
			if (n == 1 && *p == '[') {
				json_array = 1;         /* a JSON array: its first object decides */
			} else if (n > 0 && *p != '#') {
				first = p;
				first_len = n;
				break;
			}
		}
		if (c == EOF || head->len >= IMPORT_HEAD_MAX)
			break;
	}
	if (first == NULL) {
		r->in = chain_open(head, r->raw);
		if (r->format == FMT_AUTO)
			r->format = FMT_PLAIN;
		r->container = IN_PLAIN;
		return r->in != NULL ? 0 : cmd_fail(&r->o, CMD_EXIT_DAEMON, "fopencookie failed");
	}
	if (r->format == FMT_PLAIN) {
		r->container = IN_PLAIN;
	} else if (*first == '{' || *first == '[' || json_array) {
		r->container = IN_JSON;
		if (r->format == FMT_AUTO) {
			/* the first object's members decide */
			GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
			GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
			const char *p = first;
			size_t n = first_len;
			char err[256];

			if (*p == '[')
				p++, n--;
			while (n > 0 && g_ascii_isspace(*p))
				p++, n--;
			while (n > 0 && (p[n - 1] == ',' || p[n - 1] == ']' || g_ascii_isspace(p[n - 1])))
				n--;
			if (n == 0 || cmd_json_object(p, n, names, values, err) < 0) {
				g_ptr_array_free(names, TRUE);
				g_ptr_array_free(values, TRUE);
				g_string_free(head, TRUE);
				return cmd_fail(&r->o, CMD_EXIT_NO, "%s: the first line is not a JSON object "
				    "on one line (JSON is read one object per line, as export writes it)",
				    r->name);
			}
			r->header = g_ptr_array_new_with_free_func(g_free);
			for (guint i = 0; i < names->len; i++) {
				char nm[64];

				imp_normalise_name(g_ptr_array_index(names, i), nm, sizeof(nm));
				g_ptr_array_add(r->header, g_strdup(nm));
			}
			g_ptr_array_free(names, TRUE);
			g_ptr_array_free(values, TRUE);
		}
	} else {
		/* CSV: is the first line a header? */
		FILE *m = fmemopen((void *)first, first_len, "r");
		GPtrArray *f = g_ptr_array_new_with_free_func(g_free);
		unsigned lines;
		char err[256];
		int is_header = 0;

		if (m == NULL || cmd_csv_read(m, f, &lines, err) != 1) {
			if (m != NULL)
				fclose(m);
			g_ptr_array_free(f, TRUE);
			g_string_free(head, TRUE);
			return cmd_fail(&r->o, CMD_EXIT_NO, "%s: cannot read the first line as CSV",
			    r->name);
		}
		fclose(m);
		r->header = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < f->len; i++) {
			char nm[64];

			imp_normalise_name(g_ptr_array_index(f, i), nm, sizeof(nm));
			if (strcmp(nm, "address") == 0 || strcmp(nm, "email") == 0 ||
			    strcmp(nm, "emailaddress") == 0)
				is_header = 1;
			g_ptr_array_add(r->header, g_strdup(nm));
		}
		if (is_header && f->len == 1 && (r->format == FMT_AUTO || r->format == FMT_PLAIN)) {
			/* a list with a one-word header: plain, header skipped */
			r->container = IN_PLAIN;
			r->format = FMT_PLAIN;
		} else if (is_header) {
			r->container = IN_CSV;
		} else if (f->len == 1) {
			g_ptr_array_free(r->header, TRUE);
			r->header = NULL;
			r->container = IN_PLAIN;
			if (r->format == FMT_AUTO)
				r->format = FMT_PLAIN;
		} else {
			char *second = g_strstrip(g_ascii_strup(g_ptr_array_index(f, 1), -1));

			if (f->len == 2 && (strcmp(second, "BOUNCE") == 0 ||
			    strcmp(second, "COMPLAINT") == 0) &&
			    (r->format == FMT_AUTO || r->format == FMT_SES)) {
				/* SES's bulk-action CSV: "address,REASON", no header */
				g_ptr_array_set_size(r->header, 0);
				g_ptr_array_add(r->header, g_strdup("emailaddress"));
				g_ptr_array_add(r->header, g_strdup("reason"));
				r->header_done = 1;
				r->container = IN_CSV;
				r->format = FMT_SES;
			} else {
				g_free(second);
				g_ptr_array_free(f, TRUE);
				g_string_free(head, TRUE);
				return cmd_fail(&r->o, CMD_EXIT_NO, "%s: cannot tell the format from the "
				    "first line (no address/email column in a header); use --format",
				    r->name);
			}
			g_free(second);
		}
		g_ptr_array_free(f, TRUE);
	}
	/* the column mapping */
	if (r->format == FMT_AUTO && r->header != NULL) {
		int has_address = 0, has_class = 0, has_sr = 0, has_ea = 0, has_reason = 0,
		    has_email = 0;

		for (guint i = 0; i < r->header->len; i++) {
			const char *n = g_ptr_array_index(r->header, i);

			has_address |= strcmp(n, "address") == 0;
			has_class |= strcmp(n, "class") == 0;
			has_sr |= strcmp(n, "suppressionreason") == 0;
			has_ea |= strcmp(n, "emailaddress") == 0;
			has_reason |= strcmp(n, "reason") == 0;
			has_email |= strcmp(n, "email") == 0;
		}
		if (has_address && has_class)
			r->format = FMT_BOUNCECTL;
		else if (has_sr && has_ea)
			r->format = FMT_POSTMARK;
		else if (has_ea && has_reason)
			r->format = FMT_SES;
		else if (has_email)
			r->format = FMT_SENDGRID;
		else {
			g_string_free(head, TRUE);
			return cmd_fail(&r->o, CMD_EXIT_NO, "%s: unknown columns (want a bouncectl "
			    "export, or SES, Postmark or SendGrid columns); use --format", r->name);
		}
	}
	if (r->format == FMT_AUTO)
		r->format = FMT_PLAIN;
	if (head->len >= 3 && memcmp(head->str, "\xef\xbb\xbf", 3) == 0)
		g_string_erase(head, 0, 3);
	r->in = chain_open(head, r->raw);
	if (r->in == NULL)
		return cmd_fail(&r->o, CMD_EXIT_DAEMON, "fopencookie failed");
	return 0;
}

/*
 * The next record into r->names / r->values.  1 record, 0 end, -1 a bad
 * record (err filled; the caller counts it and goes on).
 */
static int
imp_next(struct imp_run *r, char err[256])
{
	for (;;) {
		unsigned lines = 0;
		int rc;

		r->rec_line = r->line + 1;
		g_ptr_array_set_size(r->values, 0);
		if (r->container == IN_CSV) {
			rc = cmd_csv_read(r->in, r->values, &lines, err);
			r->line += lines;
			if (rc <= 0)
				return rc;
			/* blank lines, and comments before the header */
			if (r->values->len == 1 && *(char *)g_ptr_array_index(r->values, 0) == '\0')
				continue;
			if (!r->header_done) {
				const char *f0 = g_ptr_array_index(r->values, 0);

				if (f0[0] == '#')
					continue;
				r->header_done = 1;     /* this is the header, read in imp_detect */
				continue;
			}
			if (r->values->len != r->header->len) {
				snprintf(err, 256, "%u columns where the header has %u", r->values->len,
				    r->header->len);
				return -1;
			}
			return 1;
		} else {
			char *text = NULL;
			size_t cap = 0;
			ssize_t n = getline(&text, &cap, r->in);
			char *p;

			if (n < 0) {
				free(text);
				return 0;
			}
			r->line++;
			if ((size_t)n > CMD_RECORD_MAX) {
				free(text);
				snprintf(err, 256, "line longer than %d bytes", CMD_RECORD_MAX);
				return -1;
			}
			p = g_strstrip(text);
			if (*p == '\0' || (r->container == IN_PLAIN && *p == '#') ||
			    (r->container == IN_JSON && (strcmp(p, "[") == 0 || strcmp(p, "]") == 0))) {
				free(text);
				continue;
			}
			if (r->container == IN_PLAIN) {
				char nm[64];

				imp_normalise_name(p, nm, sizeof(nm));
				if (!r->header_done && strchr(p, '@') == NULL &&
				    (strcmp(nm, "address") == 0 || strcmp(nm, "email") == 0 ||
				    strcmp(nm, "emailaddress") == 0)) {
					r->header_done = 1;
					free(text);
					continue;
				}
				r->header_done = 1;
				g_ptr_array_add(r->values, g_strdup(p));
				free(text);
				return 1;
			}
			/* JSON: one object per line, maybe inside "[" ... "]" with commas */
			{
				size_t len = strlen(p);

				if (*p == '[')
					p++, len--;
				while (len > 0 && (p[len - 1] == ',' || g_ascii_isspace(p[len - 1])))
					len--;
				if (len > 0 && p[len - 1] == ']' && (len < 2 || p[len - 2] == '}'))
					len--;
				rc = cmd_json_object(p, len, r->names, r->values, err);
				free(text);
				if (rc < 0)
					return -1;
				for (guint i = 0; i < r->names->len; i++) {
					char nm[64];

					imp_normalise_name(g_ptr_array_index(r->names, i), nm, sizeof(nm));
					g_free(r->names->pdata[i]);
					r->names->pdata[i] = g_strdup(nm);
				}
				return 1;
			}
		}
	}
}

/* The value of a (normalised) column in the current record, or NULL. */
static const char *
imp_col(const struct imp_run *r, const char *name)
{
	const GPtrArray *names = r->container == IN_JSON ? r->names : r->header;

	if (r->container == IN_PLAIN)
		return strcmp(name, "address") == 0 && r->values->len ?
		    g_ptr_array_index(r->values, 0) : NULL;
	for (guint i = 0; names != NULL && i < names->len && i < r->values->len; i++)
		if (strcmp(g_ptr_array_index(names, i), name) == 0)
			return g_ptr_array_index(r->values, i);
	return NULL;
}

/* Normalises an address; "hmac:" names of forgotten entries only from our export. */
static int
imp_target(const char *addr, int allow_special, char norm[STORE_ADDR_MAX + 1], char err[256])
{
	if (addr == NULL || *addr == '\0') {
		snprintf(err, 256, "no address");
		return -1;
	}
	if (allow_special && strncmp(addr, "hmac:", 5) == 0) {
		/* checked as the daemon checks it */
		if (!store_erased_name_valid(addr)) {
			snprintf(err, 256, "invalid erased-entry name");
			return -1;
		}
		g_strlcpy(norm, addr, STORE_ADDR_MAX + 1);
		return 0;
	}
	if (store_addr_normalize(addr, strlen(addr), norm, err) < 0)
		return -1;
	if (!allow_special && norm[0] == '@') {
		snprintf(err, 256, "a domain where an address is expected");
		return -1;
	}
	return 0;
}

static int
imp_time(const char *v, int64_t *t_r, char err[256])
{
	if (cmd_parse_time(v, CMD_TIME_PAST, time(NULL), t_r, err) < 0)
		return -1;
	if (*t_r < 0 || *t_r > (int64_t)time(NULL) + (int64_t)86400 * 366 * 200) {
		snprintf(err, 256, "time out of range: %s", v);
		return -1;
	}
	return 0;
}

/* Classifies a SendGrid status + text the way bounces are classified. */
static void
imp_classify(const char *status, const char *text, enum report_class *cls_r,
    enum report_reason *reason_r, enum report_scope *scope_r)
{
	struct classify_input in;
	const struct classify_rule *row;
	char reply[4] = "";
	char *low = g_ascii_strdown(text ? text : "", -1);

	if (text != NULL && strlen(text) >= 3 && strchr("245", text[0]) && g_ascii_isdigit(text[1]) &&
	    g_ascii_isdigit(text[2]) && (text[3] == '\0' || !g_ascii_isdigit(text[3])))
		memcpy(reply, text, 3);
	memset(&in, 0, sizeof(in));
	in.decoder = REPORT_DECODER_NONE;
	in.category = "";
	in.action = "";
	in.status = status ? status : "";
	in.reply = reply;
	in.cmd = CLASSIFY_CMD_NONE;
	in.text = low;
	row = classify_input_rule(&in);
	*cls_r = classify_class(row, &in);
	*reason_r = row->reason;
	*scope_r = row->scope;
	g_free(low);
}

/*
 * Maps the current record to one IMPORT line ("+ target=... \n" appended
 * to line).  1 mapped, 0 skipped on purpose (err says why), -1 bad.
 */
static int
imp_map(struct imp_run *r, GString *line, char err[256])
{
	char norm[STORE_ADDR_MAX + 1], note[CMD_NOTE_MAX + 1] = "";
	const char *cls = NULL, *reason = "undefined", *source = NULL, *v;
	char status[16] = "";
	int64_t since = 0, until = -1;          /* -1: from r->until */
	enum report_reason rr;
	enum store_cause cause;

	switch (r->format) {
	case FMT_BOUNCECTL:
		if (imp_target(imp_col(r, "address"), 1, norm, err) < 0)
			return -1;
		cls = imp_col(r, "class");
		if (cls == NULL || !store_cause_from_name(cls, &cause)) {
			snprintf(err, 256, "unknown class \"%.40s\"", cls ? cls : "");
			return -1;
		}
		if (cause == STORE_CAUSE_NONE) {
			snprintf(err, 256, "not suppressed (class none): nothing to import");
			return 0;
		}
		reason = imp_col(r, "reason");
		if (reason == NULL || !report_reason_from_name(reason, &rr)) {
			snprintf(err, 256, "unknown reason \"%.40s\"", reason ? reason : "");
			return -1;
		}
		if ((v = imp_col(r, "status")) != NULL && *v != '\0') {
			if (!report_status_valid(v)) {
				snprintf(err, 256, "invalid status \"%.20s\"", v);
				return -1;
			}
			g_strlcpy(status, v, sizeof(status));
		}
		if ((v = imp_col(r, "since")) != NULL && *v != '\0' && imp_time(v, &since, err) < 0)
			return -1;
		until = 0;
		if ((v = imp_col(r, "until")) != NULL && *v != '\0' && strcmp(v, "never") != 0 &&
		    imp_time(v, &until, err) < 0)
			return -1;
		if ((v = imp_col(r, "source")) != NULL && *v != '\0')
			source = v;
		break;
	case FMT_PLAIN:
		if (imp_target(imp_col(r, "address"), 1, norm, err) < 0)
			return -1;
		cls = r->cls;
		reason = r->reason;
		break;
	case FMT_SES:
		if (imp_target(imp_col(r, "emailaddress"), 0, norm, err) < 0)
			return -1;
		v = imp_col(r, "reason");
		if (v != NULL && g_ascii_strcasecmp(g_strstrip((char *)v), "BOUNCE") == 0) {
			cls = "hard";
		} else if (v != NULL && g_ascii_strcasecmp(v, "COMPLAINT") == 0) {
			cls = "complaint";
			reason = "feedback";
		} else {
			snprintf(err, 256, "SES reason is not BOUNCE or COMPLAINT: \"%.40s\"", v ? v : "");
			return -1;
		}
		if ((v = imp_col(r, "lastupdatetime")) != NULL && *v != '\0' &&
		    imp_time(v, &since, err) < 0)
			return -1;
		source = "ses";
		break;
	case FMT_POSTMARK:
		if (imp_target(imp_col(r, "emailaddress"), 0, norm, err) < 0)
			return -1;
		v = imp_col(r, "suppressionreason");
		if (v != NULL && g_ascii_strcasecmp(g_strstrip((char *)v), "HardBounce") == 0) {
			cls = "hard";
		} else if (v != NULL && g_ascii_strcasecmp(v, "SpamComplaint") == 0) {
			cls = "complaint";
			reason = "feedback";
		} else if (v != NULL && g_ascii_strcasecmp(v, "ManualSuppression") == 0) {
			cls = "manual";
		} else {
			snprintf(err, 256, "Postmark SuppressionReason is not HardBounce, SpamComplaint "
			    "or ManualSuppression: \"%.40s\"", v ? v : "");
			return -1;
		}
		if ((v = imp_col(r, "origin")) != NULL && *v != '\0')
			snprintf(note, sizeof(note), "postmark: %s by %.60s",
			    imp_col(r, "suppressionreason"), v);
		if ((v = imp_col(r, "createdat")) != NULL && *v != '\0' &&
		    imp_time(v, &since, err) < 0)
			return -1;
		source = "postmark";
		break;
	case FMT_SENDGRID: {
		const char *st = imp_col(r, "status"), *text = imp_col(r, "reason");

		if (imp_target(imp_col(r, "email"), 0, norm, err) < 0)
			return -1;
		if ((v = imp_col(r, "created")) != NULL && *v != '\0' && imp_time(v, &since, err) < 0)
			return -1;
		if (st != NULL)
			st = g_strstrip((char *)st);
		if (imp_col(r, "ip") != NULL) {
			cls = "complaint";          /* the spam reports list */
			reason = "feedback";
		} else if ((st != NULL && *st != '\0') || (text != NULL && *text != '\0')) {
			enum report_class k;
			enum report_scope sc;

			if (st != NULL && *st != '\0' && !report_status_valid(st)) {
				snprintf(err, 256, "invalid status \"%.20s\"", st);
				return -1;
			}
			imp_classify(st, text, &k, &rr, &sc);
			if (st != NULL && *st != '\0' && st[0] != '5') {
				snprintf(err, 256, "status %s is temporary: not a suppression", st);
				return 0;
			}
			if (sc == REPORT_SCOPE_SENDER || sc == REPORT_SCOPE_MESSAGE) {
				snprintf(err, 256, "%s (%s scope): the failure was %s, not the address's",
				    report_reason_name(rr), report_scope_name(sc), sc == REPORT_SCOPE_SENDER ?
				    "our sending server's" : "the message's");
				return 0;
			}
			cls = "hard";
			reason = sc == REPORT_SCOPE_ADDRESS || sc == REPORT_SCOPE_DOMAIN ?
			    report_reason_name(rr) : "undefined";
			if (st != NULL && *st != '\0')
				g_strlcpy(status, st, sizeof(status));
			if (text != NULL && *text != '\0') {
				GString *t = g_string_new("sendgrid: ");

				cmd_table_text(t, text, 200);
				g_strlcpy(note, t->str, sizeof(note));
				g_string_free(t, TRUE);
			}
		} else {
			cls = "manual";             /* unsubscribes: the recipient's will */
			g_strlcpy(note, "sendgrid: unsubscribed", sizeof(note));
		}
		source = "sendgrid";
		break;
	}
	case FMT_AUTO:
		snprintf(err, 256, "format unknown");
		return -1;
	}
	cmd_req_start(line, "+");
	cmd_req_add(line, "target", norm);
	cmd_req_add(line, "cause", cls);
	cmd_req_add(line, "reason", reason);
	if (status[0] != '\0')
		cmd_req_add(line, "status", status);
	if (since > 0)
		cmd_req_addf(line, "since", "%" G_GINT64_FORMAT, since);
	if (until > 0)
		cmd_req_addf(line, "until", "%" G_GINT64_FORMAT, until);
	else if (until == 0)
		cmd_req_add(line, "until", "never");
	else
		cmd_req_add(line, "until", r->until);
	if (r->note != NULL && note[0] != '\0') {
		char both[CMD_NOTE_MAX * 2 + 4];

		snprintf(both, sizeof(both), "%s; %s", r->note, note);
		cmd_req_add(line, "note", both);
	} else if (r->note != NULL) {
		cmd_req_add(line, "note", r->note);
	} else if (note[0] != '\0') {
		cmd_req_add(line, "note", note);
	}
	cmd_req_add(line, "source", source);
	g_string_append_c(line, '\n');
	return 1;
}

static void
imp_bad(struct imp_run *r, unsigned line, const char *what, const char *text)
{
	if (strcmp(what, "skipped") == 0) {
		if (++r->skipped <= IMPORT_SKIPS_SHOWN)
			fprintf(stderr, "%sbouncectl import: %s:%u: skipped: %s\n",
			    r->progress ? "\r\033[K" : "", r->name, line, text);
		return;
	}
	if (++r->errors <= IMPORT_ERRORS_SHOWN)
		fprintf(stderr, "%sbouncectl import: %s:%u: %s: %s\n", r->progress ? "\r\033[K" : "",
		    r->name, line, what, text);
	else if (r->errors == IMPORT_ERRORS_SHOWN + 1)
		fprintf(stderr, "bouncectl import: more bad lines: counted, not shown\n");
}

static void
imp_progress(struct imp_run *r, int done)
{
	gint64 now = g_get_monotonic_time();
	double secs;

	if (!r->progress || (!done && now - r->last_progress < IMPORT_PROGRESS_US))
		return;
	r->last_progress = now;
	secs = (double)(now - r->started) / 1e6;
	if (r->size > 0) {
		off_t pos = ftello(r->raw);
		int pct = pos > 0 ? (int)(100.0 * (double)pos / (double)r->size) : 0;
		int bar = MIN(pct, 100) * 30 / 100;

		fprintf(stderr, "\r\033[K%s [%.*s%*s] %3d%% %" G_GUINT64_FORMAT " entries%s",
		    r->dry_run ? "checking" : "importing", bar, "==============================",
		    30 - bar, "", MIN(pct, 100), r->good, "");
	} else {
		fprintf(stderr, "\r\033[K%s %" G_GUINT64_FORMAT " entries",
		    r->dry_run ? "checking" : "importing", r->good);
	}
	if (secs > 0.5)
		fprintf(stderr, ", %.0f/s", (double)r->good / secs);
	if (done)
		fputc('\n', stderr);
}

/*
 * Reads the daemon's answers: "+ error line=N text=..." (a line it
 * refused: reported with the file's line number) and, at the end, the
 * status line (into *ok_r when given).  nonblock: only what has arrived.
 * Returns 1 the status line came (OK), 0 nothing more for now, -1 the
 * daemon failed (message given).
 */
static int
imp_responses(struct imp_run *r, int nonblock, struct cmd_fields *ok_r)
{
	char *line;

	for (;;) {
		int rc = cmd_client_readline(r->c, &line, NULL, nonblock);

		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (!nonblock || r->daemon_failed) {
				cmd_fail(&r->o, CMD_EXIT_DAEMON, "connection closed by bounced during the "
				    "import (see its log); %" G_GUINT64_FORMAT " lines were sent",
				    r->sent);
				return -1;
			}
			return 0;
		}
		if (strncmp(line, "+ ", 2) == 0) {
			struct cmd_fields f;
			const char *n, *text;
			uint64_t sent;
			int64_t delta = 0;

			cmd_fields_parse(line, &f);
			n = cmd_field(&f, "line");
			text = cmd_field(&f, "text");
			sent = n ? g_ascii_strtoull(n, NULL, 10) : 0;
			for (guint i = 0; i < r->breaks->len; i++) {
				const struct imp_break *b = &g_array_index(r->breaks, struct imp_break, i);

				if (b->sent > sent)
					break;
				delta = b->delta;
			}
			r->daemon_errors++;
			imp_bad(r, (unsigned)((int64_t)sent + delta), "refused by bounced",
			    text ? text : "?");
			continue;
		}
		if (strncmp(line, "OK", 2) == 0) {
			if (ok_r != NULL)
				cmd_fields_parse(line, ok_r);
			return 1;
		}
		if (strncmp(line, "ERR ", 4) == 0) {
			cmd_status(&r->o, NULL, line);
			r->daemon_failed = 1;
			return -1;
		}
		cmd_fail(&r->o, CMD_EXIT_DAEMON, "unexpected answer from bounced: %.100s", line);
		return -1;
	}
}

/* Sends what is buffered; reads the answers that came meanwhile. */
static int
imp_flush(struct imp_run *r, int final)
{
	if (r->buf->len > 0 && cmd_client_send(r->c, r->buf->str, r->buf->len) < 0) {
		/* the daemon hung up: its reason is in the socket */
		imp_responses(r, 0, NULL);
		return -1;
	}
	g_string_truncate(r->buf, 0);
	if (!final && imp_responses(r, 1, NULL) < 0)
		return -1;
	return 0;
}

/*
 * One pass over the input.  send 0: check only (counts errors); send 1:
 * send every good entry to the daemon.  Returns 0, or an exit status
 * after a message when the daemon failed.
 */
static int
imp_pass(struct imp_run *r, int send)
{
	GString *line = g_string_sized_new(512);
	char err[256];
	int rc;

	r->records = r->good = r->errors = r->skipped = r->sent = 0;
	r->line = 0;
	r->started = g_get_monotonic_time();
	while ((rc = imp_next(r, err)) != 0) {
		r->records++;
		if (rc < 0) {
			imp_bad(r, r->rec_line, "bad line", err);
			imp_progress(r, 0);
			continue;
		}
		g_string_truncate(line, 0);
		rc = imp_map(r, line, err);
		if (rc < 0) {
			imp_bad(r, r->rec_line, "bad line", err);
		} else if (rc == 0) {
			imp_bad(r, r->rec_line, "skipped", err);
		} else {
			r->good++;
			if (send) {
				int64_t delta = (int64_t)r->rec_line - (int64_t)(r->sent + 1);

				if (r->breaks->len == 0 || g_array_index(r->breaks, struct imp_break,
				    r->breaks->len - 1).delta != delta) {
					struct imp_break b = { r->sent + 1, delta };

					g_array_append_val(r->breaks, b);
				}
				r->sent++;
				g_string_append_len(r->buf, line->str, (gssize)line->len);
				if (r->buf->len >= IMPORT_SEND_CHUNK && imp_flush(r, 0) < 0) {
					g_string_free(line, TRUE);
					return CMD_EXIT_DAEMON;
				}
			}
		}
		imp_progress(r, 0);
	}
	g_string_free(line, TRUE);
	if (ferror(r->raw))
		return cmd_fail(&r->o, CMD_EXIT_USAGE, "cannot read %s: %s", r->name,
		    g_strerror(errno));
	return 0;
}

int
cmd_import(int argc, char **argv)
{
	enum { OPT_FORMAT = CMD_OPT_FIRST_FREE, OPT_REASON, OPT_CLASS, OPT_UNTIL, OPT_NOTE,
	    OPT_SOURCE, OPT_STRICT, OPT_DRY_RUN, OPT_PROGRESS, OPT_NO_PROGRESS };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "class", required_argument, NULL, OPT_CLASS },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct imp_run r;
	struct cmd_fields ok;
	char err[256];
	int opt, code = CMD_EXIT_OK, progress = -1;
	uint64_t imported = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, "import");
	g_strlcpy(r.until, "never", sizeof(r.until));
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			return import_help();
		case OPT_FORMAT: {
			size_t i;

			for (i = 0; i < G_N_ELEMENTS(format_names); i++)
				if (strcmp(optarg, format_names[i]) == 0)
					break;
			if (i == G_N_ELEMENTS(format_names))
				return cmd_usage(&r.o, "--format is auto, bouncectl, plain, ses, postmark "
				    "or sendgrid");
			r.format = (enum imp_format)i;
			break;
		}
		case OPT_REASON: {
			enum report_reason rr;

			if (!report_reason_from_name(optarg, &rr))
				return cmd_usage(&r.o, "unknown reason \"%s\"", optarg);
			r.reason = optarg;
			break;
		}
		case OPT_CLASS: {
			enum store_cause c;

			if (!store_cause_from_name(optarg, &c) || c == STORE_CAUSE_NONE ||
			    c == STORE_CAUSE_SOFT)
				return cmd_usage(&r.o, "--class is import, manual, hard or complaint");
			r.cls = optarg;
			break;
		}
		case OPT_UNTIL:
			if (strcmp(optarg, "never") != 0) {
				int64_t u;

				if (cmd_parse_time(optarg, CMD_TIME_FUTURE, time(NULL), &u, err) < 0)
					return cmd_usage(&r.o, "--until: %s", err);
				snprintf(r.until, sizeof(r.until), "%" G_GINT64_FORMAT, u);
			}
			r.until_set = 1;
			break;
		case OPT_NOTE:
			if (strlen(optarg) > CMD_NOTE_MAX)
				return cmd_usage(&r.o, "--note longer than %d bytes", CMD_NOTE_MAX);
			r.note = optarg;
			break;
		case OPT_SOURCE:
			if (strlen(optarg) > IMPORT_SOURCE_MAX || *optarg == '\0')
				return cmd_usage(&r.o, "--source takes 1 to %d bytes", IMPORT_SOURCE_MAX);
			g_strlcpy(r.source, optarg, sizeof(r.source));
			break;
		case OPT_STRICT:
			r.strict = 1;
			break;
		case OPT_DRY_RUN:
			r.dry_run = 1;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		default:
			return cmd_bad_option(&r.o, argv);
		}
	}
	if (optind >= argc)
		return cmd_usage(&r.o, "no file given (\"-\" for standard input)");
	if (argc - optind > 1)
		return cmd_usage(&r.o, "one file at a time");
	r.file = argv[optind];
	r.progress = progress >= 0 ? progress : isatty(STDERR_FILENO);
	if (r.source[0] == '\0') {
		char *base = g_path_get_basename(strcmp(r.file, "-") == 0 ? "stdin" : r.file);

		g_strlcpy(r.source, base, sizeof(r.source));
		g_free(base);
	}
	r.names = g_ptr_array_new_with_free_func(g_free);
	r.values = g_ptr_array_new_with_free_func(g_free);
	r.breaks = g_array_new(FALSE, FALSE, sizeof(struct imp_break));
	r.buf = g_string_sized_new(IMPORT_SEND_CHUNK + 4096);
	code = imp_open(&r);
	if (code != 0)
		goto out;
	if (r.format == FMT_BOUNCECTL && (r.reason || r.cls || r.until_set)) {
		code = cmd_usage(&r.o, "--reason, --class and --until are not for a bouncectl export "
		    "(it is imported as it is)");
		goto out;
	}
	if (r.format != FMT_PLAIN && (r.reason || r.cls)) {
		code = cmd_usage(&r.o, "--reason and --class are for plain lists; %s lists carry "
		    "their own (mapping in bouncectl(1))", format_names[r.format]);
		goto out;
	}
	if (r.format == FMT_PLAIN && r.reason == NULL) {
		code = cmd_usage(&r.o, "%s is a plain address list: give its reason with --reason "
		    "(userunknown, hostunknown... or undefined)", r.name);
		goto out;
	}
	if (r.cls == NULL)
		r.cls = "import";
	if (!r.o.json)
		fprintf(stderr, "bouncectl import: reading %s as %s %s\n", r.name,
		    format_names[r.format], r.container == IN_CSV ? "CSV" : r.container == IN_JSON ?
		    "JSON" : "list");
	if (r.strict || r.dry_run) {
		/* check everything first: one bad line and nothing is imported */
		code = imp_pass(&r, 0);
		imp_progress(&r, 1);
		if (code != 0)
			goto out;
		if (r.errors > 0 || r.dry_run) {
			if (r.errors > 0 && r.strict)
				cmd_fail(&r.o, CMD_EXIT_NO, "%" G_GUINT64_FORMAT " bad line%s in %s: "
				    "nothing imported (--strict)", r.errors, r.errors == 1 ? "" : "s",
				    r.name);
			else
				fprintf(stderr, "bouncectl import: %s: %" G_GUINT64_FORMAT " entries would "
				    "be imported, %" G_GUINT64_FORMAT " bad lines, %" G_GUINT64_FORMAT
				    " rows skipped (dry run: nothing imported)\n", r.name, r.good, r.errors,
				    r.skipped);
			if (r.o.json)
				printf("{\"file\": \"%s\", \"format\": \"%s\", \"imported\": 0, "
				    "\"would_import\": %" G_GUINT64_FORMAT ", \"bad_lines\": %" G_GUINT64_FORMAT
				    ", \"skipped\": %" G_GUINT64_FORMAT ", \"aborted\": %s}\n",
				    r.dry_run ? "dry-run" : "strict", format_names[r.format], r.good, r.errors,
				    r.skipped, r.errors > 0 && !r.dry_run ? "true" : "false");
			code = r.errors > 0 ? CMD_EXIT_NO : CMD_EXIT_OK;
			goto out;
		}
		/* again from the start, this time sending */
		code = imp_rewind(&r);
		if (code != 0)
			goto out;
	}
	if ((r.c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	{
		/* the daemon answers "OK send", then reads the entry lines */
		GString *req = g_string_new(NULL);

		cmd_req_start(req, "IMPORT");
		cmd_req_add(req, "source", r.source);
		code = cmd_call(r.c, &r.o, req, NULL, NULL, NULL);
		g_string_free(req, TRUE);
		if (code != CMD_EXIT_OK)
			goto out;
	}
	code = imp_pass(&r, 1);
	if (code != 0) {
		imp_progress(&r, 1);
		cmd_fail(&r.o, CMD_EXIT_DAEMON, "the import stopped: entries sent before the "
		    "failure may be stored (committed 1000 at a time); check with "
		    "'bouncectl audit' and run the import again (it is idempotent)");
		goto out;
	}
	g_string_append(r.buf, ".\n");
	if (imp_flush(&r, 1) < 0 || imp_responses(&r, 0, &ok) != 1) {
		imp_progress(&r, 1);
		code = CMD_EXIT_DAEMON;
		cmd_fail(&r.o, code, "the import stopped: entries sent before the failure may be "
		    "stored (committed 1000 at a time); run it again (it is idempotent)");
		goto out;
	}
	imp_progress(&r, 1);
	imported = cmd_field(&ok, "imported") ? g_ascii_strtoull(cmd_field(&ok, "imported"), NULL,
	    10) : 0;
	if (r.o.json)
		printf("{\"file\": \"%s\", \"format\": \"%s\", \"imported\": %" G_GUINT64_FORMAT
		    ", \"bad_lines\": %" G_GUINT64_FORMAT ", \"skipped\": %" G_GUINT64_FORMAT "}\n",
		    r.source, format_names[r.format], imported, r.errors, r.skipped);
	else
		fprintf(stderr, "bouncectl import: %s: %" G_GUINT64_FORMAT " entries imported, %"
		    G_GUINT64_FORMAT " bad lines skipped, %" G_GUINT64_FORMAT " rows skipped (not "
		    "suppressions)\n", r.name, imported, r.errors, r.skipped);
	code = r.errors > 0 ? CMD_EXIT_NO : CMD_EXIT_OK;
out:
	imp_close(&r);
	if (r.header != NULL)
		g_ptr_array_free(r.header, TRUE);
	g_ptr_array_free(r.names, TRUE);
	g_ptr_array_free(r.values, TRUE);
	g_array_free(r.breaks, TRUE);
	g_string_free(r.buf, TRUE);
	cmd_client_free(r.c);
	cmd_opts_clear(&r.o);
	return code;
}
