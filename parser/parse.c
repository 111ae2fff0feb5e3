/* SPDX-License-Identifier: MIT */
/*
 * parse.c - where a bounce is parsed: bytes of one message -> struct report.
 *
 *  1. normalise: at most lim->max_bytes, CRLF and lone CR become LF, NUL
 *     bytes become spaces, a leading mbox "From " line is skipped; LF, CRLF
 *     and CR input therefore give identical reports;
 *  2. GMime builds the MIME tree from memory; its parser warnings are
 *     recorded in report->warnings;
 *  3. walk the tree ourselves, capping depth and part count (GMime's own
 *     nesting cap is 1024): collect the notification text, the
 *     delivery-status and feedback-report bodies and the returned message's
 *     headers into a struct msg (decode.h);
 *  4. the decoders of parser_decoder_table[] are tried in order, the first that
 *     recognises the message fills the report;
 *  5. each recipient gets its missing status / reply code / SMTP stage from
 *     its diagnostic text and is classified by classify.c.
 *
 * Pure: no I/O, no logging, no global mutable state besides GMime's
 * one-time initialisation (g_once, so the daemon's loop thread and tests
 * may call report_parse() from any thread).
 */
#include <iconv.h>
#include <stdarg.h>
#include <string.h>

#include <gmime/gmime.h>

#include "decode.h"

/* Header fields read from a returned message or a DSN block. */
#define FIELDS_MAX 256
/* Headers of the bounce itself looked at. */
#define HEADERS_MAX 512

const struct decoder parser_decoder_table[] = {
	{ REPORT_DECODER_ARF, parser_decode_arf },
	{ REPORT_DECODER_SES, parser_decode_ses },
	{ REPORT_DECODER_RFC3464, parser_decode_rfc3464 },
	{ REPORT_DECODER_RFC3834, parser_decode_rfc3834 },
	{ REPORT_DECODER_PROSE, parser_decode_prose },
};
const unsigned parser_decoder_count = G_N_ELEMENTS(parser_decoder_table);

static gpointer gmime_init_once(gpointer unused);
static char *normalise(const char *buf, size_t len, size_t max, size_t *len_r, int *nul_r);
static void parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
	gpointer user_data);
static void walk(struct msg *m, GMimeObject *obj, unsigned depth);
static void walk_part(struct msg *m, GMimeObject *obj);
static void walk_message_part(struct msg *m, GMimeMessagePart *mp, unsigned depth);
static GString *part_bytes(GMimePart *part, size_t max);
static GPtrArray *headers_of(const GString *s);
static void text_clean(GString *s);
static void to_utf8(GString *s, const char *charset);
static void finish_rcpt(struct msg *m, struct report_rcpt *rc);
static void infer_recipient(struct msg *m);
static char *single_address(const char *v);
static int header_line(const char *line);
static char *named_by_local_part(struct msg *m, const char *to, const char *cc);
static void msg_clear(struct msg *m);
static GMimeMessage *gmime_parse(struct msg *m, GMimeStream *stream, int warn);
static void collect_headers(struct msg *m);
static GByteArray *prepare(struct msg *m, const char *buf, size_t len);

/*
 * glibc loads a charset converter (a gconv module) on iconv_open() and
 * unloads it when its last descriptor closes: per message, that is a
 * dlopen/dlclose pair and a TLB flush for every Japanese or Latin-1 part.
 * One descriptor per common charset, opened once and never closed, keeps
 * the modules loaded for the life of the process.  Set once, read-only.
 */
static const char *const pinned_charsets[] = {
	"ISO-2022-JP", "ISO-8859-1", "ISO-8859-15", "CP1252", "SHIFT_JIS", "EUC-JP",
	"GB2312", "GBK", "BIG5", "EUC-KR", "KOI8-R", "ISO-8859-2", "CP1251", "UTF-16",
};

/* kept open on purpose, and reachable (not a leak to LeakSanitizer) */
static iconv_t pinned[G_N_ELEMENTS(pinned_charsets)] __attribute__((used));

static gpointer
gmime_init_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	for (size_t i = 0; i < G_N_ELEMENTS(pinned_charsets); i++)
		pinned[i] = iconv_open("UTF-8", pinned_charsets[i]);
	return NULL;
}

/*
 * One pass: CRLF and lone CR -> LF, NUL -> space.  The copy is g_malloc'ed
 * so GMime's memory stream can own it without another copy.
 */
static char *
normalise(const char *buf, size_t len, size_t max, size_t *len_r, int *nul_r)
{
	const char *p, *end;
	char *out, *w;

	if (len > max)
		len = max;
	out = g_malloc(len + 1);
	w = out;
	*nul_r = 0;
	p = buf;
	end = buf + len;
	while (p < end) {
		/* copy the run up to the next CR or NUL in one go */
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		const char *nul = memchr(p, '\0', (size_t)((cr != NULL ? cr : end) - p));
		const char *stop = nul != NULL ? nul : (cr != NULL ? cr : end);

		memcpy(w, p, (size_t)(stop - p));
		w += stop - p;
		p = stop;
		if (p == end)
			break;
		if (*p == '\0') {
			*nul_r = 1;
			*w++ = ' ';
			p++;
		} else {
			/* CRLF or lone CR */
			*w++ = '\n';
			p++;
			if (p < end && *p == '\n')
				p++;
		}
	}
	*w = '\0';
	*len_r = (size_t)(w - out);
	return out;
}

static void
parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
	struct msg *m = user_data;
	static const char *const names[] = {
		[GMIME_WARN_DUPLICATED_HEADER] = "duplicated header",
		[GMIME_WARN_DUPLICATED_PARAMETER] = "duplicated parameter",
		[GMIME_WARN_UNENCODED_8BIT_HEADER] = "unencoded 8-bit header",
		[GMIME_WARN_INVALID_CONTENT_TYPE] = "invalid content type",
		[GMIME_WARN_INVALID_RFC2047_HEADER_VALUE] = "invalid RFC 2047 header value",
		[GMIME_WARN_MALFORMED_MULTIPART] = "malformed multipart",
		[GMIME_WARN_TRUNCATED_MESSAGE] = "truncated message",
		[GMIME_WARN_MALFORMED_MESSAGE] = "malformed message",
		[GMIME_CRIT_INVALID_HEADER_NAME] = "invalid header name",
		[GMIME_CRIT_CONFLICTING_HEADER] = "conflicting header",
		[GMIME_CRIT_CONFLICTING_PARAMETER] = "conflicting parameter",
		[GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY] = "multipart without boundary",
		[GMIME_WARN_INVALID_PARAMETER] = "invalid parameter",
		[GMIME_WARN_INVALID_ADDRESS_LIST] = "invalid address list",
		[GMIME_CRIT_NESTING_OVERFLOW] = "MIME nesting overflow",
		[GMIME_WARN_PART_WITHOUT_CONTENT] = "part without content",
		[GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT] = "part without headers or content",
	};
	const char *name = (unsigned)code < G_N_ELEMENTS(names) && names[code] != NULL ?
		names[code] : "unknown warning";
	char item_esc[64];
	size_t n = 0;

	/* the item is untrusted: keep printable ASCII only, bounded */
	for (const char *p = item; p != NULL && *p && n + 1 < sizeof(item_esc); p++)
		item_esc[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	item_esc[n] = '\0';
	parser_msg_warn(m, "gmime: %s at offset %" G_GINT64_FORMAT "%s%s", name, offset,
		n > 0 ? ": " : "", item_esc);
}

/* Decoded content of a leaf part (transfer encoding undone), bounded. */
static GString *
part_bytes(GMimePart *part, size_t max)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *ba;
	GString *s;

	if (dw == NULL)
		return g_string_new("");
	switch (g_mime_data_wrapper_get_encoding(dw)) {
	case GMIME_CONTENT_ENCODING_DEFAULT:
	case GMIME_CONTENT_ENCODING_7BIT:
	case GMIME_CONTENT_ENCODING_8BIT:
	case GMIME_CONTENT_ENCODING_BINARY: {
		/* nothing to decode: read the part's bytes straight from its stream */
		GMimeStream *raw = g_mime_data_wrapper_get_stream(dw);
		char buf[4096];
		ssize_t n;

		s = g_string_sized_new(1024);
		if (raw == NULL || g_mime_stream_reset(raw) < 0)
			return s;
		while (s->len < max && (n = g_mime_stream_read(raw, buf, sizeof(buf))) > 0)
			g_string_append_len(s, buf, MIN((gssize)n, (gssize)(max - s->len)));
		return s;
	}
	default:
		break;
	}
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	s = g_string_new_len((const char *)ba->data, (gssize)MIN(ba->len, max));
	g_object_unref(mem);
	return s;
}

/*
 * The part's bytes to UTF-8 from its declared charset (our own conversion:
 * g_mime_text_part_get_text() stops at a NUL byte).  An unknown charset or
 * a failed conversion leaves the bytes for text_clean() to repair.
 */
static void
to_utf8(GString *s, const char *charset)
{
	const char *name;
	iconv_t cd;
	char *out;

	if (charset == NULL || s->len == 0)
		return;
	name = g_mime_charset_iconv_name(charset);
	if (name == NULL || g_ascii_strcasecmp(name, "UTF-8") == 0 ||
	    g_ascii_strcasecmp(name, "US-ASCII") == 0 || g_ascii_strcasecmp(name, "ASCII") == 0)
		return;
	/* NULs first: the converted string is NUL-terminated */
	for (gsize i = 0; i < s->len; i++)
		if (s->str[i] == '\0')
			s->str[i] = ' ';
	cd = g_mime_iconv_open("UTF-8", name);     /* GMime caches converters */
	if (cd == (iconv_t)-1)
		return;
	out = g_mime_iconv_strndup(cd, s->str, s->len);
	g_mime_iconv_close(cd);
	if (out == NULL)
		return;
	g_string_assign(s, out);
	g_free(out);
}

/* LF line ends, no NUL, valid UTF-8 (invalid bytes become U+FFFD). */
static void
text_clean(GString *s)
{
	gsize w = 0;

	/* already clean (the common case): only UTF-8 to check */
	if (memchr(s->str, '\r', s->len) == NULL && memchr(s->str, '\0', s->len) == NULL)
		goto utf8;
	for (gsize i = 0; i < s->len; i++) {
		char c = s->str[i];

		if (c == '\r') {
			if (i + 1 < s->len && s->str[i + 1] == '\n')
				i++;
			c = '\n';
		} else if (c == '\0') {
			c = ' ';
		}
		s->str[w++] = c;
	}
	g_string_truncate(s, w);
utf8:
	if (!g_utf8_validate_len(s->str, (gssize)s->len, NULL)) {
		char *v = g_utf8_make_valid(s->str, (gssize)s->len);

		g_string_assign(s, v);
		g_free(v);
	}
}

static void
walk_message_part(struct msg *m, GMimeMessagePart *mp, unsigned depth)
{
	GMimeMessage *inner = g_mime_message_part_get_message(mp);
	GMimeObject *body;
	GMimeContentType *ct;
	GMimeHeaderList *hl;
	int n;

	if (inner == NULL)
		return;
	/*
	 * A delivery report attached to the bounce is a forwarded bounce (an
	 * appliance wrapping the MTA's DSN), not the returned original: walk
	 * it aside; parse.c uses it when the outer message has no report.
	 */
	body = g_mime_message_get_mime_part(inner);
	ct = body != NULL ? g_mime_object_get_content_type(body) : NULL;
	if (!m->in_inner && ct != NULL && g_mime_content_type_is_type(ct, "multipart", "report")) {
		m->in_inner = 1;
		walk(m, body, depth + 1);
		m->in_inner = 0;
		return;
	}
	if (m->orig != NULL)
		return;
	m->orig = g_ptr_array_new_with_free_func(parser_field_free);
	hl = g_mime_object_get_header_list(GMIME_OBJECT(inner));
	n = g_mime_header_list_get_count(hl);
	for (int i = 0; i < n && i < FIELDS_MAX; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		struct field *f;

		/* only what the report uses: keep the walk cheap */
		if (g_ascii_strcasecmp(name, "Message-ID") != 0 &&
		    g_ascii_strcasecmp(name, "From") != 0 &&
		    g_ascii_strcasecmp(name, "Return-Path") != 0 &&
		    g_ascii_strcasecmp(name, "To") != 0 &&
		    g_ascii_strncasecmp(name, "X-HmXmr", 7) != 0)
			continue;
		f = g_new0(struct field, 1);
		f->name = g_strdup(name);
		f->value = g_strdup(g_mime_header_get_raw_value(h) ? g_mime_header_get_raw_value(h) : "");
		g_strstrip(f->value);
		g_ptr_array_add(m->orig, f);
	}
}

static void
walk_part(struct msg *m, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *type = ct != NULL ? g_mime_content_type_get_media_type(ct) : "text";
	const char *sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : "plain";
	const char *disp = g_mime_object_get_disposition(obj);
	int attachment = disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0;
	GString *s;

	if (type == NULL)
		type = "text";
	if (sub == NULL)
		sub = "plain";
	if (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
	    g_ascii_strcasecmp(sub, "global-delivery-status") == 0) {
		s = part_bytes(GMIME_PART(obj), m->lim->max_bytes);
		text_clean(s);
		g_ptr_array_add(m->in_inner ? m->inner_dsn : m->dsn, s);
		return;
	}
	if (g_ascii_strcasecmp(sub, "feedback-report") == 0) {
		s = part_bytes(GMIME_PART(obj), m->lim->max_bytes);
		text_clean(s);
		g_ptr_array_add(m->feedback, s);
		return;
	}
	if (g_ascii_strcasecmp(sub, "rfc822-headers") == 0 ||
	    g_ascii_strcasecmp(sub, "global-headers") == 0 ||
	    (g_ascii_strcasecmp(type, "message") == 0 && g_ascii_strcasecmp(sub, "rfc822") == 0)) {
		/* the returned message's headers, as text */
		if (m->orig == NULL) {
			s = part_bytes(GMIME_PART(obj), m->lim->max_bytes);
			text_clean(s);
			m->orig = headers_of(s);
			g_string_free(s, TRUE);
		}
		return;
	}
	if (g_ascii_strcasecmp(type, "text") != 0)
		return;
	/*
	 * A part whose own headers are a message's (Received, Message-ID...):
	 * a returned message without its Content-Type, not notification text.
	 */
	if (g_mime_object_get_header(obj, "Received") != NULL ||
	    g_mime_object_get_header(obj, "Message-ID") != NULL ||
	    g_mime_object_get_header(obj, "Return-Path") != NULL)
		return;
	s = part_bytes(GMIME_PART(obj), m->lim->max_bytes);
	if (GMIME_IS_TEXT_PART(obj))
		to_utf8(s, g_mime_text_part_get_charset(GMIME_TEXT_PART(obj)));
	text_clean(s);
	if (attachment) {
		/* an attached text that is a header block: the returned headers */
		GPtrArray *h = headers_of(s);

		if (parser_fields_get(h, "Received") != NULL || parser_fields_get(h, "Message-ID") != NULL) {
			if (m->orig == NULL)
				m->orig = h;
			else
				g_ptr_array_free(h, TRUE);
			g_string_free(s, TRUE);
			return;
		}
		g_ptr_array_free(h, TRUE);
	}
	{
		GString *t = m->in_inner ? m->inner_text : m->text;

		if (t->len > 0)
			g_string_append_c(t, '\n');
		if (g_ascii_strcasecmp(sub, "html") == 0)
			parser_text_from_html(s->str, s->len, t);
		else
			g_string_append_len(t, s->str, (gssize)s->len);
		if (t->len > m->lim->max_bytes)
			g_string_truncate(t, m->lim->max_bytes);
	}
	g_string_free(s, TRUE);
}

/* The header block at the start of s. */
static GPtrArray *
headers_of(const GString *s)
{
	GPtrArray *h = g_ptr_array_new_with_free_func(parser_field_free);
	const char *pos = s->str;

	parser_fields_parse(&pos, s->str + s->len, h, FIELDS_MAX);
	return h;
}

static void
walk(struct msg *m, GMimeObject *obj, unsigned depth)
{
	if (obj == NULL)
		return;
	if (++m->parts > m->lim->max_parts) {
		if (!m->warned_parts)
			parser_msg_warn(m, "limit: more than %u MIME parts, the rest ignored",
				m->lim->max_parts);
		m->warned_parts = 1;
		m->trouble = 1;
		return;
	}
	if (depth > m->lim->max_depth) {
		if (!m->warned_depth)
			parser_msg_warn(m, "limit: MIME nesting deeper than %u, ignored", m->lim->max_depth);
		m->warned_depth = 1;
		m->trouble = 1;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		int n = g_mime_multipart_get_count(mp);
		int alternative = ct != NULL && g_mime_content_type_is_type(ct, "multipart", "alternative");
		int has_plain = 0;

		if (n == 0) {
			/*
			 * No part found: the boundary is missing or wrong (hand-edited
			 * bounces, broken MTAs).  GMime keeps everything as prologue.
			 */
			const char *pro = g_mime_multipart_get_prologue(mp);

			if (pro != NULL && !m->in_inner) {
				GString *t = g_string_new(pro);

				parser_msg_warn(m, "multipart without parts: its text read as is");
				m->trouble = 1;
				text_clean(t);
				if (m->text->len > 0)
					g_string_append_c(m->text, '\n');
				g_string_append_len(m->text, t->str, (gssize)t->len);
				g_string_free(t, TRUE);
			}
			return;
		}
		if (alternative) {
			for (int i = 0; i < n; i++) {
				GMimeObject *c = g_mime_multipart_get_part(mp, i);
				GMimeContentType *cct = g_mime_object_get_content_type(c);

				if (cct != NULL && g_mime_content_type_is_type(cct, "text", "plain"))
					has_plain = 1;
			}
		}
		for (int i = 0; i < n; i++) {
			GMimeObject *c = g_mime_multipart_get_part(mp, i);
			GMimeContentType *cct = g_mime_object_get_content_type(c);

			if (has_plain && cct != NULL && g_mime_content_type_is_type(cct, "text", "html"))
				continue;
			walk(m, c, depth + 1);
		}
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		walk_message_part(m, GMIME_MESSAGE_PART(obj), depth);
		return;
	}
	if (GMIME_IS_PART(obj))
		walk_part(m, obj);
}

/* Missing status / reply / stage from the diagnostic text, then classify. */
static void
finish_rcpt(struct msg *m, struct report_rcpt *rc)
{
	if (rc->diagnostic != NULL) {
		char *lower = NULL;

		if (rc->status[0] == '\0') {
			char st[16];

			if (parser_text_find_status(rc->diagnostic, st) && report_status_valid(st))
				g_strlcpy(rc->status, st, sizeof(rc->status));
		}
		if (rc->replycode[0] == '\0')
			parser_text_find_reply(rc->diagnostic, rc->replycode);
		/* the notification's transcript of the session that failed for it */
		if (rc->smtp_command == NULL && rc != &m->r->unnamed && m->lower != NULL) {
			enum classify_cmd c = parser_text_transcript_command(m->lower, rc->recipient);

			if (c != CLASSIFY_CMD_NONE)
				rc->smtp_command = g_strdup(classify_cmd_name(c));
		}
		if (rc->smtp_command == NULL) {
			enum classify_cmd c;

			lower = g_ascii_strdown(rc->diagnostic, -1);
			c = parser_text_find_command_lower(lower);
			if (c != CLASSIFY_CMD_NONE)
				rc->smtp_command = g_strdup(classify_cmd_name(c));
		}
		g_free(lower);
	}
	/* a single recipient: the transcript's first failure is about it */
	if (rc->smtp_command == NULL && rc != &m->r->unnamed && m->lower != NULL &&
	    m->r->rcpts->len == 1) {
		enum classify_cmd c = parser_text_transcript_command(m->lower, NULL);

		if (c != CLASSIFY_CMD_NONE)
			rc->smtp_command = g_strdup(classify_cmd_name(c));
	}
	{
		const char *ctx = g_hash_table_lookup(m->context, rc);
		char *whole = NULL;

		/* a single recipient the text does not name: the text is about it */
		if (ctx == NULL && rc != &m->r->unnamed && m->r->rcpts->len == 1 &&
		    m->r->decoder == REPORT_DECODER_RFC3464 && m->text->len > 0 &&
		    strstr(m->lower, rc->recipient) == NULL)
			ctx = whole = parser_note_whole(m);
		classify_rcpt(rc, m->r, ctx);
		g_free(whole);
	}
}

/* The one address of a To:/Cc: value, or NULL when it holds none or several. */
static char *
single_address(const char *v)
{
	const char *end = v + strlen(v), *at;
	size_t len;

	if (!parser_addr_find(v, end, &at, &len) || parser_addr_find(at + len, end, &at, &len))
		return NULL;
	return parser_addr_parse(v, (size_t)(end - v));
}

/*
 * A bounce that names nobody ("Delivery report unavailable", a sendmail
 * transcript without the address): when the returned message's headers
 * have exactly one To: address and no Cc:, that is very likely the failed
 * recipient.  Very likely is not certain (Bcc, lists, aliases), so the guess
 * never suppresses at once: its class is capped at soft, and a VERP address
 * replaces it with the full verdict (report_adopt_recipient).  When the
 * notification lists a bare name (GroupWise: "reader (user not found)") and
 * exactly one To:/Cc: address has that local part, that one is named, not
 * guessed: not marked inferred, its class kept.  Only the returned message's header block is
 * read, never its body.
 */
static void
infer_recipient(struct msg *m)
{
	const struct report_rcpt *u = &m->r->unnamed;
	GPtrArray *fields = m->orig, *own = NULL;
	const char *to, *cc;
	char *addr, *tmp;
	struct report_rcpt *rc;
	int named;

	if (u->class != REPORT_CLASS_HARD && u->class != REPORT_CLASS_SOFT)
		return;
	if (fields == NULL) {
		/* a returned message quoted in the text, after the notification */
		size_t at = parser_note_end(m);
		const char *pos = m->text->str + at;

		if (at >= m->text->len)
			return;
		/* past the line introducing it ("Original message follows:") */
		if (!header_line(pos)) {
			pos = strchr(pos, '\n');
			if (pos == NULL)
				return;
			while (*pos == '\n')
				pos++;
		}
		own = g_ptr_array_new_with_free_func(parser_field_free);
		parser_fields_parse(&pos, m->text->str + m->text->len, own, FIELDS_MAX);
		if (parser_fields_get(own, "From") == NULL && parser_fields_get(own, "Received") == NULL) {
			g_ptr_array_free(own, TRUE);       /* not a header block */
			return;
		}
		parser_msg_orig_from_fields(m, own);
		fields = own;
	}
	to = parser_fields_get(fields, "To");
	cc = parser_fields_get(fields, "Cc");
	/* the notification names it by its local part alone: certain enough */
	addr = named_by_local_part(m, to, cc);
	named = addr != NULL;
	if (addr == NULL)
		addr = to != NULL ? single_address(to) : NULL;
	if (!named && addr != NULL && cc != NULL && (tmp = parser_addr_parse(cc, strlen(cc))) != NULL) {
		g_free(tmp);
		g_clear_pointer(&addr, g_free);
	}
	if (own != NULL)
		g_ptr_array_free(own, TRUE);
	if (addr == NULL)
		return;
	if (report_adopt_recipient(m->r, addr) == 1) {
		rc = g_ptr_array_index(m->r->rcpts, 0);
		rc->inferred = !named;
		if (rc->class == REPORT_CLASS_HARD && !named)
			rc->class = REPORT_CLASS_SOFT;
	}
	g_free(addr);
}

/* Does line start with a header field name and a colon ("Return-Path:")? */
static int
header_line(const char *line)
{
	const char *p = line;

	while (g_ascii_isalnum(*p) || *p == '-')
		p++;
	return p > line && *p == ':';
}

/*
 * The one address of the returned message's To: and Cc: whose local part
 * is a bare name the notification lists as failed (GroupWise names a user
 * by its ID: "reader (user not found)"), or NULL (caller frees).
 */
static char *
named_by_local_part(struct msg *m, const char *to, const char *cc)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *vals[] = { to, cc };
	char *found = NULL;
	int count = 0;

	parser_note_bare_names(parser_note_get(m), names);
	for (size_t i = 0; i < G_N_ELEMENTS(vals) && names->len > 0; i++) {
		const char *v = vals[i], *s, *end;
		size_t len;

		if (v == NULL)
			continue;
		end = v + strlen(v);
		while (count < 2 && parser_addr_find(v, end, &s, &len)) {
			char *a = parser_addr_parse(s, len);
			char *at = a != NULL ? strrchr(a, '@') : NULL;
			int listed;

			v = s + len;
			if (at == NULL) {
				g_free(a);
				continue;
			}
			*at = '\0';
			listed = parser_note_in_list(names, a);
			*at = '@';
			if (listed && (found == NULL || strcmp(found, a) != 0)) {
				count++;
				if (found == NULL) {
					found = a;
					continue;
				}
			}
			g_free(a);
		}
	}
	g_ptr_array_free(names, TRUE);
	if (count != 1) {
		g_free(found);
		return NULL;
	}
	return found;
}

static void
msg_clear(struct msg *m)
{
	if (m->text != NULL)
		g_string_free(m->text, TRUE);
	if (m->dsn != NULL)
		g_ptr_array_free(m->dsn, TRUE);
	if (m->feedback != NULL)
		g_ptr_array_free(m->feedback, TRUE);
	if (m->orig != NULL)
		g_ptr_array_free(m->orig, TRUE);
	if (m->inner_dsn != NULL)
		g_ptr_array_free(m->inner_dsn, TRUE);
	if (m->inner_text != NULL)
		g_string_free(m->inner_text, TRUE);
	g_free(m->lower);
	g_free(m->lfrom);
	g_free(m->lsubject);
	parser_note_free(m->note);
	if (m->hdrs != NULL)
		g_array_free(m->hdrs, TRUE);
	if (m->context != NULL)
		g_hash_table_destroy(m->context);
	if (m->top != NULL)
		g_object_unref(m->top);
}

static void
gstring_free(gpointer p)
{
	g_string_free(p, TRUE);
}

/* Parses the stream into a message; warnings go to m when warn is set. */
static GMimeMessage *
gmime_parse(struct msg *m, GMimeStream *stream, int warn)
{
	GMimeParserOptions *opts = g_mime_parser_options_new();
	GMimeParser *parser;
	GMimeMessage *msg;

	if (warn)
		g_mime_parser_options_set_warning_callback(opts, parser_warning, m);
	g_mime_stream_reset(stream);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_mime_parser_options_free(opts);
	return msg;
}

/* The bounce's own headers, raw (decoding them all costs more than the rest). */
static void
collect_headers(struct msg *m)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m->top));
	int n = g_mime_header_list_get_count(hl);
	const char *subj;

	m->hdrs = g_array_sized_new(FALSE, FALSE, sizeof(struct hdr), (guint)MIN(n, HEADERS_MAX));
	for (int i = 0; i < n && i < HEADERS_MAX; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		struct hdr e = { g_mime_header_get_name(h), g_mime_header_get_raw_value(h) };

		if (e.name != NULL && e.raw != NULL)
			g_array_append_val(m->hdrs, e);
	}
	m->from = parser_msg_header(m, "From");
	subj = parser_msg_header(m, "Subject");
	if (subj != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, subj);

		m->r->subject = parser_text_squeeze(dec, strlen(dec), m->lim->max_field);
		g_free(dec);
	}
	m->subject = m->r->subject;
}

/* Normalised copy of buf, without a leading mbox "From " line. */
static GByteArray *
prepare(struct msg *m, const char *buf, size_t len)
{
	size_t nlen, skip = 0;
	int nul;
	char *norm;

	if (buf == NULL)
		len = 0;
	if (len > m->lim->max_bytes)
		parser_msg_warn(m, "limit: message of %zu bytes, only the first %zu parsed",
			len, m->lim->max_bytes);
	norm = normalise(buf != NULL ? buf : "", len, m->lim->max_bytes, &nlen, &nul);
	if (nul)
		parser_msg_warn(m, "NUL bytes replaced by spaces");
	/* mbox: a "From " envelope line first (Postfix does not write one) */
	if (nlen >= 5 && memcmp(norm, "From ", 5) == 0) {
		const char *nl = memchr(norm, '\n', nlen);

		skip = nl != NULL ? (size_t)(nl - norm) + 1 : nlen;
	}
	if (skip > 0) {
		memmove(norm, norm + skip, nlen - skip + 1);
		nlen -= skip;
	}
	return g_byte_array_new_take((guint8 *)norm, nlen);
}

struct report *
report_parse(const char *buf, size_t len, const struct report_limits *lim)
{
	static GOnce once = G_ONCE_INIT;
	struct report_limits deflim;
	struct report *r;
	struct msg m;
	GMimeStream *stream;
	GByteArray *ba;

	g_once(&once, gmime_init_once, NULL);
	if (lim == NULL) {
		report_limits_default(&deflim);
		lim = &deflim;
	}
	r = report_new();
	memset(&m, 0, sizeof(m));
	m.lim = lim;
	m.r = r;
	m.text = g_string_new(NULL);
	m.dsn = g_ptr_array_new_with_free_func(gstring_free);
	m.context = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	m.inner_dsn = g_ptr_array_new_with_free_func(gstring_free);
	m.inner_text = g_string_new(NULL);
	m.feedback = g_ptr_array_new_with_free_func(gstring_free);

	/* 1-2. bytes -> GMime tree */
	ba = prepare(&m, buf, len);
	stream = g_mime_stream_mem_new_with_byte_array(ba);   /* owns ba */
	m.top = gmime_parse(&m, stream, lim->gmime_warnings == REPORT_GMIME_WARNINGS_ALWAYS);

	/* 3. the tree -> struct msg */
	if (m.top != NULL) {
		collect_headers(&m);
		walk(&m, g_mime_message_get_mime_part(m.top), 0);
	} else {
		/* no header block GMime accepts: treat the bytes as text */
		GString *s = g_string_new_len((const char *)ba->data, (gssize)ba->len);

		parser_msg_warn(&m, "not a MIME message; read as plain text");
		m.trouble = 1;
		text_clean(s);
		g_string_append_len(m.text, s->str, (gssize)s->len);
		g_string_free(s, TRUE);
	}
	if (m.from == NULL)
		m.from = "";
	if (m.subject == NULL)
		m.subject = "";
	m.lfrom = g_ascii_strdown(m.from, -1);
	m.lsubject = g_ascii_strdown(m.subject, -1);
	if (m.dsn->len == 0 && m.inner_dsn->len > 0) {
		/* a forwarded bounce: its report and text are the bounce */
		GPtrArray *t = m.dsn;

		m.dsn = m.inner_dsn;
		m.inner_dsn = t;
		if (m.text->len > 0)
			g_string_append_c(m.text, '\n');
		g_string_append_len(m.text, m.inner_text->str, (gssize)m.inner_text->len);
	}
	m.lower = g_ascii_strdown(m.text->str, (gssize)m.text->len);
	m.mta = parser_mta_identify(&m);
	r->mta = m.mta != NULL ? m.mta->name : NULL;

	/* 4. the first decoder that recognises the message fills the report */
	for (unsigned i = 0; i < parser_decoder_count; i++) {
		if (parser_decoder_table[i].fn(&m)) {
			r->decoder = parser_decoder_table[i].id;
			break;
		}
	}
	if (m.orig != NULL)
		parser_msg_orig_from_fields(&m, m.orig);
	if (r->rcpts->len > 0 || m.unnamed)
		parser_msg_orig_from_text(&m, m.text->str);

	/* 5. every recipient: codes from its text, then the rule table */
	for (guint i = 0; i < r->rcpts->len; i++)
		finish_rcpt(&m, g_ptr_array_index(r->rcpts, i));
	if (r->rcpts->len == 0 && m.unnamed) {
		/* a bounce naming nobody: the verdict report_adopt_recipient() applies */
		finish_rcpt(&m, &r->unnamed);
		infer_recipient(&m);
	}

	/* GMime's own account of what was wrong, for a message that needed help */
	if (lim->gmime_warnings == REPORT_GMIME_WARNINGS_ON_TROUBLE &&
	    (m.trouble || r->decoder == REPORT_DECODER_NONE)) {
		GMimeMessage *again = gmime_parse(&m, stream, 1);

		if (again != NULL)
			g_object_unref(again);
	}
	g_object_unref(stream);
	msg_clear(&m);
	return r;
}
