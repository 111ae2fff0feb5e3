/* SPDX-License-Identifier: MIT */
/*
 * json.c - JSON strings (util.h): read by the parser (Amazon SES
 * notifications) and by bouncectl (JSON imports), written by bouncectl's
 * --json outputs.  Bounce text is untrusted: reading never yields a NUL,
 * writing always yields valid JSON.
 */
#include <string.h>

#include <glib.h>

#include "util.h"

static int util_hex4(const char *p, const char *end, gunichar *c_r);

/* Four hex digits at p (before end): 1 with *c_r, else 0. */
static int
util_hex4(const char *p, const char *end, gunichar *c_r)
{
	gunichar c = 0;

	if (end - p < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		int v = g_ascii_xdigit_value(p[i]);

		if (v < 0)
			return 0;
		c = c * 16 + (gunichar)v;
	}
	*c_r = c;
	return 1;
}

char *
util_json_read_string(const char **p, const char *end, unsigned flags, size_t *len_r,
    enum util_json_error *err_r)
{
	const char *s = *p + 1;         /* after the opening quote */
	GString *out = g_string_new(NULL);
	enum util_json_error err = UTIL_JSON_UNTERMINATED;

	while (s < end && *s != '"') {
		unsigned char c = (unsigned char)*s++;
		gunichar u, lo;

		if (c < 0x20 && (flags & UTIL_JSON_STRICT)) {
			err = UTIL_JSON_CONTROL;
			goto bad;
		}
		if (c != '\\') {
			g_string_append_c(out, (char)c);
			continue;
		}
		if (s >= end)
			goto bad;
		switch (*s++) {
		case '"': g_string_append_c(out, '"'); break;
		case '\\': g_string_append_c(out, '\\'); break;
		case '/': g_string_append_c(out, '/'); break;
		case 'b': g_string_append_c(out, '\b'); break;
		case 'f': g_string_append_c(out, '\f'); break;
		case 'n': g_string_append_c(out, '\n'); break;
		case 'r': g_string_append_c(out, '\r'); break;
		case 't': g_string_append_c(out, '\t'); break;
		case 'u':
			if (!util_hex4(s, end, &u)) {
				err = UTIL_JSON_BAD_U;
				goto bad;
			}
			s += 4;
			/* a surrogate pair is one character; anything else of it is U+FFFD */
			if (u >= 0xD800 && u < 0xDC00 && end - s >= 6 && s[0] == '\\' && s[1] == 'u' &&
			    util_hex4(s + 2, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				s += 6;
			} else if ((u >= 0xD800 && u < 0xE000) || u == 0) {
				u = 0xFFFD;
			}
			g_string_append_unichar(out, u);
			break;
		default:
			s--;
			err = UTIL_JSON_BAD_ESCAPE;
			goto bad;
		}
	}
	if (s >= end)
		goto bad;
	*p = s + 1;     /* after the closing quote */
	if (len_r != NULL)
		*len_r = out->len;
	*err_r = UTIL_JSON_OK;
	return g_string_free(out, FALSE);
bad:
	*p = s;
	*err_r = err;
	g_string_free(out, TRUE);
	return NULL;
}

const char *
util_json_error_text(enum util_json_error err)
{
	switch (err) {
	case UTIL_JSON_OK: return "no error";
	case UTIL_JSON_UNTERMINATED: return "unterminated JSON string";
	case UTIL_JSON_CONTROL: return "control character in a JSON string";
	case UTIL_JSON_BAD_ESCAPE: return "bad escape in a JSON string";
	case UTIL_JSON_BAD_U: return "bad \\u escape in a JSON string";
	}
	return "bad JSON string";
}

void
util_json_write_string(GString *out, const char *s)
{
	const char *p, *end;

	if (s == NULL) {
		g_string_append(out, "null");
		return;
	}
	end = s + strlen(s);
	g_string_append_c(out, '"');
	for (p = s; p < end; ) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x80) {
			switch (c) {
			case '"': g_string_append(out, "\\\""); break;
			case '\\': g_string_append(out, "\\\\"); break;
			case '\n': g_string_append(out, "\\n"); break;
			case '\r': g_string_append(out, "\\r"); break;
			case '\t': g_string_append(out, "\\t"); break;
			case '\b': g_string_append(out, "\\b"); break;
			case '\f': g_string_append(out, "\\f"); break;
			default:
				if (c < 0x20 || c == 0x7f)
					g_string_append_printf(out, "\\u%04x", c);
				else
					g_string_append_c(out, (char)c);
			}
			p++;
			continue;
		}
		{
			gunichar u = g_utf8_get_char_validated(p, end - p);

			if (u == (gunichar)-1 || u == (gunichar)-2) {
				g_string_append(out, "\\ufffd");
				p++;
				continue;
			}
			/* U+2028/2029 are valid JSON but break JavaScript line readers */
			if (u == 0x2028 || u == 0x2029) {
				g_string_append_printf(out, "\\u%04x", u);
			} else {
				g_string_append_len(out, p, g_utf8_next_char(p) - p);
			}
			p = g_utf8_next_char(p);
		}
	}
	g_string_append_c(out, '"');
}
