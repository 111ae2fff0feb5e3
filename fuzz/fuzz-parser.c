/* SPDX-License-Identifier: MIT */
/*
 * fuzz-parser.c - libFuzzer target for the parser: any bytes through
 * report_parse(), then what the store and bouncectl do with a report
 * (read every field, adopt a VERP address, free).  Built with
 * -Dfuzz=true, clang and -Db_sanitize=address,undefined; run by
 * tests/tools/fuzz-run.  A crash found here becomes a fixture under
 * tests/fixtures/robust/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_limits lim;
	struct report *r;
	size_t n = 0;

	report_limits_default(&lim);
	lim.max_bytes = 1u << 20;
	/* half of the inputs with GMime's warnings, to fuzz that path too */
	lim.gmime_warnings = size > 0 && (data[0] & 1) ? REPORT_GMIME_WARNINGS_ALWAYS :
		REPORT_GMIME_WARNINGS_ON_TROUBLE;
	r = report_parse((const char *)data, size, &lim);
	if (r == NULL)
		__builtin_trap();
	n += touch(report_decoder_name(r->decoder)) + touch(r->mta) + touch(r->reporting_mta) +
		touch(r->orig_message_id) + touch(r->orig_sender) + touch(r->feedback_type) +
		touch(r->subject);
	for (unsigned i = 0; i < r->rcpts->len; i++) {
		const struct report_rcpt *rc = g_ptr_array_index(r->rcpts, i);

		if (rc->recipient == NULL || rc->recipient[0] == '\0')
			__builtin_trap();   /* report.h: never NULL */
		if (rc->status[0] != '\0' && !report_status_valid(rc->status))
			__builtin_trap();   /* statuses go through the validator */
		n += touch(rc->recipient) + touch(rc->final_recipient) + touch(rc->action) +
			touch(rc->diagnostic) + touch(rc->diagnostic_type) + touch(rc->remote_mta) +
			touch(rc->smtp_command) + touch(rc->category) + touch(rc->rule) +
			touch(report_class_name(rc->class)) + touch(report_reason_name(rc->reason)) +
			touch(report_scope_name(rc->scope)) + strlen(rc->status) + strlen(rc->replycode);
		if (rc->diagnostic != NULL && strlen(rc->diagnostic) > lim.max_field)
			__builtin_trap();   /* bounded output */
	}
	for (unsigned i = 0; i < r->warnings->len; i++)
		n += touch(g_ptr_array_index(r->warnings, i));
	if (r->rcpts->len > lim.max_rcpts || r->warnings->len > 64)
		__builtin_trap();
	(void)report_adopt_recipient(r, "verp@example.com");
	report_free(r);
	return n == (size_t)-1;
}
