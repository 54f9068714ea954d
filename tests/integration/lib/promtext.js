/*
 * promtext.js - reads mixd's /metrics in the Prometheus text format 0.0.4
 * for tests: fetch and parse into samples {name, labels, value}, and sum
 * samples of one metric grouped by a key function.
 *
 * The parser is strict where the format is (a sample line is a name,
 * optional {label="value",...} with \\, \" and \n escapes, a value and an
 * optional timestamp) and throws with the line on anything else, so a
 * malformed exposition fails the test instead of being misread.
 */
'use strict';

const { request } = require('./util');

function parseLabels(line, i, out) {
	/* line[i] === '{' */
	i++;
	for (;;) {
		while (line[i] === ' ')
			i++;
		if (line[i] === '}')
			return i + 1;
		const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
		if (!m)
			throw new Error(`bad label name at ${i}`);
		const key = m[0];
		i += key.length;
		if (line[i] !== '=' || line[i + 1] !== '"')
			throw new Error(`expected =" after label ${key}`);
		i += 2;
		let v = '';
		for (;;) {
			const c = line[i];
			if (c === undefined)
				throw new Error(`unterminated value of label ${key}`);
			if (c === '"')
				break;
			if (c === '\\') {
				const n = line[i + 1];
				if (n === 'n')
					v += '\n';
				else if (n === '\\' || n === '"')
					v += n;
				else
					throw new Error(`bad escape \\${n} in label ${key}`);
				i += 2;
				continue;
			}
			v += c;
			i++;
		}
		i++;
		if (key in out)
			throw new Error(`label ${key} repeated`);
		out[key] = v;
		if (line[i] === ',')
			i++;
		else if (line[i] !== '}')
			throw new Error(`expected , or } after label ${key}`);
	}
}

function parseValue(s) {
	if (s === '+Inf')
		return Infinity;
	if (s === '-Inf')
		return -Infinity;
	if (s === 'NaN')
		return NaN;
	if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s))
		throw new Error(`bad value ${JSON.stringify(s)}`);
	return Number(s);
}

/* Parses a text 0.0.4 exposition into [{name, labels, value}]. */
function parseText(text) {
	const samples = [];
	const lines = text.split('\n');
	for (const [n, line] of lines.entries()) {
		if (line === '' || line.startsWith('#'))
			continue;
		try {
			const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
			if (!m)
				throw new Error('bad metric name');
			const name = m[0];
			let i = name.length;
			const labels = {};
			if (line[i] === '{')
				i = parseLabels(line, i, labels);
			if (line[i] !== ' ')
				throw new Error('expected a space before the value');
			const rest = line.slice(i + 1).trim().split(/\s+/);
			if (rest.length < 1 || rest.length > 2)
				throw new Error('expected a value and an optional timestamp');
			samples.push({ name, labels, value: parseValue(rest[0]) });
		} catch (e) {
			throw new Error(`/metrics line ${n + 1}: ${e.message}: ${JSON.stringify(line)}`);
		}
	}
	return samples;
}

/* GET base/metrics as text 0.0.4 (no gzip). Resolves to {text, samples, headers}. */
async function fetchMetrics(base) {
	const r = await request(`${base}/metrics`, { headers: { Accept: 'text/plain;version=0.0.4' } });
	if (r.status !== 200)
		throw new Error(`GET ${base}/metrics: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
	const text = r.body.toString('utf8');
	return { text, samples: parseText(text), headers: r.headers };
}

/* Sums the samples named `name` into a Map keyed by keyFn(labels)
 * (default: one key ''). */
function sumBy(samples, name, keyFn = () => '') {
	const out = new Map();
	for (const s of samples) {
		if (s.name !== name)
			continue;
		const k = keyFn(s.labels);
		out.set(k, (out.get(k) || 0) + s.value);
	}
	return out;
}

module.exports = { parseText, fetchMetrics, sumBy };
