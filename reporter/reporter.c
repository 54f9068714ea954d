/*
 * reporter.c - libmixd's lifecycle: configuration defaults and checks,
 * creating a reporter, starting it in the process that records (after
 * fork), closing it, error strings and counters.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reporter/reporter.h"

#define MXR_URL_MAX 4096

/* ids are never reused in a process, so a thread's TLS cache entry for a
 * closed reporter can never match a later one */
static _Atomic uint64_t next_reporter_id = 1;

MIXD_API const char *mixd_strerror(int err)
{
	switch (err) {
	case MIXD_OK:
		return "success";
	case MIXD_EINVAL:
		return "invalid argument";
	case MIXD_ENOMEM:
		return "out of memory or over a memory bound";
	case MIXD_ESTATE:
		return "wrong state for this call";
	case MIXD_ETIMEDOUT:
		return "deadline passed before delivery";
	case MIXD_EFULL:
		return "span ring full";
	case MIXD_ESYS:
		return "system resource failure";
	default:
		return "unknown error";
	}
}

MIXD_API const char *mixd_version(void)
{
	return MIXD_VERSION_STRING;
}

MIXD_API void mixd_config_init(struct mixd_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = "http://127.0.0.1:9091/v1/report";
	cfg->flush_interval_ms = 1000;
	cfg->request_timeout_ms = 5000;
	cfg->connect_timeout_ms = 1000;
	cfg->retry_initial_ms = 100;
	cfg->retry_max_ms = 30000;
	cfg->max_series = 10000;
	cfg->max_threads = 64;
	cfg->span_ring_capacity = 4096;
	cfg->span_max_bytes = 2048;
	cfg->sample_rate = 0.01;
}

static int str_ok(const char *s, size_t max)
{
	return !s || strnlen(s, max + 1) <= max;
}

static int config_ok(const struct mixd_config *c)
{
	const struct mixd_workload *l = &c->local;
	const char *ls[MXR_NWL] = { l->workload, l->workload_namespace, l->app, l->version,
				    l->canonical_service, l->canonical_revision, l->cluster,
				    l->principal };

	if (!c->url || !*c->url || !str_ok(c->url, MXR_URL_MAX))
		return 0;
	for (int i = 0; i < MXR_NWL; i++)
		if (!str_ok(ls[i], MIXD_LABEL_MAX))
			return 0;
	return c->flush_interval_ms >= 10 && c->flush_interval_ms <= 3600000 &&
	       c->request_timeout_ms >= 1 && c->connect_timeout_ms >= 1 &&
	       c->retry_initial_ms >= 1 && c->retry_max_ms >= c->retry_initial_ms &&
	       c->max_series >= 1 && c->max_series <= 1000000 && c->max_threads <= 4096 &&
	       c->span_ring_capacity <= (1u << 20) && c->span_max_bytes >= 256 &&
	       c->span_max_bytes <= 65536 && !isnan(c->sample_rate) && c->sample_rate >= 0 &&
	       c->sample_rate <= 1;
}

static void reporter_free(struct mixd_reporter *r)
{
	if (!r)
		return;
	if (r->key_ok) /* first: no destructor may run on freed shards */
		pthread_key_delete(r->key);
	mxr_flush_free(r);
	mxr_series_free(r);
	mxr_ring_free(&r->ring);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r->url);
	free(r);
}

static int sync_init(struct mixd_reporter *r)
{
	pthread_condattr_t ca;
	int ok;

	if (pthread_mutex_init(&r->lock, NULL) != 0)
		return MIXD_ESYS;
	if (pthread_condattr_init(&ca) != 0) {
		pthread_mutex_destroy(&r->lock);
		return MIXD_ESYS;
	}
	ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&r->cond, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!ok) {
		pthread_mutex_destroy(&r->lock);
		return MIXD_ESYS;
	}
	return MIXD_OK;
}

MIXD_API int mixd_reporter_new(const struct mixd_config *cfg, struct mixd_reporter **out)
{
	struct mixd_reporter *r;
	const struct mixd_workload *l;
	int rc;

	if (out)
		*out = NULL;
	if (!cfg || !out || !config_ok(cfg))
		return MIXD_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return MIXD_ENOMEM;
	if (sync_init(r) != MIXD_OK) {
		free(r);
		return MIXD_ESYS;
	}
	r->id = atomic_fetch_add(&next_reporter_id, 1);
	r->url = strdup(cfg->url);
	r->flush_interval_ms = cfg->flush_interval_ms;
	r->request_timeout_ms = cfg->request_timeout_ms;
	r->connect_timeout_ms = cfg->connect_timeout_ms;
	r->retry_initial_ms = cfg->retry_initial_ms;
	r->retry_max_ms = cfg->retry_max_ms;
	r->max_series = cfg->max_series;
	r->max_threads = cfg->max_threads;
	r->sample_rate = cfg->sample_rate;
	r->owner_pid = getpid();
	if (!r->url) {
		reporter_free(r);
		return MIXD_ENOMEM;
	}
	rc = mxr_series_init(r);
	if (rc == MIXD_OK)
		rc = mxr_ring_init(&r->ring, cfg->span_ring_capacity, cfg->span_max_bytes);
	l = &cfg->local;
	const char *ls[MXR_NWL] = { l->workload, l->workload_namespace, l->app, l->version,
				    l->canonical_service, l->canonical_revision, l->cluster,
				    l->principal };
	for (int i = 0; rc == MIXD_OK && i < MXR_NWL; i++) {
		r->local[i] = mxr_intern_locked(r, ls[i]);
		if (r->local[i] == UINT32_MAX)
			rc = MIXD_ENOMEM;
	}
	if (rc != MIXD_OK) {
		reporter_free(r);
		return rc;
	}
	*out = r;
	return MIXD_OK;
}

/* After fork(2) in the child: locks may have been held by threads that do
 * not exist here, and slots of the span ring may have been claimed by them
 * and never published. */
static int after_fork(struct mixd_reporter *r)
{
	if (sync_init(r) != MIXD_OK)
		return MIXD_ESYS;
	mxr_shards_after_fork(r);
	r->ring.tail = 0;
	atomic_store(&r->ring.head, 0);
	for (uint32_t i = 0; i < r->ring.cap; i++)
		atomic_store(&r->ring.seq[i], i);
	return MIXD_OK;
}

MIXD_API int mixd_reporter_start(struct mixd_reporter *r)
{
	pid_t pid = getpid();
	int forked, rc;

	if (!r)
		return MIXD_EINVAL;
	if (r->start_pid == pid)
		return MIXD_ESTATE;
	forked = r->owner_pid != pid;
	if (forked) {
		rc = after_fork(r);
		if (rc != MIXD_OK)
			return rc;
		r->owner_pid = pid;
	}
	r->closing = 0;
	rc = mxr_flush_create(r, forked && r->start_pid != 0);
	if (rc == MIXD_OK)
		rc = mxr_flush_start_thread(r);
	if (rc != MIXD_OK) {
		mxr_flush_free(r);
		return rc;
	}
	r->start_pid = pid;
	return MIXD_OK;
}

MIXD_API int mixd_reporter_close_stats(struct mixd_reporter *r, uint32_t deadline_ms,
				       struct mixd_stats *final)
{
	int rc = MIXD_OK;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!r)
		return MIXD_OK;
	if (r->start_pid && r->start_pid == getpid()) {
		uint64_t cpu = mxr_flush_cpu_ns(r);
		rc = mxr_flush_stop(r, deadline_ms);
		if (final) {
			mixd_reporter_stats(r, final);
			final->flush_cpu_ns = cpu;
		}
	} else if (final) {
		mixd_reporter_stats(r, final);
	}
	reporter_free(r);
	return rc;
}

MIXD_API int mixd_reporter_close(struct mixd_reporter *r, uint32_t deadline_ms)
{
	return mixd_reporter_close_stats(r, deadline_ms, NULL);
}

MIXD_API double mixd_reporter_sample_rate(const struct mixd_reporter *r)
{
	return r ? r->sample_rate : 0;
}

#define LD(x) atomic_load_explicit(&r->x, memory_order_relaxed)

MIXD_API int mixd_reporter_stats(const struct mixd_reporter *r, struct mixd_stats *o)
{
	if (!r || !o)
		return MIXD_EINVAL;
	memset(o, 0, sizeof(*o));
	o->series = atomic_load_explicit(&r->nseries, memory_order_relaxed) - 1;
	o->overflow_series = LD(overflow_series);
	o->threads = LD(threads);
	o->records_dropped = LD(records_dropped);
	o->reports_sent = LD(reports_sent);
	o->reports_acked = LD(reports_acked);
	o->reports_retried = LD(reports_retried);
	o->reports_rejected = LD(reports_rejected);
	o->reports_lost = LD(reports_lost);
	o->bytes_sent = LD(bytes_sent);
	o->last_report_bytes = LD(last_report_bytes);
	o->spans_recorded = LD(ring.recorded);
	o->spans_dropped = LD(ring.dropped);
	o->sequence = LD(sequence);
	o->last_http_status = LD(last_http_status);
	o->flush_cpu_ns = r->start_pid == getpid() ? mxr_flush_cpu_ns(r) : 0;
	return MIXD_OK;
}
