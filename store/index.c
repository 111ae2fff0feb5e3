/* SPDX-License-Identifier: MIT */
/*
 * index.c - the in-memory index that answers "may I send to X?" without
 * SQLite: up to ~200,000 queries/s from the daemon's loop, and under 64 MiB
 * with 1,000,000 suppressed addresses.
 *
 * Keys are SipHash-2-4 of the normalised address (or "@domain") under a
 * 128-bit key derived from the store's secret, so an attacker who chooses
 * addresses cannot aim at one bucket.  The table stores only the 64-bit key,
 * never the address: two addresses whose keys collide share an entry.  For
 * n entries a lookup of an unknown address hits a stored key with
 * probability n / 2^64 (5.4e-14 for n = 1e6: at 400,000 lookups/s, the
 * address then its domain for 200,000 queries/s, about one wrong
 * "suppressed" in 1.5 years of full load), and two stored addresses collide
 * with probability about n^2 / 2^65 (2.7e-8 for 1e6).  Both are accepted.
 *
 * Layout: open addressing with linear probing and Robin Hood ordering
 * (a lookup of an absent key stops as soon as it meets an entry closer to
 * its home), backward-shift deletion (no tombstones), power-of-two size,
 * load <= 7/8.  A slot is 16 bytes: the low `bits` bits of the key are the
 * home bucket and are not stored (quotienting), which leaves room in one
 * 64-bit word for the other 64 - bits >= 48 key bits, the distance from
 * home (7 bits), the cause (3) and the reason (6); since and until are
 * unsigned 32-bit seconds (valid until 2106).  A slot whose word is 0 is
 * empty (stored entries have a cause, never 0).
 *
 * Lookups allocate nothing; the domain step of store_check hashes the
 * "@domain" suffix of the address in place.
 */
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

/* Limits. */
#define INDEX_MIN_BITS 16            /* 65,536 slots (1 MiB): keeps >= 48 key bits in a slot */
#define INDEX_MAX_BITS 32
#define INDEX_DIST_MAX 127           /* 7 bits; a longer probe grows the table */
#define INDEX_LOAD_NUM 7             /* grow beyond 7/8 full */
#define INDEX_LOAD_DEN 8

#define W_REASON_BITS 6
#define W_CAUSE_BITS 3
#define W_DIST_BITS 7
#define W_META_BITS (W_REASON_BITS + W_CAUSE_BITS + W_DIST_BITS)

G_STATIC_ASSERT(REPORT_REASON_COUNT <= (1 << W_REASON_BITS));
G_STATIC_ASSERT(STORE_CAUSE_COUNT <= (1 << W_CAUSE_BITS));
G_STATIC_ASSERT(INDEX_DIST_MAX < (1 << W_DIST_BITS));
G_STATIC_ASSERT(64 - INDEX_MIN_BITS + W_META_BITS <= 64);

struct slot {
	uint64_t w;                  /* key >> bits | dist | cause | reason */
	uint32_t since;
	uint32_t until;              /* 0: never */
};
G_STATIC_ASSERT(sizeof(struct slot) == 16);

struct store_index {
	uint8_t k[STORE_SIPKEY_LEN];
	struct slot *slots;
	unsigned bits;
	size_t mask;
	size_t count;
};

static uint64_t rotl(uint64_t x, int b);
static uint64_t load64le(const uint8_t *p);
static inline uint64_t w_make(uint64_t hi, unsigned dist, unsigned cause, unsigned reason);
static inline unsigned w_dist(uint64_t w);
static uint32_t time32(int64_t t);
static int table_alloc(struct store_index *idx, unsigned bits);
static int grow(struct store_index *idx, unsigned bits);
static int insert(struct store_index *idx, uint64_t key, unsigned cause, unsigned reason,
    uint32_t since, uint32_t until);
static size_t find(const struct store_index *idx, uint64_t key);
static void erase(struct store_index *idx, uint64_t key);
static int lookup(const struct store_index *idx, uint64_t key, time_t now, struct store_verdict *r);

/* ---- SipHash-2-4, from the paper's description -------------------- */

static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t
load64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
} while (0)

uint64_t
store_siphash24(const uint8_t k[STORE_SIPKEY_LEN], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load64le(k), k1 = load64le(k + 8);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);   /* "somepseudorandomlygeneratedbytes" */
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	size_t whole = len & ~(size_t)7;
	uint64_t m, last;

	/* Compression: two rounds per 8-byte little-endian word. */
	for (size_t i = 0; i < whole; i += 8) {
		m = load64le(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last word: the remaining bytes, and len mod 256 in its top byte. */
	last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	/* Finalisation: four rounds. */
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

void
store_sipkey_derive(const unsigned char *secret, size_t len, uint8_t k[STORE_SIPKEY_LEN])
{
	static const char label[] = "bounced index key";
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, secret, len);
	guint8 digest[32];
	gsize dlen = sizeof(digest);

	g_hmac_update(h, (const guchar *)label, sizeof(label) - 1);
	g_hmac_get_digest(h, digest, &dlen);
	g_hmac_unref(h);
	memcpy(k, digest, STORE_SIPKEY_LEN);
}

/* ---- the table ---------------------------------------------------- */

static inline uint64_t
w_make(uint64_t hi, unsigned dist, unsigned cause, unsigned reason)
{
	return hi << W_META_BITS | (uint64_t)dist << (W_REASON_BITS + W_CAUSE_BITS) |
	    (uint64_t)cause << W_REASON_BITS | reason;
}

static inline unsigned
w_dist(uint64_t w)
{
	return (unsigned)(w >> (W_REASON_BITS + W_CAUSE_BITS)) & ((1u << W_DIST_BITS) - 1);
}

#define W_HI(w) ((w) >> W_META_BITS)
#define W_CAUSE(w) ((unsigned)((w) >> W_REASON_BITS) & ((1u << W_CAUSE_BITS) - 1))
#define W_REASON(w) ((unsigned)(w) & ((1u << W_REASON_BITS) - 1))

static uint32_t
time32(int64_t t)
{
	if (t <= 0)
		return 0;
	return t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static int
table_alloc(struct store_index *idx, unsigned bits)
{
	struct slot *slots = g_try_new0(struct slot, (gsize)1 << bits);

	if (slots == NULL)
		return -1;
	idx->slots = slots;
	idx->bits = bits;
	idx->mask = ((size_t)1 << bits) - 1;
	idx->count = 0;
	return 0;
}

struct store_index *
store_index_new(const unsigned char *secret, size_t secret_len)
{
	struct store_index *idx = g_try_new0(struct store_index, 1);

	if (idx == NULL)
		return NULL;
	store_sipkey_derive(secret, secret_len, idx->k);
	if (table_alloc(idx, INDEX_MIN_BITS) == -1) {
		g_free(idx);
		return NULL;
	}
	return idx;
}

void
store_index_free(struct store_index *idx)
{
	if (idx == NULL)
		return;
	g_free(idx->slots);
	g_free(idx);
}

uint64_t
store_index_key(const struct store_index *idx, const char *norm, size_t len)
{
	return store_siphash24(idx->k, norm, len);
}

/* Rehashes into a table of 2^bits slots.  On failure idx is unchanged. */
static int
grow(struct store_index *idx, unsigned bits)
{
	struct store_index old = *idx;

	if (bits > INDEX_MAX_BITS || table_alloc(idx, bits) == -1) {
		*idx = old;
		return -1;
	}
	for (size_t pos = 0; pos <= old.mask; pos++) {
		uint64_t w = old.slots[pos].w;
		uint64_t home, key;

		if (w == 0)
			continue;
		home = (pos - w_dist(w)) & old.mask;
		key = W_HI(w) << old.bits | home;
		if (insert(idx, key, W_CAUSE(w), W_REASON(w), old.slots[pos].since,
		    old.slots[pos].until) == -1) {
			g_free(idx->slots);
			*idx = old;
			return -1;
		}
	}
	g_free(old.slots);
	return 0;
}

int
store_index_reserve(struct store_index *idx, size_t n)
{
	unsigned bits = idx->bits;

	while (bits < INDEX_MAX_BITS &&
	    n > (((size_t)1 << bits) / INDEX_LOAD_DEN) * INDEX_LOAD_NUM)
		bits++;
	return bits == idx->bits ? 0 : grow(idx, bits);
}

/* Robin Hood insertion (or update in place). */
static int
insert(struct store_index *idx, uint64_t key, unsigned cause, unsigned reason,
    uint32_t since, uint32_t until)
{
	struct slot cur;
	size_t pos;
	unsigned dist = 0;
	int carrying_new = 1;  /* cur is the new entry, not one evicted by it */
	uint64_t hi = key >> idx->bits;

	if (idx->count + 1 > ((idx->mask + 1) / INDEX_LOAD_DEN) * INDEX_LOAD_NUM &&
	    grow(idx, idx->bits + 1) == -1)
		return -1;
	hi = key >> idx->bits;
	pos = key & idx->mask;
	cur.w = w_make(hi, 0, cause, reason);
	cur.since = since;
	cur.until = until;
	for (;;) {
		struct slot *s = &idx->slots[pos];

		if (s->w == 0) {
			cur.w = (cur.w & ~((uint64_t)((1u << W_DIST_BITS) - 1) <<
			    (W_REASON_BITS + W_CAUSE_BITS))) |
			    (uint64_t)dist << (W_REASON_BITS + W_CAUSE_BITS);
			*s = cur;
			idx->count++;
			return 0;
		}
		if (carrying_new && w_dist(s->w) == dist && W_HI(s->w) == hi) {
			s->w = w_make(hi, dist, cause, reason);
			s->since = since;
			s->until = until;
			return 0;
		}
		if (w_dist(s->w) < dist) {
			struct slot tmp = *s;
			unsigned tdist = w_dist(tmp.w);

			cur.w = (cur.w & ~((uint64_t)((1u << W_DIST_BITS) - 1) <<
			    (W_REASON_BITS + W_CAUSE_BITS))) |
			    (uint64_t)dist << (W_REASON_BITS + W_CAUSE_BITS);
			*s = cur;
			cur = tmp;
			dist = tdist;
			carrying_new = 0;
		}
		pos = (pos + 1) & idx->mask;
		if (++dist > INDEX_DIST_MAX) {
			/* Pathological run: grow, then place the entry being carried. */
			unsigned ccause = W_CAUSE(cur.w), creason = W_REASON(cur.w);
			uint64_t ckey;

			ckey = W_HI(cur.w) << idx->bits | ((pos - dist) & idx->mask);
			if (grow(idx, idx->bits + 1) == -1)
				return -1;   /* the carried entry is lost: the caller reloads */
			return insert(idx, ckey, ccause, creason, cur.since, cur.until);
		}
	}
}

/* The slot holding key, or (size_t)-1. */
static size_t
find(const struct store_index *idx, uint64_t key)
{
	uint64_t hi = key >> idx->bits;
	size_t pos = key & idx->mask;

	for (unsigned dist = 0; dist <= INDEX_DIST_MAX; dist++) {
		uint64_t w = idx->slots[pos].w;

		if (w == 0 || w_dist(w) < dist)
			return (size_t)-1;
		if (w_dist(w) == dist && W_HI(w) == hi)
			return pos;
		pos = (pos + 1) & idx->mask;
	}
	return (size_t)-1;
}

/* Backward-shift deletion: pull the following run one slot closer to home. */
static void
erase(struct store_index *idx, uint64_t key)
{
	size_t pos = find(idx, key);

	if (pos == (size_t)-1)
		return;
	for (;;) {
		size_t next = (pos + 1) & idx->mask;
		uint64_t w = idx->slots[next].w;

		if (w == 0 || w_dist(w) == 0) {
			memset(&idx->slots[pos], 0, sizeof(idx->slots[pos]));
			break;
		}
		idx->slots[pos] = idx->slots[next];
		idx->slots[pos].w = w - ((uint64_t)1 << (W_REASON_BITS + W_CAUSE_BITS));
		pos = next;
	}
	idx->count--;
}

int
store_index_put(struct store_index *idx, uint64_t key, const struct store_verdict *v)
{
	if (v->cause == STORE_CAUSE_NONE || (unsigned)v->cause >= STORE_CAUSE_COUNT) {
		erase(idx, key);
		return 0;
	}
	return insert(idx, key, (unsigned)v->cause,
	    (unsigned)v->reason < REPORT_REASON_COUNT ? (unsigned)v->reason : 0,
	    time32(v->since), time32(v->until));
}

int
store_index_apply(struct store_index *idx, const GArray *changes)
{
	if (changes == NULL)
		return 0;
	for (guint i = 0; i < changes->len; i++) {
		const struct store_change *c = &g_array_index(changes, struct store_change, i);

		if (store_index_put(idx, c->key, &c->v) == -1)
			return -1;
	}
	return 0;
}

size_t
store_index_count(const struct store_index *idx)
{
	return idx->count;
}

size_t
store_index_bytes(const struct store_index *idx)
{
	return sizeof(*idx) + (idx->mask + 1) * sizeof(struct slot);
}

static int
lookup(const struct store_index *idx, uint64_t key, time_t now, struct store_verdict *r)
{
	size_t pos = find(idx, key);
	const struct slot *s;

	if (pos == (size_t)-1)
		return 0;
	s = &idx->slots[pos];
	if (s->until != 0 && (int64_t)s->until <= (int64_t)now)
		return 0;   /* expired: stops answering without anyone touching it */
	r->cause = (enum store_cause)W_CAUSE(s->w);
	r->reason = (enum report_reason)W_REASON(s->w);
	r->since = s->since;
	r->until = s->until;
	r->domain = 0;
	return 1;
}

int
store_index_lookup(const struct store_index *idx, uint64_t key, time_t now,
    struct store_verdict *r)
{
	memset(r, 0, sizeof(*r));
	return lookup(idx, key, now, r);
}

int
store_check(const struct store_index *idx, const char *norm, size_t len, time_t now,
    struct store_verdict *r)
{
	const char *at = len > 0 ? memchr(norm, '@', len) : NULL;
	const char *last;

	/* The domain is after the last '@' (a quoted local part may hold one). */
	while (at != NULL && (last = memchr(at + 1, '@', len - (size_t)(at + 1 - norm))) != NULL)
		at = last;
	memset(r, 0, sizeof(*r));
	r->cause = STORE_CAUSE_NONE;
	if (at == NULL || at + 1 == norm + len)
		return -1;
	if (at != norm && lookup(idx, store_siphash24(idx->k, norm, len), now, r))
		return 1;
	if (lookup(idx, store_siphash24(idx->k, at, len - (size_t)(at - norm)), now, r)) {
		r->domain = 1;
		return 1;
	}
	memset(r, 0, sizeof(*r));
	r->cause = STORE_CAUSE_NONE;
	return 0;
}
