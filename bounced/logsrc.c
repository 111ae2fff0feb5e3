/* SPDX-License-Identifier: MIT */
/*
 * logsrc.c - following Postfix's log file (see logsrc.h).
 *
 * Every LOGSRC_POLL_MS (and at once after a commit while more is waiting)
 * the file is checked and read with pread() from the position after the
 * last complete line taken:
 *   - rename + new file: the path names another inode.  The old file is
 *     read to its end first (its last lines), then the new one from 0;
 *   - copytruncate: the file is shorter than the position, or the line
 *     that ends at the position is no longer the one taken (SHA-256 of the
 *     last line): the file is read again from 0 (a line read twice is not
 *     counted twice: store_log_ingest's dedupe);
 *   - a restart: the stored position (inode, offset, hash of the last line)
 *     is used when the file is the same and the line at the offset still
 *     hashes the same; when the path names a new file, the rotated one
 *     (PATH.1, logrotate's name) is finished first if it has the stored
 *     inode.
 * Lines are cut at REPORT_LOG_LINE_MAX (the rest up to the newline is
 * skipped); a malformed line is skipped and counted.  One commit at a time:
 * the lines of one read and the position after them go to the writer
 * thread as one job; the next read starts when it is done (on failure, from
 * the last committed position again).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>
#include <systemd/sd-journal.h>

#include "alert.h"
#include "bounds.h"
#include "daemon.h"
#include "log.h"
#include "logsrc.h"
#include "metrics.h"
#include "postfix-log.h"

struct logsrc_job {
	struct writer_job job;          /* job.ud: the source, NULL once it is gone */
	GArray *entries;                /* of struct report_log_entry */
	struct store_log_batch b;
	struct store_logpos pos;        /* after the batch */
	int64_t start;                  /* the offset the batch started at */
	unsigned malformed;
	int64_t usec;                   /* time in the store (writer thread) */
};

struct logsrc {
	struct daemon *d;
	int journal;                    /* 1: the systemd journal, 0: a file */
	sd_journal *j;                  /* journal: open, NULL not yet */
	char *unit;                     /* journal: SYSLOG_IDENTIFIER is unit/smtp... */
	char cursor[512];               /* journal: the last committed entry's cursor */
	char *path;                     /* file; journal: a directory, or NULL: the system's */
	char name[128];                 /* the position's name in the store: "file:PATH" */
	struct event *tick;
	int fd;                         /* the file read, -1 none */
	int64_t inode;
	int draining;                   /* fd is a rotated file: read it to its end, then switch */
	int positioned;                 /* the stored position was looked at */
	struct store_logpos saved;      /* the stored position (positioned) */
	int64_t offset;                 /* after the last complete line taken */
	char hash[65];                  /* SHA-256 of that line, "" none */
	int skipping;                   /* inside a cut line: drop up to the newline */
	struct logsrc_job *inflight;
	int64_t last_commit;            /* monotonic usec */
	int missing_logged;
	struct logsrc_stats st;
	char buf[LIMIT_LOGSRC_READ];
};

static void logsrc_tick(evutil_socket_t fd, short what, void *arg);
static int logsrc_open(struct logsrc *ls);
static int logsrc_check(struct logsrc *ls);
static int logsrc_line_hash_at(struct logsrc *ls, int64_t offset, char hex[65]);
static void logsrc_read(struct logsrc *ls);
static size_t logsrc_lines(struct logsrc *ls, struct logsrc_job *lj, size_t have);
static void logsrc_line(struct logsrc *ls, struct logsrc_job *lj, const char *line, size_t len,
    int cut);
static void logsrc_parsed(struct logsrc *ls, struct logsrc_job *lj, int r, const char *line,
    size_t len);
static int logsrc_journal_open(struct logsrc *ls);
static void logsrc_journal_seek(struct logsrc *ls, const char *cursor);
static void logsrc_journal_read(struct logsrc *ls);
static const char *journal_field(sd_journal *j, const char *field, size_t *len_r);
static void logsrc_submit(struct logsrc *ls, struct logsrc_job *lj);
static int logsrc_job_fn(struct store *s, void *arg, time_t now, GArray *changes,
    char err[256]);
static void logsrc_job_done(struct writer_job *job);
static void logsrc_job_free(struct logsrc_job *lj);
static void hash_hex(const char *line, size_t len, char hex[65]);

struct logsrc *
logsrc_new(struct daemon *d)
{
	const struct config *c = d->cfg;
	struct logsrc *ls;
	struct timeval tv = { 0, LOGSRC_POLL_MS * 1000 };

	if (strcmp(c->logsource.type, "file") != 0 && strcmp(c->logsource.type, "journal") != 0)
		return NULL;
	ls = g_new0(struct logsrc, 1);
	ls->d = d;
	ls->journal = strcmp(c->logsource.type, "journal") == 0;
	ls->path = g_strdup(c->logsource.path);
	ls->unit = g_strdup(c->logsource.unit);
	if (ls->journal)
		g_snprintf(ls->name, sizeof(ls->name), "journal:%s", ls->path != NULL ? ls->path :
		    "system");
	else
		g_snprintf(ls->name, sizeof(ls->name), "file:%s", ls->path);
	ls->fd = -1;
	ls->tick = event_new(d->base, -1, EV_PERSIST, logsrc_tick, ls);
	event_add(ls->tick, &tv);
	log_info("event=logsource type=%s path=%s", c->logsource.type,
	    ls->path != NULL ? ls->path : "(system journal)");
	return ls;
}

void
logsrc_free(struct logsrc *ls)
{
	if (ls == NULL)
		return;
	if (ls->inflight != NULL)
		ls->inflight->job.ud = NULL;   /* completes and frees itself */
	event_free(ls->tick);
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->j != NULL)
		sd_journal_close(ls->j);
	g_free(ls->unit);
	g_free(ls->path);
	g_free(ls);
}

void
logsrc_get_stats(const struct logsrc *ls, struct logsrc_stats *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	if (ls != NULL)
		*st_r = ls->st;
}

static void
hash_hex(const char *line, size_t len, char hex[65])
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);

	g_checksum_update(ck, (const guchar *)line, (gssize)len);
	g_strlcpy(hex, g_checksum_get_string(ck), 65);
	g_checksum_free(ck);
}

/*
 * The hash of the line that ends at offset (its newline at offset - 1), as
 * taken: cut at REPORT_LOG_LINE_MAX.  0, or -1 when there is no such line.
 */
static int
logsrc_line_hash_at(struct logsrc *ls, int64_t offset, char hex[65])
{
	char b[REPORT_LOG_LINE_MAX + 2];
	int64_t from = offset - (int64_t)sizeof(b) > 0 ? offset - (int64_t)sizeof(b) : 0;
	ssize_t n = pread(ls->fd, b, (size_t)(offset - from), (off_t)from);
	const char *start;

	if (n <= 0 || n != offset - from || b[n - 1] != '\n')
		return -1;
	start = b + n - 1;
	while (start > b && start[-1] != '\n')
		start--;
	if (start == b && from > 0)
		return -1;     /* a line longer than we look back: unknown */
	hash_hex(start, (size_t)(b + n - 1 - start) < REPORT_LOG_LINE_MAX ?
	    (size_t)(b + n - 1 - start) : REPORT_LOG_LINE_MAX, hex);
	return 0;
}

/* Opens the file at its stored position, or from 0.  1 open, 0 not there, -1 error. */
static int
logsrc_open(struct logsrc *ls)
{
	struct stat st;
	char hex[65];
	int fd;

	fd = open(ls->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		if (!ls->missing_logged) {
			log_warnx("event=logsource path=%s error=\"%s\" effect=\"waiting for it\"",
			    ls->path, g_strerror(e));
			/* Postfix's log unreadable: deferrals go unseen (a health alert) */
			alert_health(ls->d->alerts, ALERT_HEALTH_LOG_STALLED, "postfix-log",
			    g_strerror(e));
		}
		ls->missing_logged = 1;
		return e == ENOENT ? 0 : -1;
	}
	ls->missing_logged = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("event=logsource path=%s error=\"not a regular file\"", ls->path);
		close(fd);
		return -1;
	}
	ls->fd = fd;
	ls->inode = (int64_t)st.st_ino;
	ls->offset = 0;
	ls->hash[0] = '\0';
	ls->skipping = 0;
	ls->draining = 0;
	if (ls->saved.name[0] == '\0')
		return 1;
	if (ls->saved.inode != ls->inode) {
		/* rotated while we were stopped: finish the rotated file first */
		char *old = g_strconcat(ls->path, ".1", NULL);
		int ofd = open(old, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		if (ofd >= 0 && fstat(ofd, &st) == 0 && (int64_t)st.st_ino == ls->saved.inode) {
			close(ls->fd);
			ls->fd = ofd;
			ls->inode = ls->saved.inode;
			ls->draining = 1;
			log_info("event=logsource path=%s resume=%s offset=%" G_GINT64_FORMAT, ls->path,
			    old, ls->saved.offset);
		} else {
			if (ofd >= 0)
				close(ofd);
			log_warnx("event=logsource path=%s warning=\"a new file since the last run and "
			    "no %s with the old one: reading the new file from its start\"", ls->path,
			    old);
		}
		g_free(old);
		if (!ls->draining) {
			ls->saved.name[0] = '\0';
			return 1;
		}
	}
	if (ls->saved.offset > 0 && ls->saved.hash[0] == '\0' && fstat(ls->fd, &st) == 0 &&
	    (int64_t)st.st_size >= ls->saved.offset) {
		/* the last line was too long to hash: the offset alone */
		ls->offset = ls->saved.offset;
	} else if (ls->saved.offset > 0 && logsrc_line_hash_at(ls, ls->saved.offset, hex) == 0 &&
	    strcmp(hex, ls->saved.hash) == 0) {
		ls->offset = ls->saved.offset;
		g_strlcpy(ls->hash, hex, sizeof(ls->hash));
	} else if (ls->saved.offset > 0) {
		log_warnx("event=logsource path=%s warning=\"the line at the stored position "
		    "changed (truncated or rewritten): reading from the start; lines read before "
		    "are not counted again\"", ls->path);
	}
	ls->saved.name[0] = '\0';   /* used */
	return 1;
}

/*
 * Rotation and truncation before a read.  0 go on reading, 1 switched or
 * rewound (read again), -1 no file.
 */
static int
logsrc_check(struct logsrc *ls)
{
	struct stat st, pst;
	char hex[65];

	if (fstat(ls->fd, &st) < 0)
		return -1;
	if (!ls->draining && stat(ls->path, &pst) == 0 && (int64_t)pst.st_ino != ls->inode) {
		/* renamed away and a new file made: finish this one, then switch */
		ls->draining = 1;
		ls->st.rotations++;
		log_info("event=logsource path=%s rotated=1 offset=%" G_GINT64_FORMAT, ls->path,
		    ls->offset);
	}
	if ((int64_t)st.st_size < ls->offset ||
	    (ls->offset > 0 && ls->hash[0] != '\0' &&
	    (logsrc_line_hash_at(ls, ls->offset, hex) < 0 || strcmp(hex, ls->hash) != 0))) {
		ls->st.truncations++;
		log_info("event=logsource path=%s truncated=1 size=%" G_GINT64_FORMAT " offset=%"
		    G_GINT64_FORMAT, ls->path, (int64_t)st.st_size, ls->offset);
		ls->offset = 0;
		ls->hash[0] = '\0';
		ls->skipping = 0;
		return 1;
	}
	return 0;
}

static void
logsrc_tick(evutil_socket_t fd, short what, void *arg)
{
	struct logsrc *ls = arg;

	(void)fd;
	(void)what;
	if (ls->inflight != NULL || ls->d->stopping || ls->d->writer == NULL)
		return;
	if (!ls->positioned) {
		int r;

		if (ls->d->ro == NULL)
			return;     /* the store is not open yet: main.c retries */
		r = store_logpos_get(ls->d->ro, ls->name, &ls->saved);
		if (r < 0) {
			log_warnx("event=logsource path=%s error=\"reading the position: %s\"", ls->path,
			    store_errmsg(ls->d->ro));
			return;
		}
		ls->positioned = 1;
	}
	if (ls->journal) {
		if (ls->j == NULL && logsrc_journal_open(ls) < 0)
			return;
		logsrc_journal_read(ls);
		return;
	}
	if (ls->fd < 0 && logsrc_open(ls) <= 0)
		return;
	if (logsrc_check(ls) < 0)
		return;
	logsrc_read(ls);
}

/* One line (no newline) of the batch. */
static void
logsrc_line(struct logsrc *ls, struct logsrc_job *lj, const char *line, size_t len, int cut)
{
	struct report_log_entry *e;
	int r;

	ls->st.lines++;
	if (cut)
		ls->st.cut++;
	g_array_set_size(lj->entries, lj->entries->len + 1);
	e = &g_array_index(lj->entries, struct report_log_entry, lj->entries->len - 1);
	r = report_log_parse(line, len, (int64_t)time(NULL), e);
	logsrc_parsed(ls, lj, r, line, len);
}

/* The last entry of lj was parsed with result r: kept (1) or dropped, a malformed one counted. */
static void
logsrc_parsed(struct logsrc *ls, struct logsrc_job *lj, int r, const char *line, size_t len)
{
	if (r == 1) {
		ls->st.used++;
		return;
	}
	g_array_set_size(lj->entries, lj->entries->len - 1);
	if (r < 0) {
		char esc[256];

		lj->malformed++;
		ls->st.malformed++;
		/* the first ones, then one in a thousand: a hostile log cannot flood ours */
		if ((ls->st.malformed <= 10 || ls->st.malformed % 1000 == 0) &&
		    ls->d->cfg->log_hash_addresses)
			/* the line names addresses: not logged (log.hash_addresses) */
			log_warnx("event=logsource_malformed path=%s count=%" G_GUINT64_FORMAT
			    " bytes=%zu", ls->path, ls->st.malformed, len);
		else if (ls->st.malformed <= 10 || ls->st.malformed % 1000 == 0)
			log_warnx("event=logsource_malformed path=%s count=%" G_GUINT64_FORMAT
			    " line=\"%s\"", ls->path, ls->st.malformed,
			    log_escape(line, len < 200 ? len : 200, esc, sizeof(esc)));
	}
}

/*
 * Splits buf[0..have) into lines for lj; returns the bytes consumed (a
 * partial last line stays).  Sets ls->hash to the last whole line's hash,
 * "" after a line too long to be checked again.
 */
static size_t
logsrc_lines(struct logsrc *ls, struct logsrc_job *lj, size_t have)
{
	const char *last = NULL;
	size_t used = 0, last_len = 0;

	while (lj->entries->len < LIMIT_LOGSRC_BATCH) {
		char *nl = memchr(ls->buf + used, '\n', have - used);
		size_t len = nl != NULL ? (size_t)(nl - (ls->buf + used)) : have - used;

		if (ls->skipping) {
			/* the rest of a cut line */
			used += nl != NULL ? len + 1 : len;
			if (nl == NULL)
				break;
			ls->skipping = 0;
			continue;
		}
		if (nl == NULL && len <= REPORT_LOG_LINE_MAX)
			break;          /* a partial line: wait for the rest */
		logsrc_line(ls, lj, ls->buf + used, len < REPORT_LOG_LINE_MAX ? len :
		    REPORT_LOG_LINE_MAX, len > REPORT_LOG_LINE_MAX);
		if (len <= REPORT_LOG_LINE_MAX) {
			last = ls->buf + used;
			last_len = len;
		} else {
			last = NULL;
			ls->hash[0] = '\0';   /* cannot be checked at the next start */
		}
		if (nl == NULL) {
			/* over the limit with no end in sight: the rest is skipped */
			used += len;
			ls->skipping = 1;
			break;
		}
		used += len + 1;
	}
	if (last != NULL)
		hash_hex(last, last_len, ls->hash);
	return used;
}

/* Reads what is there (bounded), parses it and submits one commit. */
static void
logsrc_read(struct logsrc *ls)
{
	struct logsrc_job *lj = g_new0(struct logsrc_job, 1);
	size_t have = 0, total = 0;
	int64_t start = ls->offset;
	int eof = 0;

	lj->entries = g_array_sized_new(FALSE, FALSE, sizeof(struct report_log_entry), 64);
	lj->start = start;
	/* ls->offset: file offset of buf[0] */
	while (total < LIMIT_LOGSRC_BATCH_BYTES && lj->entries->len < LIMIT_LOGSRC_BATCH) {
		ssize_t n = pread(ls->fd, ls->buf + have, sizeof(ls->buf) - have,
		    (off_t)(ls->offset + (int64_t)have));
		size_t used;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = 1;
			break;
		}
		have += (size_t)n;
		total += (size_t)n;
		used = logsrc_lines(ls, lj, have);
		memmove(ls->buf, ls->buf + used, have - used);
		ls->offset += (int64_t)used;
		have -= used;
	}
	if (eof && ls->draining) {
		int64_t old_inode = ls->inode, old_offset = ls->offset;

		if (have > 0 && !ls->skipping) {
			/* the rotated file ends without a newline: its last line is whole */
			logsrc_line(ls, lj, ls->buf, have, 0);
			old_offset += (int64_t)have;
		}
		/* the rotated file is finished: the new one from its start */
		close(ls->fd);
		ls->fd = -1;
		if (logsrc_open(ls) <= 0) {
			ls->inode = old_inode;    /* the position stays at the old file's end */
			ls->offset = old_offset;
			ls->hash[0] = '\0';
		}
	}
	if (lj->entries->len == 0 && lj->malformed == 0 && (ls->offset == start ||
	    g_get_monotonic_time() - ls->last_commit < (gint64)LOGSRC_POSITION_EVERY *
	    G_USEC_PER_SEC)) {
		/* nothing to count: the position goes with the next lines */
		logsrc_job_free(lj);
		return;
	}
	lj->pos.inode = ls->inode;
	lj->pos.offset = ls->offset;
	g_strlcpy(lj->pos.name, ls->name, sizeof(lj->pos.name));
	g_strlcpy(lj->pos.hash, ls->hash, sizeof(lj->pos.hash));
	logsrc_submit(ls, lj);
}

static void
logsrc_submit(struct logsrc *ls, struct logsrc_job *lj)
{
	const struct config *c = ls->d->cfg;

	lj->b.entries = (const struct report_log_entry *)(void *)lj->entries->data;
	lj->b.n = lj->entries->len;
	lj->b.pos = &lj->pos;
	lj->b.sent_ttl = c->logsource.sent_ttl;
	lj->b.sent_max = c->logsource.sent_max;
	lj->job.fn = logsrc_job_fn;
	lj->job.arg = lj;
	lj->job.done = logsrc_job_done;
	lj->job.ud = ls;
	ls->inflight = lj;
	writer_submit(ls->d->writer, &lj->job);
}

/* Writer thread. */
static int
logsrc_job_fn(struct store *s, void *arg, time_t now, GArray *changes, char err[256])
{
	struct logsrc_job *lj = arg;
	gint64 t0 = g_get_monotonic_time();
	int rc = store_log_ingest(s, &lj->b, now, changes);

	lj->usec = g_get_monotonic_time() - t0;
	if (rc < 0) {
		g_strlcpy(err, store_errmsg(s), 256);
		return -1;
	}
	return 0;
}

static void
logsrc_job_free(struct logsrc_job *lj)
{
	g_array_free(lj->entries, TRUE);
	g_free(lj);
}

static void
logsrc_job_done(struct writer_job *job)
{
	struct logsrc_job *lj = (struct logsrc_job *)job;
	struct logsrc *ls = job->ud;
	struct metrics *m;
	const struct store_log_batch *b = &lj->b;

	if (ls == NULL) {
		logsrc_job_free(lj);
		return;
	}
	ls->inflight = NULL;
	m = ls->d->metrics;
	metrics_log_lines(m, METRICS_LOG_MALFORMED, lj->malformed);
	if (job->rc < 0) {
		char esc[300];

		log_warnx("event=logsource_commit_failed path=%s lines=%u error=\"%s\" effect=\"read "
		    "again from offset %" G_GINT64_FORMAT "\"", ls->path, (unsigned)lj->entries->len,
		    log_escape(job->err, strlen(job->err), esc, sizeof(esc)), lj->start);
		if (ls->journal) {
			logsrc_journal_seek(ls, ls->cursor);
		} else if (lj->pos.inode == ls->inode) {
			ls->offset = lj->start;
			ls->hash[0] = '\0';
			ls->skipping = 0;
		}
		logsrc_job_free(lj);
		return;
	}
	ls->st.commits++;
	ls->st.offset = lj->pos.offset;
	if (lj->pos.cursor[0] != '\0')
		g_strlcpy(ls->cursor, lj->pos.cursor, sizeof(ls->cursor));
	ls->last_commit = g_get_monotonic_time();
	metrics_log_lines(m, METRICS_LOG_SENT, b->counted[REPORT_LOG_STATUS_SENT]);
	metrics_log_lines(m, METRICS_LOG_DEFERRED, b->counted[REPORT_LOG_STATUS_DEFERRED]);
	metrics_log_lines(m, METRICS_LOG_BOUNCED, b->counted[REPORT_LOG_STATUS_BOUNCED]);
	metrics_log_lines(m, METRICS_LOG_EXPIRED, b->counted[REPORT_LOG_STATUS_EXPIRED]);
	metrics_log_lines(m, METRICS_LOG_DUPLICATE, b->duplicates);
	metrics_log_lines(m, METRICS_LOG_TWIN, b->twins);
	metrics_log_lines(m, METRICS_LOG_SENT_MAP, b->sent_map);
	log_debug("event=logsource_commit path=%s lines=%u sent=%u deferred=%u bounced=%u "
	    "duplicates=%u twins=%u offset=%" G_GINT64_FORMAT " ms=%.1f", ls->path,
	    (unsigned)lj->entries->len,
	    b->counted[REPORT_LOG_STATUS_SENT], b->counted[REPORT_LOG_STATUS_DEFERRED],
	    b->counted[REPORT_LOG_STATUS_BOUNCED], b->duplicates, b->twins, lj->pos.offset,
	    (double)lj->usec / 1000.0);
	logsrc_job_free(lj);
	/* read on at once: a burst is taken in batches back to back */
	event_active(ls->tick, EV_TIMEOUT, 0);
}

/* ---- the systemd journal ------------------------------------------ */

/*
 * Positions the journal after cursor (the last entry taken), or at its
 * head.  An entry that is gone (vacuumed) leaves the journal at the next
 * one, which is then read.
 */
static void
logsrc_journal_seek(struct logsrc *ls, const char *cursor)
{
	if (cursor == NULL || cursor[0] == '\0' || sd_journal_seek_cursor(ls->j, cursor) < 0) {
		sd_journal_seek_head(ls->j);
		return;
	}
	if (sd_journal_next(ls->j) > 0 && sd_journal_test_cursor(ls->j, cursor) <= 0) {
		log_warnx("event=logsource journal=%s warning=\"the stored cursor's entry is gone: "
		    "reading on from the next one\"", ls->name);
		sd_journal_previous(ls->j);
	}
}

/* 0, or -1 (logged once) when the journal cannot be opened yet. */
static int
logsrc_journal_open(struct logsrc *ls)
{
	static const char *const services[] = { "smtp", "lmtp", "cleanup", "qmgr" };
	int r;

	r = ls->path != NULL ? sd_journal_open_directory(&ls->j, ls->path, 0) :
	    sd_journal_open(&ls->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		ls->j = NULL;
		if (!ls->missing_logged) {
			log_warnx("event=logsource journal=%s error=\"%s\" effect=\"retrying\"", ls->name,
			    g_strerror(-r));
			alert_health(ls->d->alerts, ALERT_HEALTH_LOG_STALLED, "postfix-log",
			    g_strerror(-r));
		}
		ls->missing_logged = 1;
		return -1;
	}
	ls->missing_logged = 0;
	/* entries are bounded like file lines (the data of a field, not more) */
	sd_journal_set_data_threshold(ls->j, REPORT_LOG_LINE_MAX + 32);
	/* sets up the inotify watch that sd_journal_process() reads: new files are seen */
	if (sd_journal_get_fd(ls->j) < 0)
		log_warnx("event=logsource journal=%s warning=\"no change notification: new journal "
		    "files are seen at the next restart\"", ls->name);
	for (size_t i = 0; i < G_N_ELEMENTS(services); i++) {
		char m[160];

		g_snprintf(m, sizeof(m), "SYSLOG_IDENTIFIER=%s/%s", ls->unit, services[i]);
		sd_journal_add_match(ls->j, m, 0);   /* the same field: OR */
	}
	g_strlcpy(ls->cursor, ls->saved.cursor, sizeof(ls->cursor));
	logsrc_journal_seek(ls, ls->cursor);
	log_info("event=logsource journal=%s cursor=%s", ls->name, ls->cursor[0] ? "stored" :
	    "head");
	return 0;
}

/* One field's value ("FIELD=value" -> value), or NULL. */
static const char *
journal_field(sd_journal *j, const char *field, size_t *len_r)
{
	const void *d;
	size_t l, n = strlen(field);

	if (sd_journal_get_data(j, field, &d, &l) < 0 || l <= n || ((const char *)d)[n] != '=')
		return NULL;
	*len_r = l - n - 1;
	return (const char *)d + n + 1;
}

/* The entries since the cursor (bounded), then one commit with the last one's cursor. */
static void
logsrc_journal_read(struct logsrc *ls)
{
	struct logsrc_job *lj = g_new0(struct logsrc_job, 1);
	int r, any = 0;

	lj->entries = g_array_sized_new(FALSE, FALSE, sizeof(struct report_log_entry), 64);
	(void)sd_journal_process(ls->j);   /* new or rotated journal files */
	while (lj->entries->len < LIMIT_LOGSRC_BATCH && (r = sd_journal_next(ls->j)) > 0) {
		struct report_log_entry *e;
		const char *ident, *msg;
		size_t ilen = 0, mlen = 0;
		uint64_t usec = 0;

		any = 1;
		ls->st.lines++;
		ident = journal_field(ls->j, "SYSLOG_IDENTIFIER", &ilen);
		msg = journal_field(ls->j, "MESSAGE", &mlen);
		if (ident == NULL || msg == NULL)
			continue;
		sd_journal_get_realtime_usec(ls->j, &usec);
		g_array_set_size(lj->entries, lj->entries->len + 1);
		e = &g_array_index(lj->entries, struct report_log_entry, lj->entries->len - 1);
		r = report_log_parse_message(ident, ilen, msg, mlen, (int64_t)(usec / 1000000), e);
		if (r == 1)   /* the dedupe key: the entry's own microsecond */
			g_snprintf(e->stamp, sizeof(e->stamp), "%" G_GUINT64_FORMAT, usec);
		logsrc_parsed(ls, lj, r, msg, mlen);
	}
	if (!any) {
		logsrc_job_free(lj);
		return;
	}
	{
		char *c = NULL;

		if (sd_journal_get_cursor(ls->j, &c) >= 0 && c != NULL)
			g_strlcpy(lj->pos.cursor, c, sizeof(lj->pos.cursor));
		free(c);
	}
	g_strlcpy(lj->pos.name, ls->name, sizeof(lj->pos.name));
	logsrc_submit(ls, lj);
}
