package ppp

import (
	"crypto/md5"
	"errors"
	"testing"
	"time"
)

// proxyState is what a LAC would have negotiated with alice: the LAC's
// request (MRU 1492, auth, magic 0x1111), alice's (MRU 1480, magic 0x2222)
// and her credentials.
func proxyState(method AuthMethod, password string) (server, client Proxy) {
	lac := appendAuthOption([]byte{lcpMRU, 4, 0x05, 0xd4}, method)
	lac = append(lac, lcpMagic, 6, 0x11, 0x11, 0x11, 0x11)
	sub := []byte{lcpMRU, 4, 0x05, 0xc8, lcpMagic, 6, 0x22, 0x22, 0x22, 0x22}
	a := AuthRequest{Method: method, User: "alice", ChapID: 7}
	if method == AuthPAP {
		a.Password = password
	} else {
		a.Challenge = []byte("0123456789abcdef0123")
		h := md5.New()
		h.Write([]byte{a.ChapID})
		h.Write([]byte(password))
		h.Write(a.Challenge)
		a.Response = h.Sum(nil)
	}
	return Proxy{LocalOptions: lac, PeerOptions: sub, Auth: a}, Proxy{LocalOptions: sub, PeerOptions: lac, Auth: a}
}

func TestPairOpenProxy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   AuthMethod
		password string
		wantUp   bool
	}{
		{"pap", AuthPAP, "s3cret", true},
		{"chap", AuthCHAP, "s3cret", true},
		{"pap-wrong", AuthPAP, "wrong", false},
		{"chap-wrong", AuthCHAP, "wrong", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg, ccfg := serverConfig(AuthCHAP), clientConfig(AuthPAP|AuthCHAP)
			scfg.EchoInterval = 10 * time.Second
			p := newPair(t, scfg, ccfg)
			sp, cp := proxyState(tc.method, tc.password)
			fx, err := p.s.l.OpenProxy(p.now, sp)
			if err != nil {
				t.Fatal(err)
			}
			p.effects(p.s, fx)
			if len(p.s.auths) != 1 {
				t.Fatalf("server auth requests after OpenProxy: %+v, want 1", p.s.auths)
			}
			if a := p.s.auths[0]; a.Method != tc.method || a.User != "alice" || a.ChapID != 7 {
				t.Fatalf("auth request %+v", a)
			}
			if fx, err = p.c.l.OpenProxy(p.now, cp); err != nil {
				t.Fatal(err)
			}
			p.effects(p.c, fx)
			if !p.s.linkUp || !p.c.linkUp || p.s.l.LCPState() != StateOpened {
				t.Fatalf("link up: server %v client %v, LCP %v", p.s.linkUp, p.c.linkUp, p.s.l.LCPState())
			}
			p.settle()
			for i := 0; i < 20 && p.s.down == nil && len(p.s.ups) < 2; i++ {
				p.advance(10 * time.Second)
			}
			if !tc.wantUp {
				if p.s.down == nil || p.s.down.Reason != ReasonAuthFailed || p.c.down == nil || p.c.down.Reason != ReasonAuthFailed {
					t.Fatalf("down: server %+v client %+v, want auth failed on both", p.s.down, p.c.down)
				}
				return
			}
			if p.s.down != nil || p.c.down != nil || !p.c.authed {
				t.Fatalf("down: server %+v client %+v; client authenticated %v", p.s.down, p.c.down, p.c.authed)
			}
			if len(p.s.ups) != 2 || p.c.ups[ProtoIPCP].LocalIP != peerIP {
				t.Fatalf("ups: server %v client %v", p.s.ups, p.c.ups)
			}
			if len(p.s.auths) != 1 {
				t.Errorf("auth requests %d, want 1", len(p.s.auths))
			}
			// No LCP negotiation and no challenge: the first frames the
			// server sent are the verdict, then the NCPs.
			if f := p.s.sent[0]; (tc.method == AuthCHAP && (f.proto != ProtoCHAP || f.data[0] != chapSuccess)) ||
				(tc.method == AuthPAP && (f.proto != ProtoPAP || f.data[0] != papAck)) || f.data[1] != 7 {
				t.Errorf("server's first frame %#04x % x, want the verdict with ID 7", f.proto, f.data)
			}
			for _, f := range p.s.sent {
				if f.proto == ProtoLCP && f.data[0] == CodeConfigureRequest {
					t.Errorf("server renegotiated LCP: % x", f.data)
				}
			}
			if l, r := p.s.l.MRU(); l != 1492 || r != 1480 {
				t.Errorf("server MRU local %d peer %d, want 1492/1480", l, r)
			}
			// Echo keepalive runs with the proxied magic numbers.
			for range 6 {
				p.advance(time.Minute)
			}
			if p.s.down != nil || p.c.down != nil {
				t.Fatalf("down after echoes: server %+v client %+v", p.s.down, p.c.down)
			}
			if st := p.s.l.Stats(); st.EchoReplies < 3 || st.EchoLost != 0 {
				t.Errorf("server echo stats %+v, want replies and no loss", st)
			}
		})
	}
}

func TestOpenProxyRefused(t *testing.T) {
	good, _ := proxyState(AuthCHAP, "s3cret")
	for _, tc := range []struct {
		name string
		mod  func(*Proxy)
	}{
		{"no method", func(p *Proxy) { p.Auth.Method = AuthNone }},
		{"short chap response", func(p *Proxy) { p.Auth.Response = p.Auth.Response[:8] }},
		{"malformed local options", func(p *Proxy) { p.LocalOptions = []byte{lcpMRU, 9, 1} }},
		{"malformed peer options", func(p *Proxy) { p.PeerOptions = []byte{lcpMagic} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.mod(&p)
			l := New(serverConfig(AuthCHAP))
			fx, err := l.OpenProxy(t0, p)
			if !errors.Is(err, ErrProxy) || len(fx) != 0 {
				t.Fatalf("OpenProxy = %v, %v; want ErrProxy, no effects", fx, err)
			}
			// The link can still be opened normally.
			if fx := l.Open(t0); len(fx) == 0 || l.LCPState() != StateReqSent {
				t.Fatalf("Open after a refused proxy: %v, state %v", fx, l.LCPState())
			}
		})
	}
	l := New(serverConfig(AuthCHAP))
	l.Open(t0)
	if _, err := l.OpenProxy(t0, good); !errors.Is(err, ErrProxy) {
		t.Fatalf("OpenProxy on an opened link: %v", err)
	}
}

// FuzzOpenProxy: arbitrary proxied options and credentials never panic;
// a link that takes them over is opened and Authenticating, and one that
// refuses them can still be opened normally.
func FuzzOpenProxy(f *testing.F) {
	sp, cp := proxyState(AuthCHAP, "s3cret")
	f.Add(sp.LocalOptions, sp.PeerOptions, uint8(AuthCHAP), sp.Auth.Response, false)
	f.Add(cp.LocalOptions, cp.PeerOptions, uint8(AuthPAP), []byte(nil), true)
	f.Add([]byte{1, 2}, []byte{}, uint8(0), []byte{1}, false)
	f.Fuzz(func(t *testing.T, local, peer []byte, method uint8, response []byte, client bool) {
		cfg := serverConfig(AuthCHAP)
		if client {
			cfg = clientConfig(AuthCHAP | AuthPAP)
		}
		l := New(cfg)
		_, err := l.OpenProxy(t0, Proxy{LocalOptions: local, PeerOptions: peer,
			Auth: AuthRequest{Method: AuthMethod(method), User: "u", Response: response}})
		if err != nil {
			if l.LCPState() != StateInitial {
				t.Fatalf("refused proxy left LCP in %v", l.LCPState())
			}
			l.Open(t0)
			return
		}
		if l.LCPState() != StateOpened || l.Phase() != PhaseAuthenticate {
			t.Fatalf("taken over: LCP %v phase %v", l.LCPState(), l.Phase())
		}
		l.Tick(t0.Add(time.Hour))
	})
}
