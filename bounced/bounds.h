/* SPDX-License-Identifier: MIT */
/*
 * bounds.h - the daemon's bounds on untrusted input (sockets, requests, the
 * config file), each named once.  The config may lower (never raise) the
 * ones marked "config"; bounced/config.c checks.  The parser's bounds (MIME
 * depth and parts, recipients per report, field bytes) are its own: struct
 * report_limits in parser/report.h, defaults in report_limits_default().
 * Bounces are attacker-controlled: nothing is read without a cap.
 */
#ifndef BOUNCED_BOUNDS_H
#define BOUNCED_BOUNDS_H

/* LMTP (RFC 2033 / RFC 5321 section 4.5.3.1) */
#define LIMIT_LMTP_LINE          4096      /* command line; text lines of DATA too */
#define LIMIT_LMTP_MESSAGE       (64u * 1024 * 1024) /* config: bytes read of one DATA */
#define LIMIT_LMTP_KEEP          (4u * 1024 * 1024)  /* config: bytes of it kept and parsed */
#define LIMIT_LMTP_RCPTS         1000      /* config: RCPT per transaction */
#define LIMIT_LMTP_BADCMDS       20        /* config: bad commands before we hang up */
#define LIMIT_LMTP_IDLE          300       /* config: seconds without a byte (RFC 5321: 5 min) */
#define LIMIT_LMTP_CONNS         64        /* config: concurrent sessions (Postfix opens <= 20) */

/* query and socketmap sockets */
#define LIMIT_QUERY_LINE         2048      /* one request line / netstring */
#define LIMIT_QUERY_CONNS        2048      /* config: concurrent clients */
#define LIMIT_QUERY_OUTPUT       (64u * 1024) /* unread replies held per client before we stop reading */
#define LIMIT_QUERY_IDLE         600       /* config: seconds */

/* admin socket */
#define LIMIT_ADMIN_LINE         (64u * 1024)
#define LIMIT_ADMIN_CONNS        16

/* Postfix's log (bounced/logsrc.c; line limits in parser/postfix-log.h) */
#define LIMIT_LOGSRC_READ        (64u * 1024) /* bytes read at once */
#define LIMIT_LOGSRC_BATCH       1024      /* lines used per commit */
#define LIMIT_LOGSRC_BATCH_BYTES (4u * 1024 * 1024) /* bytes read per commit */
#define LOGSRC_POLL_MS           200       /* the file is looked at this often */
#define LOGSRC_POSITION_EVERY    5         /* seconds: the position of unused lines is saved */

/* config file */
#define LIMIT_CONFIG_BYTES       (1024u * 1024)

#endif
