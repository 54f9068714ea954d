/*
 * jaeger.js - what the query API must answer for spans the OpenTelemetry JS
 * SDK produced, computed from the SDK's ReadableSpan objects by the rules of
 * model/MAPPING.md (ids, µs times from hrTime, tags with types, derived
 * tags, logs, references, process), and assertions that compare it with a
 * Jaeger UI JSON trace field by field.
 */
'use strict';

const assert = require('node:assert/strict');

const MAX_SAFE = 2n ** 53n - 1n;
const KIND = ['internal', 'server', 'client', 'producer', 'consumer']; /* API SpanKind order */

/* Jaeger UI trace id: 16 hex digits when the high half is zero. */
function jaegerTraceId(hex) {
	const h = hex.toLowerCase().padStart(32, '0');
	return h.startsWith('0000000000000000') ? h.slice(16) : h;
}

/* hrTime [s, ns] -> BigInt ns, exactly as the OTLP transformer encodes it. */
function hrNs(hr) {
	return BigInt(Math.trunc(hr[0])) * 1000000000n + BigInt(Math.trunc(hr[1]));
}

function usOf(ns) {
	return Number(ns / 1000n); /* floor for non-negative values */
}

/* Compact JSON of a plain attribute value inside an array / map. */
function plainJson(v) {
	if (Array.isArray(v))
		return '[' + v.map(plainJson).join(',') + ']';
	if (v === null || v === undefined)
		return 'null';
	return JSON.stringify(v);
}

/* One SDK attribute -> Jaeger KeyValue. `json`: the span went as OTLP/JSON,
 * where the exporter writes an integer with JSON.stringify, so one past
 * 2^53 arrives as its shortest double form (2^60 -> 1152921504606847000);
 * over protobuf the exact int64 arrives. */
function tagOf(key, v, json = false) {
	switch (typeof v) {
	case 'string':
		return { key, type: 'string', value: v };
	case 'boolean':
		return { key, type: 'bool', value: v };
	case 'number':
		if (Number.isInteger(v)) {
			const b = json ? BigInt(JSON.stringify(v)) : BigInt(v);
			const inRange = b <= MAX_SAFE && b >= -MAX_SAFE;
			return { key, type: 'int64', value: inRange ? v : b.toString() };
		}
		return { key, type: 'float64', value: v };
	default:
		if (v instanceof Uint8Array)
			return { key, type: 'binary', value: Buffer.from(v).toString('base64') };
		if (Array.isArray(v))
			return { key, type: 'string', value: plainJson(v) };
		throw new Error(`no mapping for attribute ${key}`);
	}
}

function tagsOf(attrs, json = false) {
	return Object.keys(attrs || {}).map((k) => tagOf(k, attrs[k], json));
}

/* The derived tags of MAPPING.md (kind, status, dropped counts, scope,
 * tracestate), as a list sorted by key; their order is not specified. */
function derivedTags(rs) {
	const t = [];
	if (rs.kind !== undefined && rs.kind !== null)
		t.push({ key: 'span.kind', type: 'string', value: KIND[rs.kind] });
	const st = rs.status || { code: 0 };
	if (st.code === 1)
		t.push({ key: 'otel.status_code', type: 'string', value: 'OK' });
	if (st.code === 2) {
		t.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' });
		t.push({ key: 'error', type: 'bool', value: true });
		if (st.message)
			t.push({ key: 'otel.status_description', type: 'string', value: st.message });
	}
	if (rs.droppedAttributesCount)
		t.push({ key: 'otel.dropped_attributes_count', type: 'int64', value: rs.droppedAttributesCount });
	if (rs.droppedEventsCount)
		t.push({ key: 'otel.dropped_events_count', type: 'int64', value: rs.droppedEventsCount });
	if (rs.droppedLinksCount)
		t.push({ key: 'otel.dropped_links_count', type: 'int64', value: rs.droppedLinksCount });
	const scope = rs.instrumentationScope || {};
	if (scope.name)
		t.push({ key: 'otel.scope.name', type: 'string', value: scope.name });
	if (scope.version)
		t.push({ key: 'otel.scope.version', type: 'string', value: scope.version });
	const ts = rs.spanContext().traceState;
	if (ts && ts.serialize())
		t.push({ key: 'w3c.tracestate', type: 'string', value: ts.serialize() });
	return sortTags(t);
}

function sortTags(tags) {
	return [...tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/* Expected Jaeger span (without processID) for a ReadableSpan; opts.json
 * when it was sent as OTLP/JSON. */
function expectedSpan(rs, opts = {}) {
	const json = !!opts.json;
	const ctx = rs.spanContext();
	const tid = jaegerTraceId(ctx.traceId);
	const refs = [];
	const parent = rs.parentSpanContext && rs.parentSpanContext.spanId;
	if (parent && !/^0+$/.test(parent))
		refs.push({ refType: 'CHILD_OF', traceID: tid, spanID: parent });
	for (const l of rs.links || [])
		refs.push({ refType: 'FOLLOWS_FROM', traceID: jaegerTraceId(l.context.traceId), spanID: l.context.spanId });
	const start = hrNs(rs.startTime);
	const end = hrNs(rs.endTime);
	const exp = {
		traceID: tid,
		spanID: ctx.spanId,
		operationName: rs.name,
		references: refs,
		startTime: usOf(start),
		duration: end > start ? usOf(end - start) : 0,
		attrTags: tagsOf(rs.attributes, json),
		derived: derivedTags(rs),
		logs: (rs.events || []).map((e) => ({
			timestamp: usOf(hrNs(e.time)),
			fields: [{ key: 'event', type: 'string', value: e.name }, ...tagsOf(e.attributes, json)],
		})),
		process: expectedProcess(rs.resource.attributes, json),
	};
	if (ctx.traceFlags & 0xff)
		exp.flags = ctx.traceFlags & 0xff;
	return exp;
}

function expectedProcess(resAttrs, json = false) {
	const attrs = { ...resAttrs };
	const serviceName = typeof attrs['service.name'] === 'string' ? attrs['service.name'] : 'unknown_service';
	delete attrs['service.name'];
	return { serviceName, tags: sortTags(tagsOf(attrs, json)) };
}

/* Asserts that Jaeger trace `trace` holds exactly the ReadableSpans `spans`,
 * every field per MAPPING.md. opts.json(span) tells whether a span was sent
 * as OTLP/JSON (default: none was). */
function assertTraceMatches(trace, spans, opts = {}) {
	const isJson = opts.json || (() => false);
	assert.equal(typeof trace, 'object');
	assert.equal(trace.traceID, jaegerTraceId(spans[0].spanContext().traceId), 'trace.traceID');
	assert.ok(Array.isArray(trace.spans), 'trace.spans is an array');
	const got = new Map(trace.spans.map((s) => [s.spanID, s]));
	assert.equal(trace.spans.length, spans.length,
		`span count: got ids ${[...got.keys()].join(',')}`);
	for (const rs of spans) {
		const exp = expectedSpan(rs, { json: isJson(rs) });
		const s = got.get(exp.spanID);
		const where = `span ${exp.operationName} (${exp.spanID})`;
		assert.ok(s, `${where} missing from the trace`);
		assert.equal(s.traceID, exp.traceID, `${where}: traceID`);
		assert.equal(s.operationName, exp.operationName, `${where}: operationName`);
		assert.deepEqual(s.references, exp.references, `${where}: references`);
		assert.equal(s.startTime, exp.startTime, `${where}: startTime (µs)`);
		assert.equal(s.duration, exp.duration, `${where}: duration (µs)`);
		assert.equal(s.flags, exp.flags, `${where}: flags`);
		assert.ok(Array.isArray(s.tags), `${where}: tags is an array`);
		const n = exp.attrTags.length;
		assert.deepEqual(s.tags.slice(0, n), exp.attrTags, `${where}: attribute tags, in order, first`);
		assert.deepEqual(sortTags(s.tags.slice(n)), exp.derived, `${where}: derived tags`);
		assert.deepEqual(s.logs, exp.logs, `${where}: logs`);
		assert.equal(s.warnings, null, `${where}: warnings`);
		assert.ok(trace.processes && trace.processes[s.processID], `${where}: process ${s.processID} exists`);
		const p = trace.processes[s.processID];
		assert.equal(p.serviceName, exp.process.serviceName, `${where}: process.serviceName`);
		assert.deepEqual(sortTags(p.tags), exp.process.tags, `${where}: process.tags`);
	}
	assert.equal(trace.warnings, null, 'trace.warnings');
}

module.exports = { jaegerTraceId, hrNs, usOf, tagOf, tagsOf, expectedSpan, expectedProcess, assertTraceMatches, sortTags };
