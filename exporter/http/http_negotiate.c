#include "http_negotiate.h"

#include <strings.h>

int http_qvalue(const char *s, size_t n)
{
	int v = 0, scale = 1000;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	if (n > 1 && (s[1] != '.' || n > 5))
		return -1;
	v = (s[0] - '0') * 1000;
	for (i = 2; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		scale /= 10;
		v += (s[i] - '0') * scale;
	}
	return v > 1000 ? -1 : v;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *token_end(const char *p)
{
	while (*p && *p != ',' && *p != ';' && *p != '=' && *p != ' ' && *p != '\t')
		p++;
	return p;
}

void http_parse_accept_encoding(const char *v, struct accept_gzip *st)
{
	const char *p = v;

	while (*p) {
		const char *tok, *tend;
		int q = 1;

		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		tok = p;
		tend = token_end(p);
		p = skip_ows(tend);
		while (*p == ';') {
			const char *name, *nend, *val = NULL, *vend = NULL;

			p = skip_ows(p + 1);
			name = p;
			nend = token_end(p);
			p = skip_ows(nend);
			if (*p == '=') {
				p = skip_ows(p + 1);
				val = p;
				vend = token_end(p);
				p = skip_ows(vend);
			}
			/* Anything but a positive qvalue is a refusal: serving
			 * plain text is always safe. */
			if (nend - name == 1 && (*name == 'q' || *name == 'Q'))
				q = val && http_qvalue(val, (size_t)(vend - val)) > 0;
		}
		if (*p != ',' && *p != '\0') {
			/* Malformed element: ignore it entirely. */
			while (*p && *p != ',')
				p++;
			continue;
		}
		if ((tend - tok == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		    (tend - tok == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			st->gzip = st->gzip > q ? st->gzip : q;
		else if (tend - tok == 1 && *tok == '*')
			st->star = st->star > q ? st->star : q;
	}
}

int http_accept_encoding_gzip(const char *value)
{
	struct accept_gzip st = {-1, -1};

	if (!value)
		return -1;
	http_parse_accept_encoding(value, &st);
	if (st.gzip >= 0)
		return st.gzip;
	return st.star >= 0 ? st.star : -1;
}
