/*
 * otlp.js - hand-built OTLP requests for the tests that bypass the SDK.
 *
 * Requests are written as OTLP/JSON objects (lowerCamelCase, hex ids,
 * 64-bit integers as decimal strings); encodePb() turns such an object into
 * the protobuf ExportTraceServiceRequest bytes with a small protobuf writer
 * (field numbers from opentelemetry-proto trace.proto / common.proto), so a
 * test can send the same request in both encodings. Ids are taken as hex and
 * written as raw bytes of whatever length they have, which is how the tests
 * send short ids. Also decoders for the answers: google.rpc.Status and
 * ExportTraceServiceResponse (partial_success).
 */
'use strict';

/* ---- protobuf writer ---- */

function varint(v) {
	let n = BigInt.asUintN(64, BigInt(v));
	const out = [];
	do {
		let b = Number(n & 0x7fn);
		n >>= 7n;
		if (n !== 0n)
			b |= 0x80;
		out.push(b);
	} while (n !== 0n);
	return Buffer.from(out);
}

function key(field, wt) {
	return varint((field << 3) | wt);
}

function lenField(field, payload) {
	const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
	return Buffer.concat([key(field, 2), varint(b.length), b]);
}

function varintField(field, v) {
	return Buffer.concat([key(field, 0), varint(v)]);
}

function fixed64Field(field, v) {
	const b = Buffer.alloc(8);
	b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
	return Buffer.concat([key(field, 1), b]);
}

function fixed32Field(field, v) {
	const b = Buffer.alloc(4);
	b.writeUInt32LE(v >>> 0);
	return Buffer.concat([key(field, 5), b]);
}

function doubleField(field, v) {
	const b = Buffer.alloc(8);
	b.writeDoubleLE(v);
	return Buffer.concat([key(field, 1), b]);
}

function hexBytes(h) {
	return Buffer.from(h, 'hex');
}

function doubleOf(v) {
	if (v === 'NaN')
		return NaN;
	if (v === 'Infinity')
		return Infinity;
	if (v === '-Infinity')
		return -Infinity;
	return Number(v);
}

function pbAnyValue(v) {
	const parts = [];
	if ('stringValue' in v)
		parts.push(lenField(1, v.stringValue));
	else if ('boolValue' in v)
		parts.push(varintField(2, v.boolValue ? 1 : 0));
	else if ('intValue' in v)
		parts.push(varintField(3, BigInt(v.intValue)));
	else if ('doubleValue' in v)
		parts.push(doubleField(4, doubleOf(v.doubleValue)));
	else if ('arrayValue' in v)
		parts.push(lenField(5, Buffer.concat((v.arrayValue.values || []).map((x) => lenField(1, pbAnyValue(x))))));
	else if ('kvlistValue' in v)
		parts.push(lenField(6, Buffer.concat((v.kvlistValue.values || []).map((kv) => lenField(1, pbKeyValue(kv))))));
	else if ('bytesValue' in v)
		parts.push(lenField(7, Buffer.from(v.bytesValue, 'base64')));
	return Buffer.concat(parts);
}

function pbKeyValue(kv) {
	return Buffer.concat([lenField(1, kv.key), lenField(2, pbAnyValue(kv.value || {}))]);
}

function pbAttrs(field, attrs) {
	return (attrs || []).map((kv) => lenField(field, pbKeyValue(kv)));
}

function pbSpan(s) {
	const p = [];
	if (s.traceId !== undefined)
		p.push(lenField(1, hexBytes(s.traceId)));
	if (s.spanId !== undefined)
		p.push(lenField(2, hexBytes(s.spanId)));
	if (s.traceState)
		p.push(lenField(3, s.traceState));
	if (s.parentSpanId)
		p.push(lenField(4, hexBytes(s.parentSpanId)));
	if (s.name !== undefined)
		p.push(lenField(5, s.name));
	if (s.kind)
		p.push(varintField(6, s.kind));
	if (s.startTimeUnixNano !== undefined)
		p.push(fixed64Field(7, s.startTimeUnixNano));
	if (s.endTimeUnixNano !== undefined)
		p.push(fixed64Field(8, s.endTimeUnixNano));
	p.push(...pbAttrs(9, s.attributes));
	for (const e of s.events || []) {
		const ep = [fixed64Field(1, e.timeUnixNano || 0), lenField(2, e.name || ''), ...pbAttrs(3, e.attributes)];
		p.push(lenField(11, Buffer.concat(ep)));
	}
	for (const l of s.links || []) {
		const lp = [lenField(1, hexBytes(l.traceId)), lenField(2, hexBytes(l.spanId)), ...pbAttrs(4, l.attributes)];
		p.push(lenField(13, Buffer.concat(lp)));
	}
	if (s.status) {
		const sp = [];
		if (s.status.message)
			sp.push(lenField(2, s.status.message));
		if (s.status.code)
			sp.push(varintField(3, s.status.code));
		p.push(lenField(15, Buffer.concat(sp)));
	}
	if (s.flags)
		p.push(fixed32Field(16, s.flags));
	return Buffer.concat(p);
}

/* OTLP/JSON ExportTraceServiceRequest object -> protobuf bytes. */
function encodePb(req) {
	const rsParts = [];
	for (const rs of req.resourceSpans || []) {
		const p = [];
		if (rs.resource)
			p.push(lenField(1, Buffer.concat(pbAttrs(1, rs.resource.attributes))));
		for (const ss of rs.scopeSpans || []) {
			const sp = [];
			if (ss.scope) {
				const sc = [];
				if (ss.scope.name)
					sc.push(lenField(1, ss.scope.name));
				if (ss.scope.version)
					sc.push(lenField(2, ss.scope.version));
				sp.push(lenField(1, Buffer.concat(sc)));
			}
			for (const s of ss.spans || [])
				sp.push(lenField(2, pbSpan(s)));
			p.push(lenField(2, Buffer.concat(sp)));
		}
		rsParts.push(lenField(1, Buffer.concat(p)));
	}
	return Buffer.concat(rsParts);
}

/* ---- request builders ---- */

function str(key, value) {
	return { key, value: { stringValue: value } };
}

/* One ExportTraceServiceRequest object with one resource and one scope. */
function request(spans, { service = 'it-service', resourceAttrs = [], scope = { name: 'it-scope', version: '0.1' } } = {}) {
	return {
		resourceSpans: [{
			resource: { attributes: [str('service.name', service), ...resourceAttrs] },
			scopeSpans: [{ scope, spans }],
		}],
	};
}

/* A plain span: ids in hex, times in ns (BigInt or decimal string). */
function span({ traceId, spanId, parentSpanId, name = 'op', kind = 1, startNs, durNs = 1000n, attributes = [] }) {
	const start = startNs !== undefined ? BigInt(startNs) : BigInt(Date.now()) * 1000000n;
	const s = {
		traceId, spanId, name, kind,
		startTimeUnixNano: start.toString(),
		endTimeUnixNano: (start + BigInt(durNs)).toString(),
		attributes,
	};
	if (parentSpanId)
		s.parentSpanId = parentSpanId;
	return s;
}

/* ---- protobuf reader (answers) ---- */

function readVarint(buf, pos) {
	let v = 0n;
	let shift = 0n;
	for (;;) {
		if (pos >= buf.length)
			throw new Error('truncated varint');
		const b = buf[pos++];
		v |= BigInt(b & 0x7f) << shift;
		if (!(b & 0x80))
			return [v, pos];
		shift += 7n;
		if (shift > 63n)
			throw new Error('varint too long');
	}
}

/* Splits a protobuf message into [{field, wt, value}] (value: BigInt for
 * varints and fixed, Buffer for length-delimited). Throws on bad input. */
function readFields(buf) {
	const out = [];
	let pos = 0;
	while (pos < buf.length) {
		let k;
		[k, pos] = readVarint(buf, pos);
		const field = Number(k >> 3n);
		const wt = Number(k & 7n);
		let value;
		if (wt === 0) {
			[value, pos] = readVarint(buf, pos);
		} else if (wt === 1) {
			if (pos + 8 > buf.length)
				throw new Error('truncated fixed64');
			value = buf.readBigUInt64LE(pos);
			pos += 8;
		} else if (wt === 2) {
			let len;
			[len, pos] = readVarint(buf, pos);
			if (pos + Number(len) > buf.length)
				throw new Error('truncated length-delimited field');
			value = buf.subarray(pos, pos + Number(len));
			pos += Number(len);
		} else if (wt === 5) {
			if (pos + 4 > buf.length)
				throw new Error('truncated fixed32');
			value = BigInt(buf.readUInt32LE(pos));
			pos += 4;
		} else {
			throw new Error(`bad wire type ${wt}`);
		}
		out.push({ field, wt, value });
	}
	return out;
}

/* google.rpc.Status bytes -> {code, message}. */
function decodeStatus(buf) {
	const st = { code: 0, message: '' };
	for (const f of readFields(buf)) {
		if (f.field === 1 && f.wt === 0)
			st.code = Number(BigInt.asIntN(32, f.value));
		else if (f.field === 2 && f.wt === 2)
			st.message = f.value.toString('utf8');
	}
	return st;
}

/* ExportTraceServiceResponse bytes -> {rejectedSpans, errorMessage} or
 * null when partial_success is absent. */
function decodeExportResponse(buf) {
	let ps = null;
	for (const f of readFields(buf)) {
		if (f.field !== 1 || f.wt !== 2)
			continue;
		ps = { rejectedSpans: 0, errorMessage: '' };
		for (const g of readFields(f.value)) {
			if (g.field === 1 && g.wt === 0)
				ps.rejectedSpans = Number(BigInt.asIntN(64, g.value));
			else if (g.field === 2 && g.wt === 2)
				ps.errorMessage = g.value.toString('utf8');
		}
	}
	return ps;
}

module.exports = {
	varint, key, lenField, varintField, fixed64Field, encodePb, pbAnyValue, pbKeyValue,
	request, span, str, readFields, decodeStatus, decodeExportResponse,
};
