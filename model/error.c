/*
 * error.c - text for the codes of `enum mx_err` (model/error.h).
 */
#include "error.h"

const char *mx_strerror(int err)
{
	switch (err) {
	case MX_OK: return "success";
	case MX_ENOMEM: return "out of memory or over a buffer cap";
	case MX_EINVAL: return "malformed input";
	case MX_ETOOBIG: return "input too large";
	case MX_EDEPTH: return "input nested too deeply";
	case MX_EBUSY: return "overloaded, retry later";
	case MX_EFULL: return "store full, retry later";
	case MX_ENOTFOUND: return "not found";
	case MX_ESTORE: return "storage error";
	case MX_ESCHEMA: return "store schema version mismatch";
	case MX_EIO: return "I/O error";
	case MX_ESHUTDOWN: return "shutting down";
	case MX_EUNSUPPORTED: return "unsupported";
	}
	return "unknown error";
}
