/* suspects_remediation: the destroy_after policy, and the pass that
 * applies it once per collection. */
#include "suspects_internal.h"

#include <errno.h>
#include <string.h>

#include "sockdestroy.h"

/* Lateness of a collection start that the remediation policy forgives. */
#define SUSPECT_CADENCE_SLACK_MS 100

bool suspect_remediation_due(const struct suspect_info *s, uint32_t destroy_after_ms,
			     uint64_t now_ms)
{
	static const enum suspect_condition hung[] = {SUSPECT_RETRANSMITTING,
						      SUSPECT_KEEPALIVE_PROBING};
	uint64_t observed = 0;

	if (!destroy_after_ms || !s->current || !s->has_info)
		return false;
	for (size_t i = 0; i < sizeof(hung) / sizeof(hung[0]); i++) {
		uint64_t since = s->since_ms[hung[i]];

		if (!(s->conditions & (1u << hung[i])))
			continue;
		if (now_ms > since && now_ms - since > observed)
			observed = now_ms - since;
	}
	/* Both clocks: ours can be older than the kernel's only when the
	 * peer answered in between (then the kernel's age is the truth), the
	 * kernel's older than ours after a quiet spell (then ours is). Ours
	 * compares two collection start times, which keep a fixed cadence but
	 * each start a few ms late: the slack keeps a destroy_after that is a
	 * multiple of the interval from slipping to the next collection. */
	return observed + SUSPECT_CADENCE_SLACK_MS >= destroy_after_ms &&
	       s->unanswered_ms >= destroy_after_ms;
}

void suspect_destroy_target(const struct suspect_info *s, struct sockdestroy_target *out)
{
	memset(out, 0, sizeof(*out));
	out->family = s->family;
	out->sport = s->sport;
	out->dport = s->dport;
	memcpy(out->saddr, s->saddr, sizeof(out->saddr));
	memcpy(out->daddr, s->daddr, sizeof(out->daddr));
	out->cookie = s->cookie;
}

size_t suspects_remediate(struct suspects *t, uint64_t now_ms, bool dry_run,
			  const struct remediation_ops *ops)
{
	const unsigned hung = (1u << SUSPECT_RETRANSMITTING) | (1u << SUSPECT_KEEPALIVE_PROBING);
	struct suspect_info info;
	size_t acted = 0;

	if (++t->pass == 0)
		t->pass = 1;
	for (size_t i = 0; i < t->n; i++) {
		struct suspect *s = &t->v[i];
		struct series *se = &t->series[t->owners[s->owner].series];
		int r;

		if (s->remediated || s->seen_gen != t->gen || !(s->prev & hung))
			continue;
		if (se->policy_pass != t->pass) {
			se->policy_pass = t->pass;
			se->destroy_after_ms =
			    ops->destroy_after_ms(ops->ctx, se->service_id);
			if (se->destroy_after_ms)
				se->opted_in = true;
		}
		suspects_fill_info(t, s, &info);
		if (!suspect_remediation_due(&info, se->destroy_after_ms, now_ms))
			continue;
		r = ops->destroy(ops->ctx, &info, dry_run);
		s->remediated = true;
		acted++;
		if (r == 0 && dry_run)
			se->c.dry_run++;
		else if (r == 0)
			se->c.destroyed++;
		else if (r != -ENOENT)
			se->c.destroy_errors++;
	}
	return acted;
}
