package l2tp

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// An LNS accepts tunnels from any LAC on one UDP socket and hands their
// calls to a Handler. Data messages are demultiplexed by tunnel and session
// ID on the socket reader goroutine; control messages and all tunnel and
// session state belong to one loop goroutine.
//
// How the session layer drives it:
//   - Handler.NewCall(c) when a call is established: keep c, start PPP
//     (using c.Info().Proxy if the policy trusts the LAC's LCP and
//     authentication).
//   - Handler.CallData(c, proto, payload) for each non-IP PPP frame (and
//     IP frames until c.SetIPWriter installs the dataplane writer).
//   - c.SendPPP(proto, payload) to send a frame; c.Close(result) to send
//     CDN; LNS.CloseTunnel(tid, result) for StopCCN.
//   - Handler.CallClosed(c, result) once when the call ends, whoever ended it.
type LNS struct {
	*node
}

// NewLNS binds the LNS socket (cfg.Addr, ":1701" by default). Call Serve
// to run it.
func NewLNS(cfg Config) (*LNS, error) {
	n, err := newNode(cfg, RoleLNS, ":1701")
	if err != nil {
		return nil, err
	}
	return &LNS{n}, nil
}

// Serve runs the LNS until ctx is done, then sends StopCCN (result 6) on
// every tunnel, ends every call and closes the socket.
func (l *LNS) Serve(ctx context.Context) error { return l.serve(ctx) }

// A LAC opens tunnels to LNSes and places incoming calls on them: the
// client side for the load generator and tests. It shares the LNS's
// socket handling; its calls are delivered to the same Handler interface.
type LAC struct {
	*node
}

// NewLAC binds the LAC socket (cfg.Addr, ":0" by default). Call Serve to
// run it.
func NewLAC(cfg Config) (*LAC, error) {
	n, err := newNode(cfg, RoleLAC, ":0")
	if err != nil {
		return nil, err
	}
	return &LAC{n}, nil
}

// Serve runs the LAC until ctx is done, then sends StopCCN on every tunnel.
func (l *LAC) Serve(ctx context.Context) error { return l.serve(ctx) }

// Dial opens a tunnel to the LNS at peer, authenticated with secret (none
// when nil), and waits until it is established or refused. It returns our
// tunnel ID.
func (l *LAC) Dial(ctx context.Context, peer netip.AddrPort, secret []byte) (uint16, error) {
	wait := make(chan error, 1)
	var tid uint16
	var err error
	cerr := l.call(func() {
		tid = l.allocTunnelID()
		if tid == 0 {
			err = fmt.Errorf("l2tp: no free tunnel ID")
			return
		}
		te := &tunnelEntry{
			t: NewTunnel(l.tunnelConfig(tid, peer.Addr(), secret)), peer: peer, calls: map[uint16]*Call{},
			log: l.log.With("tid", tid, "peer", peer), upWait: wait, callWait: map[uint16]chan callResult{},
		}
		l.addTunnel(te)
		e, oerr := te.t.Open(time.Now())
		if oerr != nil {
			err = oerr
			l.removeTunnel(te)
			return
		}
		l.apply(te, e)
	})
	if cerr != nil {
		return 0, cerr
	}
	if err != nil {
		return 0, err
	}
	select {
	case err := <-wait:
		if err != nil {
			return 0, err
		}
		return tid, nil
	case <-ctx.Done():
		_ = l.CloseTunnel(tid, Result{Code: StopClear, Message: "dial cancelled"})
		return 0, ctx.Err()
	case <-l.done:
		return 0, ErrClosed
	}
}

// Call places a call on tunnel tid (ICRQ, then ICCN when the LNS answers)
// and waits until it is established; Handler.NewCall has run by then.
func (l *LAC) Call(ctx context.Context, tid uint16, p CallParams) (*Call, error) {
	wait := make(chan callResult, 1)
	var err error
	cerr := l.call(func() {
		te := l.tunnels[tid]
		if te == nil {
			err = fmt.Errorf("l2tp: no tunnel %d", tid)
			return
		}
		sid, e, cerr := te.t.Call(time.Now(), p)
		if cerr != nil {
			err = cerr
			return
		}
		te.callWait[sid] = wait
		l.apply(te, e)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	select {
	case r := <-wait:
		return r.c, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, ErrClosed
	}
}
