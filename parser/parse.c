/* SPDX-License-Identifier: MIT */
/*
 * parse.c - entry point of the parser: GMime tree -> decoders -> classify.
 * (Foundation placeholder: finds nothing yet; the decoders land with issue 2.)
 */
#include <string.h>

#include "report.h"

struct report *
report_parse(const char *buf, size_t len, const struct report_limits *lim)
{
	struct report *r = g_new0(struct report, 1);

	(void)buf;
	(void)len;
	(void)lim;
	r->decoder = "none";
	r->rcpts = g_ptr_array_new();
	r->warnings = g_ptr_array_new_with_free_func(g_free);
	return r;
}

int
report_adopt_recipient(struct report *r, const char *addr)
{
	(void)r;
	(void)addr;
	return 0;
}
