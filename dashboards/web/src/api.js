/*
 * api.js - the query listener's JSON APIs as the UI uses them: the Kiali
 * graph (/api/namespaces/graph), the namespace list (/api/namespaces), and
 * the Jaeger query API (services, operations, search, trace by id). Same
 * origin only; every request has a timeout and may be aborted by the view
 * that made it (an AbortSignal). Errors carry the server's message
 * (Kiali's {"error"} or Jaeger's {"errors":[{"msg"}]}).
 */

const TIMEOUT_MS = 30000;

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

/* GET path?params and parse the JSON answer. */
export async function getJson(path, params, signal) {
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
	const onAbort = () => ctl.abort();
	if (signal)
		signal.addEventListener('abort', onAbort, { once: true });
	try {
		const res = await fetch(path + query(params), {
			signal: ctl.signal,
			headers: { Accept: 'application/json' },
			credentials: 'same-origin',
		});
		const text = await res.text();
		let body = null;
		try {
			body = text ? JSON.parse(text) : null;
		} catch (e) {
			throw new ApiError(`${path}: not JSON (HTTP ${res.status})`, res.status);
		}
		if (!res.ok)
			throw new ApiError(messageOf(body, res.status), res.status);
		return body;
	} finally {
		clearTimeout(timer);
		if (signal)
			signal.removeEventListener('abort', onAbort);
	}
}

export function namespaces(durationS, signal) {
	return getJson('/api/namespaces', { duration: `${durationS}s` }, signal);
}

/* The Kiali graph. o: namespaces (array), graphType, durationS,
 * injectServiceNodes, appenders, responseTime. */
export function graph(o, signal) {
	return getJson('/api/namespaces/graph', {
		namespaces: o.namespaces.join(','),
		graphType: o.graphType,
		duration: `${o.durationS}s`,
		injectServiceNodes: o.injectServiceNodes ? 'true' : undefined,
		appenders: o.appenders,
		responseTime: o.responseTime,
	}, signal);
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
