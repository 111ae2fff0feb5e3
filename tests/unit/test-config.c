/* SPDX-License-Identifier: MIT */
/*
 * test-config.c - the config loader: defaults, the example file, and every
 * kind of error naming the file, the line and the key.
 *
 * The example file's path comes from the environment (BOUNCED_EXAMPLE_CONFIG,
 * set by meson), so the test checks the file that ships.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "config.h"
#include "trust.h"

static struct config *
load(const char *yaml, char err[512])
{
	static const struct cfg_defaults d = { .state_dir = "/st", .run_dir = "/rn" };

	return cfg_load_buffer(yaml, strlen(yaml), "t.yaml", "/etc/b", &d, err);
}

static void
test_errors(void)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{ "lmtp:\n  sokcet: /x\n", "t.yaml:2: lmtp.sokcet: unknown key" },
		{ "lmpt:\n  socket: /x\n", "t.yaml:1: lmpt: unknown key" },
		{ "lmtp:\n  max_connections: 0\n",
		  "t.yaml:2: lmtp.max_connections: 0 is below the minimum 1" },
		{ "lmtp:\n  max_connections: 65\n",
		  "t.yaml:2: lmtp.max_connections: 65 is above the maximum 64" },
		{ "lmtp:\n  max_connections: -3\n",
		  "t.yaml:2: lmtp.max_connections: \"-3\" is not a number" },
		{ "lmtp:\n  max_connections: 99999999999999999999\n",
		  "t.yaml:2: lmtp.max_connections: \"99999999999999999999\" is not a number" },
		{ "lmtp:\n  mode: \"0999\"\n",
		  "t.yaml:2: lmtp.mode: \"0999\" is not an octal mode (e.g. \"0660\")" },
		{ "lmtp:\n  mode: \"4755\"\n",
		  "t.yaml:2: lmtp.mode: 4755: setuid, setgid and sticky bits make no sense here" },
		{ "lmtp:\n  max_message_size: 10X\n",
		  "t.yaml:2: lmtp.max_message_size: \"10X\" is not a size (e.g. 4096, 64k, 4M)" },
		{ "lmtp:\n  max_message_size: 1G\n",
		  "t.yaml:2: lmtp.max_message_size: 1G is above the maximum 67108864 bytes" },
		{ "lmtp:\n  max_message_size: 1M\n  keep_bytes: 2M\n",
		  "t.yaml:3: lmtp.keep_bytes: is larger than lmtp.max_message_size" },
		{ "lmtp:\n  hostname: two words\n",
		  "t.yaml:2: lmtp.hostname: \"two words\" must be one word" },
		{ "query:\n  idle_timeout: 5x\n",
		  "t.yaml:2: query.idle_timeout: \"5x\" is not a duration (e.g. 90s, 15m, 48h, 7d)" },
		{ "query:\n  idle_timeout: 0\n", "t.yaml:2: query.idle_timeout: 0 is below the minimum 1" },
		{ "query:\n  socket: \"\"\n", "t.yaml:2: query.socket: must not be empty" },
		{ "log:\n  level: verbose\n",
		  "t.yaml:2: log.level: \"verbose\" is not error, warn, info or debug" },
		{ "log:\n  to: file\n", "t.yaml:2: log.to: \"file\" is not stderr or syslog" },
		{ "log: stderr\n", "t.yaml:1: log: must be a section (a mapping of keys)" },
		{ "user: [a, b]\n", "t.yaml:1: user: must be a single value, not a list" },
		{ "log:\n  level: info\n  level: debug\n", "t.yaml:3: log.level: duplicate key" },
		{ "admin:\n  allow_uids: 0\n", "t.yaml:2: admin.allow_uids: must be a list, e.g. [0, 110]" },
		{ "admin:\n  allow_uids:\n    - 0\n    - no-such-user-here\n",
		  "t.yaml:4: admin.allow_uids: no such user \"no-such-user-here\"" },
		{ "verp:\n  delimiters: \"+\"\n",
		  "t.yaml:2: verp.delimiters: \"+\" is not two distinct delimiter characters "
		  "(Postfix's default is \"+=\")" },
		{ "trust:\n  mode: strict\n",
		  "t.yaml:2: trust.mode: \"strict\" is not signed, signed-or-sent or any" },
		{ "trust:\n  domains: bounce.example.com\n",
		  "t.yaml:2: trust.domains: must be a list, e.g. [bounce.example.com]" },
		{ "trust:\n  domains: [\"a b\"]\n",
		  "t.yaml:2: trust.domains: \"a b\" is not a domain name" },
		{ "trust:\n  validity: 2000d\n",
		  "t.yaml:2: trust.validity: 2000d is above the maximum 31536000" },
		{ "trust:\n  sign_name: suppressed\n",
		  "t.yaml:2: trust.sign_name: must differ from the socketmap's other maps" },
		{ "verp:\n  enabled: maybe\n",
		  "t.yaml:2: verp.enabled: \"maybe\" is not a boolean (true or false)" },
		{ "socketmap:\n  recipient_delimiter: \"a\"\n",
		  "t.yaml:2: socketmap.recipient_delimiter: 'a' cannot be a delimiter" },
		{ "socketmap:\n  name: x\n  transport_name: x\n",
		  "t.yaml:3: socketmap.transport_name: must differ from socketmap.name" },
		{ "query:\n  socket: /s\nadmin:\n  socket: /s\n",
		  "t.yaml:4: admin.socket: /s is also query.socket" },
		{ "group: mail\n", "t.yaml:1: group: is only used with user" },
		{ "policy:\n  expiry:\n    usrunknown: never\n",
		  "t.yaml:3: policy.expiry.usrunknown: unknown reason \"usrunknown\" (expected soft, "
		  "complaint or a reason such as userunknown, hostunknown)" },
		{ "policy:\n  expiry:\n    hostunknown: 30 days\n",
		  "t.yaml:3: policy.expiry.hostunknown: \"30 days\" is not a duration (e.g. 30d, 48h) or never" },
		{ "policy:\n  soft:\n    threshold: 0\n",
		  "t.yaml:3: policy.soft.threshold: 0 is below the minimum 1" },
		{ "policy:\n  soft:\n    min_span: 2y\n",
		  "t.yaml:3: policy.soft.min_span: \"2y\" is not a duration (e.g. 90s, 15m, 48h, 7d)" },
		{ "policy:\n  raw_retention: 5m\n",
		  "t.yaml:2: policy.raw_retention: 5m is out of range (at least 3600s, or never)" },
		{ "policy:\n  provider_groups:\n    orange: [orange.fr]\n    other: [a.fr, ORANGE.fr]\n",
		  "t.yaml:4: policy.provider_groups.other: orange.fr is already in group orange" },
		{ "policy:\n  provider_groups:\n    orange: [\"a b\"]\n",
		  "t.yaml:3: policy.provider_groups.orange: \"a b\" is not a domain name" },
		{ "policy:\n  provider_groups:\n    orange: []\n",
		  "t.yaml:3: policy.provider_groups.orange: a provider group needs at least one domain" },
		{ "policy:\n  provider_groups:\n    orange:\n      x: y\n",
		  "t.yaml:4: policy.provider_groups.orange: must be a list, e.g. [orange.fr, wanadoo.fr]" },
		{ "policy:\n  soft:\n    threshold: 3\n  soft:\n    stale: 7d\n",
		  "t.yaml:4: policy.soft: duplicate key" },
		/* issue 17 */
		{ "alerts:\n  webhook:\n    url: ftp://x/\n    secret_file: /s\n",
		  "t.yaml:3: alerts.webhook.url: ftp://x/ is not an http:// or https:// URL" },
		{ "alerts:\n  webhook:\n    url: https://x/\n",
		  "t.yaml:3: alerts.webhook.url: needs alerts.webhook.secret_file (the key of the "
		  "signature)" },
		{ "alerts:\n  webhook:\n    retry_min: 60\n    retry_max: 10\n",
		  "t.yaml:3: alerts.webhook.retry_min: 60 is above retry_max 10" },
		{ "alerts:\n  mail:\n    to: -oQ/tmp/x\n",
		  "t.yaml:3: alerts.mail.to: -oQ/tmp/x is not an address" },
		{ "alerts:\n  mail:\n    to: root@x\n    from: -bi\n",
		  "t.yaml:4: alerts.mail.from: -bi is not an address" },
		{ "alerts:\n  mail:\n    max_per_hour: 0\n",
		  "t.yaml:3: alerts.mail.max_per_hour: 0 is below the minimum 1" },
		{ "policy:\n  incident_min_messages: 0\n",
		  "t.yaml:2: policy.incident_min_messages: 0 is below the minimum 1" },
		{ "lmtp: [\n", "t.yaml:2: YAML error: did not find expected node content while parsing a flow node" },
		{ "- a\n- b\n", "t.yaml:1: the document must be a mapping of keys" },
		{ "user: a\n---\nuser: b\n", "t.yaml: only one YAML document is allowed" },
		{ "? [a]\n: b\n", "t.yaml:1: keys must be plain names" },
		{ "lmtp.socket: /x\n", "t.yaml:1: invalid key name" },
		{ "logsource:\n  type: syslog\n",
		  "t.yaml:2: logsource.type: \"syslog\" is not none, file or journal" },
		{ "logsource:\n  type: file\n",
		  "t.yaml:2: logsource.type: file needs logsource.path (the log to follow)" },
		{ "logsource:\n  sent_ttl: 5m\n",
		  "t.yaml:2: logsource.sent_ttl: 5m is below the minimum 3600" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char err[512];
		struct config *c = load(cases[i].yaml, err);

		if (c != NULL)
			g_error("case %zu: loaded, want error \"%s\"", i, cases[i].want);
		if (strcmp(err, cases[i].want) != 0)
			g_error("case %zu:\n got  \"%s\"\n want \"%s\"", i, err, cases[i].want);
	}
}

static void
test_defaults(void)
{
	char err[512];
	struct config *c = load("", err);
	struct store_policy pol;

	g_assert_nonnull(c);
	g_assert_cmpstr(c->lmtp.sock.path, ==, "/rn/lmtp.sock");
	g_assert_cmpstr(c->store.path, ==, "/st/bounced.db");
	g_assert_cmpstr(c->store.secret_file, ==, "/st/secret");
	g_assert_cmpuint(c->lmtp.sock.mode, ==, 0660);
	g_assert_cmpstr(c->lmtp.sock.group, ==, "postfix");
	g_assert_false(c->lmtp.sock.group_explicit);
	g_assert_cmpuint(c->query.sock.mode, ==, 0666);
	g_assert_null(c->query.sock.group);
	g_assert_cmpuint(c->lmtp.max_message_size, ==, 64u << 20);
	g_assert_cmpuint(c->lmtp.keep_bytes, ==, 4u << 20);
	g_assert_cmpuint(c->lmtp.sock.idle_timeout, ==, 300);
	g_assert_cmpuint(c->admin.nallow_uids, ==, 1);
	g_assert_cmpuint(c->admin.allow_uids[0], ==, 0);
	g_assert_cmpstr(c->socketmap.name, ==, "suppressed");
	g_assert_cmpstr(c->socketmap.recipient_delimiter, ==, "+");
	g_assert_cmpstr(c->verp.delimiters, ==, "+=");
	g_assert_true(c->verp.enabled);
	/* trust: the safest mode; the keys beside the secret; nothing signed yet */
	g_assert_cmpint(c->trust.mode, ==, TRUST_MODE_SIGNED);
	g_assert_cmpstr(c->trust.keys_file, ==, "/st/signing-keys");
	g_assert_cmpstr(c->trust.sign_name, ==, "sign");
	g_assert_cmpuint(c->trust.ndomains, ==, 0);
	g_assert_cmpint(c->trust.validity, ==, 7 * 86400);
	g_assert_null(c->user);
	g_assert_false(c->log_to_syslog);
	g_assert_cmpint(c->log_level, ==, LOG_LEVEL_INFO);
	/* the policy defaults are the store's */
	store_policy_default(&pol);
	g_assert_cmpuint(c->policy.soft_threshold, ==, pol.soft_threshold);
	g_assert_cmpint(c->policy.soft_min_span, ==, pol.soft_min_span);
	g_assert_cmpint(c->policy.ttl_soft, ==, pol.ttl_soft);
	g_assert_cmpint(c->policy.ttl_reason[REPORT_REASON_HOSTUNKNOWN], ==,
	    pol.ttl_reason[REPORT_REASON_HOSTUNKNOWN]);
	/* the built-in provider groups: Orange, La Poste and SFR are one */
	g_assert_cmpuint(c->policy.ngroups, ==, 4);
	g_assert_cmpstr(c->policy.groups[0].name, ==, "orange");
	{
		int laposte = 0, sfr = 0;

		for (size_t i = 0; i < c->policy.groups[0].ndomains; i++) {
			laposte |= strcmp(c->policy.groups[0].domains[i], "laposte.net") == 0;
			sfr |= strcmp(c->policy.groups[0].domains[i], "sfr.fr") == 0;
		}
		g_assert_true(laposte && sfr);
	}
	cfg_free(c);
	/* a file naming its own groups replaces them all; {} means none */
	c = load("policy:\n  provider_groups: {}\n", err);
	g_assert_nonnull(c);
	g_assert_cmpuint(c->policy.ngroups, ==, 0);
	cfg_free(c);
}

static void
test_values(void)
{
	static const char yaml[] =
	    "user: bounced\n"
	    "group: mail\n"
	    "log: {to: syslog, level: debug}\n"
	    "lmtp:\n"
	    "  socket: sock/lmtp.sock\n"
	    "  mode: \"0600\"\n"
	    "  group:\n"
	    "  max_message_size: 1M\n"
	    "  keep_bytes: 512k\n"
	    "  idle_timeout: 5m\n"
	    "  hostname: mx.example.com\n"
	    "admin:\n"
	    "  allow_uids: [0, 110, root]\n"
	    "store:\n"
	    "  path: /var/lib/x/db.sqlite\n"
	    "socketmap:\n"
	    "  recipient_delimiter: \"\"\n"
	    "verp: {enabled: no, delimiters: \"-=\"}\n"
	    "policy:\n"
	    "  soft: {threshold: 5, min_span: 1d, stale: 2w}\n"
	    "  delivered_resets: off\n"
	    "  expiry: {userunknown: 365d, hostunknown: never, soft: 12h, complaint: 90d}\n"
	    "  raw_retention: never\n"
	    "  provider_groups:\n"
	    "    orange: [Orange.FR, wanadoo.fr]\n"
	    "    microsoft: [outlook.com, hotmail.com, live.com]\n";
	char err[512];
	struct config *c = load(yaml, err);

	if (c == NULL)
		g_error("%s", err);
	g_assert_cmpstr(c->user, ==, "bounced");
	g_assert_cmpstr(c->group, ==, "mail");
	g_assert_true(c->log_to_syslog);
	g_assert_cmpint(c->log_level, ==, LOG_LEVEL_DEBUG);
	g_assert_cmpstr(c->lmtp.sock.path, ==, "/etc/b/sock/lmtp.sock");
	g_assert_cmpuint(c->lmtp.sock.mode, ==, 0600);
	g_assert_null(c->lmtp.sock.group);
	g_assert_true(c->lmtp.sock.group_explicit);
	g_assert_cmpuint(c->lmtp.max_message_size, ==, 1u << 20);
	g_assert_cmpuint(c->lmtp.keep_bytes, ==, 512u << 10);
	g_assert_cmpuint(c->lmtp.sock.idle_timeout, ==, 300);
	g_assert_cmpstr(c->lmtp.hostname, ==, "mx.example.com");
	g_assert_cmpuint(c->admin.nallow_uids, ==, 3);
	g_assert_cmpuint(c->admin.allow_uids[1], ==, 110);
	g_assert_cmpuint(c->admin.allow_uids[2], ==, 0);
	g_assert_cmpstr(c->store.path, ==, "/var/lib/x/db.sqlite");
	g_assert_cmpstr(c->socketmap.recipient_delimiter, ==, "");
	g_assert_false(c->verp.enabled);
	g_assert_cmpstr(c->verp.delimiters, ==, "-=");
	g_assert_cmpuint(c->policy.soft_threshold, ==, 5);
	g_assert_cmpint(c->policy.soft_min_span, ==, 86400);
	g_assert_cmpint(c->policy.soft_stale, ==, 14 * 86400);
	g_assert_false(c->policy.delivered_resets);
	g_assert_cmpint(c->policy.ttl_reason[REPORT_REASON_USERUNKNOWN], ==, 365 * 86400);
	g_assert_cmpint(c->policy.ttl_reason[REPORT_REASON_HOSTUNKNOWN], ==, STORE_TTL_NEVER);
	g_assert_cmpint(c->policy.ttl_soft, ==, 12 * 3600);
	g_assert_cmpint(c->policy.ttl_complaint, ==, 90 * 86400);
	g_assert_cmpint(c->policy.raw_retention, ==, 0);
	g_assert_cmpuint(c->policy.ngroups, ==, 2);
	g_assert_cmpstr(c->policy.groups[0].name, ==, "orange");
	g_assert_cmpuint(c->policy.groups[0].ndomains, ==, 2);
	g_assert_cmpstr(c->policy.groups[0].domains[0], ==, "orange.fr");
	g_assert_cmpstr(c->policy.groups[1].domains[2], ==, "live.com");
	cfg_free(c);
}

/* Regressions found by fuzz-config. */
static void
test_fuzz_regressions(void)
{
	char err[512];
	/* an empty word with a default takes the default (was a NULL for strcmp) */
	struct config *c = load("#amed\nsocketmap:\n   name: \n", err);

	if (c == NULL)
		g_error("%s", err);
	g_assert_cmpstr(c->socketmap.name, ==, "suppressed");
	cfg_free(c);
	c = load("socketmap: {transport_name: ~, recipient_delimiter: }\nlmtp: {socket: }\n", err);
	if (c == NULL)
		g_error("%s", err);
	g_assert_cmpstr(c->socketmap.transport_name, ==, "suppressed_transport");
	g_assert_cmpstr(c->socketmap.recipient_delimiter, ==, "+");
	g_assert_cmpstr(c->lmtp.sock.path, ==, "/rn/lmtp.sock");
	cfg_free(c);
}

static void
test_parsers(void)
{
	static const struct { const char *in; int never; int ok; int64_t want; } durs[] = {
		{ "90", 0, 1, 90 }, { "90s", 0, 1, 90 }, { "15m", 0, 1, 900 },
		{ "48h", 0, 1, 172800 }, { "7d", 0, 1, 604800 }, { "2w", 0, 1, 1209600 },
		{ "never", 1, 1, 0 }, { "never", 0, 0, 0 }, { "", 0, 0, 0 }, { "h", 0, 0, 0 },
		{ "1hh", 0, 0, 0 }, { "-1", 0, 0, 0 }, { "99999999999999999999", 0, 0, 0 },
		{ "9999999999999999d", 0, 0, 0 },
	};
	static const struct { const char *in; int ok; size_t want; } sizes[] = {
		{ "4096", 1, 4096 }, { "64k", 1, 65536 }, { "4M", 1, 4u << 20 }, { "4MiB", 1, 4u << 20 },
		{ "1G", 1, 1u << 30 }, { "4MB", 1, 4u << 20 }, { "4 M", 0, 0 }, { "M", 0, 0 },
		{ "4T", 0, 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(durs); i++) {
		int64_t got = -1;
		int ok = cfg_parse_duration(durs[i].in, durs[i].never, &got);

		if (ok != durs[i].ok || (ok && got != durs[i].want))
			g_error("duration \"%s\": got %d/%" G_GINT64_FORMAT " want %d/%" G_GINT64_FORMAT,
			    durs[i].in, ok, got, durs[i].ok, durs[i].want);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		size_t got = 0;
		int ok = cfg_parse_size(sizes[i].in, &got);

		if (ok != sizes[i].ok || (ok && got != sizes[i].want))
			g_error("size \"%s\": got %d/%zu want %d/%zu", sizes[i].in, ok, got,
			    sizes[i].ok, sizes[i].want);
	}
}

static void
test_example(void)
{
	const char *path = g_getenv("BOUNCED_EXAMPLE_CONFIG");
	char err[512];
	struct config *c;

	if (path == NULL) {
		g_test_skip("BOUNCED_EXAMPLE_CONFIG not set");
		return;
	}
	c = cfg_load(path, NULL, err);
	if (c == NULL)
		g_error("the example config does not load: %s", err);
	g_assert_cmpstr(c->user, ==, "bounced");
	g_assert_cmpstr(c->lmtp.sock.path, ==, "/run/bounced/lmtp.sock");
	g_assert_true(c->lmtp.sock.group_explicit);
	g_assert_cmpuint(c->policy.ngroups, ==, 4);
	g_assert_cmpuint(c->policy.groups[0].ndomains, ==, 9);
	g_assert_cmpint(c->policy.ttl_reason[REPORT_REASON_HOSTUNKNOWN], ==, 30 * 86400);
	cfg_free(c);
}

static void
test_file_errors(void)
{
	char err[512];
	gchar *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
	gchar *file = g_build_filename(dir, "bounced.yaml", NULL);
	gchar *want;
	struct config *c;

	g_assert_nonnull(dir);
	c = cfg_load(file, NULL, err);
	g_assert_null(c);
	g_assert_nonnull(strstr(err, "bounced.yaml"));
	g_assert_true(g_file_set_contents(file, "store:\n  path: rel/db\n  busy_timeout_ms: x\n",
	    -1, NULL));
	c = cfg_load(file, NULL, err);
	g_assert_null(c);
	want = g_strdup_printf("%s:3: store.busy_timeout_ms: \"x\" is not a number", file);
	g_assert_cmpstr(err, ==, want);
	g_free(want);
	g_assert_true(g_file_set_contents(file, "store:\n  path: rel/db\n", -1, NULL));
	c = cfg_load(file, NULL, err);
	g_assert_nonnull(c);
	want = g_build_filename(dir, "rel", "db", NULL);
	g_assert_cmpstr(c->store.path, ==, want);
	g_free(want);
	cfg_free(c);
	c = cfg_default_dir(dir, err);
	g_assert_nonnull(c);
	want = g_build_filename(dir, "query.sock", NULL);
	g_assert_cmpstr(c->query.sock.path, ==, want);
	g_free(want);
	g_assert_null(c->file);
	cfg_free(c);
	unlink(file);
	rmdir(dir);
	g_free(file);
	g_free(dir);
}

/* --check-config's system checks: users, groups, directories, by line. */
static void
test_check_system(void)
{
	static const struct {
		const char *yaml;       /* DIR: an existing directory */
		const char *want;       /* the error's tail, or NULL: passes */
	} cases[] = {
		{ "store:\n  path: DIR/db\n  secret_file: DIR/s\n", NULL },
		{ "# c\nuser: no-such-user-bounced-test\nstore:\n  path: DIR/db\n"
		  "  secret_file: DIR/s\n", "t.yaml:2: user: no such user no-such-user-bounced-test" },
		{ "store:\n  path: DIR/db\n  secret_file: DIR/s\nquery:\n  group: no-such-group-b\n",
		  "t.yaml:5: query.group: no such group no-such-group-b" },
		{ "store:\n  secret_file: DIR/s\n  path: DIR/missing/db\n",
		  "/missing does not exist (bounced creates it only when started as root with user:)" },
		{ "store:\n  path: DIR/db\n  secret_file: DIR/nope/s\n",
		  "/nope does not exist (bounced creates it only when started as root with user:)" },
	};
	gchar *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char err[512];
		gchar **parts = g_strsplit(cases[i].yaml, "DIR", -1);
		gchar *yaml = g_strjoinv(dir, parts);
		struct config *c = load(yaml, err);
		int rc;

		g_strfreev(parts);
		g_assert_nonnull(c);
		rc = cfg_check_system(c, err);
		if (cases[i].want == NULL) {
			if (rc != 0)
				g_error("case %zu: got \"%s\" want ok", i, err);
		} else if (rc != -1 || !g_str_has_suffix(err, cases[i].want)) {
			g_error("case %zu: got %d \"%s\" want an error ending \"%s\"", i, rc,
			    rc == 0 ? "" : err, cases[i].want);
		}
		cfg_free(c);
		g_free(yaml);
	}
	rmdir(dir);
	g_free(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/errors", test_errors);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/values", test_values);
	g_test_add_func("/config/parsers", test_parsers);
	g_test_add_func("/config/fuzz-regressions", test_fuzz_regressions);
	g_test_add_func("/config/example", test_example);
	g_test_add_func("/config/file-errors", test_file_errors);
	g_test_add_func("/config/check-system", test_check_system);
	return g_test_run();
}
