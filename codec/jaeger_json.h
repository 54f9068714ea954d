/*
 * jaeger_json.h - the Jaeger query API's JSON (what the Jaeger UI and
 * Grafana's Jaeger data source read): Trace objects and the response
 * envelope.
 *
 * Hand-written JSON on an mx_buf, no JSON library on this path. The mapping
 * from the model is model/MAPPING.md ("Jaeger UI JSON" columns); the wire
 * facts are in wire-protocols.md §3.8. Every function appends to `out` and
 * returns MX_OK or MX_ENOMEM (the buffer's cap was reached; `out` is then
 * unusable and should be discarded).
 *
 * Span tags are written in this order: the span's attributes, then the
 * derived tags span.kind, otel.status_code, error, otel.status_description,
 * otel.scope.name, otel.scope.version, w3c.tracestate,
 * otel.dropped_attributes_count, otel.dropped_events_count,
 * otel.dropped_links_count, peer.service, peer.ipv4, peer.ipv6, peer.port.
 * A derived tag whose key is already among the span's attributes is not
 * written again (a span decoded from Jaeger may carry `span.kind` both ways).
 */
#ifndef MX_JAEGER_JSON_H
#define MX_JAEGER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"

/* Appends the `data` payload of a trace response: a JSON array of Trace
 * objects. Each batch normally holds the spans of one trace; spans are
 * grouped by trace id anyway, each distinct trace id (in order of first
 * appearance) becoming its own Trace object with the spans in their order.
 * Processes are numbered p1, p2, ... per Trace in order of first
 * appearance; identical processes (same service name and same tags) share
 * one id. NULL entries of `traces` are skipped; no spans gives `[]`. */
int mx_jaeger_json_encode_traces(const struct mx_batch *const *traces,
				 size_t n, struct mx_buf *out);

/* Appends a JSON array of the strings `s[0..n-1]` (`[]` when n is 0), the
 * `data` payload of /api/services and operation lists. */
int mx_jaeger_json_strings(const struct mx_str *s, size_t n,
			   struct mx_buf *out);

/* Appends the opening of a success envelope: `{"data":`. Write the payload
 * next, then close with mx_jaeger_json_end(). */
int mx_jaeger_json_begin(struct mx_buf *out);

/* Appends `,"total":<total>,"limit":0,"offset":0,"errors":null}`. */
int mx_jaeger_json_end(struct mx_buf *out, uint64_t total);

/* Appends a whole error envelope:
 * {"data":null,"total":0,"limit":0,"offset":0,
 *  "errors":[{"code":<code>,"msg":"<msg>"}]}
 * `msg` is escaped; NULL is written as an empty message. */
int mx_jaeger_json_error(struct mx_buf *out, unsigned code, const char *msg);

#endif
