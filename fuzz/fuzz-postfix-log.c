/* SPDX-License-Identifier: MIT */
/*
 * fuzz-postfix-log.c - libFuzzer target: Postfix log lines
 * (parser/postfix-log.h).  Any input, as a syslog line and as a journal
 * MESSAGE, parses or is refused; every field stays NUL-terminated within
 * its bound, and a delivery line's recipient classifies.  Never a crash or
 * a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "postfix-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct report_log_entry *e, int r)
{
	struct report_rcpt *rc;

	if (r < -1 || r > 1 || (r != 1 && e->kind != REPORT_LOG_OTHER))
		abort();
	if (strlen(e->text) > REPORT_LOG_TEXT_MAX || strlen(e->queue_id) > REPORT_LOG_QID_MAX ||
	    strlen(e->rcpt) > REPORT_ADDR_MAX || strlen(e->relay) > REPORT_LOG_FIELD_MAX)
		abort();
	if (e->dsn[0] != '\0' && !report_status_valid(e->dsn))
		abort();
	rc = report_log_rcpt(e);
	if (rc != NULL && (e->kind != REPORT_LOG_DELIVERY || rc->rule == NULL))
		abort();
	report_rcpt_free(rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_log_entry *e = malloc(sizeof(*e));

	if (e == NULL)
		return 0;
	check(e, report_log_parse((const char *)data, size, 1796470000, e));
	check(e, report_log_parse_message("postfix/smtp", 12, (const char *)data, size, 1, e));
	free(e);
	return 0;
}
