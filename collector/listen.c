/*
 * listen.c - parsing listen addresses and binding sockets (see listen.h).
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../model/error.h"
#include "log.h"

/* Splits "host:port" / "[v6]:port" / ":port" into host and port. */
static int split_address(const char *address, char *host, size_t hostlen,
			 unsigned *port)
{
	const char *colon;
	size_t hlen;
	if (address[0] == '[') {
		const char *end = strchr(address, ']');
		if (!end || end[1] != ':')
			return MX_EINVAL;
		hlen = (size_t)(end - address - 1);
		if (hlen >= hostlen)
			return MX_EINVAL;
		memcpy(host, address + 1, hlen);
		colon = end + 1;
	} else {
		colon = strrchr(address, ':');
		if (!colon)
			return MX_EINVAL;
		hlen = (size_t)(colon - address);
		if (hlen >= hostlen)
			return MX_EINVAL;
		memcpy(host, address, hlen);
	}
	host[hlen] = '\0';
	char *endp;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &endp, 10);
	if (colon[1] == '\0' || *endp != '\0' || errno || p > 65535)
		return MX_EINVAL;
	*port = (unsigned)p;
	return MX_OK;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, outlen, "%s:%u", ip, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, outlen, "[%s]:%u", ip, port);
	}
}

/* Binds one socket; on success appends it to `out` and returns MX_OK. */
static int bind_one(struct sockaddr_storage *ss, socklen_t sslen, int socktype,
		    struct mx_bound *out, char *err, size_t errlen)
{
	int fd = socket(ss->ss_family, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return MX_EIO;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (socktype == SOCK_DGRAM) {
		int rcvbuf = 8 * 1024 * 1024;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	}
	struct sockaddr *sa = (struct sockaddr *)ss;
	char text[64];
	format_addr(sa, text, sizeof(text));
	if (bind(fd, sa, sslen) != 0 ||
	    (socktype == SOCK_STREAM && listen(fd, 1024) != 0)) {
		snprintf(err, errlen, "bind %s: %s", text, strerror(errno));
		close(fd);
		return MX_EIO;
	}
	struct sockaddr_storage got;
	socklen_t gotlen = sizeof(got);
	getsockname(fd, (struct sockaddr *)&got, &gotlen);
	format_addr((struct sockaddr *)&got, out->text[out->n], sizeof(out->text[0]));
	out->port = got.ss_family == AF_INET
		? ntohs(((struct sockaddr_in *)&got)->sin_port)
		: ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
	out->fds[out->n++] = fd;
	return MX_OK;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static socklen_t make_addr(struct sockaddr_storage *ss, int family, const char *ip)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr);
		return sizeof(struct sockaddr_in);
	}
	inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr);
	return sizeof(struct sockaddr_in6);
}

int mx_listen_bind(const char *address, int socktype, struct mx_bound *out,
		   char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < MX_LISTEN_MAX_FDS; i++)
		out->fds[i] = -1;
	if (!address || !*address)
		return MX_OK;
	char host[256];
	unsigned port;
	if (split_address(address, host, sizeof(host), &port) != MX_OK) {
		snprintf(err, errlen, "bad listen address '%s' (want host:port)", address);
		return MX_EINVAL;
	}
	struct sockaddr_storage addrs[MX_LISTEN_MAX_FDS];
	socklen_t lens[MX_LISTEN_MAX_FDS];
	bool optional[MX_LISTEN_MAX_FDS] = { false };
	size_t n = 0;
	if (strcmp(host, "localhost") == 0) {
		lens[n] = make_addr(&addrs[n], AF_INET, "127.0.0.1"); n++;
		lens[n] = make_addr(&addrs[n], AF_INET6, "::1"); optional[n] = true; n++;
	} else if (host[0] == '\0') {
		lens[n] = make_addr(&addrs[n], AF_INET, "0.0.0.0"); n++;
		lens[n] = make_addr(&addrs[n], AF_INET6, "::"); optional[n] = true; n++;
	} else {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = socktype;
		hints.ai_flags = AI_PASSIVE;
		int rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0 || !res) {
			snprintf(err, errlen, "listen address '%s': %s", address, gai_strerror(rc));
			return MX_EINVAL;
		}
		/* first address of each family */
		bool have4 = false, have6 = false;
		for (struct addrinfo *ai = res; ai && n < MX_LISTEN_MAX_FDS; ai = ai->ai_next) {
			if ((ai->ai_family == AF_INET && have4) || (ai->ai_family == AF_INET6 && have6))
				continue;
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
			lens[n] = ai->ai_addrlen;
			optional[n] = n > 0;
			if (ai->ai_family == AF_INET)
				have4 = true;
			else
				have6 = true;
			n++;
		}
		freeaddrinfo(res);
	}
	for (size_t i = 0; i < n; i++) {
		/* every socket of one address shares the port picked first */
		set_port(&addrs[i], out->n ? out->port : port);
		char e[256];
		if (bind_one(&addrs[i], lens[i], socktype, out, e, sizeof(e)) != MX_OK) {
			if (optional[i] && out->n > 0) {
				mx_log(MX_LOG_WARN, "listen", "%s (continuing without it)", e);
				continue;
			}
			snprintf(err, errlen, "%s", e);
			mx_listen_close(out);
			return MX_EIO;
		}
	}
	return MX_OK;
}

void mx_listen_close(struct mx_bound *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (b->fds[i] >= 0)
			close(b->fds[i]);
		b->fds[i] = -1;
	}
	b->n = 0;
}
