/* common/endpoint: addresses and endpoints as ss writes them. */
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "common/endpoint.h"
#include "testing.h"

DEF_TEST(ipv4)
{
	uint8_t a[16] = {198, 18, 0, 1};
	char out[ENDPOINT_STRLEN];

	format_addr(AF_INET, a, out, sizeof(out));
	CHECK_EQ_STR("198.18.0.1", out);
	format_endpoint(AF_INET, a, 443, out, sizeof(out));
	CHECK_EQ_STR("198.18.0.1:443", out);
	return 0;
}

DEF_TEST(ipv6)
{
	uint8_t a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t widest[16];
	char out[ENDPOINT_STRLEN];

	format_endpoint(AF_INET6, a, 8080, out, sizeof(out));
	CHECK_EQ_STR("[fd00::1]:8080", out);
	/* The longest text form fits ENDPOINT_STRLEN. */
	CHECK_EQ_INT(1,
		     inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", widest));
	format_endpoint(AF_INET6, widest, 65535, out, sizeof(out));
	CHECK_EQ_STR("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", out);
	memcpy(widest, (uint8_t[16]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255},
	       16);
	format_endpoint(AF_INET6, widest, 65535, out, sizeof(out));
	CHECK_EQ_STR("[::ffff:255.255.255.255]:65535", out);
	return 0;
}

DEF_TEST(short_buffers)
{
	uint8_t a[16] = {198, 18, 0, 1};
	char out[8];

	format_addr(AF_INET, a, out, sizeof(out)); /* inet_ntop: ENOSPC */
	CHECK_EQ_STR("?", out);
	format_endpoint(AF_INET, a, 443, out, sizeof(out));
	CHECK_EQ_STR("198.18.", out); /* truncated, terminated */
	return 0;
}

int main(void)
{
	RUN_TEST(ipv4);
	RUN_TEST(ipv6);
	RUN_TEST(short_buffers);
	END_TEST;
}
