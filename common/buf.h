/* buf: a growable byte buffer with a sticky error.
 *
 * Appends never fail loudly: the first allocation failure sets b->err to
 * -ENOMEM and every later append becomes a no-op, so builders can append
 * freely and check once at the end (buf_error()). The data is always
 * NUL-terminated when err == 0 and data != NULL. */
#ifndef HALFOPEN_BUF_H
#define HALFOPEN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	int err; /* 0 or -ENOMEM, sticky */
};

void buf_init(struct buf *b);
/* Make room for extra more bytes (plus the terminating NUL). 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Empty the buffer but keep its memory (for per-collection reuse). */
void buf_reset(struct buf *b);
/* Hand the memory to the caller (who free()s it); b is left empty. */
char *buf_steal(struct buf *b, size_t *len);
static inline int buf_error(const struct buf *b)
{
	return b->err;
}
/* Accepts NULL and an already freed buffer. */
void buf_free(struct buf *b);

#endif
