/* SPDX-License-Identifier: MIT */
/*
 * log.h - one key=value line per event, to stderr (journald reads it) or
 * syslog.  Untrusted text goes through log_escape() or the "%s" of a
 * LOG_ESC() argument, never raw: a bounce cannot forge log lines.
 *
 * log_warn/fatal append ": strerror(errno)"; the -x forms do not.  fatal*
 * exit(1) and are for startup or a broken invariant only.
 * The sink and level are the only global state (set by log_init/log_set_level).
 */
#ifndef BOUNCED_LOG_H
#define BOUNCED_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* to_syslog: 0 stderr, 1 syslog (facility mail).  ident e.g. "bounced". */
void log_init(const char *ident, int to_syslog, enum log_level level);
void log_set_level(enum log_level level);
/* "error", "warn", "info", "debug" -> level; 1 known, 0 not. */
int log_level_from_name(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Escapes untrusted bytes for a key=value log line: printable ASCII other
 * than '"' and '\\' as is, everything else as \xHH; truncated to fit
 * outsz (with "..." when cut).  Always NUL-terminates.  Returns out.
 */
char *log_escape(const char *in, size_t len, char *out, size_t outsz);

#endif
