/*
 * pb_scan.c - iterative, schema-aware protobuf pre-scan bounding AnyValue
 * nesting before protobuf-c unpacks an OTLP trace request (see pb_scan.h).
 *
 * The scan keeps an explicit stack of open messages (their end offset, type
 * and AnyValue depth). Only fields that can lead to an AnyValue are
 * descended into; every other length-delimited field (strings, ids, Status,
 * InstrumentationLibrary, unknown fields) is skipped after its length is
 * checked. The stack holds at most 7 + 3 * max_depth frames: the fixed chain
 * request -> ResourceSpans -> ScopeSpans -> Span -> Event -> KeyValue, then
 * per AnyValue level at most AnyValue -> KeyValueList -> KeyValue; and no
 * more than len / 2 + 2, since each open frame took at least two bytes.
 */
#include "pb_scan.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../model/error.h"

enum pb_msg {
	PB_NONE = 0, /* not descended into */
	PB_REQUEST,  /* ExportTraceServiceRequest / TracesData */
	PB_RSPANS,   /* ResourceSpans */
	PB_RESOURCE, /* Resource */
	PB_SSPANS,   /* ScopeSpans and legacy InstrumentationLibrarySpans */
	PB_SCOPE,    /* InstrumentationScope */
	PB_SPAN,
	PB_EVENT,
	PB_LINK,
	PB_KV,       /* KeyValue */
	PB_ANY,      /* AnyValue */
	PB_ARRAY,    /* ArrayValue */
	PB_KVLIST,   /* KeyValueList */
};

static const char *const pb_msg_name[] = {
	"?", "ExportTraceServiceRequest", "ResourceSpans", "Resource",
	"ScopeSpans", "InstrumentationScope", "Span", "Span.Event",
	"Span.Link", "KeyValue", "AnyValue", "ArrayValue", "KeyValueList",
};

/* The message type held by `field` of a message of type `t`, or PB_NONE
 * when the field is a scalar, unknown, or cannot contain an AnyValue. */
static enum pb_msg pb_child(enum pb_msg t, uint32_t field)
{
	switch (t) {
	case PB_REQUEST:
		return field == 1 ? PB_RSPANS : PB_NONE;
	case PB_RSPANS:
		if (field == 1)
			return PB_RESOURCE;
		if (field == 2 || field == 1000)
			return PB_SSPANS;
		return PB_NONE;
	case PB_RESOURCE:
		return field == 1 ? PB_KV : PB_NONE;
	case PB_SSPANS:
		/* field 1 is a scope in ScopeSpans but an InstrumentationLibrary
		 * (no attributes) in the legacy message: both are safe to scan as
		 * a scope, whose field 3 the legacy message does not have. */
		if (field == 1)
			return PB_SCOPE;
		return field == 2 ? PB_SPAN : PB_NONE;
	case PB_SCOPE:
		return field == 3 ? PB_KV : PB_NONE;
	case PB_SPAN:
		if (field == 9)
			return PB_KV;
		if (field == 11)
			return PB_EVENT;
		return field == 13 ? PB_LINK : PB_NONE;
	case PB_EVENT:
		return field == 3 ? PB_KV : PB_NONE;
	case PB_LINK:
		return field == 4 ? PB_KV : PB_NONE;
	case PB_KV:
		return field == 2 ? PB_ANY : PB_NONE;
	case PB_ANY:
		if (field == 5)
			return PB_ARRAY;
		return field == 6 ? PB_KVLIST : PB_NONE;
	case PB_ARRAY:
		return field == 1 ? PB_ANY : PB_NONE;
	case PB_KVLIST:
		return field == 1 ? PB_KV : PB_NONE;
	case PB_NONE:
		break;
	}
	return PB_NONE;
}

struct pb_frame {
	size_t end;     /* offset one past the message's last byte */
	uint32_t depth; /* AnyValue levels open, this one included */
	uint8_t type;   /* enum pb_msg */
};

/* Reads a varint at buf[*pos], not past `end`. Returns false when it runs
 * past `end` or is longer than 10 bytes. */
static inline bool pb_varint(const uint8_t *buf, size_t *pos, size_t end,
			     uint64_t *out)
{
	uint64_t v = 0;
	size_t p = *pos;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return false;
		uint8_t c = buf[p++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pos = p;
			*out = v;
			return true;
		}
	}
	return false;
}

#define PB_STACK_LOCAL 112

int mx_pb_scan_trace_request(const uint8_t *buf, size_t len,
			     uint32_t max_depth, struct mx_errmsg *err)
{
	struct pb_frame local[PB_STACK_LOCAL];
	struct pb_frame *stack = local;
	size_t need = 7 + 3 * (size_t)max_depth;
	/* every open frame but the first consumed a key and a length: at
	 * least 2 bytes of input, so a huge max_depth needs no huge stack */
	if (need > len / 2 + 2)
		need = len / 2 + 2;
	int rc = MX_OK;
	size_t pos = 0, sp = 0;

	if (need > PB_STACK_LOCAL) {
		stack = malloc(need * sizeof(*stack));
		if (!stack) {
			mx_errmsg_set(err, "out of memory scanning protobuf");
			return MX_ENOMEM;
		}
	}
	stack[sp++] = (struct pb_frame){ len, 0, PB_REQUEST };
	while (sp > 0) {
		struct pb_frame *f = &stack[sp - 1];
		if (pos == f->end) {
			sp--;
			continue;
		}
		size_t at = pos;
		uint64_t key, v;
		if (!pb_varint(buf, &pos, f->end, &key)) {
			mx_errmsg_set(err, "protobuf: bad field key at offset %zu in %s",
				      at, pb_msg_name[f->type]);
			rc = MX_EINVAL;
			goto out;
		}
		uint64_t field = key >> 3;
		unsigned wt = (unsigned)(key & 7);
		if (field == 0 || field > 0x1fffffff) {
			mx_errmsg_set(err, "protobuf: invalid field number at offset %zu",
				      at);
			rc = MX_EINVAL;
			goto out;
		}
		enum pb_msg child = pb_child(f->type, (uint32_t)field);
		if (child != PB_NONE && wt != 2) {
			mx_errmsg_set(err, "protobuf: field %u of %s has wire type %u, "
				      "want 2, at offset %zu", (unsigned)field,
				      pb_msg_name[f->type], wt, at);
			rc = MX_EINVAL;
			goto out;
		}
		switch (wt) {
		case 0:
			if (!pb_varint(buf, &pos, f->end, &v))
				goto truncated;
			break;
		case 1:
			if (f->end - pos < 8)
				goto truncated;
			pos += 8;
			break;
		case 5:
			if (f->end - pos < 4)
				goto truncated;
			pos += 4;
			break;
		case 2:
			if (!pb_varint(buf, &pos, f->end, &v) || v > f->end - pos)
				goto truncated;
			if (child == PB_NONE) {
				pos += (size_t)v;
				break;
			}
			uint32_t depth = f->depth + (child == PB_ANY);
			if (depth > max_depth) {
				mx_errmsg_set(err, "AnyValue nested deeper than %u at "
					      "offset %zu", max_depth, at);
				rc = MX_EDEPTH;
				goto out;
			}
			if (sp == need) { /* cannot happen: see above */
				mx_errmsg_set(err, "protobuf: scan stack exhausted");
				rc = MX_EDEPTH;
				goto out;
			}
			stack[sp++] = (struct pb_frame){ pos + (size_t)v, depth,
							 (uint8_t)child };
			break;
		default:
			mx_errmsg_set(err, "protobuf: unsupported wire type %u at "
				      "offset %zu", wt, at);
			rc = MX_EINVAL;
			goto out;
		}
		continue;
truncated:
		mx_errmsg_set(err, "protobuf: field %u of %s at offset %zu runs "
			      "past the end of its message", (unsigned)field,
			      pb_msg_name[f->type], at);
		rc = MX_EINVAL;
		goto out;
	}
out:
	if (stack != local)
		free(stack);
	return rc;
}
