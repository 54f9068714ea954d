/*
 * error.h - the one error enum of mixd.
 *
 * Every fallible internal function returns an `enum mx_err`: MX_OK (zero) on
 * success, a negative code otherwise. Receivers map codes to HTTP statuses in
 * one place (collector/http.c) so that the same condition always answers the
 * same way: MX_EINVAL and friends are the client's fault (400), MX_ETOOBIG is
 * 413, MX_EBUSY is retryable overload (429), MX_EFULL is a full store (503).
 */
#ifndef MX_ERROR_H
#define MX_ERROR_H

enum mx_err {
	MX_OK = 0,
	MX_ENOMEM = -1,     /* allocation failed or an arena/buffer cap was hit */
	MX_EINVAL = -2,     /* malformed input: bad encoding, wrong types */
	MX_ETOOBIG = -3,    /* input over a size cap (body, decompressed body) */
	MX_EDEPTH = -4,     /* input nested deeper than the configured cap */
	MX_EBUSY = -5,      /* overload: queue or budget full; retry later */
	MX_EFULL = -6,      /* the store is full; retry later */
	MX_ENOTFOUND = -7,  /* the requested item does not exist */
	MX_ESTORE = -8,     /* the storage engine failed (I/O, corruption) */
	MX_ESCHEMA = -9,    /* the store was written by another schema version */
	MX_EIO = -10,       /* a system call failed (socket, file) */
	MX_ESHUTDOWN = -11, /* the component is stopping and takes no more work */
	MX_EUNSUPPORTED = -12, /* valid but unsupported (content type, feature) */
};

/* Returns a static, human-readable description of `err`; never NULL. */
const char *mx_strerror(int err);

#endif
