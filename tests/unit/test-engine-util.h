/* SPDX-License-Identifier: MIT */
/*
 * test-engine-util.h - drives a line/netstring engine (query_engine_fn:
 * the query, socketmap and policy delegation engines) the way query.c's
 * server does, with the input cut into chunks, for their unit tests.
 */
#ifndef BOUNCED_TEST_ENGINE_UTIL_H
#define BOUNCED_TEST_ENGINE_UTIL_H

#include <string.h>
#include <glib.h>

#include "query.h"

/*
 * Feeds len bytes of in to engine(ctx, ..., now) in chunks of chunk bytes
 * (0: all at once), collecting its output after each call.  Stops at the
 * first non-zero engine return, stored in *rc_r (0 when all was fed).
 * Fails the test if a full input buffer is left unconsumed (the engine
 * always makes room).  Returns all the output; caller frees.
 */
static inline GString *
tu_feed(query_engine_fn engine, void *ctx, time_t now, const char *in, size_t len,
    size_t chunk, int *rc_r)
{
	struct query_buf *b = g_new0(struct query_buf, 1);
	GString *out = g_string_new(NULL);
	size_t off = 0;

	*rc_r = 0;
	while (off < len && *rc_r == 0) {
		size_t n = chunk == 0 ? len - off : MIN(chunk, len - off);

		n = MIN(n, QUERY_IN_SIZE - b->in_len);
		g_assert_cmpuint(n, >, 0);
		memcpy(b->in + b->in_len, in + off, n);
		b->in_len += n;
		off += n;
		*rc_r = engine(ctx, b, now);
		g_string_append_len(out, b->out, (gssize)b->out_len);
		b->out_len = 0;
	}
	g_free(b);
	return out;
}

/* tu_feed() of an engine that must never fail: asserts it returned 0. */
static inline GString *
tu_feed_ok(query_engine_fn engine, void *ctx, time_t now, const char *in, size_t len,
    size_t chunk)
{
	int rc;
	GString *out = tu_feed(engine, ctx, now, in, len, chunk, &rc);

	g_assert_cmpint(rc, ==, 0);
	return out;
}

#endif
