/* common/escape: UTF-8 validation, the JSON and HTML escapers. */
#include <stdlib.h>

#include "common/buf.h"
#include "common/escape.h"
#include "testing.h"

/* escape(s) into a fresh buffer; compare with want. */
static int same(void (*escape)(struct buf *, const char *), const char *s, const char *want)
{
	struct buf b;
	int r;

	buf_init(&b);
	escape(&b, s);
	r = !buf_error(&b) && strcmp(b.data ? b.data : "", want) == 0 ? 0 : -1;
	if (r)
		printf("escape(\"%s\"): expected %s, got %s\n", s, want,
		       b.data ? b.data : "(null)");
	buf_free(&b);
	return r;
}

DEF_TEST(utf8_lengths)
{
	CHECK_EQ_UINT(1, utf8_seq_len((const unsigned char *)"a"));
	CHECK_EQ_UINT(2, utf8_seq_len((const unsigned char *)"\xc3\xa9"));     /* é */
	CHECK_EQ_UINT(3, utf8_seq_len((const unsigned char *)"\xe2\x82\xac")); /* € */
	CHECK_EQ_UINT(4, utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80"));
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\x80"));	       /* continuation */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xc0\xaf"));     /* overlong '/' */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xe0\x80\xaf")); /* overlong */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xed\xa0\x80")); /* surrogate */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80")); /* > U+10FFFF */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xe2\x82")); /* truncated by NUL */
	CHECK_EQ_UINT(0, utf8_seq_len((const unsigned char *)"\xff"));
	return 0;
}

DEF_TEST(json)
{
	CHECK_EQ_INT(0, same(json_string, "", "\"\""));
	CHECK_EQ_INT(0, same(json_string, "plain", "\"plain\""));
	CHECK_EQ_INT(0, same(json_string, "a\"b\\c\nd\re\tf", "\"a\\\"b\\\\c\\nd\\re\\tf\""));
	CHECK_EQ_INT(0, same(json_string, "\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""));
	CHECK_EQ_INT(0,
		     same(json_string, "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""));
	/* Invalid UTF-8: one U+FFFD escape per bad byte, the rest kept. */
	CHECK_EQ_INT(0, same(json_string,
			     "a\xff"
			     "b",
			     "\"a\\ufffdb\""));
	CHECK_EQ_INT(0, same(json_string, "\xc0\xaf", "\"\\ufffd\\ufffd\""));
	CHECK_EQ_INT(0, same(json_string, "\xe2\x82", "\"\\ufffd\\ufffd\""));
	CHECK_EQ_INT(0, same(json_string, "\xed\xa0\x80x", "\"\\ufffd\\ufffd\\ufffdx\""));
	return 0;
}

DEF_TEST(html)
{
	CHECK_EQ_INT(0, same(html_escape, "", ""));
	CHECK_EQ_INT(0, same(html_escape, "<a href=\"x\">'&'</a>",
			     "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"));
	CHECK_EQ_INT(0, same(html_escape, "caf\xc3\xa9 &amp;", "caf\xc3\xa9 &amp;amp;"));
	CHECK_EQ_INT(0, same(html_escape, "a\xff<\xe2\x82", "a&#xfffd;&lt;&#xfffd;&#xfffd;"));
	return 0;
}

DEF_TEST(short_escapes)
{
	struct buf b;

	buf_init(&b);
	CHECK(escape_short(&b, '"'));
	CHECK(escape_short(&b, '\t'));
	CHECK(!escape_short(&b, 'x'));
	CHECK(!escape_short(&b, 0x01));
	CHECK_EQ_STR("\\\"\\t", b.data);
	buf_free(&b);
	return 0;
}

int main(void)
{
	RUN_TEST(utf8_lengths);
	RUN_TEST(json);
	RUN_TEST(html);
	RUN_TEST(short_escapes);
	END_TEST;
}
