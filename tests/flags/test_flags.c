/* The flag table: whole (every default passes its own setter, names and
 * short names unique), and flags_parse accepting, refusing and naming
 * the flag it refuses. */
#include <errno.h>
#include <string.h>

#include "collectors/collector.h"
#include "exporter/flags.h"
#include "exporter/http/http.h"
#include "testing.h"

/* flags_parse on a NULL-terminated list of flags after argv[0]. */
static int parse(struct options *o, struct buf *why, const char *const *args)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"halfopen_exporter";
	while (*args && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	buf_reset(why);
	return flags_parse(argc, argv, o, why);
}

DEF_TEST(table_whole)
{
	for (size_t i = 0; i < flags_count; i++) {
		const struct flag *f = &flags_table[i];
		size_t n = strlen(f->help);

		CHECK(f->name && f->help && n > 0);
		CHECK(f->help[n - 1] != '.'); /* the renderers add their own */
		CHECK((f->kind == FLAG_SWITCH || f->kind == FLAG_ACTION) == (f->arg == NULL));
		CHECK(f->kind != FLAG_CHOICE || f->choices);
		CHECK(!(f->def && f->shown));
		for (size_t j = i + 1; j < flags_count; j++) {
			CHECK(strcmp(f->name, flags_table[j].name) != 0);
			CHECK(!f->short_name || f->short_name != flags_table[j].short_name);
		}
	}
	return 0;
}

DEF_TEST(defaults)
{
	struct options o;
	struct buf why;
	const char *none[] = {NULL};

	buf_init(&why);
	CHECK_EQ_INT(FLAGS_RUN, parse(&o, &why, none));
	CHECK_EQ_STR("15s", o.interval);
	CHECK_EQ_UINT(15000, o.interval_ms);
	CHECK_EQ_STR(HTTP_DEFAULT_LISTEN, o.listen_address);
	CHECK_EQ_STR("/metrics", o.telemetry_path);
	CHECK_EQ_UINT(COLLECT_DEFAULT_MAX_SERIES, o.max_series);
	CHECK_EQ_UINT(HTTP_DEFAULT_MAX_REQUESTS, o.max_requests);
	CHECK_EQ_STR("/proc", o.procfs);
	CHECK_EQ_STR("info", o.log_level);
	CHECK_EQ_STR("logfmt", o.log_format);
	CHECK(!o.netns_all && !o.pod_labels && !o.config_check && !o.config_file);
	buf_free(&why);
	return 0;
}

DEF_TEST(values)
{
	struct options o;
	struct buf why;
	const char *args[] = {"--collector.interval=250ms",
			      "--collector.netns",
			      "all",
			      "--collector.pod-labels",
			      "-n",
			      "--web.max-requests=7",
			      "--config.file=/x.yml",
			      NULL};

	buf_init(&why);
	CHECK_EQ_INT(FLAGS_RUN, parse(&o, &why, args));
	CHECK_EQ_UINT(250, o.interval_ms);
	CHECK(o.netns_all && o.pod_labels && o.config_check);
	CHECK_EQ_UINT(7, o.max_requests);
	CHECK_EQ_STR("/x.yml", o.config_file);
	buf_free(&why);
	return 0;
}

DEF_TEST(actions)
{
	struct options o;
	struct buf why;
	const char *help[] = {"-h", NULL}, *version[] = {"--version", NULL},
		   *md[] = {"--help-markdown", NULL}, *man[] = {"--help-man", NULL};

	buf_init(&why);
	CHECK_EQ_INT(FLAGS_HELP, parse(&o, &why, help));
	CHECK_EQ_INT(FLAGS_VERSION, parse(&o, &why, version));
	CHECK_EQ_INT(FLAGS_HELP_MARKDOWN, parse(&o, &why, md));
	CHECK_EQ_INT(FLAGS_HELP_MAN, parse(&o, &why, man));
	buf_free(&why);
	return 0;
}

/* Each bad command line is refused with -EINVAL and a reason naming what
 * is wrong. */
DEF_TEST(refusals)
{
	static const struct {
		const char *args[4];
		const char *names;
	} cases[] = {
	    {{"--collector.pod-labels"}, "--collector.pod-labels needs --collector.netns=all"},
	    {{"--collector.netns=some"}, "--collector.netns: want one of host|all"},
	    {{"--collector.interval=50ms"}, "--collector.interval: want a duration"},
	    {{"--collector.interval=soon"}, "--collector.interval"},
	    {{"--web.max-requests=0"}, "--web.max-requests: want 1..100000"},
	    {{"--web.max-requests=-1"}, "--web.max-requests"},
	    {{"--collector.max-series=1000001"}, "--collector.max-series"},
	    {{"--web.telemetry-path=metrics"}, "--web.telemetry-path: must start with /"},
	    {{"--log.level=bogus"}, "--log.level"},
	    {{"--log.format=xml"}, "--log.format"},
	    {{"--nope"}, "unknown flag --nope"},
	    {{"--config.file"}, "--config.file needs a value"},
	    {{"-q"}, "-q"},
	    {{"stray"}, "unexpected argument \"stray\""},
	};
	struct options o;
	struct buf why;

	buf_init(&why);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_INT(-EINVAL, parse(&o, &why, cases[i].args));
		CHECK_CONTAINS(cases[i].names, why.data);
	}
	buf_free(&why);
	return 0;
}

/* Every visible flag is in each rendering; hidden ones in none. */
DEF_TEST(renderings_cover_table)
{
	struct buf help, md, man, name;

	buf_init(&help);
	buf_init(&md);
	buf_init(&man);
	buf_init(&name);
	CHECK_EQ_INT(0, flags_render_help(&help));
	CHECK_EQ_INT(0, flags_render_markdown(&md));
	CHECK_EQ_INT(0, flags_render_man(&man, "0.0.0"));
	for (size_t i = 0; i < flags_count; i++) {
		const struct flag *f = &flags_table[i];

		buf_reset(&name);
		buf_printf(&name, "--%s", f->name);
		if (f->hidden) {
			CHECK(strstr(help.data, name.data) == NULL);
			continue;
		}
		CHECK_CONTAINS(name.data, help.data);
		CHECK_CONTAINS(name.data, md.data);
		if (f->def)
			CHECK_CONTAINS(f->def, help.data);
	}
	CHECK_CONTAINS(".TH HALFOPEN_EXPORTER 1", man.data);
	CHECK_CONTAINS("\\fB\\-\\-collector.interval\\fR=\\fIDUR\\fR", man.data);
	buf_free(&help);
	buf_free(&md);
	buf_free(&man);
	buf_free(&name);
	return 0;
}

int main(void)
{
	RUN_TEST(table_whole);
	RUN_TEST(defaults);
	RUN_TEST(values);
	RUN_TEST(actions);
	RUN_TEST(refusals);
	RUN_TEST(renderings_cover_table);
	END_TEST;
}
