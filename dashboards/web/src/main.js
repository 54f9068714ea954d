/*
 * main.js - the UI's entry point: a hash router over three views,
 * #/graph (topology, graph.js), #/search (trace search, search.js) and
 * #/trace/<id> (trace view, trace.js). A route change disposes the view
 * shown before (its timers, requests and cytoscape instance). The status
 * line in the header shows progress and errors as text.
 */
import { clear } from './dom.js';
import { parseHash } from './format.js';
import { graphView } from './graph.js';
import { searchView } from './search.js';
import { traceView } from './trace.js';

let dispose = null;

function setStatus(msg, isError) {
	const el = document.getElementById('status');
	if (!el)
		return;
	el.textContent = msg || '';
	el.classList.toggle('error', Boolean(isError));
}

function route() {
	if (dispose) {
		dispose();
		dispose = null;
	}
	const root = document.getElementById('view');
	clear(root);
	setStatus('');
	const { view, arg, params } = parseHash(location.hash);
	const ctx = { setStatus };
	for (const id of ['nav-graph', 'nav-search'])
		document.getElementById(id).classList.toggle('active',
			id === (view === 'graph' ? 'nav-graph' : 'nav-search'));
	if (view === 'trace' && arg) {
		document.title = `Trace ${arg.slice(0, 16)} · mixd`;
		dispose = traceView(root, arg, params, ctx);
	} else if (view === 'search') {
		document.title = 'Traces · mixd';
		dispose = searchView(root, params, ctx);
	} else {
		document.title = 'Topology · mixd';
		dispose = graphView(root, params, ctx);
	}
}

window.addEventListener('hashchange', route);
route();
