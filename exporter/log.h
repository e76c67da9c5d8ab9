/* log: structured logs to stderr, logfmt or JSON, like Go exporters'
 * promslog. Only main and the exporter's top level log; library code
 * returns errors instead. */
#ifndef HALFOPEN_LOG_H
#define HALFOPEN_LOG_H

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* level: debug|info|warn|error; format: logfmt|json. 0 or -EINVAL. */
int log_setup(const char *level, const char *format);
/* log_kv(LOG_LEVEL_INFO, "Listening", "address", addr, NULL): msg then
 * key/value string pairs ending with a NULL key. Values are quoted and
 * escaped as the format needs. */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
