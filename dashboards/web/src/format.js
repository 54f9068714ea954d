/*
 * format.js - numbers and times as the UI prints them, the colour of a
 * name, and the hash-route parameters of a view.
 */

/* A duration in microseconds: "850µs", "12.3ms", "1.52s", "2m 3s". */
export function fmtDurationUs(us) {
	if (!Number.isFinite(us))
		return '-';
	if (us < 1000)
		return `${Math.round(us)}µs`;
	const ms = us / 1000;
	if (ms < 1000)
		return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)}ms`;
	const sec = ms / 1000;
	if (sec < 60)
		return `${sec.toFixed(2)}s`;
	const m = Math.floor(sec / 60);
	return `${m}m ${Math.round(sec - 60 * m)}s`;
}

/* Milliseconds (a latency from the graph API). */
export function fmtMs(ms) {
	const n = Number(ms);
	return Number.isFinite(n) ? fmtDurationUs(n * 1000) : '-';
}

/* A local date and time of Unix microseconds. */
export function fmtTimeUs(us) {
	const d = new Date(us / 1000);
	const pad = (n, w = 2) => String(n).padStart(w, '0');
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
		`${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/* Requests per second as Kiali prints them (a string already, or a number). */
export function fmtRate(v) {
	const n = Number(v);
	if (!Number.isFinite(n))
		return '0';
	return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/* Bytes per second. */
export function fmtBytesRate(v) {
	let n = Number(v) || 0;
	const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
	let i = 0;
	while (n >= 1000 && i < units.length - 1) {
		n /= 1000;
		i++;
	}
	return `${n < 10 && i ? n.toFixed(1) : Math.round(n)}${units[i]}`;
}

export const PALETTE = ['#2b6cb0', '#2f855a', '#b7791f', '#6b46c1', '#c05621', '#0987a0',
	'#97266d', '#4a5568', '#276749', '#9c4221', '#553c9a', '#2c7a7b'];

/* A stable palette slot for a name (FNV-1a over its UTF-16 code units). */
export function colorIndex(name) {
	let x = 0x811c9dc5;
	const s = String(name);
	for (let i = 0; i < s.length; i++) {
		x ^= s.charCodeAt(i);
		x = Math.imul(x, 0x01000193) >>> 0;
	}
	return x % PALETTE.length;
}

/* A stable colour for a name. */
export function colorOf(name) {
	return PALETTE[colorIndex(name)];
}

/* The route of location.hash: {view, arg, params (URLSearchParams)}.
 * "#/trace/abc?x=1" -> {view: 'trace', arg: 'abc', params}. */
export function parseHash(hash) {
	const h = (hash || '').replace(/^#\/?/, '');
	const qi = h.indexOf('?');
	const pathPart = qi >= 0 ? h.slice(0, qi) : h;
	const params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
	const [view, ...rest] = pathPart.split('/');
	let arg = rest.join('/');
	try {
		arg = decodeURIComponent(arg);
	} catch (e) {
		/* keep it as it came */
	}
	return { view: view || 'graph', arg, params };
}

/* "#/view[/arg]?k=v" from parts; empty values left out. */
export function makeHash(view, arg, params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {}))
		if (v !== undefined && v !== null && v !== '')
			q.append(k, String(v));
	const qs = q.toString();
	return `#/${view}${arg ? `/${encodeURIComponent(arg)}` : ''}${qs ? `?${qs}` : ''}`;
}

/* A Jaeger tag's value as text. */
export function tagText(t) {
	if (!t)
		return '';
	if (typeof t.value === 'string')
		return t.value;
	return JSON.stringify(t.value);
}
