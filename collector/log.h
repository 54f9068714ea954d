/*
 * log.h - the daemon's leveled logger: one line per message on stderr,
 * "2026-11-25T01:02:03.456Z level component: text". mixd logs at start and
 * stop and on failures, never per span or per request (those are counted in
 * self-metrics instead).
 */
#ifndef MX_LOG_H
#define MX_LOG_H

enum mx_log_level { MX_LOG_DEBUG = 0, MX_LOG_INFO, MX_LOG_WARN, MX_LOG_ERROR };

/* Sets the lowest level that is printed (default MX_LOG_INFO). */
void mx_log_set_level(enum mx_log_level level);

/* Parses "debug", "info", "warn", "error". Returns 0 or -1 when unknown. */
int mx_log_parse_level(const char *s, enum mx_log_level *out);

/* Prints one line if `level` is enabled. Thread-safe (one write per line). */
void mx_log(enum mx_log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
