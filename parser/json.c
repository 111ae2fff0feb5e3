/* SPDX-License-Identifier: MIT */
/*
 * json.c - a small, bounded JSON reader for the notifications some
 * services mail instead of DSNs (Amazon SES through SNS).  RFC 8259 values
 * into a tree of struct json; strings are unescaped to UTF-8 (\uXXXX
 * included, surrogate pairs joined, invalid ones replaced by U+FFFD).
 *
 * Bounded: nesting depth JSON_DEPTH_MAX, at most JSON_NODES_MAX nodes per
 * document; beyond either the parse fails.  No I/O, no global state.
 */
#include <string.h>

#include "json.h"
#include "util.h"

#define JSON_DEPTH_MAX 32
#define JSON_NODES_MAX 20000

struct jparser {
	const char *p, *end;
	unsigned nodes;
};

static struct json *parse_value(struct jparser *jp, unsigned depth);
static char *parse_string(struct jparser *jp, size_t *len_r);
static void skip_ws(struct jparser *jp);

void
json_free(struct json *j)
{
	if (j == NULL)
		return;
	g_free(j->str);
	g_free(j->key);
	if (j->items != NULL)
		g_ptr_array_free(j->items, TRUE);
	g_free(j);
}

static void
json_free_cb(gpointer p)
{
	json_free(p);
}

static void
skip_ws(struct jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static char *
parse_string(struct jparser *jp, size_t *len_r)
{
	enum util_json_error err;

	if (jp->p >= jp->end || *jp->p != '"')
		return NULL;
	/* lenient: a notification's raw control characters are kept */
	return util_json_read_string(&jp->p, jp->end, 0, len_r, &err);
}

static struct json *
parse_value(struct jparser *jp, unsigned depth)
{
	struct json *j;
	size_t len;

	if (depth > JSON_DEPTH_MAX || ++jp->nodes > JSON_NODES_MAX)
		return NULL;
	skip_ws(jp);
	if (jp->p >= jp->end)
		return NULL;
	j = g_new0(struct json, 1);
	switch (*jp->p) {
	case '{':
	case '[': {
		int obj = *jp->p == '{';
		char close = obj ? '}' : ']';

		j->type = obj ? JSON_OBJECT : JSON_ARRAY;
		j->items = g_ptr_array_new_with_free_func(json_free_cb);
		jp->p++;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return j;
		}
		for (;;) {
			char *key = NULL;
			struct json *v;

			skip_ws(jp);
			if (obj) {
				key = parse_string(jp, &len);
				skip_ws(jp);
				if (key == NULL || jp->p >= jp->end || *jp->p != ':') {
					g_free(key);
					goto fail;
				}
				jp->p++;
			}
			v = parse_value(jp, depth + 1);
			if (v == NULL) {
				g_free(key);
				goto fail;
			}
			v->key = key;
			g_ptr_array_add(j->items, v);
			skip_ws(jp);
			if (jp->p < jp->end && *jp->p == ',') {
				jp->p++;
				continue;
			}
			if (jp->p < jp->end && *jp->p == close) {
				jp->p++;
				return j;
			}
			goto fail;
		}
	}
	case '"':
		j->type = JSON_STRING;
		j->str = parse_string(jp, &len);
		if (j->str == NULL)
			goto fail;
		return j;
	default: {
		const char *s = jp->p;

		while (jp->p < jp->end && (g_ascii_isalnum(*jp->p) || *jp->p == '-' || *jp->p == '+' ||
		       *jp->p == '.'))
			jp->p++;
		if (jp->p == s)
			goto fail;
		j->type = JSON_SCALAR;
		j->str = g_strndup(s, (gsize)(jp->p - s));
		return j;
	}
	}
fail:
	json_free(j);
	return NULL;
}

struct json *
json_parse(const char *s, size_t len)
{
	struct jparser jp = { s, s + len, 0 };

	return parse_value(&jp, 0);
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (guint i = 0; i < obj->items->len; i++) {
		const struct json *v = g_ptr_array_index(obj->items, i);

		if (v->key != NULL && strcmp(v->key, key) == 0)
			return v;
	}
	return NULL;
}

const char *
json_str(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v != NULL && (v->type == JSON_STRING || v->type == JSON_SCALAR) ? v->str : NULL;
}
