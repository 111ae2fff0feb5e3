/* SPDX-License-Identifier: MIT */
/*
 * providers.c - the mailbox providers' own codes and phrases, as data
 * (providers.h says how a row matches).  classify_rcpt() asks this table
 * first; a row that matches decides class, reason and scope, and its name
 * ("provider:orange:OFR_9xx") is the rule bouncectl parse shows.
 *
 * What the rows encode (the providers' pages, cited per row):
 *  - a refusal of OUR server (IP block, rate limit, reputation, antispam
 *    verdict on our traffic) is scope sender: never hard, and the store
 *    opens an incident for the provider (policy.provider_groups groups
 *    Orange, La Poste and SFR, which share antispam tools);
 *  - Orange and La Poste number their replies alike (OFR/LPN, digits, "_"
 *    or "-", a three-digit code, with a bilingual text): 1xx and 2xx
 *    connection and rate refusals, 4xx sender and recipient verdicts, 5xx
 *    antispam refusals after DATA, 6xx client refusals, 9xx IP
 *    suspensions.  Only their "invalid recipient" reply is hard;
 *  - a code outranks the generic words around it: a GoDaddy "IB" code
 *    with a 5.1.1 is still about our sending, not about the address.
 *
 * Facts come from the pages named in .source; no text was copied from them.
 */
#include <string.h>

#include <glib.h>

#include "providers.h"

#define TEXT(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define R(x) REPORT_REASON_##x
#define S(x) REPORT_SCOPE_##x
#define HARD CLASSIFY_HARD

enum {
	P_ORANGE,
	P_LAPOSTE,
	P_SFR,
	P_FREE,
	P_MICROSOFT,
	P_GMAIL,
	P_YAHOO,
	P_GODADDY,
	P_ICLOUD,
	P_COUNT
};

static const struct provider providers[P_COUNT] = {
	[P_ORANGE] = { "orange", "Orange (orange.fr, wanadoo.fr)", TEXT("ofr") },
	[P_LAPOSTE] = { "laposte", "La Poste (laposte.net)", TEXT("lpn") },
	[P_SFR] = { "sfr", "SFR (sfr.fr, neuf.fr, cegetel.net, club-internet.fr, numericable.fr...)",
		TEXT("sfr") },
	[P_FREE] = { "free", "Free (free.fr, aliceadsl.fr, libertysurf.fr)",
		TEXT("free.fr", "proxad.net") },
	[P_MICROSOFT] = { "microsoft", "Microsoft (outlook.com, hotmail.*, live.*, msn.com, Microsoft 365)",
		TEXT("outlook.com", "hotmail", "live.com", "office.com", "office365", "microsoft",
		"msn.com", "s3150", "s3140") },
	[P_GMAIL] = { "gmail", "Gmail and Google Workspace (gmail.com, googlemail.com)",
		TEXT("gsmtp", "google.com") },
	[P_YAHOO] = { "yahoo", "Yahoo and AOL (yahoo.*, ymail.com, aol.com)",
		TEXT("yahoo", "aol.com", "[ts", "[ph0") },
	[P_GODADDY] = { "godaddy", "GoDaddy (secureserver.net)",
		TEXT("secureserver.net", "godaddy", "bizsmtp", "ibsmtp", "recipients this hour",
		"messages this hour") },
	[P_ICLOUD] = { "icloud", "Apple iCloud Mail (icloud.com, me.com, mac.com)",
		TEXT("icloud.com", "apple.com") },
};

#define ORANGE_URL "https://postmaster.orange.fr/"
#define LAPOSTE_SRC "no public list found: the reply's own text, numbered as Orange's"
#define SFR_URL "https://www.postmastery.com/all-about-isp-sfr-and-smtp-error-codes-sfr_in_xxx/"
#define FREE_URL "https://postmaster.free.fr/"
#define MS_NDR_URL "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/" \
	"non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online"
#define MS_606_URL "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/" \
	"non-delivery-reports-in-exchange-online/fix-error-code-5-7-606-through-5-7-649-in-exchange-online"
#define MS_OLC_URL "https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx"
#define MS_LIVE_URL "https://postmaster.live.com"
#define GMAIL_URL "https://support.google.com/a/answer/3726730"
#define YAHOO_URL "https://senders.yahooinc.com/smtp-error-codes/"
#define AOL_URL "http://postmaster.info.aol.com/errors/ (named in each reply; now Yahoo's sender hub)"
#define ICLOUD_SRC "no public code list found: the reply's own words (Apple's postmaster page, " \
	"https://support.apple.com/en-us/HT204137, is linked from the replies)"
#define GODADDY_URL "https://www.godaddy.com/help/fix-rejected-email-with-a-bounce-error-40685"

/* Orange's and La Poste's words for a recipient that does not exist. */
#define FR_UNKNOWN "destinataire invalide", "invalid recipient", "destinataire inconnu", \
	"utilisateur inconnu", "adresse inconnue", "user unknown", "unknown user", "no such user"

/*
 * The rows Orange and La Poste share: P is the provider, prov its name,
 * tok the code family (lowercase), TOK as written.  The phrase rows come
 * first: they decide whatever the number.
 */
#define FR_ROWS(P, prov, tok, TOK, src) \
	{ .rule = { .name = "provider:" prov ":unknown-user", .text = TEXT(FR_UNKNOWN), \
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD }, \
	  .provider = P, .token = tok, .lo = 0, .hi = 999, \
	  .code = TOK "nnn_nnn \"destinataire invalide / invalid recipient\"", \
	  .meaning = "the recipient does not exist (the only hard " TOK " reply)", .source = src }, \
	{ .rule = { .name = "provider:" prov ":mailbox-full", .text = TEXT("boite du destinataire pleine", \
		"overquota", "over quota", "mailbox full"), \
		.reason = R(MAILBOXFULL), .scope = S(ADDRESS) }, \
	  .provider = P, .token = tok, .lo = 0, .hi = 999, \
	  .code = TOK "nnn_nnn \"boite du destinataire pleine / recipient overquota\"", \
	  .meaning = "the recipient's mailbox is full", .source = src }, \
	{ .rule = { .name = "provider:" prov ":account-blocked", .text = TEXT("compte du destinataire est bloque", \
		"recipient account is blocked", "destinataire archive", "archived recipient"), \
		.reason = R(SUSPEND), .scope = S(ADDRESS) }, \
	  .provider = P, .token = tok, .lo = 0, .hi = 999, \
	  .code = TOK "nnn_nnn \"compte du destinataire est bloque / recipient account is blocked\"", \
	  .meaning = "the recipient's account is blocked or archived: it exists", .source = src }, \
	{ .rule = { .name = "provider:" prov ":invalid-sender", .text = TEXT("emetteur invalide", "invalid sender", \
		"not owned by user"), \
		.reason = R(REJECTED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 0, .hi = 999, \
	  .code = TOK "nnn_nnn \"emetteur invalide / invalid sender\"", \
	  .meaning = "our envelope sender is refused", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_305", .reason = R(SECURITYERROR), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 305, .hi = 305, .code = TOK "nnn_305", \
	  .meaning = "our SMTP authentication code is refused", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_401", .reason = R(AUTHFAILURE), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 401, .hi = 401, .code = TOK "nnn_401", \
	  .meaning = "SPF: our IP may not send for the sender's domain", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_402", .reason = R(SECURITYERROR), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 402, .hi = 402, .code = TOK "nnn_402", \
	  .meaning = "authentication required of us", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_423", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 423, .hi = 424, .code = TOK "nnn_423, " TOK "nnn_424", \
	  .meaning = "service refused to our IP: try later", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_514", .reason = R(MESGTOOBIG), .scope = S(MESSAGE) }, \
	  .provider = P, .token = tok, .lo = 514, .hi = 514, .code = TOK "nnn_514", \
	  .meaning = "this message is over the size limit", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_104", .reason = R(TOOMANYCONN), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 104, .hi = 104, .code = TOK "nnn_104", \
	  .meaning = "too many connections from our IP", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_1xx", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 100, .hi = 199, .code = TOK "nnn_1xx", \
	  .meaning = "service refused to our IP at connection (rate or reputation): try later", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_2xx", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 200, .hi = 299, .code = TOK "nnn_2xx", \
	  .meaning = "service refused to our IP: try later", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_505", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 505, .hi = 505, .code = TOK "nnn_505", \
	  .meaning = "service refused after DATA (antispam on our traffic): try later", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_5xx", .reason = R(SPAMDETECTED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 500, .hi = 599, .code = TOK "nnn_5xx", \
	  .meaning = "mail refused by the antispam after DATA (\"mail rejete\")", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_6xx", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 600, .hi = 699, .code = TOK "nnn_6xx", \
	  .meaning = "our client host is refused by policy", .source = src }, \
	{ .rule = { .name = "provider:" prov ":" TOK "_9xx", .reason = R(BLOCKED), .scope = S(SENDER) }, \
	  .provider = P, .token = tok, .lo = 900, .hi = 999, .code = TOK "nnn_9xx", \
	  .meaning = "our IP is suspended for a while after earlier refusals were ignored", .source = src }

static const struct provider_row rows[] = {
	/* -- Orange, La Poste ------------------------------------------------- */
	FR_ROWS(P_ORANGE, "orange", "ofr", "OFR", ORANGE_URL),
	FR_ROWS(P_LAPOSTE, "laposte", "lpn", "LPN", LAPOSTE_SRC),

	/* -- SFR: SFR_IN_xyz blocks an IP for two hours (spam, virus, protocol
	 *    errors, unknown users, volume); "too many errors" closes a session */
	{ .rule = { .name = "provider:sfr:SFR_IN", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_SFR, .token = "sfr_in", .lo = 0, .hi = 999, .code = "SFR_IN_xyz",
	  .meaning = "our IP is blocked for two hours (spam, virus, protocol errors, unknown users, volume)",
	  .source = SFR_URL },
	{ .rule = { .name = "provider:sfr:too-many-errors", .text = TEXT("too many errors"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_SFR, .code = "421 4.7.0 \"too many errors\"",
	  .meaning = "our session made too many SMTP errors: refused for a while", .source = SFR_URL },

	/* -- Free: strict per-IP blocking, at most 24 h ---------------------- */
	{ .rule = { .name = "provider:free:spam-detected", .text = TEXT("spam detected"),
		.reason = R(SPAMDETECTED), .scope = S(MESSAGE) },
	  .provider = P_FREE, .code = "550 \"spam detected\"",
	  .meaning = "this message was judged spam by the content filter", .source = FREE_URL },
	{ .rule = { .name = "provider:free:too-many-spams", .text = TEXT("too many spams"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_FREE, .code = "421 \"too many spams from your IP\"",
	  .meaning = "our IP sent too much spam: blocked for up to 24 h", .source = FREE_URL },
	{ .rule = { .name = "provider:free:ip-blocked", .text = TEXT("postmaster.free.fr"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_FREE, .code = "refusal pointing at postmaster.free.fr",
	  .meaning = "our IP is on Free's own block list (spam or errors): blocked for up to 24 h",
	  .source = FREE_URL },

	/* -- Microsoft (Outlook.com, Exchange Online) ------------------------ */
	{ .rule = { .name = "provider:microsoft:S3150", .text = TEXT("s3150"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .code = "550 5.7.1 ... (S3150)",
	  .meaning = "part of our network is on Microsoft's block list", .source = MS_OLC_URL },
	{ .rule = { .name = "provider:microsoft:S3140", .text = TEXT("s3140"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .code = "550 5.7.1 ... (S3140)",
	  .meaning = "part of our network is on Microsoft's block list", .source = MS_OLC_URL },
	{ .rule = { .name = "provider:microsoft:5.7.606-649", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 606, .hi = 649, .code = "5.7.606-5.7.649",
	  .meaning = "access denied, banned sending IP (delisting at sender.office.com)",
	  .source = MS_606_URL },
	{ .rule = { .name = "provider:microsoft:5.7.708", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 708, .hi = 708, .code = "550 5.7.708",
	  .meaning = "access denied, traffic not accepted from our IP", .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:4.7.650", .reason = R(BADREPUTATION), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "4.7.", .lo = 650, .hi = 650, .code = "451 4.7.650",
	  .meaning = "our IP is temporarily rate limited because of its reputation", .source = MS_LIVE_URL },
	{ .rule = { .name = "provider:microsoft:4.7.500-699", .reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "4.7.", .lo = 500, .hi = 699, .code = "4.7.500-4.7.699",
	  .meaning = "access denied to our IP for now (server busy, throttling): try later",
	  .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:5.7.501-503", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 501, .hi = 503, .code = "550 5.7.501-5.7.503",
	  .meaning = "access denied, spam abuse detected from our IP range or sending account (not this "
	  "message alone)", .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:5.7.505", .reason = R(REJECTED), .scope = S(ADDRESS) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 505, .hi = 505, .code = "550 5.7.505",
	  .meaning = "access denied, banned recipient: mail to this address is refused (not said to be gone)",
	  .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:5.7.515", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 515, .hi = 515, .code = "550 5.7.515",
	  .meaning = "our sending domain does not meet the required authentication level (SPF, DKIM, DMARC)",
	  .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:restriction", .text = TEXT("resolver.rst.notauthorized",
		"resolver.rst.sendernotauthenticated", "resolver.rst.authrequired",
		"resolver.rst.restrictedto",
		"not in allowed-senders list", "delivery not authorized"),
		.reason = R(REJECTED), .scope = S(ADDRESS) },
	  .provider = P_MICROSOFT,
	  .code = "5.7.1, 5.7.12, 5.7.13, 5.7.124, 5.7.129, 5.7.133, 5.7.134 RESOLVER.RST.NotAuthorized, "
	  "SenderNotAuthenticatedFor..., \"not in allowed-senders list\"",
	  .meaning = "this recipient (mailbox, group, public folder) accepts only listed or authenticated "
	  "senders: a refusal by the recipient, not of our server", .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:5.2.121-122", .reason = R(SPEEDING), .scope = S(ADDRESS) },
	  .provider = P_MICROSOFT, .token = "5.2.", .lo = 121, .hi = 122, .code = "550 5.2.121, 5.2.122",
	  .meaning = "the recipient's hourly receive limit is exceeded: try later", .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:5.7.511", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "5.7.", .lo = 511, .hi = 511, .code = "550 5.7.511",
	  .meaning = "access denied, banned sender (our IP or address)", .source = MS_NDR_URL },
	{ .rule = { .name = "provider:microsoft:SC", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "sc-", .lo = 1, .hi = 99, .code = "550 SC-00x",
	  .meaning = "Outlook.com refuses our IP (block list or reputation)", .source = MS_OLC_URL },
	{ .rule = { .name = "provider:microsoft:DY", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "dy-", .lo = 1, .hi = 99, .code = "550 DY-00x",
	  .meaning = "Outlook.com refuses our IP as a dynamic (residential) address", .source = MS_OLC_URL },
	{ .rule = { .name = "provider:microsoft:RP", .reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "rp-", .lo = 1, .hi = 99, .code = "421 RP-00x",
	  .meaning = "our IP exceeded Outlook.com's hourly or daily limits", .source = MS_OLC_URL },
	{ .rule = { .name = "provider:microsoft:OU", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_MICROSOFT, .token = "ou-", .lo = 1, .hi = 99, .code = "550 OU-00x",
	  .meaning = "Outlook.com refuses our IP or domain (reputation, spam complaints)",
	  .source = MS_OLC_URL },

	/* -- Gmail (every Gmail reply ends in "gsmtp") ----------------------- */
	{ .rule = { .name = "provider:gmail:5.7.26", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 26, .hi = 26, .code = "550 5.7.26",
	  .meaning = "our mail fails authentication (DMARC policy of the From domain, or no SPF/DKIM)",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.7.28", .reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "4.7.", .lo = 28, .hi = 28, .code = "421 4.7.28",
	  .meaning = "unusual rate of unsolicited mail from our IP or DKIM domain: rate limited",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.28", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 28, .hi = 28, .code = "550 5.7.28",
	  .meaning = "unusual rate of unsolicited mail from our IP or DKIM domain: blocked",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.25", .reason = R(REQUIREPTR), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 25, .hi = 25, .code = "550 5.7.25",
	  .meaning = "our sending IP has no PTR record", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:x.7.27", .status = "*.7.27",
		.reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_GMAIL, .code = "421 4.7.27, 550 5.7.27",
	  .meaning = "SPF did not pass for our mail: rate limited (4.7.27) or blocked (5.7.27)",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:x.7.29", .status = "*.7.29",
		.reason = R(SECURITYERROR), .scope = S(SENDER) },
	  .provider = P_GMAIL, .code = "421 4.7.29, 550 5.7.29",
	  .meaning = "our mail was not sent over TLS: rate limited or blocked", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:x.7.40", .status = "*.7.40",
		.reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_GMAIL, .code = "421 4.7.40, 550 5.7.40",
	  .meaning = "the From domain has no usable DMARC record: rate limited or blocked",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:unauthenticated", .text = TEXT("unauthenticated email"),
		.reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_GMAIL, .code = "550 5.7.1 \"unauthenticated email is not accepted from this domain\"",
	  .meaning = "our mail is not authenticated for its From domain", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.7.0-whitelist", .text = TEXT("not in whitelist"),
		.reason = R(BLOCKED), .scope = S(DOMAIN) },
	  .provider = P_GMAIL, .code = "421 4.7.0 \"IP not in whitelist for RCPT domain\"",
	  .meaning = "the recipient domain accepts mail only from IPs it lists: its setting, not "
	  "Gmail's verdict on our IP", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:gcdp", .text = TEXT("gcdp"),
		.reason = R(POLICYVIOLATION), .scope = S(MESSAGE) },
	  .provider = P_GMAIL, .code = "550 5.7.1 \"... violates example.com email policy - gcdp\"",
	  .meaning = "this message breaks a rule the recipient domain's administrator set", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.1-policy", .text = TEXT("has a policy that prohibited"),
		.reason = R(POLICYVIOLATION), .scope = S(ADDRESS) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 1, .hi = 1,
	  .code = "550 5.7.1 \"the user or domain ... has a policy that prohibited the mail\"",
	  .meaning = "the recipient's (or its domain's) policy refuses this mail: soft, kept per address",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.0-security", .text = TEXT("potential security issue",
		"illegal attachment"),
		.reason = R(POLICYVIOLATION), .scope = S(MESSAGE) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 0, .hi = 0,
	  .code = "552 5.7.0 \"content presents a potential security issue\"",
	  .meaning = "this message's content or attachment is blocked for security", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.7.0-rate", .text = TEXT("unusual rate", "rate limited"),
		.reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "4.7.", .lo = 0, .hi = 0,
	  .code = "421 4.7.0 \"unusual rate ... rate limited\"",
	  .meaning = "unusual rate of unsolicited mail from our IP: temporarily rate limited",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.7.0-content", .text = TEXT("nature of the content",
		"links within"),
		.reason = R(SPAMDETECTED), .scope = S(MESSAGE) },
	  .provider = P_GMAIL, .token = "4.7.", .lo = 0, .hi = 0,
	  .code = "421 4.7.0 \"suspicious due to the nature of the content\"",
	  .meaning = "this message's content or links look suspicious: deferred", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.7.0-reputation", .text = TEXT("reputation"),
		.reason = R(BADREPUTATION), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "4.7.", .lo = 0, .hi = 0,
	  .code = "421 4.7.0 \"... IP reputation\"",
	  .meaning = "our IP's reputation is too low: deferred", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.1-reputation", .text = TEXT("reputation"),
		.reason = R(BADREPUTATION), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 1, .hi = 1,
	  .code = "550 5.7.1 \"... very low reputation of the sending IP or domain\"",
	  .meaning = "our IP's or domain's reputation is too low: refused", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.1-ip-blocked", .text = TEXT("from your ip address",
		"not authorized to send email directly"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 1, .hi = 1,
	  .code = "550 5.7.1 \"... originating from your IP address ... blocked\"",
	  .meaning = "unusual rate of unsolicited mail from our IP: blocked", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.7.1-spam", .text = TEXT("likely unsolicited", "likely suspicious"),
		.reason = R(SPAMDETECTED), .scope = S(MESSAGE) },
	  .provider = P_GMAIL, .token = "5.7.", .lo = 1, .hi = 1,
	  .code = "550 5.7.1 \"this message is likely unsolicited mail\"",
	  .meaning = "this message looks like spam", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.2.1-disabled", .text = TEXT("is disabled"),
		.reason = R(SUSPEND), .scope = S(ADDRESS) },
	  .provider = P_GMAIL, .token = "5.2.", .lo = 1, .hi = 1,
	  .code = "550 5.2.1 \"the email account that you tried to reach is disabled\"",
	  .meaning = "the account exists but is disabled (it may come back): soft, kept per address",
	  .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:4.2.1-rate", .text = TEXT("too quickly", "at a rate"),
		.reason = R(SPEEDING), .scope = S(ADDRESS) },
	  .provider = P_GMAIL, .token = "4.2.", .lo = 1, .hi = 1,
	  .code = "450 4.2.1 \"receiving mail too quickly / at a rate\"",
	  .meaning = "the recipient receives mail too fast: try later", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:x.2.2-full", .text = TEXT("out of storage space"),
		.reason = R(MAILBOXFULL), .scope = S(ADDRESS) },
	  .provider = P_GMAIL,
	  .code = "452 4.2.2 / 552 5.2.2 \"out of storage space\"",
	  .meaning = "the recipient's inbox is out of storage", .source = GMAIL_URL },
	{ .rule = { .name = "provider:gmail:5.1.1", .text = TEXT("does not exist"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	  .provider = P_GMAIL, .token = "5.1.", .lo = 1, .hi = 1,
	  .code = "550 5.1.1 \"the email account that you tried to reach does not exist\"",
	  .meaning = "the account does not exist", .source = GMAIL_URL },

	/* -- Yahoo and AOL: bracketed codes in the reply --------------------- */
	{ .rule = { .name = "provider:yahoo:TSS04", .reason = R(BADREPUTATION), .scope = S(SENDER) },
	  .provider = P_YAHOO, .token = "tss", .lo = 4, .hi = 4, .code = "421 4.7.0 [TSS04]",
	  .meaning = "deferred: unexpected volume or user complaints from our IP", .source = YAHOO_URL },
	{ .rule = { .name = "provider:yahoo:TSS09", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_YAHOO, .token = "tss", .lo = 9, .hi = 11, .code = "553 5.7.2 [TSS09], [TSS11]",
	  .meaning = "all mail from our IP is deferred (blocked) for its reputation", .source = YAHOO_URL },
	{ .rule = { .name = "provider:yahoo:TSS", .reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_YAHOO, .token = "tss", .lo = 0, .hi = 99, .code = "[TSSxx]",
	  .meaning = "temporary deferral of our IP (connections, volume, complaints)", .source = YAHOO_URL },
	{ .rule = { .name = "provider:yahoo:TS", .reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_YAHOO, .token = "ts", .lo = 0, .hi = 99, .code = "[TSxx]",
	  .meaning = "temporary deferral of our IP (older form of [TSSxx])", .source = YAHOO_URL },
	{ .rule = { .name = "provider:yahoo:no-longer-valid", .text = TEXT("is no longer valid"),
		.reason = R(SUSPEND), .scope = S(ADDRESS) },
	  .provider = P_YAHOO, .code = "554 delivery error: dd ... is no longer valid",
	  .meaning = "the account is no longer active (not said to be gone): soft", .source = YAHOO_URL },
	{ .rule = { .name = "provider:yahoo:aol-DYN", .text = TEXT("dyn:t"),
		.reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_YAHOO, .code = "421 DYN:T1",
	  .meaning = "AOL throttles our IP (dynamic rate limit): try later", .source = AOL_URL },
	{ .rule = { .name = "provider:yahoo:aol-DNS", .text = TEXT("dns:nr"),
		.reason = R(REQUIREPTR), .scope = S(SENDER) },
	  .provider = P_YAHOO, .code = "421 DNS:NR",
	  .meaning = "AOL finds no reverse DNS for our IP", .source = AOL_URL },
	{ .rule = { .name = "provider:yahoo:aol-block", .text = TEXT("rly:", "hvu:", "con:b", "rtr:"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_YAHOO, .code = "554 RLY:B1, RLY:xx, HVU:B1, CON:B1, RTR:xx",
	  .meaning = "AOL refuses our IP (spam complaints, reputation, block list)", .source = AOL_URL },
	{ .rule = { .name = "provider:yahoo:PH01", .reason = R(POLICYVIOLATION), .scope = S(MESSAGE) },
	  .provider = P_YAHOO, .token = "ph", .lo = 1, .hi = 1, .code = "554 5.7.9 [PH01]",
	  .meaning = "this message is not accepted for policy reasons", .source = YAHOO_URL },

	/* -- GoDaddy (secureserver.net): IB codes are about our sending ------ */
	{ .rule = { .name = "provider:godaddy:rate", .text = TEXT("recipients this hour", "messages this hour",
		"sent to too many recipients"),
		.reason = R(RATELIMITED), .scope = S(SENDER) },
	  .provider = P_GODADDY, .code = "\"has sent to too many recipients this hour\"",
	  .meaning = "our sender exceeded the hourly limit (even with a 5.1.1 or 551)",
	  .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB212", .reason = R(SPAMDETECTED), .scope = S(MESSAGE) },
	  .provider = P_GODADDY, .token = "ib", .lo = 212, .hi = 212, .code = "552 ... IB212",
	  .meaning = "this message's content was judged spam", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB705", .reason = R(VIRUSDETECTED), .scope = S(MESSAGE) },
	  .provider = P_GODADDY, .token = "ib", .lo = 705, .hi = 705, .code = "552 ... IB705",
	  .meaning = "this message carries a virus", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB501", .reason = R(NOTCOMPLIANTRFC), .scope = S(MESSAGE) },
	  .provider = P_GODADDY, .token = "ib", .lo = 501, .hi = 502, .code = "550 ... IB501, IB502",
	  .meaning = "this message's From: is blank or an IP address", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB108", .reason = R(REQUIREPTR), .scope = S(SENDER) },
	  .provider = P_GODADDY, .token = "ib", .lo = 108, .hi = 108, .code = "421 ... IB108",
	  .meaning = "reverse DNS of our IP failed", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB508", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	  .provider = P_GODADDY, .token = "ib", .lo = 508, .hi = 508, .code = "550 ... IB508",
	  .meaning = "the sender domain's SPF record does not allow our IP", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB103", .reason = R(BADREPUTATION), .scope = S(SENDER) },
	  .provider = P_GODADDY, .token = "ib", .lo = 103, .hi = 103, .code = "554 ... IB103",
	  .meaning = "our IP has a poor reputation (Cloudmark)", .source = GODADDY_URL },
	{ .rule = { .name = "provider:godaddy:IB", .reason = R(BLOCKED), .scope = S(SENDER) },
	  .provider = P_GODADDY, .token = "ib", .lo = 0, .hi = 999, .code = "IBnnn",
	  .meaning = "refused for our sending rate or reputation (even with a 5.1.1 or 551)",
	  .source = GODADDY_URL },

	/* -- Apple iCloud: words, no codes of its own for these ------------- */
	{ .rule = { .name = "provider:icloud:inactive", .text = TEXT("inactive email address"),
		.reason = R(SUSPEND), .scope = S(ADDRESS) },
	  .provider = P_ICLOUD, .code = "550 5.1.1 \"inactive email address\"",
	  .meaning = "the address exists but is inactive (its owner may turn it back on): soft despite "
	  "the 5.1.1", .source = ICLOUD_SRC },
	{ .rule = { .name = "provider:icloud:excessive-volume", .text = TEXT("due to excessive volume"),
		.reason = R(SPEEDING), .scope = S(ADDRESS) },
	  .provider = P_ICLOUD, .code = "421 4.7.1 \"messages to <address> deferred due to excessive volume\"",
	  .meaning = "this recipient receives too much mail just now: try later", .source = ICLOUD_SRC },
};

const struct provider *
providers_list(size_t *count_r)
{
	*count_r = G_N_ELEMENTS(providers);
	return providers;
}

const struct provider_row *
providers_rows(size_t *count_r)
{
	*count_r = G_N_ELEMENTS(rows);
	return rows;
}

/*
 * Does s hold tok as a word (not after a letter, digit or dot) followed by
 * a number in [lo, hi]?  "ofr004_104", "lpn105-104": the number after the
 * '_' or '-'.
 */
static int
token_in(const char *s, const char *tok, unsigned lo, unsigned hi)
{
	size_t n = strlen(tok);

	for (const char *p = strstr(s, tok); p != NULL; p = strstr(p + 1, tok)) {
		const char *q = p + n;
		unsigned num = 0;
		int digits = 0;

		if (p > s && (g_ascii_isalnum(p[-1]) || p[-1] == '.'))
			continue;
		for (; g_ascii_isdigit(*q) && digits < 6; q++, digits++)
			num = num * 10 + (unsigned)(*q - '0');
		if ((*q == '_' || *q == '-') && g_ascii_isdigit(q[1])) {
			num = 0;
			digits = 0;
			for (q++; g_ascii_isdigit(*q) && digits < 6; q++, digits++)
				num = num * 10 + (unsigned)(*q - '0');
		}
		if (digits == 0 || g_ascii_isalnum(*q))
			continue;
		if (num >= lo && num <= hi)
			return 1;
	}
	return 0;
}

/* Does a marker of provider p occur in in's text or in remote?  The text's
 * bigrams (when given) rule most markers out without a search. */
static int
marked(unsigned p, const struct classify_input *in, const char *remote)
{
	for (const char *const *m = providers[p].markers; *m != NULL; m++) {
		if ((in->grams == NULL || classify_grams_may_hold(in->grams, *m)) &&
		    strstr(in->text, *m) != NULL)
			return 1;
		if (remote != NULL && strstr(remote, *m) != NULL)
			return 1;
	}
	return 0;
}

/* The row's code and classify conditions (its provider's markers are checked apart). */
static int
row_matches(const struct provider_row *row, const struct classify_input *in)
{
	if (row->token != NULL && !token_in(in->text, row->token, row->lo, row->hi) &&
	    !token_in(in->status, row->token, row->lo, row->hi))
		return 0;
	return classify_rule_matches(&row->rule, in);
}

const struct provider_row *
providers_match(const struct classify_input *in, const char *remote)
{
	signed char seen[P_COUNT];
	char host[PROVIDERS_HOST_MAX];
	const char *rhost = NULL;

	/* a delivery report, a complaint or an auto-reply is not a refusal */
	if (in->status[0] == '2' || strcmp(in->action, "delivered") == 0 ||
	    strcmp(in->action, "relayed") == 0 || strcmp(in->action, "expanded") == 0 ||
	    strstr(in->category, "complaint") != NULL ||
	    in->decoder == REPORT_DECODER_ARF || in->decoder == REPORT_DECODER_RFC3834)
		return NULL;
	if (remote != NULL) {
		size_t n = 0;

		for (; remote[n] != '\0' && n + 1 < sizeof(host); n++)
			host[n] = g_ascii_tolower(remote[n]);
		host[n] = '\0';
		rhost = host;
	}
	memset(seen, -1, sizeof(seen));
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		unsigned p = rows[i].provider;

		if (seen[p] < 0)
			seen[p] = (signed char)marked(p, in, rhost);
		if (seen[p] && row_matches(&rows[i], in))
			return &rows[i];
	}
	return NULL;
}
