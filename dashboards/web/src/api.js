/*
 * api.js - the query listener's JSON APIs as the UI uses them: the Kiali
 * graph (/api/namespaces/graph), the namespace list (/api/namespaces), and
 * the Jaeger query API (services, operations, search, trace by id). Same
 * origin only; every request has a timeout and may be aborted by the view
 * that made it (an AbortSignal). Errors carry the server's message
 * (Kiali's {"error"} or Jaeger's {"errors":[{"msg"}]}).
 *
 * prefetch() is for boot.js, the small script that runs before the app's
 * bundle has been compiled: it asks for the first view's answers at once
 * and parses them while the browser is still busy with the bundle;
 * getJson() then takes such an answer (once, for the same URL, within
 * PREFETCH_TTL_MS of the page's start) instead of asking again.
 */

const TIMEOUT_MS = 30000;
const PREFETCH_TTL_MS = 10000;
const PREFETCHED = 'mixdPrefetched'; /* window's Map: URL -> Promise */

export class ApiError extends Error {
	constructor(message, status) {
		super(message);
		this.status = status;
	}
}

function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v === undefined || v === null || v === '')
			continue;
		q.append(k, String(v));
	}
	const s = q.toString();
	return s ? `?${s}` : '';
}

function messageOf(body, status) {
	if (body && typeof body.error === 'string')
		return body.error;
	if (body && Array.isArray(body.errors) && body.errors.length)
		return body.errors.map((e) => e.msg || JSON.stringify(e)).join('; ');
	return `HTTP ${status}`;
}

/* GET url: {status, ok, json (false: not JSON), body} */
async function fetchJson(url, signal) {
	const res = await fetch(url, {
		signal,
		headers: { Accept: 'application/json' },
		credentials: 'same-origin',
	});
	const text = await res.text();
	const out = { status: res.status, ok: res.ok, json: true, body: null };
	try {
		out.body = text ? JSON.parse(text) : null;
	} catch (e) {
		out.json = false;
	}
	return out;
}

/* Starts GET path?params now, for a later getJson() of the same URL. */
export function prefetch(path, params) {
	const url = path + query(params);
	const got = fetchJson(url);
	got.catch(() => {}); /* reported to whoever takes it */
	if (!window[PREFETCHED])
		window[PREFETCHED] = new Map();
	window[PREFETCHED].set(url, got);
}

function takePrefetched(url) {
	const map = window[PREFETCHED];
	const got = map && map.get(url);
	if (!got)
		return null;
	map.delete(url);
	return performance.now() < PREFETCH_TTL_MS ? got : null;
}

/* p, or a rejection as soon as signal aborts */
function abortable(p, signal) {
	return new Promise((resolve, reject) => {
		const stop = () => reject(new DOMException('aborted', 'AbortError'));
		if (signal.aborted)
			stop();
		signal.addEventListener('abort', stop, { once: true });
		p.then(resolve, reject);
	});
}

/* GET path?params and parse the JSON answer. */
export async function getJson(path, params, signal) {
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
	const onAbort = () => ctl.abort();
	if (signal)
		signal.addEventListener('abort', onAbort, { once: true });
	try {
		const url = path + query(params);
		const early = takePrefetched(url);
		const res = await (early ? abortable(early, ctl.signal) : fetchJson(url, ctl.signal));
		if (!res.json)
			throw new ApiError(`${path}: not JSON (HTTP ${res.status})`, res.status);
		if (!res.ok)
			throw new ApiError(messageOf(res.body, res.status), res.status);
		return res.body;
	} finally {
		clearTimeout(timer);
		if (signal)
			signal.removeEventListener('abort', onAbort);
	}
}

export const NAMESPACES_PATH = '/api/namespaces';
export const GRAPH_PATH = '/api/namespaces/graph';

export function namespacesParams(durationS) {
	return { duration: `${durationS}s` };
}

export function namespaces(durationS, signal) {
	return getJson(NAMESPACES_PATH, namespacesParams(durationS), signal);
}

/* The Kiali graph's parameters. o: namespaces (array), graphType,
 * durationS, injectServiceNodes, appenders, responseTime. */
export function graphParams(o) {
	return {
		namespaces: o.namespaces.join(','),
		graphType: o.graphType,
		duration: `${o.durationS}s`,
		injectServiceNodes: o.injectServiceNodes ? 'true' : undefined,
		appenders: o.appenders,
		responseTime: o.responseTime,
	};
}

/* The Kiali graph (o as for graphParams). */
export function graph(o, signal) {
	return getJson(GRAPH_PATH, graphParams(o), signal);
}

export async function services(signal) {
	const r = await getJson('/api/services', null, signal);
	return (r && r.data) || [];
}

export async function operations(service, signal) {
	const r = await getJson(`/api/services/${encodeURIComponent(service)}/operations`, null, signal);
	return ((r && r.data) || []).map((o) => (typeof o === 'string' ? o : o.name)).filter(Boolean);
}

/* Jaeger search. q: service, operation, tags (object), minDuration,
 * maxDuration (Go durations), startUs, endUs, limit. */
export async function searchTraces(q, signal) {
	const r = await getJson('/api/traces', {
		service: q.service,
		operation: q.operation,
		tags: q.tags && Object.keys(q.tags).length ? JSON.stringify(q.tags) : undefined,
		minDuration: q.minDuration,
		maxDuration: q.maxDuration,
		start: q.startUs,
		end: q.endUs,
		limit: q.limit,
	}, signal);
	return { traces: (r && r.data) || [], errors: (r && r.errors) || [] };
}

export async function trace(id, signal) {
	const r = await getJson(`/api/traces/${encodeURIComponent(id)}`, null, signal);
	const t = r && Array.isArray(r.data) ? r.data[0] : null;
	if (!t)
		throw new ApiError(`trace ${id} not found`, 404);
	return t;
}
