/* SPDX-License-Identifier: MIT */
/*
 * addr.c - the one address normaliser, used by ingest, queries, import and
 * the CLI, so that one address has one spelling everywhere; and the one
 * check of an erased entry's "hmac:" name.
 *
 * Accepted: "local@domain", with optional white space around, angle
 * brackets, a "mailto:" or "rfc822;" prefix (DSN address types), and
 * "@domain" for a domain entry.  The local part is a dot-atom or a quoted
 * string (RFC 5321 section 4.1.2), or UTF-8 (RFC 6531); the domain is a host
 * name (converted to ASCII with IDNA, g_hostname_to_ascii) or an address
 * literal "[192.0.2.1]" / "[IPv6:...]".
 *
 * The local part is lowercased.  RFC 5321 lets a server treat it as case
 * sensitive, but no mainstream provider does, and applications, bounces
 * and admins write the same mailbox in different cases: a suppression
 * missed because "John@" bounced and "john@" is queried costs more than
 * the theoretical mailbox that differs only by case (documented in the
 * README).  Non-ASCII local parts are lowercased with g_utf8_strdown.
 *
 * Limits: the domain at most 253 octets (labels 63), the whole at most
 * STORE_ADDR_MAX; the local part is not held to RFC 5321's 64 octets,
 * because VERP and tracking addresses exceed it in real bounces.
 *
 * Hot path: a plain ASCII address is checked and lowercased into out in one
 * pass with no allocation (the daemon normalises every query).
 */
#include <string.h>

#include "store.h"

/* Limits. */
#define DOMAIN_MAX 253
#define LABEL_MAX 63

static void set_err(char *err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int is_atext(unsigned char c);
static int check_local(const char *p, size_t len, char *err);
static int check_domain(const char *p, size_t len, char *err);
static int check_literal(const char *p, size_t len, char *err);
static void trim(const char **p, size_t *len);

static void
set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	g_vsnprintf(err, 256, fmt, ap);
	va_end(ap);
}

/* RFC 5322 section 3.2.3 atext, plus UTF-8 bytes (RFC 6531). */
static int
is_atext(unsigned char c)
{
	if (g_ascii_isalnum(c) || c >= 0x80)
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void
trim(const char **p, size_t *len)
{
	while (*len > 0 && g_ascii_isspace((*p)[0])) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && g_ascii_isspace((*p)[*len - 1]))
		(*len)--;
}

/* The local part, lowercased already: dot-atom or quoted-string. */
static int
check_local(const char *p, size_t len, char *err)
{
	if (len == 0) {
		set_err(err, "empty local part");
		return -1;
	}
	if (p[0] == '"') {
		if (len < 2 || p[len - 1] != '"') {
			set_err(err, "unterminated quoted local part");
			return -1;
		}
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '\\') {
				if (i + 2 >= len) {
					set_err(err, "backslash at the end of a quoted local part");
					return -1;
				}
				i++;
				c = (unsigned char)p[i];
				if (c < 0x20 || c == 0x7f) {
					set_err(err, "control character in the local part");
					return -1;
				}
				continue;
			}
			if (c == '"' || c < 0x20 || c == 0x7f) {
				set_err(err, c == '"' ? "stray '\"' in a quoted local part" :
				    "control character in the local part");
				return -1;
			}
		}
		return 0;
	}
	if (p[0] == '.' || p[len - 1] == '.') {
		set_err(err, "local part starts or ends with '.'");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (p[i + 1] == '.') {
				set_err(err, "\"..\" in the local part");
				return -1;
			}
			continue;
		}
		if (!is_atext(c)) {
			if (g_ascii_isprint(c))
				set_err(err, "invalid character '%c' in the local part (quote it)", c);
			else
				set_err(err, "invalid byte 0x%02x in the local part", c);
			return -1;
		}
	}
	return 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]": checked loosely, lowercased. */
static int
check_literal(const char *p, size_t len, char *err)
{
	if (len < 3 || p[len - 1] != ']') {
		set_err(err, "unterminated address literal");
		return -1;
	}
	for (size_t i = 1; i + 1 < len; i++) {
		if (!g_ascii_isxdigit(p[i]) && p[i] != '.' && p[i] != ':' &&
		    !(i >= 1 && i <= 4 && strchr("ipvIPV6", p[i]) != NULL)) {
			set_err(err, "invalid character in an address literal");
			return -1;
		}
	}
	return 0;
}

/* An ASCII host name, lowercased already: LDH labels (RFC 1123, 5890). */
static int
check_domain(const char *p, size_t len, char *err)
{
	size_t label = 0;

	if (len == 0) {
		set_err(err, "empty domain");
		return -1;
	}
	if (p[0] == '[')
		return check_literal(p, len, err);
	if (len > DOMAIN_MAX) {
		set_err(err, "domain longer than %d octets", DOMAIN_MAX);
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? p[i] : '.';

		if (c == '.') {
			if (label == 0) {
				set_err(err, "empty label in the domain");
				return -1;
			}
			if (p[i - 1] == '-' || p[i - label] == '-') {
				set_err(err, "domain label starts or ends with '-'");
				return -1;
			}
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(c) && c != '-' && c != '_') {
			if (g_ascii_isprint(c))
				set_err(err, "invalid character '%c' in the domain", c);
			else
				set_err(err, "invalid byte 0x%02x in the domain", (unsigned char)c);
			return -1;
		}
		if (++label > LABEL_MAX) {
			set_err(err, "domain label longer than %d octets", LABEL_MAX);
			return -1;
		}
	}
	return 0;
}

int
store_addr_normalize(const char *in, size_t len, char out[STORE_ADDR_MAX + 1], char err[256])
{
	const char *p = in, *at = NULL;
	size_t local_len, dom_len, n = 0;
	int ascii = 1;
	char *dom_ascii = NULL;

	if (err != NULL)
		err[0] = '\0';
	if (in == NULL) {
		set_err(err, "empty address");
		return -1;
	}
	trim(&p, &len);
	if (len >= 7 && g_ascii_strncasecmp(p, "mailto:", 7) == 0) {
		p += 7;
		len -= 7;
	} else if (len >= 7 && g_ascii_strncasecmp(p, "rfc822;", 7) == 0) {
		p += 7;
		len -= 7;
	}
	trim(&p, &len);
	if (len >= 2 && p[0] == '<' && p[len - 1] == '>') {
		p++;
		len -= 2;
		trim(&p, &len);
	}
	if (len == 0) {
		set_err(err, "empty address");
		return -1;
	}
	if (len > STORE_ADDR_MAX) {
		set_err(err, "address longer than %d octets", STORE_ADDR_MAX);
		return -1;
	}
	/* The domain starts after the last '@'; a quoted local part may hold '@'. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '@')
			at = p + i;
		else if (c == '\0') {
			set_err(err, "NUL byte in the address");
			return -1;
		} else if (c >= 0x80)
			ascii = 0;
	}
	if (at == NULL) {
		set_err(err, "no '@' in the address");
		return -1;
	}
	local_len = (size_t)(at - p);
	dom_len = len - local_len - 1;
	if (dom_len > 0 && at[dom_len] == '.')
		dom_len--;   /* an absolute name "example.com." */

	if (!ascii && !g_utf8_validate(p, (gssize)len, NULL)) {
		set_err(err, "address is neither ASCII nor valid UTF-8");
		return -1;
	}

	/* Local part, lowercased (see the file comment). */
	if (local_len > 0) {
		int local_ascii = 1;

		for (size_t i = 0; i < local_len; i++)
			if ((unsigned char)p[i] >= 0x80)
				local_ascii = 0;
		if (local_ascii) {
			for (size_t i = 0; i < local_len; i++)
				out[n++] = g_ascii_tolower(p[i]);
		} else {
			char *low = g_utf8_strdown(p, (gssize)local_len);
			size_t l = strlen(low);

			if (l > STORE_ADDR_MAX - 2) {
				g_free(low);
				set_err(err, "address longer than %d octets", STORE_ADDR_MAX);
				return -1;
			}
			memcpy(out, low, l);
			n = l;
			g_free(low);
		}
		if (check_local(out, n, err) == -1)
			return -1;
	}
	out[n++] = '@';

	/* Domain: lowercased ASCII; IDNA when it is not ASCII already. */
	{
		const char *d = at + 1;
		int dom_is_ascii = 1;

		for (size_t i = 0; i < dom_len; i++)
			if ((unsigned char)d[i] >= 0x80)
				dom_is_ascii = 0;
		if (!dom_is_ascii) {
			char *tmp = g_strndup(d, dom_len);

			dom_ascii = g_hostname_to_ascii(tmp);
			g_free(tmp);
			if (dom_ascii == NULL) {
				set_err(err, "domain cannot be converted to ASCII (IDNA)");
				return -1;
			}
			d = dom_ascii;
			dom_len = strlen(dom_ascii);
		}
		if (n + dom_len > STORE_ADDR_MAX) {
			g_free(dom_ascii);
			set_err(err, "address longer than %d octets", STORE_ADDR_MAX);
			return -1;
		}
		for (size_t i = 0; i < dom_len; i++)
			out[n + i] = g_ascii_tolower(d[i]);
		g_free(dom_ascii);
		if (check_domain(out + n, dom_len, err) == -1)
			return -1;
		n += dom_len;
	}
	out[n] = '\0';
	return (int)n;
}

int
store_erased_name_valid(const char *name)
{
	/* "hmac:", 64 hex digits of HMAC-SHA256, ':', 16 hex digits of key */
	size_t len = strlen(name);

	if (len != 5 + 64 + 1 + 16 || strncmp(name, "hmac:", 5) != 0 || name[5 + 64] != ':')
		return 0;
	for (size_t i = 5; i < len; i++)
		if (i != 5 + 64 && !(g_ascii_isxdigit(name[i]) && !g_ascii_isupper(name[i])))
			return 0;
	return 1;
}
