package ppp

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// A side is one end of an in-memory link.
type side struct {
	name    string
	l       *Link
	linkUp  bool
	authed  bool
	ups     map[uint16]NetUp
	down    *Effect
	pending *AuthRequest
	auths   []AuthRequest
	sent    []frame // everything this side sent, copied
}

type frame struct {
	proto uint16
	data  []byte
}

// A pair wires a server and a client Link through in-memory queues with a
// fixed, manually advanced clock.
type pair struct {
	t      *testing.T
	now    time.Time
	s, c   *side
	inbox  map[*side][]frame
	decide func(a *AuthRequest) (bool, string, NetParams)
	// block drops frames sent by a side; drop, when set, those it selects.
	block map[*side]bool
	drop  func(from *side, proto uint16, data []byte) bool
}

var (
	serverIP = netip.MustParseAddr("10.0.0.1")
	peerIP   = netip.MustParseAddr("100.64.0.2")
	dns1     = netip.MustParseAddr("192.0.2.53")
	dns2     = netip.MustParseAddr("192.0.2.54")
)

func seeded(n uint64) *rand.ChaCha8 {
	var seed [32]byte
	seed[0] = byte(n)
	return rand.NewChaCha8(seed)
}

func serverConfig(auth AuthMethod) *Config {
	return &Config{Role: RoleServer, Auth: auth, LocalIP: serverIP, IPv6: true, LocalIfaceID: 0x0200_5eff_fe00_0001, Rand: seeded(1)}
}

func clientConfig(auth AuthMethod) *Config {
	return &Config{Role: RoleClient, Auth: auth, Username: "alice", Password: "s3cret", IPv6: true, Rand: seeded(2)}
}

// acceptGood accepts alice/s3cret (checking the CHAP response) and grants
// peerIP and two DNS servers.
func acceptGood(a *AuthRequest) (bool, string, NetParams) {
	ok := a.User == "alice" || a.Method == AuthNone
	switch a.Method {
	case AuthPAP:
		ok = ok && a.Password == "s3cret"
	case AuthCHAP:
		h := md5.New()
		h.Write([]byte{a.ChapID})
		h.Write([]byte("s3cret"))
		h.Write(a.Challenge)
		ok = ok && bytes.Equal(h.Sum(nil), a.Response)
	}
	if !ok {
		return false, "bad password", NetParams{}
	}
	return true, "welcome", NetParams{PeerIP: peerIP, DNS: [2]netip.Addr{dns1, dns2}}
}

func newPair(t *testing.T, scfg, ccfg *Config) *pair {
	p := &pair{t: t, now: t0, inbox: map[*side][]frame{}, decide: acceptGood, block: map[*side]bool{}}
	p.s = &side{name: "server", l: New(scfg), ups: map[uint16]NetUp{}}
	p.c = &side{name: "client", l: New(ccfg), ups: map[uint16]NetUp{}}
	return p
}

func (p *pair) other(s *side) *side {
	if s == p.s {
		return p.c
	}
	return p.s
}

// effects performs one side's effects.
func (p *pair) effects(s *side, fx []Effect) {
	for _, e := range fx {
		switch e.Kind {
		case EffectSend:
			f := frame{e.Proto, bytes.Clone(e.Data)}
			s.sent = append(s.sent, f)
			if !p.block[s] && (p.drop == nil || !p.drop(s, e.Proto, e.Data)) {
				o := p.other(s)
				p.inbox[o] = append(p.inbox[o], f)
			}
		case EffectAuthRequest:
			s.pending = e.Auth
			s.auths = append(s.auths, *e.Auth)
		case EffectLinkUp:
			s.linkUp = true
		case EffectAuthenticated:
			s.authed = true
		case EffectUp:
			s.ups[e.Net.Proto] = *e.Net
		case EffectNetDown:
			delete(s.ups, e.Proto)
		case EffectDown:
			if s.down != nil {
				p.t.Errorf("%s: second Down", s.name)
			}
			d := e
			s.down = &d
		}
	}
}

// settle delivers frames and answers AuthRequests until nothing moves.
func (p *pair) settle() {
	for range 10000 {
		switch {
		case len(p.inbox[p.s]) > 0:
			f := p.inbox[p.s][0]
			p.inbox[p.s] = p.inbox[p.s][1:]
			p.effects(p.s, p.s.l.Input(p.now, f.proto, f.data))
		case len(p.inbox[p.c]) > 0:
			f := p.inbox[p.c][0]
			p.inbox[p.c] = p.inbox[p.c][1:]
			p.effects(p.c, p.c.l.Input(p.now, f.proto, f.data))
		case p.s.pending != nil:
			a := p.s.pending
			p.s.pending = nil
			ok, msg, np := p.decide(a)
			p.effects(p.s, p.s.l.AuthResult(p.now, ok, msg, np))
		default:
			return
		}
	}
	p.t.Fatal("pair does not settle")
}

func (p *pair) open() {
	p.effects(p.s, p.s.l.Open(p.now))
	p.effects(p.c, p.c.l.Open(p.now))
	p.settle()
}

// advance moves the clock to the next deadline of either side (at most
// max ahead) and runs the timers.
func (p *pair) advance(max time.Duration) {
	next := p.now.Add(max)
	for _, s := range []*side{p.s, p.c} {
		if d := s.l.NextDeadline(); !d.IsZero() && d.Before(next) {
			next = d
		}
	}
	p.now = next
	for _, s := range []*side{p.s, p.c} {
		if d := s.l.NextDeadline(); !d.IsZero() && !d.After(p.now) {
			p.effects(s, s.l.Tick(p.now))
		}
	}
	p.settle()
}

func TestPairOpen(t *testing.T) {
	for _, tc := range []struct {
		name       string
		server     AuthMethod
		client     AuthMethod
		wantMethod AuthMethod
	}{
		{"pap", AuthPAP, AuthPAP | AuthCHAP, AuthPAP},
		{"chap", AuthCHAP, AuthPAP | AuthCHAP, AuthCHAP},
		{"chap-server-nak-to-pap", AuthPAP | AuthCHAP, AuthPAP, AuthPAP},
		{"client-nak-to-chap", AuthPAP, AuthCHAP, AuthNone}, // server only does PAP: fails
		{"none", AuthNone, AuthNone, AuthNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, serverConfig(tc.server), clientConfig(tc.client))
			p.open()
			for i := 0; i < 40 && p.s.down == nil && len(p.s.ups) < 2; i++ {
				p.advance(10 * time.Second)
			}
			if tc.name == "client-nak-to-chap" {
				// The client Naks PAP Max-Failure times, then Rejects it:
				// the server cannot go on without authentication.
				naks := 0
				for _, f := range p.c.sent {
					if f.proto == ProtoLCP && f.data[0] == CodeConfigureNak {
						naks++
					}
				}
				if naks != DefaultMaxFailure {
					t.Errorf("client sent %d Naks, want %d", naks, DefaultMaxFailure)
				}
				if p.s.down == nil || p.s.down.Reason != ReasonNegotiation {
					t.Fatalf("server down = %+v, want negotiation-failed", p.s.down)
				}
				return
			}
			if p.s.down != nil || p.c.down != nil {
				t.Fatalf("down: server %+v client %+v", p.s.down, p.c.down)
			}
			if len(p.s.auths) != 1 || p.s.auths[0].Method != tc.wantMethod {
				t.Fatalf("auth requests %+v, want one %v", p.s.auths, tc.wantMethod)
			}
			if a := p.s.auths[0]; tc.wantMethod != AuthNone && a.User != "alice" {
				t.Errorf("user %q", a.User)
			}
			if !p.s.linkUp || !p.c.linkUp || (tc.wantMethod != AuthNone) != p.c.authed {
				t.Errorf("linkUp %v/%v authed %v", p.s.linkUp, p.c.linkUp, p.c.authed)
			}
			s4, c4 := p.s.ups[ProtoIPCP], p.c.ups[ProtoIPCP]
			want := NetUp{Proto: ProtoIPCP, LocalIP: serverIP, PeerIP: peerIP, DNS: [2]netip.Addr{dns1, dns2}}
			if s4 != want {
				t.Errorf("server IPCP up %+v, want %+v", s4, want)
			}
			want.LocalIP, want.PeerIP = peerIP, serverIP
			if c4 != want {
				t.Errorf("client IPCP up %+v, want %+v", c4, want)
			}
			s6, c6 := p.s.ups[ProtoIPv6CP], p.c.ups[ProtoIPv6CP]
			if s6.LocalIfaceID != 0x0200_5eff_fe00_0001 || s6.PeerIfaceID == 0 || s6.PeerIfaceID == s6.LocalIfaceID ||
				c6.LocalIfaceID != s6.PeerIfaceID || c6.PeerIfaceID != s6.LocalIfaceID {
				t.Errorf("IPv6CP ids: server %+v client %+v", s6, c6)
			}
			if p.s.l.Phase() != PhaseNetwork || p.c.l.Phase() != PhaseNetwork {
				t.Errorf("phases %v %v", p.s.l.Phase(), p.c.l.Phase())
			}
			if lm, pm := p.s.l.MRU(); lm != 1492 || pm != 1492 {
				t.Errorf("MRU %d/%d", lm, pm)
			}
		})
	}
}

func TestPairAuthReject(t *testing.T) {
	for _, m := range []AuthMethod{AuthPAP, AuthCHAP} {
		t.Run(m.String(), func(t *testing.T) {
			ccfg := clientConfig(m)
			ccfg.Password = "wrong"
			p := newPair(t, serverConfig(m), ccfg)
			p.open()
			for i := 0; i < 10 && (p.s.down == nil || p.c.down == nil); i++ {
				p.advance(10 * time.Second)
			}
			for _, s := range []*side{p.s, p.c} {
				if s.down == nil || s.down.Reason != ReasonAuthFailed || s.down.Message != "bad password" {
					t.Errorf("%s down = %+v, want auth-failed %q", s.name, s.down, "bad password")
				}
			}
			if len(p.s.ups)+len(p.c.ups) != 0 {
				t.Errorf("ups after reject: %v %v", p.s.ups, p.c.ups)
			}
			if n := countFrames(p.s.sent, ProtoLCP, CodeTerminateRequest); n < 1 {
				t.Errorf("server sent no Terminate-Request")
			}
			// A retransmitted request after the refusal gets the same
			// verdict, while the server terminates.
			p2 := newPair(t, serverConfig(m), ccfg)
			p2.decide = func(a *AuthRequest) (bool, string, NetParams) {
				p2.block[p2.c] = true // the client hears the verdict; we hear nothing more
				return acceptGood(a)
			}
			p2.open()
			proto, code := ProtoPAP, papNak
			if m == AuthCHAP {
				proto, code = ProtoCHAP, chapFailure
			}
			var last frame
			for _, f := range p2.c.sent {
				if f.proto == proto {
					last = f
				}
			}
			if p2.s.l.LCPState() != StateClosing {
				t.Fatalf("server LCP %v", p2.s.l.LCPState())
			}
			fx := p2.s.l.Input(p2.now, last.proto, last.data)
			if r := only(t, fx, proto); r.Code != code || r.ID != last.data[1] || !bytes.Contains(r.Data, []byte("bad password")) {
				t.Errorf("repeat %+v", r)
			}
		})
	}
}

func countFrames(fs []frame, proto uint16, code uint8) int {
	n := 0
	for _, f := range fs {
		if f.proto == proto && len(f.data) > 0 && f.data[0] == code {
			n++
		}
	}
	return n
}

// openPair runs a PAP pair to both NCPs Opened.
func openPair(t *testing.T, scfg, ccfg *Config) *pair {
	t.Helper()
	p := newPair(t, scfg, ccfg)
	p.open()
	if len(p.s.ups) != 2 || len(p.c.ups) != 2 {
		t.Fatalf("not up: server %v client %v", p.s.ups, p.c.ups)
	}
	return p
}

func TestEchoTimeout(t *testing.T) {
	scfg := serverConfig(AuthPAP)
	scfg.EchoInterval, scfg.EchoFailures = 10*time.Second, 3
	p := openPair(t, scfg, clientConfig(AuthPAP))
	// Answered echoes measure RTT.
	for range 2 {
		p.now = p.s.l.NextDeadline()
		p.effects(p.s, p.s.l.Tick(p.now))
		p.now = p.now.Add(20 * time.Millisecond)
		p.settle()
	}
	st := p.s.l.Stats()
	if st.EchoSent != 2 || st.EchoReplies != 2 || st.RTTMin != 20*time.Millisecond || st.RTTAvg() != 20*time.Millisecond || st.Loss() != 0 {
		t.Fatalf("stats %+v", st)
	}
	// A slower third reply shows as jitter; a new window starts clean.
	p.now = p.s.l.NextDeadline()
	p.effects(p.s, p.s.l.Tick(p.now))
	p.now = p.now.Add(52 * time.Millisecond)
	p.settle()
	if st := p.s.l.Stats(); st.Jitter != 2*time.Millisecond || st.RTTMax != 52*time.Millisecond || st.RTTSum != 92*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
	p.s.l.ResetQuality()
	if st := p.s.l.Stats(); st != (Stats{}) {
		t.Fatalf("after reset %+v", st)
	}
	p.block[p.c] = true // the client goes deaf-mute
	ticks := 0
	for p.s.down == nil && ticks < 10 {
		p.now = p.s.l.NextDeadline()
		p.effects(p.s, p.s.l.Tick(p.now))
		p.settle()
		ticks++
	}
	// 3 unanswered requests; the 4th interval finds 3 missed.
	if ticks != 4 || p.s.down == nil || p.s.down.Reason != ReasonEchoTimeout {
		t.Fatalf("after %d ticks down = %+v", ticks, p.s.down)
	}
	if st := p.s.l.Stats(); st.EchoLost != 3 || st.EchoSent != 3 || st.Loss() != 1 {
		t.Errorf("stats %+v", st)
	}
	if len(p.s.ups) != 0 {
		t.Errorf("NCPs still up: %v", p.s.ups)
	}
}

// TestLoopback: a link that hears itself (a looped-back line) goes down.
func TestLoopback(t *testing.T) {
	for _, cfg := range []*Config{serverConfig(AuthPAP), clientConfig(AuthPAP)} {
		t.Run("negotiation-"+cfg.Role.String(), func(t *testing.T) { loopNegotiation(t, cfg) })
	}
	t.Run("echo", func(t *testing.T) {
		scfg := serverConfig(AuthPAP)
		scfg.EchoInterval = time.Second
		p := openPair(t, scfg, clientConfig(AuthPAP))
		p.now = p.s.l.NextDeadline()
		echo := copyFrames(p.s.l.Tick(p.now))
		if len(echo) != 1 {
			t.Fatalf("echo %v", echo)
		}
		p.effects(p.s, p.s.l.Input(p.now, echo[0].proto, echo[0].data))
		for i := 0; i < 5 && p.s.down == nil; i++ {
			p.advance(5 * time.Second)
		}
		if p.s.down == nil || p.s.down.Reason != ReasonLoopback {
			t.Fatalf("down = %+v, want loopback", p.s.down)
		}
	})
}

func copyFrames(fx []Effect) []frame {
	var out []frame
	for _, e := range fx {
		if e.Kind == EffectSend {
			out = append(out, frame{e.Proto, bytes.Clone(e.Data)})
		}
	}
	return out
}

// TestClose: admin close with and without an answering peer.
func TestClose(t *testing.T) {
	t.Run("acked", func(t *testing.T) {
		p := openPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
		p.effects(p.s, p.s.l.Close(p.now, ReasonAdmin))
		p.settle()
		if p.s.down == nil || p.s.down.Reason != ReasonAdmin {
			t.Fatalf("server down = %+v", p.s.down)
		}
		if len(p.c.ups) != 0 || p.c.down != nil {
			t.Fatalf("client ups %v down %v", p.c.ups, p.c.down)
		}
		p.advance(time.Minute) // the client waits a restart period in Stopping
		if p.c.down == nil || p.c.down.Reason != ReasonPeerTerminate {
			t.Fatalf("client down = %+v", p.c.down)
		}
	})
	t.Run("max-terminate", func(t *testing.T) {
		scfg := serverConfig(AuthPAP)
		scfg.MaxTerminate = 3
		p := openPair(t, scfg, clientConfig(AuthPAP))
		p.block[p.c] = true
		p.effects(p.s, p.s.l.Close(p.now, ReasonAdmin))
		start := p.now
		for i := 0; i < 10 && p.s.down == nil; i++ {
			p.now = p.s.l.NextDeadline()
			p.effects(p.s, p.s.l.Tick(p.now))
		}
		if n := countFrames(p.s.sent, ProtoLCP, CodeTerminateRequest); n != 3 {
			t.Errorf("sent %d Terminate-Requests, want 3", n)
		}
		if p.s.down == nil || p.s.down.Reason != ReasonAdmin || p.now.Sub(start) != 9*time.Second {
			t.Fatalf("down = %+v after %v", p.s.down, p.now.Sub(start))
		}
	})
	t.Run("lower-down", func(t *testing.T) {
		p := openPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
		fx := p.s.l.LowerDown(p.now)
		p.effects(p.s, fx)
		if countSends(fx, ProtoLCP, CodeTerminateRequest) != 0 || p.s.down == nil || p.s.down.Reason != ReasonLowerDown {
			t.Fatalf("effects %+v", fx)
		}
		if findKind(fx, EffectNetDown) == nil {
			t.Errorf("no NetDown")
		}
		if fx := p.s.l.Input(p.now, ProtoLCP, []byte{9, 1, 0, 8, 0, 0, 0, 0}); len(fx) != 0 {
			t.Errorf("dead link answered: %+v", fx)
		}
	})
}

func loopNegotiation(t *testing.T, cfg *Config) {
	l := New(cfg)
	q := copyFrames(l.Open(t0))
	var down *Effect
	for i := 0; i < 100 && down == nil && len(q) > 0; i++ {
		f := q[0]
		q = q[1:]
		fx := l.Input(t0, f.proto, f.data)
		down = findKind(fx, EffectDown)
		q = append(q, copyFrames(fx)...)
	}
	if down == nil || down.Reason != ReasonLoopback {
		t.Fatalf("down = %+v, want loopback", down)
	}
}

// TestRenegotiate: a Configure-Request in Opened (RFC 1661 §4.1 RCR in
// Opened) takes the NCPs down, re-runs LCP and authentication, and the
// link comes back up.
func TestRenegotiate(t *testing.T) {
	p := openPair(t, serverConfig(AuthCHAP), clientConfig(AuthCHAP))
	var req frame
	for _, f := range p.c.sent {
		if f.proto == ProtoLCP && f.data[0] == CodeConfigureRequest {
			req = f
		}
	}
	req.data[1] += 100 // a new Identifier
	p.effects(p.s, p.s.l.Input(p.now, req.proto, req.data))
	if len(p.s.ups) != 0 || p.s.l.LCPState() != StateAckSent {
		t.Fatalf("server ups %v LCP %v", p.s.ups, p.s.l.LCPState())
	}
	p.settle()
	for i := 0; i < 5 && len(p.s.ups)+len(p.c.ups) < 4; i++ {
		p.advance(time.Minute)
	}
	if len(p.s.ups) != 2 || len(p.c.ups) != 2 || len(p.s.auths) != 2 || p.s.down != nil || p.c.down != nil {
		t.Fatalf("server ups %v auths %d down %v; client ups %v down %v", p.s.ups, len(p.s.auths), p.s.down, p.c.ups, p.c.down)
	}
}
