/* SPDX-License-Identifier: MIT */
/*
 * socketmap.c - the Postfix socketmap engine (see socketmap.h): bounded
 * netstring parsing (at most 5 length digits, a request of at most
 * LIMIT_QUERY_LINE bytes; a longer one is skipped and answered PERM), and
 * the answer from the suppression index.  The socket side is query.c's.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "socketmap.h"
#include "util.h"

#define SMAP_DIGITS_MAX 5       /* netstring length digits: 99999 > LIMIT_QUERY_LINE */

static void smap_put(struct query_buf *b, const char *data, size_t len);
static size_t smap_sign(struct smap_ctx *ctx, time_t now, const char *key, size_t klen,
    char *out, size_t outsz);

/*
 * sender_canonical_maps: the signed form of a sender of the bounce domains.
 * Postfix also asks "user" and "@domain" forms: not addresses, NOTFOUND.
 * The key is signed as normalised (lowercase), which is how it is verified.
 */
static size_t
smap_sign(struct smap_ctx *ctx, time_t now, const char *key, size_t klen, char *out,
    size_t outsz)
{
	char norm[STORE_ADDR_MAX + 1], err[256], signed_addr[STORE_ADDR_MAX + 1];
	int n, rc;

	if (klen == 0 || memchr(key, '@', klen) == NULL)
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	n = store_addr_normalize(key, klen, norm, err);
	if (n <= 0 || norm[0] == '@')
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	/* too long once signed: sent unsigned rather than deferred for ever */
	if ((size_t)n + TRUST_TAG_LEN >= sizeof(signed_addr))
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	if (ctx->keys == NULL || ctx->keys->n == 0)
		return (size_t)snprintf(out, outsz, "TEMP no signing key loaded");
	rc = trust_sign(ctx->keys, ctx->sign_domains, ctx->nsign_domains, norm, now, signed_addr,
	    sizeof(signed_addr));
	if (rc == 0)
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	if (rc < 0)
		return (size_t)snprintf(out, outsz, "TEMP cannot sign (no current key, or too long)");
	ctx->signed_count++;
	return (size_t)snprintf(out, outsz, "OK %s", signed_addr);
}

const char *
smap_status(const struct store_verdict *v)
{
	switch (v->cause) {
	case STORE_CAUSE_HARD:
		if (v->domain || v->reason == REPORT_REASON_HOSTUNKNOWN ||
		    v->reason == REPORT_REASON_NOTACCEPT)
			return "5.1.2";
		if (v->reason == REPORT_REASON_HASMOVED)
			return "5.1.6";
		return "5.1.1";
	case STORE_CAUSE_SOFT:
		if (v->reason == REPORT_REASON_MAILBOXFULL)
			return "5.2.2";
		return "5.2.1";
	default:
		return "5.7.1";
	}
}

size_t
smap_answer(struct smap_ctx *ctx, time_t now, const char *req, size_t len, char *out,
    size_t outsz)
{
	char norm[STORE_ADDR_MAX + 1], err[256], why[QUERY_REPLY_MAX / 2];
	const char *sp = memchr(req, ' ', len);
	struct store_verdict v;
	size_t nlen, klen;
	int transport, n, rc;

	ctx->requests++;
	if (sp == NULL)
		return (size_t)snprintf(out, outsz, "PERM expected \"name key\"");
	nlen = (size_t)(sp - req);
	if (ctx->sign_name != NULL && nlen == strlen(ctx->sign_name) &&
	    memcmp(req, ctx->sign_name, nlen) == 0)
		return smap_sign(ctx, now, sp + 1, len - nlen - 1, out, outsz);
	if (nlen == strlen(ctx->name) && memcmp(req, ctx->name, nlen) == 0)
		transport = 0;
	else if (nlen == strlen(ctx->transport_name) && memcmp(req, ctx->transport_name, nlen) == 0)
		transport = 1;
	else
		return (size_t)snprintf(out, outsz, "PERM unknown map name");
	klen = len - nlen - 1;
	if (klen > 0 && memchr(sp + 1, '@', klen) == NULL && klen < STORE_ADDR_MAX) {
		/* a bare domain (Postfix asks "domain" after "user@domain"): its entry */
		char dom[STORE_ADDR_MAX + 1];

		dom[0] = '@';
		memcpy(dom + 1, sp + 1, klen);
		n = store_addr_normalize(dom, klen + 1, norm, err);
	} else {
		n = store_addr_normalize(sp + 1, klen, norm, err);
	}
	/* "user@", ".domain", invalid keys: not ours */
	if (n <= 0)
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	/* the database could not be opened yet: Postfix defers rather than guesses */
	if (ctx->idx == NULL)
		return (size_t)snprintf(out, outsz, "TEMP store unavailable");
	rc = smap_lookup(ctx->idx, ctx->delimiters, norm, now, &v);
	if (rc <= 0)
		return (size_t)snprintf(out, outsz, "NOTFOUND ");
	ctx->found++;
	smap_describe(&v, why, sizeof(why));
	return (size_t)snprintf(out, outsz, "OK %s%s %s", transport ? "error:" : "550 ",
	    smap_status(&v), why);
}

size_t
smap_describe(const struct store_verdict *v, char *out, size_t outsz)
{
	char since[32], until[32];

	util_iso8601_format(v->since, since);
	if (v->until != STORE_TTL_NEVER)
		util_iso8601_format(v->until, until);
	return (size_t)snprintf(out, outsz, "suppressed%s: %s %s since %s%s%s",
	    v->domain ? " (domain entry)" : "", store_cause_name(v->cause),
	    report_reason_name(v->reason), since, v->until != STORE_TTL_NEVER ? " until " : "",
	    v->until != STORE_TTL_NEVER ? until : "");
}

int
smap_lookup(const struct store_index *idx, const char *delimiters, char *norm, time_t now,
    struct store_verdict *v_r)
{
	const char *at;
	int rc = store_check(idx, norm, strlen(norm), now, v_r);

	if (rc == 0 && delimiters[0] != '\0' && (at = strrchr(norm, '@')) != NULL) {
		size_t cut = strcspn(norm, delimiters);

		/* "user+ext@domain" -> "user@domain" */
		if (cut > 0 && norm + cut < at) {
			memmove(norm + cut, at, strlen(at) + 1);
			rc = store_check(idx, norm, strlen(norm), now, v_r);
		}
	}
	return rc;
}

/* Appends one netstring to the output. */
static void
smap_put(struct query_buf *b, const char *data, size_t len)
{
	int n = snprintf(b->out + b->out_len, QUERY_OUT_SIZE - b->out_len, "%zu:", len);

	b->out_len += (size_t)n;
	memcpy(b->out + b->out_len, data, len);
	b->out_len += len;
	b->out[b->out_len++] = ',';
}

int
smap_engine(void *vctx, struct query_buf *b, time_t now)
{
	struct smap_ctx *ctx = vctx;
	size_t pos = 0;
	int rc = 0;

	if (b->skip > 0) {
		size_t n = MIN(b->skip, b->in_len);

		pos = n;
		b->skip -= n;
	}
	while (b->skip == 0 && b->out_len + QUERY_REPLY_MAX <= QUERY_OUT_SIZE) {
		char reply[QUERY_REPLY_MAX - 16];
		size_t i = pos, len = 0, digits = 0, rlen;

		while (i < b->in_len && g_ascii_isdigit(b->in[i])) {
			if (++digits > SMAP_DIGITS_MAX) {
				rc = -1;
				goto out;
			}
			len = len * 10 + (size_t)(b->in[i] - '0');
			i++;
		}
		if (i == b->in_len)
			break;                  /* need more */
		if (digits == 0 || b->in[i] != ':') {
			rc = -1;
			goto out;
		}
		i++;
		if (len > LIMIT_QUERY_LINE) {
			size_t have = b->in_len - i;

			smap_put(b, "PERM request too long", 21);
			/* drop the data and its ',' as they come */
			b->skip = len + 1 - MIN(have, len + 1);
			pos = i + MIN(have, len + 1);
			continue;
		}
		if (b->in_len - i < len + 1)
			break;                  /* need more */
		if (b->in[i + len] != ',') {
			rc = -1;
			goto out;
		}
		rlen = smap_answer(ctx, now, b->in + i, len, reply, sizeof(reply));
		smap_put(b, reply, MIN(rlen, sizeof(reply) - 1));
		pos = i + len + 1;
	}
out:
	if (pos > 0) {
		memmove(b->in, b->in + pos, b->in_len - pos);
		b->in_len -= pos;
	}
	return rc;
}
