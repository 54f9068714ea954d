#!/usr/bin/env node
/*
 * build.js - bundles mixd's web UI for embedding into the mixd binary.
 *
 * Usage: node dashboards/web/build.js OUT_DIR
 *
 * esbuild bundles src/main.js (with cytoscape and cytoscape-dagre from this
 * folder's node_modules, installed by `npm ci` from package-lock.json) into
 * one minified IIFE script, src/boot.js (the small first script that asks
 * for the first view's data while the big one loads) into another, and
 * css/app.css into one stylesheet; each gets a content-hashed name
 * (app.<hash>.js, boot.<hash>.js, app.<hash>.css) so that mixd can serve it
 * as immutable. index.html is copied with its {{app.js}}, {{boot.js}} and
 * {{app.css}} placeholders replaced by those names. OUT_DIR is emptied
 * first and then holds exactly: index.html, assets/app.<hash>.js,
 * assets/boot.<hash>.js, assets/app.<hash>.css (scripts/embed_web.js turns
 * that folder into C).
 *
 * Nothing is fetched at run time: the page uses the system's fonts and no
 * CDN, and every script is external (the Content-Security-Policy mixd sends
 * forbids inline scripts).
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const HERE = __dirname;

function fail(msg) {
	process.stderr.write(`build.js: ${msg}\n`);
	process.exit(1);
}

function hashOf(buf) {
	return crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

async function main() {
	const out = process.argv[2];
	if (!out)
		fail('usage: node build.js OUT_DIR');
	let esbuild;
	try {
		esbuild = require(path.join(HERE, 'node_modules', 'esbuild'));
	} catch (e) {
		fail(`esbuild is not installed (run npm ci in ${HERE}): ${e.message}`);
	}
	const common = {
		bundle: true,
		minify: true,
		write: false,
		legalComments: 'none',
		logLevel: 'warning',
		absWorkingDir: HERE,
	};
	const script = (entry, outfile) => esbuild.build({
		...common,
		entryPoints: [path.join(HERE, 'src', entry)],
		format: 'iife',
		target: ['es2020'],
		platform: 'browser',
		outfile,
		define: { 'process.env.NODE_ENV': '"production"' },
	});
	const js = await script('main.js', 'app.js');
	const boot = await script('boot.js', 'boot.js');
	const css = await esbuild.build({
		...common,
		entryPoints: [path.join(HERE, 'css', 'app.css')],
		outfile: 'app.css',
	});
	const jsBuf = Buffer.from(js.outputFiles[0].contents);
	const cssBuf = Buffer.from(css.outputFiles[0].contents);
	const bootBuf = Buffer.from(boot.outputFiles[0].contents);
	const jsName = `app.${hashOf(jsBuf)}.js`;
	const bootName = `boot.${hashOf(bootBuf)}.js`;
	const cssName = `app.${hashOf(cssBuf)}.css`;

	let html = fs.readFileSync(path.join(HERE, 'index.html'), 'utf8');
	for (const [token, name] of [['{{app.js}}', jsName], ['{{boot.js}}', bootName], ['{{app.css}}', cssName]]) {
		if (!html.includes(token))
			fail(`index.html lacks ${token}`);
		html = html.split(token).join(name);
	}
	if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html) || /\son[a-z]+=/i.test(html))
		fail('index.html must not hold inline scripts or event handler attributes');

	fs.rmSync(out, { recursive: true, force: true });
	fs.mkdirSync(path.join(out, 'assets'), { recursive: true });
	fs.writeFileSync(path.join(out, 'index.html'), html);
	fs.writeFileSync(path.join(out, 'assets', jsName), jsBuf);
	fs.writeFileSync(path.join(out, 'assets', bootName), bootBuf);
	fs.writeFileSync(path.join(out, 'assets', cssName), cssBuf);
	process.stdout.write(`web: ${path.join(out, 'assets', jsName)} (${jsBuf.length} bytes), ` +
		`${bootName} (${bootBuf.length} bytes), ${cssName} (${cssBuf.length} bytes)\n`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
