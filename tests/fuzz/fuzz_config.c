/* libFuzzer: config_load_buffer() (YAML --config.file) and
 * web_config_load_buffer() (--web.config.file) on arbitrary bytes. The
 * first byte picks the parser. Invariants: a result or an error, never
 * both; the error formats. Files a web config names resolve against a
 * folder that does not exist, so no file is ever read. */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "config/web_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_error err;
	struct buf b;
	int rc;

	if (size == 0)
		return 0;
	buf_init(&b);
	if (data[0] & 1) {
		struct web_config *wc = NULL;

		rc = web_config_load_buffer("fuzz", "/nonexistent-fuzz-dir", (const char *)data + 1,
					    size - 1, &wc, &err);
		if ((rc == 0) != (wc != NULL))
			__builtin_trap();
		web_config_free(wc);
	} else {
		struct config *cfg = NULL;

		rc = config_load_buffer("fuzz", (const char *)data + 1, size - 1, &cfg, &err);
		if ((rc == 0) != (cfg != NULL))
			__builtin_trap();
		config_free(cfg);
	}
	if (rc && config_error_format(&err, &b) == 0 && memchr(b.data, '\n', b.len))
		__builtin_trap(); /* an error message is one log line */
	buf_free(&b);
	return 0;
}
