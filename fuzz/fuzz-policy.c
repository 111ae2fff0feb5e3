/* SPDX-License-Identifier: MIT */
/*
 * fuzz-policy.c - libFuzzer target: the Postfix policy delegation engine
 * (policy.h) on a real in-memory index, fed in chunks, fail-open or
 * fail-closed.
 *
 * Checks: the output is a sequence of "action=<text>\n\n" answers whose
 * text starts with 550, DEFER_IF_PERMIT or DUNNO (fail-closed never answers
 * DUNNO for an error, fail-open never DEFER_IF_PERMIT 4.3.0) and holds no
 * line end; buffers never overflow; the engine always consumes its input
 * (a request may be longer than the buffer).
 *
 * Input: byte 0 = chunk size (1..128) and mode (bit 7: fail-closed), the
 * rest = the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "policy.h"
#include "store.h"
#include "test-index-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(const char *out, size_t len, int closed)
{
	size_t i = 0;

	while (i < len) {
		const char *a = out + i, *end;

		if (len - i < 9 || memcmp(a, "action=", 7) != 0)
			abort();
		end = memchr(a, '\n', len - i);
		if (end == NULL || (size_t)(end - out) + 1 >= len || end[1] != '\n')
			abort();
		if (strncmp(a + 7, "550 ", 4) != 0 && strncmp(a + 7, "DEFER_IF_PERMIT ", 16) != 0 &&
		    strncmp(a + 7, "DUNNO\n", 6) != 0)
			abort();
		if (!closed && strncmp(a + 7, "DEFER_IF_PERMIT 4.3.0", 21) == 0)
			abort();
		i = (size_t)(end - out) + 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_ctx ctx = { .idx = tu_fuzz_index(), .delimiters = "+" };
	struct query_buf *b;
	size_t chunk, off = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x7f) + 1;
	ctx.fail_closed = (data[0] & 0x80) != 0;
	data++;
	size--;
	b = g_new0(struct query_buf, 1);
	while (off < size) {
		size_t n = MIN(MIN(chunk, size - off), QUERY_IN_SIZE - b->in_len);

		if (n == 0)
			abort();        /* a full buffer the engine did not consume */
		memcpy(b->in + b->in_len, data + off, n);
		b->in_len += n;
		off += n;
		if (policy_engine(&ctx, b, 1750000000) != 0)
			abort();
		if (b->in_len > QUERY_IN_SIZE || b->out_len > QUERY_OUT_SIZE)
			abort();
		fz_check(b->out, b->out_len, ctx.fail_closed);
		b->out_len = 0;
	}
	g_free(b);
	return 0;
}
