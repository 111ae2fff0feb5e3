/* SPDX-License-Identifier: MIT */
/*
 * sql.h - every SQL text of the store, in one place: the schema migrations
 * and the prepared statements (bound with sqlite3_bind_*, never built with
 * printf).  Private to store/.
 *
 * Tables:
 *   bounce    one received message: digest (idempotence), envelope, the
 *             parser's message-level fields, the raw bytes (NULL once purged
 *             or erased; the row stays as a tombstone so a re-delivery is
 *             still recognised).
 *   event     one recipient of one bounce: the parser's fields and the time.
 *   addr      per-target state (address, "@domain", or "hmac:..." once
 *             forgotten): what store_policy_*() computed.
 *   audit     append-only log of manual actions, imports, erasures and
 *             re-evaluations (the trigger refuses deletes; an erasure only
 *             rewrites the address text to its keyed hash).
 *   incident  sender-scope failures per provider (group or domain); a row
 *             with opened = 0 is a candidate: too few messages failed yet
 *             (policy.incident_min_messages within policy.incident_window).
 *   alert     one event pushed to people (issue 17): stable id, kind, JSON
 *             body; alert_delivery holds its state per sink, so pending
 *             deliveries survive a restart.
 *   incident  sender-scope failures per provider (group or domain).
 *   sent      the mail this server sent, from Postfix's log: queue ID ->
 *             Message-ID and sender; bounded and expiring (store/log.c).
 *   logseen   keys of the log lines already counted (dedupe), expiring.
 *   logpos    where each log source stopped (file inode, offset and the
 *             hash of the last line; the journal's cursor).
 * event.source is NULL for a bounce received over LMTP, 'log' for a line of
 * Postfix's log; event.twin_of names the event of the other source that
 * already counted the same failure (same queue ID and recipient).
 * Times are unix seconds; class, reason, scope and cause are the enums'
 * numeric values (append-only in report.h and store.h).
 */
#ifndef BOUNCED_STORE_SQL_H
#define BOUNCED_STORE_SQL_H

/* Migration i takes user_version i to i + 1; each runs in one transaction. */
#define STORE_MIGRATIONS(X) \
	X("CREATE TABLE bounce (" \
	"  id INTEGER PRIMARY KEY," \
	"  digest BLOB NOT NULL UNIQUE," \
	"  received INTEGER NOT NULL," \
	"  envelope_rcpt TEXT," \
	"  verp_rcpt TEXT," \
	"  decoder TEXT," \
	"  reporting_mta TEXT," \
	"  orig_message_id TEXT," \
	"  orig_sender TEXT," \
	"  feedback_type TEXT," \
	"  subject TEXT," \
	"  nrcpt INTEGER NOT NULL DEFAULT 0," \
	"  raw BLOB);" \
	"CREATE INDEX bounce_received ON bounce(received) WHERE raw IS NOT NULL;" \
	"CREATE TABLE event (" \
	"  id INTEGER PRIMARY KEY," \
	"  bounce_id INTEGER REFERENCES bounce(id) ON DELETE SET NULL," \
	"  address TEXT NOT NULL," \
	"  at INTEGER NOT NULL," \
	"  class INTEGER NOT NULL," \
	"  reason INTEGER NOT NULL," \
	"  scope INTEGER NOT NULL," \
	"  status TEXT NOT NULL DEFAULT ''," \
	"  replycode TEXT NOT NULL DEFAULT ''," \
	"  action TEXT," \
	"  diagnostic TEXT," \
	"  diagnostic_type TEXT," \
	"  remote_mta TEXT," \
	"  smtp_command TEXT," \
	"  rule TEXT);" \
	"CREATE INDEX event_address ON event(address, at);" \
	"CREATE INDEX event_bounce ON event(bounce_id);" \
	"CREATE TABLE addr (" \
	"  address TEXT PRIMARY KEY," \
	"  cause INTEGER NOT NULL," \
	"  reason INTEGER NOT NULL," \
	"  scope INTEGER NOT NULL," \
	"  status TEXT NOT NULL," \
	"  since INTEGER NOT NULL," \
	"  until INTEGER NOT NULL," \
	"  event_id INTEGER," \
	"  rule TEXT NOT NULL," \
	"  source TEXT NOT NULL," \
	"  updated INTEGER NOT NULL," \
	"  soft_count INTEGER NOT NULL," \
	"  soft_first INTEGER NOT NULL," \
	"  soft_last INTEGER NOT NULL," \
	"  last_delivered INTEGER NOT NULL," \
	"  manual_at INTEGER NOT NULL) WITHOUT ROWID;" \
	"CREATE TABLE audit (" \
	"  id INTEGER PRIMARY KEY," \
	"  at INTEGER NOT NULL," \
	"  actor TEXT NOT NULL," \
	"  action TEXT NOT NULL," \
	"  target TEXT NOT NULL," \
	"  cause INTEGER NOT NULL," \
	"  reason INTEGER NOT NULL," \
	"  status TEXT NOT NULL," \
	"  since INTEGER NOT NULL," \
	"  until INTEGER NOT NULL," \
	"  note TEXT);" \
	"CREATE INDEX audit_target ON audit(target, id);" \
	"CREATE TRIGGER audit_append_only BEFORE DELETE ON audit" \
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;" \
	"CREATE TABLE incident (" \
	"  id INTEGER PRIMARY KEY," \
	"  provider TEXT NOT NULL," \
	"  reason INTEGER NOT NULL," \
	"  first_seen INTEGER NOT NULL," \
	"  last_seen INTEGER NOT NULL," \
	"  count INTEGER NOT NULL," \
	"  last_event_id INTEGER," \
	"  last_domain TEXT," \
	"  last_status TEXT," \
	"  last_diagnostic TEXT);" \
	"CREATE INDEX incident_provider ON incident(provider, last_seen);" \
	"PRAGMA user_version = 1;") \
	/* 2: stats over a period read events by time. */ \
	X("CREATE INDEX event_at ON event(at);" \
	"PRAGMA user_version = 2;") \
	/* 3: quieter incidents (a candidate opens after enough messages), alerts. */ \
	X("ALTER TABLE incident ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE incident ADD COLUMN messages INTEGER NOT NULL DEFAULT 1;" \
	"ALTER TABLE incident ADD COLUMN last_bounce_id INTEGER;" \
	"UPDATE incident SET opened = first_seen;" \
	"CREATE INDEX incident_last_seen ON incident(last_seen);" \
	"CREATE TABLE alert (" \
	"  id TEXT PRIMARY KEY," \
	"  kind TEXT NOT NULL," \
	"  subject TEXT NOT NULL," \
	"  at INTEGER NOT NULL," \
	"  incident_id INTEGER," \
	"  body TEXT NOT NULL);" \
	"CREATE INDEX alert_at ON alert(at);" \
	"CREATE TABLE alert_delivery (" \
	"  alert_id TEXT NOT NULL REFERENCES alert(id) ON DELETE CASCADE," \
	"  sink TEXT NOT NULL," \
	"  state INTEGER NOT NULL," \
	"  attempts INTEGER NOT NULL DEFAULT 0," \
	"  next_at INTEGER NOT NULL," \
	"  error TEXT," \
	"  PRIMARY KEY (alert_id, sink)) WITHOUT ROWID;" \
	"CREATE INDEX alert_delivery_due ON alert_delivery(state, next_at);" \
	"PRAGMA user_version = 3;") \
	/* 4: trust: a bounce's evidence, and why it does not count (NULL: it */ \
	/* counts); its events carry the flag so the policy and its replay skip them. */ \
	X("ALTER TABLE bounce ADD COLUMN trust TEXT;" \
	"ALTER TABLE bounce ADD COLUMN untrusted TEXT;" \
	"ALTER TABLE event ADD COLUMN untrusted INTEGER NOT NULL DEFAULT 0;" \
	"CREATE INDEX event_untrusted ON event(at) WHERE untrusted != 0;" \
	"PRAGMA user_version = 4;") \
	/* 5: Postfix's log as a source (issue 16). */ \
	X("ALTER TABLE event ADD COLUMN source TEXT;" \
	"ALTER TABLE event ADD COLUMN queue_id TEXT;" \
	"ALTER TABLE event ADD COLUMN sender TEXT;" \
	"ALTER TABLE event ADD COLUMN twin_of INTEGER;" \
	"CREATE INDEX event_queue ON event(queue_id, address) WHERE queue_id IS NOT NULL;" \
	"CREATE TABLE sent (" \
	"  queue_id TEXT PRIMARY KEY," \
	"  message_id TEXT," \
	"  sender TEXT," \
	"  at INTEGER NOT NULL) WITHOUT ROWID;" \
	"CREATE INDEX sent_message_id ON sent(message_id);" \
	"CREATE INDEX sent_at ON sent(at);" \
	"CREATE TABLE logseen (" \
	"  key BLOB PRIMARY KEY," \
	"  at INTEGER NOT NULL) WITHOUT ROWID;" \
	"CREATE INDEX logseen_at ON logseen(at);" \
	"CREATE TABLE logpos (" \
	"  name TEXT PRIMARY KEY," \
	"  inode INTEGER NOT NULL," \
	"  offset INTEGER NOT NULL," \
	"  hash TEXT NOT NULL," \
	"  cursor TEXT NOT NULL) WITHOUT ROWID;" \
	"PRAGMA user_version = 5;")

#define ADDR_COLS "cause, reason, scope, status, since, until, event_id, rule, source, " \
	"updated, soft_count, soft_first, soft_last, last_delivered, manual_at"

/* Prepared statements: id, text. */
/* A bounce that names the address being forgotten (?1), in any field. */
#define FORGET_BOUNCE_MATCH "(id IN (SELECT bounce_id FROM event WHERE address = ?1)" \
	" OR envelope_rcpt = ?1 OR verp_rcpt = ?1" \
	" OR instr(lower(orig_sender), ?1) > 0 OR instr(lower(subject), ?1) > 0" \
	" OR (raw IS NOT NULL AND instr(lower(CAST(raw AS TEXT)), ?1) > 0))"
/* ... that is also the evidence of another address's event. */
#define FORGET_BOUNCE_SHARED "EXISTS (SELECT 1 FROM event o WHERE o.bounce_id = bounce.id" \
	" AND o.address != ?1)"

#define STORE_STMTS(X) \
	X(BEGIN, "BEGIN IMMEDIATE") \
	X(COMMIT, "COMMIT") \
	X(ROLLBACK, "ROLLBACK") \
	X(BOUNCE_INS, "INSERT INTO bounce (digest, received, envelope_rcpt, verp_rcpt, decoder," \
	    " reporting_mta, orig_message_id, orig_sender, feedback_type, subject, nrcpt, raw," \
	    " trust, untrusted)" \
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)" \
	    " ON CONFLICT (digest) DO NOTHING") \
	X(BOUNCE_BY_DIGEST, "SELECT id FROM bounce WHERE digest = ?1") \
	X(EVENT_INS, "INSERT INTO event (bounce_id, address, at, class, reason, scope, status," \
	    " replycode, action, diagnostic, diagnostic_type, remote_mta, smtp_command, rule," \
	    " untrusted, source, queue_id, sender, twin_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8," \
	    " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)") \
	X(EVENT_TWIN, "SELECT id FROM event WHERE queue_id = ?1 AND address = ?2" \
	    " AND action = 'failed' AND twin_of IS NULL AND untrusted = 0 AND coalesce(source, 'lmtp') != ?3" \
	    " ORDER BY id LIMIT 1") \
	X(SENT_MSGID, "INSERT INTO sent (queue_id, message_id, at) VALUES (?1, ?2, ?3)" \
	    " ON CONFLICT (queue_id) DO UPDATE SET message_id = excluded.message_id," \
	    " sender = NULL, at = excluded.at") \
	X(SENT_FROM, "INSERT INTO sent (queue_id, sender, at) VALUES (?1, ?2, ?3)" \
	    " ON CONFLICT (queue_id) DO UPDATE SET sender = excluded.sender, at = excluded.at") \
	X(SENT_SENDER, "SELECT sender FROM sent WHERE queue_id = ?1") \
	X(SENT_BY_QID, "SELECT queue_id, message_id, sender, at FROM sent WHERE queue_id = ?1") \
	X(SENT_BY_MSGID, "SELECT queue_id, message_id, sender, at FROM sent WHERE message_id = ?1" \
	    " ORDER BY at DESC LIMIT 1") \
	X(SENT_EXPIRE, "DELETE FROM sent WHERE at < ?1") \
	X(SENT_BOUND, "DELETE FROM sent WHERE at < (SELECT at FROM sent ORDER BY at DESC" \
	    " LIMIT 1 OFFSET ?1)") \
	X(LOGSEEN_INS, "INSERT INTO logseen (key, at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING") \
	X(LOGSEEN_EXPIRE, "DELETE FROM logseen WHERE at < ?1") \
	X(LOGPOS_GET, "SELECT inode, offset, hash, cursor FROM logpos WHERE name = ?1") \
	X(LOGPOS_PUT, "INSERT OR REPLACE INTO logpos (name, inode, offset, hash, cursor)" \
	    " VALUES (?1, ?2, ?3, ?4, ?5)") \
	X(ADDR_GET, "SELECT " ADDR_COLS " FROM addr WHERE address = ?1") \
	X(ADDR_PUT, "INSERT OR REPLACE INTO addr (address, " ADDR_COLS ")" \
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)") \
	X(ADDR_FORGOTTEN, "SELECT count(*) FROM addr WHERE address > 'hmac:' AND address < 'hmac;'") \
	X(ADDR_DEL, "DELETE FROM addr WHERE address = ?1") \
	X(ADDR_COUNT_SUPPRESSED, "SELECT count(*) FROM addr WHERE cause != 0") \
	X(ADDR_SUPPRESSED, "SELECT address, cause, reason, since, until FROM addr WHERE cause != 0") \
	X(ADDR_ENTRY, "SELECT address, " ADDR_COLS " FROM addr WHERE address = ?1") \
	X(ADDR_LIST, "SELECT address, " ADDR_COLS " FROM addr" \
	    " WHERE address > ?1" \
	    " AND (?2 = 0 OR (cause != 0 AND (until = 0 OR until > ?3)))" \
	    " AND (?4 = 0 OR ((1 << cause) & ?4) != 0)" \
	    " AND (?5 < 0 OR reason = ?5)" \
	    " AND (?6 < 0 OR scope = ?6)" \
	    " AND (?7 IS NULL OR substr(address, instr(address, '@') + 1) = ?7)" \
	    " AND (?8 = 0 OR since >= ?8)" \
	    " AND (?9 = 0 OR since < ?9)" \
	    " ORDER BY address LIMIT ?10") \
	/* addresses named by untrusted bounces, with their state when they have one */ \
	X(ADDR_LIST_UNTRUSTED, "SELECT e.address, coalesce(a.cause, 0), coalesce(a.reason, 0)," \
	    " coalesce(a.scope, 0), coalesce(a.status, ''), coalesce(a.since, max(e.at))," \
	    " coalesce(a.until, 0), a.event_id, coalesce(a.rule, ''), coalesce(a.source, 'untrusted')," \
	    " coalesce(a.updated, max(e.at)), coalesce(a.soft_count, 0), coalesce(a.soft_first, 0)," \
	    " coalesce(a.soft_last, 0), coalesce(a.last_delivered, 0), coalesce(a.manual_at, 0)" \
	    " FROM event e LEFT JOIN addr a ON a.address = e.address" \
	    " WHERE e.untrusted != 0 AND e.address > ?1" \
	    " AND (?7 IS NULL OR substr(e.address, instr(e.address, '@') + 1) = ?7)" \
	    " AND (?8 = 0 OR e.at >= ?8)" \
	    " AND (?9 = 0 OR e.at < ?9)" \
	    " GROUP BY e.address ORDER BY e.address LIMIT ?10") \
	X(AUDIT_INS, "INSERT INTO audit (at, actor, action, target, cause, reason, status, since," \
	    " until, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)") \
	/* bounces naming only the forgotten address: tombstones */ \
	X(FORGET_BOUNCES, "UPDATE bounce SET raw = NULL, envelope_rcpt = NULL, verp_rcpt = NULL," \
	    " decoder = NULL, reporting_mta = NULL, orig_message_id = NULL, orig_sender = NULL," \
	    " feedback_type = NULL, subject = NULL" \
	    " WHERE " FORGET_BOUNCE_MATCH " AND NOT " FORGET_BOUNCE_SHARED) \
	/* bounces that are other addresses' evidence too: redacted (maintain.c) */ \
	X(FORGET_BOUNCES_SHARED, "SELECT id, raw FROM bounce" \
	    " WHERE " FORGET_BOUNCE_MATCH " AND " FORGET_BOUNCE_SHARED) \
	X(FORGET_BOUNCE_REDACT, "UPDATE bounce SET raw = ?2," \
	    " envelope_rcpt = CASE WHEN envelope_rcpt = ?1 THEN NULL ELSE envelope_rcpt END," \
	    " verp_rcpt = CASE WHEN verp_rcpt = ?1 THEN NULL ELSE verp_rcpt END," \
	    " orig_sender = CASE WHEN instr(lower(orig_sender), ?1) > 0 THEN NULL" \
	    "   ELSE orig_sender END," \
	    " subject = CASE WHEN instr(lower(subject), ?1) > 0 THEN NULL ELSE subject END" \
	    " WHERE id = ?3") \
	X(FORGET_EVENTS, "DELETE FROM event WHERE address = ?1") \
	X(FORGET_EVENT_TEXT, "UPDATE event SET diagnostic = NULL, remote_mta = NULL, action = NULL" \
	    " WHERE instr(lower(diagnostic), ?1) > 0 OR instr(lower(remote_mta), ?1) > 0" \
	    " OR instr(lower(action), ?1) > 0") \
	X(FORGET_INCIDENT_TEXT, "UPDATE incident SET last_diagnostic = NULL" \
	    " WHERE instr(lower(last_diagnostic), ?1) > 0") \
	X(FORGET_AUDIT_TARGET, "UPDATE audit SET target = ?2 WHERE target = ?1") \
	X(FORGET_AUDIT_TEXT, "UPDATE audit SET note = '[erased]'" \
	    " WHERE instr(lower(note), ?1) > 0 OR instr(lower(actor), ?1) > 0") \
	X(FORGET_ADDR_TEXT, "UPDATE addr SET source = 'erased' WHERE instr(lower(source), ?1) > 0") \
	X(REEVAL_BOUNCES, "SELECT id FROM bounce WHERE raw IS NOT NULL ORDER BY id") \
	X(REEVAL_BOUNCE, "SELECT raw, received, verp_rcpt, untrusted IS NOT NULL FROM bounce" \
	    " WHERE id = ?1") \
	X(REEVAL_BOUNCE_UPD, "UPDATE bounce SET decoder = ?2, reporting_mta = ?3," \
	    " orig_message_id = ?4, orig_sender = ?5, feedback_type = ?6, subject = ?7, nrcpt = ?8" \
	    " WHERE id = ?1") \
	X(REEVAL_EVENTS_DEL, "DELETE FROM event WHERE bounce_id = ?1") \
	X(REEVAL_TARGETS, "SELECT DISTINCT address FROM event") \
	X(REEVAL_ADDR_EVENTS, "SELECT id, at, class, reason, scope, status FROM event" \
	    " WHERE address = ?1 AND untrusted = 0 AND twin_of IS NULL ORDER BY at, id") \
	X(REEVAL_ADDR_ACTIONS, "SELECT at, action, cause, reason, status, since, until FROM audit" \
	    " WHERE target = ?1 AND action IN ('suppress', 'import', 'unsuppress', 'restore')" \
	    " ORDER BY at, id") \
	X(REEVAL_SENDER_EVENTS, "SELECT id, address, at, reason, status, diagnostic, bounce_id" \
	    " FROM event" \
	    " WHERE scope = ?1 AND class IN (?2, ?3) AND untrusted = 0 AND twin_of IS NULL" \
	    " ORDER BY at, id") \
	X(INCIDENT_CLEAR, "DELETE FROM incident") \
	X(PURGE, "UPDATE bounce SET raw = NULL WHERE id IN (SELECT id FROM bounce" \
	    " WHERE received < ?1 AND raw IS NOT NULL LIMIT ?2)") \
	X(SHOW_EVENTS, "SELECT e.id, e.bounce_id, e.at, e.class, e.reason, e.scope, e.status," \
	    " e.replycode, e.action, e.diagnostic, e.diagnostic_type, e.remote_mta, e.smtp_command," \
	    " e.rule, b.decoder, b.reporting_mta, b.orig_message_id, b.orig_sender, b.subject," \
	    " b.raw IS NOT NULL, b.untrusted, b.trust, e.source, e.queue_id, e.sender, e.twin_of" \
	    " FROM event e LEFT JOIN bounce b ON b.id = e.bounce_id" \
	    " WHERE e.address = ?1 ORDER BY e.at DESC, e.id DESC LIMIT ?2") \
	X(AUDIT_BY_TARGET, "SELECT id, at, actor, action, target, cause, reason, status, since," \
	    " until, note FROM audit WHERE target = ?1 AND id > ?2 ORDER BY id LIMIT ?3") \
	X(AUDIT_ALL, "SELECT id, at, actor, action, target, cause, reason, status, since," \
	    " until, note FROM audit WHERE id > ?2 ORDER BY id LIMIT ?3") \
	X(RAW, "SELECT raw FROM bounce WHERE id = ?1 AND raw IS NOT NULL") \
	X(STATS_BOUNCES, "SELECT count(*) FROM bounce WHERE received >= ?1 AND received < ?2") \
	X(STATS_EVENTS, "SELECT class, reason, scope, count(*) FROM event" \
	    " WHERE at >= ?1 AND at < ?2 AND twin_of IS NULL GROUP BY class, reason, scope") \
	X(STATS_DOMAINS, "SELECT substr(address, instr(address, '@') + 1) AS d, count(*) AS n" \
	    " FROM event WHERE at >= ?1 AND at < ?2 AND class IN (?3, ?4, ?5) AND twin_of IS NULL" \
	    " GROUP BY d ORDER BY n DESC, d LIMIT ?6") \
	X(STATS_SUPPRESSED, "SELECT cause, count(*) FROM addr" \
	    " WHERE cause != 0 AND (until = 0 OR until > ?1) GROUP BY cause") \
	X(INCIDENTS, "SELECT id, provider, reason, first_seen, last_seen, count, last_domain," \
	    " last_status, last_diagnostic, opened, messages FROM incident" \
	    " WHERE opened != 0 AND (?1 = 0 OR last_seen >= ?2) AND last_seen >= ?3" \
	    " ORDER BY last_seen DESC, id DESC") \
	X(INCIDENT_OPEN, "SELECT id, opened, first_seen, messages, last_bounce_id FROM incident" \
	    " WHERE provider = ?1 AND last_seen >= ?2 ORDER BY last_seen DESC LIMIT 1") \
	X(INCIDENT_INS, "INSERT INTO incident (provider, reason, first_seen, last_seen, count," \
	    " last_event_id, last_domain, last_status, last_diagnostic, opened, messages," \
	    " last_bounce_id) VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5, ?6, ?7, ?8, 1, ?9)") \
	X(INCIDENT_UPD, "UPDATE incident SET count = count + 1, reason = ?2," \
	    " first_seen = min(first_seen, ?3), last_seen = max(last_seen, ?3)," \
	    " last_event_id = ?4, last_domain = ?5, last_status = ?6, last_diagnostic = ?7," \
	    " opened = ?8, messages = messages + ?9, last_bounce_id = ?10 WHERE id = ?1") \
	X(ALERT_INS, "INSERT INTO alert (id, kind, subject, at, incident_id, body)" \
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING") \
	X(ALERT_EXISTS, "SELECT 1 FROM alert WHERE id = ?1") \
	X(ALERT_DELIVERY_INS, "INSERT INTO alert_delivery (alert_id, sink, state, next_at)" \
	    " VALUES (?1, ?2, 0, ?3) ON CONFLICT DO NOTHING") \
	X(ALERT_DUE, "SELECT a.id, a.kind, a.subject, a.at, a.incident_id, a.body, d.sink," \
	    " d.state, d.attempts, d.next_at, d.error FROM alert_delivery d" \
	    " JOIN alert a ON a.id = d.alert_id WHERE d.state = 0 AND d.next_at <= ?1" \
	    " ORDER BY a.at, a.id LIMIT ?2") \
	X(ALERT_RECENT, "SELECT a.id, a.kind, a.subject, a.at, a.incident_id, a.body, d.sink," \
	    " d.state, d.attempts, d.next_at, d.error FROM alert a" \
	    " LEFT JOIN alert_delivery d ON d.alert_id = a.id" \
	    " WHERE a.id IN (SELECT id FROM alert ORDER BY at DESC, id DESC LIMIT ?1)" \
	    " ORDER BY a.at DESC, a.id DESC, d.sink") \
	X(ALERT_MARK, "UPDATE alert_delivery SET state = ?3, attempts = attempts + 1," \
	    " next_at = ?4, error = ?5 WHERE alert_id = ?1 AND sink = ?2") \
	X(ALERT_SURGES, "SELECT coalesce(b.orig_sender, ''), e.class, count(*) FROM event e" \
	    " JOIN bounce b ON b.id = e.bounce_id WHERE e.at >= ?1 AND e.class IN (?2, ?3)" \
	    " AND e.untrusted = 0" \
	    " GROUP BY 1, 2 HAVING count(*) >= ?4 ORDER BY 3 DESC LIMIT 100")

#endif
