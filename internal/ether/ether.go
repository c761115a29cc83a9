// Package ether parses and builds Ethernet II headers with up to two VLAN
// tags (IEEE 802.1Q, 802.1ad QinQ).
//
// It is pure: no I/O, no allocation on the parse path. Decoded MAC addresses
// alias the input frame; callers copy what they keep.
package ether

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// EtherTypes and TPIDs used by bngbox.
const (
	TypeIPv4          uint16 = 0x0800
	TypeIPv6          uint16 = 0x86dd
	TypePPPoEDiscover uint16 = 0x8863
	TypePPPoESession  uint16 = 0x8864

	TPID8021Q  uint16 = 0x8100 // C-tag (or S-tag on many access networks)
	TPID8021AD uint16 = 0x88a8 // S-tag, IEEE 802.1ad
	TPIDQinQ   uint16 = 0x9100 // legacy pre-standard S-tag
)

// MaxVLANs is the deepest tag stack Parse accepts.
const MaxVLANs = 2

// HeaderLen is the length of an untagged header; each tag adds TagLen.
const (
	HeaderLen = 14
	TagLen    = 4
)

// Errors returned (wrapped) by Parse.
var (
	ErrShort       = errors.New("ether: short frame")
	ErrTooManyTags = errors.New("ether: too many VLAN tags")
	ErrBadTag      = errors.New("ether: bad inner TPID")
)

// A Header is a decoded Ethernet header.
//
// VLAN tags are kept in fixed arrays so that Parse does not allocate: the
// first NumVLANs entries of VID, TPID and PCP are valid, outer tag first.
type Header struct {
	Dst, Src  net.HardwareAddr // alias the frame after Parse
	NumVLANs  int
	VID       [MaxVLANs]uint16 // 12-bit VLAN IDs, outer first
	TPID      [MaxVLANs]uint16 // 0 means the default (see AppendHeader)
	PCP       [MaxVLANs]uint8  // 802.1p priority of each tag
	DEI       [MaxVLANs]bool   // drop eligible indicator of each tag
	EtherType uint16
}

// VLANs returns the VLAN IDs, outer first. The slice aliases h.
func (h *Header) VLANs() []uint16 { return h.VID[:h.NumVLANs] }

// SetVLANs sets the tag stack from VLAN IDs (outer first) with default TPIDs
// and PCP 0. It returns ErrTooManyTags if len(vids) > MaxVLANs.
func (h *Header) SetVLANs(vids []uint16) error {
	if len(vids) > MaxVLANs {
		return ErrTooManyTags
	}
	h.NumVLANs = len(vids)
	h.VID, h.TPID, h.PCP, h.DEI = [MaxVLANs]uint16{}, [MaxVLANs]uint16{}, [MaxVLANs]uint8{}, [MaxVLANs]bool{}
	for i, v := range vids {
		h.VID[i] = v & 0x0fff
	}
	return nil
}

// Len is the encoded length of h.
func (h *Header) Len() int { return HeaderLen + TagLen*h.NumVLANs }

func isOuterTPID(t uint16) bool { return t == TPID8021Q || t == TPID8021AD || t == TPIDQinQ }

// Parse decodes the Ethernet header at the start of frame and returns the
// offset of the payload. Outer tags may use TPID 0x8100, 0x88a8 or 0x9100;
// an inner tag must use 0x8100. A third tag is an error. The EtherType is
// returned as found (values below 0x0600 are 802.3 lengths; the caller
// decides). Parse never allocates.
func Parse(frame []byte) (h Header, payloadOffset int, err error) {
	if len(frame) < HeaderLen {
		return Header{}, 0, fmt.Errorf("%w: %d bytes", ErrShort, len(frame))
	}
	h.Dst = net.HardwareAddr(frame[0:6:6])
	h.Src = net.HardwareAddr(frame[6:12:12])
	off := 12
	et := binary.BigEndian.Uint16(frame[off:])
	for isOuterTPID(et) {
		if h.NumVLANs == MaxVLANs {
			return Header{}, 0, ErrTooManyTags
		}
		if h.NumVLANs == 1 && et != TPID8021Q {
			return Header{}, 0, fmt.Errorf("%w: %#04x", ErrBadTag, et)
		}
		if len(frame) < off+TagLen+2 {
			return Header{}, 0, fmt.Errorf("%w: truncated VLAN tag", ErrShort)
		}
		tci := binary.BigEndian.Uint16(frame[off+2:])
		h.TPID[h.NumVLANs] = et
		h.VID[h.NumVLANs] = tci & 0x0fff
		h.PCP[h.NumVLANs] = uint8(tci >> 13)
		h.DEI[h.NumVLANs] = tci&0x1000 != 0
		h.NumVLANs++
		off += TagLen
		et = binary.BigEndian.Uint16(frame[off:])
	}
	h.EtherType = et
	return h, off + 2, nil
}

// AppendHeader appends the encoding of h to b. Dst and Src must be 6 bytes
// (shorter values are zero-padded, longer ones truncated). A zero TPID
// means 0x8100 for a single tag or the inner tag, and 0x88a8 for the outer
// tag of a double-tagged frame. At most MaxVLANs tags are written.
func AppendHeader(b []byte, h Header) []byte {
	b = appendMAC(b, h.Dst)
	b = appendMAC(b, h.Src)
	n := min(max(h.NumVLANs, 0), MaxVLANs)
	for i := range n {
		tpid := h.TPID[i]
		if tpid == 0 {
			tpid = TPID8021Q
			if n == 2 && i == 0 {
				tpid = TPID8021AD
			}
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		tci := uint16(h.PCP[i]&7)<<13 | h.VID[i]&0x0fff
		if h.DEI[i] {
			tci |= 0x1000
		}
		b = binary.BigEndian.AppendUint16(b, tci)
	}
	return binary.BigEndian.AppendUint16(b, h.EtherType)
}

func appendMAC(b []byte, m net.HardwareAddr) []byte {
	var a [6]byte
	copy(a[:], m)
	return append(b, a[:]...)
}
