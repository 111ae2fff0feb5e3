/* SPDX-License-Identifier: MIT */
/*
 * maintain.c - the store's maintenance writes: GDPR erasure, re-evaluation
 * of stored bounces with the current parser and policy, and the retention
 * purge of raw bounces.
 * (In progress: these return -1 "not implemented yet" until the next commit.)
 */
#include <string.h>

#include "store-int.h"

int
store_forget(struct store *s, const char *norm, const char *actor, time_t now,
    struct store_forget_result *r, GArray *changes)
{
	(void)norm; (void)actor; (void)now; (void)changes;
	memset(r, 0, sizeof(*r));
	return store_failf(s, STORE_ERR_INTERNAL, "forget: not implemented yet");
}

int
store_reevaluate(struct store *s, int dry_run, time_t now, GPtrArray *diffs, GArray *changes)
{
	(void)dry_run; (void)now; (void)diffs; (void)changes;
	return store_failf(s, STORE_ERR_INTERNAL, "reevaluate: not implemented yet");
}

void
store_reeval_diff_free(struct store_reeval_diff *d)
{
	if (d == NULL)
		return;
	g_free(d->address);
	g_free(d);
}

int64_t
store_purge(struct store *s, time_t now)
{
	(void)now;
	return store_failf(s, STORE_ERR_INTERNAL, "purge: not implemented yet");
}
