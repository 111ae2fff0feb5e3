/* SPDX-License-Identifier: MIT */
/*
 * cmd-check.c - "bouncectl check ADDRESS...|-": may I send to these
 * addresses?  The answer and the exit status are meant for scripts:
 * 0 every address may be sent to, 1 at least one is suppressed, 2 an
 * address is invalid (or a usage error), 3 the daemon could not answer.
 * When several apply, the highest wins.
 *
 * It asks the query socket (open to every local user, like applications
 * do), pipelining up to CHECK_WINDOW requests; with --socket it asks the
 * admin socket's CHECK verb instead.  "-" reads addresses from standard
 * input, one per line (blank lines and # comments skipped), so a whole
 * mailing list can be checked in one run in constant memory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "cmd.h"

#define CHECK_WINDOW    256           /* requests in flight on the query socket */
#define CHECK_LINE_MAX  2048          /* the query protocol's request limit */

struct check_pending {
	char *input;                  /* as given */
	char norm[STORE_ADDR_MAX + 1];
};

struct check_run {
	struct cmd_opts o;
	int quiet;
	int admin;                    /* ask the admin socket */
	struct cmd_client *c;
	GQueue pending;               /* struct check_pending *, in request order */
	GString *out;
	unsigned printed;
	int worst;                    /* the exit status so far */
};

static int check_help(void);
static int check_address(struct check_run *r, const char *input);
static int check_flush(struct check_run *r, unsigned keep);
static void check_print(struct check_run *r, const char *addr, const char *state,
    const char *cause, const char *reason, const char *since, const char *until, int domain);
static void check_worse(struct check_run *r, int code);
static int check_admin_row(struct cmd_fields *f, void *ud);

static int
check_help(void)
{
	printf("usage: bouncectl check [OPTIONS] ADDRESS...\n"
	    "       bouncectl check [OPTIONS] -          (addresses on standard input)\n"
	    "May I send to these addresses?  One line per address:\n"
	    "  alice@example.com: ok\n"
	    "  bob@example.com: suppressed hard userunknown since 2024-05-01T12:00:00Z\n"
	    "Options:\n"
	    "  -q, --quiet          print nothing; the exit status answers\n"
	    "  --query-socket PATH  the query socket (default: from the config)\n"
	    "  --socket PATH        ask the admin socket's CHECK verb instead\n"
	    "%s"
	    "check exits 0 when every address may be sent to, 1 when at least one is\n"
	    "suppressed, 2 when one is invalid, 3 when bounced cannot answer.\n",
	    cmd_common_help);
	return 0;
}

static void
check_worse(struct check_run *r, int code)
{
	/* 3 (daemon) > 2 (invalid) > 1 (suppressed) > 0; 4 (denied) counts as 3 */
	int rank_new = code == CMD_EXIT_DENIED ? CMD_EXIT_DAEMON : code;
	int rank_old = r->worst == CMD_EXIT_DENIED ? CMD_EXIT_DAEMON : r->worst;

	if (rank_new > rank_old)
		r->worst = code;
}

static void
check_print(struct check_run *r, const char *addr, const char *state, const char *cause,
    const char *reason, const char *since, const char *until, int domain)
{
	GString *b = r->out;

	if (r->quiet)
		return;
	g_string_truncate(b, 0);
	if (r->o.json) {
		g_string_append(b, r->printed++ ? ",\n  {\"address\": " : "[\n  {\"address\": ");
		cmd_json_string(b, addr);
		g_string_append(b, ", \"state\": ");
		cmd_json_string(b, state);
		if (cause != NULL) {
			g_string_append(b, ", \"class\": ");
			cmd_json_string(b, cause);
			g_string_append(b, ", \"reason\": ");
			cmd_json_string(b, reason);
			g_string_append(b, ", \"since\": ");
			cmd_json_string(b, since);
			g_string_append(b, ", \"until\": ");
			cmd_json_string(b, until);
			g_string_append_printf(b, ", \"entry\": \"%s\"", domain ? "domain" : "address");
		}
		g_string_append_c(b, '}');
	} else {
		cmd_table_text(b, addr, STORE_ADDR_MAX);
		g_string_append_printf(b, ": %s", state);
		if (cause != NULL) {
			g_string_append_printf(b, " %s %s since %s", cause, reason, since);
			if (until != NULL)
				g_string_append_printf(b, " until %s", until);
			if (domain) {
				const char *at = strrchr(addr, '@');

				g_string_append_printf(b, " (domain entry @%s)", at ? at + 1 : "?");
			}
		}
		g_string_append_c(b, '\n');
	}
	fputs(b->str, stdout);
}

/* The admin socket's CHECK answer: "+ address= state= cause= reason= since= until= entry=". */
static int
check_admin_row(struct cmd_fields *f, void *ud)
{
	struct check_run *r = ud;
	struct check_pending *p = g_queue_peek_head(&r->pending);
	const char *state = cmd_field(f, "state");

	if (p == NULL || state == NULL)
		return -1;
	if (strcmp(state, "ok") == 0) {
		check_print(r, p->norm, "ok", NULL, NULL, NULL, NULL, 0);
	} else {
		const char *until = cmd_field_opt(f, "until");
		const char *entry = cmd_field(f, "entry");

		check_print(r, p->norm, "suppressed", cmd_field(f, "cause"), cmd_field(f, "reason"),
		    cmd_field(f, "since"), until && strcmp(until, "never") != 0 ? until : NULL,
		    entry != NULL && strcmp(entry, "domain") == 0);
		check_worse(r, CMD_EXIT_NO);
	}
	return 0;
}

/* Reads answers until at most keep requests are in flight. */
static int
check_flush(struct check_run *r, unsigned keep)
{
	while (r->pending.length > keep) {
		struct check_pending *p = g_queue_peek_head(&r->pending);
		char *line, *save = NULL, *tok[8];
		unsigned n = 0;
		int rc = cmd_client_readline(r->c, &line, NULL, 0);

		if (rc <= 0) {
			if (rc == 0)
				cmd_fail(&r->o, CMD_EXIT_DAEMON, "connection closed by bounced before "
				    "its answer for %s", p->norm);
			return -1;
		}
		if (strcmp(line, "OK") == 0) {
			check_print(r, p->norm, "ok", NULL, NULL, NULL, NULL, 0);
		} else if (strncmp(line, "SUPPRESSED ", 11) == 0) {
			const char *until = NULL;
			int domain = 0;

			for (char *t = strtok_r(line, " ", &save); t != NULL && n < G_N_ELEMENTS(tok);
			    t = strtok_r(NULL, " ", &save))
				tok[n++] = t;
			for (unsigned i = 4; i < n; i++) {
				if (strncmp(tok[i], "until=", 6) == 0)
					until = tok[i] + 6;
				else if (strcmp(tok[i], "entry=domain") == 0)
					domain = 1;
			}
			if (n < 4) {
				cmd_fail(&r->o, CMD_EXIT_DAEMON, "unexpected answer from bounced for %s",
				    p->norm);
				return -1;
			}
			check_print(r, p->norm, "suppressed", tok[1], tok[2], tok[3], until, domain);
			check_worse(r, CMD_EXIT_NO);
		} else if (strncmp(line, "ERR ", 4) == 0) {
			if (strstr(line, "too many connections") != NULL) {
				cmd_fail(&r->o, CMD_EXIT_DAEMON, "bounced refused the connection: %s",
				    line + 4);
				return -1;
			}
			cmd_fail(&r->o, CMD_EXIT_USAGE, "%s: %s", p->input, line + 4);
			check_worse(r, CMD_EXIT_USAGE);
		} else {
			cmd_fail(&r->o, CMD_EXIT_DAEMON, "unexpected answer from bounced: %.100s", line);
			return -1;
		}
		g_queue_pop_head(&r->pending);
		g_free(p->input);
		g_free(p);
	}
	return 0;
}

/* Validates one address and sends its request.  0, or -1 when the daemon failed. */
static int
check_address(struct check_run *r, const char *input)
{
	struct check_pending *p = g_new0(struct check_pending, 1);
	char err[256];
	int n = store_addr_normalize(input, strlen(input), p->norm, err);

	if (n < 0 || p->norm[0] == '@') {
		cmd_fail(&r->o, CMD_EXIT_USAGE, "invalid address \"%.200s\": %s", input,
		    n < 0 ? err : "a domain; check takes addresses");
		check_worse(r, CMD_EXIT_USAGE);
		g_free(p);
		return 0;
	}
	p->input = g_strdup(input);
	g_queue_push_tail(&r->pending, p);
	if (r->admin) {
		GString *req = g_string_new(NULL);
		int rc;

		cmd_req_start(req, "CHECK");
		cmd_req_add(req, "address", p->norm);
		rc = cmd_call(r->c, &r->o, req, check_admin_row, r, NULL);
		g_string_free(req, TRUE);
		g_queue_pop_head(&r->pending);
		g_free(p->input);
		g_free(p);
		if (rc != CMD_EXIT_OK) {
			check_worse(r, rc);
			return rc == CMD_EXIT_USAGE ? 0 : -1;
		}
		return 0;
	} else {
		char line[STORE_ADDR_MAX + 16];
		int len = snprintf(line, sizeof(line), "CHECK %s\n", p->norm);

		if (cmd_client_send(r->c, line, (size_t)len) < 0)
			return check_flush(r, 0) < 0 ? -1 : 0;
		return check_flush(r, CHECK_WINDOW);
	}
}

int
cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct check_run r;
	int opt, code, from_stdin = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, "check");
	g_queue_init(&r.pending);
	while ((opt = cmd_getopt(&r.o, argc, argv, "q", longopts)) != -1) {
		if (opt == CMD_OPT_HELP)
			return check_help();
		if (opt == 'q')
			r.quiet = 1;
		else
			return cmd_bad_option(&r.o, argv);
	}
	if (optind >= argc)
		return cmd_usage(&r.o, "no address given");
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			from_stdin = 1;
	if (from_stdin && argc - optind != 1)
		return cmd_usage(&r.o, "give addresses or \"-\", not both");
	r.admin = r.o.socket != NULL;
	if ((r.c = cmd_connect(&r.o, !r.admin, &code)) == NULL)
		goto out;
	r.out = g_string_sized_new(256);
	if (from_stdin) {
		char buf[CHECK_LINE_MAX + 2];
		unsigned lineno = 0;

		while (fgets(buf, sizeof(buf), stdin) != NULL) {
			size_t n = strlen(buf);

			lineno++;
			if (n > 0 && buf[n - 1] != '\n' && !feof(stdin)) {
				int ch;

				while ((ch = getchar()) != EOF && ch != '\n')
					;
				cmd_fail(&r.o, CMD_EXIT_USAGE, "line %u: longer than %d bytes", lineno,
				    CHECK_LINE_MAX);
				check_worse(&r, CMD_EXIT_USAGE);
				continue;
			}
			g_strstrip(buf);
			if (buf[0] == '\0' || buf[0] == '#')
				continue;
			if (check_address(&r, buf) < 0) {
				check_worse(&r, CMD_EXIT_DAEMON);
				break;
			}
		}
		if (ferror(stdin)) {
			cmd_fail(&r.o, CMD_EXIT_USAGE, "cannot read standard input: %s",
			    g_strerror(errno));
			check_worse(&r, CMD_EXIT_USAGE);
		}
	} else {
		for (int i = optind; i < argc; i++)
			if (check_address(&r, argv[i]) < 0) {
				check_worse(&r, CMD_EXIT_DAEMON);
				break;
			}
	}
	if (r.worst != CMD_EXIT_DAEMON && r.worst != CMD_EXIT_DENIED && check_flush(&r, 0) < 0)
		check_worse(&r, CMD_EXIT_DAEMON);
	if (r.o.json && !r.quiet)
		fputs(r.printed ? "\n]\n" : "[]\n", stdout);
	code = cmd_flush(&r.o, r.worst);
out:
	while (!g_queue_is_empty(&r.pending)) {
		struct check_pending *p = g_queue_pop_head(&r.pending);

		g_free(p->input);
		g_free(p);
	}
	if (r.out != NULL)
		g_string_free(r.out, TRUE);
	cmd_client_free(r.c);
	cmd_opts_clear(&r.o);
	return code;
}
