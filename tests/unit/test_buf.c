#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "testing.h"

DEF_TEST(init_empty)
{
	struct buf b;

	buf_init(&b);
	CHECK(b.data == NULL);
	CHECK_EQ_UINT(0, b.len);
	CHECK_EQ_INT(0, buf_error(&b));
	buf_free(&b);
	return 0;
}

DEF_TEST(append_and_terminate)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, buf_append(&b, "abc", 3));
	CHECK_EQ_INT(0, buf_putc(&b, '-'));
	CHECK_EQ_INT(0, buf_puts(&b, "xyz"));
	CHECK_EQ_INT(0, buf_append(&b, "ignored", 0));
	CHECK_EQ_UINT(7, b.len);
	CHECK_EQ_STR("abc-xyz", b.data);
	/* Embedded NULs are data, not terminators. */
	CHECK_EQ_INT(0, buf_append(&b, "\0q", 2));
	CHECK_EQ_UINT(9, b.len);
	CHECK(b.data[7] == '\0' && b.data[8] == 'q' && b.data[9] == '\0');
	buf_free(&b);
	return 0;
}

DEF_TEST(printf_growth)
{
	struct buf b;
	char big[5000];
	size_t i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b);
	CHECK_EQ_INT(0, buf_printf(&b, "%d:%s", 42, "a"));
	CHECK_EQ_STR("42:a", b.data);
	/* Far past the initial capacity: several doublings in one call. */
	CHECK_EQ_INT(0, buf_printf(&b, "[%s]", big));
	CHECK_EQ_UINT(4 + 2 + sizeof(big) - 1, b.len);
	CHECK(b.cap > b.len);
	CHECK(b.data[4] == '[' && b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
	for (i = 5; i < b.len - 1; i++)
		CHECK(b.data[i] == 'x');
	/* Many small appends keep everything in order. */
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%zu,", i % 10);
	CHECK_EQ_INT(0, buf_error(&b));
	CHECK_EQ_UINT(2000, b.len);
	CHECK(strncmp(b.data, "0,1,2,3,", 8) == 0);
	CHECK(strcmp(b.data + 1990, "5,6,7,8,9,") == 0);
	buf_free(&b);
	return 0;
}

DEF_TEST(reserve)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, buf_reserve(&b, 1000));
	CHECK(b.cap >= 1001);
	CHECK_EQ_UINT(0, b.len);
	buf_free(&b);
	return 0;
}

DEF_TEST(reset_keeps_memory)
{
	struct buf b;
	char *mem;
	size_t cap;

	buf_init(&b);
	CHECK_EQ_INT(0, buf_puts(&b, "hello world"));
	mem = b.data;
	cap = b.cap;
	buf_reset(&b);
	CHECK_EQ_UINT(0, b.len);
	CHECK(b.data == mem);
	CHECK_EQ_UINT(cap, b.cap);
	CHECK_EQ_STR("", b.data);
	CHECK_EQ_INT(0, buf_puts(&b, "again"));
	CHECK_EQ_STR("again", b.data);
	/* Reset of a never-used buffer is harmless. */
	buf_free(&b);
	buf_reset(&b);
	CHECK(b.data == NULL);
	return 0;
}

DEF_TEST(steal)
{
	struct buf b;
	size_t len = 0;
	char *p;

	buf_init(&b);
	CHECK_EQ_INT(0, buf_puts(&b, "owned"));
	p = buf_steal(&b, &len);
	CHECK_EQ_UINT(5, len);
	CHECK_EQ_STR("owned", p);
	CHECK(b.data == NULL);
	CHECK_EQ_UINT(0, b.len);
	CHECK_EQ_UINT(0, b.cap);
	free(p);
	/* The emptied buffer is reusable, and len may be NULL. */
	CHECK_EQ_INT(0, buf_puts(&b, "x"));
	p = buf_steal(&b, NULL);
	CHECK_EQ_STR("x", p);
	free(p);
	buf_free(&b);
	return 0;
}

DEF_TEST(sticky_error)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, buf_puts(&b, "keep"));
	/* An impossible size is the portable way to provoke the failure. */
	CHECK_EQ_INT(-ENOMEM, buf_reserve(&b, SIZE_MAX - 8));
	CHECK_EQ_INT(-ENOMEM, buf_error(&b));
	/* Every later append is a no-op reporting the same error. */
	CHECK_EQ_INT(-ENOMEM, buf_puts(&b, "lost"));
	CHECK_EQ_INT(-ENOMEM, buf_putc(&b, 'c'));
	CHECK_EQ_INT(-ENOMEM, buf_append(&b, "zz", 2));
	CHECK_EQ_INT(-ENOMEM, buf_printf(&b, "%d", 7));
	CHECK_EQ_INT(-ENOMEM, buf_reserve(&b, 1));
	CHECK_EQ_UINT(4, b.len);
	CHECK_EQ_STR("keep", b.data);
	/* buf_reset starts a fresh build: the error is cleared too. */
	buf_reset(&b);
	CHECK_EQ_INT(0, buf_error(&b));
	CHECK_EQ_INT(0, buf_puts(&b, "ok"));
	CHECK_EQ_STR("ok", b.data);
	buf_free(&b);
	return 0;
}

DEF_TEST(free_null_and_twice)
{
	struct buf b;

	buf_free(NULL);
	buf_init(&b);
	buf_puts(&b, "x");
	buf_free(&b);
	buf_free(&b);
	CHECK(b.data == NULL);
	return 0;
}

int main(void)
{
	RUN_TEST(init_empty);
	RUN_TEST(append_and_terminate);
	RUN_TEST(printf_growth);
	RUN_TEST(reserve);
	RUN_TEST(reset_keeps_memory);
	RUN_TEST(steal);
	RUN_TEST(sticky_error);
	RUN_TEST(free_null_and_twice);
	END_TEST;
}
