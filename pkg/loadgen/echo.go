package loadgen

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// ICMP types (RFC 792).
const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
)

// echoReply answers an IPv4 ICMP echo request addressed to local (RFC 792):
// it returns the reply packet (a new slice; p is not modified) and true, or
// nil and false when p is anything else. IP options are dropped from the
// reply; fragments are not answered.
func echoReply(p []byte, local netip.Addr) ([]byte, bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 1 || !local.Is4() {
		return nil, false
	}
	ihl := int(p[0]&15) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	if ihl < 20 || total < ihl+8 || total > len(p) {
		return nil, false
	}
	if binary.BigEndian.Uint16(p[6:])&0x3fff != 0 { // MF set or non-zero offset
		return nil, false
	}
	if netip.AddrFrom4([4]byte(p[16:20])) != local {
		return nil, false
	}
	icmp := p[ihl:total]
	if icmp[0] != icmpEchoRequest || icmp[1] != 0 || checksum(icmp) != 0 {
		return nil, false
	}
	r := make([]byte, 20+len(icmp))
	r[0] = 0x45
	binary.BigEndian.PutUint16(r[2:], uint16(len(r)))
	copy(r[4:6], p[4:6]) // identification
	r[8] = 64
	r[9] = 1
	copy(r[12:16], p[16:20])
	copy(r[16:20], p[12:16])
	binary.BigEndian.PutUint16(r[10:], checksum(r[:20]))
	copy(r[20:], icmp)
	r[20] = icmpEchoReply
	r[22], r[23] = 0, 0
	binary.BigEndian.PutUint16(r[22:], checksum(r[20:]))
	return r, true
}

// echoReplySeq returns the sequence number of an ICMP echo reply with the
// given identifier, and whether p is one.
func echoReplySeq(p []byte, id uint16) (uint16, bool) {
	if !isEchoReply(p, id) {
		return 0, false
	}
	ihl := int(p[0]&15) * 4
	return binary.BigEndian.Uint16(p[ihl+6:]), true
}

// pingStats aggregates the pings sent while sessions are held
// (Config.PingInterval), bucketed by the second (since the run started) in
// which each request was sent, so that a short disturbance shows up as a
// bad second rather than being averaged away.
type pingStats struct {
	mu   sync.Mutex
	sent map[int]int // by second
	lost map[int]int
}

func (ps *pingStats) add(sent, lost map[int]int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.sent == nil {
		ps.sent, ps.lost = map[int]int{}, map[int]int{}
	}
	for k, v := range sent {
		ps.sent[k] += v
	}
	for k, v := range lost {
		ps.lost[k] += v
	}
}

// summary returns the totals and the worst second (most lost; the earlier
// one on ties).
func (ps *pingStats) summary() (sent, lost, worstLost, worstSent int, worstAt time.Duration) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	worst := -1
	for k, v := range ps.sent {
		sent += v
		l := ps.lost[k]
		lost += l
		if l > worstLost || (l == worstLost && l > 0 && k < worst) {
			worst, worstLost, worstSent = k, l, v
		}
	}
	if worst >= 0 {
		worstAt = time.Duration(worst) * time.Second
	}
	return
}

// holdPinger is one subscriber's pinger during hold; it belongs to the
// subscriber's goroutine.
type holdPinger struct {
	id      uint16
	seq     uint16
	base    time.Time
	pending map[uint16]int // seq -> second sent
	sent    map[int]int
}

func newHoldPinger(id, firstSeq uint16, base time.Time) *holdPinger {
	return &holdPinger{id: id, seq: firstSeq, base: base, pending: map[uint16]int{}, sent: map[int]int{}}
}

// next returns the sequence number of the next request and records it as
// sent at now.
func (h *holdPinger) next(now time.Time) uint16 {
	h.seq++
	sec := int(now.Sub(h.base) / time.Second)
	h.pending[h.seq] = sec
	h.sent[sec]++
	return h.seq
}

// reply records an IPv4 packet if it is a reply to one of our requests.
func (h *holdPinger) reply(p []byte) bool {
	seq, ok := echoReplySeq(p, h.id)
	if !ok {
		return false
	}
	if _, ok := h.pending[seq]; !ok {
		return false
	}
	delete(h.pending, seq)
	return true
}

// lost returns the unanswered requests by the second they were sent.
func (h *holdPinger) lost() map[int]int {
	m := map[int]int{}
	for _, sec := range h.pending {
		m[sec]++
	}
	return m
}
