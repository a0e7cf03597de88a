package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shimmer-llm/shimmer/engine"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	ttft     prometheus.Histogram
	stops    *prometheus.CounterVec
	// afterCancel counts the tokens generated for a request after its
	// context was cancelled (a client gone): 0 or 1 when sequences are
	// freed within one decode step.
	afterCancel prometheus.Histogram
}

func newMetrics(stats func() engine.Stats) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shimmer_http_requests_total", Help: "HTTP requests by endpoint and status (499: the client went away).",
	}, []string{"endpoint", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shimmer_http_request_duration_seconds", Help: "Time to serve a request, by endpoint.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"endpoint"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "shimmer_http_requests_in_flight", Help: "Requests being served."})
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shimmer_time_to_first_token_seconds", Help: "Time from submitting a generation (queue included) to its first token.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	m.stops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shimmer_generations_total", Help: "Finished generations by stop reason (eog, stop, length, context, cancelled).",
	}, []string{"reason"})
	m.afterCancel = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shimmer_tokens_after_cancel", Help: "Tokens generated for a request after it was cancelled (its client gone): the decode steps its sequence took to be freed.",
		Buckets: []float64{0, 1, 2, 4, 8},
	})
	stat := func(f func(engine.Stats) float64) func() float64 {
		return func() float64 { return f(stats()) }
	}
	m.reg.MustRegister(m.requests, m.duration, m.inflight, m.ttft, m.stops, m.afterCancel,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shimmer_prompt_tokens_total", Help: "Prompt tokens evaluated."},
			stat(func(s engine.Stats) float64 { return float64(s.PromptTokens) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shimmer_prompt_tokens_cached_total", Help: "Prompt tokens reused from the KV cache instead of evaluated."},
			stat(func(s engine.Stats) float64 { return float64(s.CachedTokens) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shimmer_generated_tokens_total", Help: "Tokens generated."},
			stat(func(s engine.Stats) float64 { return float64(s.GeneratedTokens) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shimmer_decode_steps_total", Help: "Forward passes (batches) run."},
			stat(func(s engine.Stats) float64 { return float64(s.Steps) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_generation_tokens_per_second", Help: "Tokens generated per second over the last 10 s, all sequences together."},
			stat(func(s engine.Stats) float64 { return s.TokensPerSecond })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_queue_depth", Help: "Requests waiting for a free sequence."},
			stat(func(s engine.Stats) float64 { return float64(s.Queued) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_sequences_active", Help: "Sequences generating."},
			stat(func(s engine.Stats) float64 { return float64(s.Active) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_sequences", Help: "Sequence slots (--parallel)."},
			stat(func(s engine.Stats) float64 { return float64(s.Sequences) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_kv_cache_tokens", Help: "KV cache positions held by running sequences."},
			stat(func(s engine.Stats) float64 { return float64(s.KVActiveTokens) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_kv_cache_usage_ratio", Help: "Share of the KV cache held by running sequences."},
			stat(func(s engine.Stats) float64 { return ratio(s.KVActiveTokens, s.Sequences*s.Context) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shimmer_kv_cache_cached_ratio", Help: "Share of the KV cache holding tokens, including prompts kept for reuse."},
			stat(func(s engine.Stats) float64 { return ratio(s.KVCachedTokens, s.Sequences*s.Context) })),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

func (m *metrics) observe(endpoint string, status int, d time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(endpoint).Observe(d.Seconds())
}

func (m *metrics) finished(r engine.Result) {
	if r.StopReason != "" {
		m.stops.WithLabelValues(string(r.StopReason)).Inc()
	}
}
