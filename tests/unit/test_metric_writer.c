/* common/metric_writer: the one Prometheus text format writer. */
#include <errno.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/metric_writer.h"
#include "testing.h"

DEF_TEST(family_and_samples)
{
	struct metric_writer w;
	struct buf b;

	buf_init(&b);
	metric_writer_init(&w, &b);
	metric_family(&w, "x_total", METRIC_COUNTER, "Says \"what\" with a \\ and\na newline.");
	metric_sample(&w, "x_total");
	metric_label(&w, "a", "q\"b\\s\nn");
	metric_label(&w, "b", "");
	metric_value_u64(&w, UINT64_MAX);
	metric_sample(&w, "x_total");
	metric_value_double(&w, 0.25);
	metric_single_double(&w, "y", METRIC_GAUGE, "Y.", 100);
	metric_family(&w, "h", METRIC_HISTOGRAM, "H.");
	CHECK_EQ_INT(0, metric_writer_error(&w));
	CHECK_EQ_STR("# HELP x_total Says \"what\" with a \\\\ and\\na newline.\n"
		     "# TYPE x_total counter\n"
		     "x_total{a=\"q\\\"b\\\\s\\nn\",b=\"\"} 18446744073709551615\n"
		     "x_total 0.25\n"
		     "# HELP y Y.\n# TYPE y gauge\ny 100\n"
		     "# HELP h H.\n# TYPE h histogram\n",
		     b.data);
	buf_free(&b);
	return 0;
}

static int render_one(void *ctx, struct metric_writer *w)
{
	metric_single_u64(w, ctx, METRIC_GAUGE, "G.", 1);
	return metric_writer_error(w);
}

static int render_fail(void *ctx, struct metric_writer *w)
{
	(void)ctx;
	(void)w;
	return -EIO;
}

/* Every source renders, in order, even after one failed; the first
 * failure is the one reported. */
DEF_TEST(sources_in_order)
{
	char a[] = "a", c[] = "c";
	const struct metric_source src[] = {
	    {"a", render_one, a},
	    {"b", render_fail, NULL},
	    {"c", render_one, c},
	    {"d", render_fail, NULL},
	};
	const char *failed = NULL;
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(-EIO, metric_sources_render(src, 4, &b, &failed));
	CHECK_EQ_STR("b", failed);
	CHECK_EQ_STR("# HELP a G.\n# TYPE a gauge\na 1\n# HELP c G.\n# TYPE c gauge\nc 1\n", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(0, metric_render(render_one, a, &b));
	CHECK_EQ_STR("# HELP a G.\n# TYPE a gauge\na 1\n", b.data);
	buf_free(&b);
	return 0;
}

int main(void)
{
	RUN_TEST(family_and_samples);
	RUN_TEST(sources_in_order);
	END_TEST;
}
