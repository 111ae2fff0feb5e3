/* SPDX-License-Identifier: MIT */
/*
 * cmd-postfix-check.c - "bouncectl postfix-check [-c DIR]": reads the live
 * Postfix configuration (`postconf -n`, `postconf -M`, the text of the
 * transport tables it names) offline, and says line by line what is wired
 * right for bounced, what is missing and what is harmful, each with the
 * line that fixes it (doc/postfix.md is the reference wiring).
 *
 * Harmful (mail is refused, bounced or held that should not be):
 *   - bounced's socketmap in smtpd_*_restrictions or transport_maps: it is
 *     asked about inbound mail too (a suppressed hosted mailbox stops
 *     receiving mail), and a transport_maps lookup that fails answers 451
 *     to every recipient while bounced is down;
 *   - the policy service where inbound mail reaches it (not after
 *     permit_auth_destination in smtpd_relay_restrictions);
 *   - the policy service fail-closed (no default_action=DUNNO) without
 *     socket activation: every restart of bounced refuses outbound mail;
 *   - a chrooted service (smtpd, lmtp) given an absolute socket path it
 *     cannot see from the chroot;
 *   - the bounce domain missing from relay_domains (and from the local and
 *     virtual domains): bounces from the Internet are refused.
 * Missing: the unchrooted "bounced" LMTP service, the policy service, the
 * sendmail check (pickup's content_filter).
 *
 * Exit status: 0 nothing to fix, 1 something missing, 5 something harmful,
 * 2 usage, 3 postconf could not be run.  Everything read is bounded
 * (PFC_OUTPUT_MAX per command, PFC_LINE_MAX per transport line).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"

#define PFC_OUTPUT_MAX (4u * 1024 * 1024)   /* postconf output read */
#define PFC_LINE_MAX   4096                 /* a transport table line */
#define PFC_SOCKET_ACTIVATION "/etc/systemd/system/sockets.target.wants/bounced-policy.socket"

enum pfc_level { PFC_OK, PFC_MISSING, PFC_HARMFUL };

struct pfc {
	GHashTable *main;             /* postconf -n: name -> value */
	GPtrArray *master;            /* postconf -M lines, split into words (GStrv) */
	int socket_activation;        /* 1: the policy socket is held by systemd */
	const char *bounce_domain;    /* --bounce-domain, or found in the transport tables */
	gchar *found_domain;
	int worst;
	unsigned counts[3];
};

static int pfc_run(const char *dir, const char *opt, gchar **out_r, char err[256]);
static void pfc_say(struct pfc *p, enum pfc_level lvl, const char *fix, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static const char *pfc_get(struct pfc *p, const char *name);
static gchar *pfc_expand(struct pfc *p, const char *value);
static GStrv pfc_service(struct pfc *p, const char *name, const char *type);
static int pfc_chrooted(GStrv svc);
static void pfc_check_socketmaps(struct pfc *p);
static const char *pfc_find_policy(const char *value);
static void pfc_check_policy(struct pfc *p);
static void pfc_check_lmtp(struct pfc *p);
static void pfc_check_bounce_domain(struct pfc *p);
static void pfc_check_sendmail(struct pfc *p);

/* Runs postconf [-c dir] opt; its stdout in *out_r (caller frees).  0 / -1. */
static int
pfc_run(const char *dir, const char *opt, gchar **out_r, char err[256])
{
	const char *argv[6];
	gchar *serr = NULL;
	GError *e = NULL;
	int n = 0, status = 0;

	argv[n++] = "postconf";
	if (dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = dir;
	}
	argv[n++] = opt;
	argv[n] = NULL;
	if (!g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out_r, &serr,
	    &status, &e)) {
		snprintf(err, 256, "cannot run postconf: %s", e->message);
		g_error_free(e);
		return -1;
	}
	if (!g_spawn_check_wait_status(status, NULL) || strlen(*out_r) > PFC_OUTPUT_MAX) {
		snprintf(err, 256, "postconf %s failed: %.200s", opt, serr != NULL ? serr : "");
		g_free(serr);
		g_free(*out_r);
		*out_r = NULL;
		return -1;
	}
	g_free(serr);
	return 0;
}

static void
pfc_say(struct pfc *p, enum pfc_level lvl, const char *fix, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "missing", "harmful" };
	va_list ap;

	printf("%-8s ", names[lvl]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (fix != NULL)
		printf("         fix: %s\n", fix);
	p->counts[lvl]++;
	if ((int)lvl > p->worst)
		p->worst = (int)lvl;
}

static const char *
pfc_get(struct pfc *p, const char *name)
{
	const char *v = g_hash_table_lookup(p->main, name);

	return v != NULL ? v : "";
}

/* value with $bounced_policy (the guide's parameter) replaced.  Caller frees. */
static gchar *
pfc_expand(struct pfc *p, const char *value)
{
	const char *bp = pfc_get(p, "bounced_policy");
	gchar **parts = g_strsplit(value, "$bounced_policy", -1);
	gchar *out;

	if (strstr(value, "${bounced_policy}") != NULL) {
		g_strfreev(parts);
		parts = g_strsplit(value, "${bounced_policy}", -1);
	}
	out = g_strjoinv(bp, parts);
	g_strfreev(parts);
	return out;
}

/* The master.cf entry "name/type" (borrowed), or NULL. */
static GStrv
pfc_service(struct pfc *p, const char *name, const char *type)
{
	for (guint i = 0; i < p->master->len; i++) {
		GStrv w = g_ptr_array_index(p->master, i);

		if (g_strv_length(w) >= 8 && strcmp(w[0], name) == 0 && strcmp(w[1], type) == 0)
			return w;
	}
	return NULL;
}

/* Column 5: "y", or "-" (Postfix >= 3.0: n). */
static int
pfc_chrooted(GStrv svc)
{
	return svc != NULL && strcmp(svc[4], "y") == 0;
}

/* bounced's socketmap where inbound mail meets it. */
static void
pfc_check_socketmaps(struct pfc *p)
{
	static const char *const params[] = { "smtpd_recipient_restrictions",
	    "smtpd_relay_restrictions", "transport_maps" };

	for (size_t i = 0; i < G_N_ELEMENTS(params); i++) {
		gchar **items = g_strsplit_set(pfc_get(p, params[i]), ", \t", -1);
		GPtrArray *keep = g_ptr_array_new();
		int found = 0;

		for (gchar **it = items; *it != NULL; it++) {
			if (**it == '\0')
				continue;
			if (strstr(*it, "socketmap:") != NULL && (strstr(*it, ":suppressed") != NULL ||
			    strstr(*it, "bounced") != NULL)) {
				found = 1;
				/* its "check_recipient_access" goes too */
				if (keep->len > 0 && strcmp(g_ptr_array_index(keep, keep->len - 1),
				    "check_recipient_access") == 0)
					g_ptr_array_remove_index(keep, keep->len - 1);
				continue;
			}
			g_ptr_array_add(keep, *it);
		}
		g_ptr_array_add(keep, NULL);
		if (found) {
			gchar *rest = g_strjoinv(", ", (gchar **)keep->pdata);
			gchar *fix = g_strdup_printf("postconf -e '%s = %s'  (then doc/postfix.md sections "
			    "5 and 6)", params[i], rest);

			pfc_say(p, PFC_HARMFUL, fix, "%s: bounced's socketmap is asked about inbound mail "
			    "too (a suppressed hosted mailbox stops receiving mail)%s", params[i],
			    i == 2 ? " and, while bounced is down, every address lookup fails: 451 to all "
			    "mail" : "");
			g_free(fix);
			g_free(rest);
		}
		g_ptr_array_free(keep, TRUE);
		g_strfreev(items);
	}
}

/* The first check_policy_service of value whose arguments name bounced, or NULL. */
static const char *
pfc_find_policy(const char *value)
{
	for (const char *c = strstr(value, "check_policy_service"); c != NULL;) {
		const char *next = strstr(c + 1, "check_policy_service");
		const char *b = strstr(c, "bounced");

		if (b != NULL && (next == NULL || b < next))
			return c;
		c = next;
	}
	return NULL;
}

static void
pfc_check_policy(struct pfc *p)
{
	gchar *relay = pfc_expand(p, pfc_get(p, "smtpd_relay_restrictions"));
	gchar *rcpt = pfc_expand(p, pfc_get(p, "smtpd_recipient_restrictions"));
	const char *pol = pfc_find_policy(relay), *pad = strstr(relay, "permit_auth_destination");
	const char *guide = "postconf -e 'bounced_policy = check_policy_service { "
	    "unix:private/bounced-policy, default_action=DUNNO, timeout=10s }' and put "
	    "'permit_auth_destination, $bounced_policy' before permit_mynetworks in "
	    "smtpd_relay_restrictions (doc/postfix.md section 5)";
	int chrooted_smtpd = 0;

	for (guint i = 0; i < p->master->len; i++) {
		GStrv w = g_ptr_array_index(p->master, i);

		if (strcmp(w[7], "smtpd") == 0 && pfc_chrooted(w))
			chrooted_smtpd = 1;
	}

	if (pfc_find_policy(rcpt) != NULL)
		pfc_say(p, PFC_HARMFUL, guide, "smtpd_recipient_restrictions: bounced's policy service "
		    "is asked about inbound mail (a suppressed hosted mailbox stops receiving mail)");
	if (pol == NULL) {
		if (pfc_find_policy(rcpt) == NULL)
			pfc_say(p, PFC_MISSING, guide, "smtpd_relay_restrictions: no bounced policy "
			    "service: Postfix does not refuse suppressed recipients");
	} else if (pad == NULL || pad > pol) {
		pfc_say(p, PFC_HARMFUL, guide, "smtpd_relay_restrictions: bounced's policy service is "
		    "not after permit_auth_destination: it is asked about inbound mail too");
	} else {
		pfc_say(p, PFC_OK, NULL, "smtpd_relay_restrictions: the policy service is asked about "
		    "mail leaving the server only");
	}
	if (pol != NULL || pfc_find_policy(rcpt) != NULL) {
		const char *any = pol != NULL ? pol : pfc_find_policy(rcpt);
		const char *path = strstr(any, "unix:");

		if (strstr(any, "default_action=DUNNO") == NULL &&
		    strstr(any, "default_action = DUNNO") == NULL &&
		    g_ascii_strcasecmp(pfc_get(p, "smtpd_policy_service_default_action"), "DUNNO") != 0) {
			if (!p->socket_activation)
				pfc_say(p, PFC_HARMFUL, "enable bounced-policy.socket (systemctl enable --now "
				    "bounced-policy.socket), or add default_action=DUNNO (fail-open)",
				    "the policy service is fail-closed without socket activation: while "
				    "bounced restarts, outbound mail is refused with 451");
			else
				pfc_say(p, PFC_OK, NULL, "the policy service is fail-closed, its socket held "
				    "by systemd across restarts");
		} else {
			pfc_say(p, PFC_OK, NULL, "the policy service is fail-open (default_action=DUNNO)");
		}
		if (path != NULL && path[5] == '/' && chrooted_smtpd)
			pfc_say(p, PFC_HARMFUL, "use unix:private/bounced-policy (policy_service.socket: "
			    "/var/spool/postfix/private/bounced-policy)", "the policy service's socket "
			    "is an absolute path: a chrooted smtpd cannot reach it");
	}
	g_free(relay);
	g_free(rcpt);
}

/* The bounced LMTP service and, from the transport tables, the bounce domain. */
static void
pfc_check_lmtp(struct pfc *p)
{
	GStrv svc = pfc_service(p, "bounced", "unix");
	gchar **maps = g_strsplit_set(pfc_get(p, "transport_maps"), ", \t", -1);

	if (svc == NULL)
		pfc_say(p, PFC_MISSING, "postconf -M bounced/unix='bounced unix - - n - - lmtp'",
		    "master.cf: no \"bounced\" LMTP service outside the chroot");
	else if (pfc_chrooted(svc))
		pfc_say(p, PFC_HARMFUL, "postconf -F bounced/unix/chroot=n", "master.cf: the "
		    "\"bounced\" service is chrooted and cannot reach /run/bounced/lmtp.sock");
	else
		pfc_say(p, PFC_OK, NULL, "master.cf: the \"bounced\" LMTP service runs outside the "
		    "chroot");
	/* the text of hash:/texthash: transport tables: routes to bounced's socket */
	for (gchar **m = maps; *m != NULL; m++) {
		const char *colon = strchr(*m, ':');
		char line[PFC_LINE_MAX];
		FILE *f;

		if (colon == NULL || colon[1] != '/')
			continue;
		f = fopen(colon + 1, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			gchar **w = g_strsplit_set(g_strstrip(line), " \t", 2);

			if (w[0] != NULL && w[1] != NULL && w[0][0] != '#') {
				const char *nh = g_strstrip(w[1]);

				if (strstr(nh, "lmtp.sock") != NULL && p->found_domain == NULL &&
				    strchr(w[0], '@') == NULL)
					p->found_domain = g_strdup(w[0]);
				if (g_str_has_prefix(nh, "lmtp:unix:/") &&
				    pfc_chrooted(pfc_service(p, "lmtp", "unix")))
					pfc_say(p, PFC_HARMFUL, "route it to the unchrooted service: "
					    "bounced:unix:/run/bounced/lmtp.sock", "%s: %s uses the chrooted "
					    "lmtp service: it cannot reach the socket", colon + 1, w[0]);
			}
			g_strfreev(w);
		}
		fclose(f);
	}
	g_strfreev(maps);
}

static void
pfc_check_bounce_domain(struct pfc *p)
{
	const char *dom = p->bounce_domain != NULL ? p->bounce_domain : p->found_domain;
	static const char *const params[] = { "relay_domains", "mydestination",
	    "virtual_mailbox_domains", "virtual_alias_domains" };

	if (dom == NULL) {
		pfc_say(p, PFC_MISSING, "a transport line 'bounce.example.com "
		    "bounced:unix:/run/bounced/lmtp.sock' (doc/postfix.md section 2)",
		    "no bounce domain routed to bounced in the transport tables");
		return;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(params); i++) {
		gchar **items = g_strsplit_set(pfc_get(p, params[i]), ", \t", -1);
		int in = g_strv_contains((const gchar *const *)items, dom);

		g_strfreev(items);
		if (in) {
			pfc_say(p, PFC_OK, NULL, "bounce domain %s is in %s", dom, params[i]);
			return;
		}
	}
	{
		gchar *fix = g_strdup_printf("postconf -e 'relay_domains = %s%s%s'",
		    pfc_get(p, "relay_domains"), *pfc_get(p, "relay_domains") ? ", " : "", dom);

		pfc_say(p, PFC_HARMFUL, fix, "bounce domain %s is not in relay_domains: bounces from "
		    "the Internet are refused", dom);
		g_free(fix);
	}
}

static void
pfc_check_sendmail(struct pfc *p)
{
	GStrv pickup = pfc_service(p, "pickup", "unix");
	const char *cf = NULL, *port;

	for (guint i = 0; pickup != NULL && pickup[i] != NULL; i++)
		if (g_str_has_prefix(pickup[i], "content_filter="))
			cf = pickup[i] + 15;
	if (cf == NULL) {
		pfc_say(p, PFC_MISSING, "doc/postfix.md section 6 (sh sendmail-check)", "pickup: "
		    "mail injected with sendmail is not checked");
		return;
	}
	port = strstr(cf, "]:");
	for (guint i = 0; port != NULL && i < p->master->len; i++) {
		GStrv w = g_ptr_array_index(p->master, i);
		const char *sp = strrchr(w[0], ':');

		if (strcmp(w[1], "inet") != 0 || strcmp(sp != NULL ? sp + 1 : w[0], port + 2) != 0)
			continue;
		for (guint k = 8; w[k] != NULL; k++)
			if (g_str_has_prefix(w[k], "smtpd_relay_restrictions=") &&
			    (strstr(w[k], "$bounced_policy") != NULL ||
			    strstr(w[k], "bounced-policy") != NULL)) {
				pfc_say(p, PFC_OK, NULL, "pickup: mail injected with sendmail passes the "
				    "policy service (%s)", w[0]);
				return;
			}
		pfc_say(p, PFC_MISSING, "doc/postfix.md section 6", "pickup's content filter %s does "
		    "not run $bounced_policy", w[0]);
		return;
	}
	pfc_say(p, PFC_OK, NULL, "pickup: content_filter=%s (not bounced's; check it yourself)", cf);
}

int
cmd_postfix_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config-directory", required_argument, NULL, 'c' },
		{ "bounce-domain", required_argument, NULL, 'd' },
		{ "socket-activation", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfc p;
	const char *dir = NULL;
	gchar *n_out = NULL, *m_out = NULL;
	char err[256];
	struct stat st;
	int c;

	memset(&p, 0, sizeof(p));
	p.socket_activation = lstat(PFC_SOCKET_ACTIVATION, &st) == 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			dir = optarg;
			break;
		case 'd':
			p.bounce_domain = optarg;
			break;
		case 's':
			if (strcmp(optarg, "yes") != 0 && strcmp(optarg, "no") != 0) {
				fprintf(stderr, "bouncectl postfix-check: --socket-activation yes|no\n");
				return CMD_EXIT_USAGE;
			}
			p.socket_activation = strcmp(optarg, "yes") == 0;
			break;
		case 'h':
			printf("usage: bouncectl postfix-check [-c DIR] [--bounce-domain D] "
			    "[--socket-activation yes|no]\n"
			    "Reads postconf -n and postconf -M and says what is wired right for bounced,\n"
			    "what is missing and what is harmful, with the line that fixes it.\n"
			    "Exit 0 nothing to fix, 1 something missing, 5 something harmful.\n");
			return 0;
		default:
			return CMD_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bouncectl postfix-check: unexpected argument \"%s\"\n", argv[optind]);
		return CMD_EXIT_USAGE;
	}
	if (pfc_run(dir, "-n", &n_out, err) < 0 || pfc_run(dir, "-M", &m_out, err) < 0) {
		fprintf(stderr, "bouncectl postfix-check: %s\n", err);
		g_free(n_out);
		return CMD_EXIT_DAEMON;
	}
	p.main = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	p.master = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	{
		gchar **lines = g_strsplit(n_out, "\n", -1);

		for (gchar **l = lines; *l != NULL; l++) {
			char *eq = strstr(*l, " = ");

			if (eq != NULL)
				g_hash_table_replace(p.main, g_strndup(*l, (gsize)(eq - *l)),
				    g_strdup(eq + 3));
			else if (g_str_has_suffix(*l, " ="))
				g_hash_table_replace(p.main, g_strndup(*l, strlen(*l) - 2), g_strdup(""));
		}
		g_strfreev(lines);
		lines = g_strsplit(m_out, "\n", -1);
		for (gchar **l = lines; *l != NULL; l++) {
			gchar **w = g_strsplit_set(*l, " \t", -1);
			GPtrArray *words = g_ptr_array_new();

			for (gchar **x = w; *x != NULL; x++)
				if (**x != '\0' && strcmp(*x, "-o") != 0)
					g_ptr_array_add(words, g_strdup(*x));
			g_ptr_array_add(words, NULL);
			g_strfreev(w);
			if (words->len > 8)
				g_ptr_array_add(p.master, g_ptr_array_free(words, FALSE));
			else
				g_strfreev((gchar **)g_ptr_array_free(words, FALSE));
		}
		g_strfreev(lines);
	}
	pfc_check_socketmaps(&p);
	pfc_check_lmtp(&p);
	pfc_check_bounce_domain(&p);
	pfc_check_policy(&p);
	pfc_check_sendmail(&p);
	printf("%u ok, %u missing, %u harmful\n", p.counts[PFC_OK], p.counts[PFC_MISSING],
	    p.counts[PFC_HARMFUL]);
	g_hash_table_destroy(p.main);
	g_ptr_array_free(p.master, TRUE);
	g_free(p.found_domain);
	g_free(n_out);
	g_free(m_out);
	return p.worst == PFC_HARMFUL ? 5 : p.worst == PFC_MISSING ? 1 : 0;
}
