/*
 * raw.js - HTTP/1.1 over a bare TCP socket, for the cases node:http hides:
 * a request whose body is never sent (to see an answer given at the
 * headers stage), a chunked body that keeps growing until the server
 * answers or closes, and Expect: 100-continue to know that the server has
 * taken a request in before the test acts.
 */
'use strict';

const net = require('node:net');

/* Opens a TCP connection to the host:port of an http:// base URL. */
function connect(baseUrl) {
	const u = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		const s = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
		s.once('connect', () => { s.removeListener('error', reject); resolve(s); });
		s.once('error', reject);
	});
}

/*
 * Reads responses from a socket as they arrive. next() resolves to the
 * next response {status, headers, body} (interim 1xx included), or to
 * {closed: true, error} when the connection ends first.
 */
function responseReader(sock) {
	let buf = Buffer.alloc(0);
	let closed = null;
	const waiters = [];

	function tryParse() {
		const end = buf.indexOf('\r\n\r\n');
		if (end < 0)
			return null;
		const head = buf.subarray(0, end).toString('latin1').split('\r\n');
		const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
		if (!m)
			throw new Error(`bad status line ${JSON.stringify(head[0])}`);
		const status = Number(m[1]);
		const headers = {};
		for (const line of head.slice(1)) {
			const i = line.indexOf(':');
			if (i > 0)
				headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
		}
		let rest = buf.subarray(end + 4);
		if (status >= 100 && status < 200) {
			buf = rest;
			return { status, headers, body: Buffer.alloc(0) };
		}
		if (headers['transfer-encoding'] && /chunked/i.test(headers['transfer-encoding'])) {
			const chunks = [];
			let p = 0;
			for (;;) {
				const nl = rest.indexOf('\r\n', p);
				if (nl < 0)
					return null;
				const size = parseInt(rest.subarray(p, nl).toString('latin1'), 16);
				if (rest.length < nl + 2 + size + 2)
					return null;
				if (size === 0) {
					const tEnd = rest.indexOf('\r\n', nl + 2);
					if (tEnd < 0)
						return null;
					buf = rest.subarray(tEnd + 2);
					return { status, headers, body: Buffer.concat(chunks) };
				}
				chunks.push(rest.subarray(nl + 2, nl + 2 + size));
				p = nl + 2 + size + 2;
			}
		}
		const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
		if (len === null) {
			if (!closed)
				return null; /* body until close */
			buf = Buffer.alloc(0);
			return { status, headers, body: rest };
		}
		if (rest.length < len)
			return null;
		buf = rest.subarray(len);
		return { status, headers, body: rest.subarray(0, len) };
	}

	function pump() {
		while (waiters.length) {
			let r;
			try {
				r = tryParse();
			} catch (e) {
				waiters.shift().reject(e);
				continue;
			}
			if (r)
				waiters.shift().resolve(r);
			else if (closed)
				waiters.shift().resolve({ closed: true, error: closed.error });
			else
				break;
		}
	}

	sock.on('data', (d) => { buf = Buffer.concat([buf, d]); pump(); });
	sock.on('error', (e) => { if (!closed) closed = { error: e }; pump(); });
	sock.on('close', () => { if (!closed) closed = { error: null }; pump(); });
	sock.on('end', () => { if (!closed) closed = { error: null }; pump(); });

	return {
		get closed() { return closed; },
		get buffered() { return buf.length; },
		next(timeoutMs = 10000) {
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					const i = waiters.indexOf(w);
					if (i >= 0)
						waiters.splice(i, 1);
					reject(new Error(`no response within ${timeoutMs} ms`));
				}, timeoutMs);
				const w = {
					resolve: (r) => { clearTimeout(timer); resolve(r); },
					reject: (e) => { clearTimeout(timer); reject(e); },
				};
				waiters.push(w);
				pump();
			});
		},
	};
}

/* Request head text for method/path/headers (Host added). */
function head(method, path, baseUrl, headers) {
	const u = new URL(baseUrl);
	let s = `${method} ${path} HTTP/1.1\r\nHost: ${u.host}\r\n`;
	for (const [k, v] of Object.entries(headers))
		s += `${k}: ${v}\r\n`;
	return s + '\r\n';
}

/* Writes data; resolves once written or the socket is gone (returns
 * false then), bounded by timeoutMs (rejects). */
function writeAll(sock, data, timeoutMs = 10000) {
	return new Promise((resolve, reject) => {
		if (sock.destroyed || !sock.writable)
			return resolve(false);
		const timer = setTimeout(() => { cleanup(); reject(new Error(`write stalled for ${timeoutMs} ms`)); }, timeoutMs);
		function cleanup() {
			clearTimeout(timer);
			sock.removeListener('close', onClose);
			sock.removeListener('error', onClose);
		}
		function onClose() { cleanup(); resolve(false); }
		sock.once('close', onClose);
		sock.once('error', onClose);
		sock.write(data, (err) => { cleanup(); resolve(!err); });
	});
}

module.exports = { connect, responseReader, head, writeAll };
