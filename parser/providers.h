/* SPDX-License-Identifier: MIT */
/*
 * providers.h - parser-private: the table of the big mailbox providers'
 * own error codes and phrases (Orange, La Poste, SFR, Free, Microsoft,
 * Gmail, Yahoo/AOL, GoDaddy, iCloud), consulted before the generic rule table.
 *
 * A provider's code says more than the generic words around it: Orange's
 * "OFR005_505" is an antispam refusal of our IP even after DATA, a GoDaddy
 * "IB" code is about our sending rate even with a 5.1.1.  Each row says
 * what the code means, the verdict (reason, scope; hard only for a dead
 * mailbox), and the provider's page it comes from.  doc/providers.md is
 * generated from the table (test-providers --markdown) and checked against
 * it; each row has a fixture under tests/fixtures/providers/.
 *
 * A row applies only when one of its provider's markers occurs in the
 * diagnostic text or the remote host name: the markers keep the table
 * cheap (most bounces skip every row) and keep a code from being read in
 * another provider's reply.
 */
#ifndef BOUNCED_PROVIDERS_H
#define BOUNCED_PROVIDERS_H

#include <stddef.h>

#include "classify.h"

/* Longest remote host name looked at (a DNS name is at most 253 bytes). */
#define PROVIDERS_HOST_MAX 256

/* One provider: its name and the markers that gate its rows. */
struct provider {
	const char *name;              /* "orange" (rule names: "provider:orange:...") */
	const char *label;             /* "Orange (orange.fr, wanadoo.fr)" for the doc */
	const char *const *markers;    /* lowercase; one must occur in the text or the host */
};

/*
 * One row.  rule holds the name ("provider:<provider>:<code>"), the usual
 * classify conditions (status, reply, stage, text: any of the phrases),
 * reason, scope and flags (CLASSIFY_HARD only for a dead mailbox).  token,
 * when set, is a code family that must occur in the text or the status as
 * a word, followed by a number in [lo, hi]: "ofr" matches "OFR_999" and
 * "OFR004_104" (the number after '_'), "tss" matches "TSS04", "5.7."
 * matches "5.7.606".
 */
struct provider_row {
	struct classify_rule rule;
	unsigned provider;             /* index into providers_list() */
	const char *token;
	unsigned lo, hi;
	const char *code;              /* as an admin reads it: "OFR_9xx", "5.7.606-5.7.649" */
	const char *meaning;           /* one line */
	const char *source;            /* the provider's page (URL), or where the fact comes from */
};

/* The tables (static storage) and their lengths. */
const struct provider *providers_list(size_t *count_r);
const struct provider_row *providers_rows(size_t *count_r);

/*
 * The first row that decides in (a failure report; never a delivery
 * report, complaint or auto-reply), or NULL.  remote is the Remote-MTA
 * host (any case) or NULL.  Pure and reentrant.
 */
const struct provider_row *providers_match(const struct classify_input *in, const char *remote);

#endif
