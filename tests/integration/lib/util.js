/*
 * util.js - small helpers shared by the integration tests: bounded polling
 * (no fixed sleeps anywhere), temporary directories that clean up after the
 * test, and a plain HTTP client over node:http that returns status, headers
 * and the whole body as a Buffer.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

/* Polls fn() (sync or async) until it returns a truthy value, which is
 * returned. Throws after timeoutMs with the last error or value seen. */
async function waitFor(fn, { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {}) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v)
				return v;
			last = v;
		} catch (e) {
			last = e;
		}
		if (Date.now() >= deadline) {
			const why = last instanceof Error ? last.message : JSON.stringify(last);
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${why})`);
		}
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

/* Creates a fresh temporary directory. When a test context is given, the
 * directory is removed after that test. */
function tmpDir(t, prefix = 'mixd-it-') {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	if (t)
		t.after(() => rmDir(dir));
	return dir;
}

function rmDir(dir) {
	fs.rmSync(dir, { recursive: true, force: true });
}

/* One HTTP request. opts: method, headers, body (Buffer|string), agent
 * (default: none, a fresh connection), timeoutMs, onFinish (called once the
 * whole request is handed to the OS). Resolves to
 * {status, headers, body: Buffer}; rejects on connection errors. */
function request(url, opts = {}) {
	const { method = 'GET', headers = {}, body, agent = false, timeoutMs = 30000, onFinish } = opts;
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, headers, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({
				status: res.statusCode,
				headers: res.headers,
				body: Buffer.concat(chunks),
			}));
			res.on('error', reject);
		});
		req.setTimeout(timeoutMs, () => req.destroy(new Error(`request to ${url} timed out`)));
		req.on('error', reject);
		if (onFinish)
			req.on('finish', onFinish);
		if (body !== undefined)
			req.end(body);
		else
			req.end();
	});
}

/* GET url and parse the JSON body. Resolves to {status, json, headers}. */
async function getJson(url, opts = {}) {
	const res = await request(url, opts);
	let json;
	try {
		json = JSON.parse(res.body.toString('utf8'));
	} catch (e) {
		throw new Error(`GET ${url}: status ${res.status}, body is not JSON: ` +
			JSON.stringify(res.body.toString('utf8').slice(0, 200)));
	}
	return { status: res.status, json, headers: res.headers };
}

/* Runs fn over items with at most `limit` calls in flight. */
async function mapLimit(items, limit, fn) {
	const out = new Array(items.length);
	let next = 0;
	async function worker() {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	}
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return out;
}

/* A random lower-case hex string of n bytes, never all zero. */
function randHex(nbytes) {
	const crypto = require('node:crypto');
	for (;;) {
		const h = crypto.randomBytes(nbytes).toString('hex');
		if (/[^0]/.test(h))
			return h;
	}
}

module.exports = { waitFor, tmpDir, rmDir, request, getJson, mapLimit, randHex };
