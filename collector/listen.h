/*
 * listen.h - listening sockets: parsing listen addresses and binding them.
 *
 * "localhost:P" binds 127.0.0.1 and ::1 (::1 failing is a warning); ":P"
 * binds every interface (0.0.0.0 and ::); a literal IPv4 or bracketed IPv6
 * address binds that address; other names are resolved. Port 0 picks a free
 * port, and every socket of one address shares the port picked first.
 */
#ifndef MX_LISTEN_H
#define MX_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#define MX_LISTEN_MAX_FDS 4

struct mx_bound {
	int fds[MX_LISTEN_MAX_FDS];
	char text[MX_LISTEN_MAX_FDS][64]; /* "127.0.0.1:4318", "[::1]:4318" */
	size_t n;
	uint16_t port;
};

/* Binds `address` with `socktype` (SOCK_STREAM listens with a large
 * backlog; SOCK_DGRAM only binds). An empty address binds nothing and
 * returns MX_OK with n == 0. Returns MX_OK, MX_EINVAL (unparsable address)
 * or MX_EIO (bind failed), with a message in `err`. */
int mx_listen_bind(const char *address, int socktype, struct mx_bound *out,
		   char *err, size_t errlen);

/* Closes every socket of `b`. Accepts NULL. */
void mx_listen_close(struct mx_bound *b);

#endif
