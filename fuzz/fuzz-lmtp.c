/* SPDX-License-Identifier: MIT */
/*
 * fuzz-lmtp.c - libFuzzer target: the LMTP session engine (lmtp.h) fed a
 * hostile byte stream in chunks whose size the input chooses, with commits
 * completed inside the callback or later, succeeding or failing.
 *
 * Checks beyond "no crash, no leak": every reply line is "ddd" then ' ' or
 * '-' and ends with CRLF; after the final dot of a message the replies are
 * only 250 or 451 (never a 5xx to a delivered message); the engine never
 * takes more than it was given.
 *
 * Input: byte 0 = chunk size (1..64), 64: complete in the callback, 128:
 * end with an idle timeout (else a shutdown); the rest = the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "lmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	struct lmtp_engine *e;
	unsigned txns;
	int sync;
	size_t mark;            /* output length when the last message ended */
};

static void
fz_txn(void *ud, struct lmtp_txn *t)
{
	struct fz *f = ud;

	if (t->data->len > t->size || t->rcpts->len == 0)
		abort();
	f->txns++;
	lmtp_txn_free(t);
	f->mark = lmtp_engine_output(f->e)->len;
	if (f->sync)
		lmtp_engine_complete(f->e, f->txns & 1, "done");
}

static void
fz_check_output(const GString *out, size_t from, int only_final)
{
	size_t i = from;

	while (i < out->len) {
		const char *nl = memchr(out->str + i, '\n', out->len - i);
		size_t len;

		if (nl == NULL || nl == out->str + i || nl[-1] != '\r')
			abort();
		len = (size_t)(nl - (out->str + i)) + 1;
		if (len < 6 || !g_ascii_isdigit(out->str[i]) || !g_ascii_isdigit(out->str[i + 1]) ||
		    !g_ascii_isdigit(out->str[i + 2]) || (out->str[i + 3] != ' ' &&
		    out->str[i + 3] != '-'))
			abort();
		if (only_final && strncmp(out->str + i, "250 ", 4) != 0 &&
		    strncmp(out->str + i, "451 ", 4) != 0)
			abort();
		i += len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtp_limits lim;
	struct fz f = { 0 };
	size_t chunk, off = 0;
	GString *pending;
	int timeout;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 63) + 1;
	f.sync = (data[0] & 64) != 0;
	timeout = (data[0] & 128) != 0;
	data++;
	size--;
	lmtp_limits_default(&lim);
	lim.max_line = 256;
	lim.max_message = 4096;
	lim.keep_bytes = 1024;
	lim.max_rcpts = 8;
	lim.max_bad = 16;
	f.e = lmtp_engine_new(&lim, "fuzz.test", fz_txn, &f);
	pending = g_string_new(NULL);
	while (off < size || pending->len > 0) {
		size_t n = MIN(chunk, size - off), used;

		g_string_append_len(pending, (const char *)data + off, (gssize)n);
		off += n;
		used = lmtp_engine_feed(f.e, pending->str, pending->len);
		if (used > pending->len)
			abort();
		g_string_erase(pending, 0, (gssize)used);
		if (lmtp_engine_state(f.e) == LMTP_STATE_WAIT) {
			GString *out = lmtp_engine_output(f.e);
			size_t before = out->len;

			lmtp_engine_complete(f.e, f.txns & 1, "done");
			/* the replies to a message: 250 or 451 only */
			fz_check_output(out, before, 1);
			continue;
		}
		if (n == 0 && used == 0)
			break;
	}
	if (timeout)
		lmtp_engine_timeout(f.e);
	else
		lmtp_engine_shutdown(f.e);
	fz_check_output(lmtp_engine_output(f.e), 0, 0);
	lmtp_engine_free(f.e);
	g_string_free(pending, TRUE);
	return 0;
}
