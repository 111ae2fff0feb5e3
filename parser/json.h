/* SPDX-License-Identifier: MIT */
/*
 * json.h - private to parser/: a small bounded JSON reader (json.c) for
 * the Amazon SES notifications.  Values are a tree of struct json owned by
 * the root; parser_json_free(root) frees all.
 */
#ifndef BOUNCED_JSON_H
#define BOUNCED_JSON_H

#include <stddef.h>
#include <glib.h>

enum json_type { JSON_SCALAR, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	char *key;             /* member name inside an object, else NULL */
	char *str;             /* string (unescaped) or scalar text ("12", "true") */
	GPtrArray *items;      /* of struct json *: array items or object members */
};

/* Parses one value from s; NULL when it is not JSON or too deep/large. */
struct json *parser_json_parse(const char *s, size_t len);
void parser_json_free(struct json *j);
/* Member of an object, borrowed; NULL when absent or obj not an object. */
const struct json *parser_json_get(const struct json *obj, const char *key);
/* String or scalar member, borrowed; NULL otherwise. */
const char *parser_json_str(const struct json *obj, const char *key);

#endif
