/* SPDX-License-Identifier: MIT */
/*
 * test-index-util.h - an in-memory suppression index (store_index) filled
 * from a table of entries, for the unit tests and the fuzz targets of the
 * query, socketmap and policy delegation engines (fuzz/ includes it too).
 */
#ifndef BOUNCED_TEST_INDEX_UTIL_H
#define BOUNCED_TEST_INDEX_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "store.h"

/* One entry: an address, or "@domain" for a whole domain. */
struct tu_index_row {
	const char *key;
	enum store_cause cause;
	enum report_reason reason;
	int64_t since, until;         /* until 0: no expiry */
};

/*
 * A new index keyed with secret, holding the n rows.  Returns NULL when
 * store_index_apply() fails.  Caller frees with store_index_free().
 */
static inline struct store_index *
tu_index_new(const unsigned char *secret, size_t secret_len, const struct tu_index_row *rows,
    size_t n)
{
	struct store_index *idx = store_index_new(secret, secret_len);
	GArray *ch = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct store_change c = { 0 };

		c.key = store_index_key(idx, rows[i].key, strlen(rows[i].key));
		c.v.cause = rows[i].cause;
		c.v.reason = rows[i].reason;
		c.v.since = rows[i].since;
		c.v.until = rows[i].until;
		g_array_append_val(ch, c);
	}
	rc = store_index_apply(idx, ch);
	g_array_free(ch, TRUE);
	if (rc != 0) {
		store_index_free(idx);
		return NULL;
	}
	return idx;
}

/*
 * tu_index_new() with the unit tests' 32-byte secret, for the engines'
 * tests; fails the test when the index cannot be built.  Caller frees
 * with store_index_free().
 */
static inline struct store_index *
tu_test_index(const struct tu_index_row *rows, size_t n)
{
	static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
	struct store_index *idx = tu_index_new(secret, 32, rows, n);

	g_assert_nonnull(idx);
	return idx;
}

/*
 * The index the fuzz targets answer from: an address, a domain, and entries
 * with a recipient delimiter and an expiry, of every cause that answers
 * differently.  Built at the first call, never freed; aborts on failure.
 */
static inline struct store_index *
tu_fuzz_index(void)
{
	static struct store_index *idx;
	static const struct tu_index_row rows[] = {
		{ "dead@example.com", STORE_CAUSE_HARD, REPORT_REASON_USERUNKNOWN, 1700000000, 0 },
		{ "@gone.example", STORE_CAUSE_COMPLAINT, REPORT_REASON_USERUNKNOWN, 1700000000, 0 },
		{ "a+b@c.d", STORE_CAUSE_HARD, REPORT_REASON_USERUNKNOWN, 1700000000, 1800000000 },
		{ "u+t@x.y", STORE_CAUSE_SOFT, REPORT_REASON_MAILBOXFULL, 1700000000, 1800000000 },
	};

	if (idx == NULL) {
		idx = tu_index_new((const unsigned char *)"fuzzfuzzfuzzfuzz", 16, rows,
		    G_N_ELEMENTS(rows));
		if (idx == NULL)
			abort();
	}
	return idx;
}

#endif
