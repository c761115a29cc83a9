package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bngbox/bngbox/l2tp"
	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pkg/session"
)

// lnsRunner is the L2TP LNS wired to the session manager: each established
// call becomes a session of type "l2tp" whose IP frames the dataplane moves
// between the call and a TUN device, and whose control frames reach the
// session through Handler.CallData.
type lnsRunner struct {
	d    *daemon
	lns  *l2tp.LNS
	host string // our Host Name AVP
	// acceptProxy is l2tp.proxy-auth: accept (l2tp keys change on restart only).
	acceptProxy bool
	cancel      context.CancelFunc
	done        chan struct{}
	calls       sync.Map // *l2tp.Call -> *lnsCall
}

// lnsCall links one call to its session.
type lnsCall struct {
	ctl  atomic.Pointer[func(proto uint16, payload []byte)] // the session's control input
	sess atomic.Pointer[session.Session]
}

// startL2TP starts the LNS when l2tp.enabled is set.
func (d *daemon) startL2TP() error {
	c := d.cfg.L2TP
	if !c.Enabled {
		return nil
	}
	r := &lnsRunner{d: d, done: make(chan struct{}), acceptProxy: c.AcceptProxy()}
	host := c.HostName
	if host == "" {
		host = d.cfg.NAS.Identifier
	}
	secrets := c // a copy: secrets change on restart only
	lns, err := l2tp.NewLNS(l2tp.Config{
		Addr: c.ListenAddr(), HostName: host, VendorName: "bngbox",
		Secrets: func(peer netip.Addr, hostName string) ([]byte, bool) {
			s, ok := secrets.SecretFor(peer.Unmap().String(), hostName)
			return []byte(s), ok
		},
		RequireAuth: c.RequireAuth, HelloInterval: c.Hello(),
		// The kernel dataplane binds one socket per tunnel to our address.
		ReuseAddr: d.dp.Kind() == dataplane.KindKernel,
		Handler:   r, Logger: d.log.With("component", "l2tp"),
	})
	if err != nil {
		return fmt.Errorf("l2tp.listen: %w", err)
	}
	r.lns, r.host = lns, host
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		if err := lns.Serve(ctx); err != nil {
			d.log.Error("l2tp LNS stopped", "err", err)
		}
	}()
	d.lns = r
	d.core.TunnelsFunc = r.tunnels
	d.log.Info("l2tp LNS listening", "addr", lns.Addr().String(), "hostname", host, "require_auth", c.RequireAuth)
	return nil
}

// stop sends StopCCN on every tunnel and waits for the LNS to finish.
// Sessions are shut down before (their CDNs need the LNS running).
func (r *lnsRunner) stop() {
	r.cancel()
	<-r.done
}

// drops adds the LNS's drop counters to out: the socket's (malformed,
// unknown tunnel or session, out of window, late data) as l2tp-<reason>,
// and the L2TP sessions' dataplane drops as dataplane-l2tp-<reason>.
func (r *lnsRunner) drops(out map[string]uint64) {
	for k, v := range r.lns.Drops() {
		out["l2tp-"+k] += v
	}
	if dp, ok := r.d.dp.(interface{ L2TPDrops() map[string]uint64 }); ok {
		for k, v := range dp.L2TPDrops() {
			out["dataplane-l2tp-"+k] += v
		}
	}
}

func (r *lnsRunner) tunnels() []mgmt.Tunnel {
	var out []mgmt.Tunnel
	for _, t := range r.lns.Tunnels() {
		out = append(out, mgmt.Tunnel{LocalID: t.LocalID, RemoteID: t.RemoteID, Peer: t.Peer.String(),
			Hostname: t.HostName, State: t.State.String(), Sessions: t.Sessions})
	}
	return out
}

// NewCall starts a session for an established call (loop goroutine;
// Manager.Start does not block).
func (r *lnsRunner) NewCall(c *l2tp.Call) error {
	info := c.Info()
	peer := c.Peer()
	lc := &lnsCall{}
	r.calls.Store(c, lc)
	tunnel := strconv.Itoa(int(info.TunnelID)) + "/" + info.PeerHostName
	p := session.Params{
		Type: "l2tp", Port: peer.Addr().Unmap().String(), SID: info.SessionID, Tunnel: tunnel,
		NASPortID: "l2tp:" + tunnel, NASPort: uint32(info.TunnelID)<<16 | uint32(info.SessionID),
		PortType: aaa.PortVirtual, CallingSID: info.CallingNumber,
		TunnelAuth: &aaa.Tunnel{
			ClientEndpoint: peer.Addr().Unmap().String(), ServerEndpoint: r.localIP(),
			ClientAuthID: info.PeerHostName, ServerAuthID: r.host,
			TunnelID: info.TunnelID, SessionID: info.SessionID,
		},
		Proxy: r.proxy(info.Proxy),
		DP: func(control func(uint16, []byte)) (dataplane.Session, error) {
			lc.ctl.Store(&control)
			return r.d.dp.NewL2TPSession(dataplane.L2TPParams{Call: c, TunnelID: info.TunnelID, SessionID: info.SessionID,
				PeerTunnelID: info.PeerTunnelID, PeerSessionID: info.PeerSessionID,
				Local: r.lns.Addr(), Peer: peer, Sequencing: info.SequencingRequired,
				Control: control, Input: r.lns.Input})
		},
		Access: accessFunc(func(msg string, peerGone bool) {
			r.calls.Delete(c)
			if !peerGone {
				// CDN result 3: disconnected for administrative reasons (RFC 2661 §4.4.2).
				_ = c.Close(l2tp.Result{Code: l2tp.CDNAdmin, Message: msg})
			}
		}),
	}
	s, err := r.d.mgr.Start(p)
	if err != nil {
		r.calls.Delete(c)
		r.d.log.Warn("l2tp session refused", "tid", info.TunnelID, "sid", info.SessionID, "err", err)
		return &l2tp.ResultError{Result: l2tp.Result{Code: l2tp.CDNNoFacilitiesTemp, Message: err.Error()}}
	}
	lc.sess.Store(s)
	return nil
}

// proxy returns the LAC's proxy LCP and authentication for the session
// when l2tp.proxy-auth is accept and the call carries what PPP needs to
// take over (both sides' last LCP CONFREQ, PAP or CHAP credentials); nil
// means the session negotiates LCP and authentication itself.
func (r *lnsRunner) proxy(p *l2tp.ProxyInfo) *ppp.Proxy {
	if p == nil || !r.acceptProxy || p.LastSentConfReq == nil || p.LastReceivedConfReq == nil {
		return nil
	}
	px := &ppp.Proxy{
		LocalOptions: p.LastSentConfReq, PeerOptions: p.LastReceivedConfReq,
		Auth: ppp.AuthRequest{User: p.AuthenName, ChapID: uint8(p.AuthenID)},
	}
	switch p.AuthenType {
	case l2tp.ProxyAuthenPAP:
		px.Auth.Method, px.Auth.Password = ppp.AuthPAP, string(p.AuthenResponse)
	case l2tp.ProxyAuthenCHAP:
		px.Auth.Method, px.Auth.Challenge, px.Auth.Response = ppp.AuthCHAP, p.AuthenChallenge, p.AuthenResponse
	default:
		return nil
	}
	return px
}

// CallData passes control frames to the session (socket reader goroutine).
// IP frames normally go to the dataplane's IP writer; the few that arrive
// before it is installed or after it is removed are dropped.
func (r *lnsRunner) CallData(c *l2tp.Call, proto uint16, payload []byte) {
	if proto == l2tp.ProtoIPv4 || proto == l2tp.ProtoIPv6 {
		return
	}
	v, ok := r.calls.Load(c)
	if !ok {
		return
	}
	if ctl := v.(*lnsCall).ctl.Load(); ctl != nil {
		(*ctl)(proto, payload)
	}
}

// CallClosed ends the session: the peer (CDN, StopCCN) or the tunnel
// (Hello or retransmission failure) ended the call.
func (r *lnsRunner) CallClosed(c *l2tp.Call, res l2tp.Result) {
	v, ok := r.calls.LoadAndDelete(c)
	if !ok {
		return
	}
	if s := v.(*lnsCall).sess.Load(); s != nil {
		s.PeerHangup()
	}
}

func (r *lnsRunner) localIP() string {
	if a := r.lns.Addr().Addr(); a.IsValid() && !a.IsUnspecified() {
		return a.Unmap().String()
	}
	return r.d.cfg.NAS.IP
}

var _ l2tp.Handler = (*lnsRunner)(nil)

// l2tpConfigChanged reports l2tp keys whose change needs a restart.
func l2tpConfigChanged(a, b config.L2TP) bool { return fmt.Sprint(a) != fmt.Sprint(b) }
