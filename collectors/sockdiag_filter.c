/* sockdiag_filter: compile port ranges to inet_diag bytecode.
 *
 * The kernel's audit (inet_diag_bc_audit) walks a program along the
 * "yes" edges only, so every op's yes must step to the next op; the
 * decisions are taken on "no" edges, which may jump forward anywhere
 * within the program, to its end (accept) or 4 bytes past it (reject).
 * Each range becomes one alternative:
 *
 *     GE lo   yes: next   no: next alternative   (port < lo)
 *     LE hi   yes: next   no: next alternative   (port > hi)
 *     JMP     no: end -> accept
 *
 * and after the last alternative a JMP past the end rejects. Only the
 * GE/LE/JMP ops of the original 2005 bytecode are used, so every kernel
 * that has inet_diag accepts it. */
#include "sockdiag_filter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/inet_diag.h>

#include "common/buf.h"

#define OP_LEN ((uint16_t)sizeof(struct inet_diag_bc_op))
#define CMP_LEN (2 * OP_LEN)           /* compare op + operand */
#define ALT_LEN (2 * CMP_LEN + OP_LEN) /* GE, LE, JMP */

static void put_op(struct buf *out, uint8_t code, uint8_t yes, uint16_t no)
{
	struct inet_diag_bc_op op = {.code = code, .yes = yes, .no = no};

	buf_append(out, &op, sizeof(op));
}

/* A port comparison: the op, then the operand carried in .no. */
static void put_cmp(struct buf *out, uint8_t code, uint16_t no, uint16_t port)
{
	put_op(out, code, CMP_LEN, no);
	put_op(out, 0, 0, port);
}

int sockdiag_filter_build(const struct port_range *local, size_t n_local,
			  const struct port_range *remote, size_t n_remote, struct buf *out)
{
	size_t n = n_local + n_remote, total;

	if (n == 0)
		return -EINVAL;
	if (n > SOCKDIAG_FILTER_MAX_RANGES)
		return -E2BIG;
	total = n * ALT_LEN + OP_LEN;
	if (buf_reserve(out, total))
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		bool is_local = i < n_local;
		const struct port_range *r = is_local ? &local[i] : &remote[i - n_local];
		/* Bytes from the start of each op to the end of the program. */
		uint16_t left = (uint16_t)(total - i * ALT_LEN);

		put_cmp(out, is_local ? INET_DIAG_BC_S_GE : INET_DIAG_BC_D_GE, ALT_LEN, r->lo);
		put_cmp(out, is_local ? INET_DIAG_BC_S_LE : INET_DIAG_BC_D_LE, ALT_LEN - CMP_LEN,
			r->hi);
		put_op(out, INET_DIAG_BC_JMP, OP_LEN, (uint16_t)(left - 2 * CMP_LEN));
	}
	/* No alternative matched: jump past the end, which rejects. */
	put_op(out, INET_DIAG_BC_JMP, OP_LEN, 2 * OP_LEN);
	return buf_error(out);
}
