/* SPDX-License-Identifier: MIT */
/*
 * test-policy.c - the policy as a pure function (store-int.h), with an
 * explicit clock: each case is a script of events and manual actions at
 * given times, and the verdict wanted at given instants afterwards.
 * Covers: hard and complaint at once, the soft threshold, the span window,
 * decay (stale counts), reset on delivery, expiry per reason, autoreply,
 * sender and message scope, manual suppress/unsuppress order, and that a
 * replay of the script gives the state the step-by-step fold gave.
 */
#include <string.h>
#include <glib.h>

#include "store-int.h"

#define H 3600
#define D 86400
#define T0 1700000000   /* the scripts' time origin */

/* One step of a script: an event (class != -1) or a manual action. */
struct step {
	int64_t at;                   /* seconds after T0 */
	int class;                    /* enum report_class, or -1: a manual action */
	int scope;
	int reason;
	int suppress;                 /* manual: 1 suppress, 0 unsuppress */
};

/* What to ask afterwards. */
struct probe {
	int64_t at;                   /* seconds after T0 */
	enum store_cause want;
};

#define EV(t, c, s, r) { (t), REPORT_CLASS_##c, REPORT_SCOPE_##s, REPORT_REASON_##r, 0 }
#define MAN(t, sup) { (t), -1, 0, 0, (sup) }
#define HARD_UU(t) EV(t, HARD, ADDRESS, USERUNKNOWN)
#define SOFT_FULL(t) EV(t, SOFT, ADDRESS, MAILBOXFULL)
#define DELIV(t) EV(t, DELIVERED, NONE, DELIVERED)
#define END { -1, 0, 0, 0, 0 }
#define PEND { -1, 0 }

struct policy_case {
	const char *name;
	struct step steps[8];
	struct probe probes[4];
	enum store_peffect last_effect;   /* of the last event */
};

static const struct policy_case policy_cases[] = {
	{ "hard suppresses at once",
	  { HARD_UU(0), END }, { { 0, STORE_CAUSE_HARD }, { 3650 * D, STORE_CAUSE_HARD }, PEND },
	  STORE_PEFFECT_STATE },
	{ "hard domain scope suppresses the address",
	  { EV(0, HARD, DOMAIN, HOSTUNKNOWN), END },
	  { { 29 * D, STORE_CAUSE_HARD }, { 30 * D, STORE_CAUSE_NONE }, PEND },
	  STORE_PEFFECT_STATE },
	{ "complaint suppresses at once, never expires",
	  { EV(0, COMPLAINT, ADDRESS, FEEDBACK), END },
	  { { 1, STORE_CAUSE_COMPLAINT }, { 10000 * D, STORE_CAUSE_COMPLAINT }, PEND },
	  STORE_PEFFECT_STATE },
	{ "one soft: nothing",
	  { SOFT_FULL(0), END }, { { 1, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "two soft over 3 days: below threshold",
	  { SOFT_FULL(0), SOFT_FULL(3 * D), END }, { { 3 * D, STORE_CAUSE_NONE }, PEND },
	  STORE_PEFFECT_STATE },
	{ "three soft within 24 h: window not spanned (greylisting)",
	  { SOFT_FULL(0), SOFT_FULL(12 * H), SOFT_FULL(24 * H), END },
	  { { 24 * H, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "three soft spanning 48 h: suppressed",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), SOFT_FULL(48 * H), END },
	  { { 48 * H, STORE_CAUSE_SOFT }, { 48 * H + 30 * D - 1, STORE_CAUSE_SOFT },
	    { 48 * H + 30 * D, STORE_CAUSE_NONE }, PEND },
	  STORE_PEFFECT_STATE },
	{ "three soft spanning 48 h minus 1 s: not yet",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), SOFT_FULL(48 * H - 1), END },
	  { { 48 * H, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "fourth soft after the window: suppressed",
	  { SOFT_FULL(0), SOFT_FULL(1 * H), SOFT_FULL(2 * H), SOFT_FULL(50 * H), END },
	  { { 50 * H, STORE_CAUSE_SOFT }, PEND }, STORE_PEFFECT_STATE },
	{ "stale count starts again (decay)",
	  { SOFT_FULL(0), SOFT_FULL(2 * D), SOFT_FULL(2 * D + 7 * D + 1), END },
	  { { 10 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "a gap of exactly soft_stale still counts",
	  { SOFT_FULL(0), SOFT_FULL(7 * D), SOFT_FULL(8 * D), END },
	  { { 8 * D, STORE_CAUSE_SOFT }, PEND }, STORE_PEFFECT_STATE },
	{ "delivery in between resets the count",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), DELIV(30 * H), SOFT_FULL(48 * H), END },
	  { { 48 * H, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "delivery lifts a soft suppression",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), SOFT_FULL(48 * H), DELIV(50 * H), END },
	  { { 50 * H, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "delivery does not lift a hard suppression",
	  { HARD_UU(0), DELIV(H), END }, { { 2 * H, STORE_CAUSE_HARD }, PEND },
	  STORE_PEFFECT_STATE },
	{ "autoreplies never count",
	  { EV(0, AUTOREPLY, NONE, VACATION), EV(D, AUTOREPLY, NONE, VACATION),
	    EV(3 * D, AUTOREPLY, NONE, VACATION), END },
	  { { 3 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_RECORD },
	{ "domain-scope soft is not counted against the address",
	  { EV(0, SOFT, DOMAIN, NETWORKERROR), EV(D, SOFT, DOMAIN, NETWORKERROR),
	    EV(3 * D, SOFT, DOMAIN, NETWORKERROR), END },
	  { { 3 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_RECORD },
	{ "sender scope never suppresses: incident",
	  { EV(0, SOFT, SENDER, BLOCKED), EV(D, SOFT, SENDER, BLOCKED),
	    EV(3 * D, SOFT, SENDER, BLOCKED), EV(4 * D, HARD, SENDER, BADREPUTATION), END },
	  { { 4 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_INCIDENT },
	{ "message scope never suppresses",
	  { EV(0, SOFT, MESSAGE, MESGTOOBIG), EV(D, SOFT, MESSAGE, SPAMDETECTED),
	    EV(3 * D, SOFT, MESSAGE, MESGTOOBIG), EV(4 * D, HARD, MESSAGE, CONTENTERROR), END },
	  { { 4 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_MESSAGE },
	{ "manual unsuppress wins over older events",
	  { HARD_UU(0), MAN(D, 0), END }, { { D, STORE_CAUSE_NONE }, PEND },
	  STORE_PEFFECT_STATE },
	{ "a newer hard bounce suppresses again",
	  { HARD_UU(0), MAN(D, 0), HARD_UU(2 * D), END }, { { 2 * D, STORE_CAUSE_HARD }, PEND },
	  STORE_PEFFECT_STATE },
	{ "unsuppress resets the soft count",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), MAN(25 * H, 0), SOFT_FULL(48 * H), END },
	  { { 48 * H, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "manual suppress",
	  { MAN(0, 1), END }, { { 0, STORE_CAUSE_MANUAL }, { 5000 * D, STORE_CAUSE_MANUAL }, PEND },
	  STORE_PEFFECT_RECORD /* no event at all */ },
	{ "a soft suppression does not shorten a hard one",
	  { HARD_UU(0), SOFT_FULL(D), SOFT_FULL(2 * D), SOFT_FULL(3 * D), END },
	  { { 100 * D, STORE_CAUSE_HARD }, PEND }, STORE_PEFFECT_STATE },
	{ "a complaint replaces a hard suppression",
	  { HARD_UU(0), EV(D, COMPLAINT, ADDRESS, FEEDBACK), END },
	  { { 2 * D, STORE_CAUSE_COMPLAINT }, PEND }, STORE_PEFFECT_STATE },
	{ "after expiry, counting starts again",
	  { SOFT_FULL(0), SOFT_FULL(24 * H), SOFT_FULL(48 * H), SOFT_FULL(40 * D), END },
	  { { 40 * D, STORE_CAUSE_NONE }, PEND }, STORE_PEFFECT_STATE },
	{ "an expired hard (hostunknown) suppresses again on a new bounce",
	  { EV(0, HARD, DOMAIN, HOSTUNKNOWN), EV(31 * D, HARD, DOMAIN, HOSTUNKNOWN), END },
	  { { 31 * D, STORE_CAUSE_HARD }, { 60 * D, STORE_CAUSE_HARD },
	    { 61 * D, STORE_CAUSE_NONE }, PEND },
	  STORE_PEFFECT_STATE },
};

static void
run_case(const struct policy_case *c, const struct store_policy *pol)
{
	struct store_pstate st, replayed;
	struct store_pevent evs[8];
	struct store_paction acts[8];
	size_t nev = 0, nact = 0;
	enum store_peffect eff = STORE_PEFFECT_RECORD;

	store_pstate_init(&st);
	for (const struct step *s = c->steps; s->at >= 0; s++) {
		if (s->class >= 0) {
			struct store_pevent *e = &evs[nev++];

			memset(e, 0, sizeof(*e));
			e->id = (int64_t)nev;
			e->at = T0 + s->at;
			e->class = (enum report_class)s->class;
			e->scope = (enum report_scope)s->scope;
			e->reason = (enum report_reason)s->reason;
			e->status = s->class == REPORT_CLASS_HARD ? "5.1.1" : "4.2.2";
			eff = store_policy_event(pol, &st, e);
		} else {
			struct store_paction *a = &acts[nact++];

			memset(a, 0, sizeof(*a));
			a->at = T0 + s->at;
			a->suppress = s->suppress;
			a->cause = STORE_CAUSE_MANUAL;
			a->reason = REPORT_REASON_UNDEFINED;
			a->until = STORE_TTL_NEVER;
			store_policy_action(pol, &st, a);
		}
	}
	if (eff != c->last_effect)
		g_error("\"%s\": last effect got %d want %d", c->name, eff, c->last_effect);

	/* Replay gives the same state as the fold (re-evaluation relies on it). */
	store_policy_replay(pol, evs, nev, acts, nact, &replayed);
	if (replayed.cause != st.cause || replayed.since != st.since ||
	    replayed.until != st.until || replayed.soft_count != st.soft_count ||
	    strcmp(replayed.rule, st.rule) != 0)
		g_error("\"%s\": replay differs from the fold", c->name);

	for (const struct probe *p = c->probes; p->at >= 0; p++) {
		struct store_verdict v;
		int got = store_policy_verdict(&st, T0 + p->at, &v);

		if (v.cause != p->want || got != (p->want != STORE_CAUSE_NONE))
			g_error("\"%s\" at T0+%" G_GINT64_FORMAT ": got %s want %s", c->name,
			    (gint64)p->at, store_cause_name(v.cause), store_cause_name(p->want));
	}
}

static void
test_cases(void)
{
	struct store_policy pol;

	store_policy_default(&pol);
	for (size_t i = 0; i < G_N_ELEMENTS(policy_cases); i++)
		run_case(&policy_cases[i], &pol);
}

static void
test_knobs(void)
{
	struct store_policy pol;
	struct store_pstate st;
	struct store_pevent ev = { 1, T0, REPORT_CLASS_SOFT, REPORT_REASON_MAILBOXFULL,
	    REPORT_SCOPE_ADDRESS, "4.2.2" };
	struct store_verdict v;

	/* Threshold 1 and no span: the first soft bounce suppresses. */
	store_policy_default(&pol);
	pol.soft_threshold = 1;
	pol.soft_min_span = 0;
	store_pstate_init(&st);
	store_policy_event(&pol, &st, &ev);
	g_assert_cmpint(store_policy_verdict(&st, T0, &v), ==, 1);
	g_assert_cmpint(v.cause, ==, STORE_CAUSE_SOFT);
	g_assert_cmpint(v.until, ==, T0 + 30 * D);
	g_assert_cmpstr(st.rule, ==, STORE_RULE_SOFT);

	/* delivered_resets off: a delivery keeps the count. */
	store_policy_default(&pol);
	pol.delivered_resets = 0;
	store_pstate_init(&st);
	store_policy_event(&pol, &st, &ev);
	ev.class = REPORT_CLASS_DELIVERED;
	ev.at = T0 + H;
	store_policy_event(&pol, &st, &ev);
	g_assert_cmpuint(st.soft_count, ==, 1);
	g_assert_cmpint(st.last_delivered, ==, T0 + H);

	/* Per-reason TTL: userunknown never, a configured one expires. */
	store_policy_default(&pol);
	pol.ttl_reason[REPORT_REASON_USERUNKNOWN] = 10 * D;
	store_pstate_init(&st);
	ev.class = REPORT_CLASS_HARD;
	ev.reason = REPORT_REASON_USERUNKNOWN;
	ev.at = T0;
	store_policy_event(&pol, &st, &ev);
	g_assert_cmpint(store_policy_verdict(&st, T0 + 10 * D - 1, &v), ==, 1);
	g_assert_cmpint(store_policy_verdict(&st, T0 + 10 * D, &v), ==, 0);

	/* A second hard keeps the first since. */
	ev.at = T0 + D;
	store_policy_event(&pol, &st, &ev);
	g_assert_cmpint(st.since, ==, T0);
	g_assert_cmpint(st.until, ==, T0 + 11 * D);
}

static void
test_provider(void)
{
	static const char *const orange[] = { "orange.fr", "wanadoo.fr", "laposte.net", "sfr.fr" };
	static const struct store_provider_group groups[] = {
		{ "orange", orange, G_N_ELEMENTS(orange) },
	};
	static const struct {
		const char *domain;
		const char *want;
	} cases[] = {
		{ "orange.fr", "orange" },
		{ "wanadoo.fr", "orange" },
		{ "LaPoste.net", "orange" },
		{ "mail.sfr.fr", "orange" },
		{ "notsfr.fr", "notsfr.fr" },
		{ "gmail.com", "gmail.com" },
	};
	struct store_policy pol;

	store_policy_default(&pol);
	pol.groups = groups;
	pol.ngroups = G_N_ELEMENTS(groups);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *got = store_policy_provider(&pol, cases[i].domain);

		if (strcmp(got, cases[i].want) != 0)
			g_error("%s: got %s want %s", cases[i].domain, got, cases[i].want);
	}
}

/* Issue 17: what may open an incident. */
static void
test_incident_worthy(void)
{
	static const struct {
		const char *status, *diag;
		int want;
	} cases[] = {
		{ "4.2.0", "450 4.2.0 <a@b.fr>: Recipient address rejected: Greylisted", 0 },
		{ "4.7.1", "451 4.7.1 Please try again later (greylisting)", 0 },
		{ "", "451 4.7.1 Try again later", 0 },
		{ "4.7.0", "421 4.7.0 Try again later, closing connection", 0 },
		{ "4.7.1", "421 Service refuse, try again later. OFR_506 [506]", 1 },
		{ "4.7.0", "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints", 1 },
		{ "5.7.1", "550 5.7.1 Greylisted? no: your IP is blacklisted", 1 },
		{ "5.7.1", "550 5.7.1 <q@x>: Recipient address rejected: suppressed: complaint "
		    "abuse since 2026-01-01T00:00:00Z", 0 },
		{ "5.1.1", "550 5.1.1 <q@x>: Recipient address rejected: suppressed (domain entry): "
		    "hard hostunknown since 2026-01-01T00:00:00Z", 0 },
		{ "5.7.1", "550 5.7.1 Service refuse. Veuillez essayer plus tard. OFR_506", 1 },
		{ "5.7.1", NULL, 1 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		int got = store_policy_incident_worthy(cases[i].status, cases[i].diag);

		if (got != cases[i].want)
			g_error("%s: got %d want %d", cases[i].diag ? cases[i].diag : "(null)", got,
			    cases[i].want);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/cases", test_cases);
	g_test_add_func("/policy/knobs", test_knobs);
	g_test_add_func("/policy/provider", test_provider);
	g_test_add_func("/policy/incident-worthy", test_incident_worthy);
	return g_test_run();
}
