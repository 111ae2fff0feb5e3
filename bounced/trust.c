/* SPDX-License-Identifier: MIT */
/*
 * trust.c - the signed return path and the trust decision (see trust.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "trust.h"

#define TRUST_MAC_HEX   10              /* hex digits of the HMAC kept in a tag */
/* addresses tried per tag: the whole, then cut at the last delimiters (XVERP);
 * bounded so that a local part full of '+' costs a few HMACs, not hundreds */
#define TRUST_CANDIDATES_MAX 4
#define TRUST_LINE_MAX  256
#define TRUST_FILE_MAX  (TRUST_KEYS_MAX * TRUST_LINE_MAX)
/* a retired key stays this long after its overlap: its tags say "retired-key" */
#define TRUST_RETIRED_KEEP (30 * 86400)

#define TRUST_TAG_NAME(id, name) name,
static const char *const tag_names[] = { TRUST_TAGS(TRUST_TAG_NAME) };
#undef TRUST_TAG_NAME

static const char *const mode_names[] = { "signed", "signed-or-sent", "any" };

static void trust_mac(const struct trust_key *k, unsigned day, const char *addr, size_t len,
    char out[TRUST_MAC_HEX + 1]);
static const struct trust_key *trust_key_by_id(const struct trust_keyring *kr, unsigned id);
static int trust_keys_write(const char *path, const struct trust_keyring *kr, char err[256]);

const char *
trust_tag_name(enum trust_tag t)
{
	return (unsigned)t < TRUST_TAG_COUNT ? tag_names[t] : "?";
}

int
trust_mode_from_name(const char *name, enum trust_mode *m_r)
{
	for (size_t i = 0; i < G_N_ELEMENTS(mode_names); i++)
		if (strcmp(name, mode_names[i]) == 0) {
			*m_r = (enum trust_mode)i;
			return 1;
		}
	return 0;
}

const char *
trust_mode_name(enum trust_mode m)
{
	return (size_t)m < G_N_ELEMENTS(mode_names) ? mode_names[m] : "?";
}

/* The first TRUST_MAC_HEX hex digits of HMAC-SHA256(key, "K DDD addr"). */
static void
trust_mac(const struct trust_key *k, unsigned day, const char *addr, size_t len,
    char out[TRUST_MAC_HEX + 1])
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, k->key, sizeof(k->key));
	char head[16];
	int n = snprintf(head, sizeof(head), "%u %03u ", k->id, day);

	g_hmac_update(h, (const guchar *)head, n);
	g_hmac_update(h, (const guchar *)addr, (gssize)len);
	g_strlcpy(out, g_hmac_get_string(h), TRUST_MAC_HEX + 1);
	g_hmac_unref(h);
}

static const struct trust_key *
trust_key_by_id(const struct trust_keyring *kr, unsigned id)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return &kr->keys[i];
	return NULL;
}

int
trust_sign(const struct trust_keyring *kr, const char *const *domains, size_t ndomains,
    const char *addr, time_t now, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');
	const struct trust_key *cur = NULL;
	char mac[TRUST_MAC_HEX + 1];
	unsigned day = (unsigned)((now / 86400) % TRUST_DAYS_MOD);
	size_t i;
	int n;

	if (at == NULL || at == addr || g_ascii_strncasecmp(addr, TRUST_TAG_PREFIX, 5) == 0)
		return 0;       /* not an address, or signed already: never twice */
	for (i = 0; i < ndomains; i++)
		if (g_ascii_strcasecmp(at + 1, domains[i]) == 0)
			break;
	if (i == ndomains)
		return 0;
	for (i = 0; i < kr->n; i++)
		if (kr->keys[i].not_after == 0 && kr->keys[i].not_before <= (int64_t)now)
			cur = &kr->keys[i];
	if (cur == NULL)
		return -1;
	{
		/* the verifier lowercases what comes back: sign the lowercase form */
		gchar *lower = g_ascii_strdown(addr, -1);

		trust_mac(cur, day, lower, strlen(lower), mac);
		g_free(lower);
	}
	n = snprintf(out, outsz, TRUST_TAG_PREFIX "%u%03u%s=%s", cur->id, day, mac, addr);
	return n > 0 && (size_t)n < outsz ? 1 : -1;
}

enum trust_tag
trust_verify(const struct trust_keyring *kr, const char *rcpt, char delim, int64_t validity,
    time_t now)
{
	char lower[STORE_ADDR_MAX + 1], mac[TRUST_MAC_HEX + 1], cand[STORE_ADDR_MAX + 1];
	const struct trust_key *k;
	const char *p, *orig, *at;
	size_t len = strlen(rcpt);
	unsigned id, day, today, age, tries = 0;
	int ok = 0;

	if (len <= TRUST_TAG_LEN || len > STORE_ADDR_MAX)
		return TRUST_TAG_ABSENT;
	for (size_t i = 0; i <= len; i++)
		lower[i] = g_ascii_tolower(rcpt[i]);
	if (strncmp(lower, TRUST_TAG_PREFIX, 5) != 0)
		return TRUST_TAG_ABSENT;
	p = lower + 5;
	for (size_t i = 0; i < 4; i++)
		if (!g_ascii_isdigit(p[i]))
			return TRUST_TAG_BAD;
	for (size_t i = 4; i < 4 + TRUST_MAC_HEX; i++)
		if (!g_ascii_isxdigit(p[i]))
			return TRUST_TAG_BAD;
	if (p[4 + TRUST_MAC_HEX] != '=')
		return TRUST_TAG_BAD;
	id = (unsigned)(p[0] - '0');
	day = (unsigned)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
	orig = p + 5 + TRUST_MAC_HEX;
	at = strrchr(orig, '@');
	if (at == NULL || at == orig || (k = trust_key_by_id(kr, id)) == NULL)
		return TRUST_TAG_BAD;
	/*
	 * The signed address, then (XVERP) it without what Postfix appended
	 * after the signing: "local+rcpt=domain" -> "local", at each delimiter.
	 */
	for (const char *cut = at; cut != NULL && cut > orig && tries++ < TRUST_CANDIDATES_MAX; ) {
		size_t ll = (size_t)(cut - orig), dl = strlen(at);

		memcpy(cand, orig, ll);
		memcpy(cand + ll, at, dl + 1);
		trust_mac(k, day, cand, ll + dl, mac);
		/* every candidate is computed: no early exit on the first match */
		ok |= memcmp(mac, p + 4, TRUST_MAC_HEX) == 0;
		cut = NULL;
		for (const char *q = orig + ll - 1; q > orig; q--)
			if (*q == delim) {
				cut = q;
				break;
			}
	}
	if (!ok)
		return TRUST_TAG_BAD;
	if (k->not_after != 0 && (int64_t)now > k->not_after)
		return TRUST_TAG_RETIRED;
	today = (unsigned)((now / 86400) % TRUST_DAYS_MOD);
	age = (today + TRUST_DAYS_MOD - day) % TRUST_DAYS_MOD;
	/* a day number in the future wraps to a large age: expired */
	if ((int64_t)age * 86400 > validity)
		return TRUST_TAG_EXPIRED;
	return TRUST_TAG_VALID;
}

const char *
trust_cause_name(enum trust_tag t)
{
	static const char *const causes[] = { "tag-absent", "tag-valid", "tag-expired",
	    "tag-bad-signature", "tag-retired-key" };

	G_STATIC_ASSERT(G_N_ELEMENTS(causes) == TRUST_TAG_COUNT);
	return (unsigned)t < TRUST_TAG_COUNT ? causes[t] : "?";
}

const char *
trust_decide(enum trust_mode m, const struct trust_evidence *e)
{
	if (m == TRUST_MODE_ANY || e->tag == TRUST_TAG_VALID)
		return NULL;
	/* matched to sent mail: only a real DSN (null sender, machine-readable) */
	if (m == TRUST_MODE_SIGNED_OR_SENT && e->sent == STORE_SENT_YES && e->null_sender &&
	    e->well_formed)
		return NULL;
	return trust_cause_name(e->tag);
}

void
trust_evidence_format(const struct trust_evidence *e, const char *decoder, char *out,
    size_t outsz)
{
	static const char *const sent[] = { "unknown", "yes", "no" };

	snprintf(out, outsz, "tag=%s sender=%s report=%s sent=%s", trust_tag_name(e->tag),
	    e->null_sender ? "null" : "non-null", e->well_formed ? decoder : "none",
	    (unsigned)e->sent < G_N_ELEMENTS(sent) ? sent[e->sent] : "?");
}

/* ---- the key file -------------------------------------------------- */

int
trust_keys_load(const char *path, int create, time_t now, struct trust_keyring *kr,
    char err[256])
{
	gchar *buf = NULL, **lines;
	gsize blen;
	GError *gerr = NULL;
	unsigned lineno = 0;
	int rc = 0;

	memset(kr, 0, sizeof(*kr));
	if (!g_file_get_contents(path, &buf, &blen, &gerr)) {
		int missing = g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT);

		snprintf(err, 256, "%s: %s", path, gerr->message);
		g_error_free(gerr);
		if (!missing || !create)
			return -1;
		kr->n = 1;
		kr->keys[0].not_before = (int64_t)now;
		if (getentropy(kr->keys[0].key, sizeof(kr->keys[0].key)) < 0) {
			snprintf(err, 256, "%s: getentropy: %s", path, g_strerror(errno));
			return -1;
		}
		return trust_keys_write(path, kr, err);
	}
	if (blen > TRUST_FILE_MAX || memchr(buf, '\0', blen) != NULL) {
		snprintf(err, 256, "%s: not a key file (too long or binary)", path);
		g_free(buf);
		return -1;
	}
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	for (gchar **l = lines; *l != NULL && rc == 0; l++) {
		struct trust_key *k = &kr->keys[kr->n];
		char hex[TRUST_KEY_BYTES * 2 + 2];
		long long nb, na;
		unsigned id;
		int used = 0;

		lineno++;
		g_strstrip(*l);
		if (**l == '\0' || **l == '#')
			continue;
		if (kr->n == TRUST_KEYS_MAX ||
		    sscanf(*l, "%u %65s %lld %lld %n", &id, hex, &nb, &na, &used) != 4 ||
		    (*l)[used] != '\0' || id >= TRUST_KEYS_MAX || strlen(hex) != TRUST_KEY_BYTES * 2 ||
		    nb < 0 || na < 0 || trust_key_by_id(kr, id) != NULL) {
			snprintf(err, 256, "%s:%u: expected \"ID HEX64 NOT_BEFORE NOT_AFTER\" "
			    "(ID 0-9, unique, at most %d keys)", path, lineno, TRUST_KEYS_MAX);
			rc = -1;
			break;
		}
		for (size_t i = 0; i < TRUST_KEY_BYTES; i++) {
			int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				snprintf(err, 256, "%s:%u: the key is not hexadecimal", path, lineno);
				rc = -1;
				break;
			}
			k->key[i] = (unsigned char)(hi << 4 | lo);
		}
		k->id = id;
		k->not_before = nb;
		k->not_after = na;
		kr->n++;
	}
	g_strfreev(lines);
	if (rc == 0 && kr->n == 0) {
		snprintf(err, 256, "%s: no key (remove the file to have one created)", path);
		rc = -1;
	}
	if (rc < 0)
		explicit_bzero(kr, sizeof(*kr));
	return rc;
}

/* Writes the key ring to path through a 0600 temporary file and a rename. */
static int
trust_keys_write(const char *path, const struct trust_keyring *kr, char err[256])
{
	GString *s = g_string_new("# bounced signing keys: ID HEX-KEY NOT_BEFORE NOT_AFTER "
	    "(unix times; NOT_AFTER 0 = current). See doc/security.md.\n");
	gchar *tmp = g_strdup_printf("%s.new", path);
	int fd, rc = 0;

	for (size_t i = 0; i < kr->n; i++) {
		g_string_append_printf(s, "%u ", kr->keys[i].id);
		for (size_t j = 0; j < TRUST_KEY_BYTES; j++)
			g_string_append_printf(s, "%02x", kr->keys[i].key[j]);
		g_string_append_printf(s, " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
		    kr->keys[i].not_before, kr->keys[i].not_after);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, s->str, s->len) != (ssize_t)s->len || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, 256, "%s: cannot write the key file: %s", path, g_strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		rc = -1;
	}
	explicit_bzero(s->str, s->len);
	g_string_free(s, TRUE);
	g_free(tmp);
	return rc;
}

int
trust_keys_rotate(const char *path, time_t now, int64_t overlap, char err[256])
{
	struct trust_keyring kr, out;
	unsigned used = 0, id;
	int rc;

	if (trust_keys_load(path, 1, now, &kr, err) < 0)
		return -1;
	memset(&out, 0, sizeof(out));
	for (size_t i = 0; i < kr.n; i++) {
		struct trust_key k = kr.keys[i];

		if (k.not_after == 0)
			k.not_after = overlap > 0 ? (int64_t)now + overlap : (int64_t)now - 1;
		else if (k.not_after < (int64_t)now - TRUST_RETIRED_KEEP)
			continue;       /* long past its overlap: dropped (its id is free again) */
		out.keys[out.n++] = k;
		used |= 1u << k.id;
	}
	for (id = 0; id < TRUST_KEYS_MAX && (used & (1u << id)); id++)
		;
	if (id == TRUST_KEYS_MAX || out.n == TRUST_KEYS_MAX) {
		snprintf(err, 256, "%s: %d keys still in their overlap: cannot add one", path,
		    TRUST_KEYS_MAX);
		explicit_bzero(&kr, sizeof(kr));
		explicit_bzero(&out, sizeof(out));
		return -1;
	}
	out.keys[out.n].id = id;
	out.keys[out.n].not_before = (int64_t)now;
	if (getentropy(out.keys[out.n].key, TRUST_KEY_BYTES) < 0) {
		snprintf(err, 256, "getentropy: %s", g_strerror(errno));
		return -1;
	}
	out.n++;
	rc = trust_keys_write(path, &out, err);
	explicit_bzero(&kr, sizeof(kr));
	explicit_bzero(&out, sizeof(out));
	return rc;
}
