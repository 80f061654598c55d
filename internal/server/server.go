// Package server puts imkit's parts together into one node: the login
// subsystem, the WebSocket gateway, messages, the admin REST API and the
// operational endpoints, over one store. cmd/imkit reads flags and files and
// hands a Config to New; tests start the same Server on 127.0.0.1:0.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/admin"
	"github.com/imkit/imkit/internal/connlimit"
	"github.com/imkit/imkit/internal/gateway"
	"github.com/imkit/imkit/internal/message"
	"github.com/imkit/imkit/internal/metrics"
	"github.com/imkit/imkit/internal/redis"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/webhook"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/web"
)

// Config configures a Server. Store is required; the zero value of every
// other field works.
type Config struct {
	// Store holds the server's state; the Server does not close it.
	Store store.Store
	// Addr is the address to listen on (default "127.0.0.1:8080"); use port 0
	// for any free port.
	Addr string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location sets the day boundaries of statistics (default UTC).
	Location *time.Location
	// Heartbeat, IdleTimeout, ExpiryLead, MaxQueue, RequestRate and
	// RequestBurst: see gateway.Config.
	Heartbeat    time.Duration
	IdleTimeout  time.Duration
	ExpiryLead   time.Duration
	MaxQueue     int
	RequestRate  float64
	RequestBurst int
	// TrustedProxies are the networks of the proxies in front of the
	// server, whose X-Forwarded-For tells the clients' addresses: see
	// gateway.Config.
	TrustedProxies []netip.Prefix
	// MaxFailures, MaxAddressFailures, FailureWindow, LockDuration: see
	// session.Config.
	MaxFailures        int
	MaxAddressFailures int
	FailureWindow      time.Duration
	LockDuration       time.Duration
	// AppCacheTTL: see session.Config (default 1s). With several nodes, a
	// change made through the REST API reaches every node at once anyway.
	AppCacheTTL time.Duration
	// MaxConnsPerAddr is the most connections (WebSocket and HTTP) one
	// client address may hold open (default 256; negative: no limit);
	// more are closed as soon as they are accepted. Connections from
	// loopback and from TrustedProxies are not limited.
	MaxConnsPerAddr int
	// ReadTimeout bounds the time to read a REST request, headers and body
	// (default 30s); a WebSocket connection, once upgraded, has the
	// gateway's timeouts instead.
	ReadTimeout time.Duration
	// MaxTicketLifetime and ClockSkew bound a ticket's times: see
	// session.Config.
	MaxTicketLifetime time.Duration
	ClockSkew         time.Duration
	// SessionRetention is how long ended sessions are kept, so that an
	// instance coming back learns it was kicked (default 7 days; after that
	// it is refused all the same, without the details).
	SessionRetention time.Duration
	// StatsInterval is how often the peak of online instances is written
	// (default 5s).
	StatsInterval time.Duration
	// KickPoll is how often a node of several looks in the store for the
	// sessions other nodes kicked, to close this node's connections of them
	// when Redis did not carry the kick (default 1s).
	KickPoll time.Duration
	// RESTRate, RESTBurst and RESTMaxBody limit the admin REST API: calls per
	// second per app (default 1000), the burst (default RESTRate) and the
	// largest body (default 1 MiB). See admin.Config.
	RESTRate    float64
	RESTBurst   int
	RESTMaxBody int64
	// Webhook tunes the state-change webhook's queue, workers, retries and
	// timeout; its URL, OnResult and Logger fields are set by the server.
	// The zero value works (see webhook.Config).
	Webhook webhook.Config
	// Redis, when its Addr is set, joins this node to the other nodes that
	// share the store (PostgreSQL) through Redis: kicks, pushes and online
	// state then reach connections on any node. See package redis.
	Redis RedisConfig
	// Logger receives the server's log; nil discards.
	Logger *slog.Logger
}

// RedisConfig locates the Redis server of a cluster of nodes.
type RedisConfig struct {
	Addr     string // host:port; empty: a single node
	Password string
	DB       int
	// Prefix starts every key and channel (default "imkit:"); nodes of one
	// cluster share it.
	Prefix string
	// Timeout bounds every Redis call (default 1s); CheckInterval is how
	// often the node checks Redis (default 1s). See redis.Options.
	Timeout       time.Duration
	CheckInterval time.Duration
}

// Server is one imkit node.
type Server struct {
	Store    store.Store
	Sessions *session.Service
	Hub      *gateway.Hub
	// Cluster is this node's link to the other nodes; nil for one node.
	Cluster  *redis.Cluster
	Gateway  *gateway.Gateway
	Messages *message.Service
	Admin    *admin.API
	Webhook  *webhook.Sender
	Metrics  *metrics.Metrics

	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	http  *http.Server
	ln    net.Listener
	serve chan error
	once  sync.Once
	stop  chan struct{} // closed by Shutdown: ends the maintenance loop

	peakMu  sync.Mutex // guards leaving, and serialises recordPeaks
	leaving bool       // Shutdown began: record this node's peak only
	bg      sync.WaitGroup
}

// New wires a Server; Start starts serving.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionRetention <= 0 {
		cfg.SessionRetention = 7 * 24 * time.Hour
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 5 * time.Second
	}
	if cfg.KickPoll <= 0 {
		cfg.KickPoll = time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.MaxConnsPerAddr == 0 {
		cfg.MaxConnsPerAddr = 256
	}
	s := &Server{Store: cfg.Store, cfg: cfg, log: log, Hub: gateway.NewHub(), stop: make(chan struct{})}
	// One node delivers to its own hub; several find each other in Redis.
	var (
		notifier session.Notifier = s.Hub
		router   message.Router   = localRouter{s.Hub}
		presence admin.Presence   = s.Hub
		registry gateway.Presence
	)
	// The login subsystem, once made: other nodes' app changes reach it.
	var sessions atomic.Pointer[session.Service]
	if cfg.Redis.Addr != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err := redis.New(ctx, redis.Options{
			Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB, Prefix: cfg.Redis.Prefix,
			Timeout: cfg.Redis.Timeout, CheckInterval: cfg.Redis.CheckInterval,
			Hub: s.Hub, Logger: log.With("part", "redis"),
			OnAppChanged: func(app uint64) {
				if ss := sessions.Load(); ss != nil {
					ss.ForgetApp(app)
				}
			},
		})
		cancel()
		if err != nil {
			return nil, err
		}
		s.Cluster = cl
		notifier, router, presence, registry = cl, cl, clusterPresence{cl}, cl
	}
	s.Metrics = metrics.New()
	timed := s.Metrics.InstrumentStore(cfg.Store)
	whc := cfg.Webhook
	whc.URL = func(ctx context.Context, app uint64) (string, error) {
		a, err := s.Sessions.App(ctx, app)
		return a.WebhookURL, err
	}
	whc.OnResult = s.Metrics.Webhook
	whc.Logger = log.With("part", "webhook")
	s.Webhook = webhook.New(whc)
	s.Sessions = session.New(session.Config{
		Store:              timed,
		Notifier:           notifier,
		Now:                cfg.Now,
		Location:           cfg.Location,
		MaxFailures:        cfg.MaxFailures,
		MaxAddressFailures: cfg.MaxAddressFailures,
		FailureWindow:      cfg.FailureWindow,
		LockDuration:       cfg.LockDuration,
		MaxTicketLifetime:  cfg.MaxTicketLifetime,
		ClockSkew:          cfg.ClockSkew,
		AppCacheTTL:        cfg.AppCacheTTL,
		OnEvent:            s.onSessionEvent,
		Logger:             log.With("part", "session"),
	})
	sessions.Store(s.Sessions)
	s.Messages = message.New(message.Config{
		Store:  timed,
		Router: router,
		Now:    cfg.Now,
		Day:    s.Sessions.Day,
		Logger: log.With("part", "message"),
	})
	s.Gateway = gateway.New(gateway.Config{
		Sessions:       s.Sessions,
		Hub:            s.Hub,
		Heartbeat:      cfg.Heartbeat,
		IdleTimeout:    cfg.IdleTimeout,
		ExpiryLead:     cfg.ExpiryLead,
		MaxQueue:       cfg.MaxQueue,
		RequestRate:    cfg.RequestRate,
		RequestBurst:   cfg.RequestBurst,
		TrustedProxies: cfg.TrustedProxies,
		MaxSeq:         s.Messages.MaxSeq,
		OnDisconnect:   s.onDisconnect,
		Presence:       registry,
		Logger:         log.With("part", "gateway"),
	})
	s.Messages.Register(s.Gateway)
	s.Admin = admin.New(admin.Config{
		Store:    cfg.Store,
		Sessions: adminSessions{s.Sessions, s.Cluster},
		Presence: presence,
		Messages: s.Messages,
		Now:      cfg.Now,
		Rate:     cfg.RESTRate,
		Burst:    cfg.RESTBurst,
		MaxBody:  cfg.RESTMaxBody,
		OnCall:   s.Metrics.RESTCall,
		Logger:   log.With("part", "rest"),
	})
	s.Metrics.GaugeFunc("imkit_online_sessions", "SDK instances online on this node.", func() float64 { return float64(s.Hub.Count()) })
	if cl := s.Cluster; cl != nil {
		s.Metrics.CounterFunc("imkit_cluster_decode_errors_total", "Messages from other nodes that could not be decoded (each is logged).", func() float64 { return float64(cl.DecodeErrors()) })
		s.Metrics.CounterFunc("imkit_cluster_publish_errors_total", "Messages to other nodes that could not be published to Redis (each is logged).", func() float64 { return float64(cl.PublishErrors()) })
		s.Metrics.CounterFunc("imkit_cluster_unrouted_pushes_total", "Pushes for other nodes not sent there (Redis unreachable, queue full, or no node listening); their clients are told to sync when the nodes are back in touch.", func() float64 { return float64(cl.Unrouted()) })
		s.Metrics.CounterFunc("imkit_cluster_resyncs_total", "Times this node registered its connections in Redis again (after an outage, or a Redis that lost them) and told its clients to sync.", func() float64 { return float64(cl.Resyncs()) })
		s.Metrics.GaugeFunc("imkit_cluster_redis_up", "1 while this node is in touch with Redis, 0 while it works alone.", func() float64 {
			if cl.Up() {
				return 1
			}
			return 0
		})
	}
	s.Metrics.CounterFunc("imkit_messages_stored_total", "Messages stored since the start (C2C, each once; retries not counted).", func() float64 { return float64(s.Messages.Sent()) })

	s.mux = http.NewServeMux()
	s.mux.Handle(protocol.Path, s.Gateway)
	s.mux.HandleFunc("/livez", s.livez)
	s.mux.HandleFunc("/readyz", s.readyz)
	s.mux.HandleFunc("/healthz", s.readyz) // the name before /livez and /readyz
	s.mux.Handle("/v4/", s.Admin)
	s.mux.Handle("/metrics", s.Metrics.Handler())
	s.mux.Handle(web.Path, web.Handler()) // the browser SDK
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// adminSessions is the login subsystem as the REST API sees it: an app
// it changes is forgotten by every node, not this one only.
type adminSessions struct {
	*session.Service
	cluster *redis.Cluster // nil for one node
}

func (a adminSessions) ForgetApp(app uint64) {
	a.Service.ForgetApp(app)
	if a.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a.cluster.AppChanged(ctx, app)
		cancel()
	}
}

// clusterPresence answers the REST API's online state from every node.
type clusterPresence struct{ c *redis.Cluster }

func (p clusterPresence) Online(app uint64, users []string) map[string][]imkit.Platform {
	return p.c.OnlineUsers(app, users)
}

// localRouter delivers to this node's connections only.
type localRouter struct{ hub *gateway.Hub }

func (r localRouter) Deliver(_ context.Context, app uint64, user string, frame []byte, except string) {
	r.hub.Deliver(app, user, frame, except)
}

// Handler returns the server's HTTP handler (WebSocket, REST, operations).
func (s *Server) Handler() http.Handler { return s.mux }

// Start listens on Config.Addr and serves in the background.
func (s *Server) Start() error {
	// No TCP keep-alives: heartbeats find dead links, and the socket
	// options would cost system calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if s.cfg.MaxConnsPerAddr > 0 {
		exempt := append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, s.cfg.TrustedProxies...)
		ln = connlimit.New(ln, s.cfg.MaxConnsPerAddr, exempt, s.log)
	}
	s.ln = gateway.CorkListener(ln)
	s.serve = make(chan error, 1)
	go func() { s.serve <- s.http.Serve(s.ln) }()
	s.bg.Add(1)
	go s.maintain()
	if s.Cluster != nil {
		s.bg.Add(1)
		go s.watchKicks()
	}
	return nil
}

// kickOverlap is how far back each look for kicks reaches before the
// newest kick seen: kicks that committed late, or were stamped by a node
// whose clock is a little behind.
const kickOverlap = 5 * time.Second

// watchKicks looks in the store every KickPoll for sessions kicked by any
// node and kicks this node's connections of them. Redis carries kicks at
// once; the store is the truth when Redis could not (unreachable,
// restarted, or the connection not registered yet), so that a kicked or
// deleted session stops acting within about KickPoll.
func (s *Server) watchKicks() {
	defer s.bg.Done()
	t := time.NewTicker(s.cfg.KickPoll)
	defer t.Stop()
	newest := s.cfg.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			newest = s.pollKicks(newest)
		}
	}
}

// pollKicks kicks this node's connections of the sessions kicked since
// newest (less kickOverlap), and returns the newest kick seen.
func (s *Server) pollKicks(newest time.Time) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const page = 1000
	since := newest.Add(-kickOverlap)
	for {
		ks, err := s.Store.KickedSince(ctx, since, page)
		if err != nil {
			s.log.Error("look for kicks in the store", "err", err)
			return newest
		}
		var local []store.Session
		for _, k := range ks {
			if k.EndedAt.After(newest) {
				newest = k.EndedAt
			}
			for _, c := range s.Hub.Conns(k.App, k.UserID) {
				if c.Session().ID == k.ID {
					local = append(local, k)
					break
				}
			}
		}
		if len(local) > 0 {
			for _, k := range local {
				s.log.Warn("kick found in the store, not carried by Redis", "user", k.UserID, "session", k.ID, "reason", k.Kick.Reason.String())
			}
			s.Hub.Kicked(ctx, local)
		}
		if len(ks) < page || !ks[len(ks)-1].EndedAt.After(since) {
			return newest
		}
		since = ks[len(ks)-1].EndedAt
	}
}

// maintain records the peaks of online instances and purges old sessions,
// until Shutdown.
func (s *Server) maintain() {
	defer s.bg.Done()
	stats := time.NewTicker(s.cfg.StatsInterval)
	defer stats.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	s.purgeSessions()
	for {
		select {
		case <-stats.C:
			s.recordPeaks()
		case <-purge.C:
			s.purgeSessions()
		case <-s.stop:
			s.recordPeaks()
			return
		}
	}
}

func (s *Server) recordPeaks() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	day := s.Sessions.Day(s.cfg.Now())
	s.peakMu.Lock()
	defer s.peakMu.Unlock()
	peaks := s.Hub.TakePeaks()
	if s.Cluster != nil && !s.leaving {
		// The cluster's peak, not this node's (the store keeps the
		// highest figure written for the day). Without Redis, this
		// node's own is still a lower bound.
		sum, err := s.Cluster.SumPeaks(ctx, peaks, 2*s.cfg.StatsInterval)
		if err != nil {
			s.log.Error("record peak online across nodes; recording this node's", "err", err)
		} else {
			for app, n := range sum {
				peaks[app] = max(peaks[app], n)
			}
		}
	}
	for app, n := range peaks {
		if err := s.Store.RecordPeakOnline(ctx, app, day, n); err != nil {
			s.log.Error("record peak online", "app", app, "err", err)
		}
	}
}

func (s *Server) purgeSessions() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.Store.PurgeSessions(ctx, s.cfg.Now().Add(-s.cfg.SessionRetention))
	if err != nil {
		s.log.Error("purge sessions", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("purged ended sessions", "n", n)
	}
}

// Addr returns the address the server listens on, once started.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Done returns a channel that receives the error that stopped serving.
func (s *Server) Done() <-chan error { return s.serve }

// Shutdown stops accepting, closes every connection with "server shutting
// down" (clients reconnect and resume), stores the messages already
// accepted, and waits for all of it or ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.Cluster != nil {
			// Out of the cluster's peak before the clients leave for the
			// other nodes, where they count again; from now on this node
			// records its own peak only.
			s.peakMu.Lock()
			s.leaving = true
			if werr := s.Cluster.WithdrawPeaks(ctx); werr != nil {
				s.log.Warn("redis: withdraw this node's peak", "err", werr)
			}
			s.peakMu.Unlock()
		}
		if s.ln != nil {
			err = s.http.Shutdown(ctx)
		}
		if gerr := s.Gateway.Shutdown(ctx); err == nil {
			err = gerr
		}
		s.Messages.Close()
		close(s.stop)
		s.bg.Wait()
		if s.Cluster != nil {
			if cerr := s.Cluster.Close(); err == nil {
				err = cerr
			}
		}
		// The last events (the disconnects of the shutdown) go out if the
		// receivers answer soon; a shutdown does not wait on them for long.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if werr := s.Webhook.Close(wctx); werr != nil {
			s.log.Warn("webhook: events abandoned at shutdown", "err", werr)
		}
		cancel()
	})
	return err
}

// onSessionEvent feeds the login subsystem's events to the metrics and the
// webhook. It runs on the login path: it must not block.
func (s *Server) onSessionEvent(e session.Event) {
	s.Metrics.SessionEvent(e)
	for _, ev := range webhook.FromSession(e) {
		s.Webhook.Notify(ev)
	}
}

// onDisconnect reports a link that broke (the SDK reconnects by itself).
func (s *Server) onDisconnect(sess store.Session, clientIP, reason string) {
	e := webhook.FromDisconnect(sess, reason, s.cfg.Now())
	e.ClientIP = clientIP
	s.Webhook.Notify(e)
}

// livez answers while the process serves HTTP: restart it when it does not.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the node can serve: its store answers and, with
// several nodes, Redis does; else 503. The body says which.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var b strings.Builder
	ready := true
	if _, err := s.Store.Apps(ctx); err != nil {
		s.log.Warn("readiness: store unreachable", "err", err)
		b.WriteString("store: unreachable\n")
		ready = false
	} else {
		b.WriteString("store: ok\n")
	}
	if s.Cluster != nil {
		if err := s.Cluster.Ping(ctx); err != nil {
			s.log.Warn("readiness: redis unreachable", "err", err)
			b.WriteString("redis: unreachable (this node serves its own connections only)\n")
			ready = false
		} else {
			b.WriteString("redis: ok\n")
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, b.String())
}
