/* SPDX-License-Identifier: MIT */
/*
 * test-store-index.c - the in-memory index: SipHash-2-4 against the
 * paper's test vectors, insert/update/remove against a GHashTable model
 * through growth and backward-shift deletion, expiry at lookup time, the
 * domain step, and the 16-byte slot (memory per entry).
 */
#include <string.h>
#include <glib.h>

#include "store-int.h"

static void
test_siphash(void)
{
	/* SipHash paper, appendix A: key 00..0f; messages 00..(n-1). */
	static const struct {
		size_t len;
		uint64_t want;
	} cases[] = {
		{ 0, UINT64_C(0x726fdb47dd0e0e31) },
		{ 15, UINT64_C(0xa129ca6149be45e5) },
	};
	uint8_t k[16], m[64];

	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		m[i] = (uint8_t)i;
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t got = store_siphash24(k, m, cases[i].len);

		if (got != cases[i].want)
			g_error("len %zu: got %016" G_GINT64_MODIFIER "x want %016"
			    G_GINT64_MODIFIER "x", cases[i].len, (guint64)got, (guint64)cases[i].want);
	}
	/* Every length 0..63 differs from its neighbours and depends on the key. */
	for (size_t len = 1; len < 64; len++) {
		uint8_t k2[16];

		memcpy(k2, k, 16);
		k2[0] ^= 1;
		g_assert_cmpuint(store_siphash24(k, m, len), !=, store_siphash24(k, m, len - 1));
		g_assert_cmpuint(store_siphash24(k, m, len), !=, store_siphash24(k2, m, len));
	}
}

static void
verdict(struct store_verdict *v, enum store_cause c, int64_t since, int64_t until)
{
	memset(v, 0, sizeof(*v));
	v->cause = c;
	v->reason = REPORT_REASON_USERUNKNOWN;
	v->since = since;
	v->until = until;
}

static void
test_model(void)
{
	static const unsigned char secret[] = "index test secret";
	struct store_index *idx = store_index_new(secret, sizeof(secret) - 1);
	GHashTable *model = g_hash_table_new(g_int64_hash, g_int64_equal);
	GRand *rnd = g_rand_new_with_seed(42);
	gint64 *keys = g_new(gint64, 300000);
	struct store_verdict v;

	/* Random inserts, updates and removals; keys clustered on purpose. */
	for (int i = 0; i < 300000; i++) {
		keys[i] = (gint64)(((guint64)g_rand_int(rnd) << 32) | g_rand_int(rnd));
		/* Clusters of 50 keys with the same home bucket at any size. */
		if (i % 7 == 0)
			keys[i] = (gint64)(((guint64)keys[i] & ~(guint64)0xffffffff) |
			    (guint32)((i / 7) / 50 * 2654435761u));
	}
	for (int round = 0; round < 600000; round++) {
		int i = (int)g_rand_int_range(rnd, 0, 300000);
		int op = (int)g_rand_int_range(rnd, 0, 10);

		if (op < 7) {
			verdict(&v, STORE_CAUSE_HARD, i, 0);
			g_assert_cmpint(store_index_put(idx, (uint64_t)keys[i], &v), ==, 0);
			g_hash_table_insert(model, &keys[i], GINT_TO_POINTER(i + 1));
		} else {
			verdict(&v, STORE_CAUSE_NONE, 0, 0);
			g_assert_cmpint(store_index_put(idx, (uint64_t)keys[i], &v), ==, 0);
			g_hash_table_remove(model, &keys[i]);
		}
	}
	g_assert_cmpuint(store_index_count(idx), ==, g_hash_table_size(model));
	/* Every model key is found with its value, no other key is. */
	for (int i = 0; i < 300000; i++) {
		gpointer val = g_hash_table_lookup(model, &keys[i]);
		struct store_verdict got;
		int found = store_index_lookup(idx, (uint64_t)keys[i], 0, &got);

		if (found != (val != NULL))
			g_error("key %d: found %d want %d", i, found, val != NULL);
		if (found)
			g_assert_cmpint(got.since, ==, GPOINTER_TO_INT(val) - 1);
	}
	g_hash_table_destroy(model);
	g_rand_free(rnd);
	g_free(keys);
	store_index_free(idx);
}

static void
test_names(void)
{
	static const unsigned char secret[] = "index test secret";
	struct store_index *idx = store_index_new(secret, sizeof(secret) - 1);
	GArray *changes = g_array_new(FALSE, TRUE, sizeof(struct store_change));
	struct store_change c;
	struct store_verdict v;
	char name[64];
	const time_t now = 1700000000;

	/* 200,000 names: half suppressed, checked, then every third removed. */
	for (int i = 0; i < 200000; i += 2) {
		int n = g_snprintf(name, sizeof(name), "user%d@example%d.com", i, i % 100);

		memset(&c, 0, sizeof(c));
		c.key = store_index_key(idx, name, (size_t)n);
		verdict(&c.v, i % 4 == 0 ? STORE_CAUSE_HARD : STORE_CAUSE_SOFT, now - i,
		    i % 8 == 0 ? now + 10 : 0);
		g_array_append_val(changes, c);
	}
	g_assert_cmpint(store_index_apply(idx, changes), ==, 0);
	g_assert_cmpuint(store_index_count(idx), ==, 100000);
	for (int i = 0; i < 200000; i++) {
		int n = g_snprintf(name, sizeof(name), "user%d@example%d.com", i, i % 100);
		int got = store_check(idx, name, (size_t)n, now, &v);

		if (got != (i % 2 == 0))
			g_error("%s: got %d want %d", name, got, i % 2 == 0);
		if (got) {
			g_assert_cmpint(v.cause, ==, i % 4 == 0 ? STORE_CAUSE_HARD : STORE_CAUSE_SOFT);
			g_assert_cmpint(v.since, ==, now - i);
			g_assert_cmpint(v.domain, ==, 0);
			/* Expiry is decided at lookup time. */
			g_assert_cmpint(store_check(idx, name, (size_t)n, now + 10, &v), ==,
			    i % 8 != 0);
		}
	}
	g_array_set_size(changes, 0);
	for (int i = 0; i < 200000; i += 6) {
		int n = g_snprintf(name, sizeof(name), "user%d@example%d.com", i, i % 100);

		memset(&c, 0, sizeof(c));
		c.key = store_index_key(idx, name, (size_t)n);
		c.v.cause = STORE_CAUSE_NONE;
		g_array_append_val(changes, c);
	}
	g_assert_cmpint(store_index_apply(idx, changes), ==, 0);
	for (int i = 0; i < 200000; i++) {
		int n = g_snprintf(name, sizeof(name), "user%d@example%d.com", i, i % 100);
		int want = i % 2 == 0 && i % 6 != 0;

		if (store_check(idx, name, (size_t)n, now, &v) != want)
			g_error("after removal %s: want %d", name, want);
	}
	/* 16 bytes a slot, at most 7/8 full, a power of two: <= 32 bytes an entry here. */
	g_assert_cmpuint(store_index_bytes(idx) / store_index_count(idx), <=, 32);
	g_array_free(changes, TRUE);
	store_index_free(idx);
}

static void
test_domain(void)
{
	static const unsigned char secret[] = "s";
	struct store_index *idx = store_index_new(secret, 1);
	struct store_verdict v;
	const time_t now = 1700000000;

	verdict(&v, STORE_CAUSE_MANUAL, now - 5, 0);
	g_assert_cmpint(store_index_put(idx, store_index_key(idx, "@example.com", 12), &v), ==, 0);
	g_assert_cmpint(store_check(idx, "anyone@example.com", 18, now, &v), ==, 1);
	g_assert_cmpint(v.domain, ==, 1);
	g_assert_cmpint(v.cause, ==, STORE_CAUSE_MANUAL);
	g_assert_cmpint(store_check(idx, "@example.com", 12, now, &v), ==, 1);
	g_assert_cmpint(store_check(idx, "anyone@sub.example.com", 22, now, &v), ==, 0);
	g_assert_cmpint(store_check(idx, "anyone@example.org", 18, now, &v), ==, 0);
	/* The domain is after the last '@'. */
	g_assert_cmpint(store_check(idx, "\"a@b\"@example.com", 17, now, &v), ==, 1);
	/* Not an address. */
	g_assert_cmpint(store_check(idx, "nobody", 6, now, &v), ==, -1);
	g_assert_cmpint(store_check(idx, "nobody@", 7, now, &v), ==, -1);
	/* An address entry answers before the domain entry. */
	verdict(&v, STORE_CAUSE_HARD, now - 1, 0);
	g_assert_cmpint(store_index_put(idx, store_index_key(idx, "x@example.com", 13), &v), ==, 0);
	g_assert_cmpint(store_check(idx, "x@example.com", 13, now, &v), ==, 1);
	g_assert_cmpint(v.cause, ==, STORE_CAUSE_HARD);
	g_assert_cmpint(v.domain, ==, 0);
	store_index_free(idx);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/index/siphash", test_siphash);
	g_test_add_func("/index/model", test_model);
	g_test_add_func("/index/names", test_names);
	g_test_add_func("/index/domain", test_domain);
	return g_test_run();
}
