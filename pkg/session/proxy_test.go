package session

import (
	"crypto/md5"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/ppp"
)

// lacProxy is what a LAC negotiated with alice (password pw tried):
// the server-side Proxy for the session and the client-side one for the
// subscriber's link.
func lacProxy(method ppp.AuthMethod, password string) (server, client ppp.Proxy) {
	lac := []byte{1, 4, 0x05, 0xd4, 5, 6, 0x11, 0x11, 0x11, 0x11}
	if method == ppp.AuthPAP {
		lac = append(lac, 3, 4, 0xc0, 0x23)
	} else {
		lac = append(lac, 3, 5, 0xc2, 0x23, 5)
	}
	sub := []byte{1, 4, 0x05, 0xd4, 5, 6, 0x22, 0x22, 0x22, 0x22}
	a := ppp.AuthRequest{Method: method, User: "alice", ChapID: 3}
	if method == ppp.AuthPAP {
		a.Password = password
	} else {
		a.Challenge = []byte("sixteen byte chl")
		h := md5.New()
		h.Write([]byte{a.ChapID})
		h.Write([]byte(password))
		h.Write(a.Challenge)
		a.Response = h.Sum(nil)
	}
	return ppp.Proxy{LocalOptions: lac, PeerOptions: sub, Auth: a}, ppp.Proxy{LocalOptions: sub, PeerOptions: lac, Auth: a}
}

// startProxied starts an L2TP session with sp and a subscriber link opened
// from cp (nil: the subscriber opens normally).
func startProxied(t *testing.T, e *env, sp ppp.Proxy, cp *ppp.Proxy) *client {
	t.Helper()
	c := &client{t: t, h: &hangups{}}
	var ctl func(uint16, []byte)
	s, err := e.m.Start(Params{
		Type: "l2tp", Port: "192.0.2.2", SID: 9, Tunnel: "7/lac1", PortType: aaa.PortVirtual, Proxy: &sp,
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
	if cp == nil {
		c.perform(c.link.Open(time.Now()))
		return c
	}
	fx, err := c.link.OpenProxy(time.Now(), *cp)
	if err != nil {
		t.Fatal(err)
	}
	c.perform(fx)
	return c
}

// TestSessionProxyAuth: with the LAC's proxy LCP and authentication the
// session sends the proxied credentials to AAA and answers the subscriber
// with the verdict, without an LCP Configure-Request or a CHAP Challenge
// of its own; wrong proxied credentials are refused; proxy state the link
// cannot use is renegotiated.
func TestSessionProxyAuth(t *testing.T) {
	for _, method := range []ppp.AuthMethod{ppp.AuthPAP, ppp.AuthCHAP} {
		t.Run(method.String(), func(t *testing.T) {
			e := newEnv(t, nil)
			sp, cp := lacProxy(method, "pw")
			c := startProxied(t, e, sp, &cp)
			c.pump("IPCP up", func() bool { return c.up })
			waitFor(t, "active", func() bool { return e.m.Counters().Active == 1 })
			if in := e.m.Sessions(t.Context())[0]; in.User != "alice" {
				t.Errorf("user %q, want alice", in.User)
			}
			for _, f := range c.fs.Sent() {
				if (f.Proto == ppp.ProtoLCP && f.Payload[0] == ppp.CodeConfigureRequest) || (f.Proto == ppp.ProtoCHAP && f.Payload[0] == 1) {
					t.Errorf("session sent %#04x % x: LCP or authentication renegotiated", f.Proto, f.Payload)
				}
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		e := newEnv(t, nil)
		sp, cp := lacProxy(ppp.AuthCHAP, "nope")
		c := startProxied(t, e, sp, &cp)
		c.pump("subscriber refused", func() bool { return c.down })
		waitFor(t, "session gone", func() bool { return e.m.Len() == 0 })
		if e.m.Counters().AuthFail != 1 {
			t.Errorf("auth failures %d, want 1", e.m.Counters().AuthFail)
		}
	})
	t.Run("unusable proxy renegotiated", func(t *testing.T) {
		e := newEnv(t, nil)
		sp, _ := lacProxy(ppp.AuthCHAP, "pw")
		sp.Auth.Response = sp.Auth.Response[:4]
		c := startProxied(t, e, sp, nil)
		c.pump("IPCP up", func() bool { return c.up })
		if f := c.fs.Sent()[0]; f.Proto != ppp.ProtoLCP || f.Payload[0] != ppp.CodeConfigureRequest {
			t.Errorf("first frame %#04x % x, want an LCP Configure-Request", f.Proto, f.Payload)
		}
	})
}
