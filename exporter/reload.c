#include "reload.h"

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/web_config.h"

const char *reload_stage_name(enum reload_stage s)
{
	switch (s) {
	case RELOAD_CONFIG:
		return "config";
	case RELOAD_WEB_CONFIG:
		return "web config";
	case RELOAD_ENFORCE:
		return "enforce";
	case RELOAD_WEB_APPLY:
		return "web config (server)";
	case RELOAD_DONE:
		break;
	}
	return "none";
}

int reload_run(const struct reload_stages *st, struct config **cfg, struct reload_result *res)
{
	struct reload_result local = {RELOAD_DONE, 0, 0};
	struct config *next = NULL;
	struct web_config *wc = NULL;
	bool enforce_touched = false;
	int r;

	if (!res)
		res = &local;
	*res = local;
	r = st->load_config(st->ctx, &next);
	if (r < 0) {
		res->failed = RELOAD_CONFIG;
		goto fail;
	}
	if (st->load_web_config) {
		r = st->load_web_config(st->ctx, &wc);
		if (r < 0) {
			res->failed = RELOAD_WEB_CONFIG;
			goto fail;
		}
	}
	enforce_touched = true;
	r = st->apply_enforce(st->ctx, next);
	if (r < 0) {
		res->failed = RELOAD_ENFORCE;
		goto fail;
	}
	if (st->load_web_config) {
		r = st->apply_web_config(st->ctx, wc);
		wc = NULL; /* taken over */
		if (r < 0) {
			res->failed = RELOAD_WEB_APPLY;
			goto fail;
		}
	}
	config_free(*cfg);
	*cfg = next;
	return 0;
fail:
	res->err = r;
	if (enforce_touched)
		res->restore_err = st->apply_enforce(st->ctx, *cfg);
	web_config_free(wc);
	config_free(next);
	return r;
}
