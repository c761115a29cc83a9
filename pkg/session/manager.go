// Package session owns subscriber sessions: one goroutine per session runs
// its PPP link (pkg/ppp), asks AAA, takes an address, brings the dataplane
// interface up, applies shaping and reports accounting and events. Nothing
// else touches a session's fields: others send it a message and get a
// snapshot back.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pkg/rate"
)

// Shaper is the part of shaper.Shaper the session layer uses.
type Shaper interface {
	Set(ctx context.Context, iface string, r rate.Rates) error
	Clear(ctx context.Context, iface string) error
}

// PPPConfig is the PPP policy every session gets.
type PPPConfig struct {
	MRU          int
	Auth         []aaa.Method // offered, in order
	EchoInterval time.Duration
	EchoFailure  int
	RestartTimer time.Duration
	MaxConfigure int
	MaxFailure   int
	MaxTerminate int
	AuthTimeout  time.Duration
	LocalIP      netip.Addr
	DNS          []netip.Addr
	IPv6         bool
	IPv6IntfID   uint64 // our IPv6CP interface identifier; 0: random per session
}

// Config is the session layer's policy.
type Config struct {
	PPP             PPPConfig
	InterimInterval time.Duration
	DefaultRates    rate.Rates
	ShapeMandatory  bool
	// ShapeDefer bounds how long a session's first shaping may be held
	// back while other sessions keep coming up (see deferShaping); 0
	// applies it as soon as the shaper goroutine gets to it.
	ShapeDefer      time.Duration
	CalledStationID string // NAS identifier
}

// Deps are the subsystems sessions use. Shaper may be nil.
type Deps struct {
	Log       *slog.Logger
	Dataplane dataplane.Dataplane
	Auth      aaa.Authenticator
	Acct      aaa.Accounter
	Pools     []*ippool.Pool // the first is the default
	Shaper    Shaper
	IDs       *aaa.SessionIDs
	Observers []Observer
}

// Manager is the session table.
type Manager struct {
	deps Deps
	cfg  atomic.Pointer[Config]
	pppc atomic.Pointer[ppp.Config] // derived from cfg, shared read-only by links
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*Session // by Acct-Session-Id
	closed   bool
	wg       sync.WaitGroup

	authOK, authFail atomic.Uint64
	setups           setupWindow
	shapeQ           chan shapeJob
	lastUpJob        atomic.Int64 // UnixNano when the last session-up shaping job was queued
	shapeDone        chan struct{}
	shapeOnce        sync.Once
	drops            dropCounters
	// jitter picks the delay of a session's first interim (interimJitter;
	// tests fix it).
	jitter func(iv time.Duration) time.Duration
}

// NewManager makes an empty session table.
func NewManager(cfg Config, deps Deps) *Manager {
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.IDs == nil {
		deps.IDs = aaa.NewSessionIDs(time.Now())
	}
	m := &Manager{
		deps:      deps,
		log:       deps.Log,
		sessions:  map[string]*Session{},
		shapeQ:    make(chan shapeJob, 4096),
		shapeDone: make(chan struct{}),
		jitter:    interimJitter,
	}
	m.SetConfig(cfg)
	go m.shapeLoop()
	return m
}

// SetConfig replaces the policy for sessions that start from now on
// (and the interim interval of running ones at their next interim).
func (m *Manager) SetConfig(cfg Config) {
	m.pppc.Store(cfg.pppConfig())
	m.cfg.Store(&cfg)
}

func (m *Manager) pppConfig() *ppp.Config { return m.pppc.Load() }

func (m *Manager) config() *Config { return m.cfg.Load() }

// ErrShutdown is returned when sessions are refused because the manager is stopping.
var ErrShutdown = errors.New("session manager is shutting down")

func (m *Manager) add(s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrShutdown
	}
	m.sessions[s.id] = s
	m.wg.Add(1)
	return nil
}

func (m *Manager) remove(s *Session) {
	m.mu.Lock()
	delete(m.sessions, s.id)
	m.mu.Unlock()
	m.wg.Done()
}

func (m *Manager) list() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Len is the number of sessions in any state.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Sessions returns snapshots of all sessions, ordered by start time.
func (m *Manager) Sessions(ctx context.Context) []Info {
	all := m.list()
	out := make([]Info, 0, len(all))
	for _, s := range all {
		if in, ok := s.snapshot(ctx); ok {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Select applies fn to every session whose snapshot matches; it returns
// the number of sessions fn was applied to.
func (m *Manager) Select(ctx context.Context, match func(*Info) bool, fn func(*Session)) int {
	n := 0
	for _, s := range m.list() {
		in, ok := s.snapshot(ctx)
		if ok && match(&in) {
			fn(s)
			n++
		}
	}
	return n
}

// Counters is what `show stat` and metrics report.
type Counters struct {
	Starting, Active, Finishing int
	SetupRate                   float64
	AuthOK, AuthFail            uint64
	Drops                       map[string]uint64
}

// Counters reads the daemon-wide counters.
func (m *Manager) Counters() Counters {
	c := Counters{AuthOK: m.authOK.Load(), AuthFail: m.authFail.Load(), SetupRate: m.setups.rate(time.Now()), Drops: m.drops.snapshot()}
	for _, s := range m.list() {
		switch s.stateNow() {
		case Starting:
			c.Starting++
		case Active:
			c.Active++
		default:
			c.Finishing++
		}
	}
	return c
}

// Shutdown terminates every session (NAS-Reboot... Admin-Reboot cause) and
// waits for them to finish or ctx to expire. New sessions are refused.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	for _, s := range m.list() {
		s.terminate(aaa.CauseAdminReboot, false)
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// Sessions still finishing may yet queue shaping work: leave the
		// queue open; the process is about to exit.
		return fmt.Errorf("shutdown: %d sessions still finishing: %w", m.Len(), ctx.Err())
	}
	m.shapeOnce.Do(func() { close(m.shapeQ) })
	<-m.shapeDone
	return nil
}

func (m *Manager) publish(ev Event) {
	for _, o := range m.deps.Observers {
		o.SessionEvent(ev)
	}
}

// setupWindow counts session setups over the last 10 seconds.
type setupWindow struct {
	mu      sync.Mutex
	buckets [10]uint32
	sec     int64
}

func (w *setupWindow) add(now time.Time) {
	w.mu.Lock()
	w.advance(now.Unix())
	w.buckets[now.Unix()%10]++
	w.mu.Unlock()
}

func (w *setupWindow) advance(sec int64) {
	if sec-w.sec >= 10 {
		w.buckets = [10]uint32{}
	} else {
		for s := w.sec + 1; s <= sec; s++ {
			w.buckets[s%10] = 0
		}
	}
	if sec > w.sec {
		w.sec = sec
	}
}

func (w *setupWindow) rate(now time.Time) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(now.Unix())
	var n uint32
	for _, b := range w.buckets {
		n += b
	}
	return float64(n) / 10
}

type dropCounters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (d *dropCounters) inc(reason string) {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[string]uint64{}
	}
	d.m[reason]++
	d.mu.Unlock()
}

func (d *dropCounters) snapshot() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(d.m))
	for k, v := range d.m {
		out[k] = v
	}
	return out
}

// shapeJob is one shaping change, applied off the session goroutine so
// netlink work never delays PPP or other sessions' setup.
type shapeJob struct {
	iface string
	rates rate.Rates
	clear bool
	up    bool        // the session's first shaping, at session up
	at    time.Time   // when it was queued (up jobs)
	done  func(error) // called from the shaper goroutine; must not block
}

// shapeQuiet is how long no session may have come up before a setup burst
// counts as over (deferShaping).
const shapeQuiet = 250 * time.Millisecond

// deferShaping holds a session-up job back while sessions are coming up,
// so that its netlink work (which takes the kernel's RTNL lock, like the
// session interfaces' own setup) does not slow down a setup burst; it
// returns once no session is in setup and none came up for shapeQuiet, or
// once the job is ShapeDefer old, whichever is first. Jobs behind it wait
// with it (the queue is FIFO, so a session's Set and Clear stay in order).
func (m *Manager) deferShaping(j shapeJob) {
	limit := m.config().ShapeDefer
	if !j.up || limit <= 0 {
		return
	}
	for {
		now := time.Now()
		left := j.at.Add(limit).Sub(now)
		quiet := now.Sub(time.Unix(0, m.lastUpJob.Load()))
		if left <= 0 || (quiet >= shapeQuiet && !m.anyStarting()) {
			return
		}
		time.Sleep(min(left, max(shapeQuiet-quiet, shapeQuiet/5)))
	}
}

// anyStarting reports whether a session is in setup (PPP negotiating).
func (m *Manager) anyStarting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if s.stateNow() == Starting {
			return true
		}
	}
	return false
}

func (m *Manager) shapeLoop() {
	defer close(m.shapeDone)
	for j := range m.shapeQ {
		m.deferShaping(j)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if j.clear {
			err = m.deps.Shaper.Clear(ctx, j.iface)
		} else {
			err = m.deps.Shaper.Set(ctx, j.iface, j.rates)
		}
		cancel()
		if err != nil {
			m.log.Warn("shaping failed", "iface", j.iface, "rates", j.rates.String(), "err", err)
		}
		if j.done != nil {
			j.done(err)
		}
	}
}
