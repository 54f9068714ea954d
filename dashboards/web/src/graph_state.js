/*
 * graph_state.js - the topology view's controls as kept in the URL
 * (#/graph?namespaces=a,b&graphType=..&duration=<s>&refresh=<ms>&svc=1)
 * and the menus' choices. Its own module, without cytoscape, so that
 * boot.js can read the route before the app script has loaded.
 */

export const GRAPH_TYPES = [['app', 'App graph'], ['versionedApp', 'Versioned app graph'],
	['workload', 'Workload graph'], ['service', 'Service graph']];
export const DURATIONS = [[60, 'Last 1m'], [300, 'Last 5m'], [600, 'Last 10m'], [1800, 'Last 30m'],
	[3600, 'Last 1h'], [10800, 'Last 3h'], [21600, 'Last 6h'], [86400, 'Last 1d']];
export const REFRESH = [[0, 'Paused'], [10000, 'Every 10s'], [15000, 'Every 15s'], [30000, 'Every 30s'],
	[60000, 'Every 1m']];

/* The view's state of the route's parameters (defaults for what is
 * missing or not offered). */
export function stateFrom(params) {
	const num = (k, d, allowed) => {
		const v = Number(params.get(k));
		return params.has(k) && Number.isFinite(v) && (!allowed || allowed.some(([a]) => a === v)) ? v : d;
	};
	const gt = params.get('graphType');
	const refresh = num('refresh', 15000);
	return {
		namespaces: (params.get('namespaces') || '').split(',').filter(Boolean),
		graphType: GRAPH_TYPES.some(([v]) => v === gt) ? gt : 'versionedApp',
		durationS: num('duration', 600, DURATIONS),
		/* any period from 1 s in the URL; the menu offers the usual ones */
		refreshMs: refresh >= 1000 ? Math.round(refresh) : 0,
		injectServiceNodes: params.get('svc') === '1',
	};
}

/* The window (s) of the namespace list the view reads on every load: at
 * least an hour, so that quiet namespaces stay selectable. */
export function namespaceWindowS(st) {
	return Math.max(st.durationS, 3600);
}
