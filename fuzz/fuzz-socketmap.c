/* SPDX-License-Identifier: MIT */
/*
 * fuzz-socketmap.c - libFuzzer target: the Postfix socketmap engine
 * (socketmap.h) on a real in-memory index, fed in chunks.
 *
 * Checks: the output is a sequence of well-formed netstrings whose content
 * starts with OK, NOTFOUND, TEMP or PERM; buffers never overflow; after a
 * protocol error (-1) nothing more is read (the server closes).
 *
 * Input: byte 0 = chunk size (1..256), the rest = the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "socketmap.h"
#include "store.h"
#include "test-index-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(const char *out, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = 0, j = i;

		while (j < len && g_ascii_isdigit(out[j]))
			n = n * 10 + (size_t)(out[j++] - '0');
		if (j == i || j >= len || out[j] != ':' || j + 1 + n >= len ||
		    out[j + 1 + n] != ',')
			abort();
		if (strncmp(out + j + 1, "OK ", 3) != 0 && strncmp(out + j + 1, "NOTFOUND ", 9) != 0 &&
		    strncmp(out + j + 1, "TEMP ", 5) != 0 && strncmp(out + j + 1, "PERM ", 5) != 0)
			abort();
		i = j + 1 + n + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smap_ctx ctx = { .idx = tu_fuzz_index(), .name = "suppressed",
	    .transport_name = "suppressed_transport", .delimiters = "+-" };
	struct query_buf *b;
	size_t chunk, off = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	b = g_new0(struct query_buf, 1);
	while (off < size) {
		size_t n = MIN(MIN(chunk, size - off), QUERY_IN_SIZE - b->in_len);
		int rc;

		memcpy(b->in + b->in_len, data + off, n);
		b->in_len += n;
		off += n;
		rc = smap_engine(&ctx, b, 1750000000);
		if (b->in_len > QUERY_IN_SIZE || b->out_len > QUERY_OUT_SIZE)
			abort();
		fz_check(b->out, b->out_len);
		b->out_len = 0;
		if (rc < 0 || n == 0)
			break;
	}
	g_free(b);
	return 0;
}
