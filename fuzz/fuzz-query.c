/* SPDX-License-Identifier: MIT */
/*
 * fuzz-query.c - libFuzzer target: the query protocol engine (query.h) on
 * a real in-memory index, fed in chunks; the client reads its replies at a
 * pace the input chooses (so backpressure paths run too).
 *
 * Checks: every reply is one line starting with OK, SUPPRESSED or ERR; the
 * buffers never overflow; the engine never fails.
 *
 * Input: byte 0 = chunk size (1..128) and reading pace, the rest = requests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "query.h"
#include "store.h"
#include "test-index-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(const char *out, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(out + i, '\n', len - i);

		if (nl == NULL)
			abort();
		if (strncmp(out + i, "OK\n", 3) != 0 && strncmp(out + i, "SUPPRESSED ", 11) != 0 &&
		    strncmp(out + i, "ERR ", 4) != 0)
			abort();
		if (memchr(out + i, '\0', (size_t)(nl - (out + i))) != NULL)
			abort();
		i = (size_t)(nl - out) + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query_ctx ctx = { .idx = tu_fuzz_index() };
	struct query_buf *b;
	size_t chunk, off = 0;
	int slow;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 127) + 1;
	slow = data[0] & 128;
	data++;
	size--;
	b = g_new0(struct query_buf, 1);
	while (off < size) {
		size_t n = MIN(MIN(chunk, size - off), QUERY_IN_SIZE - b->in_len);

		memcpy(b->in + b->in_len, data + off, n);
		b->in_len += n;
		off += n;
		if (query_engine(&ctx, b, 1750000000) != 0)
			abort();
		if (b->in_len > QUERY_IN_SIZE || b->out_len > QUERY_OUT_SIZE)
			abort();
		/* a slow reader takes half of what is there, a fast one all of it */
		if (!slow || b->out_len + QUERY_REPLY_MAX > QUERY_OUT_SIZE) {
			size_t take = slow ? b->out_len / 2 : b->out_len;

			/* whole lines only, so fz_check sees lines */
			while (take > 0 && b->out[take - 1] != '\n')
				take--;
			fz_check(b->out, take);
			memmove(b->out, b->out + take, b->out_len - take);
			b->out_len -= take;
		}
		if (n == 0 && b->out_len == 0)
			break;
	}
	fz_check(b->out, b->out_len);
	g_free(b);
	return 0;
}
