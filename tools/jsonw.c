/* SPDX-License-Identifier: MIT */
/*
 * jsonw.c - writing JSON strings for bouncectl's --json outputs.  Bounce
 * text is untrusted: every byte that is not valid UTF-8 becomes U+FFFD, so
 * the output is always valid JSON whatever the input.
 */
#include <string.h>

#include "cmd.h"

void
cmd_json_string(GString *out, const char *s)
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
