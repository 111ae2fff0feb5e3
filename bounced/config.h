/* SPDX-License-Identifier: MIT */
/*
 * config.h - the daemon's configuration: one YAML file (or the embedded
 * default of `bounced --dir DIR`) loaded into a plain, read-only struct
 * config.
 *
 * Every key is one row of the key table in config.c (type, default, min,
 * max); config.example.yaml documents each of them.  cfg_load() validates
 * the whole file before anything is applied: an unknown key, a value of the
 * wrong type or out of range is an error naming the file, the line and the
 * key ("bounced.yaml:12: lmtp.max_connections: 0 is below the minimum 1").
 * Relative paths are relative to the config file's directory.
 *
 * Ownership: cfg_load() returns a config the caller frees with cfg_free();
 * every string and array in it is owned by the config.  The store_policy
 * inside points into the config (provider groups): it lives as long as the
 * config.
 */
#ifndef BOUNCED_CONFIG_H
#define BOUNCED_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "store.h"

/* One listening Unix socket. */
struct cfg_socket {
	char *path;                /* absolute */
	mode_t mode;               /* permission bits given to the socket file */
	char *group;               /* group owning the socket file, or NULL */
	int group_explicit;        /* 1: group set in the file (missing group = error) */
	unsigned max_connections;  /* concurrent clients; the excess gets a refusal */
	unsigned idle_timeout;     /* seconds without a byte before we hang up */
};

struct config {
	char *file;                /* the config file, or NULL for the --dir default */
	char *user;                /* drop to this user when started as root, or NULL */
	char *group;               /* and this group (default: the user's), or NULL */

	int log_to_syslog;
	enum log_level log_level;
	int log_hash_addresses;    /* log addresses as hmac:HEX (store_addr_log_hash) */

	struct {
		struct cfg_socket sock;
		char *hostname;         /* LHLO/greeting name; NULL = gethostname() */
		size_t max_message_size;/* SIZE advertised; bytes read of one DATA */
		size_t keep_bytes;      /* bytes of a message kept and parsed */
		unsigned max_recipients;/* RCPT per transaction */
		unsigned max_bad_commands;
	} lmtp;

	struct {
		struct cfg_socket sock;
	} query;

	struct {
		struct cfg_socket sock;
		char *name;             /* the map name Postfix asks for (access action) */
		char *transport_name;   /* the map name for transport_maps (error: action) */
		char *recipient_delimiter; /* "+" or "" (none); any of these characters */
	} socketmap;

	struct {
		struct cfg_socket sock;
		int fail_closed;        /* 1: answer DEFER_IF_PERMIT, not DUNNO, when unsure */
	} policy_service;

	struct {
		struct cfg_socket sock;
		uid_t *allow_uids;
		size_t nallow_uids;
	} admin;

	struct {
		char *path;             /* SQLite file */
		char *secret_file;      /* HMAC secret; created (0600, random) when missing */
		unsigned busy_timeout_ms;
		unsigned cache_kib;
		unsigned batch_max;     /* bounces committed together at most */
		unsigned commit_delay_us; /* wait for bounces of transactions in progress */
	} store;

	struct {
		int enabled;
		char delimiters[3];     /* "+=": local part delimiter, then the '@' stand-in */
	} verp;

	struct {
		char *type;             /* "none", "file" or "journal" */
		char *path;             /* file: the log Postfix writes (maillog_file, mail.log) */
		char *unit;             /* journal: SYSLOG_IDENTIFIER prefix ("postfix": postfix/ *) */
		int64_t sent_ttl;       /* the sent map keeps a message this long */
		unsigned sent_max;      /* and at most this many */
	} logsource;

	struct {
		char *http;             /* "127.0.0.1:9187" as written, or NULL: no HTTP endpoint */
		int allow_non_loopback; /* 1: http may name any address */
		char http_host[64];     /* numeric, parsed from http */
		unsigned http_port;
	} metrics;

	/* alerts (issue 17): every sink is optional */
	struct {
		unsigned max_per_hour;  /* new events per hour; the excess waits */
		unsigned incident_grew; /* an event when an incident's failures pass N, 10N, ... */
		unsigned surge_threshold; /* hard (or complaint) recipients of one sender ... */
		int64_t surge_window;   /* ... within this long: a surge event */
		char *webhook_url;      /* http:// or https://, or NULL: no webhook */
		char *webhook_secret_file; /* HMAC-SHA256 key of the signature header */
		char *webhook_ca_file;  /* CA certificates to trust, or NULL: the system's */
		unsigned webhook_timeout; /* seconds for one POST */
		unsigned webhook_retry_min, webhook_retry_max; /* back-off bounds, seconds */
		char *mail_to;          /* the admin address, or NULL: no mail */
		char *mail_from;        /* envelope sender; NULL or "" = the null sender <> */
		char *mail_sendmail;    /* the sendmail program */
		unsigned mail_max_per_hour;
	} alerts;
	struct {
		int mode;               /* enum trust_mode: what counts toward suppression */
		char **domains;         /* sender domains the "sign" map signs (lowercase ASCII) */
		size_t ndomains;
		int64_t validity;       /* seconds a tag stays good (7 d) */
		char *keys_file;        /* signing keys; created (0600) when missing */
		char *sign_name;        /* the socketmap map name for sender_canonical_maps */
	} trust;

	struct store_policy policy;

	/* private: storage the policy points into */
	void *priv;
};

/* Where the defaults of path keys point. */
struct cfg_defaults {
	const char *state_dir;     /* store, secret */
	const char *run_dir;       /* sockets */
};

/*
 * Loads and validates FILE.  dflt gives the directories of the default
 * paths (NULL: the compiled-in /var/lib/bounced and /run/bounced).
 * Returns NULL with err filled ("FILE:LINE: KEY: why") on any error.
 */
struct config *cfg_load(const char *file, const struct cfg_defaults *dflt, char err[512]);

/*
 * Parses a config from memory; name is used in error messages and relative
 * paths are relative to base_dir.  Same contract as cfg_load().  (The fuzzer
 * and the unit tests use it.)
 */
struct config *cfg_load_buffer(const char *buf, size_t len, const char *name,
    const char *base_dir, const struct cfg_defaults *dflt, char err[512]);

/* The embedded default of `bounced --dir DIR`: everything under DIR. */
struct config *cfg_default_dir(const char *dir, char err[512]);

/*
 * What --check-config checks beyond the file (the unit runs it before the
 * daemon): the users and groups named exist, the directories of store.path
 * and store.secret_file exist (or the daemon will make them).  0, or -1 with
 * err filled ("FILE:LINE: KEY: why", the line where the key was set).
 */
int cfg_check_system(const struct config *cfg, char err[512]);

void cfg_free(struct config *cfg);

/*
 * Durations: "90" (seconds), "30s", "15m", "48h", "7d", "2w".  never_ok:
 * "never" is accepted and gives 0.  Returns 1 and sets *secs_r, 0 when
 * invalid.
 */
int cfg_parse_duration(const char *s, int never_ok, int64_t *secs_r);

/* Sizes: "1024", "64k", "4M", "1G" (powers of 1024).  1 / 0. */
int cfg_parse_size(const char *s, size_t *bytes_r);

/*
 * A TCP listening address: "127.0.0.1:9187", "[::1]:9187" or
 * "localhost:9187" (numeric only otherwise: no DNS).  Fills the numeric
 * host and the port (1-65535); loopback_r is 1 for 127.0.0.0/8 and ::1.
 * 1, or 0 with err filled.
 */
int cfg_parse_listen(const char *s, char host_r[64], unsigned *port_r, int *loopback_r,
    char err[256]);

#endif
