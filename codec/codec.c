/*
 * codec.c - shared decoder limits and error messages (see codec.h).
 */
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>

void mx_decode_limits_default(struct mx_decode_limits *lim)
{
	lim->max_depth = 32;
	lim->max_attrs = 1024;
	lim->max_events = 1024;
	lim->max_links = 1024;
	lim->max_value_bytes = 256 * 1024;
}

void mx_errmsg_set(struct mx_errmsg *e, const char *fmt, ...)
{
	if (!e || e->set)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	e->set = 1;
}
