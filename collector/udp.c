/*
 * udp.c - the Jaeger agent UDP listeners (see udp.h).
 *
 * One thread polls every bound socket and a wake pipe. For each readable
 * socket it takes up to MX_UDP_BATCH datagrams with one recvmmsg() call
 * (non-blocking), so a busy socket cannot starve the other one. Each
 * datagram gets a slot of MX_UDP_DGRAM_MAX bytes; one that did not fit
 * (MSG_TRUNC) is malformed. SO_RXQ_OVFL makes the kernel attach its
 * cumulative drop counter for the socket to every datagram; the growth of
 * that counter is added to the listener's kernel_drops.
 */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../model/error.h"
#include "../model/span.h"
#include "ingest.h"
#include "log.h"

#define MX_UDP_BATCH 32
#define MX_UDP_DGRAM_MAX 65536 /* clients send at most 65 000 bytes */

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

struct udp_listener {
	const char *name;
	enum mx_thrift_proto proto;
	struct mx_bound bound;
	uint32_t last_ovfl[MX_LISTEN_MAX_FDS]; /* thread-owned */
	struct mx_udp_stats stats;
};

struct mx_udp_server {
	struct mx_store *store;
	struct mx_decode_limits limits;
	struct udp_listener l[MX_UDP_MAX_LISTENERS];
	size_t n;
	int wake[2];
	pthread_t thread;
	bool running;
	uint8_t *bufs; /* MX_UDP_BATCH slots of MX_UDP_DGRAM_MAX bytes */
};

/* What the commit callback needs: the counters and how many spans. */
struct udp_pending {
	struct mx_udp_stats *stats;
	uint32_t n_spans;
};

struct mx_udp_server *mx_udp_new(struct mx_store *store,
				 const struct mx_decode_limits *limits)
{
	struct mx_udp_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->store = store;
	srv->limits = *limits;
	srv->wake[0] = srv->wake[1] = -1;
	return srv;
}

int mx_udp_listen(struct mx_udp_server *srv, const char *name, const char *address,
		  enum mx_thrift_proto proto, char *err, size_t errlen)
{
	if (!address || !*address)
		return MX_OK;
	if (srv->n == MX_UDP_MAX_LISTENERS || srv->running) {
		snprintf(err, errlen, "udp listener %s: too many listeners", name);
		return MX_EINVAL;
	}
	struct udp_listener *l = &srv->l[srv->n];
	int rc = mx_listen_bind(address, SOCK_DGRAM, &l->bound, err, errlen);
	if (rc != MX_OK)
		return rc;
	if (l->bound.n == 0)
		return MX_OK;
	for (size_t i = 0; i < l->bound.n; i++) {
		int one = 1;
		if (setsockopt(l->bound.fds[i], SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0)
			mx_log(MX_LOG_WARN, "udp", "%s: SO_RXQ_OVFL: %s (kernel drops not counted)",
			       name, strerror(errno));
	}
	l->name = name;
	l->proto = proto;
	srv->n++;
	return MX_OK;
}

static void on_commit(void *ctx, int status)
{
	struct udp_pending *p = ctx;
	if (status == MX_OK)
		atomic_fetch_add(&p->stats->accepted_spans, p->n_spans);
	else
		atomic_fetch_add(&p->stats->failed_spans, p->n_spans);
	free(p);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Decodes one datagram and hands it to the store; never blocks. */
static void handle_datagram(struct mx_udp_server *srv, struct udp_listener *l,
			    const uint8_t *buf, size_t len, bool truncated)
{
	struct mx_udp_stats *st = &l->stats;
	atomic_fetch_add(&st->datagrams, 1);
	if (truncated || len == 0) {
		atomic_fetch_add(&st->malformed, 1);
		return;
	}
	struct mx_batch *batch = mx_ingest_batch_new(len);
	if (!batch) {
		atomic_fetch_add(&st->malformed, 1); /* nothing better to blame */
		return;
	}
	struct mx_errmsg err = { .set = 0 };
	struct udp_pending *p = NULL;
	int rc = mx_jaeger_thrift_decode_emit_batch(l->proto, buf, len, &srv->limits,
						    batch, &err);
	if (rc != MX_OK) {
		atomic_fetch_add(&st->malformed, 1);
		goto out;
	}
	atomic_fetch_add(&st->rejected_spans, batch->rejected_spans);
	if (batch->n_spans == 0)
		goto out;
	p = malloc(sizeof(*p));
	if (!p) {
		atomic_fetch_add(&st->dropped_spans, batch->n_spans);
		goto out;
	}
	p->stats = st;
	p->n_spans = batch->n_spans;
	batch->received_ns = now_ns();
	rc = mx_store_submit(srv->store, batch, on_commit, p);
	if (rc == MX_OK)
		return; /* the store owns the batch; on_commit frees p */
	atomic_fetch_add(&st->dropped_spans, batch->n_spans);
	free(p);
out:
	mx_batch_free(batch);
}

/* Reads one recvmmsg() worth of datagrams from socket `k` of `l`. */
static void drain_socket(struct mx_udp_server *srv, struct udp_listener *l, size_t k)
{
	struct mmsghdr msgs[MX_UDP_BATCH];
	struct iovec iov[MX_UDP_BATCH];
	/* room for the SO_RXQ_OVFL cmsg of each datagram */
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t)) + 64];
		struct cmsghdr align;
	} ctl[MX_UDP_BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < MX_UDP_BATCH; i++) {
		iov[i].iov_base = srv->bufs + i * MX_UDP_DGRAM_MAX;
		iov[i].iov_len = MX_UDP_DGRAM_MAX;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	int n = recvmmsg(l->bound.fds[k], msgs, MX_UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			mx_log(MX_LOG_WARN, "udp", "%s: recvmmsg: %s", l->name, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &msgs[i].msg_hdr;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
			    c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
				continue;
			uint32_t drops;
			memcpy(&drops, CMSG_DATA(c), sizeof(drops));
			if (drops != l->last_ovfl[k]) {
				/* the counter is cumulative and wraps at 2^32 */
				atomic_fetch_add(&l->stats.kernel_drops,
						 (uint32_t)(drops - l->last_ovfl[k]));
				l->last_ovfl[k] = drops;
			}
		}
		handle_datagram(srv, l, srv->bufs + (size_t)i * MX_UDP_DGRAM_MAX,
				msgs[i].msg_len, (h->msg_flags & MSG_TRUNC) != 0);
	}
}

static void *udp_thread(void *arg)
{
	struct mx_udp_server *srv = arg;
	struct pollfd pfd[1 + MX_UDP_MAX_LISTENERS * MX_LISTEN_MAX_FDS];
	size_t owner[MX_UDP_MAX_LISTENERS * MX_LISTEN_MAX_FDS][2];
	size_t npfd = 0;
	pfd[npfd++] = (struct pollfd){ .fd = srv->wake[0], .events = POLLIN };
	for (size_t i = 0; i < srv->n; i++) {
		for (size_t k = 0; k < srv->l[i].bound.n; k++) {
			owner[npfd - 1][0] = i;
			owner[npfd - 1][1] = k;
			pfd[npfd++] = (struct pollfd){ .fd = srv->l[i].bound.fds[k], .events = POLLIN };
		}
	}
	for (;;) {
		int rc = poll(pfd, (nfds_t)npfd, -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			mx_log(MX_LOG_ERROR, "udp", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		for (size_t j = 1; j < npfd; j++) {
			if (pfd[j].revents & (POLLIN | POLLERR))
				drain_socket(srv, &srv->l[owner[j - 1][0]], owner[j - 1][1]);
		}
	}
	return NULL;
}

int mx_udp_start(struct mx_udp_server *srv)
{
	if (srv->n == 0 || srv->running)
		return MX_OK;
	srv->bufs = malloc((size_t)MX_UDP_BATCH * MX_UDP_DGRAM_MAX);
	if (!srv->bufs)
		return MX_ENOMEM;
	if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		mx_log(MX_LOG_ERROR, "udp", "pipe: %s", strerror(errno));
		srv->wake[0] = srv->wake[1] = -1;
		return MX_EIO;
	}
	if (pthread_create(&srv->thread, NULL, udp_thread, srv) != 0) {
		mx_log(MX_LOG_ERROR, "udp", "cannot start the UDP thread");
		return MX_EIO;
	}
	srv->running = true;
	return MX_OK;
}

void mx_udp_stop(struct mx_udp_server *srv)
{
	if (!srv)
		return;
	if (srv->running) {
		char c = 1;
		while (write(srv->wake[1], &c, 1) < 0 && errno == EINTR)
			;
		pthread_join(srv->thread, NULL);
		srv->running = false;
	}
	for (size_t i = 0; i < srv->n; i++)
		mx_listen_close(&srv->l[i].bound);
	for (int i = 0; i < 2; i++) {
		if (srv->wake[i] >= 0)
			close(srv->wake[i]);
		srv->wake[i] = -1;
	}
}

void mx_udp_free(struct mx_udp_server *srv)
{
	if (!srv)
		return;
	mx_udp_stop(srv);
	free(srv->bufs);
	free(srv);
}

void mx_udp_bound_json(const struct mx_udp_server *srv, char *out, size_t outlen)
{
	size_t len = strnlen(out, outlen);
	if (!srv || len == 0 || len == outlen || out[len - 1] != '}')
		return;
	char extra[1024];
	size_t e = 0;
	bool first = len == 2; /* "{}" */
	for (size_t i = 0; i < srv->n; i++) {
		const struct udp_listener *l = &srv->l[i];
		int w = snprintf(extra + e, sizeof(extra) - e, "%s\"%s\":[",
				 first ? "" : ",", l->name);
		if (w < 0 || (size_t)w >= sizeof(extra) - e)
			return;
		e += (size_t)w;
		first = false;
		for (size_t k = 0; k < l->bound.n; k++) {
			w = snprintf(extra + e, sizeof(extra) - e, "%s\"%s\"", k ? "," : "",
				     l->bound.text[k]);
			if (w < 0 || (size_t)w >= sizeof(extra) - e)
				return;
			e += (size_t)w;
		}
		if (e + 1 >= sizeof(extra))
			return;
		extra[e++] = ']';
	}
	if (len - 1 + e + 2 > outlen)
		return;
	memcpy(out + len - 1, extra, e);
	out[len - 1 + e] = '}';
	out[len + e] = '\0';
}

void mx_udp_vars_json(void *ctx, struct mx_buf *b)
{
	const struct mx_udp_server *srv = ctx;
	mx_buf_puts(b, "{");
	for (size_t i = 0; srv && i < srv->n; i++) {
		const struct mx_udp_stats *s = &srv->l[i].stats;
		mx_buf_printf(b, "%s\"%s\":{\"datagrams\":%llu,\"malformed_datagrams\":%llu,"
			      "\"accepted_spans\":%llu,\"rejected_spans\":%llu,"
			      "\"dropped_spans\":%llu,\"failed_spans\":%llu,\"kernel_drops\":%llu}",
			      i ? "," : "", srv->l[i].name,
			      (unsigned long long)atomic_load(&s->datagrams),
			      (unsigned long long)atomic_load(&s->malformed),
			      (unsigned long long)atomic_load(&s->accepted_spans),
			      (unsigned long long)atomic_load(&s->rejected_spans),
			      (unsigned long long)atomic_load(&s->dropped_spans),
			      (unsigned long long)atomic_load(&s->failed_spans),
			      (unsigned long long)atomic_load(&s->kernel_drops));
	}
	mx_buf_puts(b, "}");
}

uint16_t mx_udp_port(const struct mx_udp_server *srv, const char *name)
{
	for (size_t i = 0; srv && i < srv->n; i++)
		if (strcmp(srv->l[i].name, name) == 0)
			return srv->l[i].bound.port;
	return 0;
}

const struct mx_udp_stats *mx_udp_listener_stats(const struct mx_udp_server *srv,
						 size_t i, const char **name)
{
	if (!srv || i >= srv->n)
		return NULL;
	*name = srv->l[i].name;
	return &srv->l[i].stats;
}
