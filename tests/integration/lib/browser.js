/*
 * browser.js - headless Chromium (Debian's `chromium` package) driven by
 * playwright-core, for the web UI tests.
 *
 * launchBrowser() starts /usr/bin/chromium (override: CHROMIUM_BIN) headless
 * with a fresh --user-data-dir (a persistent context on a new temporary
 * profile, removed by close()), no sandbox, no GPU, and
 * nothing that phones out (no QUIC, first-run, background networking,
 * component updates or sync); launching is bounded by timeoutMs. The
 * handle's newPage() opens a page that records what the tests assert on:
 * dialogs (dismissed at once), uncaught page errors, console errors and
 * Content-Security-Policy violations, and every request to a host other
 * than the page's own (the UI must work offline). close() closes the
 * browser (after a bounded wait, SIGKILL of the processes whose command
 * line names our profile: only the Chromium started here) and removes the
 * profile.
 *
 * artifactDir() is where screenshots go: $MIXD_TEST_ARTIFACTS, else
 * $MIXD_BUILD/test-artifacts/ui (`make integration` sets MIXD_BUILD to the
 * build dir), else <repo>/build/test-artifacts/ui; created.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-dev-shm-usage'];

function chromiumMissing() {
	try {
		fs.accessSync(CHROMIUM, fs.constants.X_OK);
		return null;
	} catch (e) {
		return `${CHROMIUM} is not installed (Debian package chromium; make deps installs it)`;
	}
}

function artifactDir() {
	const build = process.env.MIXD_BUILD || path.resolve(__dirname, '..', '..', '..', 'build');
	const dir = process.env.MIXD_TEST_ARTIFACTS || path.join(build, 'test-artifacts', 'ui');
	fs.mkdirSync(dir, { recursive: true });
	return dir;
}

/* pids of processes whose command line names `needle` (our profile dir:
 * only the Chromium we started has it) */
function pidsWith(needle) {
	const out = [];
	for (const d of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(d))
			continue;
		try {
			if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle))
				out.push(Number(d));
		} catch (e) {
			/* gone meanwhile */
		}
	}
	return out;
}

async function launchBrowser({ timeoutMs = 30000, viewport = { width: 1400, height: 900 } } = {}) {
	const { chromium } = require('playwright-core');
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mixd-chromium-'));
	let context;
	try {
		/* a persistent context is how playwright passes --user-data-dir;
		 * headless: true makes it pass --headless (a full Chromium's new
		 * headless mode) */
		context = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			args: FLAGS,
			timeout: timeoutMs,
			viewport,
			serviceWorkers: 'block',
		});
	} catch (e) {
		for (const pid of pidsWith(profile))
			try { process.kill(pid, 'SIGKILL'); } catch (err) { /* gone */ }
		fs.rmSync(profile, { recursive: true, force: true });
		throw e;
	}

	async function newPage() {
		const page = await context.newPage();
		const log = { dialogs: [], pageErrors: [], consoleErrors: [], foreign: [] };
		page.on('dialog', (d) => {
			log.dialogs.push(`${d.type()}: ${d.message()}`);
			d.dismiss().catch(() => {});
		});
		page.on('pageerror', (e) => log.pageErrors.push(e.message));
		page.on('console', (m) => {
			if (m.type() === 'error')
				log.consoleErrors.push(m.text());
		});
		page.on('request', (r) => {
			const u = new URL(r.url());
			if (u.protocol !== 'data:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
				log.foreign.push(r.url());
		});
		/* runs before the page's own scripts, and outside its CSP */
		await page.addInitScript(() => {
			window.__cspViolations = [];
			document.addEventListener('securitypolicyviolation', (e) => {
				window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
			});
		});
		page.cspViolations = () => page.evaluate(() => window.__cspViolations || []);
		return { page, log };
	}

	async function close() {
		const closing = context.close().then(() => 'ok', () => 'ok');
		let timer;
		const late = new Promise((r) => { timer = setTimeout(r, 10000, 'timeout'); });
		await Promise.race([closing, late]);
		clearTimeout(timer);
		for (const pid of pidsWith(profile))
			try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
		fs.rmSync(profile, { recursive: true, force: true });
	}

	return { context, newPage, close, profile };
}

module.exports = { launchBrowser, chromiumMissing, artifactDir, CHROMIUM, FLAGS };
