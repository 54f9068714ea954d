/*
 * report.js - runs the libmixd CLI `mixd-report` (process.env.MIXD_REPORT_BIN)
 * against a mixd's report listener, and keeps the books on what a script
 * recorded.
 *
 * startReporter() spawns one mixd-report process (its own libmixd reporter,
 * so its own instance id). In script mode the script is read from the
 * process' stdin (`--script -`): write() hands it lines while it runs, so a
 * test can record in phases and wait (by polling) in between; end() closes
 * stdin, and the reporter then ships the rest within its close deadline,
 * prints its exit JSON and exits. done() resolves to
 * {code, signal, json, stdout, stderr}, bounded. stop() kills a reporter
 * still running (for t.after).
 *
 * Script keeps a test's expected totals: every record/tcp/span line written
 * through it is added to the totals of its series and of the current phase,
 * so the test compares what it recorded with what mixd (or Prometheus) shows
 * without trusting the reporter.
 */
'use strict';

const { spawn } = require('node:child_process');

const STDERR_KEEP = 64 * 1024;

function reportBin() {
	const bin = process.env.MIXD_REPORT_BIN;
	if (!bin)
		throw new Error('MIXD_REPORT_BIN is not set (absolute path of the mixd-report binary)');
	return bin;
}

/* The report URL of a started mixd (its "report" listener, IPv4). */
function reportUrl(mixd) {
	return `${mixd.url('report')}/v1/report`;
}

/*
 * Starts mixd-report. Options: url (required), role ('source' or
 * 'destination'), workload, app, version, namespace, flushMs (flush
 * interval), closeDeadlineMs, script (true: read the script from stdin),
 * args (more flags, e.g. the synthetic mode's --rate/--series).
 */
function startReporter(opts) {
	const { url, role = 'source', workload, app, version, namespace, flushMs = 200,
		closeDeadlineMs = 10000, script = false, args = [] } = opts;
	if (!url)
		throw new Error('startReporter: url is required');
	const argv = ['--url', url, '--role', role,
		'--flush-interval-ms', String(flushMs), '--close-deadline-ms', String(closeDeadlineMs)];
	if (workload)
		argv.push('--workload', workload);
	if (app)
		argv.push('--app', app);
	if (version)
		argv.push('--version', version);
	if (namespace)
		argv.push('--namespace', namespace);
	if (script)
		argv.push('--script', '-');
	argv.push(...args);

	const proc = spawn(reportBin(), argv, { stdio: [script ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
	let stdout = '';
	let stderr = '';
	let exited = null;
	const waiters = [];
	proc.stdout.setEncoding('utf8');
	proc.stderr.setEncoding('utf8');
	proc.stdout.on('data', (d) => { stdout += d; });
	proc.stderr.on('data', (d) => {
		stderr += d;
		if (stderr.length > STDERR_KEEP)
			stderr = stderr.slice(-STDERR_KEEP);
	});
	if (proc.stdin)
		proc.stdin.on('error', () => {}); /* EPIPE after an early exit: done() reports it */
	proc.on('error', (e) => {
		stderr += `\nspawn error: ${e.message}`;
	});
	proc.on('close', (code, signal) => {
		exited = { code, signal };
		for (const w of waiters.splice(0))
			w();
	});

	const name = `mixd-report ${workload || ''} (${role}, pid ${proc.pid})`;

	function result() {
		const line = stdout.trim().split('\n').pop() || '';
		let json = null;
		try {
			json = JSON.parse(line);
		} catch (e) {
			json = null;
		}
		return { code: exited.code, signal: exited.signal, json, stdout, stderr };
	}

	const handle = {
		proc,
		argv,
		name,
		get stderr() { return stderr; },
		get exited() { return exited; },
		/* Writes script lines (an array or one string). */
		write(lines) {
			const text = Array.isArray(lines) ? lines.join('\n') + '\n' : lines;
			proc.stdin.write(text);
		},
		/* Closes stdin: the script ends, the reporter closes and exits. */
		end() {
			if (proc.stdin && !proc.stdin.destroyed)
				proc.stdin.end();
		},
		/* Resolves once the process has exited (bounded by timeoutMs). */
		done(timeoutMs = 30000) {
			if (exited)
				return Promise.resolve(result());
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(
					`${name} did not exit within ${timeoutMs} ms\nargv: ${argv.join(' ')}\n` +
					`stderr:\n${stderr}`)), timeoutMs);
				waiters.push(() => { clearTimeout(timer); resolve(result()); });
			});
		},
		/* Kills it if it still runs and waits for the exit. */
		async stop() {
			if (exited)
				return;
			proc.kill('SIGKILL');
			await handle.done(10000).catch(() => {});
		},
	};
	return handle;
}

/* Asserts-in-a-throw that a finished reporter exited 0 with an ok exit JSON;
 * returns the JSON. */
function checkExit(rep, res) {
	if (res.code !== 0 || !res.json || res.json.ok !== true)
		throw new Error(`${rep.name} exited with code ${res.code} signal ${res.signal} ` +
			`(expected 0 with ok:true)\nargv: ${rep.argv.join(' ')}\nstdout:\n${res.stdout}\n` +
			`stderr:\n${res.stderr}`);
	return res.json;
}

function zeroTotals() {
	return {
		count: 0, duration_ms_sum: 0, request_bytes_sum: 0, response_bytes_sum: 0,
		tcp_opened: 0, tcp_closed: 0, tcp_sent: 0, tcp_received: 0, spans: 0,
		durations: [], span_ms: [],
	};
}

/*
 * The script of one reporter with its expected totals. series() defines a
 * series (meta: anything the test wants to keep with it, e.g. its code);
 * record/tcp/span add lines and totals; phase(name) starts a new phase
 * (totals per phase and series); take() returns the lines written since
 * the last take().
 */
class Script {
	constructor() {
		this.series = new Map(); /* name -> {name, spec, meta, total, phases: Map} */
		this.lines = [];
		this.phaseName = 'main';
	}

	phase(name) {
		this.phaseName = name;
		return this;
	}

	define(name, spec, meta = {}) {
		if (this.series.has(name))
			throw new Error(`series ${name} defined twice`);
		this.series.set(name, { name, spec, meta, total: zeroTotals(), phases: new Map() });
		this.lines.push(`series ${name} ${spec}`);
		return this;
	}

	cell(name) {
		const s = this.series.get(name);
		if (!s)
			throw new Error(`no series ${name}`);
		if (!s.phases.has(this.phaseName))
			s.phases.set(this.phaseName, zeroTotals());
		return [s.total, s.phases.get(this.phaseName)];
	}

	record(name, count, ms, reqBytes, respBytes) {
		for (const c of this.cell(name)) {
			c.count += count;
			c.duration_ms_sum += count * ms;
			c.request_bytes_sum += count * reqBytes;
			c.response_bytes_sum += count * respBytes;
			for (let i = 0; i < count; i++)
				c.durations.push(ms);
		}
		this.lines.push(`record ${name} ${count} ${ms} ${reqBytes} ${respBytes}`);
		return this;
	}

	tcp(name, opened, closed, sent, received) {
		for (const c of this.cell(name)) {
			c.tcp_opened += opened;
			c.tcp_closed += closed;
			c.tcp_sent += sent;
			c.tcp_received += received;
		}
		this.lines.push(`tcp ${name} ${opened} ${closed} ${sent} ${received}`);
		return this;
	}

	span(name, ms) {
		for (const c of this.cell(name)) {
			c.spans++;
			c.span_ms.push(ms);
		}
		this.lines.push(`span ${name} ${ms}`);
		return this;
	}

	take() {
		return this.lines.splice(0);
	}

	/* Totals of one series in one phase (zeros when it had none). */
	phaseTotals(name, phase) {
		const s = this.series.get(name);
		return (s && s.phases.get(phase)) || zeroTotals();
	}

	/* Totals of one series summed over several phases. */
	phasesTotals(name, phases) {
		const out = zeroTotals();
		for (const p of phases) {
			const c = this.phaseTotals(name, p);
			for (const k of Object.keys(out))
				out[k] = Array.isArray(out[k]) ? out[k].concat(c[k]) : out[k] + c[k];
		}
		return out;
	}
}

/* The value of `key` in a mixd-report series SPEC ("k=v,k=v"). */
function specValue(spec, key) {
	const kv = spec.split(',').find((p) => p.startsWith(`${key}=`));
	return kv ? kv.slice(key.length + 1) : undefined;
}

/* A series' identity as tests name it: local workload |
 * destination_service_name | response_code ('' for TCP). specKey() builds
 * it from a reporter's workload and a SPEC (code: the given one, else the
 * SPEC's, else 200), labelsKey() from Istio labels as /metrics or
 * Prometheus show them (the local workload is the source side of
 * reporter="source", else the destination side). */
function specKey(workload, spec, code) {
	if (specValue(spec, 'tcp') === '1')
		return `${workload}|${specValue(spec, 'service_name')}|`;
	return `${workload}|${specValue(spec, 'service_name')}|${code || specValue(spec, 'code') || '200'}`;
}

function labelsKey(l) {
	const local = l.reporter === 'source' ? l.source_workload : l.destination_workload;
	return `${local}|${l.destination_service_name}|${l.response_code || ''}`;
}

module.exports = { reportBin, reportUrl, startReporter, checkExit, Script, specValue, specKey,
	labelsKey };
