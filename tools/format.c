/* SPDX-License-Identifier: MIT */
/*
 * format.c - the text formats bouncectl reads and writes: times (ISO 8601,
 * unix seconds, durations), CSV (RFC 4180) fields and records, one-line
 * JSON objects (what export writes and import reads back), and table text.
 *
 * Everything read comes from files an admin was handed (other providers'
 * exports): records are capped at CMD_RECORD_MAX bytes and CMD_COLUMNS_MAX
 * fields, JSON objects are flat (a nested value is an error), and a
 * malformed record is reported, never guessed at.
 */
#include <string.h>

#include "config.h"
#include "cmd.h"

#define TIME_TEXT_MAX 64

struct json_in {
	const char *p, *end;
	char *err;
};

static void format_err(char err[256], const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void json_ws(struct json_in *j);
static char *json_string(struct json_in *j);
static char *json_scalar(struct json_in *j, int *is_null_r);

static void
format_err(char err[256], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(err, 256, fmt, ap);
	va_end(ap);
}

/* ---- times ------------------------------------------------------------ */

int
cmd_parse_time(const char *s, enum cmd_time_dir dir, time_t now, int64_t *t_r, char err[256])
{
	char buf[TIME_TEXT_MAX + 16];
	size_t n;
	int64_t v;

	while (g_ascii_isspace(*s))
		s++;
	n = strlen(s);
	while (n > 0 && g_ascii_isspace(s[n - 1]))
		n--;
	if (n == 0 || n > TIME_TEXT_MAX) {
		format_err(err, "invalid time \"%.*s\"", (int)MIN(n, (size_t)TIME_TEXT_MAX), s);
		return -1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "now") == 0) {
		*t_r = now;
		return 0;
	}
	/* unix seconds: "@1714564800" or digits only */
	{
		const char *d = buf[0] == '@' ? buf + 1 : buf;
		size_t i;

		for (i = 0; d[i] != '\0' && g_ascii_isdigit(d[i]); i++)
			;
		if (i > 0 && d[i] == '\0' && i <= 12) {
			*t_r = g_ascii_strtoll(d, NULL, 10);
			return 0;
		}
	}
	/* a duration: a number and a unit, back from now (since) or ahead (until) */
	if (g_ascii_isdigit(buf[0]) && strchr("smhdw", buf[n - 1]) != NULL &&
	    strchr(buf, '-') == NULL && cfg_parse_duration(buf, 0, &v)) {
		*t_r = dir == CMD_TIME_PAST ? (int64_t)now - v : (int64_t)now + v;
		return 0;
	}
	/* ISO 8601, completed where people (and CSV exports) abbreviate */
	if (n > 4 && (strcmp(buf + n - 4, " UTC") == 0 || strcmp(buf + n - 4, " GMT") == 0))
		buf[n -= 4] = '\0';
	if (n == 10) {
		g_strlcat(buf, "T00:00:00", sizeof(buf));
	} else if (n > 10 && (buf[10] == ' ' || buf[10] == 't')) {
		buf[10] = 'T';
	}
	n = strlen(buf);
	/* "2024-05-01T12:00" and "...T12:00Z": seconds */
	if (n >= 16 && buf[10] == 'T' && buf[13] == ':' &&
	    (buf[16] == '\0' || buf[16] == 'Z' || buf[16] == '+' || buf[16] == '-')) {
		memmove(buf + 19, buf + 16, n - 16 + 1);
		memcpy(buf + 16, ":00", 3);
	}
	if (util_iso8601_parse(buf, t_r) < 0) {
		format_err(err, "invalid time \"%s\" (want 2024-05-01, 2024-05-01T12:00:00Z, "
		    "unix seconds or a duration like 7d)", s);
		return -1;
	}
	return 0;
}

/* ---- CSV ---------------------------------------------------------------- */

void
cmd_csv_field(GString *out, const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0')
		return;
	n = strlen(s);
	if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && s[n - 1] != ' ') {
		g_string_append_len(out, s, (gssize)n);
		return;
	}
	g_string_append_c(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			g_string_append_c(out, '"');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

int
cmd_csv_read(FILE *in, GPtrArray *fields, unsigned *lines_r, char err[256])
{
	GString *f = g_string_sized_new(128);
	size_t total = 0;
	int c, quoted = 0, after_quote = 0, any = 0, rc = 1;
	unsigned quote_line = 0, quote_col = 0;   /* where the open quote is, in the record */

	g_ptr_array_set_size(fields, 0);
	*lines_r = 0;
	for (;;) {
		c = getc_unlocked(in);
		if (c == EOF) {
			if (quoted) {
				/* a stray quote swallows the rest of the file: say where it opened */
				unsigned swallowed = *lines_r - quote_line + (f->len > 0 &&
				    f->str[f->len - 1] != '\n');

				if (quote_line == 0)
					format_err(err, "the quote opening column %u is never closed: the "
					    "%u line%s from here to the end of the file were read as that "
					    "one field (end of file inside a quoted field)", quote_col,
					    swallowed, swallowed == 1 ? "" : "s");
				else
					format_err(err, "the quote opening column %u, %u line%s below, is "
					    "never closed: the %u lines from there to the end of the file "
					    "were read as that one field (end of file inside a quoted "
					    "field)", quote_col, quote_line, quote_line == 1 ? "" : "s",
					    swallowed);
				rc = -1;
				goto out;
			}
			if (!any && f->len == 0) {
				rc = 0;
				goto out;
			}
			(*lines_r)++;
			break;
		}
		any = 1;
		if (++total > CMD_RECORD_MAX) {
			format_err(err, "record longer than %d bytes", CMD_RECORD_MAX);
			rc = -1;
			goto skip;
		}
		if (quoted) {
			if (c == '"') {
				int d = getc_unlocked(in);

				if (d == '"') {
					g_string_append_c(f, '"');
					continue;
				}
				if (d != EOF)
					ungetc(d, in);
				quoted = 0;
				after_quote = 1;
				continue;
			}
			if (c == '\n')
				(*lines_r)++;
			g_string_append_c(f, (char)c);
			continue;
		}
		if (c == '\r') {
			int d = getc_unlocked(in);

			if (d == '\n') {
				c = '\n';
			} else {
				if (d != EOF)
					ungetc(d, in);
			}
		}
		if (c == ',' || c == '\n') {
			if (fields->len == CMD_COLUMNS_MAX) {
				format_err(err, "more than %d columns", CMD_COLUMNS_MAX);
				rc = -1;
				if (c == '\n') {
					(*lines_r)++;
					goto out;
				}
				goto skip;
			}
			g_ptr_array_add(fields, g_strndup(f->str, f->len));
			g_string_truncate(f, 0);
			after_quote = 0;
			if (c == '\n') {
				(*lines_r)++;
				goto out;
			}
			continue;
		}
		if (after_quote) {
			format_err(err, "text after the closing quote of column %u", fields->len + 1);
			rc = -1;
			goto skip;
		}
		if (c == '"' && f->len == 0) {
			quoted = 1;
			quote_line = *lines_r;
			quote_col = fields->len + 1;
			continue;
		}
		g_string_append_c(f, (char)c);
	}
	/* end of file after the last field */
	if (fields->len == CMD_COLUMNS_MAX) {
		format_err(err, "more than %d columns", CMD_COLUMNS_MAX);
		rc = -1;
		goto out;
	}
	g_ptr_array_add(fields, g_strndup(f->str, f->len));
	goto out;
skip:
	/* drop the rest of the physical line */
	while ((c = getc_unlocked(in)) != EOF && c != '\n')
		;
	(*lines_r)++;
out:
	g_string_free(f, TRUE);
	return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

static void
json_ws(struct json_in *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

/* A string at j->p (after its opening quote is checked); caller frees. */
static char *
json_string(struct json_in *j)
{
	enum util_json_error err;
	char *s = util_json_read_string(&j->p, j->end, UTIL_JSON_STRICT, NULL, &err);

	if (s == NULL)
		format_err(j->err, "%s", util_json_error_text(err));
	return s;
}

/* A string, number, true, false or null; NULL with *is_null_r for null. */
static char *
json_scalar(struct json_in *j, int *is_null_r)
{
	const char *start = j->p;

	*is_null_r = 0;
	if (j->p >= j->end) {
		format_err(j->err, "JSON value missing");
		return NULL;
	}
	if (*j->p == '"')
		return json_string(j);
	if (*j->p == '{' || *j->p == '[') {
		format_err(j->err, "nested JSON value (only flat objects are read)");
		return NULL;
	}
	while (j->p < j->end && (g_ascii_isalnum(*j->p) || strchr("+-.", *j->p) != NULL))
		j->p++;
	if (j->p == start) {
		format_err(j->err, "bad JSON value");
		return NULL;
	}
	if (j->p - start == 4 && memcmp(start, "null", 4) == 0) {
		*is_null_r = 1;
		return NULL;
	}
	if (!(g_ascii_isdigit(*start) || *start == '-') &&
	    !((j->p - start == 4 && memcmp(start, "true", 4) == 0) ||
	    (j->p - start == 5 && memcmp(start, "false", 5) == 0))) {
		format_err(j->err, "bad JSON value");
		return NULL;
	}
	return g_strndup(start, (gsize)(j->p - start));
}

int
cmd_json_object(const char *s, size_t len, GPtrArray *names, GPtrArray *values, char err[256])
{
	struct json_in j = { s, s + len, err };

	g_ptr_array_set_size(names, 0);
	g_ptr_array_set_size(values, 0);
	json_ws(&j);
	if (j.p >= j.end || *j.p != '{') {
		format_err(err, "not a JSON object");
		return -1;
	}
	j.p++;
	json_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
		goto end;
	}
	for (;;) {
		char *name, *value;
		int is_null;

		json_ws(&j);
		if (j.p >= j.end || *j.p != '"') {
			format_err(err, "JSON member name expected");
			return -1;
		}
		if ((name = json_string(&j)) == NULL)
			return -1;
		json_ws(&j);
		if (j.p >= j.end || *j.p != ':') {
			g_free(name);
			format_err(err, "':' expected after a JSON member name");
			return -1;
		}
		j.p++;
		json_ws(&j);
		value = json_scalar(&j, &is_null);
		if (value == NULL && !is_null) {
			g_free(name);
			return -1;
		}
		if (names->len == CMD_COLUMNS_MAX) {
			g_free(name);
			g_free(value);
			format_err(err, "more than %d members", CMD_COLUMNS_MAX);
			return -1;
		}
		g_ptr_array_add(names, name);
		g_ptr_array_add(values, value);
		json_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}') {
			j.p++;
			break;
		}
		format_err(err, "',' or '}' expected in a JSON object");
		return -1;
	}
end:
	json_ws(&j);
	if (j.p != j.end) {
		format_err(err, "text after the JSON object");
		return -1;
	}
	return 0;
}

/* ---- tables ------------------------------------------------------------- */

void
cmd_table_text(GString *out, const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL || *s == '\0') {
		g_string_append_c(out, '-');
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p && n < max; p++, n++)
		g_string_append_c(out, (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p);
	if (strlen(s) > max)
		g_string_append(out, "...");
}

/* ---- JSON from response fields ------------------------------------------ */

void
cmd_json_fields(GString *out, const struct cmd_fields *f, const char *const *spec)
{
	g_string_append_c(out, '{');
	for (size_t i = 0; spec[i] != NULL; i++) {
		const char *s = spec[i], *colon, *v;
		int number = s[0] == '#';
		char name[64];

		if (number)
			s++;
		colon = strchr(s, ':');
		g_strlcpy(name, s, colon != NULL ? MIN(sizeof(name), (size_t)(colon - s) + 1) :
		    sizeof(name));
		v = cmd_field_opt(f, colon != NULL ? colon + 1 : s);
		if (i > 0)
			g_string_append(out, ", ");
		cmd_json_string(out, name);
		g_string_append(out, ": ");
		if (v != NULL && number && strspn(v, "0123456789") == strlen(v))
			g_string_append(out, v);
		else if (v != NULL && strcmp(v, "never") == 0 && strcmp(name, "until") == 0)
			g_string_append(out, "null");
		else
			cmd_json_string(out, v);
	}
	g_string_append_c(out, '}');
}
