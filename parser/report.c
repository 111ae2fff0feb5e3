/* SPDX-License-Identifier: MIT */
/*
 * report.c - the report data structure: names of classes, scopes and
 * reasons, limits, allocation, and adopting a VERP-recovered recipient.
 * The parsing itself starts in parse.c.
 */
#include <string.h>

#include "report.h"

#define REPORT_NAME(id, name) name,
static const char *const class_names[] = { REPORT_CLASSES(REPORT_NAME) };
static const char *const scope_names[] = { REPORT_SCOPES(REPORT_NAME) };
static const char *const decoder_names[] = { REPORT_DECODERS(REPORT_NAME) };
static const char *const reason_names[] = { REPORT_REASONS(REPORT_NAME) };
#undef REPORT_NAME

static int name_lookup(const char *const *names, int n, const char *name, int *r);
static void rcpt_clear(struct report_rcpt *rc);
static void rcpt_free_cb(gpointer p);
static char *dup_or_null(const char *s);

void
report_limits_default(struct report_limits *lim)
{
	lim->max_bytes = 4u * 1024 * 1024;
	lim->max_depth = 16;
	lim->max_parts = 256;
	lim->max_rcpts = 1000;
	lim->max_field = 2048;
	lim->gmime_warnings = REPORT_GMIME_WARNINGS_ON_TROUBLE;
}

const char *
report_class_name(enum report_class c)
{
	return (unsigned)c < REPORT_CLASS_COUNT ? class_names[c] : "?";
}

const char *
report_scope_name(enum report_scope s)
{
	return (unsigned)s < REPORT_SCOPE_COUNT ? scope_names[s] : "?";
}

const char *
report_reason_name(enum report_reason r)
{
	return (unsigned)r < REPORT_REASON_COUNT ? reason_names[r] : "?";
}

const char *
report_decoder_name(enum report_decoder d)
{
	return (unsigned)d < REPORT_DECODER_COUNT ? decoder_names[d] : "?";
}

static int
name_lookup(const char *const *names, int n, const char *name, int *r)
{
	for (int i = 0; i < n; i++) {
		if (g_ascii_strcasecmp(names[i], name) == 0) {
			*r = i;
			return 1;
		}
	}
	return 0;
}

int
report_class_from_name(const char *name, enum report_class *class_r)
{
	int v;

	if (!name_lookup(class_names, REPORT_CLASS_COUNT, name, &v))
		return 0;
	*class_r = (enum report_class)v;
	return 1;
}

int
report_scope_from_name(const char *name, enum report_scope *scope_r)
{
	int v;

	if (!name_lookup(scope_names, REPORT_SCOPE_COUNT, name, &v))
		return 0;
	*scope_r = (enum report_scope)v;
	return 1;
}

int
report_reason_from_name(const char *name, enum report_reason *reason_r)
{
	int v;

	if (!name_lookup(reason_names, REPORT_REASON_COUNT, name, &v))
		return 0;
	*reason_r = (enum report_reason)v;
	return 1;
}

/* RFC 3463 section 3.1: class "." subject "." detail; 1-3 digits each. */
int
report_status_valid(const char *s)
{
	int digits;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	s += 2;
	for (int part = 0; part < 2; part++) {
		for (digits = 0; g_ascii_isdigit(*s); s++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

static void
rcpt_clear(struct report_rcpt *rc)
{
	g_free(rc->recipient);
	g_free(rc->final_recipient);
	g_free(rc->action);
	g_free(rc->diagnostic);
	g_free(rc->diagnostic_type);
	g_free(rc->remote_mta);
	g_free(rc->smtp_command);
	g_free(rc->category);
	memset(rc, 0, sizeof(*rc));
}

struct report *
report_new(void)
{
	struct report *r = g_new0(struct report, 1);

	r->decoder = REPORT_DECODER_NONE;
	r->rcpts = g_ptr_array_new_with_free_func(rcpt_free_cb);
	r->warnings = g_ptr_array_new_with_free_func(g_free);
	return r;
}

struct report_rcpt *
report_rcpt_new(const char *addr)
{
	struct report_rcpt *rc = g_new0(struct report_rcpt, 1);

	rc->recipient = g_strdup(addr);
	return rc;
}

void
report_rcpt_free(struct report_rcpt *rc)
{
	if (rc == NULL)
		return;
	rcpt_clear(rc);
	g_free(rc);
}

static void
rcpt_free_cb(gpointer p)
{
	report_rcpt_free(p);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? g_strdup(s) : NULL;
}

/* Semantics in report.h: a VERP-recovered address names the recipient. */
int
report_adopt_recipient(struct report *r, const char *addr)
{
	struct report_rcpt *rc;

	if (r == NULL || addr == NULL || addr[0] == '\0')
		return 0;
	/* a guessed recipient gives way to the envelope's certainty */
	if (r->rcpts->len == 1 && ((struct report_rcpt *)g_ptr_array_index(r->rcpts, 0))->inferred)
		g_ptr_array_remove_index(r->rcpts, 0);
	if (r->rcpts->len == 0) {
		const struct report_rcpt *u = &r->unnamed;

		if (u->class == REPORT_CLASS_NONE)
			return 0;
		rc = report_rcpt_new(addr);
		rc->class = u->class;
		rc->reason = u->reason;
		rc->scope = u->scope;
		memcpy(rc->status, u->status, sizeof(rc->status));
		memcpy(rc->replycode, u->replycode, sizeof(rc->replycode));
		rc->action = dup_or_null(u->action);
		rc->diagnostic = dup_or_null(u->diagnostic);
		rc->diagnostic_type = dup_or_null(u->diagnostic_type);
		rc->remote_mta = dup_or_null(u->remote_mta);
		rc->smtp_command = dup_or_null(u->smtp_command);
		rc->category = dup_or_null(u->category);
		rc->rule = u->rule;
		g_ptr_array_add(r->rcpts, rc);
		return 1;
	}
	if (r->rcpts->len > 1)
		return 0;
	rc = g_ptr_array_index(r->rcpts, 0);
	if (strcmp(rc->recipient, addr) == 0)
		return 0;
	if (rc->final_recipient == NULL)
		rc->final_recipient = rc->recipient;
	else
		g_free(rc->recipient);
	rc->recipient = g_strdup(addr);
	return 1;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	g_free(r->reporting_mta);
	g_free(r->orig_message_id);
	g_free(r->orig_sender);
	g_free(r->orig_queue_id);
	g_free(r->feedback_type);
	g_free(r->subject);
	if (r->rcpts != NULL)
		g_ptr_array_free(r->rcpts, TRUE);
	rcpt_clear(&r->unnamed);
	if (r->warnings != NULL)
		g_ptr_array_free(r->warnings, TRUE);
	g_free(r);
}
