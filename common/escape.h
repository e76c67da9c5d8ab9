/* escape: text from peers and configs made safe for JSON, logfmt and
 * HTML. Every escaper appends to a struct buf (whose sticky error the
 * caller checks once) and treats its input as UTF-8 that may be invalid. */
#ifndef HALFOPEN_ESCAPE_H
#define HALFOPEN_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Length (1..4) of the valid UTF-8 sequence at s, or 0 when s starts an
 * invalid one: a stray continuation byte, a truncated sequence, an
 * overlong form, a surrogate or a code point above U+10FFFF. s is
 * NUL-terminated (a NUL inside a sequence makes it invalid). */
size_t utf8_seq_len(const unsigned char *s);

/* The five escapes JSON strings and Go-quoted strings share (\" \\ \n \r
 * \t): appends the escape and returns true when c is one of them. */
bool escape_short(struct buf *b, unsigned char c);

/* s as a JSON string, quotes included: the short escapes, other control
 * characters as \u00XX, each byte of an invalid UTF-8 sequence as
 * \ufffd (so the output is always valid UTF-8 JSON). */
void json_string(struct buf *b, const char *s);

/* s as HTML text or a quoted attribute value: & < > " ' as entities,
 * each byte of an invalid UTF-8 sequence as &#xfffd;. */
void html_escape(struct buf *b, const char *s);

#endif
