// Package metrics holds the server's Prometheus metrics on a registry of its
// own (never the global one), so that several servers in one process (tests)
// keep apart. The server feeds it from the login subsystem's events, the
// REST API and the webhook, and serves it at /metrics.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
)

// Metrics are one server's metrics.
type Metrics struct {
	reg *prometheus.Registry

	logins        *prometheus.CounterVec
	kicks         *prometheus.CounterVec
	sessionEnds   *prometheus.CounterVec
	restCalls     *prometheus.CounterVec
	restLatency   *prometheus.HistogramVec
	webhook       *prometheus.CounterVec
	loginLatency  prometheus.Histogram
	commitLatency prometheus.Histogram
}

// New returns a fresh set of metrics with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imkit_logins_total",
			Help: "SDK logins (kind=login) and resumes after a reconnect (kind=resume), by result code (0: success).",
		}, []string{"kind", "code"}),
		kicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imkit_kicks_total",
			Help: "Sessions kicked offline, by reason (multi-device, multi-instance, admin).",
		}, []string{"reason"}),
		sessionEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imkit_session_ends_total",
			Help: "Sessions ended by their client (logout) or by their ticket running out (expired).",
		}, []string{"how"}),
		restCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imkit_rest_calls_total",
			Help: "REST API calls by command (service/command, or \"unknown\") and result code (0: success).",
		}, []string{"command", "code"}),
		restLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imkit_rest_call_seconds",
			Help:    "Time to answer a REST API call, by command.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"command"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imkit_webhook_events_total",
			Help: "State-change webhook events by result: delivered, retried (one failed attempt), failed (all attempts failed), dropped (queue full).",
		}, []string{"result"}),
		loginLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "imkit_login_commit_seconds",
			Help:    "Time to commit a login in the store: the login policy decision, the kicks and the new session, in one transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "imkit_message_commit_seconds",
			Help:    "Time to commit one batch of messages in the store (group commit).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.logins, m.kicks, m.sessionEnds, m.restCalls, m.restLatency, m.webhook,
		m.loginLatency, m.commitLatency,
	)
	return m
}

// Registry returns the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// GaugeFunc registers a gauge whose value f reports at each scrape.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc registers a counter whose value f reports at each scrape; f
// must never go down.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// SessionEvent counts a login subsystem event.
func (m *Metrics) SessionEvent(e session.Event) {
	switch e.Type {
	case session.EventLogin:
		m.logins.WithLabelValues("login", "0").Inc()
	case session.EventResume:
		m.logins.WithLabelValues("resume", "0").Inc()
	case session.EventLoginFailed:
		kind := "login"
		if e.Session.ID != "" {
			kind = "resume"
		}
		m.logins.WithLabelValues(kind, strconv.Itoa(int(e.Code))).Inc()
	case session.EventLogout:
		m.sessionEnds.WithLabelValues("logout").Inc()
	case session.EventExpired:
		m.sessionEnds.WithLabelValues("expired").Inc()
	}
	for _, k := range e.Kicked {
		m.kicks.WithLabelValues(k.Kick.Reason.String()).Inc()
	}
}

// RESTCall counts a REST API call; command is "service/command", or
// "unknown" for paths that name no endpoint.
func (m *Metrics) RESTCall(command string, code imkit.Code, d time.Duration) {
	m.restCalls.WithLabelValues(command, strconv.Itoa(int(code))).Inc()
	m.restLatency.WithLabelValues(command).Observe(d.Seconds())
}

// Webhook counts a webhook event's result: "delivered", "retried",
// "failed" or "dropped" (see package webhook).
func (m *Metrics) Webhook(result string) {
	m.webhook.WithLabelValues(result).Inc()
}

// InstrumentStore returns st with the latency of Login and AppendMessages
// measured.
func (m *Metrics) InstrumentStore(st store.Store) store.Store {
	return &timedStore{Store: st, m: m}
}

type timedStore struct {
	store.Store
	m *Metrics
}

func (s *timedStore) Login(ctx context.Context, p store.LoginParams) (store.LoginResult, error) {
	start := time.Now()
	r, err := s.Store.Login(ctx, p)
	s.m.loginLatency.Observe(time.Since(start).Seconds())
	return r, err
}

func (s *timedStore) AppendMessages(ctx context.Context, app uint64, msgs []*store.Message) error {
	start := time.Now()
	err := s.Store.AppendMessages(ctx, app, msgs)
	s.m.commitLatency.Observe(time.Since(start).Seconds())
	return err
}
