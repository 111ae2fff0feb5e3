/* SPDX-License-Identifier: MIT */
/*
 * admin-proto.c - the admin protocol's wire codec (admin.h): requests split
 * into a verb and key=value arguments, values percent-encoded, times, counts,
 * and the row lines the read verbs answer with.  No I/O beyond appending to
 * an output buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <glib.h>

#include "admin-int.h"
#include "admin.h"
#include "config.h"
#include "report.h"
#include "util.h"

char *
admin_encode(const char *value, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)value[i];
		int esc = ch < 0x21 || ch > 0x7e || ch == '%' || ch == '=';

		if (o + (esc ? 3 : 1) + 1 > outsz)
			break;
		if (esc) {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

long
admin_decode(char *s)
{
	size_t i = 0, o = 0;

	while (s[i] != '\0') {
		if (s[i] == '%') {
			int hi = g_ascii_xdigit_value(s[i + 1]);
			int lo = hi >= 0 ? g_ascii_xdigit_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return -1;
			s[o++] = (char)(hi * 16 + lo);
			i += 3;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return (long)o;
}

int
admin_split(char *line, char **word_r, char **key, char **val, unsigned max, unsigned *n_r,
    char err[128])
{
	char *save = NULL, *tok;
	unsigned n = 0;

	*n_r = 0;
	*word_r = strtok_r(line, " \t", &save);
	if (*word_r == NULL) {
		snprintf(err, 128, "empty request");
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		long len;

		if (n == max) {
			snprintf(err, 128, "too many arguments");
			return -1;
		}
		if (eq == NULL || eq == tok) {
			snprintf(err, 128, "arguments are key=value");
			return -1;
		}
		*eq = '\0';
		len = admin_decode(eq + 1);
		if (len < 0 || (size_t)len != strlen(eq + 1)) {
			snprintf(err, 128, "bad %%XX encoding or NUL in %s", tok);
			return -1;
		}
		if (admin_field(key, val, n, tok) != NULL) {
			snprintf(err, 128, "%s given twice", tok);
			return -1;
		}
		key[n] = tok;
		val[n++] = eq + 1;
		*n_r = n;
	}
	return 0;
}

/* A request: the verb and its arguments. */
int
admin_parse(char *line, struct admin_args *a, char err[128])
{
	memset(a, 0, sizeof(*a));
	return admin_split(line, &a->verb, a->key, a->val, ADMIN_ARGS_MAX, &a->n, err);
}

const char *
admin_field(char *const *key, char *const *val, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(key[i], name) == 0)
			return val[i];
	return NULL;
}

const char *
admin_arg(const struct admin_args *a, const char *key)
{
	return admin_field(a->key, a->val, a->n, key);
}

const char *
admin_unknown_key(const struct admin_args *a, const char *const *allowed)
{
	for (unsigned i = 0; i < a->n; i++) {
		size_t k;

		for (k = 0; allowed[k] != NULL; k++)
			if (strcmp(allowed[k], a->key[i]) == 0)
				break;
		if (allowed[k] == NULL)
			return a->key[i];
	}
	return NULL;
}

int
admin_parse_time(const char *s, int until, time_t now, int64_t *t_r)
{
	int64_t v;
	char *end;

	if (until && strcmp(s, "never") == 0) {
		*t_r = STORE_TTL_NEVER;
		return 0;
	}
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0') {
			*t_r = v;
			return 0;
		}
		if (until && cfg_parse_duration(s, 0, &v) && v > 0) {
			*t_r = (int64_t)now + v;
			return 0;
		}
	}
	return util_iso8601_parse(s, t_r);
}

int
admin_parse_count(const char *s, int64_t min, int64_t max, int64_t *n_r)
{
	int64_t n;

	/* cfg_parse_duration reads plain digits as seconds; a unit is refused here */
	if (!cfg_parse_duration(s, 0, &n) || !g_ascii_isdigit(s[strlen(s) - 1]) || n < min ||
	    n > max)
		return -1;
	*n_r = n;
	return 0;
}

void
admin_put_entry(struct evbuffer *out, const char *type, const struct store_entry *e)
{
	char addr[ADMIN_FIELD], src[256], rule[128], since[32], until[32], upd[32], ld[32];

	evbuffer_add_printf(out, "+ %s%saddress=%s cause=%s reason=%s status=%s since=%s until=%s "
	    "source=%s updated=%s soft_count=%u last_delivered=%s scope=%s rule=%s\n",
	    type ? "type=" : "", type ? type : "", admin_encode(e->address, strlen(e->address), addr,
	    sizeof(addr)), store_cause_name(e->v.cause), report_reason_name(e->v.reason),
	    e->status[0] ? e->status : "-", util_iso8601_format(e->v.since, since),
	    e->v.until == STORE_TTL_NEVER ? "never" : util_iso8601_format(e->v.until, until),
	    ADMIN_F(e->source, src), util_iso8601_format(e->updated, upd), e->soft_count,
	    e->last_delivered ? util_iso8601_format(e->last_delivered, ld) : "-",
	    report_scope_name(e->scope), ADMIN_F(e->rule, rule));
}

void
admin_put_audit(struct evbuffer *out, const struct store_audit_entry *au)
{
	char actor[256], target[ADMIN_FIELD], note[ADMIN_FIELD], at[32], since[32], until[32];

	evbuffer_add_printf(out, "+ type=audit id=%" G_GINT64_FORMAT " at=%s actor=%s action=%s "
	    "target=%s cause=%s reason=%s status=%s since=%s until=%s note=%s\n", au->id,
	    util_iso8601_format(au->at, at), ADMIN_F(au->actor, actor), au->action ? au->action : "-",
	    ADMIN_F(au->target, target), store_cause_name(au->cause),
	    report_reason_name(au->reason), au->status[0] ? au->status : "-",
	    au->since ? util_iso8601_format(au->since, since) : "-",
	    au->until == STORE_TTL_NEVER ? "never" : util_iso8601_format(au->until, until),
	    ADMIN_F(au->note, note));
}

void
admin_put_incident(struct evbuffer *out, const struct store_incident *in)
{
	char prov[256], dom[256], st[64], diag[ADMIN_FIELD], first[32], last[32];

	evbuffer_add_printf(out, "+ type=incident id=%" G_GINT64_FORMAT " provider=%s reason=%s "
	    "first_seen=%s last_seen=%s count=%" G_GUINT64_FORMAT " open=%d last_domain=%s "
	    "last_status=%s last_diagnostic=%s\n", in->id, ADMIN_F(in->provider, prov),
	    report_reason_name(in->reason), util_iso8601_format(in->first_seen, first),
	    util_iso8601_format(in->last_seen, last), in->count, in->open, ADMIN_F(in->last_domain, dom),
	    ADMIN_F(in->last_status, st), ADMIN_F(in->last_diagnostic, diag));
}
