package l2tp

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// A Call is one established session, shared by the loop, the socket reader
// and the session layer. Its methods are safe for concurrent use.
type Call struct {
	n    *node
	info CallInfo
	peer netip.AddrPort

	seq    atomic.Bool   // send with sequence numbers
	ns     atomic.Uint32 // next data Ns to send
	rxNext uint16        // next data Ns expected (reader goroutine only)
	rxSeen bool          // reader goroutine only
	ipw    atomic.Pointer[func(proto uint16, pkt []byte)]
	closed atomic.Bool

	rxPackets, rxBytes, txPackets, txBytes, rxDropped atomic.Uint64
}

// Info returns what ICRQ and ICCN said about the call.
func (c *Call) Info() CallInfo { return c.info }

// Peer is the tunnel peer's UDP address.
func (c *Call) Peer() netip.AddrPort { return c.peer }

// Stats returns the call's data counters.
func (c *Call) Stats() CallStats {
	return CallStats{c.rxPackets.Load(), c.rxBytes.Load(), c.txPackets.Load(), c.txBytes.Load(), c.rxDropped.Load()}
}

// SetIPWriter routes the call's IPv4 and IPv6 frames (protocol and IP
// packet) to w, on the reader goroutine, instead of Handler.CallData: the
// dataplane seam for a per-session TUN device. w must not block or retain
// pkt. nil restores delivery to CallData.
func (c *Call) SetIPWriter(w func(proto uint16, pkt []byte)) {
	if w == nil {
		c.ipw.Store(nil)
		return
	}
	c.ipw.Store(&w)
}

// SendPPP sends one PPP frame (protocol + information field) on the call,
// with FF 03 and, when the session is sequenced, Ns. It writes to the
// socket directly and may be called from any goroutine.
func (c *Call) SendPPP(proto uint16, payload []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	h := Header{TunnelID: c.info.PeerTunnelID, SessionID: c.info.PeerSessionID}
	if c.seq.Load() {
		h.HasSeq = true
		h.Ns = uint16(c.ns.Add(1) - 1)
	}
	bp := c.n.bufs.Get().(*[]byte)
	b := AppendData((*bp)[:0], &h, proto, payload)
	_, err := c.n.conn.WriteToUDPAddrPort(b, c.peer)
	*bp = b
	c.n.bufs.Put(bp)
	if err != nil {
		return fmt.Errorf("l2tp: send on session %d/%d: %w", c.info.TunnelID, c.info.SessionID, err)
	}
	c.txPackets.Add(1)
	c.txBytes.Add(uint64(len(payload)))
	return nil
}

// Close ends the call with CDN result r (asynchronously). CallClosed
// follows.
func (c *Call) Close(r Result) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.n.do(func() {
		te := c.n.tunnels[c.info.TunnelID]
		if te == nil {
			return
		}
		e, err := te.t.CloseCall(time.Now(), c.info.SessionID, r)
		if err == nil {
			c.n.apply(te, e)
		}
	})
}
