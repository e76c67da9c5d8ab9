/* halfopen_exporter: argv and wiring. The process itself (the collector
 * loop, reloads, the HTTP server) is exporter/daemon.c; its decisions are
 * exporter/loop.c and the reload transaction exporter/reload.c, which
 * the unit tests reach. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "config/web_config.h"
#include "exporter/daemon.h"
#include "exporter/flags.h"
#include "exporter/log.h"
#include "version.h"

/* flags_parse, and what it asks for besides running: 0 to run, 1 to
 * exit 0 (help, version, docs printed), -1 to exit 2 (a bad flag, said). */
static int parse_flags(int argc, char **argv, struct options *o)
{
	struct buf out;
	int r, rc = 1;

	buf_init(&out);
	r = flags_parse(argc, argv, o, &out);
	if (r < 0) {
		fprintf(stderr, "halfopen_exporter: %s (--help lists the flags)\n",
			buf_error(&out) ? strerror(-r) : out.data);
		buf_free(&out);
		return -1;
	}
	switch (r) {
	case FLAGS_RUN:
		rc = 0;
		break;
	case FLAGS_VERSION:
		buf_printf(&out, "halfopen_exporter version %s (revision %s)\n", HALFOPEN_VERSION,
			   HALFOPEN_REVISION);
		break;
	case FLAGS_HELP:
		flags_render_help(&out);
		break;
	case FLAGS_HELP_MARKDOWN:
		flags_render_markdown(&out);
		break;
	case FLAGS_HELP_MAN:
		flags_render_man(&out, HALFOPEN_VERSION);
		break;
	}
	if (rc == 1 && (buf_error(&out) || fwrite(out.data, 1, out.len, stdout) != out.len))
		rc = -1;
	buf_free(&out);
	return rc;
}

int main(int argc, char **argv)
{
	struct options opt;
	struct config *cfg = NULL;
	struct web_config *web = NULL;
	struct daemon *d = NULL;
	int r;

	memset(&opt, 0, sizeof(opt));
	r = parse_flags(argc, argv, &opt);
	if (r != 0)
		return r > 0 ? 0 : 2;
	/* The flag table admits only the levels and formats log.c knows. */
	if (log_setup(opt.log_level, opt.log_format) < 0)
		return 2;
	if (daemon_load_web_config(opt.web_config_file, &web) < 0)
		return 1;
	if (daemon_load_config(opt.config_file, &cfg) < 0) {
		web_config_free(web);
		return 1;
	}
	if (opt.config_check) {
		char n[24];

		snprintf(n, sizeof(n), "%zu", cfg->n_services);
		log_kv(LOG_LEVEL_INFO, "Configuration is valid", "file", cfg->source, "services", n,
		       NULL);
		config_free(cfg);
		web_config_free(web);
		return 0;
	}
	log_kv(LOG_LEVEL_INFO, "Starting halfopen_exporter", "version", HALFOPEN_VERSION,
	       "revision", HALFOPEN_REVISION, "config", cfg->source, NULL);
	r = daemon_new(&opt, cfg, web, &d);
	if (r == 0)
		r = daemon_run(d);
	daemon_free(d);
	return r == 0 ? 0 : 1;
}
