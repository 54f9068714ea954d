/*
 * boot.js - the page's first script, a few hundred bytes run before the
 * app's bundle (cytoscape included) has been fetched and compiled: when
 * the route is the topology view with namespaces in the URL, it asks for
 * the namespace list and the graph at once (api.prefetch), so that their
 * answers arrive and are parsed while the browser compiles the bundle;
 * graph.js then takes them instead of asking again. Any other route: it
 * does nothing. An external script (the page's CSP forbids inline ones).
 */
import { GRAPH_PATH, graphParams, NAMESPACES_PATH, namespacesParams, prefetch } from './api.js';
import { parseHash } from './format.js';
import { namespaceWindowS, stateFrom } from './graph_state.js';

const { view, params } = parseHash(location.hash);
if (view === 'graph') {
	const st = stateFrom(params);
	if (st.namespaces.length) {
		prefetch(GRAPH_PATH, graphParams(st));
		prefetch(NAMESPACES_PATH, namespacesParams(namespaceWindowS(st)));
	}
}
