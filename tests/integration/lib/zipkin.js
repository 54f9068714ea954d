/*
 * zipkin.js - Zipkin helpers for the integration tests.
 *
 * - span()/v1Span(): hand-built Zipkin v2 and v1 JSON spans.
 * - encodeProto(): a v2 JSON span list -> proto3 zipkin.proto3.ListOfSpans
 *   bytes, with the protobuf writer of lib/otlp.js (field numbers from
 *   zipkin.proto: Span 1 trace_id, 2 parent_id, 3 id, 4 kind, 5 name,
 *   6 timestamp fixed64, 7 duration varint, 8/9 endpoints, 10 annotations,
 *   11 tags map, 12 debug, 13 shared; Endpoint 1 service_name, 2 ipv4
 *   bytes, 3 ipv6 bytes, 4 port; Annotation 1 timestamp fixed64, 2 value).
 *   Ids are written as raw bytes of whatever length their hex has, which is
 *   how the tests send bad ids.
 * - sentByExporter(): what @opentelemetry/exporter-zipkin sends for an SDK
 *   span (its transform, restated).
 * - expectedFromSdk(): the Zipkin v2 JSON mixd's query API must give for an
 *   SDK span sent over OTLP; echoOfZipkin(): for a span sent as Zipkin v2
 *   JSON; jaegerOfZipkin(): the Jaeger UI JSON for a span sent as Zipkin;
 *   all by the Zipkin rules of model/MAPPING.md.
 * - assertZipkinSpan(), assertJaegerFromZipkin(): field-by-field checks.
 */
'use strict';

const assert = require('node:assert/strict');
const otlp = require('./otlp');
const { jaegerTraceId, hrNs, usOf } = require('./jaeger');

const KIND_OUT = { 1: undefined, 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER' };
const KIND_PB = { CLIENT: 1, SERVER: 2, PRODUCER: 3, CONSUMER: 4 };

/* ---- builders ---- */

/* A v2 span; ts in µs (number or BigInt), the rest as given. */
function span(f) {
	const s = { traceId: f.traceId, id: f.id };
	if (f.parentId)
		s.parentId = f.parentId;
	if (f.kind)
		s.kind = f.kind;
	if (f.name !== undefined)
		s.name = f.name;
	if (f.timestamp !== undefined)
		s.timestamp = f.timestamp;
	if (f.duration !== undefined)
		s.duration = f.duration;
	if (f.localEndpoint)
		s.localEndpoint = f.localEndpoint;
	if (f.remoteEndpoint)
		s.remoteEndpoint = f.remoteEndpoint;
	if (f.annotations)
		s.annotations = f.annotations;
	if (f.tags)
		s.tags = f.tags;
	if (f.debug)
		s.debug = true;
	if (f.shared)
		s.shared = true;
	return s;
}

function ipv4Bytes(text) {
	return Buffer.from(text.split('.').map(Number));
}

function ipv6Bytes(text) {
	/* expand "::" then 8 groups of 16 bits */
	const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
	const h = head ? head.split(':') : [];
	const t = tail ? tail.split(':') : [];
	const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
	const b = Buffer.alloc(16);
	groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), 2 * i));
	return b;
}

function pbEndpoint(e) {
	const p = [];
	if (e.serviceName)
		p.push(otlp.lenField(1, e.serviceName));
	if (e.ipv4)
		p.push(otlp.lenField(2, ipv4Bytes(e.ipv4)));
	if (e.ipv6)
		p.push(otlp.lenField(3, ipv6Bytes(e.ipv6)));
	if (e.port)
		p.push(otlp.varintField(4, e.port));
	return Buffer.concat(p);
}

/* One v2 JSON span object -> zipkin.proto3.Span bytes. */
function pbSpan(s) {
	const p = [];
	const hex = (h) => Buffer.from(h, 'hex');
	if (s.traceId !== undefined)
		p.push(otlp.lenField(1, hex(s.traceId)));
	if (s.parentId)
		p.push(otlp.lenField(2, hex(s.parentId)));
	if (s.id !== undefined)
		p.push(otlp.lenField(3, hex(s.id)));
	if (s.kind)
		p.push(otlp.varintField(4, KIND_PB[s.kind]));
	if (s.name !== undefined)
		p.push(otlp.lenField(5, s.name));
	if (s.timestamp !== undefined)
		p.push(otlp.fixed64Field(6, BigInt(s.timestamp)));
	if (s.duration !== undefined)
		p.push(otlp.varintField(7, BigInt(s.duration)));
	if (s.localEndpoint)
		p.push(otlp.lenField(8, pbEndpoint(s.localEndpoint)));
	if (s.remoteEndpoint)
		p.push(otlp.lenField(9, pbEndpoint(s.remoteEndpoint)));
	for (const a of s.annotations || []) {
		const fixed = otlp.fixed64Field(1, BigInt(a.timestamp));
		p.push(otlp.lenField(10, Buffer.concat([fixed, otlp.lenField(2, a.value)])));
	}
	for (const [k, v] of Object.entries(s.tags || {}))
		p.push(otlp.lenField(11, Buffer.concat([otlp.lenField(1, k), otlp.lenField(2, v)])));
	if (s.debug)
		p.push(otlp.varintField(12, 1));
	if (s.shared)
		p.push(otlp.varintField(13, 1));
	return Buffer.concat(p);
}

/* A list of v2 JSON span objects -> ListOfSpans bytes. */
function encodeProto(spans) {
	return Buffer.concat(spans.map((s) => otlp.lenField(1, pbSpan(s))));
}

/* ---- expectations ---- */

/* µs from hrTime exactly as the exporter computes them (a double). */
function hrUsFloat(hr) {
	return hr[0] * 1e6 + hr[1] / 1e3;
}

/* What @opentelemetry/exporter-zipkin 2.11 sends for a ReadableSpan
 * (its transform.js): timestamp unrounded, duration and annotation
 * timestamps rounded, every attribute String()ed, status as tags
 * otel.status_code and error (the message), resource attributes as tags. */
function sentByExporter(rs, serviceName) {
	const tags = {};
	for (const k of Object.keys(rs.attributes))
		tags[k] = String(rs.attributes[k]);
	if (rs.status.code !== 0)
		tags['otel.status_code'] = rs.status.code === 1 ? 'OK' : 'ERROR';
	if (rs.status.code === 2 && rs.status.message)
		tags.error = rs.status.message;
	for (const k of Object.keys(rs.resource.attributes))
		tags[k] = String(rs.resource.attributes[k]);
	const ctx = rs.spanContext();
	const out = {
		traceId: ctx.traceId,
		parentId: rs.parentSpanContext && rs.parentSpanContext.spanId,
		name: rs.name,
		id: ctx.spanId,
		kind: KIND_OUT[rs.kind + 1],
		timestamp: hrUsFloat(rs.startTime),
		duration: Math.round(hrUsFloat(rs.duration)),
		localEndpoint: { serviceName },
		tags,
		annotations: rs.events.length ? rs.events.map((e) => ({ timestamp: Math.round(hrUsFloat(e.time)), value: e.name })) : undefined,
	};
	return out;
}

/* A plain attribute value as compact JSON (arrays and maps in tags and
 * annotation text), as mixd writes it. */
function plainJson(v) {
	if (Array.isArray(v))
		return '[' + v.map(plainJson).join(',') + ']';
	if (v === null || v === undefined)
		return 'null';
	if (v instanceof Uint8Array)
		return JSON.stringify(Buffer.from(v).toString('base64'));
	return JSON.stringify(v);
}

/* The Zipkin tag text mixd writes for an SDK attribute value that reached
 * it over OTLP (json: OTLP/JSON, where integers travel as JSON numbers). */
function tagText(v, json) {
	switch (typeof v) {
	case 'string':
		return v;
	case 'boolean':
		return String(v);
	case 'number':
		if (Number.isInteger(v))
			return json ? JSON.stringify(v) : BigInt(v).toString();
		return String(v);
	default:
		if (v instanceof Uint8Array)
			return Buffer.from(v).toString('base64');
		if (Array.isArray(v))
			return plainJson(v);
		throw new Error(`no Zipkin mapping for ${v}`);
	}
}

/*
 * The Zipkin v2 span mixd must answer for an SDK span that reached it over
 * OTLP (model/MAPPING.md, Zipkin): µs = floor(ns / 1000), duration at least
 * 1; no kind for INTERNAL; localEndpoint.serviceName from the resource;
 * remoteEndpoint.serviceName from attribute peer.service; events as
 * annotations (`name {json}` when they have attributes); tags: attributes
 * as text, otel.status_code, error (the message), otel.scope.name and
 * .version, the resource attributes but service.name.
 */
function expectedFromSdk(rs, { json = false } = {}) {
	const ctx = rs.spanContext();
	const start = hrNs(rs.startTime);
	const end = hrNs(rs.endTime);
	const tags = {};
	for (const k of Object.keys(rs.attributes))
		tags[k] = tagText(rs.attributes[k], json);
	if (rs.status.code === 1)
		tags['otel.status_code'] = 'OK';
	if (rs.status.code === 2) {
		tags['otel.status_code'] = 'ERROR';
		tags.error = rs.status.message || '';
	}
	const scope = rs.instrumentationScope || {};
	if (scope.name)
		tags['otel.scope.name'] = scope.name;
	if (scope.version)
		tags['otel.scope.version'] = scope.version;
	for (const k of Object.keys(rs.resource.attributes))
		if (k !== 'service.name')
			tags[k] = tagText(rs.resource.attributes[k], json);
	const parent = rs.parentSpanContext && rs.parentSpanContext.spanId;
	const exp = {
		traceId: jaegerTraceId(ctx.traceId),
		parentId: parent && !/^0+$/.test(parent) ? parent : undefined,
		id: ctx.spanId,
		kind: KIND_OUT[rs.kind + 1],
		name: rs.name,
		timestamp: usOf(start),
		duration: Math.max(1, end > start ? usOf(end - start) : 0),
		localEndpoint: { serviceName: String(rs.resource.attributes['service.name']) },
		remoteEndpoint: typeof rs.attributes['peer.service'] === 'string'
			? { serviceName: rs.attributes['peer.service'] } : undefined,
		annotations: rs.events.length ? rs.events.map((e) => {
			const keys = Object.keys(e.attributes || {});
			const value = keys.length
				? `${e.name} {${keys.map((k) => `${JSON.stringify(k)}:${plainJson(e.attributes[k])}`).join(',')}}`
				: e.name;
			return { timestamp: usOf(hrNs(e.time)), value };
		}) : undefined,
		tags,
		shared: undefined,
		debug: undefined,
	};
	return exp;
}

/*
 * What mixd must answer on the Zipkin API for a span it received as Zipkin
 * v2 JSON `sent` (a JS object as JSON.stringify would send it): the same
 * span with integer µs (fractions rounded), lower-case ids, a trace id of
 * 16 digits when its high half is zero, remoteEndpoint from peer.service
 * when none was sent, and the tags as sent plus otel.status_code=ERROR
 * when an `error` tag made the status ERROR.
 */
function echoOfZipkin(sent) {
	const tags = { ...(sent.tags || {}) };
	/* an `error` tag is the status ERROR, written back as the OpenTelemetry
	 * exporters write it: otel.status_code=ERROR beside error=<message> */
	if ('error' in tags && !('otel.status_code' in tags))
		tags['otel.status_code'] = 'ERROR';
	let remote = sent.remoteEndpoint;
	if (!remote && typeof tags['peer.service'] === 'string')
		remote = { serviceName: tags['peer.service'] };
	return {
		traceId: jaegerTraceId(sent.traceId),
		parentId: sent.parentId ? sent.parentId.toLowerCase().padStart(16, '0') : undefined,
		id: sent.id.toLowerCase().padStart(16, '0'),
		kind: sent.kind,
		name: sent.name,
		timestamp: Math.round(Number(sent.timestamp)),
		duration: Math.max(1, Math.round(Number(sent.duration))),
		localEndpoint: sent.localEndpoint,
		remoteEndpoint: remote,
		annotations: sent.annotations ? sent.annotations.map((a) => ({ timestamp: Math.round(Number(a.timestamp)), value: a.value })) : undefined,
		tags,
		shared: sent.shared || undefined,
		debug: sent.debug || undefined,
	};
}

/*
 * The Jaeger span (the parts assertJaegerFromZipkin compares) for a span
 * mixd received as Zipkin v2 JSON `sent`: tags `error` and
 * `otel.status_code` become the status (derived tags otel.status_code,
 * error, otel.status_description), the other tags string span tags; kind
 * -> span.kind; the remote endpoint -> peer.*; annotations -> logs; the
 * process is localEndpoint.serviceName.
 */
function jaegerOfZipkin(sent) {
	const tags = sent.tags || {};
	const attrTags = [];
	for (const [k, v] of Object.entries(tags))
		if (k !== 'error' && k !== 'otel.status_code' && !k.startsWith('otel.scope.') && !k.startsWith('otel.library.'))
			attrTags.push({ key: k, type: 'string', value: v });
	const derived = [];
	if (sent.kind)
		derived.push({ key: 'span.kind', type: 'string', value: sent.kind.toLowerCase() });
	const isError = 'error' in tags || tags['otel.status_code'] === 'ERROR';
	if (isError) {
		derived.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' });
		derived.push({ key: 'error', type: 'bool', value: true });
		if (tags.error)
			derived.push({ key: 'otel.status_description', type: 'string', value: tags.error });
	} else if (tags['otel.status_code'] === 'OK') {
		derived.push({ key: 'otel.status_code', type: 'string', value: 'OK' });
	}
	const r = sent.remoteEndpoint;
	if (r) {
		if (r.serviceName && !('peer.service' in tags))
			derived.push({ key: 'peer.service', type: 'string', value: r.serviceName });
		if (r.ipv4)
			derived.push({ key: 'peer.ipv4', type: 'string', value: r.ipv4 });
		if (r.ipv6)
			derived.push({ key: 'peer.ipv6', type: 'string', value: r.ipv6 });
		if (r.port)
			derived.push({ key: 'peer.port', type: 'int64', value: r.port });
	}
	const processTags = [];
	const le = sent.localEndpoint || {};
	if (le.ipv4 || le.ipv6)
		processTags.push({ key: 'ip', type: 'string', value: le.ipv4 || le.ipv6 });
	return {
		traceID: jaegerTraceId(sent.traceId),
		spanID: sent.id.toLowerCase().padStart(16, '0'),
		operationName: sent.name,
		references: sent.parentId ? [{ refType: 'CHILD_OF', traceID: jaegerTraceId(sent.traceId), spanID: sent.parentId.toLowerCase().padStart(16, '0') }] : [],
		startTime: Math.round(Number(sent.timestamp)),
		duration: Math.round(Number(sent.duration)),
		attrTags,
		derived,
		logs: (sent.annotations || []).map((a) => ({
			timestamp: Math.round(Number(a.timestamp)),
			fields: [{ key: 'event', type: 'string', value: a.value }],
		})),
		process: { serviceName: sent.localEndpoint.serviceName, tags: processTags },
	};
}

function sortTags(tags) {
	return [...tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/* Compares Jaeger span `s` (with its trace's processes) with
 * jaegerOfZipkin(); attribute tags as a set (a Zipkin tag map has no
 * order), then the derived tags. */
function assertJaegerFromZipkin(trace, s, exp, where) {
	assert.equal(s.traceID, exp.traceID, `${where}: traceID`);
	assert.equal(s.spanID, exp.spanID, `${where}: spanID`);
	assert.equal(s.operationName, exp.operationName, `${where}: operationName`);
	assert.deepEqual(s.references, exp.references, `${where}: references`);
	assert.equal(s.startTime, exp.startTime, `${where}: startTime (µs)`);
	assert.equal(s.duration, exp.duration, `${where}: duration (µs)`);
	const n = exp.attrTags.length;
	assert.deepEqual(sortTags(s.tags.slice(0, n)), sortTags(exp.attrTags), `${where}: span tags (as sent, all strings)`);
	assert.deepEqual(sortTags(s.tags.slice(n)), sortTags(exp.derived), `${where}: derived tags`);
	assert.deepEqual(s.logs, exp.logs, `${where}: logs`);
	const p = trace.processes[s.processID];
	assert.ok(p, `${where}: process ${s.processID}`);
	assert.equal(p.serviceName, exp.process.serviceName, `${where}: process.serviceName`);
	assert.deepEqual(sortTags(p.tags), sortTags(exp.process.tags), `${where}: process.tags`);
}

function sortKeys(o) {
	const out = {};
	for (const k of Object.keys(o).sort())
		out[k] = o[k];
	return out;
}

/*
 * Compares a Zipkin v2 span `got` from mixd with `exp` (same shape; absent
 * members must be absent). Tags are compared as maps (their order is not
 * part of the format), annotations in order.
 */
function assertZipkinSpan(got, exp, where) {
	assert.equal(got.traceId, exp.traceId, `${where}: traceId`);
	assert.equal(got.id, exp.id, `${where}: id`);
	assert.equal(got.parentId, exp.parentId, `${where}: parentId`);
	assert.equal(got.kind, exp.kind, `${where}: kind`);
	assert.equal(got.name, exp.name, `${where}: name`);
	assert.equal(got.timestamp, exp.timestamp, `${where}: timestamp (µs)`);
	assert.equal(got.duration, exp.duration, `${where}: duration (µs)`);
	assert.deepEqual(got.localEndpoint, exp.localEndpoint, `${where}: localEndpoint`);
	assert.deepEqual(got.remoteEndpoint, exp.remoteEndpoint, `${where}: remoteEndpoint`);
	assert.deepEqual(got.annotations, exp.annotations, `${where}: annotations`);
	assert.deepEqual(sortKeys(got.tags || {}), sortKeys(exp.tags || {}), `${where}: tags`);
	assert.equal(got.shared, exp.shared, `${where}: shared`);
	assert.equal(got.debug, exp.debug, `${where}: debug`);
}

module.exports = {
	span, encodeProto, pbSpan, sentByExporter, expectedFromSdk, echoOfZipkin, jaegerOfZipkin,
	assertZipkinSpan, assertJaegerFromZipkin, sortKeys, hrUsFloat, tagText, plainJson, KIND_OUT,
};
