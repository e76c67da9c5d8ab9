/* reload: the reload transaction (SIGHUP, POST /-/reload). A reload
 * changes three things: the config, the enforce blocks in the BPF maps
 * and the web config. It puts all of them in force or leaves every one
 * as it was, so a running exporter always keeps its last good state.
 *
 * The stages are functions the caller provides (the daemon wires the
 * real loaders, enforce and the HTTP server; the unit test makes any of
 * them fail). Order: everything that only reads and checks comes first
 * (config, web config), then what changes state: enforce, whose failure
 * may leave its maps half changed, then the web config, which the server
 * swaps atomically or not at all. A failure after enforce changed puts
 * the blocks of the config in force back. */
#ifndef HALFOPEN_RELOAD_H
#define HALFOPEN_RELOAD_H

struct config;
struct web_config;

struct reload_stages {
	void *ctx; /* passed to every stage */
	/* Read and check the config: 0 with *out, or -errno (the stage logs
	 * file, line and key). Required. */
	int (*load_config)(void *ctx, struct config **out);
	/* Read and check the web config: 0 with *out, or -errno. NULL when
	 * there is no web config to reload (apply_web_config is then unused). */
	int (*load_web_config)(void *ctx, struct web_config **out);
	/* Put cfg's enforce blocks in force. May fail with the maps half
	 * changed: the transaction then calls it with the config in force. */
	int (*apply_enforce)(void *ctx, const struct config *cfg);
	/* Put wc in force, taking it over in every case; on failure the
	 * old one stays in force. */
	int (*apply_web_config)(void *ctx, struct web_config *wc);
};

enum reload_stage {
	RELOAD_DONE = 0,   /* nothing failed */
	RELOAD_CONFIG,	   /* load_config */
	RELOAD_WEB_CONFIG, /* load_web_config */
	RELOAD_ENFORCE,	   /* apply_enforce */
	RELOAD_WEB_APPLY,  /* apply_web_config */
};

struct reload_result {
	enum reload_stage failed; /* RELOAD_DONE when the new config is in force */
	int err;		  /* the failed stage's -errno */
	/* 0, or the -errno of putting the previous enforce blocks back: the
	 * maps then differ from the config in force (the caller says so). */
	int restore_err;
};

/* Run the stages. On success *cfg is the new config (the old one freed);
 * on failure *cfg is untouched and nothing the stages changed stays
 * changed (but see restore_err). 0 or the failed stage's -errno; res
 * (may be NULL) says which. */
int reload_run(const struct reload_stages *st, struct config **cfg, struct reload_result *res);

/* "config", "web config", "enforce", "web config (server)", "none". */
const char *reload_stage_name(enum reload_stage s);

#endif
