/*
 * prometheus.js - runs a real Prometheus server (the Debian package,
 * /usr/bin/prometheus, or process.env.PROMETHEUS_BIN) for a test, and
 * queries its HTTP API.
 *
 * startPrometheus() writes a temporary config (one job scraping the given
 * targets' /metrics at the given interval), starts Prometheus on 127.0.0.1
 * with a free port (picked by binding port 0 and releasing it; a start that
 * loses the port to another process is retried on a new one) with a
 * temporary TSDB directory and exemplar storage enabled, and waits
 * (bounded) for /-/ready. The handle's stop() sends SIGTERM, waits
 * (bounded, then SIGKILL) and removes the temporary directory.
 *
 * Query helpers: query(expr, time) evaluates an instant query and returns
 * the result array; matrix(expr, time) the same for range-vector results;
 * exemplars(expr, startMs, endMs) calls /api/v1/query_exemplars. Times are
 * milliseconds since the epoch (Prometheus' own sample resolution) and are
 * sent as RFC 3339 strings, so they reach Prometheus exactly.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { getJson, request, waitFor } = require('./util');

const STDERR_KEEP = 64 * 1024;

function promBin() {
	return process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
}

function promtoolBin() {
	return process.env.PROMTOOL_BIN || '/usr/bin/promtool';
}

/* A port that was free a moment ago on 127.0.0.1. */
function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

function configYaml({ job, targets, intervalS, timeoutS, metricsPath }) {
	return [
		'global:',
		`  scrape_interval: ${intervalS}s`,
		`  scrape_timeout: ${timeoutS}s`,
		`  evaluation_interval: ${intervalS}s`,
		'scrape_configs:',
		`  - job_name: ${JSON.stringify(job)}`,
		`    metrics_path: ${JSON.stringify(metricsPath)}`,
		'    static_configs:',
		`      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
		'',
	].join('\n');
}

/* One attempt: resolves to the handle once ready, rejects when the process
 * exits first or readiness times out (the process is then gone). */
async function startOnce(dir, port, readyMs) {
	const argv = [
		`--config.file=${path.join(dir, 'prometheus.yml')}`,
		`--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
		`--web.listen-address=127.0.0.1:${port}`,
		'--enable-feature=exemplar-storage',
		'--log.level=warn',
	];
	const proc = spawn(promBin(), argv, { stdio: ['ignore', 'ignore', 'pipe'] });
	let stderr = '';
	let exited = null;
	const waiters = [];
	proc.stderr.setEncoding('utf8');
	proc.stderr.on('data', (d) => {
		stderr += d;
		if (stderr.length > STDERR_KEEP)
			stderr = stderr.slice(-STDERR_KEEP);
	});
	proc.on('error', (e) => { stderr += `\nspawn error: ${e.message}`; });
	proc.on('exit', (code, signal) => {
		exited = { code, signal };
		for (const w of waiters.splice(0))
			w(exited);
	});
	function waitExit(ms) {
		if (exited)
			return Promise.resolve(exited);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(
				`prometheus (pid ${proc.pid}) did not exit within ${ms} ms`)), ms);
			waiters.push((e) => { clearTimeout(timer); resolve(e); });
		});
	}
	const url = `http://127.0.0.1:${port}`;
	try {
		const state = await waitFor(async () => {
			if (exited)
				return 'exited';
			const r = await request(`${url}/-/ready`, { timeoutMs: 2000 });
			return r.status === 200 && 'ready';
		}, { timeoutMs: readyMs, intervalMs: 100, what: 'prometheus /-/ready' });
		if (state === 'exited')
			throw new Error(`prometheus exited before it was ready (${JSON.stringify(exited)})`);
	} catch (e) {
		if (!exited)
			proc.kill('SIGKILL');
		await waitExit(5000).catch(() => {});
		e.message += `\nprometheus argv: ${argv.join(' ')}\nstderr:\n${stderr}`;
		e.stderr = stderr;
		throw e;
	}
	return { proc, url, argv, waitExit, get stderr() { return stderr; }, get exited() { return exited; } };
}

/*
 * Starts Prometheus scraping `targets` (host:port strings). Options: job
 * (default 'mixd'), intervalS (1), timeoutS (1), metricsPath ('/metrics'),
 * readyMs (20000).
 */
async function startPrometheus({ targets, job = 'mixd', intervalS = 1, timeoutS = 1,
	metricsPath = '/metrics', readyMs = 20000 } = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixd-prom-'));
	fs.writeFileSync(path.join(dir, 'prometheus.yml'),
		configYaml({ job, targets, intervalS, timeoutS, metricsPath }));
	let p = null;
	let lastErr = null;
	for (let attempt = 0; attempt < 3 && !p; attempt++) {
		const port = await freePort();
		try {
			p = await startOnce(dir, port, readyMs);
		} catch (e) {
			lastErr = e;
			/* only a lost port is worth another try */
			if (!/address already in use/i.test(e.stderr || ''))
				break;
		}
	}
	if (!p) {
		fs.rmSync(dir, { recursive: true, force: true });
		throw lastErr;
	}

	async function api(pathAndQuery) {
		const r = await getJson(`${p.url}${pathAndQuery}`, { timeoutMs: 10000 });
		if (r.status !== 200 || r.json.status !== 'success')
			throw new Error(`prometheus ${pathAndQuery}: ${r.status} ${JSON.stringify(r.json)}`);
		return r.json.data;
	}

	const handle = {
		url: p.url,
		dir,
		get stderr() { return p.stderr; },
		/* Instant query; time in ms (default: now). Returns data.result. */
		async query(expr, timeMs) {
			let q = `/api/v1/query?query=${encodeURIComponent(expr)}`;
			if (timeMs !== undefined)
				q += `&time=${encodeURIComponent(new Date(timeMs).toISOString())}`;
			const data = await api(q);
			return data.result;
		},
		/* A query whose result is one number (a scalar, or a vector of at
		 * most one element); null for an empty vector. */
		async scalar(expr, timeMs) {
			const res = await handle.query(expr, timeMs);
			if (!Array.isArray(res))
				return Number(res[1]);
			if (res.length === 0)
				return null;
			if (res.length > 1)
				throw new Error(`${expr}: ${res.length} results, expected one`);
			return Number(res[0].value[1]);
		},
		/* Instant query of a vector, as a Map from the value of label `by`
		 * to the number. */
		async vectorBy(expr, by, timeMs) {
			const res = await handle.query(expr, timeMs);
			const out = new Map();
			for (const r of res)
				out.set(r.metric[by] === undefined ? '' : r.metric[by], Number(r.value[1]));
			return out;
		},
		/* Range-vector query (e.g. `metric[5m]`): [{metric, samples: [[tMs, v]]}]. */
		async matrix(expr, timeMs) {
			const res = await handle.query(expr, timeMs);
			return res.map((r) => ({
				metric: r.metric,
				samples: r.values.map(([t, v]) => [Math.round(Number(t) * 1000), Number(v)]),
			}));
		},
		async exemplars(expr, startMs, endMs) {
			return api(`/api/v1/query_exemplars?query=${encodeURIComponent(expr)}` +
				`&start=${encodeURIComponent(new Date(startMs).toISOString())}` +
				`&end=${encodeURIComponent(new Date(endMs).toISOString())}`);
		},
		async targets() {
			return api('/api/v1/targets');
		},
		async stop() {
			try {
				if (!p.exited)
					p.proc.kill('SIGTERM');
				await p.waitExit(15000).catch(async () => {
					p.proc.kill('SIGKILL');
					await p.waitExit(5000).catch(() => {});
				});
			} finally {
				fs.rmSync(dir, { recursive: true, force: true });
			}
		},
	};
	return handle;
}

/* Runs `promtool check metrics` on `text`. Resolves to {code, output}. */
function promtoolCheckMetrics(text, { timeoutMs = 20000 } = {}) {
	return new Promise((resolve, reject) => {
		const proc = spawn(promtoolBin(), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
		let output = '';
		proc.stdout.setEncoding('utf8');
		proc.stderr.setEncoding('utf8');
		proc.stdout.on('data', (d) => { output += d; });
		proc.stderr.on('data', (d) => { output += d; });
		proc.stdin.on('error', () => {});
		const timer = setTimeout(() => {
			proc.kill('SIGKILL');
			reject(new Error(`promtool check metrics did not exit within ${timeoutMs} ms`));
		}, timeoutMs);
		proc.on('error', (e) => { clearTimeout(timer); reject(e); });
		proc.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
		proc.stdin.end(text);
	});
}

module.exports = { startPrometheus, promtoolCheckMetrics, promBin, promtoolBin };
