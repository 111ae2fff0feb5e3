/* SPDX-License-Identifier: MIT */
/*
 * util.h - text formats that the daemon, the parser and bouncectl all
 * speak, written once: ISO 8601 UTC times and JSON strings.  Pure functions
 * (no I/O, no global state), bounded by their inputs.
 */
#ifndef BOUNCED_UTIL_H
#define BOUNCED_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* "2024-05-01T12:00:00Z" (years 0 to 9999, else "?"); out holds 32 bytes.  Returns out. */
char *util_iso8601_format(int64_t t, char out[32]);

/*
 * Parses an ISO 8601 date-time ("2024-05-01T12:00:00Z", an offset such as
 * "+02:00", or none: UTC) into unix seconds.  0 / -1.
 */
int util_iso8601_parse(const char *s, int64_t *t_r);

/* Why util_json_read_string() refused a string. */
enum util_json_error {
	UTIL_JSON_OK,
	UTIL_JSON_UNTERMINATED,         /* no closing quote before the end */
	UTIL_JSON_CONTROL,              /* a raw byte below 0x20 (with UTIL_JSON_STRICT) */
	UTIL_JSON_BAD_ESCAPE,           /* a backslash and an unknown letter */
	UTIL_JSON_BAD_U,                /* \u without four hex digits */
};

/* Refuse raw control characters, as RFC 8259 does (bounces' JSON is read leniently). */
#define UTIL_JSON_STRICT 1u

/*
 * Reads the JSON string whose opening quote is at *p (p < end) and moves *p
 * past its closing quote.  Escapes are decoded to UTF-8; \u0000 and lone
 * surrogates become U+FFFD, so the result holds no NUL.  Returns the text
 * (caller g_free()s; its length in *len_r when len_r is not NULL), or NULL
 * with *err_r set and *p somewhere inside the string.
 */
char *util_json_read_string(const char **p, const char *end, unsigned flags, size_t *len_r,
    enum util_json_error *err_r);

/* A short English text for err ("unterminated JSON string", ...). */
const char *util_json_error_text(enum util_json_error err);

/*
 * Appends s as a JSON string, quotes included ("null" for NULL).  Bytes
 * that are not UTF-8 become \ufffd, control characters and U+2028/2029 are
 * escaped: the output is valid JSON (and JavaScript) whatever s holds.
 */
void util_json_write_string(GString *out, const char *s);

#endif
