/* SPDX-License-Identifier: MIT */
/*
 * verp.c - VERP decoding (see verp.h).  Pure string work: the result is
 * normalised and validated by the caller with store_addr_normalize().
 */
#include <string.h>

#include "verp.h"

int
verp_decode(const char *rcpt, const char delims[2], char *out, size_t outsz)
{
	const char *at = strrchr(rcpt, '@');
	const char *d1, *d2;
	size_t user_len, dom_len;

	if (at == NULL)
		return 0;
	d1 = memchr(rcpt, delims[0], (size_t)(at - rcpt));
	if (d1 == NULL || d1 == rcpt)
		return 0;
	d2 = NULL;
	for (const char *p = d1 + 1; p < at; p++)
		if (*p == delims[1])
			d2 = p;
	if (d2 == NULL)
		return 0;
	user_len = (size_t)(d2 - (d1 + 1));
	dom_len = (size_t)(at - (d2 + 1));
	if (user_len == 0 || dom_len == 0 || user_len + 1 + dom_len + 1 > outsz)
		return 0;
	memcpy(out, d1 + 1, user_len);
	out[user_len] = '@';
	memcpy(out + user_len + 1, d2 + 1, dom_len);
	out[user_len + 1 + dom_len] = '\0';
	return 1;
}
