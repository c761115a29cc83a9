package telemetry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/session"
)

// maxSessionExpiry (seconds) bounds how long the broker keeps the session of
// a disconnected client that asked for a persistent one.
const maxSessionExpiry = 24 * 60 * 60

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("telemetry: closed")

// Telemetry is the embedded broker, the session-event publisher and the
// metrics endpoint. Create it with New, call Start, hand it to the session
// layer as its session.Observer, call Reconcile once the active sessions
// are known, and Close it last.
type Telemetry struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	topics topics
	srv    *mqtt.Server
	access *access
	store  *store // nil: not persisted
	bridge *bridge

	tcp, tlsl *tcpListener // nil when off
	ws        *wsListener  // nil when off
	metricsLn net.Listener
	metricsHS *http.Server
	source    atomic.Pointer[MetricsSource]

	queue chan item
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when runPublisher returns
	pdone chan struct{} // closed when runPersister returns

	pmu    sync.Mutex
	pstate map[string][]byte // states to persist, by user; guarded by pmu
	pkick  chan struct{}     // cap 1: there is something to persist

	started   atomic.Bool
	closeOnce sync.Once

	// Counters.
	overflow  atomic.Uint64 // events dropped because the queue was full
	published atomic.Uint64 // messages we published
	storeErrs atomic.Uint64

	// Owned by runPublisher (and by Start before it runs).
	states map[string]State                   // last state by user
	live   map[string]map[string]session.Info // user -> session id -> info
}

// item is one unit of publisher work: a session event or a reconcile.
type item struct {
	ev  session.Event
	rec *reconcileReq
}

type reconcileReq struct {
	active func(user, sessionID string) bool
	n      int
	err    error
	done   chan struct{}
}

var _ session.Observer = (*Telemetry)(nil)

// New validates cfg, opens the store and binds the listeners. Nothing is
// served until Start. auth checks customer logins (it may be nil when only
// operators and anonymous clients are wanted); log nil discards.
func New(cfg Config, auth aaa.Authenticator, log *slog.Logger) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Telemetry{
		cfg:    cfg,
		log:    log,
		now:    time.Now,
		topics: newTopics(cfg.Prefix, cfg.NAS),
		queue:  make(chan item, cfg.QueueLen),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		pdone:  make(chan struct{}),
		pstate: map[string][]byte{},
		pkick:  make(chan struct{}, 1),
		states: map[string]State{},
		live:   map[string]map[string]session.Info{},
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// mochi's default forcibly deletes retained messages after 24 h: the
	// offline state of a line that has been down for days must stay.
	caps.MaximumMessageExpiryInterval = 0
	// An operator or bridge reading everything at QoS 1 is up to 4
	// messages per session behind after a burst (10,000 lines dropping at
	// once: 20,000 stop events and offline states). mochi's default of
	// 8,192 unacknowledged messages per client dropped the rest; a QoS 1
	// packet identifier allows 65,535. The map grows only as needed.
	caps.MaximumInflight = math.MaxUint16
	// Forget abandoned persistent sessions (clean=false) after a day.
	caps.MaximumSessionExpiryInterval = maxSessionExpiry
	t.srv = mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: log.With("subsys", "mqtt")})
	t.access = &access{topics: t.topics, operators: operatorMap(cfg.Operators), anonymous: cfg.Anonymous,
		logins: newLoginChecker(auth, cfg, func() time.Time { return t.now() }), log: log}
	if err := t.srv.AddHook(&hook{a: t.access, srv: t.srv}, nil); err != nil {
		return nil, fmt.Errorf("telemetry: add hook: %w", err)
	}
	if err := t.addListeners(); err != nil {
		t.closeListeners()
		return nil, err
	}
	if cfg.StorePath != "" {
		st, err := openStore(cfg.StorePath)
		if err != nil {
			t.closeListeners()
			return nil, err
		}
		t.store = st
	}
	if cfg.Bridge != nil {
		b, err := newBridge(*cfg.Bridge, cfg.NAS, log.With("subsys", "mqtt-bridge"))
		if err != nil {
			t.closeListeners()
			if t.store != nil {
				t.store.close()
			}
			return nil, err
		}
		t.bridge = b
	}
	return t, nil
}

func (t *Telemetry) addListeners() error {
	c := t.cfg
	if c.Listen != "" {
		t.tcp = newTCPListener("tcp", c.Listen, nil)
		if err := t.srv.AddListener(t.tcp); err != nil {
			t.tcp = nil
			return fmt.Errorf("telemetry: listen %s: %w", c.Listen, err)
		}
	}
	var tc *tls.Config
	if c.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("telemetry: tls key pair: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		t.tlsl = newTCPListener("tls", c.TLSListen, tc)
		if err := t.srv.AddListener(t.tlsl); err != nil {
			t.tlsl = nil
			return fmt.Errorf("telemetry: listen tls %s: %w", c.TLSListen, err)
		}
	}
	if c.WSListen != "" {
		t.ws = newWSListener("ws", c.WSListen)
		if err := t.srv.AddListener(t.ws); err != nil {
			t.ws = nil
			return fmt.Errorf("telemetry: listen ws %s: %w", c.WSListen, err)
		}
	}
	if c.MetricsListen != "" {
		ln, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			return fmt.Errorf("telemetry: metrics listen: %w", err)
		}
		t.metricsLn = ln
	}
	return nil
}

// quiesce ends every MQTT connection before mochi's Server.Close: it stops
// accepting, sends MQTT 5 clients a DISCONNECT (server shutting down), closes
// every connection (also those that never sent CONNECT) and waits until
// mochi's establish calls have returned. See connGate for why.
func (t *Telemetry) quiesce() {
	type drainer interface {
		ID() string
		stopAccepting()
	}
	var ls []drainer
	var gates []*connGate
	if t.tcp != nil {
		ls, gates = append(ls, t.tcp), append(gates, &t.tcp.gate)
	}
	if t.tlsl != nil {
		ls, gates = append(ls, t.tlsl), append(gates, &t.tlsl.gate)
	}
	if t.ws != nil {
		ls, gates = append(ls, t.ws), append(gates, &t.ws.gate)
	}
	for _, l := range ls {
		l.stopAccepting()
		for _, cl := range t.srv.Clients.GetByListener(l.ID()) {
			_ = t.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
	for _, g := range gates {
		g.drain()
	}
}

// closeListeners undoes addListeners when New fails.
func (t *Telemetry) closeListeners() {
	t.srv.Listeners.CloseAll(func(string) {})
	if t.metricsLn != nil {
		t.metricsLn.Close()
	}
}

// Addr is the TCP listener's address (useful with port 0), "" when off.
func (t *Telemetry) Addr() string {
	if t.tcp == nil {
		return ""
	}
	return t.tcp.Address()
}

// TLSAddr is the TLS listener's address, "" when off.
func (t *Telemetry) TLSAddr() string {
	if t.tlsl == nil {
		return ""
	}
	return t.tlsl.Address()
}

// WSAddr is the WebSocket listener's address, "" when off.
func (t *Telemetry) WSAddr() string {
	if t.ws == nil {
		return ""
	}
	return t.ws.Address()
}

// MetricsAddr is the metrics listener's address, "" when off.
func (t *Telemetry) MetricsAddr() string {
	if t.metricsLn == nil {
		return ""
	}
	return t.metricsLn.Addr().String()
}

// Start republishes the stored retained state, starts serving clients,
// the publisher goroutine, the metrics endpoint and the bridge.
func (t *Telemetry) Start() error {
	select {
	case <-t.stop:
		return ErrClosed
	default:
	}
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("telemetry: already started")
	}
	if t.store != nil {
		states, err := t.store.load()
		if err != nil {
			return err
		}
		for u, st := range states {
			t.states[u] = st
			// Into the broker only: the bridge saw it when it was new.
			if err := t.srv.Publish(t.topics.state(u), mustJSON(st), true, 1); err != nil {
				return fmt.Errorf("telemetry: republish state: %w", err)
			}
		}
		t.log.Info("telemetry: restored retained session state", "users", len(states))
	}
	if err := t.srv.Serve(); err != nil {
		return fmt.Errorf("telemetry: serve: %w", err)
	}
	if t.bridge != nil {
		t.bridge.start()
	}
	go t.runPublisher()
	go t.runPersister()
	if t.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", t.MetricsHandler())
		t.metricsHS = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := t.metricsHS.Serve(t.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.log.Error("telemetry: metrics server", slog.Any("err", err))
			}
		}()
	}
	return nil
}

// SessionEvent queues ev for publishing and returns at once. When the queue
// is full the event is dropped and counted (bngbox_telemetry_queue_overflow_total).
func (t *Telemetry) SessionEvent(ev session.Event) {
	select {
	case <-t.stop:
		return
	default:
	}
	select {
	case t.queue <- item{ev: ev}:
	default:
		if n := t.overflow.Add(1); n == 1 || n%1000 == 0 {
			t.log.Warn("telemetry: event queue full, dropping session events", "dropped_total", n, "queue_len", cap(t.queue))
		}
	}
}

// Reconcile corrects the retained state after start-up: every user whose
// stored state is online with a session for which active(user, sessionID)
// is false gets an offline state with the current time and
// "reconciled": true. It runs in order with queued session events and
// returns how many users it marked offline. A nil active means no session
// is active (the usual case after a restart: PPP sessions do not survive
// the daemon). Call it after Start, once the session layer knows which
// sessions survived.
func (t *Telemetry) Reconcile(active func(user, sessionID string) bool) (int, error) {
	if !t.started.Load() {
		return 0, errors.New("telemetry: reconcile before start")
	}
	r := &reconcileReq{active: active, done: make(chan struct{})}
	select {
	case t.queue <- item{rec: r}:
	case <-t.stop:
		return 0, ErrClosed
	}
	select {
	case <-r.done:
		return r.n, r.err
	case <-t.done:
		return 0, ErrClosed
	}
}

// Close stops accepting events, publishes what is queued, stops the bridge
// (its disk queue keeps what it could not send), the broker, the metrics
// endpoint and the store. Call it after the session layer has stopped.
func (t *Telemetry) Close() error {
	var errs []error
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.started.Load() {
			<-t.done
			<-t.pdone
		} else {
			close(t.done)
		}
		if t.metricsHS != nil {
			errs = append(errs, t.metricsHS.Close())
		} else if t.metricsLn != nil {
			t.metricsLn.Close()
		}
		if t.bridge != nil {
			errs = append(errs, t.bridge.close())
		}
		if t.started.Load() {
			t.quiesce()
			errs = append(errs, t.srv.Close())
		} else {
			t.closeListeners()
		}
		if t.store != nil {
			errs = append(errs, t.store.close())
		}
	})
	return errors.Join(errs...)
}
