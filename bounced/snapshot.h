/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - what the daemon's parts count, read in one go for a scrape
 * (METRICS, GET /metrics) or STATS: the index, the writer, the servers'
 * connections and the query counters, each read from its owner.  metrics.c
 * renders the snapshot it is handed, so it depends on none of these parts.
 */
#ifndef BOUNCED_SNAPSHOT_H
#define BOUNCED_SNAPSHOT_H

struct daemon;
struct metrics_snapshot;

/* Fills s_r from d's parts (loop thread). */
void snapshot_collect(const struct daemon *d, struct metrics_snapshot *s_r);

/* The same as a metrics_snapshot_fn (ud: the struct daemon), for the HTTP endpoint. */
void snapshot_collect_cb(void *ud, struct metrics_snapshot *s_r);

#endif
