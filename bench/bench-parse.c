/* SPDX-License-Identifier: MIT */
/*
 * bench-parse.c - how fast the parser is: loads every regular file of the
 * given directories into memory, then parses all of them N times in this
 * process, first with bare GMime (stream + parser + message, what any
 * GMime-based tool pays), then with report_parse() (the same GMime work
 * plus our walk, decoders and classification), and prints messages/s and
 * MB/s for each, in CPU time of this thread and in wall time.
 *
 *   bench-parse [-n N] DIR|FILE...
 *
 * Goal (issue 2): >= 10,000 messages/s on one core where bare GMime does
 * about 16,500, i.e. the parser's own work is at most 40% of report_parse's
 * time.  Both figures are printed.  A benchmark, not a test: it prints
 * figures and always exits 0 unless it cannot read its input.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gmime/gmime.h>

#include "report.h"

/* Files loaded at most, and bytes per file. */
#define BENCH_FILES_MAX 100000
#define BENCH_FILE_MAX (16u * 1024 * 1024)

struct sample {
	char *data;
	size_t len;
};

struct clock2 {
	double cpu, wall;
};

static void load_path(GArray *samples, const char *path, int top);
static void bare_gmime(const char *data, size_t len) G_GNUC_NO_INLINE;
static struct clock2 now(void);
static void report_rate(const char *what, struct clock2 t0, struct clock2 t1, size_t msgs,
	size_t bytes);

static void
load_path(GArray *samples, const char *path, int top)
{
	struct stat st;
	char *data;
	gsize len;
	GError *err = NULL;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "bench-parse: %s: %s\n", path, g_strerror(errno));
		exit(1);
	}
	if (S_ISDIR(st.st_mode) && top) {
		GDir *d = g_dir_open(path, 0, &err);
		const char *name;
		GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

		if (d == NULL) {
			fprintf(stderr, "bench-parse: %s: %s\n", path, err->message);
			exit(1);
		}
		while ((name = g_dir_read_name(d)) != NULL)
			g_ptr_array_add(names, g_build_filename(path, name, NULL));
		g_dir_close(d);
		for (guint i = 0; i < names->len && samples->len < BENCH_FILES_MAX; i++)
			load_path(samples, g_ptr_array_index(names, i), 0);
		g_ptr_array_free(names, TRUE);
		return;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > BENCH_FILE_MAX)
		return;
	if (!g_file_get_contents(path, &data, &len, &err)) {
		fprintf(stderr, "bench-parse: %s: %s\n", path, err->message);
		exit(1);
	}
	{
		struct sample s = { data, len };

		g_array_append_val(samples, s);
	}
}

/* What any GMime-based parser pays: stream, parser, message, free. */
static void
bare_gmime(const char *data, size_t len)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);

	if (msg != NULL)
		g_object_unref(msg);
	g_object_unref(parser);
	g_object_unref(stream);
}

static struct clock2
now(void)
{
	struct timespec c, w;
	struct clock2 t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
	clock_gettime(CLOCK_MONOTONIC, &w);
	t.cpu = (double)c.tv_sec + (double)c.tv_nsec / 1e9;
	t.wall = (double)w.tv_sec + (double)w.tv_nsec / 1e9;
	return t;
}

static void
report_rate(const char *what, struct clock2 t0, struct clock2 t1, size_t msgs, size_t bytes)
{
	double cpu = t1.cpu - t0.cpu, wall = t1.wall - t0.wall;

	printf("%-14s %9.0f msg/s %7.1f MB/s (cpu %.3fs)   %9.0f msg/s (wall %.3fs)\n",
		what, (double)msgs / cpu, (double)bytes / cpu / 1e6, cpu,
		(double)msgs / wall, wall);
}

int
main(int argc, char **argv)
{
	GArray *samples = g_array_new(FALSE, FALSE, sizeof(struct sample));
	unsigned n = 20;
	size_t bytes = 0, msgs, rcpts = 0;
	struct clock2 t0, t1, t2, t3;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		n = (unsigned)strtoul(argv[2], NULL, 10);
		i = 3;
	}
	if (i >= argc || n == 0) {
		fprintf(stderr, "usage: bench-parse [-n N] DIR|FILE...\n");
		return 2;
	}
	for (; i < argc; i++)
		load_path(samples, argv[i], 1);
	if (samples->len == 0) {
		fprintf(stderr, "bench-parse: no files\n");
		return 1;
	}
	for (guint k = 0; k < samples->len; k++)
		bytes += g_array_index(samples, struct sample, k).len;
	g_mime_init();

	/* warm-up: page in the data, initialise GMime and the parser */
	for (guint k = 0; k < samples->len; k++) {
		struct sample *s = &g_array_index(samples, struct sample, k);
		struct report *r = report_parse(s->data, s->len, NULL);

		rcpts += r->rcpts->len;
		report_free(r);
	}

	t0 = now();
	for (unsigned it = 0; it < n; it++) {
		for (guint k = 0; k < samples->len; k++) {
			struct sample *s = &g_array_index(samples, struct sample, k);

			bare_gmime(s->data, s->len);
		}
	}
	t1 = now();
	t2 = now();
	for (unsigned it = 0; it < n; it++) {
		for (guint k = 0; k < samples->len; k++) {
			struct sample *s = &g_array_index(samples, struct sample, k);

			report_free(report_parse(s->data, s->len, NULL));
		}
	}
	t3 = now();

	msgs = (size_t)samples->len * n;
	printf("bench-parse: %u messages, %.1f MB, %zu recipients, %u rounds\n",
		samples->len, (double)bytes / 1e6, rcpts, n);
	report_rate("bare GMime", t0, t1, msgs, bytes * n);
	report_rate("report_parse", t2, t3, msgs, bytes * n);
	{
		double bare = t1.cpu - t0.cpu, full = t3.cpu - t2.cpu;

		printf("report_parse costs %+.0f%% over bare GMime; the parser's own work "
			"(walk, decoders, classification) is %.0f%% of its time (cpu)\n",
			(full / bare - 1.0) * 100.0, (full - bare) / full * 100.0);
	}

	for (guint k = 0; k < samples->len; k++)
		g_free(g_array_index(samples, struct sample, k).data);
	g_array_free(samples, TRUE);
	return 0;
}
