/* SPDX-License-Identifier: MIT */
/*
 * cmd-show.c - "bouncectl show ADDRESS|@DOMAIN": why is this address in
 * the state it is?  The stored decision (state, class, reason, status, the
 * policy rule and the scope of the deciding event, since, until, source,
 * soft-bounce count, last delivery), then every event with its evidence
 * (diagnostic text, reporting and remote MTA, SMTP command, original
 * Message-ID, sender and subject, the classify rule), newest first, then
 * the audit trail of manual changes, oldest first.
 *
 * "--raw" prints the stored bounce message itself, byte for byte: the
 * newest one of the address that is still kept, or the one given with
 * "--bounce ID" (the ids are in the event list).  Exit 1 when the address
 * (or the bounce) is unknown.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "cmd.h"

#define SHOW_DIAG_MAX   400           /* bytes of diagnostic in the text output */
#define SHOW_RAW_MAX    (64u * 1024 * 1024)

struct show_run {
	struct cmd_opts o;
	GString *out;
	unsigned entries, events, audits;
	/* Postfix's log: the newest remote MTA's deferrals, summed up after the events */
	unsigned deferred;
	char *deferred_mta, *deferred_since, *deferred_diag;
	int64_t raw_bounce;           /* newest event whose raw bounce is kept */
	int json;
};

static int show_help(void);
static const char *show_state(const struct cmd_fields *f);
static int show_row(struct cmd_fields *f, void *ud);
static void show_entry(struct show_run *r, struct cmd_fields *f);
static void show_event(struct show_run *r, struct cmd_fields *f);
static void show_audit(struct show_run *r, struct cmd_fields *f);
static void show_deferred(struct show_run *r, struct cmd_fields *f);
static int show_raw(struct show_run *r, struct cmd_client *c, int64_t bounce);

static const char *const show_entry_json[] = { "address", "state", "class:cause", "reason",
    "status", "since", "until", "source", "updated", "#soft_count", "last_delivered", "scope",
    "rule", NULL };
static const char *const show_event_json[] = { "#id", "#bounce", "at", "class", "reason",
    "scope", "status", "replycode", "action", "diagnostic", "diagnostic_type", "remote_mta",
    "smtp_command", "rule", "decoder", "reporting_mta", "message_id", "orig_sender", "subject",
    "#raw", "source", "queue_id", "sender", "#twin_of", NULL };
static const char *const show_audit_json[] = { "#id", "at", "actor", "action", "target",
    "class:cause", "reason", "status", "since", "until", "note", NULL };

static int
show_help(void)
{
	printf("usage: bouncectl show [OPTIONS] ADDRESS|@DOMAIN\n"
	    "       bouncectl show --raw [--bounce ID] [ADDRESS]\n"
	    "The state of an address or a domain entry, the decision's reason and rule,\n"
	    "its events with their evidence (newest first) and its audit trail.\n"
	    "Options:\n"
	    "  --events N           show the last N events (default 50, 0 = all)\n"
	    "  --raw                print the stored bounce (the newest one kept)\n"
	    "  --bounce ID          with --raw: this bounce (ids are in the event list)\n"
	    "%s"
	    "Exit 1 when the address or the bounce is unknown.\n", cmd_common_help);
	return 0;
}

/* "suppressed", "ok" or "expired" from an entry's cause and until. */
static const char *
show_state(const struct cmd_fields *f)
{
	const char *cause = cmd_field(f, "cause"), *until = cmd_field_opt(f, "until");
	int64_t u;
	char err[256];

	if (cause == NULL || strcmp(cause, "none") == 0)
		return "ok";
	if (until != NULL && strcmp(until, "never") != 0 &&
	    cmd_parse_time(until, CMD_TIME_FUTURE, time(NULL), &u, err) == 0 && u <= time(NULL))
		return "expired";
	return "suppressed";
}

static void
show_entry(struct show_run *r, struct cmd_fields *f)
{
	GString *b = r->out;
	const char *state = show_state(f), *v;

	if (r->json) {
		/* the state is computed here: add it as a field for the spec */
		if (f->n < CMD_FIELDS_MAX) {
			f->key[f->n] = (char *)"state";
			f->val[f->n++] = (char *)state;
		}
		g_string_append(b, "  \"entry\": ");
		cmd_json_fields(b, f, show_entry_json);
		g_string_append(b, ",\n");
		return;
	}
	g_string_append(b, "address         ");
	cmd_table_text(b, cmd_field(f, "address"), STORE_ADDR_MAX);
	g_string_append_printf(b, "\nstate           %s", state);
	if (strcmp(state, "ok") != 0) {
		g_string_append_printf(b, ": %s %s", cmd_field(f, "cause"), cmd_field(f, "reason"));
		if ((v = cmd_field_opt(f, "status")) != NULL)
			g_string_append_printf(b, " (status %s)", v);
		g_string_append_printf(b, "\nsince           %s", cmd_field(f, "since"));
		g_string_append_printf(b, "\nuntil           %s", cmd_field(f, "until"));
	}
	g_string_append(b, "\ndecided by      ");
	if ((v = cmd_field_opt(f, "rule")) != NULL)
		g_string_append_printf(b, "rule %s, ", v);
	g_string_append_printf(b, "scope %s, source %s", cmd_field(f, "scope"),
	    cmd_field(f, "source"));
	g_string_append_printf(b, "\nsoft bounces    %s", cmd_field(f, "soft_count"));
	g_string_append_printf(b, "\nlast delivered  %s", cmd_field(f, "last_delivered"));
	g_string_append_printf(b, "\nupdated         %s\n", cmd_field(f, "updated"));
}

static void
show_event(struct show_run *r, struct cmd_fields *f)
{
	GString *b = r->out;
	const char *v, *raw = cmd_field(f, "raw"), *bounce = cmd_field(f, "bounce");

	if (r->raw_bounce == 0 && raw != NULL && strcmp(raw, "1") == 0 && bounce != NULL)
		r->raw_bounce = g_ascii_strtoll(bounce, NULL, 10);
	if (r->json) {
		g_string_append(b, r->events++ ? ",\n    " : "  \"events\": [\n    ");
		cmd_json_fields(b, f, show_event_json);
		return;
	}
	if (r->events++ == 0)
		g_string_append(b, "\nevents (newest first):\n");
	g_string_append_printf(b, "  %s  %s %s  scope %s  status %s  reply %s", cmd_field(f, "at"),
	    cmd_field(f, "class"), cmd_field(f, "reason"), cmd_field(f, "scope"),
	    cmd_field(f, "status"), cmd_field(f, "replycode"));
	if ((v = cmd_field_opt(f, "action")) != NULL)
		g_string_append_printf(b, "  action %s", v);
	g_string_append(b, "\n      diagnostic   ");
	cmd_table_text(b, cmd_field_opt(f, "diagnostic"), SHOW_DIAG_MAX);
	g_string_append(b, "\n      reported by  ");
	cmd_table_text(b, cmd_field_opt(f, "reporting_mta"), 200);
	g_string_append(b, "  remote MTA ");
	cmd_table_text(b, cmd_field_opt(f, "remote_mta"), 200);
	g_string_append(b, "  command ");
	cmd_table_text(b, cmd_field_opt(f, "smtp_command"), 40);
	/* two messages: the one that bounced (ours), and the bounce itself */
	g_string_append(b, "\n      original     message-id ");
	cmd_table_text(b, cmd_field_opt(f, "message_id"), 200);
	g_string_append(b, "  sender ");
	cmd_table_text(b, cmd_field_opt(f, "orig_sender"), 200);
	g_string_append(b, "\n      bounce       subject ");
	cmd_table_text(b, cmd_field_opt(f, "subject"), 200);
	g_string_append_printf(b, "\n      rule         %s (decoder %s)", cmd_field(f, "rule"),
	    cmd_field(f, "decoder"));
	if (bounce != NULL && strcmp(bounce, "0") != 0)
		g_string_append_printf(b, "; bounce %s%s", bounce, raw != NULL &&
		    strcmp(raw, "1") == 0 ? " kept (show --raw --bounce ID)" : " not kept");
	if ((v = cmd_field_opt(f, "trust")) != NULL) {
		const char *u = cmd_field_opt(f, "untrusted");

		g_string_append(b, "\n      trust        ");
		g_string_append(b, u != NULL ? "UNTRUSTED (" : "trusted (");
		if (u != NULL)
			g_string_append_printf(b, "%s; ", u);
		cmd_table_text(b, v, 200);
		g_string_append(b, u != NULL ? "): never suppresses" : ")");
	}
	if ((v = cmd_field_opt(f, "source")) != NULL && strcmp(v, "log") == 0) {
		g_string_append(b, "\n      source       Postfix's log, queue ID ");
		cmd_table_text(b, cmd_field_opt(f, "queue_id"), 40);
		g_string_append(b, " sender ");
		cmd_table_text(b, cmd_field_opt(f, "sender"), 200);
		show_deferred(r, f);
	}
	if ((v = cmd_field_opt(f, "twin_of")) != NULL && strcmp(v, "0") != 0)
		g_string_append_printf(b, "\n      counted once: the same failure as event %s", v);
	g_string_append_c(b, '\n');
}

/* A deferral from the log: counted when its remote MTA is the newest one's. */
static void
show_deferred(struct show_run *r, struct cmd_fields *f)
{
	const char *action = cmd_field_opt(f, "action"), *mta = cmd_field_opt(f, "remote_mta");

	if (action == NULL || strcmp(action, "delayed") != 0)
		return;
	if (r->deferred == 0) {
		r->deferred_mta = g_strdup(mta != NULL ? mta : "-");
		r->deferred_diag = g_strdup(cmd_field_opt(f, "diagnostic"));
	} else if (strcmp(r->deferred_mta, mta != NULL ? mta : "-") != 0) {
		return;
	}
	r->deferred++;
	g_free(r->deferred_since);
	r->deferred_since = g_strdup(cmd_field(f, "at"));   /* newest first: the oldest last */
}

static void
show_audit(struct show_run *r, struct cmd_fields *f)
{
	GString *b = r->out;
	const char *v;

	if (r->json) {
		if (r->events > 0 && r->audits == 0)
			g_string_append(b, "\n  ],\n");
		else if (r->events == 0 && r->audits == 0)
			g_string_append(b, "  \"events\": [],\n");
		g_string_append(b, r->audits++ ? ",\n    " : "  \"audit\": [\n    ");
		cmd_json_fields(b, f, show_audit_json);
		return;
	}
	if (r->audits++ == 0)
		g_string_append(b, "\naudit (oldest first):\n");
	g_string_append_printf(b, "  %s  ", cmd_field(f, "at"));
	cmd_table_text(b, cmd_field_opt(f, "actor"), 200);
	g_string_append_printf(b, "  %s -> %s %s", cmd_field(f, "action"), cmd_field(f, "cause"),
	    cmd_field(f, "reason"));
	if ((v = cmd_field_opt(f, "until")) != NULL && strcmp(cmd_field(f, "cause"), "none") != 0)
		g_string_append_printf(b, " until %s", v);
	if ((v = cmd_field_opt(f, "note")) != NULL) {
		g_string_append(b, "  note: ");
		cmd_table_text(b, v, CMD_NOTE_MAX);
	}
	g_string_append_c(b, '\n');
}

static int
show_row(struct cmd_fields *f, void *ud)
{
	struct show_run *r = ud;
	const char *type = cmd_field(f, "type");

	if (type == NULL)
		return 0;
	if (strcmp(type, "entry") == 0) {
		r->entries++;
		show_entry(r, f);
	} else if (strcmp(type, "event") == 0) {
		if (r->entries == 0 && r->events == 0 && !r->json)
			g_string_append(r->out, "(no stored state: this address was never suppressed)\n");
		show_event(r, f);
	} else if (strcmp(type, "audit") == 0) {
		show_audit(r, f);
	}
	/* flush as we go: an address may have many events */
	if (r->out->len > 65536 && !r->json) {
		fputs(r->out->str, stdout);
		g_string_truncate(r->out, 0);
	}
	return 0;
}

/* RAW bounce=ID: the stored message, byte for byte, to stdout. */
static int
show_raw(struct show_run *r, struct cmd_client *c, int64_t bounce)
{
	GString *req = g_string_new(NULL);
	char *buf;
	size_t n;
	int code;

	cmd_req_start(req, "RAW");
	cmd_req_addf(req, "bounce", "%" G_GINT64_FORMAT, bounce);
	code = cmd_call_bytes(c, &r->o, req, "raw", SHOW_RAW_MAX, &buf, &n);
	g_string_free(req, TRUE);
	if (code != CMD_EXIT_OK)
		return code;
	if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0)
		code = cmd_fail(&r->o, CMD_EXIT_DAEMON, "cannot write output: %s", g_strerror(errno));
	g_free(buf);
	return code;
}

int
cmd_show(int argc, char **argv)
{
	enum { OPT_EVENTS = CMD_OPT_FIRST_FREE, OPT_RAW, OPT_BOUNCE };
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "bounce", required_argument, NULL, OPT_BOUNCE },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct show_run r;
	struct cmd_client *c = NULL;
	GString *req = NULL;
	const char *events = "50", *addr = NULL;
	char norm[STORE_ADDR_MAX + 1], err[256];
	guint64 bounce = 0, nev;
	int opt, code, raw = 0;

	memset(&r, 0, sizeof(r));
	cmd_opts_init(&r.o, argv[0]);
	while ((opt = cmd_getopt(&r.o, argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case CMD_OPT_HELP:
			return show_help();
		case OPT_EVENTS:
			events = optarg;
			if (!g_ascii_string_to_unsigned(events, 10, 0, 100000, &nev, NULL))
				return cmd_usage(&r.o, "--events takes a number from 0 to 100000");
			break;
		case OPT_RAW:
			raw = 1;
			break;
		case OPT_BOUNCE:
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, G_MAXINT64, &bounce, NULL))
				return cmd_usage(&r.o, "--bounce takes a bounce id (a number)");
			raw = 1;
			break;
		default:
			return cmd_bad_option(&r.o, argv);
		}
	}
	if (optind < argc)
		addr = argv[optind++];
	if (optind < argc)
		return cmd_usage(&r.o, "one address at a time");
	if (addr == NULL && bounce == 0)
		return cmd_usage(&r.o, "no address given");
	if (addr != NULL && store_addr_normalize(addr, strlen(addr), norm, err) < 0)
		return cmd_fail(&r.o, CMD_EXIT_USAGE, "invalid address \"%.200s\": %s", addr, err);
	r.json = r.o.json && !raw;
	if ((c = cmd_connect(&r.o, 0, &code)) == NULL)
		goto out;
	if (raw && bounce != 0) {
		code = show_raw(&r, c, (int64_t)bounce);
		goto out;
	}
	r.out = g_string_sized_new(4096);
	req = g_string_new(NULL);
	cmd_req_start(req, "SHOW");
	cmd_req_add(req, "address", norm);
	cmd_req_add(req, "events", raw ? "0" : events);
	if (r.json) {
		g_string_append(r.out, "{\n  \"address\": ");
		cmd_json_string(r.out, norm);
		g_string_append(r.out, ",\n");
	}
	code = cmd_call(c, &r.o, req, show_row, &r, NULL);
	if (code != CMD_EXIT_OK)
		goto out;
	if (raw) {
		if (r.raw_bounce == 0) {
			code = cmd_fail(&r.o, CMD_EXIT_NO, "no stored bounce is kept for %s (none "
			    "received, purged after the retention, or erased)", norm);
			goto out;
		}
		code = show_raw(&r, c, r.raw_bounce);
		goto out;
	}
	if (r.json) {
		if (r.entries == 0)
			g_string_append(r.out, "  \"entry\": null,\n");
		if (r.events == 0 && r.audits == 0)
			g_string_append(r.out, "  \"events\": [],\n");
		else if (r.audits == 0)
			g_string_append(r.out, "\n  ],\n");
		g_string_append(r.out, r.audits ? "\n  ]\n}\n" : "  \"audit\": []\n}\n");
	}
	if (!r.json && r.deferred > 0) {
		g_string_append_printf(r.out, "\nPostfix's log: deferred %u time%s by ", r.deferred,
		    r.deferred > 1 ? "s" : "");
		cmd_table_text(r.out, r.deferred_mta, 200);
		g_string_append_printf(r.out, " since %s: ", r.deferred_since);
		cmd_table_text(r.out, r.deferred_diag, SHOW_DIAG_MAX);
		g_string_append_c(r.out, '\n');
	}
	fputs(r.out->str, stdout);
	code = cmd_flush(&r.o, code);
out:
	if (req != NULL)
		g_string_free(req, TRUE);
	if (r.out != NULL)
		g_string_free(r.out, TRUE);
	g_free(r.deferred_mta);
	g_free(r.deferred_since);
	g_free(r.deferred_diag);
	cmd_client_free(c);
	cmd_opts_clear(&r.o);
	return code;
}
