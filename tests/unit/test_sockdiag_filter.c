/* The bytecode from sockdiag_filter_build, checked by transcriptions of
 * the kernel's own verifier and interpreter (net/ipv4/inet_diag.c:
 * inet_diag_bc_audit, valid_cc, inet_diag_bc_run; port ops only) against
 * a brute-force answer for every port. The live kernel runs it in the
 * scenario tests. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <linux/inet_diag.h>

#include "collectors/sockdiag_filter.h"
#include "common/buf.h"
#include "testing.h"

static bool valid_cc(const void *bc, int len, int cc)
{
	while (len >= 0) {
		const struct inet_diag_bc_op *op = bc;

		if (cc > len)
			return false;
		if (cc == len)
			return true;
		if (op->yes < 4 || op->yes & 3)
			return false;
		len -= op->yes;
		bc = (const char *)bc + op->yes;
	}
	return false;
}

static int audit(const void *bytecode, int bytecode_len)
{
	const void *bc = bytecode;
	int len = bytecode_len;

	while (len > 0) {
		int min_len = sizeof(struct inet_diag_bc_op);
		const struct inet_diag_bc_op *op = bc;

		switch (op->code) {
		case INET_DIAG_BC_S_GE:
		case INET_DIAG_BC_S_LE:
		case INET_DIAG_BC_D_GE:
		case INET_DIAG_BC_D_LE:
			if (len < 8)
				return -EINVAL;
			min_len = 8;
			break;
		case INET_DIAG_BC_JMP:
		case INET_DIAG_BC_NOP:
			break;
		default:
			return -EINVAL;
		}
		if (op->code != INET_DIAG_BC_NOP) {
			if (op->no < min_len || op->no > len + 4 || op->no & 3)
				return -EINVAL;
			if (op->no < len && !valid_cc(bytecode, bytecode_len, len - op->no))
				return -EINVAL;
		}
		if (op->yes < min_len || op->yes > len + 4 || op->yes & 3)
			return -EINVAL;
		bc = (const char *)bc + op->yes;
		len -= op->yes;
	}
	return len == 0 ? 0 : -EINVAL;
}

static bool run(const void *bc, int len, unsigned sport, unsigned dport)
{
	while (len > 0) {
		const struct inet_diag_bc_op *op = bc;
		int yes = 1;

		switch (op->code) {
		case INET_DIAG_BC_NOP:
			break;
		case INET_DIAG_BC_JMP:
			yes = 0;
			break;
		case INET_DIAG_BC_S_GE:
			yes = sport >= op[1].no;
			break;
		case INET_DIAG_BC_S_LE:
			yes = sport <= op[1].no;
			break;
		case INET_DIAG_BC_D_GE:
			yes = dport >= op[1].no;
			break;
		case INET_DIAG_BC_D_LE:
			yes = dport <= op[1].no;
			break;
		}
		if (yes) {
			len -= op->yes;
			bc = (const char *)bc + op->yes;
		} else {
			len -= op->no;
			bc = (const char *)bc + op->no;
		}
	}
	return len == 0;
}

static bool in(const struct port_range *r, size_t n, unsigned port)
{
	for (size_t i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return false;
}

/* Every port, as local and as remote, against the brute-force answer. */
static int check_program(const struct port_range *l, size_t nl, const struct port_range *r,
			 size_t nr)
{
	struct buf b;
	int wrong = 0;

	buf_init(&b);
	CHECK_EQ_INT(0, sockdiag_filter_build(l, nl, r, nr, &b));
	CHECK_EQ_INT(0, audit(b.data, (int)b.len));
	for (unsigned p = 0; p <= 65535; p++) {
		/* local port p with a remote port nothing claims, and back */
		if (run(b.data, (int)b.len, p, 0) != in(l, nl, p))
			wrong++;
		if (run(b.data, (int)b.len, 0, p) != in(r, nr, p))
			wrong++;
	}
	buf_free(&b);
	CHECK_EQ_INT(0, wrong);
	return 0;
}

DEF_TEST(small)
{
	struct port_range l[] = {{8080, 8080}, {1, 1}};
	struct port_range r[] = {{5432, 5432}, {6000, 6010}, {65535, 65535}};

	CHECK_EQ_INT(0, check_program(l, 2, r, 3));
	CHECK_EQ_INT(0, check_program(l, 0, r, 1));
	CHECK_EQ_INT(0, check_program(l, 1, r, 0));
	return 0;
}

DEF_TEST(many_random)
{
	static struct port_range l[256], r[256];

	srand(42);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 256; i++) {
			unsigned a = 1 + (unsigned)rand() % 65535, w = (unsigned)rand() % 40;

			l[i].lo = (uint16_t)a;
			l[i].hi = (uint16_t)(a + w > 65535 ? 65535 : a + w);
			a = 1 + (unsigned)rand() % 65535;
			r[i].lo = (uint16_t)a;
			r[i].hi = (uint16_t)(a + w > 65535 ? 65535 : a + w);
		}
		CHECK_EQ_INT(0, check_program(l, 256, r, 256));
	}
	return 0;
}

DEF_TEST(limits)
{
	static struct port_range many[SOCKDIAG_FILTER_MAX_RANGES + 1];
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(-EINVAL, sockdiag_filter_build(NULL, 0, NULL, 0, &b));
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i].lo = many[i].hi = (uint16_t)(i + 1);
	CHECK_EQ_INT(-E2BIG, sockdiag_filter_build(many, SOCKDIAG_FILTER_MAX_RANGES + 1, NULL, 0, &b));
	buf_free(&b);
	return 0;
}

int main(void)
{
	RUN_TEST(small);
	RUN_TEST(many_random);
	RUN_TEST(limits);
	END_TEST;
}
