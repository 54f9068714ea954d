/*
 * search.js - the trace search view: service, operation, tags (`k=v`
 * pairs, a value may be "quoted"), min/max duration (Go durations such as
 * 10ms or 1.5s), a time range (last N, or a custom start and end) and a
 * limit, all kept in the URL (#/search?service=..&operation=..&tags=..&
 * minDuration=..&maxDuration=..&lookback=<s>|custom&start=..&end=..&
 * limit=..&sort=..). A search runs when the form is submitted or the URL names a
 * service; the results show as a latency scatter (x: start, y: duration;
 * a point per trace, red with errors) and a list, both linking to the
 * trace view.
 */
import * as api from './api.js';
import { h, replace, s, select } from './dom.js';
import { colorOf, fmtDurationUs, fmtTimeUs, makeHash } from './format.js';
import { buildTrace, traceTitle } from './trace_model.js';

const LOOKBACKS = [[300, 'Last 5 minutes'], [600, 'Last 10 minutes'], [900, 'Last 15 minutes'], [3600, 'Last hour'],
	[7200, 'Last 2 hours'], [21600, 'Last 6 hours'], [43200, 'Last 12 hours'],
	[86400, 'Last 24 hours'], [172800, 'Last 2 days'], ['custom', 'Custom range']];
const SORTS = [['recent', 'Most recent'], ['longest', 'Longest first'], ['shortest', 'Shortest first'],
	['spans', 'Most spans']];
const DURATION_RE = /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/;

let servicesCache = null; /* {at, list} */

async function knownServices(signal) {
	if (servicesCache && Date.now() - servicesCache.at < 15000)
		return servicesCache.list;
	const list = (await api.services(signal)).slice().sort();
	servicesCache = { at: Date.now(), list };
	return list;
}

/* `k=v k2="v 2"` -> {k: 'v', k2: 'v 2'}; throws on a malformed pair. */
export function parseTags(text) {
	const out = {};
	const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|(\S*))/y;
	let i = 0;
	const t = (text || '').trim();
	while (i < t.length) {
		re.lastIndex = i;
		const m = re.exec(t);
		if (!m)
			throw new Error(`tags: expected key=value at "${t.slice(i, i + 20)}"`);
		out[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4];
		i = re.lastIndex;
		while (i < t.length && /\s/.test(t[i]))
			i++;
	}
	return out;
}

function localInput(us) {
	const d = new Date(us / 1000 - new Date().getTimezoneOffset() * 60000);
	return d.toISOString().slice(0, 16);
}

function stateFrom(params) {
	const lb = params.get('lookback');
	const n = Number(lb);
	const lookback = lb === 'custom' ? 'custom' : (Number.isInteger(n) && n > 0 ? n : 3600);
	return {
		service: params.get('service') || '',
		operation: params.get('operation') || '',
		tags: params.get('tags') || '',
		minDuration: params.get('minDuration') || '',
		maxDuration: params.get('maxDuration') || '',
		lookback,
		start: params.get('start') || '',
		end: params.get('end') || '',
		limit: Math.min(Math.max(Number(params.get('limit')) || 20, 1), 1500),
		sort: SORTS.some(([v]) => v === params.get('sort')) ? params.get('sort') : 'recent',
	};
}

export function searchView(root, params, ctx) {
	const st = stateFrom(params);
	const ctl = new AbortController();
	const svcSel = select({ id: 'search-service', name: 'service' }, [['', 'loading…']], '');
	const opSel = select({ id: 'search-operation', name: 'operation' }, [['', 'all']], '');
	const tagsIn = h('input', { id: 'search-tags', type: 'text', value: st.tags,
		placeholder: 'http.status_code=500 error=true', spellcheck: 'false' });
	const minIn = h('input', { id: 'search-min', type: 'text', value: st.minDuration, placeholder: 'e.g. 10ms', size: 8 });
	const maxIn = h('input', { id: 'search-max', type: 'text', value: st.maxDuration, placeholder: 'e.g. 1.5s', size: 8 });
	const lookbacks = LOOKBACKS.some(([v]) => v === st.lookback) ? LOOKBACKS
		: [[st.lookback, `Last ${st.lookback} s`]].concat(LOOKBACKS);
	const lbSel = select({ id: 'search-lookback' }, lookbacks, st.lookback);
	const nowUs = Date.now() * 1000;
	const startIn = h('input', { id: 'search-start', type: 'datetime-local',
		value: st.start || localInput(nowUs - 3600e6) });
	const endIn = h('input', { id: 'search-end', type: 'datetime-local', value: st.end || localInput(nowUs) });
	const custom = h('span', { class: 'custom-range', hidden: st.lookback !== 'custom' },
		h('label', null, 'From ', startIn), h('label', null, ' to ', endIn));
	lbSel.addEventListener('change', () => { custom.hidden = lbSel.value !== 'custom'; });
	const limitIn = h('input', { id: 'search-limit', type: 'number', min: 1, max: 1500, value: String(st.limit) });
	const sortSel = select({ id: 'search-sort' }, SORTS, st.sort);
	const results = h('div', { class: 'results', id: 'search-results' });
	const form = h('form', { class: 'search-form', id: 'search-form', on: { submit } },
		h('label', null, 'Service', svcSel),
		h('label', null, 'Operation', opSel),
		h('label', { class: 'wide' }, 'Tags', tagsIn),
		h('label', null, 'Min duration', minIn),
		h('label', null, 'Max duration', maxIn),
		h('label', null, 'Time', lbSel), custom,
		h('label', null, 'Limit', limitIn),
		h('button', { type: 'submit', id: 'search-submit', class: 'primary' }, 'Find traces'));
	replace(root, h('section', { class: 'search-page' }, form, results));

	async function loadOperations(service) {
		replace(opSel, h('option', { value: '' }, 'all'));
		if (!service)
			return;
		try {
			const ops = (await api.operations(service, ctl.signal)).slice().sort();
			replace(opSel, h('option', { value: '' }, 'all'),
				ops.map((o) => h('option', { value: o, selected: o === st.operation }, o)));
		} catch (e) {
			if (!ctl.signal.aborted)
				ctx.setStatus(`Operations: ${e.message}`, true);
		}
	}

	svcSel.addEventListener('change', () => { st.operation = ''; loadOperations(svcSel.value); });

	function submit(ev) {
		ev.preventDefault();
		const next = {
			service: svcSel.value, operation: opSel.value, tags: tagsIn.value.trim(),
			minDuration: minIn.value.trim(), maxDuration: maxIn.value.trim(),
			lookback: lbSel.value, limit: limitIn.value, sort: sortSel.value,
		};
		if (lbSel.value === 'custom') {
			next.start = startIn.value;
			next.end = endIn.value;
		}
		const hash = makeHash('search', '', next);
		if (location.hash === hash)
			run();
		else
			location.hash = hash;
	}

	function query() {
		const q = { service: st.service, operation: st.operation, limit: st.limit };
		q.tags = parseTags(st.tags);
		for (const k of ['minDuration', 'maxDuration']) {
			if (st[k] && !DURATION_RE.test(st[k]))
				throw new Error(`${k}: "${st[k]}" is not a duration like 10ms or 1.5s`);
			q[k] = st[k];
		}
		if (st.lookback === 'custom') {
			const a = Date.parse(st.start);
			const b = Date.parse(st.end);
			if (!Number.isFinite(a) || !Number.isFinite(b) || b <= a)
				throw new Error('time range: the end must come after the start');
			q.startUs = a * 1000;
			q.endUs = b * 1000 + 59999999; /* the whole end minute */
		} else {
			q.endUs = Date.now() * 1000;
			q.startUs = q.endUs - st.lookback * 1e6;
		}
		return q;
	}

	async function run() {
		let q;
		try {
			q = query();
		} catch (e) {
			replace(results, h('p', { class: 'error', id: 'search-error' }, e.message));
			return;
		}
		replace(results, h('p', { class: 'hint' }, 'Searching…'));
		ctx.setStatus('Searching…');
		try {
			const { traces, errors } = await api.searchTraces(q, ctl.signal);
			showResults(traces, errors, q);
			ctx.setStatus(`${traces.length} trace${traces.length === 1 ? '' : 's'}`);
		} catch (e) {
			if (ctl.signal.aborted)
				return;
			replace(results, h('p', { class: 'error', id: 'search-error' }, e.message));
			ctx.setStatus('');
		}
	}

	function showResults(traces, errors, q) {
		const items = traces.map((t) => ({ t, m: buildTrace(t) }));
		const sorters = {
			recent: (a, b) => b.m.start - a.m.start,
			longest: (a, b) => b.m.duration - a.m.duration,
			shortest: (a, b) => a.m.duration - b.m.duration,
			spans: (a, b) => b.m.byId.size - a.m.byId.size,
		};
		const list = h('ol', { class: 'trace-list', id: 'trace-list' });
		const fill = () => {
			const sorted = items.slice().sort(sorters[sortSel.value] || sorters.recent);
			replace(list, sorted.map(item));
		};
		sortSel.onchange = fill;
		fill();
		replace(results,
			errors.length ? h('p', { class: 'error' }, errors.map((e) => e.msg || JSON.stringify(e)).join('; ')) : null,
			h('div', { class: 'results-head' },
				h('span', { id: 'search-count' }, `${traces.length} trace${traces.length === 1 ? '' : 's'}`),
				h('label', null, 'Sort ', sortSel)),
			traces.length ? scatter(items, q) : h('p', { class: 'hint', id: 'search-none' },
				'No trace matches. Widen the time range or remove conditions.'),
			list);
	}

	function item({ t, m }) {
		const svcs = [...m.services.entries()].sort((a, b) => b[1] - a[1]);
		return h('li', { class: 'trace-item', dataset: { trace: t.traceID } },
			h('a', { href: makeHash('trace', t.traceID) },
				h('div', { class: 'trace-head' },
					h('span', { class: 'trace-title' }, traceTitle(t, m)),
					h('span', { class: 'mono trace-id' }, t.traceID.slice(0, 16)),
					h('span', { class: 'trace-dur' }, fmtDurationUs(m.duration))),
				h('div', { class: 'trace-meta' },
					h('span', { class: 'badge' }, `${m.byId.size} span${m.byId.size === 1 ? '' : 's'}`),
					m.errors ? h('span', { class: 'badge err' }, `${m.errors} error${m.errors === 1 ? '' : 's'}`) : null,
					svcs.map(([name, n]) => h('span', { class: 'svc' },
						h('span', { class: 'dot', style: { backgroundColor: colorOf(name) } }), `${name} (${n})`)),
					h('span', { class: 'time' }, fmtTimeUs(m.start)))));
	}

	function scatter(items, q) {
		const W = 900;
		const H = 180;
		const pad = { l: 56, r: 12, t: 10, b: 24 };
		const x0 = Math.min(q.startUs, ...items.map((i) => i.m.start));
		const x1 = Math.max(q.endUs, ...items.map((i) => i.m.start));
		const yMax = Math.max(1, ...items.map((i) => i.m.duration)) * 1.1;
		const X = (v) => pad.l + ((v - x0) / Math.max(1, x1 - x0)) * (W - pad.l - pad.r);
		const Y = (v) => H - pad.b - (v / yMax) * (H - pad.t - pad.b);
		const ticks = [0, 0.5, 1].map((f) => f * yMax);
		return s('svg', { class: 'scatter', id: 'search-scatter', viewBox: `0 0 ${W} ${H}`,
			preserveAspectRatio: 'none', role: 'img', 'aria-label': 'trace durations over time' },
		s('line', { x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b, class: 'axis' }),
		s('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b, class: 'axis' }),
		ticks.map((v) => s('text', { x: pad.l - 4, y: Y(v) + 3, class: 'tick', 'text-anchor': 'end' },
			fmtDurationUs(v))),
		s('text', { x: pad.l, y: H - 6, class: 'tick' }, fmtTimeUs(x0).slice(11, 19)),
		s('text', { x: W - pad.r, y: H - 6, class: 'tick', 'text-anchor': 'end' }, fmtTimeUs(x1).slice(11, 19)),
		items.map(({ t, m }) => s('circle', {
			cx: X(m.start).toFixed(1), cy: Y(m.duration).toFixed(1),
			r: (3 + Math.min(6, Math.log2(1 + m.byId.size))).toFixed(1),
			class: m.errors ? 'pt err' : 'pt', dataset: { trace: t.traceID },
			on: { click: () => { location.hash = makeHash('trace', t.traceID); } },
		}, s('title', null, `${traceTitle(t, m)} — ${fmtDurationUs(m.duration)} — ${fmtTimeUs(m.start)}`))));
	}

	(async () => {
		try {
			const list = await knownServices(ctl.signal);
			const opts = [['', list.length ? 'choose a service' : 'no services yet']]
				.concat(list.map((x) => [x, x]));
			if (st.service && !list.includes(st.service))
				opts.push([st.service, st.service]);
			replace(svcSel, opts.map(([v, l]) => h('option', { value: v, selected: v === st.service }, l)));
			await loadOperations(st.service);
			ctx.setStatus('');
		} catch (e) {
			if (!ctl.signal.aborted)
				ctx.setStatus(`Services: ${e.message}`, true);
		}
		if (st.service && !ctl.signal.aborted)
			run();
	})();

	return () => ctl.abort();
}
