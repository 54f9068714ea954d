/*
 * flush.c - the flush thread of libmixd: collects deltas from every shard,
 * keeps them pending while a report is in flight, encodes and POSTs one
 * report at a time with libcurl, and retries it with backoff.
 *
 * Collection (every flush interval): for each chunk of 16 series, sum the
 * counters of all shards, subtract the totals seen last time and add the
 * difference to the series' pending cell; a series' newest exemplar, when
 * newer than the last one collected, replaces its pending one (exemplar.c).
 * Spans are moved from the ring to a pending list (bounded by the ring's
 * capacity: when the pending list is full, spans stay in the ring, which
 * then drops and counts new ones).
 *
 * Delivery: when no report is in flight, the pending cells, spans and
 * counters become one report with the next sequence number; its gzip'd
 * bytes are kept until acknowledged. 2xx acknowledges; another 4xx than
 * 408/429 rejects the report for good (counted); anything else (connection
 * refused, timeout, 408, 429, 5xx) schedules a retry of the identical bytes
 * after min(retry_initial * 2^(n-1), retry_max), halved plus up to half
 * again of jitter. Deltas collected meanwhile merge into the pending cells
 * and go into the next sequence. The thread sleeps on a condition variable
 * until the next collection or retry; close wakes it (and interrupts a
 * transfer through curl_multi_wakeup).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "reporter/reporter.h"

struct mxr_flush {
	pid_t pid;                /* process owning the curl handles */
	uint8_t instance[16];
	uint64_t next_seq;
	uint64_t rng;

	/* per-series state, by chunk of 16 series */
	struct mxr_fchunk **fch;  /* max_chunks entries */
	uint64_t cur[MXR_CHUNK][MXR_NVAL];
	uint32_t *pend_ids;       /* series with pending deltas */
	const struct mxr_fcell **pend_cells;
	uint32_t npend;

	/* pending spans */
	uint8_t *spans;
	size_t spans_len, spans_cap;
	uint32_t *span_len;
	uint32_t nspans, max_spans;
	uint64_t dropped_seen, pend_dropped;
	uint64_t overflow_sent;

	uint64_t pend_start, last_collect; /* wall clock ns */
	int have_pend;

	/* the report in flight */
	uint8_t *body;
	size_t body_len;
	int inflight;
	uint32_t attempts;
	uint64_t retry_at;        /* monotonic ns */

	CURL *easy;
	CURLM *multi;
	struct curl_slist *hdrs;
	int curl_global;

	clockid_t cpu_clock;
	int cpu_clock_ok;
	int result;
};

uint64_t mxr_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mxr_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(struct mxr_flush *fl)
{
	uint64_t x = fl->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return fl->rng = x;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int curl_setup(struct mixd_reporter *r, struct mxr_flush *fl)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return MIXD_ESYS;
	fl->curl_global = 1;
	fl->easy = curl_easy_init();
	fl->multi = curl_multi_init();
	fl->hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	if (fl->hdrs)
		fl->hdrs = curl_slist_append(fl->hdrs, "Content-Encoding: gzip");
	if (fl->hdrs)
		fl->hdrs = curl_slist_append(fl->hdrs, "Expect:");
	if (!fl->easy || !fl->multi || !fl->hdrs)
		return MIXD_ESYS;
	curl_easy_setopt(fl->easy, CURLOPT_URL, r->url);
	curl_easy_setopt(fl->easy, CURLOPT_HTTPHEADER, fl->hdrs);
	curl_easy_setopt(fl->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(fl->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
	curl_easy_setopt(fl->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(fl->easy, CURLOPT_USERAGENT, MIXD_VERSION_STRING);
	curl_easy_setopt(fl->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(fl->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	return MIXD_OK;
}

static void pending_clear(struct mxr_flush *fl)
{
	for (uint32_t i = 0; i < fl->npend; i++) {
		uint32_t id = fl->pend_ids[i];
		struct mxr_fcell *c = &fl->fch[id >> MXR_CHUNK_SHIFT]->c[id & (MXR_CHUNK - 1)];
		memset(c->pend, 0, sizeof(c->pend));
		c->in_pend = 0;
		c->has_ex = 0;
	}
	fl->npend = 0;
	fl->nspans = 0;
	fl->spans_len = 0;
	fl->pend_dropped = 0;
	fl->have_pend = 0;
}

int mxr_flush_create(struct mixd_reporter *r, int forked)
{
	struct mxr_flush *fl = r->fl;
	uint8_t seed[16];

	if (fl && forked) {
		/* a child of a started parent: keep the totals already
		 * collected (they were the parent's to ship), drop the
		 * parent's pending work, abandon its curl handles (their
		 * sockets are the parent's) */
		pending_clear(fl);
		free(fl->body);
		fl->body = NULL;
		fl->inflight = 0;
		fl->attempts = 0;
		fl->easy = NULL;
		fl->multi = NULL;
		fl->hdrs = NULL;
		fl->curl_global = 0;
	} else if (!fl) {
		fl = calloc(1, sizeof(*fl));
		if (!fl)
			return MIXD_ENOMEM;
		r->fl = fl;
		fl->fch = calloc(r->max_chunks, sizeof(*fl->fch));
		fl->pend_ids = calloc((size_t)r->max_series + 1, sizeof(*fl->pend_ids));
		fl->pend_cells = calloc((size_t)r->max_series + 1, sizeof(*fl->pend_cells));
		fl->max_spans = r->ring.cap;
		fl->span_len = calloc(fl->max_spans ? fl->max_spans : 1, sizeof(*fl->span_len));
		if (!fl->fch || !fl->pend_ids || !fl->pend_cells || !fl->span_len)
			return MIXD_ENOMEM;
	}
	fl->pid = getpid();
	if (getrandom(fl->instance, sizeof(fl->instance), GRND_NONBLOCK) != sizeof(fl->instance)) {
		/* entropy pool not ready: time, pid and address still give a
		 * distinct id per process */
		uint64_t a = mxr_real_ns() ^ ((uint64_t)getpid() << 32);
		uint64_t b = mxr_mono_ns() ^ (uint64_t)(uintptr_t)fl;
		memcpy(fl->instance, &a, 8);
		memcpy(fl->instance + 8, &b, 8);
	}
	memcpy(seed, fl->instance, 16);
	memcpy(&fl->rng, seed, 8);
	fl->rng |= 1;
	fl->next_seq = 1;
	fl->last_collect = mxr_real_ns();
	return curl_setup(r, fl);
}

void mxr_flush_free(struct mixd_reporter *r)
{
	struct mxr_flush *fl = r->fl;

	if (!fl)
		return;
	if (fl->pid == getpid()) {
		if (fl->multi)
			curl_multi_cleanup(fl->multi);
		if (fl->easy)
			curl_easy_cleanup(fl->easy);
		curl_slist_free_all(fl->hdrs);
		if (fl->curl_global)
			curl_global_cleanup();
	}
	for (uint32_t c = 0; fl->fch && c < r->max_chunks; c++)
		free(fl->fch[c]);
	free(fl->fch);
	free(fl->pend_ids);
	free(fl->pend_cells);
	free(fl->spans);
	free(fl->span_len);
	free(fl->body);
	free(fl);
	r->fl = NULL;
}

/* ------------------------------------------------------------------ */
/* Collection                                                          */
/* ------------------------------------------------------------------ */

static void collect_spans(struct mixd_reporter *r, struct mxr_flush *fl)
{
	const uint8_t *p;
	size_t n;
	uint64_t d;

	while (fl->nspans < fl->max_spans && mxr_ring_peek(&r->ring, &p, &n)) {
		if (n && fl->spans_len + n > fl->spans_cap) {
			size_t ncap = fl->spans_cap ? fl->spans_cap * 2 : 64 * 1024;
			size_t lim = (size_t)fl->max_spans * r->ring.slot_bytes;
			uint8_t *np;
			if (ncap > lim)
				ncap = lim;
			if (ncap < fl->spans_len + n || !(np = realloc(fl->spans, ncap)))
				break; /* stays in the ring */
			fl->spans = np;
			fl->spans_cap = ncap;
		}
		if (n) {
			memcpy(fl->spans + fl->spans_len, p, n);
			fl->spans_len += n;
			fl->span_len[fl->nspans++] = (uint32_t)n;
		}
		mxr_ring_release(&r->ring);
	}
	d = atomic_load_explicit(&r->ring.dropped, memory_order_relaxed);
	fl->pend_dropped += d - fl->dropped_seen;
	fl->dropped_seen = d;
}

static void collect(struct mixd_reporter *r, struct mxr_flush *fl)
{
	uint32_t n = atomic_load_explicit(&r->nseries, memory_order_acquire);
	uint32_t nsh = atomic_load_explicit(&r->nshards, memory_order_acquire);
	uint64_t now = mxr_real_ns();

	for (uint32_t c = 0; c < (n + MXR_CHUNK - 1) / MXR_CHUNK; c++) {
		struct mxr_fchunk *f = fl->fch[c];
		if (!f) {
			f = fl->fch[c] = calloc(1, sizeof(*f));
			if (!f)
				continue; /* counters keep growing: next time */
		}
		memset(fl->cur, 0, sizeof(fl->cur));
		for (uint32_t s = 0; s < nsh; s++) {
			struct mxr_chunk *ch =
				atomic_load_explicit(&r->shards[s]->chunks[c], memory_order_acquire);
			if (!ch)
				continue;
			for (uint32_t j = 0; j < MXR_CHUNK; j++)
				for (uint32_t k = 0; k < MXR_NVAL; k++)
					fl->cur[j][k] += atomic_load_explicit(&ch->cell[j].v[k],
									      memory_order_relaxed);
		}
		uint32_t newex = mxr_ex_collect(r, c, nsh, n, f);
		for (uint32_t j = 0; j < MXR_CHUNK && c * MXR_CHUNK + j < n; j++) {
			struct mxr_fcell *fc = &f->c[j];
			uint64_t nz = (newex >> j) & 1;
			for (uint32_t k = 0; k < MXR_NVAL; k++) {
				uint64_t d = fl->cur[j][k] - fc->last[k];
				fc->last[k] = fl->cur[j][k];
				fc->pend[k] += d;
				nz |= d;
			}
			if (nz && !fc->in_pend) {
				fc->in_pend = 1;
				fl->pend_ids[fl->npend++] = c * MXR_CHUNK + j;
			}
		}
	}
	collect_spans(r, fl);
	if (!fl->have_pend) {
		fl->pend_start = fl->last_collect;
		fl->have_pend = 1;
	}
	fl->last_collect = now;
}

/* Turns the pending data into the report in flight, if there is any. */
static void build(struct mixd_reporter *r, struct mxr_flush *fl)
{
	uint64_t ovf = atomic_load_explicit(&r->overflow_series, memory_order_relaxed);
	struct mxr_report_in in;
	int rc;

	if (fl->inflight || !fl->have_pend)
		return;
	if (!fl->npend && !fl->nspans && !fl->pend_dropped && ovf == fl->overflow_sent)
		return; /* nothing happened: no report (the interval extends) */
	for (uint32_t i = 0; i < fl->npend; i++) {
		uint32_t id = fl->pend_ids[i];
		fl->pend_cells[i] = &fl->fch[id >> MXR_CHUNK_SHIFT]->c[id & (MXR_CHUNK - 1)];
	}
	memset(&in, 0, sizeof(in));
	in.instance_id = fl->instance;
	in.sequence = fl->next_seq;
	in.start_ns = fl->pend_start;
	in.end_ns = fl->last_collect;
	in.series = fl->pend_ids;
	in.cells = fl->pend_cells;
	in.nseries = fl->npend;
	in.spans = fl->spans;
	in.span_len = fl->span_len;
	in.nspans = fl->nspans;
	in.dropped_spans = fl->pend_dropped;
	in.overflow_series = ovf;
	rc = mxr_encode_report(r, &in, &fl->body, &fl->body_len);
	if (rc != MIXD_OK) {
		/* keep the deltas pending: a smaller report may fit later;
		 * only the spans go, since they are what makes it big */
		fl->nspans = 0;
		fl->spans_len = 0;
		atomic_fetch_add_explicit(&r->reports_lost, 1, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&r->sequence, fl->next_seq, memory_order_relaxed);
	atomic_store_explicit(&r->last_report_bytes, fl->body_len, memory_order_relaxed);
	fl->next_seq++;
	fl->overflow_sent = ovf;
	pending_clear(fl);
	fl->inflight = 1;
	fl->attempts = 0;
	fl->retry_at = 0;
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

static int is_closing(struct mixd_reporter *r, uint64_t *deadline)
{
	int c;

	pthread_mutex_lock(&r->lock);
	c = r->closing;
	*deadline = r->close_deadline;
	pthread_mutex_unlock(&r->lock);
	return c;
}

/* One POST of the report in flight, given up at `abort_at` (monotonic).
 * Returns the HTTP status, or 0 for a transport failure or timeout. */
static long post(struct mixd_reporter *r, struct mxr_flush *fl, uint64_t abort_at)
{
	uint64_t now = mxr_mono_ns(), dl;
	long status = 0, budget;
	int running = 1, msgs;
	CURLcode res = CURLE_OPERATION_TIMEDOUT;
	CURLMsg *m;

	if (now >= abort_at)
		return 0;
	budget = (long)((abort_at - now) / 1000000u);
	if (budget > (long)r->request_timeout_ms)
		budget = (long)r->request_timeout_ms;
	if (budget < 1)
		budget = 1;
	curl_easy_setopt(fl->easy, CURLOPT_POSTFIELDS, (const char *)fl->body);
	curl_easy_setopt(fl->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)fl->body_len);
	curl_easy_setopt(fl->easy, CURLOPT_TIMEOUT_MS, budget);
	if (curl_multi_add_handle(fl->multi, fl->easy) != CURLM_OK)
		return 0;
	atomic_fetch_add_explicit(&r->reports_sent, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->bytes_sent, fl->body_len, memory_order_relaxed);
	for (;;) {
		if (curl_multi_perform(fl->multi, &running) != CURLM_OK || !running)
			break;
		now = mxr_mono_ns();
		if (is_closing(r, &dl) && dl < abort_at)
			abort_at = dl;
		if (now >= abort_at)
			break;
		uint64_t wait = (abort_at - now) / 1000000u + 1;
		curl_multi_poll(fl->multi, NULL, 0, wait > 100 ? 100 : (int)wait, NULL);
	}
	while ((m = curl_multi_info_read(fl->multi, &msgs)) != NULL)
		if (m->msg == CURLMSG_DONE)
			res = m->data.result;
	if (!running && res == CURLE_OK)
		curl_easy_getinfo(fl->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(fl->multi, fl->easy);
	atomic_store_explicit(&r->last_http_status, (int)status, memory_order_relaxed);
	return status;
}

static uint64_t backoff_ns(struct mixd_reporter *r, struct mxr_flush *fl)
{
	uint64_t base = r->retry_initial_ms;

	for (uint32_t i = 1; i < fl->attempts && base < r->retry_max_ms; i++)
		base *= 2;
	if (base > r->retry_max_ms)
		base = r->retry_max_ms;
	base *= 1000000u;
	return base / 2 + rng_next(fl) % (base / 2 + 1);
}

static void attempt(struct mixd_reporter *r, struct mxr_flush *fl, uint64_t abort_at)
{
	long st = post(r, fl, abort_at);

	if (st >= 200 && st < 300) {
		atomic_fetch_add_explicit(&r->reports_acked, 1, memory_order_relaxed);
	} else if (st >= 400 && st < 500 && st != 408 && st != 429) {
		atomic_fetch_add_explicit(&r->reports_rejected, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&r->reports_retried, 1, memory_order_relaxed);
		fl->attempts++;
		fl->retry_at = mxr_mono_ns() + backoff_ns(r, fl);
		return;
	}
	free(fl->body);
	fl->body = NULL;
	fl->body_len = 0;
	fl->inflight = 0;
	fl->attempts = 0;
}

/* Sleeps until `until` (monotonic ns) or a wakeup; with `stop_on_close`,
 * returns early once closing is set. */
static void sleep_until(struct mixd_reporter *r, uint64_t until, int stop_on_close)
{
	struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };

	pthread_mutex_lock(&r->lock);
	if (!(stop_on_close && r->closing) && mxr_mono_ns() < until)
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	pthread_mutex_unlock(&r->lock);
}

static void *flush_main(void *arg)
{
	struct mixd_reporter *r = arg;
	struct mxr_flush *fl = r->fl;
	uint64_t interval = (uint64_t)r->flush_interval_ms * 1000000u;
	uint64_t next = mxr_mono_ns() + interval, now, deadline;

	while (!is_closing(r, &deadline)) {
		now = mxr_mono_ns();
		if (now >= next) {
			collect(r, fl);
			build(r, fl);
			next += interval;
			if (next <= now)
				next = now + interval;
		}
		if (fl->inflight && now >= fl->retry_at) {
			attempt(r, fl, now + (uint64_t)r->request_timeout_ms * 1000000u);
			continue;
		}
		sleep_until(r, fl->inflight && fl->retry_at < next ? fl->retry_at : next, 1);
	}

	/* closing: the last collection, then deliver until the deadline */
	collect(r, fl);
	fl->result = MIXD_OK;
	for (;;) {
		build(r, fl);
		if (!fl->inflight)
			break;
		now = mxr_mono_ns();
		if (now >= deadline) {
			fl->result = MIXD_ETIMEDOUT;
			atomic_fetch_add_explicit(&r->reports_lost, 1 + (fl->npend || fl->nspans),
						  memory_order_relaxed);
			break;
		}
		if (now < fl->retry_at) {
			sleep_until(r, fl->retry_at < deadline ? fl->retry_at : deadline, 0);
			continue;
		}
		attempt(r, fl, deadline);
	}
	return NULL;
}

int mxr_flush_start_thread(struct mixd_reporter *r)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, flush_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return MIXD_ESYS;
	r->fl->cpu_clock_ok = pthread_getcpuclockid(r->thread, &r->fl->cpu_clock) == 0;
	return MIXD_OK;
}

int mxr_flush_stop(struct mixd_reporter *r, uint32_t deadline_ms)
{
	pthread_mutex_lock(&r->lock);
	r->closing = 1;
	r->close_deadline = mxr_mono_ns() + (uint64_t)deadline_ms * 1000000u;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	curl_multi_wakeup(r->fl->multi);
	pthread_join(r->thread, NULL);
	r->fl->cpu_clock_ok = 0;
	return r->fl->result;
}

uint64_t mxr_flush_cpu_ns(const struct mixd_reporter *r)
{
	struct timespec ts;

	if (!r->fl || !r->fl->cpu_clock_ok || r->fl->pid != getpid() ||
	    clock_gettime(r->fl->cpu_clock, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
