package l2tp

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrClosed is returned by operations on a stopped LNS or LAC, or on a
// call that has ended.
var ErrClosed = errors.New("l2tp: closed")

// A Handler receives the calls of an LNS (or of a LAC). The session layer
// implements it.
//
// NewCall and CallClosed run on the loop goroutine that owns the tunnels:
// they must not block (post to the session's own goroutine instead).
// CallData runs on the socket reader goroutine, or on the loop goroutine
// for a frame that arrived before the ICCN establishing its call: it must
// be safe for both, must not block and must not retain payload after it
// returns.
type Handler interface {
	// NewCall is called once a call is established (LNS: ICCN received;
	// LAC: ICCN sent). c.Info() carries the ICRQ/ICCN details, including
	// the LAC's proxy LCP and authentication (nil when absent): whether to
	// trust it or renegotiate is the handler's choice. Returning an error
	// refuses the call with CDN: a *ResultError chooses the result code,
	// any other error sends result 2 (general error).
	NewCall(c *Call) error
	// CallData receives each PPP frame of an accepted call: protocol and
	// information field, FF 03 stripped. IPv4 and IPv6 frames go to the
	// call's IP writer instead when one is set (Call.SetIPWriter), so
	// normally CallData sees only LCP, authentication and NCP frames.
	CallData(c *Call, proto uint16, payload []byte)
	// CallClosed is called once for every accepted call when it ends:
	// CDN from either side, StopCCN, tunnel failure or shutdown.
	CallClosed(c *Call, r Result)
}

// ResultError is an error carrying the result to put in a CDN or StopCCN.
type ResultError struct{ Result Result }

func (e *ResultError) Error() string { return "l2tp: " + e.Result.String() }

// SecretFunc returns the tunnel secret for a peer, by its address and the
// Host Name of its SCCRQ; ok is false when none is configured.
type SecretFunc func(peer netip.Addr, hostName string) (secret []byte, ok bool)

// Config configures an LNS or a LAC.
type Config struct {
	// Addr is the UDP address to listen on (":1701" for an LNS, ":0" for a
	// LAC when empty). Ignored when Conn is set.
	Addr string
	// Conn, when set, is used instead of listening on Addr (a *net.UDPConn,
	// or an in-memory conn in tests). Serve closes it.
	Conn PacketConn
	// ReuseAddr sets SO_REUSEADDR on the socket bound to Addr, so that a
	// kernel dataplane can bind one connected socket per tunnel to the
	// same address (the kernel's L2TP tunnel needs a socket of its own)
	// and pass what the kernel does not consume to Input.
	ReuseAddr bool
	// HostName is our Host Name AVP ("bngbox" when empty).
	HostName   string
	VendorName string
	// Secrets gives the tunnel secret per peer (LNS). With a secret, the
	// peer is challenged and must answer (RFC 2661 §5.1.1).
	Secrets SecretFunc
	// RequireAuth refuses peers for which Secrets has no secret.
	RequireAuth bool
	// HideAVPs hides sensitive AVPs we send (proxy authentication response).
	HideAVPs      bool
	Channel       ChannelConfig
	HelloInterval time.Duration
	// CallSetupTimeout clears calls not connected in time (30 s).
	CallSetupTimeout time.Duration
	Handler          Handler
	Logger           *slog.Logger
}

// PacketConn is the socket an LNS or LAC uses; *net.UDPConn implements it.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
}

var _ PacketConn = (*net.UDPConn)(nil)

// TunnelInfo is a snapshot of one tunnel.
type TunnelInfo struct {
	LocalID, RemoteID uint16
	Peer              netip.AddrPort
	HostName          string // the peer's
	State             TunnelState
	Sessions          int
}

// CallStats are a call's data counters.
type CallStats struct {
	RxPackets, RxBytes, TxPackets, TxBytes uint64
	RxDropped                              uint64 // late sequenced frames, bad PPP frames
}

func callKey(tid, sid uint16) uint32 { return uint32(tid)<<16 | uint32(sid) }

type tunnelEntry struct {
	t    *Tunnel
	peer netip.AddrPort
	log  *slog.Logger
	key  sccrqKey
	due  time.Time // the tunnel's deadline, as ordered in node.timers
	hidx int       // index in node.timers; -1 once removed
	// calls the handler accepted, by our session ID.
	calls map[uint16]*Call
	// early holds data frames that arrived for a session still waiting
	// for its ICCN (LNS), by our session ID; delivered at EventCallUp.
	early map[uint16][]ctlPacket
	// LAC: who waits for the tunnel or its calls to come up.
	upWait   chan error
	callWait map[uint16]chan callResult
}

type callResult struct {
	c   *Call
	err error
}

type sccrqKey struct {
	peer netip.AddrPort
	tid  uint16
}

type ctlPacket struct {
	from netip.AddrPort
	b    []byte
	// data marks a data message deferred by the reader: it arrived on a
	// known tunnel for a session not established (yet).
	data bool
}

// node is the machinery an LNS and a LAC share: one UDP socket, a reader
// goroutine that demultiplexes data to calls, and one loop goroutine that
// owns every tunnel.
type node struct {
	cfg  Config
	role Role
	conn PacketConn
	log  *slog.Logger
	bufs sync.Pool

	ctl  chan ctlPacket
	cmds chan func()
	done chan struct{}

	// Loop goroutine only.
	tunnels map[uint16]*tunnelEntry
	bySCCRQ map[sccrqKey]uint16
	timers  tunnelHeap

	// calls is read by the reader goroutine, written by the loop.
	callsMu sync.RWMutex
	calls   map[uint32]*Call

	// tids is the set of our tunnel IDs, for the reader to tell an
	// unknown tunnel from an unknown session; guarded by callsMu.
	tids map[uint16]struct{}

	drops dropCounters
}

func newNode(cfg Config, role Role, defAddr string) (*node, error) {
	if cfg.Handler == nil {
		return nil, errors.New("l2tp: Config.Handler is nil")
	}
	if cfg.HostName == "" {
		cfg.HostName = "bngbox"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Channel = cfg.Channel.withDefaults()
	var conn PacketConn = cfg.Conn
	if conn == nil {
		addr := cfg.Addr
		if addr == "" {
			addr = defAddr
		}
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("l2tp: listen %s: %w", addr, err)
		}
		uc, err := listenUDP(ua, cfg.ReuseAddr)
		if err != nil {
			return nil, fmt.Errorf("l2tp: listen: %w", err)
		}
		// One socket carries every tunnel's control and data: a default
		// receive buffer (~200 kB) overflows during mass call setup.
		// Best effort: the kernel caps it at net.core.rmem_max.
		_ = uc.SetReadBuffer(socketBuffer)
		_ = uc.SetWriteBuffer(socketBuffer)
		conn = uc
	}
	n := &node{
		cfg: cfg, role: role, conn: conn, log: cfg.Logger,
		ctl: make(chan ctlPacket, 256), cmds: make(chan func(), 64), done: make(chan struct{}),
		tunnels: map[uint16]*tunnelEntry{}, bySCCRQ: map[sccrqKey]uint16{}, calls: map[uint32]*Call{},
		tids: map[uint16]struct{}{},
	}
	n.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	return n, nil
}

// socketBuffer is the send and receive buffer size asked for the UDP socket.
const socketBuffer = 4 << 20

// Addr is the local UDP address.
func (n *node) Addr() netip.AddrPort { return n.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// do runs f on the loop goroutine.
func (n *node) do(f func()) error {
	select {
	case n.cmds <- f:
		return nil
	case <-n.done:
		return ErrClosed
	}
}

// call runs f on the loop goroutine and waits for it.
func (n *node) call(f func()) error {
	ch := make(chan struct{})
	if err := n.do(func() { f(); close(ch) }); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-n.done:
		return ErrClosed
	}
}

// Tunnels returns a snapshot of every tunnel.
func (n *node) Tunnels() []TunnelInfo {
	var out []TunnelInfo
	_ = n.call(func() {
		for _, te := range n.tunnels {
			out = append(out, TunnelInfo{LocalID: te.t.LocalID(), RemoteID: te.t.PeerID(), Peer: te.peer,
				HostName: te.t.PeerHostName(), State: te.t.State(), Sessions: te.t.Calls()})
		}
	})
	return out
}

// CloseTunnel sends StopCCN with result r on tunnel tid; every call on it
// ends (CallClosed).
func (n *node) CloseTunnel(tid uint16, r Result) error {
	var err error
	if cerr := n.call(func() {
		te := n.tunnels[tid]
		if te == nil {
			err = fmt.Errorf("l2tp: no tunnel %d", tid)
			return
		}
		n.apply(te, te.t.Close(time.Now(), r))
	}); cerr != nil {
		return cerr
	}
	return err
}

// serve runs the reader and the loop until ctx is done; then it sends
// StopCCN on every tunnel, ends every call (CallClosed), closes the socket
// and waits for the reader. It may be called once.
func (n *node) serve(ctx context.Context) error {
	rerr := make(chan error, 1)
	go func() { rerr <- n.readLoop() }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var err error
	readerDone := false
loop:
	for {
		select {
		case p := <-n.ctl:
			if p.data {
				n.handleDeferredData(p)
				continue
			}
			n.handleControl(p)
		case f := <-n.cmds:
			f()
		case <-timer.C:
			n.tick(time.Now())
		case err = <-rerr:
			readerDone = true
			break loop
		case <-ctx.Done():
			break loop
		}
		n.resetTimer(timer)
	}
	now := time.Now()
	for _, te := range n.tunnels {
		n.apply(te, te.t.Close(now, Result{Code: StopShuttingDown, Message: "shutting down"}))
	}
	close(n.done)
	n.conn.Close()
	if !readerDone {
		<-rerr // no CallData after Serve returns
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func (n *node) resetTimer(timer *time.Timer) {
	wait := time.Hour
	if len(n.timers) > 0 && n.timers[0].due != farFuture {
		wait = min(max(time.Until(n.timers[0].due), 0), time.Hour)
	}
	timer.Reset(wait)
}

// tick runs the timers of every tunnel that is due.
func (n *node) tick(now time.Time) {
	for range len(n.timers) { // each due tunnel once, even if it stays due
		if len(n.timers) == 0 || n.timers[0].due.After(now) {
			return
		}
		te := n.timers[0]
		n.apply(te, te.t.Tick(now))
		if te.hidx == 0 && !te.due.After(now) {
			te.due = now.Add(time.Millisecond) // defensive: never spin on one tunnel
			heap.Fix(&n.timers, 0)
		}
	}
}

// readLoop reads the socket: data messages are handed to their call here;
// control messages go to the loop.
func (n *node) readLoop() error {
	buf := make([]byte, 65536)
	for {
		k, from, err := n.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return fmt.Errorf("l2tp: read: %w", err)
		}
		if !n.input(buf[:k], from) {
			return nil
		}
	}
}

// Input handles one UDP payload from peer that arrived on another socket
// than the node's own: a kernel dataplane's per-tunnel socket passes up
// control messages and data for sessions the kernel does not know. It
// may be called from any goroutine and does not retain b. Data for a call
// must not be fed from two goroutines at once (sequencing state is
// per-reader); a per-tunnel socket takes all of its peer's packets, so
// in practice the node's reader stops seeing them.
func (n *node) Input(b []byte, from netip.AddrPort) {
	n.input(b, from)
}

// input handles one packet (readLoop, Input); it reports false once the
// node is done.
func (n *node) input(b []byte, from netip.AddrPort) bool {
	var h Header
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	payload, err := h.Decode(b)
	if err != nil {
		n.drops.add(DropMalformed, 1)
		return true
	}
	if h.Control {
		select {
		case n.ctl <- ctlPacket{from: from, b: append([]byte(nil), b...)}:
		case <-n.done:
			return false
		}
		return true
	}
	c := n.lookupCall(h.TunnelID, h.SessionID)
	if c == nil && n.tunnelKnown(h.TunnelID) {
		// The ICCN that establishes the session may still be queued
		// here, or still be in the LAC's send queue (a LAC sends its
		// first LCP frame right after ICCN, whether or not its window
		// let the ICCN out): the loop holds the frame until then.
		select {
		case n.ctl <- ctlPacket{from: from, b: append([]byte(nil), b...), data: true}:
		case <-n.done:
			return false
		}
		return true
	}
	if c == nil || c.closed.Load() {
		n.drops.add(n.unknownReason(h.TunnelID), 1)
		return true
	}
	n.receiveData(c, &h, payload)
	return true
}

// unknownReason classifies a data message for no known call.
func (n *node) unknownReason(tid uint16) DropReason {
	if n.tunnelKnown(tid) {
		return DropUnknownSession
	}
	return DropUnknownTunnel
}

func (n *node) lookupCall(tid, sid uint16) *Call {
	n.callsMu.RLock()
	defer n.callsMu.RUnlock()
	return n.calls[callKey(tid, sid)]
}

// maxEarlyFrames bounds the data frames held per session waiting for its
// ICCN.
const maxEarlyFrames = 8

// handleDeferredData delivers, on the loop, a data message the reader
// deferred (see readLoop), or holds it while its session waits for ICCN.
// Only non-IP frames are delivered (LCP, authentication, NCPs: the
// dataplane's IP writer is installed later), to Handler.CallData, without
// sequence checks: the reader owns those.
func (n *node) handleDeferredData(p ctlPacket) {
	var h Header
	payload, err := h.Decode(p.b)
	if err != nil {
		return // decoded once already
	}
	c := n.lookupCall(h.TunnelID, h.SessionID)
	if c == nil {
		te := n.tunnels[h.TunnelID]
		if te != nil && te.peer.Addr() == p.from.Addr() && te.t.AwaitingConnect(h.SessionID) && len(te.early[h.SessionID]) < maxEarlyFrames {
			if te.early == nil {
				te.early = map[uint16][]ctlPacket{}
			}
			te.early[h.SessionID] = append(te.early[h.SessionID], p)
			return
		}
	}
	if c == nil || c.closed.Load() || c.peer.Addr() != p.from.Addr() {
		n.drops.add(n.unknownReason(h.TunnelID), 1)
		return
	}
	proto, info, err := ParsePPP(payload)
	if err != nil {
		c.rxDropped.Add(1)
		n.drops.add(DropMalformed, 1)
		return
	}
	if proto == ProtoIPv4 || proto == ProtoIPv6 {
		n.drops.add(DropUnknownSession, 1) // IP before the session was established
		return
	}
	c.rxPackets.Add(1)
	c.rxBytes.Add(uint64(len(info)))
	n.cfg.Handler.CallData(c, proto, info)
}

func (n *node) receiveData(c *Call, h *Header, payload []byte) {
	if h.HasSeq {
		// RFC 2661 §5.4: a late sequenced frame is dropped. A peer that
		// sequences its data gets sequenced data back.
		if c.rxSeen && seqLess(h.Ns, c.rxNext) {
			c.rxDropped.Add(1)
			n.drops.add(DropLateData, 1)
			return
		}
		c.rxSeen, c.rxNext = true, h.Ns+1
		if !c.seq.Load() {
			c.seq.Store(true)
		}
	}
	proto, info, err := ParsePPP(payload)
	if err != nil {
		c.rxDropped.Add(1)
		n.drops.add(DropMalformed, 1)
		return
	}
	c.rxPackets.Add(1)
	c.rxBytes.Add(uint64(len(info)))
	if proto == ProtoIPv4 || proto == ProtoIPv6 {
		if w := c.ipw.Load(); w != nil {
			(*w)(proto, info)
			return
		}
	}
	n.cfg.Handler.CallData(c, proto, info)
}

func (n *node) tunnelConfig(local uint16, peer netip.Addr, secret []byte) TunnelConfig {
	tc := TunnelConfig{
		Role: n.role, LocalID: local, HostName: n.cfg.HostName, VendorName: n.cfg.VendorName,
		Secret: secret, RequireAuth: n.cfg.RequireAuth, HideAVPs: n.cfg.HideAVPs,
		Channel: n.cfg.Channel, HelloInterval: n.cfg.HelloInterval, CallSetupTimeout: n.cfg.CallSetupTimeout,
	}
	if n.cfg.Secrets != nil && secret == nil {
		tc.LookupSecret = func(host string) ([]byte, bool) { return n.cfg.Secrets(peer, host) }
	}
	return tc
}

// allocTunnelID returns a random unused non-zero tunnel ID, 0 when full.
func (n *node) allocTunnelID() uint16 {
	for range 1 << 16 {
		id := uint16(rand.Uint32())
		if _, used := n.tunnels[id]; id != 0 && !used {
			return id
		}
	}
	return 0
}

func (n *node) handleControl(p ctlPacket) {
	h, body, err := ParseHeader(p.b)
	if err != nil {
		n.drops.add(DropMalformed, 1)
		return
	}
	now := time.Now()
	te := n.tunnels[h.TunnelID]
	if h.TunnelID == 0 {
		te = n.newPeerTunnel(p.from, body)
		if te == nil {
			return
		}
	}
	if te == nil || te.peer.Addr() != p.from.Addr() {
		n.drops.add(DropUnknownTunnel, 1)
		n.log.Debug("control message for unknown tunnel", "tid", h.TunnelID, "peer", p.from)
		return
	}
	te.peer = p.from // RFC 2661 §8.1: the peer may answer from another port
	beyond := te.t.ch.beyondWindow
	e, err := te.t.Receive(now, &h, body)
	n.drops.add(DropOutOfWindow, te.t.ch.beyondWindow-beyond)
	if err != nil {
		te.log.Debug("control message", slog.Any("err", err))
	}
	n.apply(te, e)
}

// newPeerTunnel handles a message to tunnel 0: an SCCRQ (LNS), new or a
// retransmission of one we already answered.
func (n *node) newPeerTunnel(from netip.AddrPort, body []byte) *tunnelEntry {
	if n.role != RoleLNS || len(body) == 0 {
		n.drops.add(DropUnknownTunnel, 1) // a ZLB or a LAC: no tunnel 0
		return nil
	}
	m, err := ParseMessage(body, nil)
	if m == nil || m.Type != MsgSCCRQ {
		n.drops.add(DropMalformed, 1)
		return nil
	}
	ptid, _ := m.Uint16(AVPAssignedTunnelID)
	key := sccrqKey{from, ptid}
	if tid, ok := n.bySCCRQ[key]; ok {
		te := n.tunnels[tid]
		if te != nil && te.t.State() == TunnelWaitCtlConn {
			return te // duplicate SCCRQ: its channel re-acknowledges
		}
		// The peer restarted and reuses its tunnel ID: the old tunnel is
		// dead (its peer state is gone); drop it and start afresh.
		delete(n.bySCCRQ, key)
		if te != nil {
			te.log.Info("peer restarted: new SCCRQ on an established tunnel")
			n.apply(te, te.t.Close(time.Now(), Result{Code: StopAlreadyExists, Message: "peer restarted"}))
		}
	}
	if err != nil && ptid == 0 {
		n.drops.add(DropMalformed, 1)
		return nil
	}
	tid := n.allocTunnelID()
	if tid == 0 {
		return nil
	}
	te := &tunnelEntry{
		t: NewTunnel(n.tunnelConfig(tid, from.Addr(), nil)), peer: from, key: key, calls: map[uint16]*Call{},
		log: n.log.With("tid", tid, "peer", from),
	}
	n.addTunnel(te)
	n.bySCCRQ[key] = tid
	return te
}

// apply performs a tunnel's effects: sends, then events.
func (n *node) apply(te *tunnelEntry, e Effects) {
	for _, p := range e.Send {
		if _, err := n.conn.WriteToUDPAddrPort(p, te.peer); err != nil {
			te.log.Debug("send", slog.Any("err", err))
		}
	}
	for _, ev := range e.Events {
		n.event(te, ev)
	}
	if te.t.State() == TunnelClosed {
		n.removeTunnel(te)
		return
	}
	n.reschedule(te)
}

// addTunnel registers te with the loop and its timer heap.
func (n *node) addTunnel(te *tunnelEntry) {
	n.tunnels[te.t.LocalID()] = te
	n.callsMu.Lock()
	n.tids[te.t.LocalID()] = struct{}{}
	n.callsMu.Unlock()
	te.due = farFuture
	heap.Push(&n.timers, te)
}

// removeTunnel forgets te (idempotent).
func (n *node) removeTunnel(te *tunnelEntry) {
	if te.hidx < 0 {
		return
	}
	heap.Remove(&n.timers, te.hidx)
	delete(n.tunnels, te.t.LocalID())
	n.callsMu.Lock()
	delete(n.tids, te.t.LocalID())
	n.callsMu.Unlock()
	if n.bySCCRQ[te.key] == te.t.LocalID() {
		delete(n.bySCCRQ, te.key)
	}
}

// reschedule moves te in the timer heap to its tunnel's deadline.
func (n *node) reschedule(te *tunnelEntry) {
	if te.hidx < 0 {
		return
	}
	te.due = te.t.Deadline()
	if te.due.IsZero() {
		te.due = farFuture
	}
	heap.Fix(&n.timers, te.hidx)
}

func (n *node) event(te *tunnelEntry, ev Event) {
	switch ev.Kind {
	case EventTunnelUp:
		te.log.Info("tunnel up", "peer_tid", te.t.PeerID(), "host", te.t.PeerHostName())
		if te.upWait != nil {
			te.upWait <- nil
			te.upWait = nil
		}
	case EventTunnelDown:
		te.log.Info("tunnel down", "result", ev.Result.String(), slog.Any("err", ev.Err))
		if te.upWait != nil {
			err := ev.Err
			if err == nil {
				err = &ResultError{ev.Result}
			}
			te.upWait <- err
			te.upWait = nil
		}
		for sid, w := range te.callWait {
			w <- callResult{err: fmt.Errorf("l2tp: tunnel down: %w", ErrClosed)}
			delete(te.callWait, sid)
		}
	case EventCallUp:
		c := &Call{n: n, info: *ev.Call, peer: te.peer}
		c.seq.Store(ev.Call.SequencingRequired)
		te.calls[ev.SessionID] = c
		err := n.cfg.Handler.NewCall(c)
		if err == nil {
			// Data reaches the call only once the handler knows it.
			n.callsMu.Lock()
			n.calls[callKey(c.info.TunnelID, c.info.SessionID)] = c
			n.callsMu.Unlock()
		}
		if w := te.callWait[ev.SessionID]; w != nil {
			w <- callResult{c, err}
			delete(te.callWait, ev.SessionID)
		}
		early := te.early[ev.SessionID]
		delete(te.early, ev.SessionID)
		if err != nil {
			n.drops.add(DropUnknownSession, uint64(len(early)))
			n.forget(te, ev.SessionID)
			r := Result{Code: CDNGeneralError, Message: err.Error()}
			if re, ok := errors.AsType[*ResultError](err); ok {
				r = re.Result
			}
			e, cerr := te.t.CloseCall(time.Now(), ev.SessionID, r)
			if cerr == nil {
				n.apply(te, e)
			}
			return
		}
		te.log.Debug("call up", "sid", ev.SessionID, "peer_sid", c.info.PeerSessionID, "early_frames", len(early))
		for _, p := range early {
			n.handleDeferredData(p)
		}
	case EventCallDown, EventCallFailed:
		if early := te.early[ev.SessionID]; early != nil {
			delete(te.early, ev.SessionID)
			n.drops.add(DropUnknownSession, uint64(len(early)))
		}
		if w := te.callWait[ev.SessionID]; w != nil {
			w <- callResult{err: &ResultError{ev.Result}}
			delete(te.callWait, ev.SessionID)
		}
		if c := n.forget(te, ev.SessionID); c != nil {
			te.log.Debug("call down", "sid", ev.SessionID, "result", ev.Result.String())
			n.cfg.Handler.CallClosed(c, ev.Result)
		}
	}
}

// forget unregisters call sid of te and returns it (nil if unknown).
func (n *node) forget(te *tunnelEntry, sid uint16) *Call {
	c := te.calls[sid]
	if c == nil {
		return nil
	}
	delete(te.calls, sid)
	c.closed.Store(true)
	n.callsMu.Lock()
	delete(n.calls, callKey(c.info.TunnelID, sid))
	n.callsMu.Unlock()
	return c
}
