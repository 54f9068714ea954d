/*
 * dom.js - the only way the UI builds its page: elements made with
 * createElement, text put in as text nodes. Telemetry (service and span
 * names, tags, workload names) is attacker-controlled, so nothing here
 * parses HTML: no innerHTML, no insertAdjacentHTML, no event handler
 * attributes, and links may only point inside the page (#...).
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
}

function setAttr(el, name, value) {
	if (/^on/i.test(name))
		throw new Error(`event handler attribute ${name} refused`);
	if (name === 'href' && !String(value).startsWith('#'))
		throw new Error('only in-page links');
	el.setAttribute(name, String(value));
}

/* Styles go through the CSSOM (el.style.x = v), which the page's
 * Content-Security-Policy allows, never through a style attribute. */
function setStyle(el, styles) {
	for (const [k, v] of Object.entries(styles))
		el.style[k] = v;
}

/*
 * h(tag, props, ...children): an HTML element. props: class, any plain
 * attribute (title, type, value, for, id, href starting with '#', ...),
 * dataset {k: v}, style {cssProp: value} (CSSOM), on {event: fn}, checked /
 * selected / disabled / value (as properties). Children: nodes, strings (as text), arrays, null (skipped).
 */
export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === 'class')
			el.className = v;
		else if (k === 'dataset')
			Object.assign(el.dataset, v);
		else if (k === 'style')
			setStyle(el, v);
		else if (k === 'on')
			for (const [ev, fn] of Object.entries(v))
				el.addEventListener(ev, fn);
		else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'value')
			el[k] = v;
		else
			setAttr(el, k, v === true ? '' : v);
	}
	append(el, children);
	return el;
}

/* An SVG element (same props as h(), attributes set as given). */
export function s(tag, props, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === 'class')
			el.setAttribute('class', v);
		else if (k === 'on')
			for (const [ev, fn] of Object.entries(v))
				el.addEventListener(ev, fn);
		else if (k === 'dataset')
			for (const [dk, dv] of Object.entries(v))
				el.setAttribute(`data-${dk}`, String(dv));
		else
			setAttr(el, k, v);
	}
	append(el, children);
	return el;
}

/* Removes every child of el. */
export function clear(el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
}

/* Replaces the children of el. */
export function replace(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

/* A <select> from [[value, label], ...] with `value` selected. */
export function select(props, options, value) {
	return h('select', props, options.map(([v, label]) =>
		h('option', { value: v, selected: String(v) === String(value) }, label)));
}

/* A two-column table of [key, value] rows (values as text). */
export function kvTable(rows, cls = 'kv') {
	return h('table', { class: cls }, h('tbody', null, rows.map(([k, v]) =>
		h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))));
}
