/* SPDX-License-Identifier: MIT */
/*
 * bench-query.c - a load client for "may I send to X?": C connections to a
 * Unix socket, each keeping D requests in flight (D=1: lock-step), for a
 * fixed time; prints requests/s and latency percentiles.  The same client
 * speaks bounced's query protocol ("CHECK <address>\n" -> one line) or
 * Redis RESP (EXISTS or GET <address>), so the two servers are measured the
 * same way; and, for Postfix's two ways of asking bounced, the socketmap
 * ("suppressed <address>" netstrings) and the policy delegation protocol
 * (a request shaped as Postfix 3.7's smtpd sends it at RCPT, 31 attributes,
 * about 620 bytes), so that bench-policy.sh compares them in one run.
 *
 *   bench-query -s SOCKET [-P bounced|redis-exists|redis-get|socketmap|policy] [-c CONNS]
 *               [-d DEPTH] [-t SECONDS] [-k KEYS] [-w WARMUP] [-r RATE] [-q]
 *
 * -r RATE paces the clients (lock-step) to RATE requests/s in all: each
 * connection asks once every CONNS/RATE seconds, like applications that
 * check before each mail, instead of asking again the moment a reply
 * arrives.  Latency is then counted from the time a request was due, so a
 * server that falls behind is not flattered (no coordinated omission).
 *
 * Keys are "user<n>@bench.test" with n uniform in [0, 2*KEYS): half of the
 * requests hit a stored address when the server holds user0..user<KEYS-1>.
 * Latency is from the write of a request to the read of its reply, in a
 * histogram of 1 us buckets (up to 1 s).  Output (one line, key=value):
 *   proto= conns= depth= seconds= requests= rps= p50_us= p90_us= p99_us=
 *   p999_us= max_us= hits= errors=
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BQ_HIST_US   1000000         /* histogram range: 1 s in 1 us buckets */
#define BQ_BUF       65536
#define BQ_DEPTH_MAX 256

enum bq_proto { BQ_BOUNCED, BQ_REDIS_EXISTS, BQ_REDIS_GET, BQ_SOCKETMAP, BQ_POLICY };

static const char *const bq_proto_names[] = { "bounced", "redis-exists", "redis-get",
	"socketmap", "policy" };

struct bq_conn {
	int fd;
	unsigned inflight;
	uint64_t sent_at[BQ_DEPTH_MAX];  /* ring of send times, oldest first */
	unsigned head;
	char in[BQ_BUF];
	size_t in_len;
	char out[BQ_BUF];
	size_t out_len;
	uint64_t rng;
	uint64_t next_at;                /* -r: when the next request is due */
};

struct bq {
	enum bq_proto proto;
	unsigned conns, depth;
	double seconds, warmup;
	uint64_t keys;
	const char *path;
	int quiet;
	uint64_t *hist;
	uint64_t overflow;
	uint64_t requests, hits, errors, max_us;
	int measuring;
	double rate;                     /* -r: requests/s in all, 0: as fast as replies come */
	uint64_t interval;               /* -r: us between two requests of one connection */
};

static uint64_t
bq_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
bq_rand(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
bq_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Appends one request to c->out. */
static void
bq_request(struct bq *b, struct bq_conn *c, uint64_t now)
{
	char key[64];
	int kl = snprintf(key, sizeof(key), "user%" PRIu64 "@bench.test",
	    bq_rand(&c->rng) % (2 * b->keys));

	switch (b->proto) {
	case BQ_BOUNCED:
		c->out_len += (size_t)snprintf(c->out + c->out_len, BQ_BUF - c->out_len,
		    "CHECK %s\n", key);
		break;
	case BQ_REDIS_EXISTS:
		c->out_len += (size_t)snprintf(c->out + c->out_len, BQ_BUF - c->out_len,
		    "*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n", kl, key);
		break;
	case BQ_REDIS_GET:
		c->out_len += (size_t)snprintf(c->out + c->out_len, BQ_BUF - c->out_len,
		    "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
		break;
	case BQ_SOCKETMAP:
		c->out_len += (size_t)snprintf(c->out + c->out_len, BQ_BUF - c->out_len,
		    "%d:suppressed %s,", kl + 11, key);
		break;
	case BQ_POLICY:
		c->out_len += (size_t)snprintf(c->out + c->out_len, BQ_BUF - c->out_len,
		    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
		    "client_address=192.0.2.10\nclient_name=app.example.org\n"
		    "reverse_client_name=app.example.org\nclient_port=40122\n"
		    "helo_name=app.example.org\nsender=shop@example.org\nrecipient=%s\n"
		    "recipient_count=0\nqueue_id=\ninstance=1a2b.656e1f00.1c2d3.0\nsize=0\n"
		    "etrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\n"
		    "ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		    "ccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n"
		    "encryption_keysize=0\npolicy_context=\nserver_address=127.0.0.1\n"
		    "server_port=25\ncompatibility_level=3.6\nmail_version=3.7.11\n\n", key);
		break;
	}
	c->sent_at[(c->head + c->inflight) % BQ_DEPTH_MAX] = now;
	c->inflight++;
}

/*
 * Length of the first complete reply in buf (0: incomplete).  *hit_r: the
 * address was found (SUPPRESSED, :1, a bulk string); *err_r: ERR or -ERR.
 */
static size_t
bq_reply(struct bq *b, const char *buf, size_t len, int *hit_r, int *err_r)
{
	const char *nl;
	size_t l1;

	if (b->proto == BQ_SOCKETMAP) {
		const char *colon = memchr(buf, ':', len);
		size_t n, h;

		if (colon == NULL)
			return 0;
		n = (size_t)strtoul(buf, NULL, 10);
		h = (size_t)(colon - buf) + 1;
		if (len < h + n + 1)
			return 0;
		*hit_r = n >= 2 && strncmp(colon + 1, "OK", 2) == 0;
		*err_r = buf[h + n] != ',' || (n >= 4 && strncmp(colon + 1, "TEMP", 4) == 0);
		return h + n + 1;
	}
	nl = memchr(buf, '\n', len);
	if (nl == NULL)
		return 0;
	l1 = (size_t)(nl - buf) + 1;
	*hit_r = 0;
	*err_r = 0;
	if (b->proto == BQ_BOUNCED) {
		*hit_r = buf[0] == 'S';
		*err_r = buf[0] == 'E';
		return l1;
	}
	if (b->proto == BQ_POLICY) {
		/* "action=...\n\n" */
		if (len < l1 + 1)
			return 0;
		*hit_r = strncmp(buf, "action=DUNNO", 12) != 0;
		*err_r = strncmp(buf, "action=", 7) != 0 || buf[l1] != '\n';
		return l1 + 1;
	}
	switch (buf[0]) {
	case ':':
		*hit_r = buf[1] == '1';
		return l1;
	case '$': {
		long n = strtol(buf + 1, NULL, 10);

		if (n < 0)
			return l1;
		if (len < l1 + (size_t)n + 2)
			return 0;
		*hit_r = 1;
		return l1 + (size_t)n + 2;
	}
	default:
		*err_r = 1;
		return l1;
	}
}

static void
bq_record(struct bq *b, uint64_t us, int hit, int err)
{
	if (!b->measuring)
		return;
	b->requests++;
	b->hits += (uint64_t)hit;
	b->errors += (uint64_t)err;
	if (us > b->max_us)
		b->max_us = us;
	if (us < BQ_HIST_US)
		b->hist[us]++;
	else
		b->overflow++;
}

static uint64_t
bq_percentile(const struct bq *b, double p)
{
	uint64_t want = (uint64_t)((double)b->requests * p), seen = 0;

	for (uint64_t i = 0; i < BQ_HIST_US; i++) {
		seen += b->hist[i];
		if (seen > want)
			return i;
	}
	return BQ_HIST_US;
}

static int
bq_flush(struct bq_conn *c)
{
	while (c->out_len > 0) {
		ssize_t n = write(c->fd, c->out, c->out_len);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-query -s SOCKET [-P bounced|redis-exists|redis-get|socketmap|policy] "
	    "[-c CONNS] [-d DEPTH] [-t SECONDS] [-w WARMUP] [-k KEYS] [-r RATE] [-q]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct bq b = { .proto = BQ_BOUNCED, .conns = 50, .depth = 1, .seconds = 10,
	    .warmup = 1, .keys = 1000000 };
	struct bq_conn *conns;
	struct epoll_event *evs;
	uint64_t start, measure_from, end;
	int ep, opt;

	while ((opt = getopt(argc, argv, "s:P:c:d:t:w:k:r:q")) != -1) {
		switch (opt) {
		case 's': b.path = optarg; break;
		case 'P':
			if (strcmp(optarg, "bounced") == 0)
				b.proto = BQ_BOUNCED;
			else if (strcmp(optarg, "redis-exists") == 0)
				b.proto = BQ_REDIS_EXISTS;
			else if (strcmp(optarg, "redis-get") == 0)
				b.proto = BQ_REDIS_GET;
			else if (strcmp(optarg, "socketmap") == 0)
				b.proto = BQ_SOCKETMAP;
			else if (strcmp(optarg, "policy") == 0)
				b.proto = BQ_POLICY;
			else
				usage();
			break;
		case 'c': b.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': b.depth = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': b.seconds = strtod(optarg, NULL); break;
		case 'w': b.warmup = strtod(optarg, NULL); break;
		case 'k': b.keys = strtoull(optarg, NULL, 10); break;
		case 'r': b.rate = strtod(optarg, NULL); break;
		case 'q': b.quiet = 1; break;
		default: usage();
		}
	}
	if (b.path == NULL || b.conns == 0 || b.depth == 0 || b.depth > BQ_DEPTH_MAX ||
	    b.keys == 0 || b.rate < 0 || (b.rate > 0 && b.depth != 1))
		usage();
	if (b.rate > 0)
		b.interval = (uint64_t)((double)b.conns * 1e6 / b.rate);
	b.hist = calloc(BQ_HIST_US, sizeof(uint64_t));
	conns = calloc(b.conns, sizeof(*conns));
	evs = calloc(b.conns, sizeof(*evs));
	ep = epoll_create1(0);
	if (b.hist == NULL || conns == NULL || evs == NULL || ep < 0) {
		perror("bench-query");
		return 1;
	}
	for (unsigned i = 0; i < b.conns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

		conns[i].fd = bq_connect(b.path);
		if (conns[i].fd < 0) {
			fprintf(stderr, "bench-query: connect %s: %s\n", b.path, strerror(errno));
			return 1;
		}
		conns[i].rng = 0x9E3779B97F4A7C15ULL * (i + 1);
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	start = bq_now_us();
	measure_from = start + (uint64_t)(b.warmup * 1e6);
	end = measure_from + (uint64_t)(b.seconds * 1e6);
	for (unsigned i = 0; i < b.conns; i++) {
		if (b.rate > 0) {
			/* paced: spread the first requests over one interval */
			conns[i].next_at = start + bq_rand(&conns[i].rng) % (b.interval + 1);
			continue;
		}
		for (unsigned k = 0; k < b.depth; k++)
			bq_request(&b, &conns[i], start);
		bq_flush(&conns[i]);
	}
	for (;;) {
		uint64_t now = bq_now_us();
		int n;

		if (now >= end)
			break;
		b.measuring = now >= measure_from;
		if (b.rate > 0) {
			/* due requests of idle connections, stamped with when they were due */
			for (unsigned i = 0; i < b.conns; i++) {
				struct bq_conn *c = &conns[i];

				if (c->inflight > 0 || c->next_at > now)
					continue;
				bq_request(&b, c, c->next_at);
				c->next_at += b.interval;
				if (bq_flush(c) < 0) {
					fprintf(stderr, "bench-query: write: %s\n", strerror(errno));
					return 1;
				}
			}
		}
		n = epoll_wait(ep, evs, (int)b.conns, b.rate > 0 ? 1 : 100);
		now = bq_now_us();
		for (int i = 0; i < n; i++) {
			struct bq_conn *c = evs[i].data.ptr;
			ssize_t r = read(c->fd, c->in + c->in_len, BQ_BUF - c->in_len);
			size_t pos = 0, used;
			int hit, err;

			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				fprintf(stderr, "bench-query: server closed a connection\n");
				return 1;
			}
			c->in_len += (size_t)r;
			while ((used = bq_reply(&b, c->in + pos, c->in_len - pos, &hit, &err)) > 0) {
				pos += used;
				bq_record(&b, now - c->sent_at[c->head], hit, err);
				c->head = (c->head + 1) % BQ_DEPTH_MAX;
				c->inflight--;
			}
			memmove(c->in, c->in + pos, c->in_len - pos);
			c->in_len -= pos;
			/* refill: keep depth requests in flight (paced: when due, above) */
			while (b.rate == 0 && c->inflight < b.depth)
				bq_request(&b, c, now);
			if (bq_flush(c) < 0) {
				fprintf(stderr, "bench-query: write: %s\n", strerror(errno));
				return 1;
			}
		}
	}
	printf("proto=%s conns=%u depth=%u rate=%.0f seconds=%.1f requests=%" PRIu64 " rps=%.0f "
	    "p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%" PRIu64 " p999_us=%" PRIu64
	    " max_us=%" PRIu64 " hits=%.3f errors=%" PRIu64 "\n",
	    bq_proto_names[b.proto], b.conns, b.depth, b.rate, b.seconds, b.requests, (double)b.requests / b.seconds,
	    bq_percentile(&b, 0.50), bq_percentile(&b, 0.90), bq_percentile(&b, 0.99),
	    bq_percentile(&b, 0.999), b.max_us,
	    b.requests ? (double)b.hits / (double)b.requests : 0.0, b.errors);
	for (unsigned i = 0; i < b.conns; i++)
		close(conns[i].fd);
	free(conns);
	free(evs);
	free(b.hist);
	return b.errors > 0 ? 1 : 0;
}
