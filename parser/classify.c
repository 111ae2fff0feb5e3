/* SPDX-License-Identifier: MIT */
/*
 * classify.c - the rule table that turns what a report says about one
 * recipient (RFC 3463 status, SMTP reply code, the SMTP stage, the
 * diagnostic text, the decoder) into a reason, a scope and a class.
 *
 * The table is read top to bottom; the first row whose conditions all hold
 * decides.  The order is the order of evidence, strongest first:
 *
 *   0. the format itself (ARF complaint, RFC 3834 auto-reply, SES JSON);
 *   1. delivery reports (2.x.x, Action delivered/relayed/expanded);
 *   2. failures that are about US (our IP, our domain, our authentication,
 *      our sending rate, our HELO name, our envelope sender): scope sender,
 *      never hard.  They come first because remote servers
 *      often dress them up in recipient words ("550 5.1.1 ... blocked using
 *      Spamhaus", "5.1.1 ... has sent to too many recipients");
 *   3. failures about THIS MESSAGE (size, content, spam, virus, policy):
 *      scope message, never hard; then any refusal at MAIL FROM, HELO or
 *      the greeting, before a recipient was named: scope sender;
 *   4. soft states of an existing mailbox (full, disabled or suspended, over
 *      rate, refusing us by its own preferences): scope address, soft, even
 *      under an x.1.1 status;
 *   5. the address or domain is dead: hard when permanent.  In this order:
 *      the one exception to "user unknown is hard", Japanese mobile
 *      carriers (docomo, au/ezweb, SoftBank and their MVNOs), whose "550
 *      User unknown" after DATA is the recipient's own sender filter (soft,
 *      even under an x.1.1 a relay added); the RFC 3463 address statuses
 *      (x.1.1, x.1.2, x.1.3, x.1.6, x.1.10, RFC 7505's 556 for a null MX);
 *      a user unknown under an x.2.0 mailbox status (conflicting: soft);
 *      then a plain statement that the user or mailbox does not exist,
 *      which is hard WHATEVER the SMTP stage (at RCPT TO, after DATA, or not
 *      said); the MTAs' own phrases, trusted in their own bounces; dead
 *      domains (no such host, unrouteable mail domain, null MX);
 *   6. expiry, network, remote system trouble: soft;
 *   7. fall-backs on the status / reply code alone, then a catch-all.
 *
 * The SMTP stage comes from the DSN or from wherever the MTA wrote it
 * (Postfix "(in reply to RCPT TO command)", Exim "after RCPT TO:", Sendmail
 * transcripts ">>> RCPT To:<x>" / "<<< 550 ...", qmail "does not like
 * recipient"...; parser/text.c): a refusal at the greeting, HELO or MAIL
 * FROM is never about the recipient.
 *
 * Hard precision matters most: a false "hard" suppresses a good address
 * forever, so every hard row asks for a permanent failure (5.x.x, or 5xx,
 * or Action failed; never a delay) and the rows above it take away
 * everything that is not the address's fault: when the evidence conflicts,
 * an earlier soft row wins.
 */
#include <string.h>

#include "classify.h"

#define TEXT(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CMD(c) CLASSIFY_CMD_BIT(CLASSIFY_CMD_##c)

#define D(x) REPORT_DECODER_##x
#define R(x) REPORT_REASON_##x
#define S(x) REPORT_SCOPE_##x
#define HARD CLASSIFY_HARD

/* Phrases servers use for "no such mailbox" (rows 5 and the DATA row). */
#define USER_UNKNOWN_PHRASES \
	"user unknown", "unknown user", "no such user", "user not found", \
	"user doesn't exist", "user does not exist", "user not exist", \
	"unknown recipient", "recipient unknown", "recipient not found", \
	"no such recipient", "invalid recipient", "recipient address rejected: user", \
	"no mailbox", "mailbox not found", "no such mailbox", \
	"mailbox does not exist", "mailbox doesn't exist", "invalid mailbox", \
	"unknown mailbox", "not a valid mailbox", "unknown or illegal", \
	"address does not exist", "account does not exist", "account that you tried to reach does not exist", \
	"address couldn't be found", "address not found", "unknown address", \
	"recipnotfound", "recipientnotfound", "user unknown in", "is not a known user", \
	"addressee unknown", "no such account", "user doesn't have a", \
	"unknown local part", "not our customer", \
	"bad destination mailbox", "user not listed", \
	"unknown or invalid recipient", "recipient does not exist", \
	"is not a valid recipient", "unknown recipient or mailbox unavailable", "user invalid", \
	"address unknown", "unknown e-mail address", "unknown email address", "user not known", \
	"recipient name is not recognized", "not listed in domino directory", \
	"not listed in public name & address book", "no such local user", "unknown account", \
	"unknown local-part", "was not found in the recipient's e-mail system", \
	"e-mail address was not found", "email address was not found", "wasn't found at", \
	"no such address", "account not found", "invalid receiver address", "not a valid user", \
	"user is unknown", "mailbox unknown", "address not recognized", "recipient not recognized", \
	"address you entered couldn't be found", "mail.local: unknown name", \
	/* the same in the languages of localised bounces (de, fr, es, it) */ \
	"benutzer unbekannt", "empf\xc3\xa4nger unbekannt", "utilisateur inconnu", \
	"destinataire inconnu", "adresse inexistante", "usuario desconocido", "utente sconosciuto", \
	/* Lotus Domino in Japanese: "... is not listed in the Domino Directory", */ \
	/* "Domino" in katakana or in Latin letters, then a negative ("...masen") */ \
	"domino \xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa*\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", \
	"domino\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa*\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", \
	"\xe3\x83\x89\xe3\x83\x9f\xe3\x83\x8e\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa\xe3\x81\xae\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93"

/*
 * Japanese mobile carriers and the MVNOs on their networks: their "550
 * User unknown" after DATA is the recipient's own sender filter.
 */
#define JP_MOBILE_DOMAINS \
	"docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp", \
	"vodafone.ne.jp", "disney.ne.jp", "ymobile.ne.jp", "uqmobile.jp"

static const struct classify_rule rules[] = {
	/* -- 0. what the format itself says --------------------------------- */
	{ .name = "arf-complaint", .decoder = D(ARF), .reason = R(FEEDBACK), .scope = S(NONE) },
	{ .name = "ses-complaint", .decoder = D(SES), .category = "complaint",
		.reason = R(FEEDBACK), .scope = S(NONE) },
	{ .name = "rfc3834-autoreply", .decoder = D(RFC3834), .reason = R(VACATION), .scope = S(NONE) },

	/* -- 1. delivery reports --------------------------------------------- */
	{ .name = "delivered", .action = "delivered", .reason = R(DELIVERED), .scope = S(NONE) },
	{ .name = "relayed", .action = "relayed", .reason = R(DELIVERED), .scope = S(NONE) },
	{ .name = "expanded", .action = "expanded", .reason = R(DELIVERED), .scope = S(NONE) },
	{ .name = "status-2", .status = "2.*.*", .reason = R(DELIVERED), .scope = S(NONE) },

	/* -- 2. about us: sender scope, never hard --------------------------- */
	/* DMARC / SPF / DKIM: RFC 7372 x.7.26 (multiple auth failures), x.7.23 SPF */
	{ .name = "auth-dmarc", .text = TEXT("dmarc"), .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	{ .name = "auth-spf", .text = TEXT("spf record", "spf check", "spf fail", "fails to pass spf",
		"spf validation", "failed spf", "spf policy", "spf hard fail", "spf softfail",
		"sender policy framework", "spf: ", "(spf)", "spf=fail"),
		.reason = R(AUTHFAILURE), .scope = S(SENDER) },
	{ .name = "auth-dkim", .text = TEXT("dkim"), .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	{ .name = "status-x.7.26", .status = "*.7.26", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	{ .name = "status-x.7.23", .status = "*.7.23", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	{ .name = "status-x.7.24", .status = "*.7.24", .reason = R(AUTHFAILURE), .scope = S(SENDER) },
	/* our IP has no (matching) reverse DNS; RFC 7372 x.7.25 */
	{ .name = "requireptr", .text = TEXT("reverse dns", "reverse-dns", "ptr record", "ptr resource record",
		"dns ptr", "reverse lookup", "no reverse", "ip name lookup failed", "unverifyable sending ip",
		"unverifiable sending ip", "servers without a valid sender domain", "must have a ptr",
		"cannot find your hostname", "cannot resolve your address", "rdns", "no ptr",
		"client host name", "hostname lookup failed"),
		.reason = R(REQUIREPTR), .scope = S(SENDER) },
	{ .name = "status-x.7.25", .status = "*.7.25", .reason = R(REQUIREPTR), .scope = S(SENDER) },
	/* our IP or domain on a block list, or refused as a source */
	{ .name = "blocked-list", .text = TEXT("blacklist", "blocklist", "block list", "black list",
		"dnsbl", "spamhaus", "sorbs", "spamcop", "barracudacentral", "blocked using",
		"is listed in", "is listed on", "are listed in", "listed at", "listed by", " rbl", "rbl:",
		"(bl)", "uceprotect", "dnsrbl"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	{ .name = "blocked-ip", .text = TEXT("client host rejected", "your ip", "ip address blocked",
		"ip blocked", "blocked ip", "blocked for abuse", "use the smtp server of your isp",
		"dynamic ip", "dial-up", "dialup", "residential ip", "open relay", "not accepting connections",
		"connection refused by", "host network not allowed", "network not allowed",
		"access denied for ip", "sending ip", "blocked by", "ip address blacklisted",
		"ip frequency"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	{ .name = "badreputation", .text = TEXT("reputation", "unexpected volume or user complaints",
		"user complaints"),
		.reason = R(BADREPUTATION), .scope = S(SENDER) },
	{ .name = "toomanyconn", .text = TEXT("too many connections", "too many concurrent",
		"connection limit", "too many sessions", "frequency limited"),
		.reason = R(TOOMANYCONN), .scope = S(SENDER) },
	{ .name = "ratelimited", .text = TEXT("rate limit", "ratelimit", "rate-limit", "too many messages",
		"sending rate", "throttl", "relay quota", "try again later: too many", "sending too fast",
		"exceeded the rate", "temporarily deferred due to", "message rate",
		"sent to too many recipients", "too many recipients this hour"),
		.reason = R(RATELIMITED), .scope = S(SENDER) },
	/* SMTP authentication or TLS required of us; RFC 3463 x.7.5-x.7.7 */
	{ .name = "securityerror", .text = TEXT("authentication required", "smtp authentication",
		"must authenticate", "auth required", "authrequired", "tls required", "encryption required",
		"must issue a starttls", "requires a secure connection"),
		.reason = R(SECURITYERROR), .scope = S(SENDER) },
	{ .name = "status-x.7.5", .status = "*.7.5", .reason = R(SECURITYERROR), .scope = S(SENDER) },
	{ .name = "status-x.7.6", .status = "*.7.6", .reason = R(SECURITYERROR), .scope = S(SENDER) },
	{ .name = "status-x.7.7", .status = "*.7.7", .reason = R(SECURITYERROR), .scope = S(SENDER) },
	/* our envelope sender refused: RFC 3463 x.1.7 / x.1.8, RFC 7505 x.7.27 */
	{ .name = "sender-rejected", .text = TEXT("sender address rejected", "domain of sender address",
		"sender rejected", "unroutable sender", "sender verify failed", "sender domain",
		"invalid sender", "sender address is invalid", "bad sender", "sender not allowed",
		"sender is not allowed", "sender denied", "address that has been blacklisted",
		"send mail as", "sender account", "sending account"),
		.reason = R(REJECTED), .scope = S(SENDER) },
	/*
	 * The answer names our envelope sender, not the recipient ("550 5.7.1
	 * <news@example.net>... Access denied"): it is about us, whatever the
	 * status says.
	 */
	{ .name = "names-sender", .names_sender = 1, .reason = R(REJECTED), .scope = S(SENDER) },
	{ .name = "status-x.1.7", .status = "*.1.7", .reason = R(REJECTED), .scope = S(SENDER) },
	{ .name = "status-x.1.8", .status = "*.1.8", .reason = R(REJECTED), .scope = S(SENDER) },
	{ .name = "status-x.7.27", .status = "*.7.27", .reason = R(REJECTED), .scope = S(SENDER) },
	/* the remote system's own trouble, whatever the stage it said so at */
	{ .name = "systemfull", .text = TEXT("insufficient disk space", "insufficient system storage",
		"system full", "mail system full", "out of disk space", "no space left"),
		.reason = R(SYSTEMFULL), .scope = S(DOMAIN) },
	{ .name = "status-x.3.1", .status = "*.3.1", .reason = R(SYSTEMFULL), .scope = S(DOMAIN) },
	/*
	 * Our HELO name refused (Postfix smtpd_helo_restrictions answer at RCPT
	 * TO by default, "Helo command rejected: Invalid domain name"): about
	 * us, whatever the stage and the words that follow.
	 */
	{ .name = "helo-rejected", .text = TEXT("helo command rejected", "ehlo command rejected",
		"invalid helo", "bad helo", "helo name rejected", "your helo", "helo/ehlo", "in helo",
		"in ehlo", "helo hostname", "ehlo hostname", "helo name", "ehlo name", "helo domain",
		"ehlo domain", "helo argument", "your host name", "your hostname"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	/*
	 * Sendmail's answer to a HELO / EHLO whose argument is not a domain
	 * ("501 5.0.0 Invalid domain name"), relayed without the stage: a 501
	 * is a syntax answer, not "no such domain" (which is 550 / 553).
	 */
	{ .name = "helo-invalid-domain", .reply = "501", .text = TEXT("invalid domain name"),
		.reason = R(BLOCKED), .scope = S(SENDER) },
	/* the remote does not relay for the recipient's domain: its MX setup or our route */
	{ .name = "norelaying", .text = TEXT("relay access denied", "relaying denied", "relay denied",
		"not permitted to relay", "relay not permitted", "unable to relay", "relaying not allowed",
		"insecure mail relay", "not configured to relay", "no relaying", "we do not relay",
		"relay prohibited", "relaying mail to", "not allowed to relay", "cannot relay"),
		.reason = R(NORELAYING), .scope = S(DOMAIN) },
	/* Amazon SES: the sending identity is not verified */
	{ .name = "identity-not-verified", .text = TEXT("address is not verified", "identities failed the check"),
		.reason = R(NORELAYING), .scope = S(SENDER) },

	/* -- 3. about this message: message scope, never hard ---------------- */
	{ .name = "notcompliantrfc", .text = TEXT("rfc 5322", "rfc5322", "rfc 2822", "rfc2822",
		"multiple addresses in from", "multiple subject headers", "not rfc compliant",
		"not compliant with rfc", "duplicate header"),
		.reason = R(NOTCOMPLIANTRFC), .scope = S(MESSAGE) },
	{ .name = "virusdetected", .text = TEXT("virus", "malware", "infected", "malicious content"),
		.reason = R(VIRUSDETECTED), .scope = S(MESSAGE) },
	{ .name = "spamdetected", .text = TEXT("spam", "junk mail", "unsolicited", "bulk mail",
		"message content rejected", "content rejected", "mail rejete", "suspicious"),
		.reason = R(SPAMDETECTED), .scope = S(MESSAGE) },
	{ .name = "mesgtoobig", .text = TEXT("message too big", "message too large", "message is too large",
		"message is too big", "message size exceeds", "message size limit", "exceeds the maximum size",
		"message length exceeds", "mail size limit", "line limit exceeded", "message exceeds maximum",
		"too big for system", "size exceeds"),
		.reason = R(MESGTOOBIG), .scope = S(MESSAGE) },
	{ .name = "status-x.3.4", .status = "*.3.4", .reason = R(MESGTOOBIG), .scope = S(MESSAGE) },
	{ .name = "status-x.2.3", .status = "*.2.3", .reason = R(EXCEEDLIMIT), .scope = S(MESSAGE) },
	{ .name = "contenterror", .text = TEXT("8-bit data", "8bit data", "invalid mime", "mime error",
		"illegal character", "improper use of 8-bit", "content error"),
		.reason = R(CONTENTERROR), .scope = S(MESSAGE) },
	/*
	 * A content filter refused the message (the recipient's provider, or a
	 * filtering service in front of it, relaying the refusal in whatever
	 * recipient words it likes): about the message, even under x.1.1.
	 */
	{ .name = "content-filter", .text = TEXT("content filter", "content-filter", "contentfilter",
		"rejected by filter", "rejected by the filter", "filtering rules",
		"filter rule"),
		.reason = R(FILTERED), .scope = S(MESSAGE) },
	{ .name = "policyviolation", .text = TEXT("policy violation", "policy reasons", "denied by policy",
		"local policy", "header error", "policy rejection", "violates our policy",
		"security policies", "due to policy", "content policy", "illegal attachment"),
		.reason = R(POLICYVIOLATION), .scope = S(MESSAGE) },
	{ .name = "status-x.6", .status = "*.6.*", .reason = R(CONTENTERROR), .scope = S(MESSAGE) },
	/*
	 * Refused at MAIL FROM, at the greeting or at HELO: about us, not the
	 * address (after the message rows: a size refused at MAIL FROM's SIZE=
	 * is about the message).
	 */
	{ .name = "stage-mail", .cmds = CMD(MAIL), .reason = R(REJECTED), .scope = S(SENDER) },
	{ .name = "stage-connect", .cmds = CMD(CONN) | CMD(HELO), .reason = R(BLOCKED), .scope = S(SENDER) },

	/* -- 4. an existing mailbox that cannot take mail now: soft ---------- */
	/*
	 * Full, disabled, over its receiving rate: the mailbox exists, so the
	 * address is not dead, but the state is the address's own (scope
	 * address): the store may suppress it when it persists.
	 */
	{ .name = "mailboxfull", .text = TEXT("mailbox full", "mailbox is full", "mailbox is over",
		"quota exceeded", "over quota", "overquota", "disk quota", "exceeded storage",
		"out of storage", "mailfolder is full", "mailbox has exceeded", "mailbox exceeds",
		"exceeds allowed size", "not enough disk space", "exceeded the local limit",
		"mailbox size limit", "account is over quota", "mailbox limit", "quota exceed",
		"storage limit", "insufficient storage", "user over quota", "full mailbox",
		"mailbox would exceed"),
		.reason = R(MAILBOXFULL), .scope = S(ADDRESS) },
	{ .name = "status-x.2.2", .status = "*.2.2", .reason = R(MAILBOXFULL), .scope = S(ADDRESS) },
	{ .name = "suspend", .text = TEXT("account is disabled", "account has been disabled",
		"account disabled", "account is locked", "mailbox disabled", "mailbox is disabled",
		"account is inactive", "account is blocked", "account has been suspended",
		"account is suspended", "mailbox suspended", "mailbox is suspended", "user suspended",
		"discontinued", "is disabled", "is inactive", "inactive user",
		"compte du destinataire est bloque", "account has expired", "account is frozen",
		"mailbox is inactive", "account suspended", "account has been temporarily suspended",
		"account temporarily suspended"),
		.reason = R(SUSPEND), .scope = S(ADDRESS) },
	{ .name = "status-x.7.13", .status = "*.7.13", .reason = R(SUSPEND), .scope = S(ADDRESS) },
	{ .name = "speeding", .text = TEXT("receiving mail at a rate", "receiving mail too fast",
		"receiving mail too quickly"),
		.reason = R(SPEEDING), .scope = S(ADDRESS) },
	/* the recipient's own choice to refuse us: the mailbox exists */
	{ .name = "recipient-preferences", .text = TEXT("recipient preferences",
		"recipient's preferences", "recipients preferences", "not accepting mail from this sender",
		"they are not accepting mail from",   /* AOL Mail Controls */
		"recipient has blocked", "has chosen to block"),
		.reason = R(FILTERED), .scope = S(ADDRESS) },

	/* -- 5. the address or its domain is dead: hard when permanent ------ */
	/* RFC 3463 x.1.6 "destination mailbox has moved", RFC 5321 551 "user not local" */
	{ .name = "hasmoved", .text = TEXT("no longer on server", "has moved", "address has changed",
		"not our user", "user not local", "no longer available"),
		.reason = R(HASMOVED), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "status-x.1.6", .status = "*.1.6", .reason = R(HASMOVED), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * The one exception to "a plain user unknown is hard": a Japanese mobile
	 * carrier (recipient domain or answering host) saying it after DATA.
	 * First of the section: RCPT TO was accepted, so the stage outranks an
	 * x.1.1 status a relaying MTA puts on the carrier's answer.
	 */
	{ .name = "jp-mobile-filter", .cmds = CMD(DATA), .domains = TEXT(JP_MOBILE_DOMAINS),
		.text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(FILTERED), .scope = S(MESSAGE) },
	/* RFC 3463 x.1.1 bad destination mailbox, x.1.3 bad mailbox syntax */
	{ .name = "status-x.1.1", .status = "*.1.1", .reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "status-x.1.3", .status = "*.1.3", .reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * Exchange's own directory lookup ("550 5.1.10 RESOLVER.ADR.
	 * RecipientNotFound", "5.1.1 RESOLVER.ADR.RecipNotFound"): authoritative
	 * whatever the stage.
	 */
	{ .name = "exchange-recipnotfound", .text = TEXT("resolver.adr.recipnotfound",
		"resolver.adr.recipientnotfound"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/* RFC 3463 x.1.2 bad destination system; RFC 7505 x.1.10 null MX */
	{ .name = "status-x.1.2", .status = "*.1.2", .reason = R(HOSTUNKNOWN), .scope = S(DOMAIN), .flags = HARD },
	{ .name = "status-x.1.10", .status = "*.1.10", .reason = R(NOTACCEPT), .scope = S(DOMAIN), .flags = HARD },
	/* RFC 7505 section 3: 556 for a domain that publishes a null MX */
	{ .name = "reply-556", .reply = "556", .reason = R(NOTACCEPT), .scope = S(DOMAIN), .flags = HARD },
	/*
	 * Microsoft 365 directory-based edge blocking answers an unknown
	 * recipient with "550 5.4.1 Recipient address rejected: Access denied".
	 */
	{ .name = "o365-dbeb", .status = "*.4.1", .cmds = CMD(RCPT) | CMD(NONE),
		.text = TEXT("recipient address rejected: access denied"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * Yahoo and AOL refuse an unknown mailbox only after DATA, in their own
	 * words ("554 delivery error: dd This user doesn't have a yahoo.com
	 * account"): not a content filter's answer.
	 */
	{ .name = "yahoo-no-account", .text = TEXT("doesn't have a yahoo.com account",
		"doesn't have a ymail.com account", "doesn't have a rocketmail.com account",
		"doesn't have an aol.com account", "doesn't have a yahoo.co"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * KDDI au / ezweb answer their content filter's rejections with
	 * "550 : User unknown" (the address left out), after DATA even when
	 * the stage is not reported (seen relayed by Postfix, Exim, Office 365).
	 */
	{ .name = "au-filter", .text = TEXT("550 : user unknown"),
		.reason = R(FILTERED), .scope = S(MESSAGE) },
	{ .name = "userunknown-rcpt", .cmds = CMD(RCPT), .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * RFC 5321's own text for 550, which Microsoft (Outlook.com), GMX and
	 * others answer to RCPT TO for a mailbox that does not exist.
	 */
	{ .name = "mailbox-unavailable-rcpt", .cmds = CMD(RCPT), .reply = "550",
		.text = TEXT("mailbox unavailable"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "userunknown-x.1.0", .status = "*.1.0", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/* Postfix's reject_unverified_recipient / unlisted answers, at RCPT, no reason given */
	{ .name = "recipient-rejected-rcpt", .cmds = CMD(RCPT), .text = TEXT("recipient address rejected.",
		"recipient not ok"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * Exchange Online's x.1.351 "Remote server returned unknown recipient":
	 * the next hop refused the recipient at RCPT TO; its own answer follows.
	 */
	{ .name = "o365-remote-unknown", .status = "*.1.351", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/* the reporting MTA's own verdict (PowerMTA X-PowerMTA-BounceCategory) */
	{ .name = "category-bad-mailbox", .category = "bad-mailbox",
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "category-bad-domain", .category = "bad-domain",
		.reason = R(HOSTUNKNOWN), .scope = S(DOMAIN), .flags = HARD },
	{ .name = "category-inactive-mailbox", .category = "inactive-mailbox",
		.reason = R(SUSPEND), .scope = S(ADDRESS) },
	{ .name = "category-quota", .category = "quota-issues",
		.reason = R(MAILBOXFULL), .scope = S(ADDRESS) },
	/*
	 * MTAs' own words, trusted in their own bounces only: these report a
	 * recipient refused during the SMTP dialogue or by their own directory,
	 * without saying the stage.
	 */
	{ .name = "exchange2003-unknown-recipient", .mta = "exchange2003",
		.text = TEXT("unknown recipient"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "domino-not-listed", .mta = "domino",
		.text = TEXT("not listed in", "\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "google-address-not-found", .mta = "gmail",
		.text = TEXT("** address not found **", "the email account that you tried to reach does not exist",
		"because the address couldn't be found"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "hotmail-mailbox-unavailable", .mta = "outlook", .text = TEXT("mailbox unavailable"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/*
	 * Microsoft's consumer mail (Outlook.com, Hotmail, Live, MSN) answers a
	 * mailbox that does not exist with RFC 5321's own 550 text, whoever
	 * relays the answer and whatever status the relay adds.
	 */
	{ .name = "microsoft-mailbox-unavailable", .reply = "550",
		.domains = TEXT("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk",
		"hotmail.fr", "live.fr", "outlook.fr"),
		.text = TEXT("requested action not taken: mailbox unavailable"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "mcafee-unknown-user", .mta = "mcafee", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "yahoo-unknown-user", .mta = "yahoo", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "interscan-check-address", .mta = "trendmicro", .text = TEXT("check if address is correct"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "verizon-invalid-user", .mta = "verizon", .text = TEXT("invalid user address",
		"no valid recipients", "no such user"),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },
	/* domain */
	/* a DNS answer "try again" is a temporary failure, not a dead domain */
	{ .name = "dns-tempfail", .text = TEXT("host not found, try again",
		"temporary failure in name resolution", "servfail", "dns lookup timed out",
		"temporary lookup failure", "dns temporary failure",
		"malformed or unexpected name server reply"),
		.reason = R(NETWORKERROR), .scope = S(DOMAIN) },
	{ .name = "hostunknown", .text = TEXT("host unknown", "unknown host", "domain does not exist",
		"domain doesn't exist", "no such domain", "domain not found", "domain name not found",
		"host or domain name not found", "couldn't find any host named", "illegal host/domain",
		"invalid domain", "unrouteable address", "unroutable address", "domain is not reachable",
		"host not found", "no such host", "domain couldn't be found", "unknown domain",
		"domain is invalid", "nonexistentdomain", "non-existent domain",
		"unrouteable mail domain", "unroutable mail domain", "find any host by that name",
		"no valid mx", "no mx or a record", "domain has no mx"),
		.reason = R(HOSTUNKNOWN), .scope = S(DOMAIN), .flags = HARD },
	{ .name = "notaccept", .text = TEXT("does not accept mail", "doesn't receive email",
		"does not receive email", "null mx", "couldn't find a mail exchanger", "no mx record",
		"accepts no mail", "not accept mail", "indicated no smtp service"),
		.reason = R(NOTACCEPT), .scope = S(DOMAIN), .flags = HARD },
	/* RFC 3463 x.4.4 unable to route: no MX and no address for the domain */
	{ .name = "status-x.4.4", .status = "*.4.4", .reason = R(HOSTUNKNOWN), .scope = S(DOMAIN), .flags = HARD },
	/*
	 * "User unknown" under an RFC 3463 x.2.0 status (other mailbox status:
	 * the mailbox is there): conflicting evidence, so not hard.  Sendmail
	 * writes it for the Japanese carriers' filter answers.
	 */
	{ .name = "userunknown-x.2.0", .status = "*.2.0", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(FILTERED), .scope = S(ADDRESS) },
	/*
	 * A plain statement that the user or mailbox does not exist: hard
	 * whatever the stage (the rows above took away the sender's, the
	 * message's and the mailbox's soft states, and the Japanese carriers).
	 */
	{ .name = "userunknown", .text = TEXT(USER_UNKNOWN_PHRASES),
		.reason = R(USERUNKNOWN), .scope = S(ADDRESS), .flags = HARD },

	/*
	 * Google Groups: the group does not exist or does not take posts from
	 * us (its notice says which it may be, in the sender's language).
	 */
	{ .name = "googlegroups-refused", .mta = "googlegroups",
		.reason = R(REJECTED), .scope = S(ADDRESS) },
	/* a mailing-list manager refusing our post (we are not a member): soft */
	{ .name = "listmanager-refused", .mta = "listmanager",
		.reason = R(REJECTED), .scope = S(ADDRESS) },

	/* -- 6. expiry, network, the remote system: soft --------------------- */
	{ .name = "expired", .text = TEXT("retry timeout exceeded", "envelope expired", "message expired",
		"queue too long", "in the queue too long", "could not deliver for the last",
		"not delivered within", "delivery time expired", "unable to deliver in",
		"has been delayed", "retry time exceeded", "message timed out",
		"expired after", "time limit exceeded", "too long in queue", "was aborted after",
		"delivery failed * attempts", "cannot send message for"),
		.reason = R(EXPIRED), .scope = S(DOMAIN) },
	{ .name = "status-x.4.7", .status = "*.4.7", .reason = R(EXPIRED), .scope = S(DOMAIN) },
	/* greylisting: a first attempt deferred on purpose, about our IP/sender tuple */
	{ .name = "greylisted", .text = TEXT("greylist", "graylist", "grey-list", "gray-list"),
		.reason = R(ONHOLD), .scope = S(SENDER) },
	{ .name = "mailererror", .text = TEXT("mailer error", "pipe to |", "command died", "command failed",
		"operating system error", "exit status", "local delivery failed", "child status"),
		.reason = R(MAILERERROR), .scope = S(DOMAIN) },
	/*
	 * Unreachable for the whole retry period: a bounce (Action: failed)
	 * caused by connection failures means the queue lifetime ran out.
	 */
	{ .name = "expired-unreachable", .action = "failed", .text = TEXT("connection timed out",
		"did not accept our requests to connect", "no route to host", "connection refused",
		"host not reachable", "network is unreachable", "unable to connect", "could not connect",
		"failed to connect", "establish an smtp connection"),
		.reason = R(EXPIRED), .scope = S(DOMAIN) },
	{ .name = "networkerror", .text = TEXT("connection timed out", "no route to host",
		"connection refused", "host not reachable", "network is unreachable", "unable to connect",
		"could not connect", "failed to connect", "hop count exceeded", "routing loop", "mail loop",
		"loops back to myself", "dns error", "name service error", "lookup failure",
		"did not accept our requests to connect", "connection reset", "lost connection",
		"timed out", "too many hops"),
		.reason = R(NETWORKERROR), .scope = S(DOMAIN) },
	{ .name = "systemerror", .text = TEXT("internal error", "system error", "could not load",
		"ldap", "service currently unavailable", "configuration error", "queue file write error",
		"temporarily unavailable", "resources temporarily", "local error", "server error",
		"insufficient permission", "service not available", "try again later", "upstream error",
		"temporary failure"),
		.reason = R(SYSTEMERROR), .scope = S(DOMAIN) },
	{ .name = "delayed", .action = "delayed", .reason = R(EXPIRED), .scope = S(DOMAIN) },

	/* -- 7. fall-backs on codes alone ------------------------------------ */
	{ .name = "status-x.4", .status = "*.4.*", .reason = R(NETWORKERROR), .scope = S(DOMAIN) },
	{ .name = "status-x.3", .status = "*.3.*", .reason = R(SYSTEMERROR), .scope = S(DOMAIN) },
	{ .name = "status-x.7", .status = "*.7.*", .reason = R(REJECTED), .scope = S(SENDER) },
	{ .name = "status-x.5", .status = "*.5.*", .reason = R(SYNTAXERROR), .scope = S(MESSAGE) },
	/* RFC 3463 x.2.1 "mailbox disabled, not accepting messages" */
	{ .name = "status-x.2.1", .status = "*.2.1", .reason = R(SUSPEND), .scope = S(ADDRESS) },
	{ .name = "status-x.2", .status = "*.2.*", .reason = R(FILTERED), .scope = S(ADDRESS) },
	{ .name = "status-x.1", .status = "*.1.*", .reason = R(REJECTED), .scope = S(ADDRESS) },
	{ .name = "reply-551", .reply = "551", .reason = R(HASMOVED), .scope = S(ADDRESS), .flags = HARD },
	{ .name = "reply-552", .reply = "552", .reason = R(MAILBOXFULL), .scope = S(ADDRESS) },
	{ .name = "reply-4xx", .reply = "4**", .reason = R(ONHOLD), .scope = S(DOMAIN) },
	{ .name = "undefined", .reason = R(UNDEFINED), .scope = S(DOMAIN) },
};

static int status_match(const char *pat, const char *status);
static int reply_match(const char *pat, const char *reply);
static int text_match(const char *pat, const char *text);
struct pgram;
static int grams_allow(const struct pgram *g, const unsigned char *grams);
static gpointer grams_init(gpointer unused);
static int permanent(const struct classify_input *in);
static int domain_listed(const char *const *domains, const char *host);

static const char *const cmd_names[CLASSIFY_CMD_COUNT] = {
	[CLASSIFY_CMD_NONE] = "",
	[CLASSIFY_CMD_CONN] = "CONN",
	[CLASSIFY_CMD_HELO] = "HELO",
	[CLASSIFY_CMD_MAIL] = "MAIL",
	[CLASSIFY_CMD_RCPT] = "RCPT",
	[CLASSIFY_CMD_DATA] = "DATA",
};

const struct classify_rule *
classify_rules(size_t *count_r)
{
	*count_r = G_N_ELEMENTS(rules);
	return rules;
}

const char *
classify_cmd_name(enum classify_cmd c)
{
	return (unsigned)c < CLASSIFY_CMD_COUNT ? cmd_names[c] : "";
}

enum classify_cmd
classify_cmd_from_name(const char *name)
{
	if (name == NULL)
		return CLASSIFY_CMD_NONE;
	for (unsigned i = 1; i < CLASSIFY_CMD_COUNT; i++)
		if (g_ascii_strcasecmp(name, cmd_names[i]) == 0)
			return (enum classify_cmd)i;
	if (g_ascii_strcasecmp(name, "EHLO") == 0)
		return CLASSIFY_CMD_HELO;
	return CLASSIFY_CMD_NONE;
}

/* "*.1.1" against "5.1.1": three dot-separated parts, '*' matches a part. */
static int
status_match(const char *pat, const char *status)
{
	const char *p = pat, *s = status;

	if (*s == '\0')
		return 0;
	for (int part = 0; part < 3; part++) {
		const char *pe = p, *se = s;

		while (*pe && *pe != '.')
			pe++;
		while (*se && *se != '.')
			se++;
		if (!(pe - p == 1 && *p == '*') &&
		    (pe - p != se - s || memcmp(p, s, (size_t)(pe - p)) != 0))
			return 0;
		if (part < 2) {
			if (*pe != '.' || *se != '.')
				return 0;
			p = pe + 1;
			s = se + 1;
		} else if (*pe != '\0' || *se != '\0') {
			return 0;
		}
	}
	return 1;
}

static int
reply_match(const char *pat, const char *reply)
{
	if (strlen(reply) != 3)
		return 0;
	for (int i = 0; i < 3; i++)
		if (pat[i] != '*' && pat[i] != reply[i])
			return 0;
	return 1;
}

#define GRAM(a, b) ((((unsigned)(unsigned char)(a) * 31u) ^ (unsigned)(unsigned char)(b)) & 4095u)
#define GRAM_HAS(g, h) ((g)[(h) >> 3] & (1u << ((h) & 7)))

void
classify_grams(const char *text, unsigned char grams[CLASSIFY_GRAMS_BYTES])
{
	memset(grams, 0, CLASSIFY_GRAMS_BYTES);
	for (const char *p = text; p[0] != '\0' && p[1] != '\0'; p++) {
		unsigned h = GRAM(p[0], p[1]);

		grams[h >> 3] |= (unsigned char)(1u << (h & 7));
	}
}

int
classify_grams_may_hold(const unsigned char grams[CLASSIFY_GRAMS_BYTES], const char *s)
{
	for (const char *p = s; p[0] != '\0' && p[1] != '\0'; p++)
		if (!GRAM_HAS(grams, GRAM(p[0], p[1])))
			return 0;
	return 1;
}

/*
 * Each pattern's three checks (the character pairs at the start, middle
 * and end of its first literal piece), computed once for the whole table:
 * most rows' phrases are ruled out by three bit tests, without a substring
 * search.  pattern_grams[row_first[i] + j] belongs to rules[i].text[j].
 */
struct pgram {
	unsigned short a, b, c;   /* bigram hashes; a == 0xffff: no check */
};

static struct pgram *pattern_grams;      /* set once by grams_init, then read-only */
static unsigned *row_first;
static GOnce grams_once = G_ONCE_INIT;

static gpointer
grams_init(gpointer unused)
{
	size_t total = 0, k = 0;

	(void)unused;
	row_first = g_new(unsigned, G_N_ELEMENTS(rules));
	for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
		for (const char *const *t = rules[i].text; t != NULL && *t != NULL; t++)
			total++;
	pattern_grams = g_new(struct pgram, total + 1);
	for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
		row_first[i] = (unsigned)k;
		for (const char *const *t = rules[i].text; t != NULL && *t != NULL; t++, k++) {
			const char *pat = *t;
			size_t n = strcspn(pat, "*");
			struct pgram *g = &pattern_grams[k];

			if (n < 2) {
				g->a = 0xffff;
				continue;
			}
			g->a = (unsigned short)GRAM(pat[0], pat[1]);
			g->b = (unsigned short)GRAM(pat[n - 2], pat[n - 1]);
			g->c = (unsigned short)(n >= 4 ? GRAM(pat[n / 2 - 1], pat[n / 2]) : g->a);
		}
	}
	return NULL;
}

static int
grams_allow(const struct pgram *g, const unsigned char *grams)
{
	if (grams == NULL || g->a == 0xffff)
		return 1;
	return GRAM_HAS(grams, g->a) && GRAM_HAS(grams, g->b) && GRAM_HAS(grams, g->c);
}

/* Substring match; '*' in the pattern matches any run of characters. */
static int
text_match(const char *pat, const char *text)
{
	const char *star = strchr(pat, '*');
	char piece[128];
	const char *at;
	size_t n;

	if (star == NULL)
		return strstr(text, pat) != NULL;
	n = MIN((size_t)(star - pat), sizeof(piece) - 1);
	memcpy(piece, pat, n);
	piece[n] = '\0';
	at = n > 0 ? strstr(text, piece) : text;
	if (at == NULL)
		return 0;
	return text_match(star + 1, at + n);
}

/* Is host one of domains, or a subdomain of one?  1 / 0. */
static int
domain_listed(const char *const *domains, const char *host)
{
	size_t hl;

	if (host == NULL)
		return 0;
	hl = strlen(host);
	for (const char *const *d = domains; *d != NULL; d++) {
		size_t dl = strlen(*d);

		if (hl == dl ? memcmp(host, *d, dl) == 0 :
		    hl > dl && host[hl - dl - 1] == '.' && memcmp(host + hl - dl, *d, dl) == 0)
			return 1;
	}
	return 0;
}

int
classify_rule_matches(const struct classify_rule *row, const struct classify_input *in)
{
	if (row->decoder != REPORT_DECODER_NONE && row->decoder != in->decoder)
		return 0;
	if (row->mta != NULL && (in->mta == NULL || strcmp(row->mta, in->mta) != 0))
		return 0;
	if (row->category != NULL && strstr(in->category, row->category) == NULL)
		return 0;
	if (row->action != NULL && strcmp(row->action, in->action) != 0)
		return 0;
	if (row->status != NULL && !status_match(row->status, in->status))
		return 0;
	if (row->reply != NULL && !reply_match(row->reply, in->reply))
		return 0;
	if (row->cmds != 0 && (row->cmds & CLASSIFY_CMD_BIT(in->cmd)) == 0)
		return 0;
	if (row->names_sender && !in->names_sender)
		return 0;
	if (row->domains != NULL && !domain_listed(row->domains, in->domain) &&
	    !domain_listed(row->domains, in->rhost))
		return 0;
	if (row->text != NULL) {
		const char *const *t;

		const struct pgram *g = NULL;

		if (in->grams != NULL && row >= rules && row < rules + G_N_ELEMENTS(rules)) {
			g_once(&grams_once, grams_init, NULL);
			g = &pattern_grams[row_first[row - rules]];
		}

		for (t = row->text; *t != NULL; t++, g = g != NULL ? g + 1 : NULL)
			if ((g == NULL || grams_allow(g, in->grams)) && text_match(*t, in->text))
				break;
		if (*t == NULL)
			return 0;
	}
	return 1;
}

const struct classify_rule *
classify_input_rule(const struct classify_input *in)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rules); i++)
		if (classify_rule_matches(&rules[i], in))
			return &rules[i];
	return &rules[G_N_ELEMENTS(rules) - 1];
}

/*
 * Permanent: the status says so (5.x.x); without a status the reply code
 * (5xx); without either, Action: failed.  A delayed action never is.
 */
static int
permanent(const struct classify_input *in)
{
	if (strcmp(in->action, "delayed") == 0)
		return 0;
	if (in->status[0] != '\0')
		return in->status[0] == '5';
	if (in->reply[0] != '\0')
		return in->reply[0] == '5';
	return strcmp(in->action, "failed") == 0;
}

enum report_class
classify_class(const struct classify_rule *row, const struct classify_input *in)
{
	if (row->reason == REPORT_REASON_DELIVERED)
		return REPORT_CLASS_DELIVERED;
	if (row->reason == REPORT_REASON_FEEDBACK)
		return REPORT_CLASS_COMPLAINT;
	if (row->reason == REPORT_REASON_VACATION)
		return REPORT_CLASS_AUTOREPLY;
	/*
	 * Belt and braces: a refusal at the greeting, HELO or MAIL FROM comes
	 * before any recipient was named, so it is never about the address.
	 */
	if (in->cmd == CLASSIFY_CMD_CONN || in->cmd == CLASSIFY_CMD_HELO ||
	    in->cmd == CLASSIFY_CMD_MAIL)
		return REPORT_CLASS_SOFT;
	if ((row->flags & CLASSIFY_HARD) && row->scope != REPORT_SCOPE_SENDER &&
	    row->scope != REPORT_SCOPE_MESSAGE && permanent(in))
		return REPORT_CLASS_HARD;
	return REPORT_CLASS_SOFT;
}
