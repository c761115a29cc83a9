package loadgen

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/bngbox/bngbox/l2tp"
	"github.com/bngbox/bngbox/pkg/ppp"
)

// LACConfig makes the generator an L2TP LAC (RFC 2661): it opens Tunnels
// tunnels to the LNS and places the sessions as incoming calls spread over
// them, round robin; PPP then runs inside each call as in PPPoE mode.
type LACConfig struct {
	LNS      netip.AddrPort // the LNS (port 1701 when 0)
	Tunnels  int            // default 1
	Secret   string         // tunnel secret; "" = no tunnel authentication
	HostName string         // our Host Name AVP (default "loadgen")
	// StopCCN tears down with one StopCCN per tunnel instead of a PPP
	// Terminate and a CDN per session.
	StopCCN bool
	// Sequencing asks the LNS to sequence data messages (Sequencing
	// Required in ICCN).
	Sequencing bool
	// ProxyAuth sends proxy LCP and proxy authentication AVPs in ICCN
	// (RFC 2661 §4.4.5), as a LAC that negotiated LCP and PAP or CHAP
	// (Config.Auth: pap → PAP, otherwise CHAP) with the subscriber
	// before tunnelling the call would. The subscriber then waits for the
	// LNS's verdict; an LNS that renegotiates instead is followed.
	ProxyAuth bool
}

// lacSide is the L2TP access side of a generator.
type lacSide struct {
	g      *Gen
	lac    *l2tp.LAC
	tids   []uint16
	cancel context.CancelFunc
	done   chan struct{}
	calls  sync.Map // *l2tp.Call -> *sub
}

// openLAC starts the LAC and dials every tunnel.
func (g *Gen) openLAC(ctx context.Context) (func(), error) {
	c := g.cfg.L2TP
	if c.Tunnels <= 0 {
		c.Tunnels = 1
	}
	if c.Tunnels > 0xfffe {
		return nil, fmt.Errorf("loadgen: %d tunnels", c.Tunnels)
	}
	if c.HostName == "" {
		c.HostName = "loadgen"
	}
	lns := c.LNS
	if lns.Port() == 0 {
		lns = netip.AddrPortFrom(lns.Addr(), 1701)
	}
	ls := &lacSide{g: g, done: make(chan struct{})}
	// With a tunnel secret, the proxy authentication response travels
	// hidden (RFC 2661 §4.3).
	lac, err := l2tp.NewLAC(l2tp.Config{HostName: c.HostName, Handler: ls, Logger: g.cfg.Log, HideAVPs: c.Secret != ""})
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	ls.lac = lac
	sctx, cancel := context.WithCancel(context.Background())
	ls.cancel = cancel
	go func() {
		defer close(ls.done)
		lac.Serve(sctx)
	}()
	stop := func() {
		cancel()
		<-ls.done
	}
	var secret []byte
	if c.Secret != "" {
		secret = []byte(c.Secret)
	}
	dctx, dcancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer dcancel()
	for range c.Tunnels {
		tid, err := lac.Dial(dctx, lns, secret)
		if err != nil {
			stop()
			return nil, fmt.Errorf("loadgen: tunnel to %s: %w", lns, err)
		}
		ls.tids = append(ls.tids, tid)
	}
	g.lac = ls
	for _, s := range g.subs {
		s.lost = make(chan struct{})
	}
	return func() {
		// StopCCN goes after the CDNs the hangups queued; wait (bounded)
		// until the LNS has acknowledged it so that it is not lost in a
		// full send window when the socket closes.
		// Tunnels the LNS already closed (StopCCN received: Closing for
		// the hold time) are not waited for.
		open := map[uint16]bool{}
		for _, t := range lac.Tunnels() {
			if t.State == l2tp.TunnelEstablished {
				open[t.LocalID] = true
				_ = lac.CloseTunnel(t.LocalID, l2tp.Result{Code: l2tp.StopClear, Message: "loadgen done"})
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && anyOpen(lac.Tunnels(), open) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
	}, nil
}

func anyOpen(ts []l2tp.TunnelInfo, open map[uint16]bool) bool {
	for _, t := range ts {
		if open[t.LocalID] {
			return true
		}
	}
	return false
}

// placeCall makes s an L2TP call on its tunnel (ICRQ, ICRP, ICCN).
func (s *sub) placeCall(ctx context.Context) error {
	ls := s.g.lac
	tid := ls.tids[(s.idx-1)%len(ls.tids)]
	p := l2tp.CallParams{
		SerialNumber: uint32(s.idx), BearerType: l2tp.BearerDigital, CallingNumber: s.user,
		SequencingRequired: s.g.cfg.L2TP.Sequencing,
	}
	if s.g.cfg.L2TP.ProxyAuth {
		p.Proxy = s.proxyNegotiated()
	}
	c, err := ls.lac.Call(ctx, tid, p)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("no ICRP")
		}
		return fmt.Errorf("call refused: %w", err)
	}
	s.call = c
	return nil
}

// proxyNegotiated makes up the LCP and authentication exchange a LAC would
// have had with s (random magic numbers, CHAP identifier and challenge;
// MRU 1492), records our side of it in s.proxy and returns the proxy AVPs
// for ICCN.
func (s *sub) proxyNegotiated() *l2tp.ProxyInfo {
	var rnd [24]byte
	_, _ = rand.Read(rnd[:])
	ours := []byte{1, 4, 0x05, 0xd4, 5, 6, rnd[0], rnd[1], rnd[2], rnd[3] | 1}
	lac := []byte{1, 4, 0x05, 0xd4, 5, 6, rnd[4], rnd[5], rnd[6], rnd[7] | 2}
	password := expand(s.g.cfg.Password, s.idx)
	a := ppp.AuthRequest{User: s.user, ChapID: rnd[8]}
	pi := &l2tp.ProxyInfo{
		InitialReceivedConfReq: ours, LastSentConfReq: lac, LastReceivedConfReq: ours,
		AuthenName: s.user, AuthenID: uint16(a.ChapID),
	}
	if s.g.cfg.Auth == "pap" {
		lac = append(lac, 3, 4, 0xc0, 0x23)
		a.Method, a.Password = ppp.AuthPAP, password
		pi.AuthenType, pi.AuthenResponse = l2tp.ProxyAuthenPAP, []byte(password)
	} else {
		lac = append(lac, 3, 5, 0xc2, 0x23, 5)
		a.Method, a.Challenge = ppp.AuthCHAP, rnd[9:]
		h := md5.New()
		h.Write([]byte{a.ChapID})
		h.Write([]byte(password))
		h.Write(a.Challenge)
		a.Response = h.Sum(nil)
		pi.AuthenType, pi.AuthenChallenge, pi.AuthenResponse = l2tp.ProxyAuthenCHAP, a.Challenge, a.Response
	}
	pi.LastSentConfReq = lac
	s.proxy = &ppp.Proxy{LocalOptions: ours, PeerOptions: lac, Auth: a}
	return pi
}

// hangupCall sends CDN unless the tunnels are torn down with StopCCN.
func (s *sub) hangupCall() {
	c := s.call
	if c == nil || s.g.cfg.L2TP.StopCCN {
		return
	}
	_ = c.Close(l2tp.Result{Code: l2tp.CDNAdmin, Message: "loadgen hangup"})
}

// callLost handles the end of the call by the LNS (CDN, StopCCN).
func (s *sub) callLost() {
	s.call = nil
	if !s.down && s.link != nil {
		s.perform(s.link.LowerDown(time.Now()))
		s.down = true
	}
}

// NewCall binds an established call to its subscriber (by serial number).
func (ls *lacSide) NewCall(c *l2tp.Call) error {
	idx := int(c.Info().SerialNumber)
	if idx < 1 || idx > len(ls.g.subs) {
		return errors.New("loadgen: unknown call serial")
	}
	ls.calls.Store(c, ls.g.subs[idx-1])
	return nil
}

// CallData queues a PPP frame for the call's subscriber.
func (ls *lacSide) CallData(c *l2tp.Call, proto uint16, payload []byte) {
	v, ok := ls.calls.Load(c)
	if !ok {
		return
	}
	s := v.(*sub)
	if t := s.fast.Load(); t != nil && t.fastPath(proto, payload) {
		return
	}
	f := make([]byte, 2+len(payload))
	f[0], f[1] = byte(proto>>8), byte(proto)
	copy(f[2:], payload)
	select {
	case s.in <- f:
	default:
		ls.g.fail("inbox-full")
	}
}

// CallClosed tells the subscriber its call is gone.
func (ls *lacSide) CallClosed(c *l2tp.Call, r l2tp.Result) {
	if v, ok := ls.calls.LoadAndDelete(c); ok {
		close(v.(*sub).lost)
	}
}

var _ l2tp.Handler = (*lacSide)(nil)
