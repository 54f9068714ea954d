/*
 * trace.js - the trace view (#/trace/<id>[?span=<spanID>]): a header with
 * the trace's root, duration, services and depth, then the waterfall: one
 * row per span in tree order (depth first, siblings by start time), its
 * bar placed on the trace's timeline; a row opens the span's details
 * (tags, process tags, events with their offsets, links to other spans or
 * traces, warnings), a row with children collapses its subtree. Every
 * value is inserted as text.
 */
import * as api from './api.js';
import { h, kvTable, replace } from './dom.js';
import { colorOf, fmtDurationUs, fmtTimeUs, makeHash, tagText } from './format.js';
import { buildTrace, isError, parentOf, processOf, serviceOf, tag, traceTitle } from './trace_model.js';

const HEX_ID = /^[0-9a-fA-F]{1,32}$/;

function tagRows(tags) {
	return (tags || []).map((t) => [t.key, tagText(t)]);
}

function tagsTable(tags, cls) {
	const rows = tagRows(tags);
	return rows.length ? kvTable(rows, `kv tags ${cls || ''}`) : h('p', { class: 'hint' }, 'none');
}

function spanDetails(trace, model, span) {
	const proc = processOf(trace, span);
	const parent = parentOf(span, model.byId);
	const kind = tag(span, 'span.kind');
	const links = (span.references || []).filter((r) => !(r.refType === 'CHILD_OF' && r.spanID === parent &&
		r.traceID === span.traceID));
	const logs = (span.logs || []).slice().sort((a, b) => a.timestamp - b.timestamp);
	return h('div', { class: 'wf-detail', dataset: { spanId: span.spanID } },
		h('h3', { class: 'detail-title' }, span.operationName),
		kvTable([
			['Service', serviceOf(trace, span)],
			['Span ID', span.spanID],
			['Parent', parent || '(root)'],
			['Kind', kind === undefined ? '-' : String(kind)],
			['Start', `+${fmtDurationUs(span.startTime - model.start)} (${fmtTimeUs(span.startTime)})`],
			['Duration', fmtDurationUs(span.duration)],
		], 'kv span-kv'),
		h('h4', null, `Tags (${(span.tags || []).length})`),
		tagsTable(span.tags, 'span-tags'),
		h('h4', null, `Process (${(proc.tags || []).length})`),
		tagsTable(proc.tags, 'process-tags'),
		h('h4', null, `Events (${logs.length})`),
		logs.length ? h('ol', { class: 'events' }, logs.map((l) => {
			const fields = l.fields || [];
			const ev = fields.find((f) => f.key === 'event');
			return h('li', { class: 'event' },
				h('span', { class: 'event-time' }, `+${fmtDurationUs(l.timestamp - span.startTime)}`), ' ',
				h('span', { class: 'event-name' }, ev ? tagText(ev) : 'log'),
				tagsTable(fields.filter((f) => f !== ev), 'event-fields'));
		})) : h('p', { class: 'hint' }, 'none'),
		h('h4', null, `Links (${links.length})`),
		links.length ? h('ul', { class: 'links' }, links.map((r) => {
			const same = r.traceID === span.traceID;
			const target = same && model.byId.get(r.spanID);
			let a = null;
			if (HEX_ID.test(r.traceID) && HEX_ID.test(r.spanID))
				a = h('a', { href: makeHash('trace', r.traceID, { span: r.spanID }) },
					same ? (target ? `${serviceOf(trace, target)}: ${target.operationName}` : 'span in this trace')
						: 'open linked trace');
			return h('li', { class: 'link' }, h('span', { class: 'badge' }, r.refType), ' ',
				h('span', { class: 'mono' }, `${r.traceID} / ${r.spanID}`), ' ', a);
		})) : h('p', { class: 'hint' }, 'none'),
		(span.warnings && span.warnings.length) ? [h('h4', null, 'Warnings'),
			h('ul', { class: 'warnings' }, span.warnings.map((w) => h('li', null, w)))] : null);
}

export function traceView(root, id, params, ctx) {
	const ctl = new AbortController();
	replace(root, h('p', { class: 'hint' }, 'Loading trace…'));
	ctx.setStatus('Loading trace…');

	function render(trace) {
		const model = buildTrace(trace);
		const total = Math.max(1, model.duration);
		const open = new Set();
		const collapsed = new Set();
		const rowsBox = h('div', { class: 'wf-rows', id: 'waterfall-rows' });
		const pct = (v) => `${((100 * v) / total).toFixed(3)}%`;

		function rowEl({ span, depth, nChildren }) {
			const svc = serviceOf(trace, span);
			const err = isError(span);
			const toggle = nChildren ? h('button', { type: 'button', class: 'twisty',
				title: 'collapse or expand the children',
				on: { click: (ev) => { ev.stopPropagation(); flip(collapsed, span.spanID); } } },
			collapsed.has(span.spanID) ? '▸' : '▾') : h('span', { class: 'twisty-pad' });
			const off = span.startTime - model.start;
			const bar = h('div', { class: err ? 'wf-bar err' : 'wf-bar', style: {
				left: pct(off), width: `max(2px, ${pct(span.duration)})`, backgroundColor: colorOf(svc) } });
			const durLeft = (off + span.duration) / total < 0.8;
			const dur = h('span', { class: 'wf-dur', style: durLeft
				? { left: `calc(${pct(off + span.duration)} + 4px)` }
				: { right: `calc(${pct(total - off)} + 4px)` } }, fmtDurationUs(span.duration));
			return h('div', { class: `wf-row${open.has(span.spanID) ? ' open' : ''}${err ? ' error' : ''}`,
				role: 'button', tabindex: '0', dataset: { spanId: span.spanID, depth: String(depth) },
				on: {
					click: () => flip(open, span.spanID),
					keydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); flip(open, span.spanID); } },
				} },
			h('div', { class: 'wf-label', style: { paddingLeft: `${depth * 14 + 4}px` } },
				toggle,
				h('span', { class: 'dot', style: { backgroundColor: colorOf(svc) } }),
				h('span', { class: 'wf-svc' }, svc), ' ',
				h('span', { class: 'wf-op' }, span.operationName),
				err ? h('span', { class: 'badge err' }, 'error') : null),
			h('div', { class: 'wf-track' }, bar, dur));
		}

		function flip(set, key) {
			if (set.has(key))
				set.delete(key);
			else
				set.add(key);
			draw();
		}

		function draw() {
			const out = [];
			let hideBelow = Infinity;
			for (const r of model.rows) {
				if (r.depth > hideBelow)
					continue;
				hideBelow = collapsed.has(r.span.spanID) ? r.depth : Infinity;
				out.push(rowEl(r));
				if (open.has(r.span.spanID))
					out.push(spanDetails(trace, model, r.span));
			}
			replace(rowsBox, out);
		}

		const ticks = [0, 0.25, 0.5, 0.75, 1];
		const services = [...model.services.entries()].sort((a, b) => b[1] - a[1]);
		replace(root, h('section', { class: 'trace-page' },
			h('header', { class: 'trace-header' },
				h('h1', { id: 'trace-title' }, traceTitle(trace, model)),
				kvTable([
					['Trace ID', trace.traceID],
					['Start', fmtTimeUs(model.start)],
					['Duration', fmtDurationUs(model.duration)],
					['Services', services.map(([n, c]) => `${n} (${c})`).join(', ')],
					['Depth', String(model.depth)],
					['Spans', String(model.byId.size)],
					['Errors', String(model.errors)],
				], 'kv trace-kv'),
				(trace.warnings && trace.warnings.length)
					? h('ul', { class: 'warnings' }, trace.warnings.map((w) => h('li', null, w))) : null),
			h('div', { class: 'waterfall', id: 'waterfall' },
				h('div', { class: 'wf-head' },
					h('div', { class: 'wf-label' }, 'Service and operation'),
					h('div', { class: 'wf-track' }, ticks.map((f) => h('span', {
						class: 'tick', style: f < 1 ? { left: `${f * 100}%` } : { right: '0' } },
					fmtDurationUs(f * model.duration))))),
				rowsBox)));
		const want = params.get('span');
		if (want && model.byId.has(want))
			open.add(want);
		draw();
		if (want) {
			const el = rowsBox.querySelector(`[data-span-id="${CSS.escape(want)}"]`);
			if (el)
				el.scrollIntoView({ block: 'center' });
		}
	}

	(async () => {
		try {
			const t = await api.trace(id, ctl.signal);
			render(t);
			ctx.setStatus('');
		} catch (e) {
			if (ctl.signal.aborted)
				return;
			replace(root, h('p', { class: 'error', id: 'trace-error' }, e.message));
			ctx.setStatus('');
		}
	})();

	return () => ctl.abort();
}
