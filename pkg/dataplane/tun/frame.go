package tun

import (
	"encoding/binary"
	"errors"
)

// EtherTypes and PPP protocols the data path handles.
const (
	etherTypeDiscovery = 0x8863 // RFC 2516 §4
	etherTypeSession   = 0x8864 // RFC 2516 §4
	tpidDot1Q          = 0x8100
	tpidDot1AD         = 0x88a8
	tpidQinQOld        = 0x9100

	// ProtoIPv4 and ProtoIPv6 are the PPP protocols forwarded to the TUN
	// (RFC 1332, RFC 5072); every other protocol goes to Control.
	ProtoIPv4 = 0x0021
	ProtoIPv6 = 0x0057

	maxTags   = 2
	ethHdrLen = 14
	pppoeLen  = 6 // ver/type, code, session ID, length (RFC 2516 §4)
	// maxHdr is the longest header encap writes: Ethernet, two tags,
	// PPPoE and a 2-byte PPP protocol.
	maxHdr = ethHdrLen + 4*maxTags + pppoeLen + 2
)

// Errors of the frame parser; each maps to a drop reason.
var (
	errShort      = errors.New("tun: short frame")
	errTooManyTag = errors.New("tun: more than two VLAN tags")
	errNotPPPoE   = errors.New("tun: not a PPPoE frame")
	errVersion    = errors.New("tun: bad PPPoE version/type")
	errCode       = errors.New("tun: session frame with non-zero code")
	errLength     = errors.New("tun: PPPoE length exceeds frame")
	errProto      = errors.New("tun: bad PPP protocol field")
)

// ethInfo is what parseEth learns from an Ethernet header.
type ethInfo struct {
	EtherType uint16
	Off       int // offset of the payload after the last tag
	NVLAN     int
	VLANs     [maxTags]uint16 // VIDs, outer first
}

func isTPID(et uint16) bool { return et == tpidDot1Q || et == tpidDot1AD || et == tpidQinQOld }

// parseEth decodes the Ethernet header and up to two VLAN tags of b.
func parseEth(b []byte, e *ethInfo) error {
	if len(b) < ethHdrLen {
		return errShort
	}
	pos := 12
	e.NVLAN = 0
	for {
		et := binary.BigEndian.Uint16(b[pos:])
		if !isTPID(et) {
			e.EtherType = et
			e.Off = pos + 2
			return nil
		}
		if e.NVLAN == maxTags {
			return errTooManyTag
		}
		if len(b) < pos+6 {
			return errShort
		}
		e.VLANs[e.NVLAN] = binary.BigEndian.Uint16(b[pos+2:]) & 0x0fff
		e.NVLAN++
		pos += 4
	}
}

// sessionFrame is a decoded PPPoE session frame. Payload aliases the frame.
type sessionFrame struct {
	Eth       ethInfo
	SessionID uint16
	Proto     uint16
	Payload   []byte
}

// parseSession decodes a PPPoE session frame (RFC 2516 §5.4) into f, which
// the caller owns; it does not allocate. Ethernet padding after the PPPoE
// length is ignored. A 1-byte (PFC-compressed, RFC 1661 §6.5) protocol is
// accepted.
func parseSession(b []byte, f *sessionFrame) error {
	if err := parseEth(b, &f.Eth); err != nil {
		return err
	}
	if f.Eth.EtherType != etherTypeSession {
		return errNotPPPoE
	}
	p := b[f.Eth.Off:]
	if len(p) < pppoeLen {
		return errShort
	}
	if p[0] != 0x11 {
		return errVersion
	}
	if p[1] != 0 {
		return errCode
	}
	f.SessionID = binary.BigEndian.Uint16(p[2:])
	l := int(binary.BigEndian.Uint16(p[4:]))
	p = p[pppoeLen:]
	if l > len(p) {
		return errLength
	}
	p = p[:l]
	if len(p) < 1 {
		return errProto
	}
	if p[0]&1 == 1 { // compressed protocol field
		f.Proto = uint16(p[0])
		f.Payload = p[1:]
		return nil
	}
	if len(p) < 2 || p[1]&1 == 0 {
		return errProto
	}
	f.Proto = binary.BigEndian.Uint16(p)
	f.Payload = p[2:]
	return nil
}

// sessionHeader returns the header template of a session's frames:
// Ethernet (dst, src, tags), PPPoE session header with length 0 and a PPP
// protocol of 0. tpids[i] is the TPID of tag i.
func sessionHeader(dst, src []byte, vlans, tpids []uint16, sid uint16) []byte {
	h := make([]byte, 0, maxHdr)
	h = append(h, dst[:6]...)
	h = append(h, src[:6]...)
	for i, v := range vlans {
		h = binary.BigEndian.AppendUint16(h, tpids[i])
		h = binary.BigEndian.AppendUint16(h, v)
	}
	h = binary.BigEndian.AppendUint16(h, etherTypeSession)
	h = append(h, 0x11, 0x00)
	h = binary.BigEndian.AppendUint16(h, sid)
	return append(h, 0, 0, 0, 0) // length, protocol
}

// defaultTPIDs is the tag protocols used when the caller gives none:
// 0x8100 for a single tag, 0x88a8 outer + 0x8100 inner for two.
func defaultTPIDs(n int) []uint16 {
	switch n {
	case 1:
		return []uint16{tpidDot1Q}
	case 2:
		return []uint16{tpidDot1AD, tpidDot1Q}
	}
	return nil
}

// encap writes hdr in front of the n payload bytes at buf[off:], patches
// the PPPoE length and PPP protocol, and returns the whole frame. off must
// be at least len(hdr). It does not allocate.
func encap(buf []byte, off, n int, hdr []byte, proto uint16) []byte {
	start := off - len(hdr)
	h := buf[start:off]
	copy(h, hdr)
	binary.BigEndian.PutUint16(h[len(h)-4:], uint16(n+2))
	binary.BigEndian.PutUint16(h[len(h)-2:], proto)
	return buf[start : off+n]
}

// ipProto maps an IP packet to its PPP protocol by the version nibble;
// 0 means neither IPv4 nor IPv6.
func ipProto(pkt []byte) uint16 {
	if len(pkt) == 0 {
		return 0
	}
	switch pkt[0] >> 4 {
	case 4:
		return ProtoIPv4
	case 6:
		return ProtoIPv6
	}
	return 0
}

// demuxKey identifies a PPPoE session on a port.
type demuxKey struct {
	mac   [6]byte
	nvlan uint8
	vlans [maxTags]uint16
	sid   uint16
}

func keyOf(peer []byte, vlans []uint16, sid uint16) demuxKey {
	k := demuxKey{nvlan: uint8(len(vlans)), sid: sid}
	copy(k.mac[:], peer)
	copy(k.vlans[:], vlans)
	return k
}

func frameKey(b []byte, f *sessionFrame) demuxKey {
	k := demuxKey{nvlan: uint8(f.Eth.NVLAN), vlans: f.Eth.VLANs, sid: f.SessionID}
	copy(k.mac[:], b[6:12])
	for i := f.Eth.NVLAN; i < maxTags; i++ {
		k.vlans[i] = 0
	}
	return k
}
