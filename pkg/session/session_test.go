package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/dataplane/fake"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pkg/rate"
)

// recorder is an Accounter, Observer and Shaper that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	acct   []aaa.AcctRecord
	events []Event
	shaped []string
	setErr error // returned by Set (a failing shaper)
}

func (r *recorder) Account(rec *aaa.AcctRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *rec
	r.acct = append(r.acct, c)
	return nil
}

func (r *recorder) SessionEvent(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) Set(_ context.Context, iface string, rt rate.Rates) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shaped = append(r.shaped, "set "+iface+" "+rt.String())
	return r.setErr
}

func (r *recorder) Clear(_ context.Context, iface string) error {
	r.mu.Lock()
	r.shaped = append(r.shaped, "clear "+iface)
	r.mu.Unlock()
	return nil
}

func (r *recorder) shaperCalls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.shaped...)
}

func (r *recorder) stops() []aaa.AcctRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []aaa.AcctRecord
	for _, a := range r.acct {
		if a.Type == aaa.AcctStop {
			out = append(out, a)
		}
	}
	return out
}

func (r *recorder) kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []EventKind
	for _, e := range r.events {
		k = append(k, e.Kind)
	}
	return k
}

type hangups struct {
	mu  sync.Mutex
	got []bool // peerGone per call
}

func (h *hangups) Hangup(_ string, peerGone bool) {
	h.mu.Lock()
	h.got = append(h.got, peerGone)
	h.mu.Unlock()
}

func (h *hangups) calls() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.got...)
}

type env struct {
	t    *testing.T
	m    *Manager
	dp   *fake.Dataplane
	port dataplane.Port
	rec  *recorder
	pool *ippool.Pool
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	users := filepath.Join(t.TempDir(), "users.yaml")
	os.WriteFile(users, []byte("users:\n  - {name: alice, password: pw}\n  - {name: bob, password: pw, rates: 10M/5M}\n"), 0o600)
	local, err := aaa.NewLocal(users)
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := ippool.New("p", netip.MustParseAddr("100.64.0.10"), netip.MustParseAddr("100.64.0.20"))
	dp := fake.New()
	port, _ := dp.OpenPort("eth1", func(dataplane.Port, []byte) {})
	rec := &recorder{}
	cfg := Config{
		PPP: PPPConfig{Auth: []aaa.Method{aaa.CHAP, aaa.PAP}, LocalIP: netip.MustParseAddr("100.64.0.1"),
			DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}, RestartTimer: 200 * time.Millisecond, AuthTimeout: 5 * time.Second, MRU: 1492, IPv6: true},
		CalledStationID: "nas1",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m := NewManager(cfg, Deps{Dataplane: dp, Auth: local, Acct: rec, Pools: []*ippool.Pool{pool}, Shaper: rec, Observers: []Observer{rec}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	})
	return &env{t: t, m: m, dp: dp, port: port, rec: rec, pool: pool}
}

// client is a subscriber: a client-role ppp.Link wired to the fake session.
type client struct {
	t    *testing.T
	link *ppp.Link
	fs   *fake.Session
	seen int
	up   bool
	down bool
	ip   netip.Addr
	dns  netip.Addr
	h    *hangups
	s    *Session
	// inject, when set, delivers frames to the server instead of
	// fs.InjectControl (L2TP: control frames bypass the dataplane).
	inject func(proto uint16, payload []byte)
}

var sidSeq uint16

func (e *env) dial(user, password string) *client {
	e.t.Helper()
	sidSeq++
	sid := sidSeq
	c := &client{t: e.t, h: &hangups{}}
	s, err := e.m.Start(Params{
		Type: "pppoe", Port: "eth1", MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(sid)}, SID: sid, PortType: aaa.PortEthernet,
		DP: func(ctl func(uint16, []byte)) (dataplane.Session, error) {
			return e.dp.NewPPPoESession(dataplane.PPPoEParams{Port: e.port, Peer: net.HardwareAddr{2, 0, 0, 0, 0, byte(sid)}, SessionID: sid, Control: ctl})
		},
		Access: c.h,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	c.s = s
	c.fs = e.dp.Session(sid)
	c.link = ppp.New(&ppp.Config{Role: ppp.RoleClient, Username: user, Password: password, Auth: ppp.AuthCHAP | ppp.AuthPAP, IPv6: true, Restart: 200 * time.Millisecond})
	c.perform(c.link.Open(time.Now()))
	return c
}

func (c *client) perform(fx []ppp.Effect) {
	for _, e := range fx {
		switch e.Kind {
		case ppp.EffectSend:
			if c.inject != nil {
				c.inject(e.Proto, slices.Clone(e.Data))
			} else {
				c.fs.InjectControl(e.Proto, e.Data)
			}
		case ppp.EffectUp:
			if e.Net.Proto == ppp.ProtoIPCP {
				c.up, c.ip, c.dns = true, e.Net.LocalIP, e.Net.DNS[0]
			}
		case ppp.EffectDown:
			c.down = true
		}
	}
}

// pump moves frames from the server to the client until cond or timeout.
func (c *client) pump(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s (client phase %v)", what, c.link.Phase())
		}
		sent := c.fs.Sent()
		for ; c.seen < len(sent); c.seen++ {
			c.perform(c.link.Input(time.Now(), sent[c.seen].Proto, sent[c.seen].Payload))
		}
		if d := c.link.NextDeadline(); !d.IsZero() && time.Now().After(d) {
			c.perform(c.link.Tick(time.Now()))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSessionUpAndAdminTerminate(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("bob", "pw")
	c.pump("IPCP up", func() bool { return c.up })
	if !e.pool.Contains(c.ip) || c.dns.String() != "192.0.2.53" {
		t.Fatalf("client got ip %v dns %v", c.ip, c.dns)
	}
	waitFor(t, "session active", func() bool {
		s := e.m.Sessions(context.Background())
		return len(s) == 1 && s[0].State == Active
	})
	in := e.m.Sessions(context.Background())[0]
	if in.User != "bob" || in.IP != c.ip || in.Ifname != "ppp0" || in.Rates != (rate.Rates{Down: 10e6, Up: 5e6}) || in.CalledSID != "nas1" {
		t.Errorf("info = %+v", in)
	}
	ups := c.fs.Ups()
	if len(ups) == 0 || ups[0].PeerIP != c.ip || ups[0].LocalIP.String() != "100.64.0.1" {
		t.Errorf("dataplane Up calls: %+v", ups)
	}
	waitFor(t, "shaping applied", func() bool {
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		return len(e.rec.shaped) == 1 && e.rec.shaped[0] == "set ppp0 10M/5M"
	})

	n := e.m.Select(context.Background(), func(i *Info) bool { return i.User == "bob" }, func(s *Session) { s.Terminate(aaa.CauseAdminReset, false) })
	if n != 1 {
		t.Fatalf("selected %d", n)
	}
	c.pump("client down", func() bool { return c.down })
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	stops := e.rec.stops()
	if len(stops) != 1 || stops[0].Cause != aaa.CauseAdminReset || stops[0].Request.User != "bob" {
		t.Fatalf("stops = %+v", stops)
	}
	if h := c.h.calls(); len(h) != 1 || h[0] {
		t.Errorf("hangups = %v, want one PADT", h)
	}
	if e.pool.Used() != 0 {
		t.Errorf("address not returned to pool")
	}
	if k := e.rec.kinds(); len(k) != 2 || k[0] != EventStart || k[1] != EventStop {
		t.Errorf("events = %v", k)
	}
}

func TestSessionAuthReject(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("alice", "wrong")
	c.pump("client down", func() bool { return c.down })
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	if len(e.rec.acct) != 0 {
		t.Errorf("rejected session accounted: %+v", e.rec.acct)
	}
	if k := e.rec.kinds(); len(k) != 1 || k[0] != EventAuthFail {
		t.Errorf("events = %v", k)
	}
	if st := e.m.Counters(); st.AuthFail != 1 || st.AuthOK != 0 {
		t.Errorf("counters = %+v", st)
	}
	if e.pool.Used() != 0 {
		t.Error("address taken by a rejected session")
	}
}

func TestSessionPeerHangup(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("alice", "pw")
	c.pump("IPCP up", func() bool { return c.up })
	waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
	c.fs.SetStats(dataplane.Stats{RxBytes: 5 << 32, TxBytes: 7, RxPackets: 3, TxPackets: 1})
	c.s.PeerHangup()
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	stops := e.rec.stops()
	if len(stops) != 1 || stops[0].Cause != aaa.CauseUserRequest || stops[0].Stats.RxBytes != 5<<32 {
		t.Fatalf("stops = %+v", stops)
	}
	if h := c.h.calls(); len(h) != 1 || !h[0] {
		t.Errorf("hangups = %v, want one with peerGone (no PADT back)", h)
	}
}

func TestSessionSetAndRestoreRates(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("bob", "pw")
	c.pump("IPCP up", func() bool { return c.up })
	waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
	c.s.SetRates(rate.Rates{Down: 2e6, Up: 1e6}, "cli")
	waitFor(t, "rates set", func() bool {
		s := e.m.Sessions(context.Background())
		return len(s) == 1 && s[0].Rates.Down == 2e6
	})
	c.s.RestoreRates("cli")
	waitFor(t, "rates restored", func() bool {
		s := e.m.Sessions(context.Background())
		return len(s) == 1 && s[0].Rates.Down == 10e6
	})
	waitFor(t, "shaper calls", func() bool {
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		return len(e.rec.shaped) == 3
	})
	want := []string{"set ppp0 10M/5M", "set ppp0 2M/1M", "set ppp0 10M/5M"}
	for i, w := range want {
		if e.rec.shaped[i] != w {
			t.Errorf("shaper call %d = %q, want %q", i, e.rec.shaped[i], w)
		}
	}
	var rateEvents int
	for _, k := range e.rec.kinds() {
		if k == EventRates {
			rateEvents++
		}
	}
	if rateEvents != 2 {
		t.Errorf("%d rate events, want 2", rateEvents)
	}
}

func TestShutdownStopsEverySession(t *testing.T) {
	e := newEnv(t, nil)
	var cs []*client
	for _, u := range []string{"alice", "bob", "alice"} {
		c := e.dial(u, "pw")
		c.pump("IPCP up", func() bool { return c.up })
		cs = append(cs, c)
	}
	waitFor(t, "3 active", func() bool { return e.m.Counters().Active == 3 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.m.Shutdown(ctx)
	}()
	for _, c := range cs {
		c.pump("client down", func() bool { return c.down })
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stops := e.rec.stops()
	if len(stops) != 3 {
		t.Fatalf("%d stops", len(stops))
	}
	for _, s := range stops {
		if s.Cause != aaa.CauseAdminReboot {
			t.Errorf("stop cause %v", s.Cause)
		}
	}
	if _, err := e.m.Start(Params{}); err != ErrShutdown {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

func TestPoolExhaustedRefusesCleanly(t *testing.T) {
	e := newEnv(t, nil)
	for e.pool.Used() < e.pool.Size() {
		e.pool.Get()
	}
	c := e.dial("alice", "pw")
	c.pump("client down", func() bool { return c.down })
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	if len(e.rec.acct) != 0 {
		t.Error("refused session accounted")
	}
}

// With shaper.mandatory, a session whose shaping fails at session up is
// ended (NAS-Error, PADT) and what the shaper may have half applied is
// cleared.
func TestSessionShapingMandatoryRefuses(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ShapeMandatory = true })
	e.rec.mu.Lock()
	e.rec.setErr = errors.New("shaper: tc qdisc replace dev ppp0 root: operation not supported")
	e.rec.mu.Unlock()
	c := e.dial("bob", "pw")
	c.pump("client down", func() bool { return c.down })
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	stops := e.rec.stops()
	if len(stops) != 1 || stops[0].Cause != aaa.CauseNASError {
		t.Fatalf("stops = %+v, want one with NAS-Error", stops)
	}
	if h := c.h.calls(); len(h) != 1 || h[0] {
		t.Errorf("hangups = %v, want one PADT", h)
	}
	waitFor(t, "shaping cleared", func() bool { return len(e.rec.shaperCalls()) == 2 })
	if got, want := e.rec.shaperCalls(), []string{"set ppp0 10M/5M", "clear ppp0"}; !slices.Equal(got, want) {
		t.Errorf("shaper calls = %q, want %q", got, want)
	}
}

// Without shaper.mandatory a shaping failure is logged and the session
// stays up; so does a failed live change even when mandatory.
func TestSessionShapingFailureKeepsSession(t *testing.T) {
	for _, mandatory := range []bool{false, true} {
		t.Run(fmt.Sprint("mandatory=", mandatory), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ShapeMandatory = mandatory })
			if !mandatory {
				e.rec.mu.Lock()
				e.rec.setErr = errors.New("shaper: boom")
				e.rec.mu.Unlock()
			}
			c := e.dial("bob", "pw")
			c.pump("IPCP up", func() bool { return c.up })
			waitFor(t, "shaping tried", func() bool { return len(e.rec.shaperCalls()) == 1 })
			e.rec.mu.Lock()
			e.rec.setErr = errors.New("shaper: boom")
			e.rec.mu.Unlock()
			c.s.SetRates(rate.Rates{Down: 2e6, Up: 1e6}, "cli")
			waitFor(t, "live change tried", func() bool { return len(e.rec.shaperCalls()) == 2 })
			time.Sleep(50 * time.Millisecond)
			s := e.m.Sessions(context.Background())
			if len(s) != 1 || s[0].State != Active || c.down {
				t.Fatalf("session ended after a shaping failure: %+v (client down %v)", s, c.down)
			}
			if len(e.rec.stops()) != 0 {
				t.Errorf("stops = %+v", e.rec.stops())
			}
		})
	}
}

type l2tpCall struct{}

func (l2tpCall) SendPPP(uint16, []byte) error     { return nil }
func (l2tpCall) SetIPWriter(func(uint16, []byte)) {}

// TestSessionL2TP: an L2TP session comes up over an L2TP dataplane session
// and hands its tunnel to AAA and the session table.
func TestSessionL2TP(t *testing.T) {
	e := newEnv(t, nil)
	c := &client{t: t, h: &hangups{}}
	var ctl func(uint16, []byte)
	tun := &aaa.Tunnel{ClientEndpoint: "192.0.2.2", ServerEndpoint: "192.0.2.1", ClientAuthID: "lac1", TunnelID: 7, SessionID: 9}
	s, err := e.m.Start(Params{
		Type: "l2tp", Port: "192.0.2.2", SID: 9, Tunnel: "7/lac1", PortType: aaa.PortVirtual, CallingSID: "0123", TunnelAuth: tun,
		DP: func(f func(uint16, []byte)) (dataplane.Session, error) {
			ctl = f
			return e.dp.NewL2TPSession(dataplane.L2TPParams{Call: l2tpCall{}, TunnelID: 7, SessionID: 9})
		},
		Access: c.h,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	ss := e.dp.Sessions()
	c.fs = ss[len(ss)-1]
	c.inject = ctl
	c.link = ppp.New(&ppp.Config{Role: ppp.RoleClient, Username: "alice", Password: "pw", Auth: ppp.AuthCHAP | ppp.AuthPAP, Restart: 200 * time.Millisecond})
	c.perform(c.link.Open(time.Now()))
	c.pump("IPCP up", func() bool { return c.up })
	waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
	in := e.m.Sessions(context.Background())[0]
	if in.Type != "l2tp" || in.Tunnel != "7/lac1" || in.CallingSID != "0123" {
		t.Errorf("info = %+v", in)
	}
	s.PeerHangup()
	waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
	stops := e.rec.stops()
	if len(stops) != 1 || stops[0].Request.Tunnel == nil || *stops[0].Request.Tunnel != *tun || stops[0].Request.PortType != aaa.PortVirtual {
		t.Fatalf("stops = %+v", stops)
	}
	if h := c.h.calls(); len(h) != 1 || !h[0] {
		t.Errorf("hangups = %v, want one with peerGone (no CDN back)", h)
	}
}
