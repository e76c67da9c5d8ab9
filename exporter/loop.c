#include "loop.h"

#include <string.h>

void loop_schedule_init(struct loop_schedule *s, uint32_t interval_ms, uint64_t now)
{
	*s = (struct loop_schedule){.interval_ms = interval_ms, .next_collection = now};
}

uint64_t loop_schedule_deadline(const struct loop_schedule *s)
{
	if (s->reload_pending && s->reload_at < s->next_collection)
		return s->reload_at;
	return s->next_collection;
}

void loop_schedule_sighup(struct loop_schedule *s, uint64_t now)
{
	uint64_t earliest = s->reloaded ? s->last_reload + LOOP_RELOAD_MIN_GAP_MS : now;

	if (s->reload_pending)
		return;
	s->reload_pending = true;
	s->reload_at = earliest > now ? earliest : now;
}

bool loop_schedule_take_reload(struct loop_schedule *s, uint64_t now)
{
	if (!s->reload_pending || now < s->reload_at)
		return false;
	s->reload_pending = false;
	return true;
}

void loop_schedule_reloaded(struct loop_schedule *s, uint64_t now)
{
	s->last_reload = now;
	s->reloaded = true;
}

bool loop_schedule_collection_due(const struct loop_schedule *s, uint64_t now)
{
	return now >= s->next_collection;
}

void loop_schedule_collected(struct loop_schedule *s, uint64_t now)
{
	s->next_collection += s->interval_ms;
	if (s->next_collection <= now)
		s->next_collection = now + s->interval_ms;
}

unsigned loop_account_collection(struct loop_streaks *k, struct exporter_stats *st,
				 uint32_t interval_ms, const struct collection_outcome *o)
{
	unsigned say = 0;

	st->collections_total++;
	if (o->err < 0) {
		st->collection_errors_total++;
		if (k->failures++ == 0)
			say |= LOOP_SAY_FAILED;
		return say;
	}
	st->last_duration_seconds = o->duration_seconds;
	st->dump_retries_total += o->dump_retries;
	st->last_timestamp_seconds = o->unix_time;
	st->last_sockets = o->sockets;
	/* More than half the interval leaves too little slack: say so (a
	 * counter, and a warning once per run) instead of letting
	 * collections pile up. */
	if (o->duration_seconds * 1000.0 > interval_ms / 2.0) {
		st->collection_overruns_total++;
		if (k->overruns++ == 0)
			say |= LOOP_SAY_OVERRUN;
	} else {
		k->overruns = 0;
	}
	if (k->failures) {
		k->streak_ended = k->failures;
		k->failures = 0;
		say |= LOOP_SAY_RECOVERED;
	}
	return say;
}

unsigned loop_account_refresh(struct loop_streaks *k, int err, uint64_t denied,
			      uint64_t open_failed)
{
	if (err < 0)
		return k->ns_failures++ == 0 ? LOOP_SAY_NS_FAILED : 0;
	k->ns_failures = 0;
	if ((denied || open_failed) && !k->ns_denied_said) {
		k->ns_denied_said = true;
		return LOOP_SAY_NS_DENIED;
	}
	return 0;
}

void loop_account_reload(struct exporter_stats *st, int err, double unix_time)
{
	st->config_last_reload_successful = err < 0 ? 0 : 1;
	if (err == 0)
		st->config_last_reload_success_timestamp = unix_time;
}

void loop_enforce_init(struct loop_enforce *e, uint64_t max_gap_ms)
{
	memset(e, 0, sizeof(*e));
	e->max_gap_ms = max_gap_ms;
}

bool loop_enforce_pass_due(struct loop_enforce *e, bool whole, uint64_t fingerprint, uint64_t now)
{
	if (e->max_gap_ms && e->valid && whole && fingerprint == e->fingerprint &&
	    now - e->last_pass < e->max_gap_ms)
		return false;
	/* A partial collection proves nothing: pass, and judge the next one
	 * against a fingerprint that is not this one's. */
	e->valid = whole;
	e->fingerprint = fingerprint;
	e->last_pass = now;
	return true;
}

void loop_enforce_reset(struct loop_enforce *e)
{
	e->valid = false;
}
