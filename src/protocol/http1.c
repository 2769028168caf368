/* HTTP/1.x head parser and per-connection reconstruction engine (see
 * http1.h). Heads are parsed one line at a time, straight from the segment
 * when a line is whole in it (zero-copy), else from a line buffer the
 * direction borrows from the pool until the line ends; bodies are never
 * looked at beyond their framing, and are skipped by byte count, so captures
 * shorter than the syscall cost nothing. */
#include "protocol/http1.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* For the small helpers of the per-line path: a call each would cost more
 * than they do (measured with bench_pipeline's instruction counts). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Bytes needed to tell a message start from anything else: a method of
 * HTTP1_METHOD_BYTES_MAX, a space and the target's first byte. */
#define SNIFF_BYTES_MAX (HTTP1_METHOD_BYTES_MAX + 2u)
/* "HTTP/1.1 200": the shortest status line. */
#define STATUS_LINE_BYTES_MIN 12u
#define VERSION_PREFIX "HTTP/1."
#define VERSION_PREFIX_BYTES 7u
/* "HTTP/1.x": request lines end with it. */
#define VERSION_BYTES 8u
/* A chunk size needs at most 16 hex digits to fill 64 bits. */
#define CHUNK_SIZE_DIGITS_MAX 16u
#define REDACTED_VALUE "REDACTED"

enum sniff_result {
	SNIFF_NEED_MORE = 0,
	SNIFF_REQUEST,
	SNIFF_RESPONSE,
	SNIFF_NONE,
};

enum dir_kind {
	KIND_UNKNOWN = 0,
	KIND_REQUEST,
	KIND_RESPONSE,
};

enum dir_state_id {
	DS_HEAD = 0,      /* reading head lines */
	DS_SKIP_LINE,     /* inside an overlong header sonde does not need */
	DS_HEAD_LOST,     /* head crossed uncaptured bytes: look for its end */
	DS_BODY_LENGTH,   /* Content-Length body: count bytes */
	DS_BODY_CHUNKED,  /* chunked body: follow chunk sizes */
	DS_CHUNK_LOST,    /* chunk sizes not captured: look for 0 CRLF CRLF */
	DS_BODY_CLOSE,    /* response body delimited by the connection close */
	DS_BODY_UNKNOWN,  /* framing headers not captured: ends at the next
			   * message start seen at a segment start, or close */
	DS_DESYNC,        /* framing lost: wait for a segment starting a message */
};

enum chunk_state_id {
	CS_SIZE = 0,      /* hex digits of a chunk size */
	CS_EXT,           /* chunk extension, up to LF */
	CS_SIZE_LF,       /* CR seen after the size */
	CS_DATA,          /* chunk data: skipped by count */
	CS_DATA_CR,       /* CRLF after chunk data */
	CS_DATA_LF,
	CS_TRAILER_START, /* after the last chunk: trailer line or the end */
	CS_TRAILER_LINE,
	CS_END_LF,        /* CR of the final blank line seen */
};

/* Progress of the "\r\n0\r\n\r\n" search in DS_CHUNK_LOST; M_LINE means a
 * line may start here (after a LF or an uncaptured gap). */
enum chunk_end_match {
	M_NONE = 0,
	M_LINE,
	M_ZERO,
	M_ZERO_CR,
	M_ZERO_CRLF,
	M_ZERO_CRLF_CR,
};

/* Progress of the blank-line search in DS_HEAD_LOST. */
enum head_end_match {
	H_NONE = 0,
	H_LF,
	H_LF_CR,
};

enum conn_state_id {
	CONN_ACTIVE = 0,
	CONN_IGNORED,
	CONN_CLOSED,
};

/* ---------------------------------------------------------------------- */
/* Head parser: character classes and single lines.                        */

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~, one byte per
 * character (every byte of every header name goes through here). */
static const uint8_t tchar_tab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_tchar(unsigned char ch)
{
	return tchar_tab[ch];
}

static bool is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Field-value bytes: visible ASCII, space, tab, obs-text. NUL, CR, LF and
 * other controls are refused (RFC 9110 5.5). */
static bool is_value_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static unsigned char lower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + ('a' - 'A')) : ch;
}

/* Case-insensitive compare of s[0..n) with a literal in lower case made of
 * letters, digits and '-'. OR-ing 0x20 lower-cases a letter and keeps a
 * digit or '-'; the only other bytes it maps onto those (controls, CR)
 * never get here: names are tchars, values were checked. Eight bytes at a
 * time: every framing header and token goes through here. */
static ALWAYS_INLINE bool ci_equal(const char *s, size_t n, const char *lit)
{
	const uint64_t spaces = 0x2020202020202020ull;
	size_t i = 0;

	if (n != strlen(lit))
		return false;
	for (; i + 8 <= n; i += 8) {
		uint64_t a, b;

		memcpy(&a, s + i, sizeof(a));
		memcpy(&b, lit + i, sizeof(b));
		if ((a | spaces) != b)
			return false;
	}
	for (; i < n; i++)
		if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
			return false;
	return true;
}

/* Are the eight bytes at s all in 0x20..0x7e? */
static bool plain8(const char *s)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t x, del;

	memcpy(&x, s, sizeof(x));
	del = x ^ (0x7f * ones);
	/* a byte below 0x20, a 0x7f, or one with its high bit set */
	return !(((x - 0x20 * ones) & ~x & highs) | ((del - ones) & ~del & highs) | (x & highs));
}

/* Length of the prefix of s[0..n) made of bytes 0x20..0x7e, found eight
 * at a time (every header value is checked, most are plain ASCII); the
 * caller checks the rest byte by byte. */
static size_t plain_prefix(const char *s, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		if (!plain8(s + i))
			return i;
	/* the last 0..7 bytes: the eight that end the run, overlapping */
	if (i < n && n >= 8 && plain8(s + n - 8))
		return n;
	return i;
}

#ifdef __SSE2__
/* Sixteen bytes at s: a mask of those below `below` (0x00 up; 0x80 and up,
 * obs-text, are not) or DEL, tab excepted when tab_ok. */
static ALWAYS_INLINE unsigned ctl16(const char *s, char below, bool tab_ok)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i ctl = _mm_andnot_si128(_mm_cmplt_epi8(x, _mm_setzero_si128()),
				       _mm_cmplt_epi8(x, _mm_set1_epi8(below)));

	if (tab_ok)
		ctl = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\t')), ctl);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
}

static unsigned bad16(const char *s)
{
	return ctl16(s, 0x20, true);
}
#endif

/* Are all of s[0..n) field-value bytes? Sixteen at a time where SSE2 is
 * (every x86-64), eight at a time otherwise: every byte of every header
 * value is checked. */
static bool value_ok(const char *s, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	if (n >= 16) {
		for (; i + 16 <= n; i += 16)
			if (bad16(s + i))
				return false;
		/* the last 0..15 bytes: the sixteen that end the run */
		return i == n || !bad16(s + n - 16);
	}
#endif
	for (i = plain_prefix(s, n); i < n; i++)
		if (!is_value_char((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Call fn on each element of a comma-separated list value, trimmed. */
static void list_for_each(const char *v, size_t n,
			  void (*fn)(const char *tok, size_t len, struct http1_head *h),
			  struct http1_head *h)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;

		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(v[end - 1]))
			end--;
		if (end > start)
			fn(v + start, end - start, h);
	}
}

static void te_token(const char *tok, size_t len, struct http1_head *h)
{
	/* Only the last coding decides: chunked must be last (RFC 9112 6.3). */
	if (ci_equal(tok, len, "chunked")) {
		h->flags |= HTTP1_HEAD_CHUNKED;
		h->flags &= ~(uint32_t)HTTP1_HEAD_TE_OTHER;
	} else {
		h->flags |= HTTP1_HEAD_TE_OTHER;
		h->flags &= ~(uint32_t)HTTP1_HEAD_CHUNKED;
	}
}

static void connection_token(const char *tok, size_t len, struct http1_head *h)
{
	if (ci_equal(tok, len, "close"))
		h->flags |= HTTP1_HEAD_CONN_CLOSE;
	else if (ci_equal(tok, len, "keep-alive"))
		h->flags |= HTTP1_HEAD_CONN_KEEP_ALIVE;
	else if (ci_equal(tok, len, "upgrade"))
		h->flags |= HTTP1_HEAD_CONN_UPGRADE;
}

static int content_length_parse(const char *v, size_t n, struct http1_head *h)
{
	uint64_t value = 0;
	size_t i;

	if (n == 0)
		return HTTP1_PARSE_ERROR;
	for (i = 0; i < n; i++) {
		unsigned digit;

		if (!is_digit((unsigned char)v[i]))
			return HTTP1_PARSE_ERROR;
		digit = (unsigned)(v[i] - '0');
		if (value > (UINT64_MAX - digit) / 10u)
			return HTTP1_PARSE_ERROR;
		value = value * 10u + digit;
	}
	/* Two different lengths are a smuggling attempt: refuse the head. */
	if ((h->flags & HTTP1_HEAD_CONTENT_LENGTH) && h->content_length != value)
		return HTTP1_PARSE_ERROR;
	h->content_length = value;
	h->flags |= HTTP1_HEAD_CONTENT_LENGTH;
	return 0;
}

enum framing_header {
	FH_NONE = 0,
	FH_CONTENT_LENGTH,
	FH_TRANSFER_ENCODING,
	FH_CONNECTION,
	FH_EXPECT,
};

/* The lengths a framing header name can have, by its first letter (folded
 * to 0..31: 'c' and 'C' alike): content-length 14, connection 10,
 * transfer-encoding 17, expect 6. */
static const uint32_t framing_lengths[32] = {
	['c' & 31] = 1u << 14 | 1u << 10,
	['t' & 31] = 1u << 17,
	['e' & 31] = 1u << 6,
};

/* Which framing header a name is, if any: most names are out after one
 * test of their first letter and length (a switch on the length alone was
 * an indirect jump mispredicted on about one header line in four, measured
 * with callgrind's branch simulation). */
static enum framing_header framing_header_of(const char *name, size_t n)
{
	if (n >= 32 || !(framing_lengths[(unsigned char)name[0] & 31] >> n & 1))
		return FH_NONE;
	switch (n) {
	case 14: return ci_equal(name, n, "content-length") ? FH_CONTENT_LENGTH : FH_NONE;
	case 17: return ci_equal(name, n, "transfer-encoding") ? FH_TRANSFER_ENCODING : FH_NONE;
	case 10: return ci_equal(name, n, "connection") ? FH_CONNECTION : FH_NONE;
	case 6: return ci_equal(name, n, "expect") ? FH_EXPECT : FH_NONE;
	default: return FH_NONE;
	}
}

/* Length of the request target at t[0..n): up to the first space, control
 * or DEL, sixteen bytes at a time where SSE2 is. */
static size_t target_bytes(const char *t, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		unsigned m = ctl16(t + i, 0x21, false);

		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && (unsigned char)t[i] > ' ' && (unsigned char)t[i] != 0x7f)
		i++;
	return i;
}

/* Request line s[0..n) without its line end. complete == false: s is only
 * the start of an overlong line; the target is taken as far as it goes. */
static int parse_request_line(const char *s, size_t n, bool complete,
			      struct http1_head *h)
{
	size_t i = 0, target;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i > HTTP1_METHOD_BYTES_MAX || i == n || s[i] != ' ')
		return HTTP1_PARSE_ERROR;
	h->method = s;
	h->method_len = i;
	target = ++i;
	i += target_bytes(s + i, n - i);
	if (i == target)
		return HTTP1_PARSE_ERROR;
	h->target = s + target;
	h->target_len = i - target;
	if (!complete) {
		if (i < n && s[i] != ' ')
			return HTTP1_PARSE_ERROR;
		h->minor_version = 1; /* not seen; 1.1 is what clients send */
		return 0;
	}
	if (i == n || s[i] != ' ')
		return HTTP1_PARSE_ERROR;
	i++;
	if (n - i != VERSION_BYTES || memcmp(s + i, VERSION_PREFIX, VERSION_PREFIX_BYTES) != 0 ||
	    !is_digit((unsigned char)s[i + VERSION_PREFIX_BYTES]))
		return HTTP1_PARSE_ERROR;
	h->minor_version = s[i + VERSION_PREFIX_BYTES] - '0';
	return 0;
}

/* Status line s[0..n) without its line end; complete as above. */
static int parse_status_line(const char *s, size_t n, bool complete,
			     struct http1_head *h)
{
	size_t i;

	(void)complete; /* the reason phrase is the only part that may be cut */
	if (n < STATUS_LINE_BYTES_MIN || memcmp(s, VERSION_PREFIX, VERSION_PREFIX_BYTES) != 0 ||
	    !is_digit((unsigned char)s[7]) || s[8] != ' ' || !is_digit((unsigned char)s[9]) ||
	    !is_digit((unsigned char)s[10]) || !is_digit((unsigned char)s[11]))
		return HTTP1_PARSE_ERROR;
	h->minor_version = s[7] - '0';
	h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (h->status < 100)
		return HTTP1_PARSE_ERROR;
	h->reason = s + n;
	h->reason_len = 0;
	if (n == STATUS_LINE_BYTES_MIN)
		return 0;
	if (s[STATUS_LINE_BYTES_MIN] != ' ')
		return HTTP1_PARSE_ERROR;
	for (i = STATUS_LINE_BYTES_MIN + 1; i < n; i++) {
		if (!is_value_char((unsigned char)s[i]))
			return HTTP1_PARSE_ERROR;
	}
	h->reason = s + STATUS_LINE_BYTES_MIN + 1;
	h->reason_len = n - STATUS_LINE_BYTES_MIN - 1;
	return 0;
}

/* A framing header's value v[0..n), trimmed, into h. */
static __attribute__((noinline)) int framing_header_parse(enum framing_header fh, const char *v,
							  size_t n, struct http1_head *h)
{
	switch (fh) {
	case FH_CONTENT_LENGTH:
		return content_length_parse(v, n, h);
	case FH_TRANSFER_ENCODING:
		list_for_each(v, n, te_token, h);
		break;
	case FH_CONNECTION:
		list_for_each(v, n, connection_token, h);
		break;
	case FH_EXPECT:
		if (ci_equal(v, n, "100-continue"))
			h->flags |= HTTP1_HEAD_EXPECT_CONTINUE;
		break;
	case FH_NONE:
		break;
	}
	return 0;
}

/* Header line s[0..n), n > 0, without its line end. Only framing headers are
 * interpreted; an overlong one (complete == false) is refused since its value
 * cannot be read; a complete one is followed by its CR or LF (s[n] can be
 * read). Every header line of every head comes here: the common path calls
 * nothing, the framing headers go out of line. */
static int parse_header_line(const char *s, size_t n, bool complete,
			     struct http1_head *h)
{
	size_t i, name_len, v, end;
	enum framing_header fh;

	/* obs-fold continuation: RFC 9112 5.2 lets a recipient replace it with
	 * SP; no framing header is ever folded in practice, so ignore it. */
	if (is_ows(s[0]))
		return 0;
	/* the name is tchars up to the colon (which is not one). A complete
	 * line is followed by its CR or LF, not a tchar: no bound check */
	i = 0;
	if (complete) {
		while (tchar_tab[(unsigned char)s[i]])
			i++;
	} else {
		while (i < n && tchar_tab[(unsigned char)s[i]])
			i++;
	}
	if (i == 0 || i >= n || s[i] != ':')
		return HTTP1_PARSE_ERROR;
	name_len = i;
	/* the value with its leading OWS: SP and HTAB are value characters,
	 * so the check is the same; only a framing header's value is trimmed */
	if (!value_ok(s + name_len + 1, n - name_len - 1))
		return HTTP1_PARSE_ERROR;
	h->num_headers++;
	fh = framing_header_of(s, name_len);
	if (fh == FH_NONE)
		return 0;
	if (!complete)
		return HTTP1_PARSE_ERROR;
	v = name_len + 1;
	while (v < n && is_ows(s[v]))
		v++;
	end = n;
	while (end > v && is_ows(s[end - 1]))
		end--;
	return framing_header_parse(fh, s + v, end - v, h);
}

/* Does p[0..n) start like a request ("METHOD SP target")? Methods are upper
 * case tokens; the HTTP/2 preface ("PRI * HTTP/2.0") is not HTTP/1. O(1):
 * at most SNIFF_BYTES_MAX bytes are read. */
static enum sniff_result sniff_request(const char *p, size_t n)
{
	size_t i = 0;
	unsigned char ch;

	while (i < n && i <= HTTP1_METHOD_BYTES_MAX &&
	       ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' || p[i] == '_'))
		i++;
	if (i == n)
		return i <= HTTP1_METHOD_BYTES_MAX ? SNIFF_NEED_MORE : SNIFF_NONE;
	if (i == 0 || i > HTTP1_METHOD_BYTES_MAX || p[i] != ' ')
		return SNIFF_NONE;
	if (i == 3 && memcmp(p, "PRI", 3) == 0)
		return SNIFF_NONE;
	if (i + 1 == n)
		return SNIFF_NEED_MORE;
	ch = (unsigned char)p[i + 1];
	if (ch == '/' || ch == '*' || (lower(ch) >= 'a' && lower(ch) <= 'z') || is_digit(ch))
		return SNIFF_REQUEST;
	return SNIFF_NONE;
}

/* Does p[0..n) start like a status line ("HTTP/1.x ")? */
static enum sniff_result sniff_response(const char *p, size_t n)
{
	size_t k = n < VERSION_PREFIX_BYTES ? n : VERSION_PREFIX_BYTES;

	if (memcmp(p, VERSION_PREFIX, k) != 0)
		return SNIFF_NONE;
	if (n <= VERSION_PREFIX_BYTES)
		return SNIFF_NEED_MORE;
	if (!is_digit((unsigned char)p[VERSION_PREFIX_BYTES]))
		return SNIFF_NONE;
	if (n == VERSION_BYTES)
		return SNIFF_NEED_MORE;
	return p[VERSION_BYTES] == ' ' ? SNIFF_RESPONSE : SNIFF_NONE;
}

/* Sniff for one kind, or for both when the kind is not known yet. */
static enum sniff_result sniff(const char *p, size_t n, enum dir_kind kind)
{
	enum sniff_result req, resp;

	if (kind == KIND_REQUEST)
		return sniff_request(p, n);
	if (kind == KIND_RESPONSE)
		return sniff_response(p, n);
	req = sniff_request(p, n);
	if (req != SNIFF_NONE)
		return req;
	resp = sniff_response(p, n);
	return resp;
}

/* Where does the head end? Searches buf[from..len) for LF (CR) LF. */
static bool head_end_found(const char *buf, size_t len, size_t from)
{
	const char *p = buf + from, *end = buf + len;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));

		if (!lf || lf + 1 >= end)
			return false;
		if (lf[1] == '\n' || (lf[1] == '\r' && lf + 2 < end && lf[2] == '\n'))
			return true;
		p = lf + 1;
	}
	return false;
}

static int parse_head(const char *buf, size_t len, size_t last_len,
		      struct http1_head *h, bool request)
{
	size_t pos = 0;
	bool first = true;

	memset(h, 0, sizeof(*h));
	if (!buf && len)
		return HTTP1_PARSE_ERROR;
	if (last_len != 0 && last_len <= len) {
		/* Back 3 bytes: the blank line may have begun in the old part. */
		size_t from = last_len > 3 ? last_len - 3 : 0;

		if (!head_end_found(buf, len, from)) {
			if (len > HTTP1_HEAD_BYTES_MAX) {
				h->flags |= HTTP1_HEAD_TOO_LARGE;
				return HTTP1_PARSE_ERROR;
			}
			return HTTP1_PARSE_PARTIAL;
		}
	}
	for (;;) {
		const char *line = buf + pos;
		const char *lf = len > pos ? memchr(line, '\n', len - pos) : NULL;
		size_t n;
		int r;

		if (!lf) {
			if (len > HTTP1_HEAD_BYTES_MAX) {
				h->flags |= HTTP1_HEAD_TOO_LARGE;
				return HTTP1_PARSE_ERROR;
			}
			/* Refuse garbage early instead of waiting for a LF. */
			if (first && sniff(line, len - pos,
					   request ? KIND_REQUEST : KIND_RESPONSE) == SNIFF_NONE)
				return HTTP1_PARSE_ERROR;
			return HTTP1_PARSE_PARTIAL;
		}
		n = (size_t)(lf - line);
		pos += n + 1;
		if (pos > HTTP1_HEAD_BYTES_MAX) {
			h->flags |= HTTP1_HEAD_TOO_LARGE;
			return HTTP1_PARSE_ERROR;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (first) {
			r = request ? parse_request_line(line, n, true, h)
				    : parse_status_line(line, n, true, h);
			if (r < 0)
				return HTTP1_PARSE_ERROR;
			first = false;
			continue;
		}
		if (n == 0)
			return (int)pos;
		if (parse_header_line(line, n, true, h) < 0)
			return HTTP1_PARSE_ERROR;
	}
}

int http1_parse_request(const char *buf, size_t len, size_t last_len,
			struct http1_head *h)
{
	return parse_head(buf, len, last_len, h, true);
}

int http1_parse_response(const char *buf, size_t len, size_t last_len,
			 struct http1_head *h)
{
	return parse_head(buf, len, last_len, h, false);
}

/* ---------------------------------------------------------------------- */
/* Redaction.                                                               */

struct out_buf {
	char *p;
	size_t size; /* includes the NUL */
	size_t len;
	bool full;
};

/* Append s[0..n) whole or not at all, so "REDACTED" is never cut. */
static void out_put(struct out_buf *o, const char *s, size_t n)
{
	if (o->full || o->len + n >= o->size) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* Length of "scheme://" at the start of an absolute-form target, or 0. */
static size_t scheme_len(const char *in, size_t len)
{
	size_t i = 0;

	if (len == 0 || !((in[0] | 0x20) >= 'a' && (in[0] | 0x20) <= 'z'))
		return 0;
	while (i < len && (((in[i] | 0x20) >= 'a' && (in[i] | 0x20) <= 'z') ||
			   (in[i] >= '0' && in[i] <= '9') || in[i] == '+' || in[i] == '-' ||
			   in[i] == '.'))
		i++;
	return len - i >= 3 && !memcmp(in + i, "://", 3) ? i + 3 : 0;
}

/* The bytes a redacted target's spans stop at. */
enum { STOP_QUERY = 1, STOP_FRAGMENT = 2, STOP_EQUALS = 4, STOP_AMP = 8 };
static const uint8_t stop_tab[256] = {
	['?'] = STOP_QUERY, ['#'] = STOP_FRAGMENT, ['='] = STOP_EQUALS, ['&'] = STOP_AMP,
};

/* Where in in[i..len) the first byte of the stops mask is, or len; sixteen
 * bytes at a time where SSE2 is (paths and query keys run to tens of
 * bytes). */
static ALWAYS_INLINE size_t stop_find(const char *in, size_t len, size_t i, unsigned stops)
{
#ifdef __SSE2__
	for (; i + 16 <= len; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
		__m128i m = _mm_setzero_si128();
		unsigned bits;

		if (stops & STOP_QUERY)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('?')));
		if (stops & STOP_FRAGMENT)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('#')));
		if (stops & STOP_EQUALS)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
		if (stops & STOP_AMP)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('&')));
		bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	while (i < len && !(stop_tab[(unsigned char)in[i]] & stops))
		i++;
	return i;
}

/* Copy in[i..) up to the first byte in the stops mask (or the end) to o, as
 * far as it fits; returns where it stopped. */
static ALWAYS_INLINE size_t span_to(const char *in, size_t len, size_t i, unsigned stops,
				   struct out_buf *o)
{
	size_t end = stop_find(in, len, i, stops);

	/* out_put takes a span whole or not at all; a span that does not fit
	 * is cut at the room left, as the byte-by-byte copy did */
	if (!o->full && o->len + (end - i) >= o->size && o->size > o->len + 1)
		out_put(o, in + i, o->size - o->len - 1);
	out_put(o, in + i, end - i);
	return end;
}

int http1_redact_target(const char *in, size_t len, char *out, size_t out_size)
{
	struct out_buf o = { .p = out, .size = out_size };
	size_t i = 0;

	if (!out || out_size == 0 || (!in && len))
		return -EINVAL;
	/* absolute form (a proxy's request): the user:password of its
	 * authority goes, whole, before anything of it is written */
	if ((i = scheme_len(in, len))) {
		size_t end = i, at = 0;

		while (end < len && in[end] != '/' && in[end] != '?' && in[end] != '#') {
			if (in[end] == '@')
				at = end + 1;
			end++;
		}
		out_put(&o, in, i);
		if (at) {
			out_put(&o, REDACTED_VALUE "@", sizeof(REDACTED_VALUE "@") - 1);
			i = at;
		}
	}
	/* spans are copied whole: this runs once per request */
	i = span_to(in, len, i, STOP_QUERY | STOP_FRAGMENT, &o);
	if (i < len && in[i] == '?') {
		out_put(&o, &in[i++], 1);
		while (i < len && in[i] != '#') {
			if (in[i] == '&') {
				out_put(&o, &in[i++], 1);
				continue;
			}
			i = span_to(in, len, i, STOP_EQUALS | STOP_AMP | STOP_FRAGMENT, &o);
			if (i < len && in[i] == '=') {
				out_put(&o, "=" REDACTED_VALUE, sizeof("=" REDACTED_VALUE) - 1);
				while (i < len && in[i] != '&' && in[i] != '#')
					i++;
			}
		}
	}
	if (i < len && in[i] == '#')
		out_put(&o, "#" REDACTED_VALUE, sizeof("#" REDACTED_VALUE) - 1);
	out[o.len] = '\0';
	return o.full ? -ENOSPC : (int)o.len;
}

/* ---------------------------------------------------------------------- */
/* Slabs and the pool.                                                      */

#define SLAB_ALIGN_BYTES 16u

/* Chunks start with this link, padded so blocks stay SLAB_ALIGN_BYTES
 * aligned. */
struct slab_chunk {
	struct slab_chunk *next;
	char pad_[SLAB_ALIGN_BYTES - sizeof(void *)];
};

static uint32_t slab_block_bytes(size_t block_bytes)
{
	return (uint32_t)((block_bytes + SLAB_ALIGN_BYTES - 1) & ~(size_t)(SLAB_ALIGN_BYTES - 1));
}

int http1_slab_init(struct http1_slab *s, size_t block_bytes, uint32_t max,
		    uint32_t chunk_blocks)
{
	if (!s || block_bytes < sizeof(void *) || block_bytes > UINT32_MAX / 2 ||
	    chunk_blocks == 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->block_bytes = slab_block_bytes(block_bytes);
	s->chunk_blocks = chunk_blocks;
	s->max = max;
	return 0;
}

void http1_slab_init_fixed(struct http1_slab *s, void *mem, size_t block_bytes, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	/* The caller's array stride: its blocks are already aligned. */
	s->block_bytes = (uint32_t)block_bytes;
	s->carve = mem;
	s->carve_left = n;
	s->held = n;
	s->max = n;
}

/* One more chunk, as many blocks as the bound still allows. Runs only
 * while the slab grows. */
static bool slab_grow(struct http1_slab *s)
{
	uint32_t n = s->max - s->held < s->chunk_blocks ? s->max - s->held : s->chunk_blocks;
	size_t bytes = sizeof(struct slab_chunk) + (size_t)n * s->block_bytes;
	struct slab_chunk *ch;

	if (n == 0 || s->chunk_blocks == 0)
		return false;
	ch = malloc(bytes);
	if (!ch)
		return false;
	ch->next = s->chunks;
	s->chunks = ch;
	s->bytes += bytes;
	s->allocs++;
	s->held += n;
	s->carve = (char *)(ch + 1);
	s->carve_left = n;
	return true;
}

void *http1_slab_get(struct http1_slab *s)
{
	void *b = s->free;

	if (b) {
		s->free = *(void **)b;
	} else {
		if (s->carve_left == 0 && !slab_grow(s))
			return NULL;
		b = s->carve;
		s->carve += s->block_bytes;
		s->carve_left--;
	}
	s->out++;
	return b;
}

void http1_slab_put(struct http1_slab *s, void *block)
{
	*(void **)block = s->free;
	s->free = block;
	s->out--;
}

void http1_slab_destroy(struct http1_slab *s)
{
	struct slab_chunk *ch = s->chunks;

	while (ch) {
		struct slab_chunk *next = ch->next;

		free(ch);
		ch = next;
	}
	memset(s, 0, sizeof(*s));
}

int http1_pool_init(struct http1_pool *p, uint32_t lines_max, uint32_t slots_max)
{
	if (!p)
		return -EINVAL;
	if (http1_slab_init(&p->lines, HTTP1_LINE_BYTES_MAX, lines_max, HTTP1_POOL_CHUNK_BLOCKS) ||
	    http1_slab_init(&p->slots, sizeof(struct http1_pending), slots_max,
			    HTTP1_POOL_CHUNK_BLOCKS))
		return -EINVAL;
	return 0;
}

void http1_pool_destroy(struct http1_pool *p)
{
	http1_slab_destroy(&p->lines);
	http1_slab_destroy(&p->slots);
}

size_t http1_pool_bytes(const struct http1_pool *p)
{
	return p->lines.bytes + p->slots.bytes;
}

/* ---------------------------------------------------------------------- */
/* Connection engine.                                                       */

#define STAT_ADD(c, field, n)                                  \
	do {                                                   \
		if ((c)->stats)                                \
			(c)->stats->field += (n);              \
		if ((c)->global)                               \
			(c)->global->field += (n);             \
	} while (0)

/* State of one http1_conn_feed/close call: the exchanges it emitted are
 * its return value. */
struct feed_ctx {
	struct http1_engine *c;
	int emitted;
};

/* A cleared exchange slot from the pool (empty strings); NULL (counted)
 * when it has none. */
static struct http1_pending *slot_get(struct http1_engine *c)
{
	struct http1_pending *pe = http1_slab_get(&c->pool->slots);

	if (!pe) {
		STAT_ADD(c, pool_exhausted, 1);
		return NULL;
	}
	/* all but the string buffers, which only need their terminators: a
	 * slot is taken per request */
	memset(pe, 0, offsetof(struct http1_pending, ex.method));
	pe->ex.method[0] = '\0';
	pe->ex.path[0] = '\0';
	memset(&pe->req_done, 0, sizeof(*pe) - offsetof(struct http1_pending, req_done));
	return pe;
}

static void slot_put(struct http1_engine *c, struct http1_pending *pe)
{
	http1_slab_put(&c->pool->slots, pe);
}

/* The direction's line buffer, taken from the pool when a line starts to
 * be buffered; NULL (counted) when the pool has none left. */
static char *line_get(struct http1_engine *c, struct http1_dir_state *ds)
{
	if (!ds->line) {
		ds->line = http1_slab_get(&c->pool->lines);
		if (!ds->line)
			STAT_ADD(c, pool_exhausted, 1);
	}
	return ds->line;
}

/* Give the line buffer back; whatever was buffered is dropped. */
static void line_put(struct http1_engine *c, struct http1_dir_state *ds)
{
	ds->line_len = 0;
	if (ds->line) {
		http1_slab_put(&c->pool->lines, ds->line);
		ds->line = NULL;
	}
}

/* The request being read no longer needs its slot (queued elsewhere, or
 * dropped). */
static void req_cur_put(struct http1_engine *c)
{
	if (c->req_cur) {
		slot_put(c, c->req_cur);
		c->req_cur = NULL;
	}
	c->req_cut = 0;
}

/* Exchange off pending ones from the front: O(off), and every caller asks
 * for the front, the back (O(1) below) or the first whose response is not
 * done, which is the front unless a response overtook its request. */
static struct http1_pending *q_at(struct http1_engine *c, unsigned off)
{
	struct http1_pending *pe = c->q_first;

	while (off-- > 0)
		pe = pe->next;
	return pe;
}

static void emit(struct feed_ctx *f, struct http1_pending *pe, uint32_t extra)
{
	struct http1_engine *c = f->c;

	pe->ex.flags |= extra;
	if (c->opts & HTTP1_CONN_TLS)
		pe->ex.flags |= HTTP1_EXCH_TLS;
	STAT_ADD(c, exchanges, 1);
	if (pe->ex.flags & HTTP1_EXCH_INCOMPLETE)
		STAT_ADD(c, incomplete, 1);
	if (c->on_exchange)
		c->on_exchange(c->ctx, &pe->ex);
	f->emitted++;
}

/* Drop the front exchange (emitted) and give its slot back. */
static void q_pop(struct http1_engine *c)
{
	struct http1_pending *pe = c->q_first;

	c->q_first = pe->next;
	if (!c->q_first)
		c->q_last = NULL;
	c->q_count--;
	if (c->q_resp > 0)
		c->q_resp--;
	slot_put(c, pe);
}

/* Emit from the front while exchanges are finished. Responses finish in
 * order, so the front is always the first to finish. */
static void try_emit(struct feed_ctx *f)
{
	struct http1_engine *c = f->c;

	while (c->q_count > 0) {
		struct http1_pending *pe = q_at(c, 0);

		if (!pe->req_done || !pe->resp_done)
			break;
		emit(f, pe, 0);
		q_pop(c);
	}
}

/* Put pe at the back of the queue (there is room). */
static void q_link(struct http1_engine *c, struct http1_pending *pe)
{
	pe->next = NULL;
	if (c->q_last)
		c->q_last->next = pe;
	else
		c->q_first = pe;
	c->q_last = pe;
	c->q_count++;
}

/* The exchange of the request being read, taking a slot for it at its
 * first use; NULL if the pool had none (the request is then not kept). */
static struct http1_exchange *req_ex(struct http1_engine *c)
{
	if (!c->req_cur && !c->req_cut) {
		c->req_cur = slot_get(c);
		c->req_cut = c->req_cur == NULL;
	}
	return c->req_cur ? &c->req_cur->ex : NULL;
}

/* Queue the request whose head just ended (or was cut): its exchange gets
 * the head's times and bytes and the extra flags. NULL if it is not kept:
 * the queue is full (the caller counts it) or it had no slot (counted). */
static struct http1_pending *req_queue(struct http1_engine *c, struct http1_dir_state *ds,
				       uint64_t last_ts, uint32_t extra)
{
	struct http1_exchange *ex;
	struct http1_pending *pe;

	if (c->q_count >= HTTP1_PIPELINE_MAX)
		return NULL;
	ex = req_ex(c);
	if (!ex)
		return NULL;
	ex->req_first_ts = ds->head_first_ts;
	ex->req_last_ts = last_ts;
	ex->req_bytes = ds->head_bytes;
	ex->flags |= extra;
	pe = c->req_cur;
	c->req_cur = NULL;
	q_link(c, pe);
	return pe;
}

static struct http1_dir_state *req_dir(struct http1_engine *c)
{
	return &c->dir[c->role == HTTP1_ROLE_CLIENT ? HTTP1_DIR_EGRESS : HTTP1_DIR_INGRESS];
}

static void set_role(struct http1_engine *c, enum http1_role role)
{
	enum http1_dir rd = role == HTTP1_ROLE_SERVER ? HTTP1_DIR_INGRESS : HTTP1_DIR_EGRESS;

	c->role = (uint8_t)role;
	c->dir[rd].kind = KIND_REQUEST;
	c->dir[!rd].kind = KIND_RESPONSE;
}

static void msg_reset(struct http1_engine *c, struct http1_dir_state *ds)
{
	ds->state = DS_HEAD;
	ds->body_remaining = 0;
	ds->head_first_ts = 0;
	ds->body_bytes = 0;
	ds->content_length = 0;
	ds->head_flags = 0;
	ds->status = 0;
	ds->head_bytes = 0;
	line_put(c, ds);
	ds->chunk_state = CS_SIZE;
	ds->chunk_digits = 0;
	ds->match = 0;
	ds->got_start_line = 0;
	ds->sniffed = 0;
	ds->head_lost = 0;
	ds->estimated = 0;
	ds->head_queued = 0;
	if (ds->kind != KIND_RESPONSE)
		req_cur_put(c);
}

/* The request whose body is in flight, if it was queued. */
static struct http1_pending *req_entry(struct http1_engine *c)
{
	return c->req_queued && c->q_count > 0 ? c->q_last : NULL;
}

/* The request still in flight (at most one is: the first queued exchange
 * whose request has not ended), and whether its response has begun. */
static struct http1_pending *req_in_flight(struct http1_engine *c, bool *answered)
{
	unsigned i = 0;

	for (struct http1_pending *pe = c->q_first; pe; pe = pe->next, i++)
		if (!pe->req_done) {
			*answered = pe->resp_done || i < c->q_resp ||
				    (i == c->q_resp && c->resp_active);
			return pe;
		}
	*answered = false;
	return NULL;
}

/* The exchange the response being read belongs to, if any. */
static struct http1_pending *resp_entry(struct http1_engine *c)
{
	if (c->resp_untracked)
		return NULL;
	return c->q_resp < c->q_count ? q_at(c, c->q_resp) : NULL;
}

/* A response came with no request to pair with: give it an exchange so it
 * is reported, not lost. Frees the oldest slot if the queue is full. NULL
 * if the pool has no slot: the response is then framed but not reported
 * (counted in pool_exhausted). */
static struct http1_pending *resp_entry_make(struct feed_ctx *f)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe;
	uint32_t flag = HTTP1_EXCH_OVERFLOW;

	if (c->q_count >= HTTP1_PIPELINE_MAX) {
		if (c->req_queued && c->q_count == 1)
			c->req_queued = 0;
		emit(f, c->q_first, HTTP1_EXCH_INCOMPLETE);
		q_pop(c);
	}
	/* Pairing first, so it stays right even if the response is lost. */
	if (c->overflowed > 0) {
		c->overflowed--;
	} else {
		flag = HTTP1_EXCH_NO_REQUEST;
		STAT_ADD(c, resp_unmatched, 1);
	}
	pe = slot_get(c);
	if (!pe) {
		c->resp_untracked = 1;
		return NULL;
	}
	q_link(c, pe);
	pe->req_done = 1;
	pe->ex.flags |= flag;
	return pe;
}

static void resp_finish(struct feed_ctx *f, struct http1_dir_state *ds, uint32_t extra)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe = resp_entry(c);

	if (pe) {
		pe->ex.flags |= extra;
		if (ds->estimated)
			pe->ex.flags |= HTTP1_EXCH_ESTIMATED;
		pe->resp_done = 1;
		c->q_resp++;
	}
	c->resp_active = 0;
	c->resp_untracked = 0;
	msg_reset(c, ds);
	try_emit(f);
}

static void req_finish(struct feed_ctx *f, struct http1_dir_state *ds, uint32_t extra)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe = req_entry(c);

	if (pe) {
		pe->ex.flags |= extra;
		pe->req_done = 1;
	}
	c->req_queued = 0;
	msg_reset(c, ds);
	try_emit(f);
}

static void body_done(struct feed_ctx *f, struct http1_dir_state *ds)
{
	if (ds->kind == KIND_REQUEST)
		req_finish(f, ds, 0);
	else
		resp_finish(f, ds, 0);
}

/* Body bytes of the current message, seen or only counted. */
static void body_progress(struct feed_ctx *f, struct http1_dir_state *ds,
			  uint64_t ts, uint64_t n)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe;

	if (n == 0)
		return;
	ds->body_bytes += n;
	pe = ds->kind == KIND_REQUEST ? req_entry(c) : (c->resp_active ? resp_entry(c) : NULL);
	if (!pe)
		return;
	if (ds->kind == KIND_REQUEST) {
		pe->ex.req_bytes += n;
		pe->ex.req_last_ts = ts;
	} else {
		pe->ex.resp_bytes += n;
		pe->ex.resp_last_ts = ts;
	}
}

static void copy_target(struct http1_engine *c, struct http1_exchange *ex, const char *t,
			size_t n, bool cut)
{
	size_t keep;

	if (c->opts & HTTP1_CONN_REDACT_QUERY) {
		int r = http1_redact_target(t, n, ex->path, sizeof(ex->path));

		/* the length written, also when cut (-ENOSPC) */
		ex->path_len = (uint16_t)(r >= 0 ? (size_t)r : strlen(ex->path));
		if (r < 0)
			cut = true;
	} else {
		keep = n < HTTP1_PATH_BYTES_MAX ? n : HTTP1_PATH_BYTES_MAX;
		memcpy(ex->path, t, keep);
		ex->path[keep] = '\0';
		ex->path_len = (uint16_t)keep;
		if (keep < n)
			cut = true;
	}
	if (cut)
		ex->flags |= HTTP1_EXCH_PATH_TRUNCATED;
}

/* The request/status line is parsed: keep what the exchange needs, since
 * the line's bytes are transient. */
static void start_line_keep(struct http1_engine *c, struct http1_dir_state *ds,
			    const struct http1_head *h, bool cut)
{
	struct http1_exchange *ex;

	ds->got_start_line = 1;
	if (ds->kind != KIND_REQUEST)
		return;
	ex = req_ex(c);
	if (!ex)
		return;
	memcpy(ex->method, h->method, h->method_len);
	ex->method[h->method_len] = '\0';
	ex->method_len = (uint8_t)h->method_len;
	copy_target(c, ex, h->target, h->target_len, cut);
}

/* The connection leaves HTTP: no more heads to read, so the line buffers
 * and the request being read go back now; queued exchanges wait for the
 * close. */
static void conn_stop(struct http1_engine *c)
{
	c->state = CONN_IGNORED;
	line_put(c, &c->dir[HTTP1_DIR_INGRESS]);
	line_put(c, &c->dir[HTTP1_DIR_EGRESS]);
	req_cur_put(c);
}

static void conn_ignore(struct http1_engine *c)
{
	conn_stop(c);
	STAT_ADD(c, conns_not_http, 1);
}

enum head_error_kind {
	HEAD_ERR_NOT_MESSAGE, /* bytes that do not start a message */
	HEAD_ERR_SYNTAX,      /* a message start, then a malformed head */
	HEAD_ERR_TOO_LARGE,
};

/* The current head is unusable. The first thing a connection says decides
 * whether it is HTTP at all; later, the error is counted, the message kept
 * as an errored exchange (so responses still pair in order) and the
 * direction waits for the next message start. */
static void head_error(struct feed_ctx *f, struct http1_dir_state *ds,
		       enum head_error_kind err)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe;
	bool midstream = c->opts & HTTP1_CONN_MIDSTREAM;

	if (c->msgs == 0 && err != HEAD_ERR_TOO_LARGE) {
		if (!midstream) {
			conn_ignore(c);
			return;
		}
		/* Nothing of this head is used again; a connection that never
		 * resyncs must not keep its blocks. */
		line_put(c, ds);
		if (ds->kind != KIND_RESPONSE)
			req_cur_put(c);
		ds->state = DS_DESYNC;
		return;
	}
	if (err == HEAD_ERR_TOO_LARGE)
		STAT_ADD(c, head_too_large, 1);
	else
		STAT_ADD(c, parse_errors, 1);
	if (err != HEAD_ERR_NOT_MESSAGE && ds->kind == KIND_REQUEST && ds->head_queued) {
		bool answered;

		/* queued when a gap cut it: that request ends in error */
		pe = req_in_flight(c, &answered);
		if (pe) {
			pe->ex.flags |= HTTP1_EXCH_ERROR;
			pe->req_done = 1;
		}
		c->req_queued = 0;
		c->msgs++;
	} else if (err != HEAD_ERR_NOT_MESSAGE && ds->kind == KIND_REQUEST) {
		bool full = c->q_count >= HTTP1_PIPELINE_MAX;

		pe = req_queue(c, ds, c->last_ts[ds - c->dir], HTTP1_EXCH_ERROR);
		if (pe) {
			pe->req_done = 1;
		} else {
			c->overflowed++;
			if (full)
				STAT_ADD(c, pipeline_overflow, 1);
		}
		c->msgs++;
	} else if (err != HEAD_ERR_NOT_MESSAGE && ds->kind == KIND_RESPONSE) {
		pe = resp_entry(c);
		if (!pe)
			pe = resp_entry_make(f);
		if (pe) {
			pe->ex.status = ds->status;
			pe->ex.resp_first_ts = ds->head_first_ts;
			pe->ex.resp_last_ts = c->last_ts[ds - c->dir];
			pe->ex.resp_bytes += ds->head_bytes;
			pe->ex.flags |= HTTP1_EXCH_ERROR;
		}
		c->msgs++;
		resp_finish(f, ds, 0);
	}
	msg_reset(c, ds);
	ds->state = DS_DESYNC;
	try_emit(f);
}

static bool is_method(const struct http1_exchange *ex, const char *m)
{
	return ex->method_len == strlen(m) && memcmp(ex->method, m, ex->method_len) == 0;
}

/* Queue the request of the head in ds (see req_queue), as in flight, or
 * count it as not kept; pipelined when an earlier one still waits for its
 * response. full: the queue was full when its head ended. */
static struct http1_pending *req_queue_head(struct http1_engine *c, struct http1_dir_state *ds,
					    uint64_t ts, uint32_t flags, bool full)
{
	struct http1_pending *pe;

	if (c->q_resp < c->q_count || c->overflowed > 0)
		flags |= HTTP1_EXCH_PIPELINED;
	pe = req_queue(c, ds, ts, flags);

	if (pe) {
		pe->method_head = is_method(&pe->ex, "HEAD");
		pe->method_connect = is_method(&pe->ex, "CONNECT");
		c->req_queued = 1;
	} else {
		c->overflowed++;
		c->req_queued = 0;
		if (full)
			STAT_ADD(c, pipeline_overflow, 1);
	}
	return pe;
}

/* A gap cut into a request head: queue the request now, with what its
 * start line gave, so that a response that follows pairs with it and not
 * with a later request (pipelined requests lost in the gap would shift
 * every pairing after them). The head's end, when found, extends it. */
static void request_queue_early(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts)
{
	struct http1_engine *c = f->c;

	if (ds->head_queued || c->q_count >= HTTP1_PIPELINE_MAX)
		return; /* full: queued (or counted) when its head ends */
	if (req_queue_head(c, ds, ts, HTTP1_EXCH_HEAD_LOST, false))
		ds->head_queued = 1;
}

/* The end of a request head that a gap cut and that was queued then: its
 * request, which takes the head's end; or NULL when that request has been
 * answered already. A server answers only a whole head, so the end is
 * then another request's, whose start was lost in the gap with the rest of
 * the first one: the caller queues it as a new request, from now. */
static struct http1_pending *queued_head_end(struct feed_ctx *f, struct http1_dir_state *ds,
					     uint64_t ts)
{
	bool answered;
	struct http1_pending *pe = req_in_flight(f->c, &answered);

	ds->head_queued = 0;
	if (pe && !answered) {
		pe->ex.req_last_ts = ts;
		pe->ex.req_bytes = ds->head_bytes;
		return pe;
	}
	if (pe) {
		pe->req_done = 1;
		try_emit(f);
	}
	ds->head_first_ts = ts;
	return NULL;
}

static void request_head_done(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe;
	bool has_body = true, full = c->q_count >= HTTP1_PIPELINE_MAX;
	uint32_t flags = 0;

	if (ds->head_flags & HTTP1_HEAD_TE_OTHER) {
		/* A request body must be chunked or counted (RFC 9112 6.3). */
		head_error(f, ds, HEAD_ERR_SYNTAX);
		return;
	}
	pe = ds->head_queued ? queued_head_end(f, ds, ts) : NULL;
	if (!pe) {
		if (ds->head_lost)
			flags |= HTTP1_EXCH_HEAD_LOST;
		pe = req_queue_head(c, ds, ts, flags, full || c->q_count >= HTTP1_PIPELINE_MAX);
	}
	if (ds->head_flags & HTTP1_HEAD_CHUNKED) {
		ds->state = DS_BODY_CHUNKED;
		ds->chunk_state = CS_SIZE;
	} else if ((ds->head_flags & HTTP1_HEAD_CONTENT_LENGTH) && ds->content_length > 0) {
		ds->state = DS_BODY_LENGTH;
		ds->body_remaining = ds->content_length;
	} else {
		has_body = false;
	}
	if (!has_body)
		req_finish(f, ds, 0);
}

static bool status_is_interim(int status)
{
	return status >= 100 && status < 200 && status != 101;
}

static void response_head_done(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe = resp_entry(c);
	int status = ds->status;
	uint32_t hflags = ds->head_flags;

	if (status_is_interim(status)) {
		/* 100 Continue, 103 Early Hints: the final response follows. */
		if (pe) {
			pe->ex.resp_bytes += ds->head_bytes;
			pe->ex.flags |= HTTP1_EXCH_INTERIM;
		} else {
			STAT_ADD(c, resp_unmatched, 1);
		}
		msg_reset(c, ds);
		return;
	}
	if (!pe)
		pe = resp_entry_make(f);
	if (pe) {
		pe->ex.status = (uint16_t)status;
		pe->ex.resp_first_ts = ds->head_first_ts;
		pe->ex.resp_last_ts = ts;
		pe->ex.resp_bytes += ds->head_bytes;
		if (ds->head_lost)
			pe->ex.flags |= HTTP1_EXCH_HEAD_LOST;
		if (hflags & HTTP1_HEAD_CONN_CLOSE)
			pe->ex.flags |= HTTP1_EXCH_CONN_CLOSE;
	}
	c->resp_active = 1;
	if (status == 101 || (pe && pe->method_connect && status >= 200 && status < 300)) {
		resp_finish(f, ds, HTTP1_EXCH_UPGRADED);
		conn_stop(c);
		STAT_ADD(c, conns_upgraded, 1);
		return;
	}
	if ((pe && pe->method_head) || status == 204 || status == 304 || status < 200) {
		resp_finish(f, ds, 0);
	} else if (hflags & HTTP1_HEAD_CHUNKED) {
		if (pe)
			pe->ex.flags |= HTTP1_EXCH_CHUNKED;
		ds->state = DS_BODY_CHUNKED;
		ds->chunk_state = CS_SIZE;
	} else if (hflags & HTTP1_HEAD_TE_OTHER) {
		ds->state = DS_BODY_CLOSE;
	} else if (hflags & HTTP1_HEAD_CONTENT_LENGTH) {
		if (ds->content_length == 0) {
			resp_finish(f, ds, 0);
		} else {
			ds->state = DS_BODY_LENGTH;
			ds->body_remaining = ds->content_length;
		}
	} else if (ds->head_lost) {
		/* The framing headers may have been in the lost bytes. */
		ds->estimated = 1;
		ds->state = DS_BODY_UNKNOWN;
	} else {
		ds->state = DS_BODY_CLOSE;
	}
}

static void head_done(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts)
{
	f->c->msgs++;
	if (ds->kind == KIND_REQUEST)
		request_head_done(f, ds, ts);
	else
		response_head_done(f, ds, ts);
}

/* Account n more head bytes; false (and the head dropped) if over the max. */
static bool head_add(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts, uint64_t n)
{
	if (ds->head_bytes == 0)
		ds->head_first_ts = ts;
	/* Saturate: n can be a whole uncaptured gap (up to 4 GiB). */
	if (n > HTTP1_HEAD_BYTES_MAX)
		ds->head_bytes = HTTP1_HEAD_BYTES_MAX + 1u;
	else
		ds->head_bytes += (uint32_t)n;
	if (ds->head_bytes <= HTTP1_HEAD_BYTES_MAX)
		return true;
	head_error(f, ds, HEAD_ERR_TOO_LARGE);
	return false;
}

/* Parse one line s[0..n) (no line end) of the current head into h and the
 * direction's framing facts, which h starts from and which keep what the
 * parser set even on an error (the status of a bad status line). */
static ALWAYS_INLINE int head_line_parse(struct http1_dir_state *ds, const char *s, size_t n,
					 bool complete, struct http1_head *h)
{
	int r;

	if (ds->got_start_line) {
		/* a header line only reads and writes these (no memset of the
		 * whole head per line) */
		h->content_length = ds->content_length;
		h->flags = ds->head_flags;
		h->status = ds->status;
		h->num_headers = 0;
		r = parse_header_line(s, n, complete, h);
	} else {
		memset(h, 0, sizeof(*h));
		h->content_length = ds->content_length;
		h->flags = ds->head_flags;
		h->status = ds->status;
		r = ds->kind == KIND_REQUEST ? parse_request_line(s, n, complete, h)
					     : parse_status_line(s, n, complete, h);
	}
	ds->content_length = h->content_length;
	ds->head_flags = h->flags;
	ds->status = (uint16_t)h->status;
	return r;
}

/* A whole line s[0..n) (LF included) of the current head. */
static ALWAYS_INLINE void line_done(struct feed_ctx *f, struct http1_dir_state *ds,
				    uint64_t ts, const char *s, size_t n)
{
	struct http1_head h;
	bool start = !ds->got_start_line;

	n--; /* the LF */
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (!start && n == 0) {
		head_done(f, ds, ts);
		return;
	}
	if (head_line_parse(ds, s, n, true, &h) < 0) {
		head_error(f, ds, HEAD_ERR_SYNTAX);
		return;
	}
	if (start)
		start_line_keep(f->c, ds, &h, false);
}

/* The buffered line is cut short (too long, followed by uncaptured bytes,
 * or by the close): take what its start says, and give the buffer back.
 * 0, HTTP1_PARSE_ERROR, or 1 if nothing was buffered. */
static int line_prefix_parse(struct feed_ctx *f, struct http1_dir_state *ds)
{
	const char *s = ds->line;
	size_t n = ds->line_len;
	struct http1_head h;
	bool start = !ds->got_start_line;
	int r = 0;

	if (n == 0) {
		line_put(f->c, ds);
		return 1; /* nothing buffered: nothing to take */
	}
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (start || n > 0)
		r = head_line_parse(ds, s, n, false, &h);
	/* The target is cut only if it runs to the end of the prefix. */
	if (start && r == 0)
		start_line_keep(f->c, ds, &h, ds->kind == KIND_REQUEST &&
				h.target + h.target_len == s + n);
	line_put(f->c, ds);
	return r;
}

/* Same, and a refused prefix is a head error. */
static bool line_prefix(struct feed_ctx *f, struct http1_dir_state *ds)
{
	if (line_prefix_parse(f, ds) == 0)
		return true;
	head_error(f, ds, HEAD_ERR_SYNTAX);
	return false;
}

/* Check the start of a message: decides the role when unknown, and refuses
 * what is not HTTP. Returns false if the bytes were refused. O(1). */
static bool message_sniff(struct feed_ctx *f, struct http1_dir_state *ds,
			  const uint8_t *p, size_t n, bool *need_more)
{
	struct http1_engine *c = f->c;
	char probe[SNIFF_BYTES_MAX];
	size_t have = ds->line_len < SNIFF_BYTES_MAX ? ds->line_len : SNIFF_BYTES_MAX;
	size_t more = n < SNIFF_BYTES_MAX - have ? n : SNIFF_BYTES_MAX - have;
	enum sniff_result r;

	if (have > 0) {
		memcpy(probe, ds->line, have);
		memcpy(probe + have, p, more);
		r = sniff(probe, have + more, (enum dir_kind)ds->kind);
	} else {
		/* nothing buffered (the usual case): sniff the segment itself */
		r = sniff((const char *)p, more, (enum dir_kind)ds->kind);
	}
	*need_more = r == SNIFF_NEED_MORE;
	if (r == SNIFF_NEED_MORE)
		return true;
	if (r == SNIFF_NONE) {
		head_error(f, ds, HEAD_ERR_NOT_MESSAGE);
		return false;
	}
	if (ds->kind == KIND_UNKNOWN) {
		bool ingress = ds == &c->dir[HTTP1_DIR_INGRESS];
		bool request = r == SNIFF_REQUEST;

		set_role(c, request == ingress ? HTTP1_ROLE_SERVER : HTTP1_ROLE_CLIENT);
	}
	ds->sniffed = 1;
	return true;
}

/* A line must be buffered but the pool has no line buffer: its bytes are
 * taken as uncaptured, as a gap would be (the head is flagged
 * HTTP1_EXCH_HEAD_LOST), unless nothing tells yet what the direction
 * carries. Returns 0: the new state takes the bytes. */
static size_t head_unbuffered(struct http1_dir_state *ds)
{
	if (ds->kind == KIND_UNKNOWN) {
		ds->state = DS_DESYNC;
		return 0;
	}
	ds->state = DS_HEAD_LOST;
	ds->head_lost = 1;
	ds->sniffed = 1;
	/* At a line start after the start line, the LF before it counts
	 * toward the blank line that ends the head. */
	ds->match = ds->got_start_line ? H_LF : H_NONE;
	return 0;
}

/* DS_HEAD over captured bytes. Returns bytes consumed (>= 1 unless the
 * connection got ignored or the state changed). */
static size_t head_consume(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts,
			   const uint8_t *p, size_t n)
{
	const uint8_t *lf;
	size_t take, room;

	if (!ds->sniffed) {
		bool need_more;

		/* Refused: the direction is now ignored or desynced, and
		 * that state takes the bytes. */
		if (!message_sniff(f, ds, p, n, &need_more))
			return 0;
		if (need_more) {
			/* Fewer than SNIFF_BYTES_MAX bytes, all a valid start:
			 * keep them for the next segment. */
			if (!line_get(f->c, ds))
				return head_unbuffered(ds);
			memcpy(ds->line + ds->line_len, p, n);
			ds->line_len = (uint16_t)(ds->line_len + n);
			head_add(f, ds, ts, n);
			return n;
		}
	}
	lf = memchr(p, '\n', n);
	take = lf ? (size_t)(lf - p) + 1 : n;
	if (ds->line_len == 0 && lf) {
		/* Zero-copy: the whole line is in the segment, and so are often
		 * the lines after it: they are taken here, one memchr each, for
		 * as long as the same head goes on. */
		size_t off = 0;

		for (;;) {
			if (head_add(f, ds, ts, take))
				line_done(f, ds, ts, (const char *)p + off, take);
			off += take;
			if (off == n || ds->state != DS_HEAD || !ds->sniffed || ds->line_len ||
			    f->c->state != CONN_ACTIVE)
				return off;
			lf = memchr(p + off, '\n', n - off);
			if (!lf)
				return off;
			take = (size_t)(lf - (p + off)) + 1;
		}
	}
	if (!line_get(f->c, ds))
		return head_unbuffered(ds);
	room = HTTP1_LINE_BYTES_MAX - ds->line_len;
	if (take > room) {
		/* Overlong line: parse its start, skip the rest to its LF. */
		memcpy(ds->line + ds->line_len, p, room);
		ds->line_len = HTTP1_LINE_BYTES_MAX;
		if (!head_add(f, ds, ts, room))
			return room;
		if (line_prefix(f, ds))
			ds->state = DS_SKIP_LINE;
		return room > 0 ? room : 1u;
	}
	memcpy(ds->line + ds->line_len, p, take);
	ds->line_len = (uint16_t)(ds->line_len + take);
	if (!head_add(f, ds, ts, take))
		return take;
	if (lf) {
		size_t len = ds->line_len;

		/* Parsed from the buffer, then the buffer goes back (unless
		 * the line ended the message and msg_reset gave it back). */
		ds->line_len = 0;
		line_done(f, ds, ts, ds->line, len);
		line_put(f->c, ds);
	}
	return take;
}

static size_t skip_line_consume(struct feed_ctx *f, struct http1_dir_state *ds,
				uint64_t ts, const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t take = lf ? (size_t)(lf - p) + 1 : n;

	if (head_add(f, ds, ts, take) && lf)
		ds->state = DS_HEAD;
	return take;
}

/* DS_HEAD_LOST: scan for the blank line that ends the head. */
static size_t head_lost_consume(struct feed_ctx *f, struct http1_dir_state *ds,
				uint64_t ts, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t ch = p[i];
		bool end = false;

		switch (ds->match) {
		case H_LF:
			if (ch == '\n')
				end = true;
			else
				ds->match = ch == '\r' ? H_LF_CR : H_NONE;
			break;
		case H_LF_CR:
			if (ch == '\n')
				end = true;
			else
				ds->match = H_NONE;
			break;
		default:
			ds->match = ch == '\n' ? H_LF : H_NONE;
			break;
		}
		if (end) {
			if (head_add(f, ds, ts, i + 1))
				head_done(f, ds, ts);
			return i + 1;
		}
	}
	head_add(f, ds, ts, n);
	return n;
}

static size_t body_length_consume(struct feed_ctx *f, struct http1_dir_state *ds,
				  uint64_t ts, uint64_t n)
{
	uint64_t take = ds->body_remaining < n ? ds->body_remaining : n;

	ds->body_remaining -= take;
	body_progress(f, ds, ts, take);
	if (ds->body_remaining == 0)
		body_done(f, ds);
	return (size_t)take;
}

/* Chunk framing broke (malformed or not captured): from now on the body
 * ends where "0\r\n\r\n" is seen, or at the next message start. */
static void chunk_lose(struct http1_dir_state *ds, bool malformed, struct feed_ctx *f)
{
	if (malformed)
		STAT_ADD(f->c, parse_errors, 1);
	ds->state = DS_CHUNK_LOST;
	ds->estimated = 1;
	ds->match = malformed ? M_NONE : M_LINE;
}

static size_t chunked_consume(struct feed_ctx *f, struct http1_dir_state *ds,
			      uint64_t ts, const uint8_t *p, size_t n)
{
	size_t i = 0;
	bool done = false, bad = false;

	while (i < n && !done && !bad) {
		uint8_t ch = p[i];
		int hv;

		switch (ds->chunk_state) {
		case CS_SIZE:
			hv = hex_value(ch);
			if (hv >= 0) {
				if (ds->chunk_digits >= CHUNK_SIZE_DIGITS_MAX) {
					bad = true;
					break;
				}
				ds->body_remaining = (ds->body_remaining << 4) | (uint64_t)hv;
				ds->chunk_digits++;
				i++;
				break;
			}
			if (ds->chunk_digits == 0) {
				bad = true;
				break;
			}
			i++;
			if (ch == ';' || is_ows((char)ch))
				ds->chunk_state = CS_EXT;
			else if (ch == '\r')
				ds->chunk_state = CS_SIZE_LF;
			else if (ch == '\n')
				ds->chunk_state = ds->body_remaining ? CS_DATA : CS_TRAILER_START;
			else
				bad = true;
			break;
		case CS_EXT: {
			const uint8_t *lf = memchr(p + i, '\n', n - i);

			if (!lf) {
				i = n;
				break;
			}
			i = (size_t)(lf - p) + 1;
			ds->chunk_state = ds->body_remaining ? CS_DATA : CS_TRAILER_START;
			break;
		}
		case CS_SIZE_LF:
			if (ch != '\n') {
				bad = true;
				break;
			}
			i++;
			ds->chunk_state = ds->body_remaining ? CS_DATA : CS_TRAILER_START;
			break;
		case CS_DATA: {
			uint64_t take = n - i < ds->body_remaining ? n - i : ds->body_remaining;

			i += (size_t)take;
			ds->body_remaining -= take;
			if (ds->body_remaining == 0)
				ds->chunk_state = CS_DATA_CR;
			break;
		}
		case CS_DATA_CR:
		case CS_DATA_LF:
			if (ch == '\n') {
				ds->chunk_state = CS_SIZE;
				ds->chunk_digits = 0;
				i++;
			} else if (ch == '\r' && ds->chunk_state == CS_DATA_CR) {
				ds->chunk_state = CS_DATA_LF;
				i++;
			} else {
				bad = true;
			}
			break;
		case CS_TRAILER_START:
			i++;
			if (ch == '\n')
				done = true;
			else
				ds->chunk_state = ch == '\r' ? CS_END_LF : CS_TRAILER_LINE;
			break;
		case CS_TRAILER_LINE:
			i++;
			if (ch == '\n')
				ds->chunk_state = CS_TRAILER_START;
			break;
		case CS_END_LF:
			if (ch != '\n') {
				bad = true;
				break;
			}
			i++;
			done = true;
			break;
		default:
			bad = true;
			break;
		}
	}
	body_progress(f, ds, ts, i);
	if (done)
		body_done(f, ds);
	else if (bad)
		chunk_lose(ds, true, f);
	return i;
}

/* DS_CHUNK_LOST: look for "\r\n0\r\n\r\n" (a last chunk, no trailers). */
static size_t chunk_lost_consume(struct feed_ctx *f, struct http1_dir_state *ds,
				 uint64_t ts, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t ch = p[i];
		uint8_t m = ds->match;
		uint8_t next;

		if (m == M_LINE && ch == '0')
			next = M_ZERO;
		else if (m == M_ZERO && ch == '\r')
			next = M_ZERO_CR;
		else if (m == M_ZERO_CR && ch == '\n')
			next = M_ZERO_CRLF;
		else if (m == M_ZERO_CRLF && ch == '\r')
			next = M_ZERO_CRLF_CR;
		else if (m == M_ZERO_CRLF && ch == '0')
			next = M_ZERO; /* "0\r\n" is itself a line end */
		else if (m == M_ZERO_CRLF_CR && ch == '\n') {
			body_progress(f, ds, ts, i + 1);
			STAT_ADD(f->c, chunk_tail_ends, 1);
			body_done(f, ds);
			return i + 1;
		} else
			next = ch == '\n' ? M_LINE : M_NONE;
		ds->match = next;
	}
	body_progress(f, ds, ts, n);
	return n;
}

/* Captured bytes p[0..n): run the direction's state machine over them. */
static void bytes_consume(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts,
			  const uint8_t *p, size_t n)
{
	struct http1_engine *c = f->c;
	size_t off = 0;

	while (off < n && c->state == CONN_ACTIVE) {
		size_t r;

		switch (ds->state) {
		case DS_HEAD:
			r = head_consume(f, ds, ts, p + off, n - off);
			break;
		case DS_SKIP_LINE:
			r = skip_line_consume(f, ds, ts, p + off, n - off);
			break;
		case DS_HEAD_LOST:
			r = head_lost_consume(f, ds, ts, p + off, n - off);
			break;
		case DS_BODY_LENGTH:
			r = body_length_consume(f, ds, ts, n - off);
			break;
		case DS_BODY_CHUNKED:
			r = chunked_consume(f, ds, ts, p + off, n - off);
			break;
		case DS_CHUNK_LOST:
			r = chunk_lost_consume(f, ds, ts, p + off, n - off);
			break;
		case DS_BODY_CLOSE:
		case DS_BODY_UNKNOWN:
			body_progress(f, ds, ts, n - off);
			r = n - off;
			break;
		default: /* DS_DESYNC */
			STAT_ADD(c, bytes_desync, n - off);
			r = n - off;
			break;
		}
		off += r;
	}
}

/* n uncaptured bytes: only states that count bytes can go through them;
 * the others lose their place and say so. */
static void gap_consume(struct feed_ctx *f, struct http1_dir_state *ds, uint64_t ts,
			uint64_t n)
{
	struct http1_engine *c = f->c;

	while (n > 0 && c->state == CONN_ACTIVE) {
		uint64_t r = n;

		switch (ds->state) {
		case DS_HEAD:
			if (ds->kind == KIND_UNKNOWN) {
				/* Nothing to infer a role from. */
				ds->state = DS_DESYNC;
				r = 0;
				break;
			}
			if (!line_prefix(f, ds))
				break; /* head_error: rest of the gap desynced */
			/* fallthrough */
		case DS_SKIP_LINE:
			ds->state = DS_HEAD_LOST;
			ds->head_lost = 1;
			ds->sniffed = 1;
			ds->match = H_NONE;
			/* fallthrough */
		case DS_HEAD_LOST:
			if (head_add(f, ds, ts, n) && ds->kind == KIND_REQUEST)
				request_queue_early(f, ds, ts);
			break;
		case DS_BODY_LENGTH:
			r = body_length_consume(f, ds, ts, n);
			break;
		case DS_BODY_CHUNKED:
			if (ds->chunk_state == CS_DATA) {
				r = ds->body_remaining < n ? ds->body_remaining : n;
				ds->body_remaining -= r;
				if (ds->body_remaining == 0)
					ds->chunk_state = CS_DATA_CR;
				body_progress(f, ds, ts, r);
			} else {
				chunk_lose(ds, false, f);
				r = 0;
			}
			break;
		case DS_CHUNK_LOST:
			body_progress(f, ds, ts, n);
			ds->match = M_LINE; /* a line may start right after the gap */
			break;
		case DS_BODY_CLOSE:
		case DS_BODY_UNKNOWN:
			body_progress(f, ds, ts, n);
			break;
		default:
			STAT_ADD(c, bytes_desync, n);
			break;
		}
		n -= r;
	}
}

/* At a segment start: a direction that lost its framing takes a segment
 * that starts like a message as the next message. O(1). */
static void segment_start(struct feed_ctx *f, struct http1_dir_state *ds,
			  const uint8_t *data, uint32_t cap)
{
	struct http1_engine *c = f->c;
	enum sniff_result r;
	bool expect_skipped;

	if (cap == 0)
		return;
	/* Expect: 100-continue answered by a final response: the client may
	 * send its next request without the announced body. */
	expect_skipped = ds->kind == KIND_REQUEST && ds->body_bytes == 0 &&
			 (ds->state == DS_BODY_LENGTH || ds->state == DS_BODY_CHUNKED) &&
			 (ds->head_flags & HTTP1_HEAD_EXPECT_CONTINUE) && req_entry(c) &&
			 req_entry(c)->resp_done;
	if (ds->state != DS_DESYNC && ds->state != DS_CHUNK_LOST &&
	    ds->state != DS_BODY_UNKNOWN && !expect_skipped)
		return;
	/* Sniffing for a known kind only ever answers that kind. */
	r = sniff((const char *)data, cap, (enum dir_kind)ds->kind);
	if (r != SNIFF_REQUEST && r != SNIFF_RESPONSE)
		return;
	if (ds->state == DS_DESYNC) {
		STAT_ADD(c, resyncs, 1);
		msg_reset(c, ds);
		return;
	}
	if (expect_skipped) {
		req_finish(f, ds, 0);
		return;
	}
	/* The body ended somewhere before this segment. */
	ds->estimated = 1;
	body_done(f, ds);
}

static void feed_init(struct feed_ctx *f, struct http1_engine *c)
{
	f->c = c;
	f->emitted = 0;
}

int http1_engine_init(struct http1_engine *c, struct http1_pool *pool, enum http1_role role,
		      uint32_t opts, http1_exchange_fn on_exchange, void *ctx,
		      struct http1_stats *stats, struct http1_stats *global)
{
	if (!c || !pool || (role != HTTP1_ROLE_UNKNOWN && role != HTTP1_ROLE_SERVER &&
			    role != HTTP1_ROLE_CLIENT))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->pool = pool;
	c->opts = (uint8_t)opts;
	c->on_exchange = on_exchange;
	c->ctx = ctx;
	c->stats = stats;
	c->global = global;
	c->state = CONN_ACTIVE;
	if (role != HTTP1_ROLE_UNKNOWN)
		set_role(c, role);
	if (opts & HTTP1_CONN_MIDSTREAM) {
		c->dir[HTTP1_DIR_INGRESS].state = DS_DESYNC;
		c->dir[HTTP1_DIR_EGRESS].state = DS_DESYNC;
	}
	return 0;
}

int http1_engine_feed(struct http1_engine *c, enum http1_dir dir, uint64_t ts_ns,
		      const uint8_t *data, uint32_t cap, uint32_t len,
		      const uint8_t *tail, uint32_t tail_len)
{
	struct feed_ctx f;
	struct http1_dir_state *ds;
	uint32_t tail_from, pos;

	if (!c || (dir != HTTP1_DIR_INGRESS && dir != HTTP1_DIR_EGRESS) || cap > len ||
	    (cap > 0 && !data) || tail_len > len || (tail_len > 0 && !tail))
		return -EINVAL;
	if (c->state == CONN_CLOSED)
		return -EPIPE;
	if (c->state == CONN_IGNORED || len == 0)
		return 0;
	feed_init(&f, c);
	ds = &c->dir[dir];
	c->last_ts[dir] = ts_ns;
	STAT_ADD(c, bytes_uncaptured, len - cap);
	segment_start(&f, ds, data, cap);
	/* Known bytes: data[0..cap) and the part of the tail past cap. */
	tail_from = len - tail_len > cap ? len - tail_len : cap;
	if (cap > 0)
		bytes_consume(&f, ds, ts_ns, data, cap);
	pos = cap;
	if (tail_from > pos) {
		gap_consume(&f, ds, ts_ns, tail_from - pos);
		pos = tail_from;
	}
	if (len > pos && c->state == CONN_ACTIVE)
		bytes_consume(&f, ds, ts_ns, tail + (tail_len - (len - pos)), len - pos);
	return f.emitted;
}

/* Close on one direction: what was in flight ends here. */
static void close_dir(struct feed_ctx *f, struct http1_dir_state *ds)
{
	struct http1_engine *c = f->c;
	struct http1_pending *pe;

	if (ds->kind == KIND_REQUEST) {
		if (ds->state == DS_HEAD || ds->state == DS_SKIP_LINE || ds->state == DS_HEAD_LOST) {
			if (ds->head_bytes == 0)
				return;
			if (ds->head_queued) {
				bool answered;

				/* queued when a gap cut it: cut short by the
				 * close, unless it was answered, and then the
				 * bytes since are another request's */
				pe = req_in_flight(c, &answered);
				ds->head_queued = 0;
				if (pe && !answered) {
					pe->ex.flags |= HTTP1_EXCH_INCOMPLETE;
					pe->req_done = 1;
					msg_reset(c, ds);
					return;
				}
				if (pe)
					pe->req_done = 1;
			}
			if (ds->line_len > 0 && !ds->got_start_line)
				line_prefix_parse(f, ds); /* method and path, if there */
			pe = req_queue(c, ds, c->last_ts[ds - c->dir],
				       HTTP1_EXCH_INCOMPLETE | (ds->head_lost ? HTTP1_EXCH_HEAD_LOST : 0));
			if (pe)
				pe->req_done = 1;
			msg_reset(c, ds);
		} else if (ds->state == DS_BODY_LENGTH || ds->state == DS_BODY_CHUNKED ||
			   ds->state == DS_CHUNK_LOST) {
			req_finish(f, ds, HTTP1_EXCH_INCOMPLETE);
		}
		return;
	}
	if (ds->kind != KIND_RESPONSE)
		return;
	if (ds->state == DS_BODY_CLOSE || ds->state == DS_BODY_UNKNOWN) {
		resp_finish(f, ds, 0);
	} else if (c->resp_active) {
		resp_finish(f, ds, HTTP1_EXCH_INCOMPLETE);
	} else if ((ds->state == DS_HEAD || ds->state == DS_SKIP_LINE ||
		    ds->state == DS_HEAD_LOST) && ds->head_bytes > 0) {
		pe = resp_entry(c);
		if (!pe)
			pe = resp_entry_make(f);
		if (pe) {
			pe->ex.status = status_is_interim(ds->status) ? 0 : ds->status;
			pe->ex.resp_first_ts = ds->head_first_ts;
			pe->ex.resp_last_ts = c->last_ts[ds - c->dir];
			pe->ex.resp_bytes += ds->head_bytes;
		}
		c->resp_active = 1;
		resp_finish(f, ds, HTTP1_EXCH_INCOMPLETE);
	}
}

int http1_engine_close(struct http1_engine *c)
{
	struct feed_ctx f;

	if (!c)
		return -EINVAL;
	if (c->state == CONN_CLOSED)
		return -EPIPE;
	feed_init(&f, c);
	if (c->state == CONN_ACTIVE && c->role != HTTP1_ROLE_UNKNOWN) {
		close_dir(&f, req_dir(c));
		if (c->state == CONN_ACTIVE) {
			struct http1_dir_state *rd = req_dir(c);

			close_dir(&f, &c->dir[rd == &c->dir[0] ? 1 : 0]);
		}
	}
	try_emit(&f);
	while (c->q_count > 0) {
		struct http1_pending *pe = q_at(c, 0);

		emit(&f, pe, (pe->req_done && pe->resp_done) ? 0 : HTTP1_EXCH_INCOMPLETE);
		q_pop(c);
	}
	conn_stop(c);
	c->state = CONN_CLOSED;
	return f.emitted;
}

bool http1_engine_ignored(const struct http1_engine *c)
{
	return c->state == CONN_IGNORED;
}

/* The lines of an exchange slot a segment touches: the link and the
 * exchange's times, byte counts, flags and status. */
static void pending_prefetch(const struct http1_pending *pe)
{
	__builtin_prefetch(pe, 1);
	__builtin_prefetch((const char *)pe + 64, 1);
}

void http1_engine_prefetch(const struct http1_engine *e)
{
	if (e->q_first)
		pending_prefetch(e->q_first);
	if (e->q_last && e->q_last != e->q_first)
		pending_prefetch(e->q_last);
	if (e->pool && e->pool->slots.free)
		pending_prefetch(e->pool->slots.free);
}

enum http1_role http1_engine_role(const struct http1_engine *c)
{
	return (enum http1_role)c->role;
}

/* ---------------------------------------------------------------------- */
/* Self-contained connections.                                              */

int http1_conn_init(struct http1_conn *c, enum http1_role role, uint32_t opts,
		    http1_exchange_fn on_exchange, void *ctx,
		    struct http1_stats *global)
{
	if (!c)
		return -EINVAL;
	memset(&c->stats, 0, sizeof(c->stats));
	/* Blocks are handed out uninitialised and zeroed on use: only the
	 * headers need resetting, not the 13 KiB of storage. */
	http1_slab_init_fixed(&c->pool.lines, c->lines, sizeof(c->lines[0]), HTTP1_DIR_COUNT);
	http1_slab_init_fixed(&c->pool.slots, c->slots, sizeof(c->slots[0]),
			      HTTP1_PIPELINE_MAX + 1);
	return http1_engine_init(&c->engine, &c->pool, role, opts, on_exchange, ctx, &c->stats,
				 global);
}

int http1_conn_feed(struct http1_conn *c, enum http1_dir dir, uint64_t ts_ns,
		    const uint8_t *data, uint32_t cap, uint32_t len,
		    const uint8_t *tail, uint32_t tail_len)
{
	if (!c)
		return -EINVAL;
	return http1_engine_feed(&c->engine, dir, ts_ns, data, cap, len, tail, tail_len);
}

int http1_conn_close(struct http1_conn *c)
{
	if (!c)
		return -EINVAL;
	return http1_engine_close(&c->engine);
}

bool http1_conn_ignored(const struct http1_conn *c)
{
	return http1_engine_ignored(&c->engine);
}

enum http1_role http1_conn_role(const struct http1_conn *c)
{
	return http1_engine_role(&c->engine);
}
