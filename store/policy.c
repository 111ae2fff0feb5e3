/* SPDX-License-Identifier: MIT */
/*
 * policy.c - the suppression policy as a pure function of (the address's
 * events in time order, the admins' actions, the policy, now).  No SQL, no
 * clock, no allocation: store.c folds one new event into the stored state
 * at ingest, re-evaluation replays every event from an empty state, and the
 * unit tests drive it with an explicit clock.
 *
 * The rules (issue 3, and config.example.yaml):
 *  - hard (address or domain scope): suppressed at once, until the reason's
 *    TTL (ttl_reason; userunknown never expires by default);
 *  - complaint: suppressed at once, until ttl_complaint (never by default);
 *  - soft with address scope: counted.  Suppressed when at least
 *    soft_threshold of them span at least soft_min_span with no delivery in
 *    between; a count whose last soft bounce is older than soft_stale starts
 *    again (decay).  Soft failures of the domain (its MX down) are recorded
 *    but not counted against the address: the issue counts address scope
 *    only, and a hard domain failure (no such domain) already suppresses;
 *  - delivered: resets the soft count (delivered_resets) and lifts a soft
 *    suppression, whose premise it disproves; a hard or complaint one stays
 *    (a "relayed" DSN proves little, and a complaint is a person's wish);
 *  - autoreply, none: recorded, never counted;
 *  - sender scope: never touches the address; opens an incident once
 *    failures of incident_min_messages messages came within incident_window
 *    (store.c), unless it is noise (store_policy_incident_worthy):
 *    greylisting, a first-contact "try again later", bounced's own refusal;
 *  - message scope: never touches the address; recorded on the message;
 *  - manual suppress/unsuppress: take effect at their time, so an
 *    unsuppress wins over older events and a newer hard bounce suppresses
 *    again;
 *  - expiry: a suppression whose until has passed is not suppressed; the
 *    next event starts from a clean state.
 * An address already suppressed keeps its since; a new decision replaces
 * the old one only when it lasts longer (a complaint always replaces a
 * non-complaint), so a weaker event never shortens a suppression.
 */
#include <string.h>

#include "store-int.h"

static int64_t expiry(int64_t at, int64_t ttl);
static int lasts_longer(int64_t until_new, int64_t until_old);
static void expire(struct store_pstate *st, int64_t at);
static void decide(struct store_pstate *st, enum store_cause cause, const struct store_pevent *ev,
    int64_t until, const char *rule);
static void soft_reset(struct store_pstate *st);

void
store_pstate_init(struct store_pstate *st)
{
	memset(st, 0, sizeof(*st));
	st->cause = STORE_CAUSE_NONE;
	st->reason = REPORT_REASON_UNDEFINED;
	st->scope = REPORT_SCOPE_NONE;
	st->rule = "";
}

static int64_t
expiry(int64_t at, int64_t ttl)
{
	return ttl == STORE_TTL_NEVER ? STORE_TTL_NEVER : at + ttl;
}

/* 1 when a suppression until until_new outlasts one until until_old. */
static int
lasts_longer(int64_t until_new, int64_t until_old)
{
	if (until_old == STORE_TTL_NEVER)
		return 0;
	return until_new == STORE_TTL_NEVER || until_new > until_old;
}

/* A suppression whose until has passed at at is over: start clean. */
static void
expire(struct store_pstate *st, int64_t at)
{
	if (st->cause == STORE_CAUSE_NONE || st->until == STORE_TTL_NEVER || st->until > at)
		return;
	st->cause = STORE_CAUSE_NONE;
	st->rule = STORE_RULE_EXPIRED;
	st->event_id = 0;
	soft_reset(st);
}

static void
soft_reset(struct store_pstate *st)
{
	st->soft_count = 0;
	st->soft_first = 0;
	st->soft_last = 0;
}

static void
decide(struct store_pstate *st, enum store_cause cause, const struct store_pevent *ev,
    int64_t until, const char *rule)
{
	if (st->cause != STORE_CAUSE_NONE) {
		int replace = cause == STORE_CAUSE_COMPLAINT && st->cause != STORE_CAUSE_COMPLAINT;

		if (!replace && !lasts_longer(until, st->until))
			return;
	} else {
		st->since = ev->at;
	}
	st->cause = cause;
	st->reason = ev->reason;
	st->scope = ev->scope;
	g_strlcpy(st->status, ev->status != NULL ? ev->status : "", sizeof(st->status));
	st->until = until;
	st->event_id = ev->id;
	st->rule = rule;
}

enum store_peffect
store_policy_event(const struct store_policy *pol, struct store_pstate *st,
    const struct store_pevent *ev)
{
	int failure = ev->class == REPORT_CLASS_HARD || ev->class == REPORT_CLASS_SOFT;

	if (failure && ev->scope == REPORT_SCOPE_SENDER)
		return STORE_PEFFECT_INCIDENT;
	if (failure && ev->scope == REPORT_SCOPE_MESSAGE)
		return STORE_PEFFECT_MESSAGE;

	expire(st, ev->at);
	switch (ev->class) {
	case REPORT_CLASS_HARD: {
		int64_t ttl = (unsigned)ev->reason < REPORT_REASON_COUNT ?
		    pol->ttl_reason[ev->reason] : STORE_TTL_NEVER;

		decide(st, STORE_CAUSE_HARD, ev, expiry(ev->at, ttl), STORE_RULE_HARD);
		return STORE_PEFFECT_STATE;
	}
	case REPORT_CLASS_COMPLAINT:
		decide(st, STORE_CAUSE_COMPLAINT, ev, expiry(ev->at, pol->ttl_complaint),
		    STORE_RULE_COMPLAINT);
		return STORE_PEFFECT_STATE;
	case REPORT_CLASS_SOFT:
		if (ev->scope == REPORT_SCOPE_DOMAIN)
			return STORE_PEFFECT_RECORD;
		if (st->soft_count > 0 && ev->at - st->soft_last > pol->soft_stale)
			soft_reset(st);
		if (st->soft_count == 0 || ev->at < st->soft_first)
			st->soft_first = ev->at;
		if (st->soft_count == 0 || ev->at > st->soft_last)
			st->soft_last = ev->at;
		st->soft_count++;
		if (st->soft_count >= pol->soft_threshold &&
		    st->soft_last - st->soft_first >= pol->soft_min_span)
			decide(st, STORE_CAUSE_SOFT, ev, expiry(ev->at, pol->ttl_soft),
			    STORE_RULE_SOFT);
		return STORE_PEFFECT_STATE;
	case REPORT_CLASS_DELIVERED:
		if (ev->at > st->last_delivered)
			st->last_delivered = ev->at;
		if (pol->delivered_resets) {
			soft_reset(st);
			if (st->cause == STORE_CAUSE_SOFT) {
				st->cause = STORE_CAUSE_NONE;
				st->rule = STORE_RULE_DELIVERED;
				st->event_id = ev->id;
			}
		}
		return STORE_PEFFECT_STATE;
	case REPORT_CLASS_AUTOREPLY:
	case REPORT_CLASS_NONE:
	default:
		return STORE_PEFFECT_RECORD;
	}
}

void
store_policy_action(const struct store_policy *pol, struct store_pstate *st,
    const struct store_paction *act)
{
	(void)pol;
	st->manual_at = act->at;
	if (!act->suppress) {
		st->cause = STORE_CAUSE_NONE;
		st->rule = STORE_RULE_UNSUPPRESS;
		st->event_id = 0;
		soft_reset(st);
		return;
	}
	st->cause = act->cause;
	st->reason = act->reason;
	st->scope = REPORT_SCOPE_NONE;
	g_strlcpy(st->status, act->status != NULL ? act->status : "", sizeof(st->status));
	st->since = act->since != 0 ? act->since : act->at;
	st->until = act->until;
	st->event_id = 0;
	st->rule = STORE_RULE_MANUAL;
}

void
store_policy_replay(const struct store_policy *pol, const struct store_pevent *ev, size_t nev,
    const struct store_paction *act, size_t nact, struct store_pstate *st)
{
	size_t i = 0, j = 0;

	store_pstate_init(st);
	while (i < nev || j < nact) {
		if (j == nact || (i < nev && ev[i].at <= act[j].at))
			(void)store_policy_event(pol, st, &ev[i++]);
		else
			store_policy_action(pol, st, &act[j++]);
	}
}

int
store_policy_verdict(const struct store_pstate *st, int64_t now, struct store_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->cause = STORE_CAUSE_NONE;
	if (st->cause == STORE_CAUSE_NONE ||
	    (st->until != STORE_TTL_NEVER && st->until <= now))
		return 0;
	v->cause = st->cause;
	v->reason = st->reason;
	v->since = st->since;
	v->until = st->until;
	return 1;
}

const char *
store_policy_provider(const struct store_policy *pol, const char *domain)
{
	size_t dlen = strlen(domain);

	for (size_t g = 0; g < pol->ngroups; g++) {
		const struct store_provider_group *grp = &pol->groups[g];

		for (size_t i = 0; i < grp->ndomains; i++) {
			const char *d = grp->domains[i];
			size_t len = strlen(d);

			/* The domain itself or one of its subdomains. */
			if (dlen == len && g_ascii_strcasecmp(domain, d) == 0)
				return grp->name;
			if (dlen > len && domain[dlen - len - 1] == '.' &&
			    g_ascii_strcasecmp(domain + dlen - len, d) == 0)
				return grp->name;
		}
	}
	return domain;
}

/*
 * Greylisting, and deferrals a server gives on first contact, ask for a
 * retry and say nothing about our reputation: a 4xx with one of these.
 */
static const char *const greylisting[] = {
	"greylist", "graylist", "grey-list", "gray-list",
};
static const char *const first_contact[] = {
	"try again later", "please try again", "temporarily deferred", "retry later",
	"try later",
};
/* Words that make a deferral a block after all ("try again later: blocked"). */
static const char *const block_words[] = {
	"block", "blacklist", "listed", "spam", "reputation", "refus", "policy", "abuse",
	"complaint", "tss0",
};
/*
 * bounced's own socketmap answer (socketmap.c: "550 5.x.x suppressed: ..."
 * or "suppressed (domain entry): ...") quoted back in a DSN.
 */
static const char *const own_refusal[] = { " suppressed: ", " suppressed (domain entry): " };

static int
contains_any(const char *lower, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(lower, words[i]) != NULL)
			return 1;
	return 0;
}

int
store_policy_incident_worthy(const char *status, const char *diagnostic)
{
	gchar *lower;
	int temporary, worthy = 1;

	if (diagnostic == NULL || *diagnostic == '\0')
		return 1;
	lower = g_ascii_strdown(diagnostic, -1);
	temporary = (status != NULL && status[0] == '4') ||
	    (diagnostic[0] == '4' && g_ascii_isdigit(diagnostic[1]));
	if (contains_any(lower, own_refusal, G_N_ELEMENTS(own_refusal)))
		worthy = 0;
	else if (temporary && contains_any(lower, greylisting, G_N_ELEMENTS(greylisting)))
		worthy = 0;
	else if (temporary && contains_any(lower, first_contact, G_N_ELEMENTS(first_contact)) &&
	    !contains_any(lower, block_words, G_N_ELEMENTS(block_words)))
		worthy = 0;
	g_free(lower);
	return worthy;
}

/*
 * The built-in provider groups: one filtering platform behind several
 * consumer domains, so one block is one incident.  Orange, La Poste and SFR
 * share their antispam tools (a block at one is a block at the three: the
 * deliverability guide this project serves says so); Microsoft, Yahoo/AOL
 * and Google each filter all their consumer domains alike.  A config that
 * names policy.provider_groups replaces them all.
 */
static const char *const group_orange[] = { "orange.fr", "wanadoo.fr", "laposte.net",
	"sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr", "numericable.fr", "9online.fr" };
static const char *const group_microsoft[] = { "outlook.com", "hotmail.com", "hotmail.fr",
	"live.com", "live.fr", "msn.com", "outlook.fr" };
static const char *const group_yahoo[] = { "yahoo.com", "yahoo.fr", "ymail.com",
	"rocketmail.com", "aol.com", "aol.fr" };
static const char *const group_google[] = { "gmail.com", "googlemail.com" };
static const struct store_provider_group default_groups[] = {
	{ "orange", group_orange, G_N_ELEMENTS(group_orange) },
	{ "microsoft", group_microsoft, G_N_ELEMENTS(group_microsoft) },
	{ "yahoo", group_yahoo, G_N_ELEMENTS(group_yahoo) },
	{ "google", group_google, G_N_ELEMENTS(group_google) },
};

void
store_policy_default(struct store_policy *pol)
{
	const int64_t day = 86400;

	memset(pol, 0, sizeof(*pol));
	pol->soft_threshold = 3;
	pol->soft_min_span = 48 * 3600;  /* Yahoo retries greylisted mail for 48 h */
	pol->soft_stale = 7 * day;
	pol->delivered_resets = 1;
	/* A hard bounce for a reason not listed here is suppressed 30 days. */
	for (int r = 0; r < REPORT_REASON_COUNT; r++)
		pol->ttl_reason[r] = 30 * day;
	pol->ttl_reason[REPORT_REASON_USERUNKNOWN] = STORE_TTL_NEVER;
	pol->ttl_reason[REPORT_REASON_HASMOVED] = STORE_TTL_NEVER;
	pol->ttl_soft = 30 * day;
	pol->ttl_complaint = STORE_TTL_NEVER;
	pol->raw_retention = 90 * day;
	pol->incident_quiet = 24 * 3600;
	pol->incident_min_messages = 2;
	pol->incident_window = 3600;
	pol->groups = default_groups;
	pol->ngroups = G_N_ELEMENTS(default_groups);
}
