package l2tp

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// link is an in-memory LAC↔LNS pair driven with a fixed clock.
type link struct {
	t        *testing.T
	lac, lns *Tunnel
	now      time.Time
	// events seen, per side
	lacEv, lnsEv []Event
	// drop, when set, loses packets in flight.
	drop bool
}

func newLink(t *testing.T, lacCfg, lnsCfg TunnelConfig) *link {
	lacCfg.Role, lnsCfg.Role = RoleLAC, RoleLNS
	if lacCfg.LocalID == 0 {
		lacCfg.LocalID = 100
	}
	if lnsCfg.LocalID == 0 {
		lnsCfg.LocalID = 200
	}
	lacCfg.HostName, lnsCfg.HostName = "lac", "lns"
	return &link{t: t, lac: NewTunnel(lacCfg), lns: NewTunnel(lnsCfg), now: t0}
}

// run applies effects of side `from` and delivers packets until quiet.
func (l *link) run(from *Tunnel, e Effects) {
	l.t.Helper()
	type inflight struct {
		to  *Tunnel
		pkt []byte
	}
	var q []inflight
	push := func(src *Tunnel, e Effects) {
		if src == l.lac {
			l.lacEv = append(l.lacEv, e.Events...)
		} else {
			l.lnsEv = append(l.lnsEv, e.Events...)
		}
		dst := l.lns
		if src == l.lns {
			dst = l.lac
		}
		for _, p := range e.Send {
			q = append(q, inflight{dst, p})
		}
	}
	push(from, e)
	for len(q) > 0 {
		f := q[0]
		q = q[1:]
		if l.drop {
			continue
		}
		h, body, err := ParseHeader(f.pkt)
		if err != nil {
			l.t.Fatalf("bad packet %x: %v", f.pkt, err)
		}
		if h.TunnelID != 0 && h.TunnelID != f.to.LocalID() {
			l.t.Fatalf("packet for tunnel %d delivered to %d", h.TunnelID, f.to.LocalID())
		}
		e, _ := f.to.Receive(l.now, &h, body)
		push(f.to, e)
	}
}

// advance moves the clock and ticks both sides until nothing is due.
func (l *link) advance(d time.Duration) {
	end := l.now.Add(d)
	for {
		next := end
		for _, tn := range []*Tunnel{l.lac, l.lns} {
			if dl := tn.Deadline(); !dl.IsZero() && dl.Before(next) {
				next = dl
			}
		}
		l.now = next
		l.run(l.lac, l.lac.Tick(l.now))
		l.run(l.lns, l.lns.Tick(l.now))
		if !l.now.Before(end) {
			return
		}
	}
}

func (l *link) open() {
	l.t.Helper()
	e, err := l.lac.Open(l.now)
	if err != nil {
		l.t.Fatal(err)
	}
	l.run(l.lac, e)
}

func kinds(ev []Event) []EventKind {
	var k []EventKind
	for _, e := range ev {
		k = append(k, e.Kind)
	}
	return k
}

func lastDown(ev []Event) (Event, bool) {
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].Kind == EventTunnelDown {
			return ev[i], true
		}
	}
	return Event{}, false
}

func TestTunnelAuth(t *testing.T) {
	tests := []struct {
		name             string
		lacSecret        string
		lnsSecret        string
		lnsLookup        map[string]string
		lnsRequire       bool
		wantUp           bool
		wantCode         uint16
		wantRefusedAtLNS bool // the LNS sent the StopCCN
	}{
		{name: "no auth", wantUp: true},
		{name: "both secret", lacSecret: "s3cret", lnsSecret: "s3cret", wantUp: true},
		{name: "lookup by hostname", lacSecret: "abc", lnsLookup: map[string]string{"lac": "abc"}, wantUp: true},
		{name: "LAC wrong secret: LAC rejects SCCRP", lacSecret: "wrong", lnsSecret: "s3cret", wantCode: StopNotAuthorized},
		{name: "LAC has no secret: LNS challenge unanswerable", lnsSecret: "s3cret", wantCode: StopNotAuthorized},
		{name: "LNS has no secret for challenging LAC", lacSecret: "s3cret", wantCode: StopNotAuthorized, wantRefusedAtLNS: true},
		{name: "LNS requires auth, unknown host", lnsRequire: true, lnsLookup: map[string]string{"other": "x"}, wantCode: StopNotAuthorized, wantRefusedAtLNS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lac := TunnelConfig{Secret: []byte(tt.lacSecret)}
			lns := TunnelConfig{RequireAuth: tt.lnsRequire}
			if tt.lnsSecret != "" {
				lns.Secret = []byte(tt.lnsSecret)
			}
			if tt.lnsLookup != nil {
				lns.LookupSecret = func(h string) ([]byte, bool) { s, ok := tt.lnsLookup[h]; return []byte(s), ok }
			}
			if tt.lacSecret == "" {
				lac.Secret = nil
			}
			l := newLink(t, lac, lns)
			l.open()
			if tt.wantUp {
				if l.lac.State() != TunnelEstablished || l.lns.State() != TunnelEstablished {
					t.Fatalf("states %s/%s, want established", l.lac.State(), l.lns.State())
				}
				if len(l.lacEv) != 1 || l.lacEv[0].Kind != EventTunnelUp || len(l.lnsEv) != 1 || l.lnsEv[0].Kind != EventTunnelUp {
					t.Fatalf("events %v / %v", kinds(l.lacEv), kinds(l.lnsEv))
				}
				if l.lns.PeerID() != 100 || l.lac.PeerID() != 200 || l.lns.PeerHostName() != "lac" {
					t.Fatalf("ids %d %d host %q", l.lns.PeerID(), l.lac.PeerID(), l.lns.PeerHostName())
				}
				return
			}
			for side, ev := range map[string][]Event{"lac": l.lacEv, "lns": l.lnsEv} {
				d, ok := lastDown(ev)
				if !ok || d.Result.Code != tt.wantCode {
					t.Fatalf("%s: events %+v, want down with result %d", side, ev, tt.wantCode)
				}
			}
			refuser := l.lac
			if tt.wantRefusedAtLNS {
				refuser = l.lns
			}
			if d, _ := lastDown(map[*Tunnel][]Event{l.lac: l.lacEv, l.lns: l.lnsEv}[refuser]); !errors.Is(d.Err, ErrTunnelAuth) {
				t.Fatalf("refusing side's down event err %v, want ErrTunnelAuth", d.Err)
			}
			if l.lac.State() == TunnelEstablished || l.lns.State() == TunnelEstablished {
				t.Fatal("a side stayed established")
			}
		})
	}
}

// TestTunnelBadSCCCNResponse forges an SCCCN whose response is wrong.
func TestTunnelBadSCCCNResponse(t *testing.T) {
	lns := NewTunnel(TunnelConfig{Role: RoleLNS, LocalID: 9, HostName: "lns", Secret: []byte("k")})
	rq := NewMessage(MsgSCCRQ).Add(AVPProtocolVersion, []byte{1, 0}).Add(AVPHostName, []byte("x")).
		AddUint32(AVPFramingCapabilities, 1).AddUint16(AVPAssignedTunnelID, 5)
	e, err := lns.Receive(t0, rx(0, 0), rq.Append(nil, nil))
	if err != nil || len(e.Send) != 1 || lns.State() != TunnelWaitCtlConn {
		t.Fatalf("SCCRQ: %v %d %s", err, len(e.Send), lns.State())
	}
	for _, resp := range [][]byte{nil, bytes.Repeat([]byte{1}, 16)} {
		lns := NewTunnel(TunnelConfig{Role: RoleLNS, LocalID: 9, HostName: "lns", Secret: []byte("k")})
		lns.Receive(t0, rx(0, 0), rq.Append(nil, nil))
		cn := NewMessage(MsgSCCCN)
		if resp != nil {
			cn.Add(AVPChallengeResponse, resp)
		}
		e, err := lns.Receive(t0, rx(1, 1), cn.Append(nil, nil))
		if !errors.Is(err, ErrTunnelAuth) || lns.State() != TunnelClosing {
			t.Fatalf("response %x: err %v state %s", resp, err, lns.State())
		}
		stop := findMsg(t, e.Send, MsgStopCCN)
		if r, _ := stop.Result(); r.Code != StopNotAuthorized {
			t.Fatalf("StopCCN result %+v", r)
		}
	}
}

// findMsg returns the first control message of type mt among pkts.
func findMsg(t *testing.T, pkts [][]byte, mt MsgType) *Message {
	t.Helper()
	for _, p := range pkts {
		_, body, _ := ParseHeader(p)
		if len(body) == 0 {
			continue
		}
		if m, err := ParseMessage(body, nil); m != nil && m.Type == mt {
			_ = err
			return m
		}
	}
	t.Fatalf("no %s among %d packets", mt, len(pkts))
	return nil
}

func TestTunnelDuplicateSCCRQ(t *testing.T) {
	lns := NewTunnel(TunnelConfig{Role: RoleLNS, LocalID: 9, HostName: "lns"})
	rq := NewMessage(MsgSCCRQ).Add(AVPProtocolVersion, []byte{1, 0}).Add(AVPHostName, []byte("x")).
		AddUint32(AVPFramingCapabilities, 1).AddUint16(AVPAssignedTunnelID, 5).Append(nil, nil)
	lns.Receive(t0, rx(0, 0), rq)
	e, _ := lns.Receive(t0.Add(time.Second), rx(0, 0), rq)
	if len(e.Send) != 1 {
		t.Fatalf("sent %d packets, want one ZLB", len(e.Send))
	}
	if h, body, _ := ParseHeader(e.Send[0]); len(body) != 0 || h.Nr != 1 || h.TunnelID != 5 {
		t.Fatalf("want ZLB to tunnel 5 with Nr 1, got %+v %x", h, body)
	}
}

func TestTunnelBadVersion(t *testing.T) {
	lns := NewTunnel(TunnelConfig{Role: RoleLNS, LocalID: 9, HostName: "lns"})
	rq := NewMessage(MsgSCCRQ).Add(AVPProtocolVersion, []byte{3, 0}).Add(AVPHostName, []byte("x")).
		AddUint32(AVPFramingCapabilities, 1).AddUint16(AVPAssignedTunnelID, 5).Append(nil, nil)
	e, _ := lns.Receive(t0, rx(0, 0), rq)
	if r, _ := findMsg(t, e.Send, MsgStopCCN).Result(); r.Code != StopBadVersion {
		t.Fatalf("result %+v, want %d", r, StopBadVersion)
	}
}

func TestTunnelStopCCN(t *testing.T) {
	for _, closer := range []string{"lac", "lns"} {
		t.Run(closer, func(t *testing.T) {
			l := newLink(t, TunnelConfig{}, TunnelConfig{})
			l.open()
			a, b := l.lac, l.lns
			if closer == "lns" {
				a, b = b, a
			}
			l.run(a, a.Close(l.now, Result{Code: StopClear, Message: "bye"}))
			evB := l.lnsEv
			if b == l.lac {
				evB = l.lacEv
			}
			d, ok := lastDown(evB)
			if !ok || d.Result.Code != StopClear || d.Result.Message != "bye" {
				t.Fatalf("peer events %+v", evB)
			}
			if a.State() != TunnelClosed {
				t.Fatalf("closer state %s, want closed once StopCCN is acked", a.State())
			}
			if b.State() != TunnelClosing {
				t.Fatalf("peer state %s, want closing (hold)", b.State())
			}
			l.advance(b.cfg.HoldTime)
			if b.State() != TunnelClosed {
				t.Fatalf("peer state %s after hold time", b.State())
			}
		})
	}
}

func TestTunnelHelloTimeout(t *testing.T) {
	cfg := TunnelConfig{HelloInterval: 30 * time.Second, Channel: ChannelConfig{MaxRetransmits: 3}}
	l := newLink(t, cfg, cfg)
	l.open()
	// Idle but healthy: Hellos are acknowledged and the tunnel stays up.
	l.advance(2 * time.Minute)
	if l.lns.State() != TunnelEstablished || l.lac.State() != TunnelEstablished {
		t.Fatalf("healthy idle tunnel went %s/%s", l.lac.State(), l.lns.State())
	}
	// The LAC goes silent.
	l.drop = true
	l.advance(2 * time.Minute)
	d, ok := lastDown(l.lnsEv)
	if !ok || !errors.Is(d.Err, ErrPeerUnreachable) || l.lns.State() != TunnelClosed {
		t.Fatalf("lns events %v state %s", kinds(l.lnsEv), l.lns.State())
	}
}

func TestTunnelUnknownMandatoryAVP(t *testing.T) {
	l := newLink(t, TunnelConfig{}, TunnelConfig{})
	l.open()
	hello := NewMessage(MsgHello)
	hello.AVPs = append(hello.AVPs, AVP{Mandatory: true, Vendor: 311, Type: 1})
	e, err := l.lns.Receive(l.now, rx(2, 1), hello.Append(nil, nil))
	if !errors.Is(err, ErrMandatory) {
		t.Fatalf("err %v", err)
	}
	r, _ := findMsg(t, e.Send, MsgStopCCN).Result()
	if r.Code != StopGeneralError || r.Error != ErrCodeUnknownMandatory {
		t.Fatalf("result %+v, want 2/8", r)
	}
	// Not mandatory: ignored.
	l2 := newLink(t, TunnelConfig{}, TunnelConfig{})
	l2.open()
	hello.AVPs[0].Mandatory = false
	if _, err := l2.lns.Receive(l2.now, rx(2, 1), hello.Append(nil, nil)); err != nil || l2.lns.State() != TunnelEstablished {
		t.Fatalf("non-mandatory vendor AVP: %v %s", err, l2.lns.State())
	}
}
