/* SPDX-License-Identifier: MIT */
/*
 * logsrc.h - Postfix's log as a second source of delivery events, beside
 * LMTP (issue 16).  A file (Postfix's maillog_file, rsyslog's mail.log) is
 * followed live; the lines are parsed (parser/postfix-log.c) in the loop
 * and committed by the writer thread with the file's position
 * (store_log_ingest), so a restart neither loses nor repeats a line.
 *
 * Threads: loop thread only (the writer runs the commits).
 */
#ifndef BOUNCED_LOGSRC_H
#define BOUNCED_LOGSRC_H

#include <stdint.h>

struct daemon;
struct logsrc;

/* What the source did since the start (stats, tests). */
struct logsrc_stats {
	uint64_t lines;           /* lines read */
	uint64_t used;            /* lines bounced uses (delivery, message-id, from) */
	uint64_t malformed;       /* skipped */
	uint64_t cut;             /* longer than REPORT_LOG_LINE_MAX: cut */
	uint64_t rotations;       /* rename + new file */
	uint64_t truncations;     /* copytruncate */
	uint64_t commits;
	int64_t offset;           /* committed position in the current file */
};

/*
 * Starts following the source the config names (d->cfg->logsource), or
 * returns NULL when logsource.type is none.  A file that does not exist
 * yet is waited for.  The position is read from the store once the
 * read-only store is open.
 */
struct logsrc *logsrc_new(struct daemon *d);

/* Stops reading; a commit in progress completes without it. */
void logsrc_free(struct logsrc *ls);

void logsrc_get_stats(const struct logsrc *ls, struct logsrc_stats *st_r);

#endif
