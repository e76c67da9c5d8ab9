/* The daemon's core without a process: the reload transaction
 * (exporter/reload.c) with stages that fail on demand, and the loop's
 * decisions (exporter/loop.c) with a clock the test turns. The fake
 * stages keep what each part of the exporter holds (the config whose
 * enforce blocks are in the maps, the web config in force), so every
 * rollback path is checked by what is left in force, not by calls. */
#include <errno.h>
#include <string.h>

#include "config/config.h"
#include "config/web_config.h"
#include "exporter/loop.h"
#include "exporter/reload.h"
#include "testing.h"

/* What the fake exporter holds, and which stage fails how. */
struct world {
	const struct config *enforce_holds; /* the config the maps were last set from */
	int web_in_force;		    /* 0: the first one; n: the n-th applied */
	int webs_applied;
	struct config *loaded; /* what load_config handed out */
	int enforce_calls;
	int load_config_err, load_web_err, enforce_err, restore_err, web_apply_err;
	int web_loads;
};

static int fake_load_config(void *ctx, struct config **out)
{
	struct world *w = ctx;
	int r;

	if (w->load_config_err)
		return w->load_config_err;
	r = config_default(out);
	if (r == 0)
		w->loaded = *out;
	return r;
}

static int fake_load_web_config(void *ctx, struct web_config **out)
{
	struct world *w = ctx;
	struct config_error err;

	w->web_loads++;
	if (w->load_web_err)
		return w->load_web_err;
	memset(&err, 0, sizeof(err));
	return web_config_load_buffer("web.yml", NULL, "{}\n", 3, out, &err);
}

/* A failing apply has already changed the maps (the worst case): the
 * transaction must put them back. */
static int fake_apply_enforce(void *ctx, const struct config *cfg)
{
	struct world *w = ctx;
	bool restoring = cfg != w->loaded; /* anything but the new config */

	w->enforce_calls++;
	w->enforce_holds = cfg;
	if (restoring)
		return w->restore_err;
	return w->enforce_err;
}

static int fake_apply_web_config(void *ctx, struct web_config *wc)
{
	struct world *w = ctx;

	web_config_free(wc); /* taken over in every case */
	if (w->web_apply_err)
		return w->web_apply_err;
	w->web_in_force = ++w->webs_applied;
	return 0;
}

static struct reload_stages stages_of(struct world *w, bool web)
{
	struct reload_stages st = {
	    .ctx = w,
	    .load_config = fake_load_config,
	    .load_web_config = web ? fake_load_web_config : NULL,
	    .apply_enforce = fake_apply_enforce,
	    .apply_web_config = fake_apply_web_config,
	};
	return st;
}

/* A running exporter: config cur in force everywhere. */
static int world_start(struct world *w, struct config **cur)
{
	memset(w, 0, sizeof(*w));
	if (config_default(cur) < 0)
		return -1;
	w->enforce_holds = *cur;
	return 0;
}

DEF_TEST(reload_all_stages_succeed)
{
	struct world w;
	struct config *cur;
	struct reload_stages st;
	struct reload_result res;

	CHECK_EQ_INT(0, world_start(&w, &cur));
	st = stages_of(&w, true);
	CHECK_EQ_INT(0, reload_run(&st, &cur, &res));
	CHECK_EQ_INT(RELOAD_DONE, res.failed);
	CHECK(cur == w.loaded);
	CHECK(w.enforce_holds == cur);
	CHECK_EQ_INT(1, w.web_in_force);
	CHECK_EQ_INT(1, w.enforce_calls); /* no restore */
	config_free(cur);
	return 0;
}

DEF_TEST(reload_config_fails_nothing_touched)
{
	struct world w;
	struct config *cur, *before;
	struct reload_stages st;
	struct reload_result res;

	CHECK_EQ_INT(0, world_start(&w, &cur));
	before = cur;
	w.load_config_err = -EINVAL;
	st = stages_of(&w, true);
	CHECK_EQ_INT(-EINVAL, reload_run(&st, &cur, &res));
	CHECK_EQ_INT(RELOAD_CONFIG, res.failed);
	CHECK_EQ_INT(-EINVAL, res.err);
	CHECK(cur == before);
	CHECK(w.enforce_holds == before);
	CHECK_EQ_INT(0, w.enforce_calls);
	CHECK_EQ_INT(0, w.web_loads);
	CHECK_EQ_INT(0, w.web_in_force);
	config_free(cur);
	return 0;
}

/* Each stage that can fail, with what must be left in force: always the
 * previous config and web config; the previous enforce blocks, put back
 * (a second apply_enforce) whenever enforce may have changed. */
DEF_TEST(reload_rollback_paths)
{
	static const struct {
		const char *name;
		int load_web_err, enforce_err, web_apply_err, restore_err;
		bool web;
		enum reload_stage failed;
		int enforce_calls, web_loads;
	} cases[] = {
	    /* A bad web config is found before enforce changes anything. */
	    {"web config invalid", -EINVAL, 0, 0, 0, true, RELOAD_WEB_CONFIG, 0, 1},
	    /* The config is good but enforce fails half way. */
	    {"config ok, enforce fails", 0, -E2BIG, 0, 0, true, RELOAD_ENFORCE, 2, 1},
	    /* The server refuses the web config (TLS switched on or off)
	     * after enforce took the new blocks. */
	    {"web config refused after enforce changed", 0, 0, -EINVAL, 0, true, RELOAD_WEB_APPLY,
	     2, 1},
	    /* Putting the old blocks back fails too: the caller learns it. */
	    {"enforce fails, restore fails", 0, -ENOSPC, 0, -EIO, false, RELOAD_ENFORCE, 2, 0},
	    {"web refused, restore fails", 0, 0, -EINVAL, -EIO, true, RELOAD_WEB_APPLY, 2, 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct world w;
		struct config *cur, *before;
		struct reload_stages st;
		struct reload_result res;
		int want_err = cases[i].load_web_err  ? cases[i].load_web_err
			       : cases[i].enforce_err ? cases[i].enforce_err
						      : cases[i].web_apply_err;

		printf("  %s\n", cases[i].name);
		CHECK_EQ_INT(0, world_start(&w, &cur));
		before = cur;
		w.load_web_err = cases[i].load_web_err;
		w.enforce_err = cases[i].enforce_err;
		w.web_apply_err = cases[i].web_apply_err;
		w.restore_err = cases[i].restore_err;
		st = stages_of(&w, cases[i].web);
		CHECK_EQ_INT(want_err, reload_run(&st, &cur, &res));
		CHECK_EQ_INT(cases[i].failed, res.failed);
		CHECK_EQ_INT(want_err, res.err);
		CHECK_EQ_INT(cases[i].enforce_calls ? cases[i].restore_err : 0, res.restore_err);
		CHECK(cur == before);
		CHECK(w.enforce_holds == before);
		CHECK_EQ_INT(cases[i].enforce_calls, w.enforce_calls);
		CHECK_EQ_INT(cases[i].web_loads, w.web_loads);
		CHECK_EQ_INT(0, w.web_in_force);
		config_free(cur); /* the refused config was freed: ASan says so */
	}
	return 0;
}

/* No --web.config.file: the web stages are not run; res may be NULL. */
DEF_TEST(reload_without_web_config)
{
	struct world w;
	struct config *cur;
	struct reload_stages st;

	CHECK_EQ_INT(0, world_start(&w, &cur));
	st = stages_of(&w, false);
	CHECK_EQ_INT(0, reload_run(&st, &cur, NULL));
	CHECK(cur == w.loaded);
	CHECK_EQ_INT(0, w.web_loads);
	CHECK_EQ_INT(0, w.web_in_force);
	w.enforce_err = -EPERM;
	CHECK_EQ_INT(-EPERM, reload_run(&st, &cur, NULL));
	CHECK(w.enforce_holds == cur);
	config_free(cur);
	CHECK_EQ_STR("enforce", reload_stage_name(RELOAD_ENFORCE));
	CHECK_EQ_STR("none", reload_stage_name(RELOAD_DONE));
	return 0;
}

DEF_TEST(reload_accounting)
{
	struct exporter_stats st;

	memset(&st, 0, sizeof(st));
	loop_account_reload(&st, 0, 100.0);
	CHECK_EQ_INT(1, st.config_last_reload_successful);
	CHECK(st.config_last_reload_success_timestamp == 100.0);
	loop_account_reload(&st, -EINVAL, 200.0);
	CHECK_EQ_INT(0, st.config_last_reload_successful);
	CHECK(st.config_last_reload_success_timestamp == 100.0); /* the last success */
	return 0;
}

DEF_TEST(schedule_fixed_cadence_skips_missed_slots)
{
	struct loop_schedule s;

	loop_schedule_init(&s, 1000, 5000);
	CHECK_EQ_UINT(5000, loop_schedule_deadline(&s));
	CHECK(!loop_schedule_collection_due(&s, 4999));
	CHECK(loop_schedule_collection_due(&s, 5000));
	loop_schedule_collected(&s, 5030); /* a 30 ms collection */
	CHECK_EQ_UINT(6000, loop_schedule_deadline(&s));
	CHECK(!loop_schedule_collection_due(&s, 5999));
	/* A 3.5 s collection: the missed slots are skipped, not run back to
	 * back. */
	loop_schedule_collected(&s, 9500);
	CHECK_EQ_UINT(10500, loop_schedule_deadline(&s));
	/* Exactly on a slot boundary counts as missed too. */
	loop_schedule_collected(&s, 11500);
	CHECK_EQ_UINT(12500, loop_schedule_deadline(&s));
	return 0;
}

DEF_TEST(schedule_sighups_coalesce)
{
	struct loop_schedule s;
	int reloads = 0;

	loop_schedule_init(&s, 1000, 0);
	loop_schedule_collected(&s, 10); /* next collection at 1000 */
	/* The first SIGHUP reloads at once. */
	loop_schedule_sighup(&s, 20);
	CHECK_EQ_UINT(20, loop_schedule_deadline(&s));
	CHECK(loop_schedule_take_reload(&s, 20));
	loop_schedule_reloaded(&s, 25);
	/* A storm: 10000 signals over 250 ms make at most one reload per
	 * LOOP_RELOAD_MIN_GAP_MS after the previous one ended. */
	for (uint64_t t = 30; t < 280; t++) {
		for (int k = 0; k < 40; k++)
			loop_schedule_sighup(&s, t);
		if (loop_schedule_take_reload(&s, t)) {
			reloads++;
			CHECK(t >= s.last_reload + LOOP_RELOAD_MIN_GAP_MS);
			loop_schedule_reloaded(&s, t + 5);
		}
		/* The storm never takes the collection's slot away. */
		CHECK(loop_schedule_deadline(&s) <= 1000);
	}
	CHECK_EQ_INT(2, reloads); /* at 125 and 230 */
	/* The signal that came after the last reload is still pending. */
	CHECK(s.reload_pending);
	CHECK_EQ_UINT(335, loop_schedule_deadline(&s));
	CHECK(!loop_schedule_take_reload(&s, 334));
	CHECK(loop_schedule_take_reload(&s, 335));
	CHECK(!loop_schedule_take_reload(&s, 336));
	/* A pending reload later than the next collection: the collection
	 * wakes the loop first. */
	loop_schedule_reloaded(&s, 990);
	loop_schedule_sighup(&s, 995);
	CHECK_EQ_UINT(1000, loop_schedule_deadline(&s));
	CHECK(loop_schedule_collection_due(&s, 1000));
	return 0;
}

DEF_TEST(collection_streaks_say_once)
{
	struct loop_streaks k;
	struct exporter_stats st;
	struct collection_outcome good = {0, 0.010, 1700000000.0, 42, 1};
	struct collection_outcome bad = {-ENOBUFS, 0, 0, 0, 0};

	memset(&k, 0, sizeof(k));
	memset(&st, 0, sizeof(st));
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &good));
	CHECK_EQ_UINT(1, st.collections_total);
	CHECK_EQ_UINT(42, st.last_sockets);
	CHECK_EQ_UINT(1, st.dump_retries_total);
	/* A streak of 5 failures: one line at its start... */
	CHECK_EQ_UINT(LOOP_SAY_FAILED, loop_account_collection(&k, &st, 1000, &bad));
	for (int i = 0; i < 4; i++)
		CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &bad));
	CHECK_EQ_UINT(6, st.collections_total);
	CHECK_EQ_UINT(5, st.collection_errors_total);
	/* ...the last good figures kept while it lasts... */
	CHECK_EQ_UINT(42, st.last_sockets);
	CHECK(st.last_timestamp_seconds == 1700000000.0);
	/* ...and one at its end, with its length. */
	good.sockets = 7;
	good.unix_time = 1700000010.0;
	CHECK_EQ_UINT(LOOP_SAY_RECOVERED, loop_account_collection(&k, &st, 1000, &good));
	CHECK_EQ_UINT(5, k.streak_ended);
	CHECK_EQ_UINT(7, st.last_sockets);
	CHECK_EQ_UINT(2, st.dump_retries_total);
	CHECK(st.last_timestamp_seconds == 1700000010.0);
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &good));
	/* A second streak is said again. */
	CHECK_EQ_UINT(LOOP_SAY_FAILED, loop_account_collection(&k, &st, 1000, &bad));
	return 0;
}

DEF_TEST(collection_overruns)
{
	struct loop_streaks k;
	struct exporter_stats st;
	struct collection_outcome slow = {0, 0.600, 1.0, 1, 0};
	struct collection_outcome fast = {0, 0.400, 2.0, 1, 0};
	struct collection_outcome bad = {-EIO, 0, 0, 0, 0};

	memset(&k, 0, sizeof(k));
	memset(&st, 0, sizeof(st));
	CHECK_EQ_UINT(LOOP_SAY_OVERRUN, loop_account_collection(&k, &st, 1000, &slow));
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &slow));
	/* A failure neither counts nor ends a run of overruns. */
	CHECK_EQ_UINT(LOOP_SAY_FAILED, loop_account_collection(&k, &st, 1000, &bad));
	CHECK_EQ_UINT(LOOP_SAY_RECOVERED, loop_account_collection(&k, &st, 1000, &slow));
	CHECK_EQ_UINT(3, st.collection_overruns_total);
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &fast));
	CHECK(st.last_duration_seconds == 0.400);
	CHECK_EQ_UINT(LOOP_SAY_OVERRUN, loop_account_collection(&k, &st, 1000, &slow));
	CHECK_EQ_UINT(4, st.collection_overruns_total);
	/* Exactly half the interval is not an overrun. */
	slow.duration_seconds = 0.500;
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &fast));
	CHECK_EQ_UINT(0, loop_account_collection(&k, &st, 1000, &slow));
	CHECK_EQ_UINT(4, st.collection_overruns_total);
	return 0;
}

DEF_TEST(refresh_streaks)
{
	struct loop_streaks k;

	memset(&k, 0, sizeof(k));
	CHECK_EQ_UINT(0, loop_account_refresh(&k, 0, 0, 0));
	CHECK_EQ_UINT(LOOP_SAY_NS_FAILED, loop_account_refresh(&k, -EMFILE, 0, 0));
	CHECK_EQ_UINT(0, loop_account_refresh(&k, -EMFILE, 0, 0));
	CHECK_EQ_UINT(LOOP_SAY_NS_DENIED, loop_account_refresh(&k, 0, 3, 0));
	CHECK_EQ_UINT(LOOP_SAY_NS_FAILED, loop_account_refresh(&k, -EMFILE, 0, 0));
	/* Denied namespaces are said once per process. */
	CHECK_EQ_UINT(0, loop_account_refresh(&k, 0, 0, 2));
	CHECK_EQ_UINT(0, loop_account_refresh(&k, 0, 3, 0));
	return 0;
}

DEF_TEST(enforce_pass_skipped_while_nothing_new)
{
	struct loop_enforce e;

	loop_enforce_init(&e, 60000);
	/* The first collection always passes; the same sockets then do not. */
	CHECK(loop_enforce_pass_due(&e, true, 42, 1000));
	CHECK(!loop_enforce_pass_due(&e, true, 42, 2000));
	CHECK(!loop_enforce_pass_due(&e, true, 42, 60999));
	/* A new socket (another fingerprint) passes at once. */
	CHECK(loop_enforce_pass_due(&e, true, 43, 61000));
	CHECK(!loop_enforce_pass_due(&e, true, 43, 62000));
	/* The gap is up: a pass with nothing new. */
	CHECK(loop_enforce_pass_due(&e, true, 43, 121000));
	/* A partial collection passes, and so does the next whole one,
	 * whatever its fingerprint. */
	CHECK(loop_enforce_pass_due(&e, false, 43, 122000));
	CHECK(loop_enforce_pass_due(&e, true, 43, 123000));
	CHECK(!loop_enforce_pass_due(&e, true, 43, 124000));
	/* A reload: the next one passes. */
	loop_enforce_reset(&e);
	CHECK(loop_enforce_pass_due(&e, true, 43, 125000));
	CHECK(!loop_enforce_pass_due(&e, true, 43, 126000));
	/* Gap 0: every collection. */
	loop_enforce_init(&e, 0);
	for (int i = 0; i < 3; i++)
		CHECK(loop_enforce_pass_due(&e, true, 7, 1000u + (unsigned)i));
	return 0;
}

int main(void)
{
	RUN_TEST(reload_all_stages_succeed);
	RUN_TEST(reload_config_fails_nothing_touched);
	RUN_TEST(reload_rollback_paths);
	RUN_TEST(reload_without_web_config);
	RUN_TEST(reload_accounting);
	RUN_TEST(schedule_fixed_cadence_skips_missed_slots);
	RUN_TEST(schedule_sighups_coalesce);
	RUN_TEST(collection_streaks_say_once);
	RUN_TEST(collection_overruns);
	RUN_TEST(refresh_streaks);
	RUN_TEST(enforce_pass_skipped_while_nothing_new);
	END_TEST;
}
