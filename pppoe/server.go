package pppoe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
)

// maxDiscoveryPayload is the largest PPPoE payload a reply may carry on a
// 1500-byte Ethernet payload (RFC 2516 §4: 1500 minus the 6-byte header).
const maxDiscoveryPayload = 1500 - HeaderLen

// A Server is the access-concentrator side of PPPoE discovery (RFC 2516
// §5). It is sans-I/O: frames and the time come in through Handle, replies
// and events go out as return values. It is safe for concurrent use by the
// reader goroutines of several ports: parsing, policy and cookie work run
// without the lock; one mutex guards the session table and rate buckets.
type Server struct {
	cfg    atomic.Pointer[compiled]
	secret []byte // random default cookie secret, immutable

	mu       sync.Mutex
	sessions map[sessionKey]*session // guarded by mu
	clients  map[clientKey]*session  // guarded by mu; for duplicate PADRs
	perMAC   map[[6]byte]int         // guarded by mu; sessions per peer MAC
	ports    map[string]*idSpace     // guarded by mu
	macRate  macTable                // guarded by mu
	global   bucket                  // guarded by mu
	started  bool                    // guarded by mu; global bucket initialised

	drops [numDropReasons]atomic.Uint64
}

type sessionKey struct {
	port string
	sid  uint16
}

// clientKey identifies a client's PADR: port, MAC, tag stack and Host-Uniq.
type clientKey struct {
	port     string
	mac      [6]byte
	vlans    [ether.MaxVLANs]uint16
	nvlans   int
	hostUniq string
	hasHU    bool
}

// session is the discovery server's record of one session.
type session struct {
	key        sessionKey
	client     clientKey
	eh         ether.Header // request header as received (tags, TPIDs, PCP)
	service    string
	hostUniq   []byte
	relay      []byte
	maxPayload uint16
	terminated bool // PADT from the peer reported
}

// New returns a Server with cfg.
func New(cfg Config) (*Server, error) {
	s := &Server{
		secret:   randomSecret(),
		sessions: make(map[sessionKey]*session),
		clients:  make(map[clientKey]*session),
		perMAC:   make(map[[6]byte]int),
		ports:    make(map[string]*idSpace),
	}
	if err := s.SetConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// SetConfig replaces the policy. Existing sessions are kept even if the new
// policy would refuse them. Changing CookieSecret invalidates outstanding
// PADOs (clients retry with a new PADI).
func (s *Server) SetConfig(cfg Config) error {
	c, err := compile(cfg, s.secret)
	if err != nil {
		return err
	}
	s.cfg.Store(c)
	return nil
}

// Sessions returns the number of allocated sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Drops returns a snapshot of drop counters by reason (every reason is
// present, zero or not).
func (s *Server) Drops() map[string]uint64 {
	m := make(map[string]uint64, numDropReasons)
	for r := range numDropReasons {
		m[r.String()] = s.drops[r].Load()
	}
	return m
}

func (s *Server) drop(r DropReason) { s.drops[r].Add(1) }

// Handle processes one discovery frame (a whole Ethernet frame, VLAN tags
// in-band, EtherType 0x8863) received at now on port, whose MAC is portMAC.
// It returns the frame to send back on the same port (nil for none) and an
// event (nil, *NewSession or *PeerTerminated). frame is not retained.
func (s *Server) Handle(now time.Time, port string, portMAC net.HardwareAddr, frame []byte) (reply []byte, ev Event) {
	return s.HandleAppend(nil, now, port, portMAC, frame)
}

// HandleAppend is Handle with the reply appended to dst, so that a reader
// loop can reuse one buffer. reply is nil when there is nothing to send;
// otherwise the reply frame is reply[len(dst):].
func (s *Server) HandleAppend(dst []byte, now time.Time, port string, portMAC net.HardwareAddr, frame []byte) (reply []byte, ev Event) {
	var r request
	if !r.parse(frame) {
		s.drop(DropMalformed)
		return nil, nil
	}
	c := s.cfg.Load()
	switch r.code {
	case CodePADI:
		return s.handlePADI(dst, c, now, port, portMAC, &r), nil
	case CodePADR:
		return s.handlePADR(dst, c, now, port, portMAC, &r)
	case CodePADT:
		return nil, s.handlePADT(port, portMAC, &r)
	}
	s.drop(DropUnexpectedCode)
	return nil, nil
}

// request is a decoded discovery frame; slices alias the frame.
type request struct {
	eh          ether.Header
	code        Code
	sid         uint16
	nService    int
	service     []byte
	hostUniq    []byte
	hasHostUniq bool
	cookie      []byte
	hasCookie   bool
	relay       []byte
	hasRelay    bool
	maxPayload  uint16
	message     []byte // Generic-Error (PADT)
}

// parse decodes frame and checks the RFC 2516 §5 rules the server relies
// on. It reports false for anything malformed.
func (r *request) parse(frame []byte) bool {
	eh, off, err := ether.Parse(frame)
	if err != nil || eh.EtherType != ether.TypePPPoEDiscover {
		return false
	}
	if eh.Src[0]&1 != 0 || isZeroMAC(eh.Src) { // RFC 2516 §5: peer MAC is unicast
		return false
	}
	h, payload, _, err := ParseHeader(frame[off:])
	if err != nil {
		return false
	}
	r.eh, r.code, r.sid = eh, h.Code, h.SessionID
	if !r.collect(payload) {
		return false
	}
	switch r.code {
	case CodePADI, CodePADR: // RFC 2516 §5.1, §5.3
		return r.sid == 0 && r.nService == 1
	case CodePADT: // RFC 2516 §5.5
		return r.sid != 0
	}
	return true
}

// collect records the tags the server uses; the first of each kind wins.
func (r *request) collect(payload []byte) bool {
	d := NewTagDecoder(payload)
	for d.Next() {
		v := d.Value()
		switch d.Type() {
		case TagServiceName:
			if r.nService == 0 {
				r.service = v
			}
			r.nService++
		case TagHostUniq:
			if !r.hasHostUniq {
				r.hostUniq, r.hasHostUniq = v, true
			}
		case TagACCookie:
			if !r.hasCookie {
				r.cookie, r.hasCookie = v, true
			}
		case TagRelaySessionID:
			if !r.hasRelay {
				r.relay, r.hasRelay = v, true
			}
		case TagPPPMaxPayload:
			r.maxPayload = binary.BigEndian.Uint16(v) // length checked by the decoder
		case TagGenericError:
			r.message = v
		}
	}
	return d.Err() == nil
}

func isZeroMAC(m net.HardwareAddr) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

var broadcast = net.HardwareAddr(broadcastMAC())

// vlanOK applies the port/VLAN policy of c to the request.
func (r *request) vlanOK(c *compiled, port string) bool {
	if c.cfg.PortVLANs != nil {
		set, ok := c.cfg.PortVLANs[port]
		if !ok {
			set, ok = c.cfg.PortVLANs["*"]
		}
		if !ok || !set.Contains(r.eh.VID[:r.eh.NumVLANs]) {
			return false
		}
	}
	if c.cfg.VLANFilter != nil {
		v := r.eh.VID // a copy: the filter may retain its argument
		return c.cfg.VLANFilter(port, v[:r.eh.NumVLANs])
	}
	return true
}

// negotiatedMaxPayload is the PPP-Max-Payload to echo (RFC 4638 §4), 0 for
// none. Values under 1492 are not a request for a larger MTU and are ignored.
func (c *compiled) negotiatedMaxPayload(offered uint16) uint16 {
	if offered < 1492 {
		return 0
	}
	if c.cfg.MaxPayload != 0 && offered > c.cfg.MaxPayload {
		return c.cfg.MaxPayload
	}
	return offered
}

// handlePADI answers a PADI with a PADO (RFC 2516 §5.1, §5.2). A PADI the
// AC cannot serve gets no answer, so that another AC may serve it.
func (s *Server) handlePADI(dst []byte, c *compiled, now time.Time, port string, portMAC net.HardwareAddr, r *request) []byte {
	if !bytes.Equal(r.eh.Dst, broadcast) && !bytes.Equal(r.eh.Dst, portMAC) {
		s.drop(DropNotForUs)
		return nil
	}
	if !r.vlanOK(c, port) {
		s.drop(DropVLANNotServed)
		return nil
	}
	if !c.serves(r.service) {
		s.drop(DropUnknownService)
		return nil
	}
	if reason, ok := s.admitPADI(c, now, [6]byte(r.eh.Src)); !ok {
		s.drop(reason)
		return nil
	}
	b, pos := beginReply(dst, r, portMAC, CodePADO, 0)
	b = AppendStringTag(b, TagACName, c.cfg.ACName)
	b = AppendTag(b, TagServiceName, r.service)
	if len(r.service) == 0 { // RFC 2516 §5.2: other Service-Names may follow
		for _, sn := range c.cfg.ServiceNames {
			b = AppendStringTag(b, TagServiceName, sn)
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(TagACCookie))
	b = binary.BigEndian.AppendUint16(b, CookieLen)
	b = c.cookie.Append(b, now, r.eh.Src, r.eh.VID[:r.eh.NumVLANs], port)
	b = appendEcho(b, r, c.negotiatedMaxPayload(r.maxPayload))
	return s.finishReply(b, pos)
}

// admitPADI applies the PADI rate limits and the session limits.
func (s *Server) admitPADI(c *compiled, now time.Time, mac [6]byte) (DropReason, bool) {
	t := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.cfg.PADIRatePerMAC > 0 && !s.macRate.allow(mac, t, c.cfg.PADIRatePerMAC, c.burstMAC, c.cfg.MaxTrackedMACs) {
		return DropRateLimitedMAC, false
	}
	if c.cfg.PADIRateGlobal > 0 {
		if !s.started {
			s.global, s.started = bucket{tokens: c.burstAll, last: t}, true
		}
		if !s.global.take(t, c.cfg.PADIRateGlobal, c.burstAll) {
			return DropRateLimitedGlobal, false
		}
	}
	return s.limitLocked(c, mac)
}

// limitLocked checks MaxSessions and MaxPerMAC. s.mu must be held.
func (s *Server) limitLocked(c *compiled, mac [6]byte) (DropReason, bool) {
	if c.cfg.MaxSessions > 0 && len(s.sessions) >= c.cfg.MaxSessions {
		return DropSessionLimit, false
	}
	if c.cfg.MaxPerMAC > 0 && s.perMAC[mac] >= c.cfg.MaxPerMAC {
		return DropMACLimit, false
	}
	return 0, true
}

// handlePADR answers a PADR with a PADS (RFC 2516 §5.3, §5.4).
func (s *Server) handlePADR(dst []byte, c *compiled, now time.Time, port string, portMAC net.HardwareAddr, r *request) ([]byte, Event) {
	if !bytes.Equal(r.eh.Dst, portMAC) {
		s.drop(DropNotForUs)
		return nil, nil
	}
	if !r.vlanOK(c, port) {
		s.drop(DropVLANNotServed)
		return nil, nil
	}
	switch c.cookie.Verify(r.cookie, now, r.eh.Src, r.eh.VID[:r.eh.NumVLANs], port) {
	case CookieBad:
		s.drop(DropBadCookie)
		return nil, nil
	case CookieExpired:
		s.drop(DropExpiredCookie)
		return nil, nil
	}
	if !c.serves(r.service) { // RFC 2516 §5.4: Service-Name-Error, SESSION_ID 0
		s.drop(DropUnknownService)
		return s.errorPADS(dst, r, portMAC, TagServiceNameError, "service not offered"), nil
	}
	mp := c.negotiatedMaxPayload(r.maxPayload)
	key := clientKey{port: port, mac: [6]byte(r.eh.Src), vlans: r.eh.VID, nvlans: r.eh.NumVLANs,
		hostUniq: string(r.hostUniq), hasHU: r.hasHostUniq}

	s.mu.Lock()
	if old, ok := s.clients[key]; ok && !old.terminated {
		sid := old.key.sid
		s.mu.Unlock()
		// A retransmitted PADR: the same PADS again, no new session.
		return s.appendPADS(dst, r, portMAC, sid, mp), nil
	}
	reason, ok := s.limitLocked(c, key.mac)
	var sid uint16
	if ok {
		ids := s.ports[port]
		if ids == nil {
			ids = &idSpace{next: 1}
			s.ports[port] = ids
		}
		if sid, ok = ids.alloc(); !ok {
			reason = DropNoSessionID
		}
	}
	if !ok {
		s.mu.Unlock()
		s.drop(reason) // RFC 2516 §5.4: AC-System-Error, SESSION_ID 0
		return s.errorPADS(dst, r, portMAC, TagACSystemError, "session limit reached"), nil
	}
	sess := &session{
		key:        sessionKey{port: port, sid: sid},
		client:     key,
		eh:         r.eh,
		service:    string(r.service),
		hostUniq:   cloneOrNil(r.hostUniq, r.hasHostUniq),
		relay:      cloneOrNil(r.relay, r.hasRelay),
		maxPayload: mp,
	}
	sess.eh.Dst, sess.eh.Src = nil, nil // not aliasing the frame
	s.sessions[sess.key] = sess
	s.clients[key] = sess
	s.perMAC[key.mac]++
	s.mu.Unlock()

	reply := s.appendPADS(dst, r, portMAC, sid, mp)
	if reply == nil {
		s.Release(port, sid)
		return nil, nil
	}
	ev := &NewSession{
		Port:           port,
		Peer:           net.HardwareAddr(bytes.Clone(r.eh.Src)),
		SessionID:      sid,
		ServiceName:    sess.service,
		HostUniq:       cloneOrNil(r.hostUniq, r.hasHostUniq),
		RelaySessionID: cloneOrNil(r.relay, r.hasRelay),
		MaxPayload:     mp,
	}
	if r.eh.NumVLANs > 0 {
		ev.VLANs = append([]uint16(nil), r.eh.VID[:r.eh.NumVLANs]...)
		ev.TPIDs = append([]uint16(nil), r.eh.TPID[:r.eh.NumVLANs]...)
	}
	return reply, ev
}

func cloneOrNil(b []byte, present bool) []byte {
	if !present {
		return nil
	}
	return append([]byte{}, b...)
}

func (s *Server) appendPADS(dst []byte, r *request, portMAC net.HardwareAddr, sid, maxPayload uint16) []byte {
	b, pos := beginReply(dst, r, portMAC, CodePADS, sid)
	b = AppendTag(b, TagServiceName, r.service)
	b = appendEcho(b, r, maxPayload)
	return s.finishReply(b, pos)
}

func (s *Server) errorPADS(dst []byte, r *request, portMAC net.HardwareAddr, t TagType, msg string) []byte {
	b, pos := beginReply(dst, r, portMAC, CodePADS, 0)
	b = AppendTag(b, TagServiceName, r.service)
	b = AppendStringTag(b, t, msg)
	b = appendEcho(b, r, 0)
	return s.finishReply(b, pos)
}

// handlePADT reports a PADT from the peer of a known session, once.
func (s *Server) handlePADT(port string, portMAC net.HardwareAddr, r *request) Event {
	if !bytes.Equal(r.eh.Dst, portMAC) {
		s.drop(DropNotForUs)
		return nil
	}
	s.mu.Lock()
	sess, ok := s.sessions[sessionKey{port: port, sid: r.sid}]
	// RFC 2516 §5.5: the session is identified by SESSION_ID and both
	// MACs; we also require the same tag stack.
	if !ok || sess.client.mac != [6]byte(r.eh.Src) || sess.client.nvlans != r.eh.NumVLANs ||
		sess.client.vlans != r.eh.VID {
		s.mu.Unlock()
		s.drop(DropUnknownSession)
		return nil
	}
	if sess.terminated {
		s.mu.Unlock()
		s.drop(DropDuplicatePADT)
		return nil
	}
	sess.terminated = true
	s.mu.Unlock()
	ev := &PeerTerminated{
		Port:      port,
		Peer:      net.HardwareAddr(bytes.Clone(r.eh.Src)),
		SessionID: r.sid,
		Message:   string(r.message),
	}
	if r.eh.NumVLANs > 0 {
		ev.VLANs = append([]uint16(nil), r.eh.VID[:r.eh.NumVLANs]...)
	}
	return ev
}

// Release frees session sid on port: its ID may be handed out again and it
// no longer counts against the limits. It reports whether it existed.
func (s *Server) Release(port string, sid uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionKey{port: port, sid: sid}
	sess, ok := s.sessions[k]
	if !ok {
		return false
	}
	delete(s.sessions, k)
	if s.clients[sess.client] == sess {
		delete(s.clients, sess.client)
	}
	if n := s.perMAC[sess.client.mac] - 1; n > 0 {
		s.perMAC[sess.client.mac] = n
	} else {
		delete(s.perMAC, sess.client.mac)
	}
	s.ports[port].free(sid)
	return true
}

// PADT builds a PADT frame for session sid of peer on port (RFC 2516 §5.5),
// with a Generic-Error tag carrying message if it is not empty. If the
// session is known with the same peer and tags, its TPIDs and priorities are
// reused; otherwise default TPIDs are used. It returns nil if vlans has more
// than two tags. Sending it does not release the session: call Release.
func (s *Server) PADT(port string, portMAC, peer net.HardwareAddr, vlans []uint16, sid uint16, message string) []byte {
	var eh ether.Header
	if err := eh.SetVLANs(vlans); err != nil {
		return nil
	}
	s.mu.Lock()
	if sess, ok := s.sessions[sessionKey{port: port, sid: sid}]; ok &&
		bytes.Equal(sess.client.mac[:], peer) && sess.client.vlans == eh.VID && sess.client.nvlans == eh.NumVLANs {
		eh = sess.eh
	}
	s.mu.Unlock()
	eh.Dst, eh.Src, eh.EtherType = peer, portMAC, ether.TypePPPoEDiscover
	return AppendPADT(nil, eh, sid, message)
}

// AppendPADT appends a PADT frame with Ethernet header eh to b, padded to
// the minimum frame size. message, if not empty, goes in a Generic-Error tag.
func AppendPADT(b []byte, eh ether.Header, sid uint16, message string) []byte {
	eh.EtherType = ether.TypePPPoEDiscover
	p := Packet{Code: CodePADT, SessionID: sid}
	if message != "" {
		p.Add(TagGenericError, []byte(message))
	}
	start := len(b)
	b = ether.AppendHeader(b, eh)
	return pad(p.Append(b), start)
}

// minFrame is the minimum Ethernet frame length without FCS; shorter
// frames are zero-padded (IEEE 802.3 §3.2.8; veth does not pad).
const minFrame = 60

// replyPos records where a reply starts in its buffer.
type replyPos struct{ frame, pppoe int }

// beginReply appends the reply's Ethernet header (to the requester, with
// its tag stack) and a PPPoE header whose length finishReply fills in.
func beginReply(dst []byte, r *request, portMAC net.HardwareAddr, code Code, sid uint16) ([]byte, replyPos) {
	if dst == nil {
		dst = make([]byte, 0, 128+len(r.hostUniq)+len(r.relay)+len(r.service))
	}
	pos := replyPos{frame: len(dst)}
	eh := r.eh
	eh.Dst, eh.Src = r.eh.Src, portMAC
	b := ether.AppendHeader(dst, eh)
	pos.pppoe = len(b)
	return AppendHeader(b, Header{Code: code, SessionID: sid}), pos
}

// finishReply fills in the PPPoE length and pads the frame, or drops a
// reply that is too big.
func (s *Server) finishReply(b []byte, pos replyPos) []byte {
	n := len(b) - pos.pppoe - HeaderLen
	if n > maxDiscoveryPayload {
		s.drop(DropReplyTooBig)
		return nil
	}
	binary.BigEndian.PutUint16(b[pos.pppoe+4:], uint16(n))
	return pad(b, pos.frame)
}

// pad zero-pads the frame starting at b[start:] to minFrame bytes.
func pad(b []byte, start int) []byte {
	for len(b)-start < minFrame {
		b = append(b, 0)
	}
	return b
}

// appendEcho appends the tags an AC echoes: Host-Uniq and Relay-Session-Id
// (RFC 2516 Appendix A) and PPP-Max-Payload (RFC 4638 §4).
func appendEcho(b []byte, r *request, maxPayload uint16) []byte {
	if r.hasHostUniq {
		b = AppendTag(b, TagHostUniq, r.hostUniq)
	}
	if r.hasRelay {
		b = AppendTag(b, TagRelaySessionID, r.relay)
	}
	if maxPayload != 0 {
		b = binary.BigEndian.AppendUint16(b, uint16(TagPPPMaxPayload))
		b = binary.BigEndian.AppendUint16(b, 2)
		b = binary.BigEndian.AppendUint16(b, maxPayload)
	}
	return b
}

// idSpace allocates session IDs on one port: 1..0xfffe (RFC 2516 §4: 0xffff
// is reserved; 0 means no session), sequentially so that a freed ID is not
// reused at once.
type idSpace struct {
	used [65536 / 64]uint64
	next uint16
	n    int
}

func (p *idSpace) alloc() (uint16, bool) {
	if p.n >= 0xfffe {
		return 0, false
	}
	id := p.next
	for id == 0 || id == 0xffff || p.used[id/64]&(1<<(id%64)) != 0 {
		id++
	}
	p.used[id/64] |= 1 << (id % 64)
	p.next = id + 1
	p.n++
	return id, true
}

func (p *idSpace) free(id uint16) {
	if p.used[id/64]&(1<<(id%64)) != 0 {
		p.used[id/64] &^= 1 << (id % 64)
		p.n--
	}
}

// String is for debugging.
func (k sessionKey) String() string { return fmt.Sprintf("%s/%#04x", k.port, k.sid) }
