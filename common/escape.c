/* escape: one UTF-8 check and the escapers built on it. */
#include "escape.h"

#include "buf.h"

size_t utf8_seq_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

struct escape {
	unsigned char c;
	const char *with;
};

static const struct escape short_escapes[] = {
    {'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"},
};

static const struct escape html_entities[] = {
    {'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"},
};

/* Append c's replacement from map (n entries); false when it has none. */
static bool put_escape(struct buf *b, unsigned char c, const struct escape *map, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (map[i].c == c) {
			buf_puts(b, map[i].with);
			return true;
		}
	return false;
}

bool escape_short(struct buf *b, unsigned char c)
{
	return put_escape(b, c, short_escapes, sizeof(short_escapes) / sizeof(short_escapes[0]));
}

/* Walk s by UTF-8 sequence: put() each valid one (n bytes at p), append
 * invalid for each byte that starts no valid sequence. */
static void escape_utf8(struct buf *b, const char *s, const char *invalid,
			void (*put)(struct buf *b, const unsigned char *p, size_t n))
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0) {
			buf_puts(b, invalid);
			p++;
			continue;
		}
		put(b, p, n);
		p += n;
	}
}

static void json_seq(struct buf *b, const unsigned char *p, size_t n)
{
	if (escape_short(b, *p))
		return;
	if (*p < 0x20)
		buf_printf(b, "\\u%04x", *p);
	else
		buf_append(b, p, n);
}

void json_string(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	escape_utf8(b, s, "\\ufffd", json_seq);
	buf_putc(b, '"');
}

static void html_seq(struct buf *b, const unsigned char *p, size_t n)
{
	if (!put_escape(b, *p, html_entities, sizeof(html_entities) / sizeof(html_entities[0])))
		buf_append(b, p, n);
}

void html_escape(struct buf *b, const char *s)
{
	escape_utf8(b, s, "&#xfffd;", html_seq);
}
