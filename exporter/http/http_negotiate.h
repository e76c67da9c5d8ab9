/* Content negotiation: the pure parsers of Accept-Encoding (gzip or not)
 * and of RFC 9110 quality values, shared by the /metrics server and the
 * sockets page's Accept handling. */
#ifndef HALFOPEN_HTTP_NEGOTIATE_H
#define HALFOPEN_HTTP_NEGOTIATE_H

#include <stddef.h>

/* Contract: an RFC 9110 qvalue ("0", "0.5", "1", "1.000": at most three
 * decimals, never above 1) of n bytes at s, in thousandths; -1 when it is
 * malformed (the caller then treats the range as not acceptable). */
int http_qvalue(const char *s, size_t n);

struct accept_gzip {
	int gzip; /* -1 unmentioned, 0 refused (q=0), 1 accepted */
	int star; /* same for "*" */
};

/* Contract: fold one Accept-Encoding field value into st (several lines
 * may be folded into one st). Elements are "coding *( OWS ; OWS param )"
 * separated by commas; only the q param matters; garbage elements are
 * skipped up to the next comma. */
void http_parse_accept_encoding(const char *v, struct accept_gzip *st);

/* Fold one Accept-Encoding value: 1 when it accepts gzip, 0 when not, -1
 * when it does not say. Pure; exposed for the fuzzer. */
int http_accept_encoding_gzip(const char *value);

#endif
