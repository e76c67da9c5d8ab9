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

bool escape_short(struct buf *b, unsigned char c)
{
	switch (c) {
	case '"':
		buf_puts(b, "\\\"");
		return true;
	case '\\':
		buf_puts(b, "\\\\");
		return true;
	case '\n':
		buf_puts(b, "\\n");
		return true;
	case '\r':
		buf_puts(b, "\\r");
		return true;
	case '\t':
		buf_puts(b, "\\t");
		return true;
	default:
		return false;
	}
}

void json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_putc(b, '"');
	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0) {
			buf_puts(b, "\\ufffd");
			p++;
			continue;
		}
		if (!escape_short(b, *p)) {
			if (*p < 0x20)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_append(b, p, n);
		}
		p += n;
	}
	buf_putc(b, '"');
}

void html_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		default:
			buf_putc(b, *s);
		}
	}
}
