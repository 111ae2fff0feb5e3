/* SPDX-License-Identifier: MIT */
/*
 * decode-ses.c - Amazon SES notifications delivered by mail: a JSON
 * document (often wrapped in an SNS envelope whose "Message" member holds
 * the JSON as a string) with notificationType Bounce, Complaint or
 * Delivery.  The fields map one to one onto a DSN's: bouncedRecipients[]
 * {emailAddress, action, status, diagnosticCode}, complainedRecipients[],
 * delivery.recipients[]; bounceType/bounceSubType ("Permanent/NoEmail")
 * become the recipient's category.
 */
#include <string.h>

#include "decode.h"
#include "json.h"

static void ses_bounce(struct msg *m, const struct json *n);
static void ses_complaint(struct msg *m, const struct json *n);
static void ses_delivery(struct msg *m, const struct json *n);

static void
ses_bounce(struct msg *m, const struct json *n)
{
	const struct json *b = parser_json_get(n, "bounce");
	const struct json *list = parser_json_get(b, "bouncedRecipients");
	const char *type = parser_json_str(b, "bounceType"), *sub = parser_json_str(b, "bounceSubType");
	const char *mta = parser_json_str(b, "reportingMTA");

	if (list == NULL || list->type != JSON_ARRAY)
		return;
	if (mta != NULL && m->r->reporting_mta == NULL) {
		const char *semi = strchr(mta, ';');

		m->r->reporting_mta = g_strstrip(g_strdup(semi != NULL ? semi + 1 : mta));
	}
	for (guint i = 0; i < list->items->len; i++) {
		const struct json *e = g_ptr_array_index(list->items, i);
		const char *a = parser_json_str(e, "emailAddress"), *v;
		char *addr = a != NULL ? parser_addr_parse(a, strlen(a)) : NULL;
		struct report_rcpt *rc;

		if (addr == NULL || (rc = parser_msg_add_rcpt(m, addr)) == NULL)
			continue;
		if ((v = parser_json_str(e, "action")) != NULL && rc->action == NULL)
			rc->action = g_ascii_strdown(v, -1);
		else if (rc->action == NULL)
			rc->action = g_strdup("failed");
		if ((v = parser_json_str(e, "status")) != NULL && report_status_valid(v))
			g_strlcpy(rc->status, v, sizeof(rc->status));
		if ((v = parser_json_str(e, "diagnosticCode")) != NULL) {
			const char *semi = strchr(v, ';');

			if (semi != NULL && semi - v < 32) {
				if (rc->diagnostic_type == NULL) {
					rc->diagnostic_type = g_ascii_strdown(v, semi - v);
					g_strstrip(rc->diagnostic_type);
				}
				v = semi + 1;
			}
			parser_msg_set_text(m, &rc->diagnostic, v, strlen(v));
		}
		if (type != NULL && rc->category == NULL) {
			char *cat = sub != NULL ? g_strconcat(type, "/", sub, NULL) : g_strdup(type);

			rc->category = g_ascii_strdown(cat, -1);
			g_free(cat);
		}
	}
}

static void
ses_complaint(struct msg *m, const struct json *n)
{
	const struct json *c = parser_json_get(n, "complaint");
	const struct json *list = parser_json_get(c, "complainedRecipients");
	const char *type = parser_json_str(c, "complaintFeedbackType");

	m->r->feedback_type = g_ascii_strdown(type != NULL ? type : "abuse", -1);
	if (list == NULL || list->type != JSON_ARRAY)
		return;
	for (guint i = 0; i < list->items->len; i++) {
		const struct json *e = g_ptr_array_index(list->items, i);
		const char *a = parser_json_str(e, "emailAddress");
		char *addr = a != NULL ? parser_addr_parse(a, strlen(a)) : NULL;

		struct report_rcpt *rc;

		if (addr != NULL && (rc = parser_msg_add_rcpt(m, addr)) != NULL && rc->category == NULL)
			rc->category = g_strdup("complaint");
	}
}

static void
ses_delivery(struct msg *m, const struct json *n)
{
	const struct json *d = parser_json_get(n, "delivery");
	const struct json *list = parser_json_get(d, "recipients");
	const char *resp = parser_json_str(d, "smtpResponse");

	if (list == NULL || list->type != JSON_ARRAY)
		return;
	for (guint i = 0; i < list->items->len; i++) {
		const struct json *e = g_ptr_array_index(list->items, i);
		char *addr = e->type == JSON_STRING ? parser_addr_parse(e->str, strlen(e->str)) : NULL;
		struct report_rcpt *rc;

		if (addr == NULL || (rc = parser_msg_add_rcpt(m, addr)) == NULL)
			continue;
		if (rc->action == NULL)
			rc->action = g_strdup("delivered");
		if (resp != NULL)
			parser_msg_set_text(m, &rc->diagnostic, resp, strlen(resp));
	}
}

int
parser_decode_ses(struct msg *m)
{
	const char *text = m->text->str, *brace;
	struct json *root, *inner = NULL;
	const struct json *n;
	const char *type, *msgstr, *src;
	unsigned before = m->r->rcpts->len;

	if (strstr(m->lower, "notificationtype") == NULL && strstr(m->lower, "eventtype") == NULL)
		return 0;
	brace = strchr(text, '{');
	if (brace == NULL)
		return 0;
	root = parser_json_parse(brace, strlen(brace));
	if (root == NULL)
		return 0;
	n = root;
	if ((msgstr = parser_json_str(root, "Message")) != NULL) {
		/* SNS envelope: the notification is a JSON string inside */
		inner = parser_json_parse(msgstr, strlen(msgstr));
		if (inner != NULL)
			n = inner;
	}
	type = parser_json_str(n, "notificationType");
	if (type == NULL)
		type = parser_json_str(n, "eventType");
	if (type == NULL) {
		parser_json_free(inner);
		parser_json_free(root);
		return 0;
	}
	if (g_ascii_strcasecmp(type, "Bounce") == 0)
		ses_bounce(m, n);
	else if (g_ascii_strcasecmp(type, "Complaint") == 0)
		ses_complaint(m, n);
	else if (g_ascii_strcasecmp(type, "Delivery") == 0)
		ses_delivery(m, n);
	if (m->r->rcpts->len == before && m->r->feedback_type == NULL) {
		parser_json_free(inner);
		parser_json_free(root);
		return 0;
	}
	src = parser_json_str(parser_json_get(n, "mail"), "source");
	if (src != NULL && m->r->orig_sender == NULL)
		m->r->orig_sender = parser_addr_parse(src, strlen(src));
	parser_json_free(inner);
	parser_json_free(root);
	if (m->r->rcpts->len == before)
		m->unnamed = 1;
	return 1;
}
