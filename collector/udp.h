/*
 * udp.h - the Jaeger agent's UDP listeners: 6831 (Agent.emitBatch in thrift
 * compact) and 6832 (the same in thrift binary).
 *
 * Every listener's sockets are served by ONE thread of their own that polls
 * them (plus a wake pipe for the stop) and reads up to 32 datagrams per
 * recvmmsg() call. Each datagram is one complete thrift message; it is
 * decoded into its own batch and handed to the store without waiting (a full
 * writer queue drops the batch and counts its spans). There is no answer, so
 * the commit callback only counts. Malformed datagrams are counted and
 * dropped, and the kernel's receive-queue drops (SO_RXQ_OVFL) are counted
 * too.
 */
#ifndef MX_UDP_H
#define MX_UDP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../codec/codec.h"
#include "../codec/jaeger_thrift.h"
#include "../model/buf.h"
#include "../storage/store.h"
#include "listen.h"

#define MX_UDP_MAX_LISTENERS 2

/* Per-listener counters, exposed in /debug/vars. */
struct mx_udp_stats {
	_Atomic uint64_t datagrams;      /* received */
	_Atomic uint64_t malformed;      /* datagrams dropped as undecodable */
	_Atomic uint64_t accepted_spans; /* committed */
	_Atomic uint64_t rejected_spans; /* dropped by the decoder on content */
	_Atomic uint64_t dropped_spans;  /* writer queue full or stopping */
	_Atomic uint64_t failed_spans;   /* commit failed */
	_Atomic uint64_t kernel_drops;   /* datagrams the kernel dropped */
};

struct mx_udp_server;

/* Creates the server (no sockets, no thread yet); `store` must outlive it.
 * Returns NULL when malloc fails. */
struct mx_udp_server *mx_udp_new(struct mx_store *store,
				 const struct mx_decode_limits *limits);

/* Binds a listener named `name` (must outlive the server; used in the
 * bound-address line and /debug/vars) on `address` (as mx_listen_bind();
 * empty or NULL disables it and returns MX_OK), decoding datagrams as
 * Agent.emitBatch in `proto`. At most MX_UDP_MAX_LISTENERS. Returns MX_OK,
 * MX_EINVAL or MX_EIO with a message in `err`. Call before mx_udp_start(). */
int mx_udp_listen(struct mx_udp_server *srv, const char *name, const char *address,
		  enum mx_thrift_proto proto, char *err, size_t errlen);

/* Starts the receiving thread (none when no socket is bound). Returns MX_OK
 * or MX_EIO. */
int mx_udp_start(struct mx_udp_server *srv);

/* Stops and joins the thread and closes the sockets; datagrams already
 * handed to the store are still committed by it. Call before
 * mx_store_shutdown(). Idempotent; accepts NULL. */
void mx_udp_stop(struct mx_udp_server *srv);

/* Stops if needed and releases the server. Call after mx_store_shutdown()
 * (pending commit callbacks use the counters). Accepts NULL. */
void mx_udp_free(struct mx_udp_server *srv);

/* Appends `,"name":["127.0.0.1:6831",...]` for every bound listener inside
 * the JSON object in `out` (as written by mx_http_bound_json()), before its
 * closing brace. Leaves `out` unchanged when it would not fit. */
void mx_udp_bound_json(const struct mx_udp_server *srv, char *out, size_t outlen);

/* Writes {"name":{counters...},...} for every bound listener into `b`.
 * Usable as an admin vars hook (`ctx` is the server). */
void mx_udp_vars_json(void *ctx, struct mx_buf *b);

/* The counters of listener `i` (in the order they were added) with its
 * name in *name, or NULL once `i` is past the last one. Listeners are
 * added before the server starts and never removed, so this is safe from
 * any thread while the server lives. */
const struct mx_udp_stats *mx_udp_listener_stats(const struct mx_udp_server *srv,
						 size_t i, const char **name);

/* Returns the first bound port of listener `name`, or 0. */
uint16_t mx_udp_port(const struct mx_udp_server *srv, const char *name);

#endif
