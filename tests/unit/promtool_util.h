/*
 * promtool_util.h - runs Prometheus' `promtool check metrics` on an
 * exposition text, for the renderer tests (test_prom.c, test_prom_self.c).
 * Static helpers: each test binary gets its own copy.
 */
#ifndef MX_PROMTOOL_UTIL_H
#define MX_PROMTOOL_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* Runs `promtool check metrics` on `text`; returns its output (malloc'd)
 * and exit status, or NULL when promtool is missing. */
static inline char *tu_promtool(const char *text, int *status)
{
	const char *paths[] = { "/usr/bin/promtool", "/usr/local/bin/promtool" };
	const char *tool = NULL;
	for (size_t i = 0; i < 2; i++)
		if (access(paths[i], X_OK) == 0)
			tool = paths[i];
	if (!tool)
		return NULL;
	char dir[] = "/tmp/mixd-promtool-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char in[256], cmd[768], outp[256];
	snprintf(in, sizeof(in), "%s/metrics.txt", dir);
	snprintf(outp, sizeof(outp), "%s/out.txt", dir);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s > %s 2>&1", tool, in, outp);
	int rc = system(cmd);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	f = fopen(outp, "r");
	assert_non_null(f);
	char *out = calloc(1, 65536);
	assert_non_null(out);
	size_t n = fread(out, 1, 65535, f);
	out[n] = 0;
	fclose(f);
	unlink(in);
	unlink(outp);
	rmdir(dir);
	return out;
}

#endif
