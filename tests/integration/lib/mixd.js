/*
 * mixd.js - starts the real mixd binary (process.env.MIXD_BIN) for a test.
 *
 * startMixd() spawns mixd on a fresh temporary storage directory (unless
 * one is given) with every listener on localhost:0, waits (bounded) for the
 * one `mixd listening {...}` line on stdout and returns a handle with the
 * bound addresses, url(name) for building request URLs, stop() (SIGTERM,
 * bounded wait, exit code 0 asserted) and kill() (SIGKILL). stderr is kept
 * for diagnostics and quoted in every error. A storage directory created
 * here is removed by stop()/kill(); one passed in belongs to the caller.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const LISTEN_PREFIX = 'mixd listening ';
const STDERR_KEEP = 64 * 1024;

function mixdBin() {
	const bin = process.env.MIXD_BIN;
	if (!bin)
		throw new Error('MIXD_BIN is not set (absolute path of the mixd binary)');
	return bin;
}

/* Default flags, each left out when args already set the same flag. */
function withDefaults(dataDir, args) {
	const defaults = [
		['--storage.path', dataDir],
		['--otlp.listen-address', 'localhost:0'],
		['--query.listen-address', 'localhost:0'],
		['--web.listen-address', 'localhost:0'],
		['--zipkin.listen-address', 'localhost:0'],
		['--jaeger.collector-listen-address', 'localhost:0'],
		['--jaeger.agent-compact-listen-address', 'localhost:0'],
		['--jaeger.agent-binary-listen-address', 'localhost:0'],
		['--report.listen-address', 'localhost:0'],
	];
	const given = new Set(args.map((a) => a.split('=')[0]));
	const out = [];
	for (const [flag, value] of defaults)
		if (!given.has(flag))
			out.push(`${flag}=${value}`);
	return out.concat(args);
}

/* Host:port string of the listen line to an http:// base URL (IPv4 first). */
function baseUrl(addrs, name) {
	const list = addrs[name];
	if (!Array.isArray(list) || list.length === 0)
		throw new Error(`mixd has no '${name}' listener (listen line: ${JSON.stringify(addrs)})`);
	const v4 = list.find((a) => a.startsWith('127.0.0.1:'));
	return 'http://' + (v4 || list[0]);
}

/*
 * Starts mixd. Options: dataDir (default: a fresh temp dir, removed on
 * stop/kill), args (extra flags), env (added to the environment),
 * timeoutMs (for the listen line, default 10 s).
 */
function startMixd({ dataDir, args = [], env = {}, timeoutMs = 10000 } = {}) {
	const ownsDir = !dataDir;
	if (ownsDir)
		dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixd-data-'));
	const argv = withDefaults(dataDir, args);
	const proc = spawn(mixdBin(), argv, {
		stdio: ['ignore', 'pipe', 'pipe'],
		env: { ...process.env, ...env },
	});
	let stderr = '';
	let stdoutBuf = '';
	let exited = null; /* {code, signal} once the process has exited */
	const exitWaiters = [];

	proc.stderr.setEncoding('utf8');
	proc.stderr.on('data', (d) => {
		stderr += d;
		if (stderr.length > STDERR_KEEP)
			stderr = stderr.slice(-STDERR_KEEP);
	});
	proc.on('exit', (code, signal) => {
		exited = { code, signal };
		for (const w of exitWaiters.splice(0))
			w(exited);
	});

	function waitExit(ms) {
		if (exited)
			return Promise.resolve(exited);
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(
				`mixd (pid ${proc.pid}) did not exit within ${ms} ms\nstderr:\n${stderr}`)), ms);
			exitWaiters.push((e) => { clearTimeout(timer); resolve(e); });
		});
	}

	function removeDir() {
		if (ownsDir)
			fs.rmSync(dataDir, { recursive: true, force: true });
	}

	const handle = {
		proc,
		dataDir,
		argv,
		addrs: null,
		get stderr() { return stderr; },
		get exited() { return exited; },
		url(name) { return baseUrl(handle.addrs, name); },
		waitExit,
		/* SIGTERM, wait (bounded) for the exit, assert status 0. Safe to
		 * call again or after kill(). */
		async stop({ timeoutMs: ms = 15000 } = {}) {
			let res;
			try {
				if (!exited)
					proc.kill('SIGTERM');
				res = await waitExit(ms);
			} catch (e) {
				proc.kill('SIGKILL');
				await waitExit(5000).catch(() => {});
				removeDir();
				throw e;
			}
			const killedByUs = handle.killed;
			removeDir();
			if (!killedByUs && (res.code !== 0 || res.signal !== null))
				throw new Error(`mixd exited with code ${res.code} signal ${res.signal} ` +
					`(expected 0)\nstderr:\n${stderr}`);
			return res;
		},
		killed: false,
		/* SIGKILL and wait for the process to be gone. */
		async kill() {
			handle.killed = true;
			if (!exited)
				proc.kill('SIGKILL');
			const res = await waitExit(10000);
			removeDir();
			return res;
		},
	};

	return new Promise((resolve, reject) => {
		let done = false;
		const timer = setTimeout(() => finish(new Error(
			`no '${LISTEN_PREFIX.trim()}' line from mixd within ${timeoutMs} ms\nargv: ` +
			`${argv.join(' ')}\nstderr:\n${stderr}`)), timeoutMs);

		function finish(err) {
			if (done)
				return;
			done = true;
			clearTimeout(timer);
			if (err) {
				if (!exited)
					proc.kill('SIGKILL');
				waitExit(5000).catch(() => {}).then(() => { removeDir(); reject(err); });
			} else {
				resolve(handle);
			}
		}

		proc.stdout.setEncoding('utf8');
		proc.stdout.on('data', (d) => {
			if (handle.addrs)
				return; /* keep draining, nothing more is expected */
			stdoutBuf += d;
			let nl;
			while (!handle.addrs && (nl = stdoutBuf.indexOf('\n')) >= 0) {
				const line = stdoutBuf.slice(0, nl);
				stdoutBuf = stdoutBuf.slice(nl + 1);
				if (!line.startsWith(LISTEN_PREFIX))
					continue;
				try {
					handle.addrs = JSON.parse(line.slice(LISTEN_PREFIX.length));
				} catch (e) {
					finish(new Error(`bad listen line ${JSON.stringify(line)}: ${e.message}`));
					return;
				}
				finish(null);
			}
		});
		proc.on('error', (e) => finish(new Error(`cannot start ${mixdBin()}: ${e.message}`)));
		proc.on('exit', (code, signal) => finish(new Error(
			`mixd exited (code ${code}, signal ${signal}) before its listen line\nargv: ` +
			`${argv.join(' ')}\nstderr:\n${stderr}`)));
	});
}

/* Runs mixd with the given args to completion (for --help, --version, bad
 * flags). Resolves to {code, signal, stdout, stderr, listened}; bounded by
 * timeoutMs. A run that prints the listen line is killed at once and
 * resolves with listened = true (and code null). */
function runMixd(args, { timeoutMs = 10000 } = {}) {
	return new Promise((resolve, reject) => {
		const proc = spawn(mixdBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		let listened = false;
		proc.stdout.setEncoding('utf8');
		proc.stderr.setEncoding('utf8');
		proc.stdout.on('data', (d) => {
			stdout += d;
			if (!listened && stdout.includes(LISTEN_PREFIX)) {
				listened = true;
				proc.kill('SIGKILL');
			}
		});
		proc.stderr.on('data', (d) => { stderr += d; });
		const timer = setTimeout(() => {
			proc.kill('SIGKILL');
			reject(new Error(`mixd ${args.join(' ')} did not exit within ${timeoutMs} ms\n` +
				`stdout:\n${stdout}\nstderr:\n${stderr}`));
		}, timeoutMs);
		proc.on('error', (e) => { clearTimeout(timer); reject(e); });
		proc.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr, listened });
		});
	});
}

module.exports = { startMixd, runMixd, LISTEN_PREFIX };
