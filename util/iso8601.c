/* SPDX-License-Identifier: MIT */
/*
 * iso8601.c - ISO 8601 UTC times (util.h): the daemon's answers, bouncectl's
 * outputs and the times both read.
 */
#include <string.h>

#include <glib.h>

#include "util.h"

/* Two decimal digits at p. */
static inline void
util_2d(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * Without gmtime_r/strftime (they took ~5% of a query's CPU): days to a
 * civil date, the algorithm of H. Hinnant's "chrono-compatible low-level
 * date algorithms", valid for every int64 second count a store holds.
 */
char *
util_iso8601_format(int64_t t, char out[32])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;

	y += m <= 2;
	if (y < 0 || y > 9999) {
		g_strlcpy(out, "?", 32);
		return out;
	}
	util_2d(out, (unsigned)(y / 100));
	util_2d(out + 2, (unsigned)(y % 100));
	out[4] = '-';
	util_2d(out + 5, m);
	out[7] = '-';
	util_2d(out + 8, d);
	out[10] = 'T';
	util_2d(out + 11, (unsigned)(secs / 3600));
	out[13] = ':';
	util_2d(out + 14, (unsigned)(secs / 60 % 60));
	out[16] = ':';
	util_2d(out + 17, (unsigned)(secs % 60));
	out[19] = 'Z';
	out[20] = '\0';
	return out;
}

int
util_iso8601_parse(const char *s, int64_t *t_r)
{
	GTimeZone *utc = g_time_zone_new_utc();
	GDateTime *dt = g_date_time_new_from_iso8601(s, utc);

	g_time_zone_unref(utc);
	if (dt == NULL)
		return -1;
	*t_r = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 0;
}
