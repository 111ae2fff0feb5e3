/* SPDX-License-Identifier: MIT */
/*
 * policy.c - the Postfix policy delegation engine (see policy.h): request
 * lines are consumed as they arrive (a request may be larger than the
 * connection's input buffer), the attributes bounced uses are kept in the
 * connection's struct query_policy_req, and the empty line that ends a
 * request gets its answer from the suppression index (smap_lookup, the
 * socketmap's lookup, so both answer alike).  The socket side is query.c's.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "log.h"
#include "policy.h"
#include "socketmap.h"

#define POLICY_ESC_SIZE (4 * QUERY_PVALUE_MAX + 8)   /* a value escaped for the log */

/* Truncation bits of struct query_policy_req.truncated. */
enum { POLICY_T_SENDER = 1, POLICY_T_RECIPIENT = 2 };

static void policy_attr(struct query_policy_req *r, const char *line, size_t len);
static void policy_keep(char *dst, size_t dstsz, const char *v, size_t vlen, unsigned *trunc,
    unsigned bit);
static size_t policy_error(struct policy_ctx *ctx, const struct query_policy_req *r,
    const char *why, char *out, size_t outsz);
static void policy_reply(struct query_buf *b, const char *action, size_t len);

/* Copies a value, truncated to dstsz - 1 (bit set in *trunc when it was). */
static void
policy_keep(char *dst, size_t dstsz, const char *v, size_t vlen, unsigned *trunc, unsigned bit)
{
	if (vlen >= dstsz) {
		vlen = dstsz - 1;
		*trunc |= bit;
	}
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

/* One "name=value" line (no line end). */
static void
policy_attr(struct query_policy_req *r, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	size_t nlen, vlen;
	const char *v;

	if (eq == NULL) {
		r->bad = "an attribute line without '='";
		return;
	}
	nlen = (size_t)(eq - line);
	v = eq + 1;
	vlen = len - nlen - 1;
#define POLICY_IS(name) (nlen == sizeof(name) - 1 && memcmp(line, name, nlen) == 0)
	if (POLICY_IS("request"))
		policy_keep(r->request, sizeof(r->request), v, vlen, &r->truncated, 0);
	else if (POLICY_IS("protocol_state"))
		policy_keep(r->protocol_state, sizeof(r->protocol_state), v, vlen, &r->truncated, 0);
	else if (POLICY_IS("queue_id"))
		policy_keep(r->queue_id, sizeof(r->queue_id), v, vlen, &r->truncated, 0);
	else if (POLICY_IS("sender"))
		policy_keep(r->sender, sizeof(r->sender), v, vlen, &r->truncated, POLICY_T_SENDER);
	else if (POLICY_IS("recipient"))
		policy_keep(r->recipient, sizeof(r->recipient), v, vlen, &r->truncated,
		    POLICY_T_RECIPIENT);
	else if (POLICY_IS("client_address"))
		policy_keep(r->client_address, sizeof(r->client_address), v, vlen, &r->truncated, 0);
	else if (POLICY_IS("sasl_username"))
		policy_keep(r->sasl_username, sizeof(r->sasl_username), v, vlen, &r->truncated, 0);
#undef POLICY_IS
}

/* The answer to a request bounced cannot judge: fail-open unless fail_closed. */
static size_t
policy_error(struct policy_ctx *ctx, const struct query_policy_req *r, const char *why,
    char *out, size_t outsz)
{
	char esc[POLICY_ESC_SIZE], eqid[64];

	ctx->errors++;
	log_warnx("event=policy action=%s error=\"%s\" queue_id=%s sender=\"%s\"",
	    ctx->fail_closed ? "defer" : "dunno", why,
	    log_escape(r->queue_id[0] ? r->queue_id : "-", strlen(r->queue_id[0] ? r->queue_id : "-"),
	    eqid, sizeof(eqid)), log_escape(r->sender, strlen(r->sender), esc, sizeof(esc)));
	if (ctx->fail_closed)
		return (size_t)snprintf(out, outsz, "DEFER_IF_PERMIT 4.3.0 bounced: %s, try again "
		    "later", why);
	return (size_t)snprintf(out, outsz, "DUNNO");
}

size_t
policy_decide(struct policy_ctx *ctx, time_t now, const struct query_policy_req *r, char *out,
    size_t outsz)
{
	char norm[STORE_ADDR_MAX + 1], err[256], why[QUERY_REPLY_MAX / 2], status[8];
	char esender[POLICY_ESC_SIZE], ercpt[POLICY_ESC_SIZE], esasl[POLICY_ESC_SIZE];
	char eqid[64], eclient[128], estate[32];
	struct store_verdict v;
	int n, rc, soft;
	size_t len;

	ctx->requests++;
	if (r->bad != NULL)
		return policy_error(ctx, r, r->bad, out, outsz);
	if (strcmp(r->request, "smtpd_access_policy") != 0)
		return policy_error(ctx, r, "not an smtpd_access_policy request", out, outsz);
	/* no recipient (a DATA-stage request of several recipients): nothing to judge */
	if (r->recipient[0] == '\0')
		return (size_t)snprintf(out, outsz, "DUNNO");
	if (r->truncated & POLICY_T_RECIPIENT)
		return (size_t)snprintf(out, outsz, "DUNNO");   /* longer than any stored address */
	n = store_addr_normalize(r->recipient, strlen(r->recipient), norm, err);
	if (n <= 0 || norm[0] == '@')
		return (size_t)snprintf(out, outsz, "DUNNO");   /* "postmaster", not an address */
	if (ctx->idx == NULL)
		return policy_error(ctx, r, "store unavailable", out, outsz);
	rc = smap_lookup(ctx->idx, ctx->delimiters, norm, now, &v);
	if (rc <= 0)
		return (size_t)snprintf(out, outsz, "DUNNO");

	/* a soft suppression expires: the client is told to retry, not to give up */
	soft = v.cause == STORE_CAUSE_SOFT && v.until != STORE_TTL_NEVER;
	g_strlcpy(status, smap_status(&v), sizeof(status));
	if (soft)
		status[0] = '4';
	smap_describe(&v, why, sizeof(why));
	len = (size_t)snprintf(out, outsz, "%s %s %s", soft ? "DEFER_IF_PERMIT" : "550", status,
	    why);
	if (soft)
		ctx->deferred++;
	else
		ctx->rejected++;
	/* every attribute came from smtpd, the sender and SASL name from the client: escaped */
	log_info("event=policy action=%s queue_id=%s sender=\"%s\" rcpt=\"%s\" client=%s "
	    "sasl_username=\"%s\" state=%s cause=%s reason=%s status=%s",
	    soft ? "defer" : "reject",
	    log_escape(r->queue_id, strlen(r->queue_id), eqid, sizeof(eqid)),
	    log_escape(r->sender, strlen(r->sender), esender, sizeof(esender)),
	    log_escape(r->recipient, strlen(r->recipient), ercpt, sizeof(ercpt)),
	    log_escape(r->client_address, strlen(r->client_address), eclient, sizeof(eclient)),
	    log_escape(r->sasl_username, strlen(r->sasl_username), esasl, sizeof(esasl)),
	    log_escape(r->protocol_state, strlen(r->protocol_state), estate, sizeof(estate)),
	    store_cause_name(v.cause), report_reason_name(v.reason), status);
	return len;
}

/* Appends "action=<action>\n\n" to the output. */
static void
policy_reply(struct query_buf *b, const char *action, size_t len)
{
	memcpy(b->out + b->out_len, "action=", 7);
	b->out_len += 7;
	memcpy(b->out + b->out_len, action, len);
	b->out_len += len;
	memcpy(b->out + b->out_len, "\n\n", 2);
	b->out_len += 2;
}

int
policy_engine(void *vctx, struct query_buf *b, time_t now)
{
	struct policy_ctx *ctx = vctx;
	struct query_policy_req *r = &b->preq;
	size_t pos = 0;

	while (b->out_len + QUERY_REPLY_MAX <= QUERY_OUT_SIZE) {
		const char *line = b->in + pos;
		const char *nl = memchr(line, '\n', b->in_len - pos);
		size_t len;

		if (nl == NULL) {
			if (b->in_len - pos > LIMIT_QUERY_LINE) {
				/* no line end in a full buffer: drop up to the line's end */
				r->bad = "an attribute line over " G_STRINGIFY(LIMIT_QUERY_LINE) " bytes";
				r->bytes += b->in_len - pos;
				b->discard = 1;
				pos = b->in_len;
			}
			break;                  /* need more */
		}
		len = (size_t)(nl - line);
		pos += len + 1;
		r->bytes += len + 1;
		if (b->discard) {
			b->discard = 0;         /* the end of the over-long line */
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0) {
			if (r->bad != NULL)
				continue;
			if (++r->attrs > POLICY_MAX_ATTRS)
				r->bad = "more than " G_STRINGIFY(POLICY_MAX_ATTRS) " attributes";
			else if (r->bytes > POLICY_MAX_BYTES)
				r->bad = "a request over 64 KiB";
			else
				policy_attr(r, line, len);
			continue;
		}
		/* the empty line: the request is complete */
		{
			char action[QUERY_REPLY_MAX - 16];
			size_t alen = policy_decide(ctx, now, r, action, sizeof(action));

			policy_reply(b, action, MIN(alen, sizeof(action) - 1));
			memset(r, 0, sizeof(*r));
		}
	}
	if (pos > 0) {
		memmove(b->in, b->in + pos, b->in_len - pos);
		b->in_len -= pos;
	}
	return 0;
}
