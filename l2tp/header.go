package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by the codec. They are wrapped with context; test them
// with errors.Is.
var (
	ErrShort      = errors.New("l2tp: short packet")
	ErrVersion    = errors.New("l2tp: bad version")
	ErrLength     = errors.New("l2tp: bad length")
	ErrFlags      = errors.New("l2tp: bad header flags")
	ErrAVPLength  = errors.New("l2tp: bad AVP length")
	ErrHidden     = errors.New("l2tp: cannot unhide AVP")
	ErrMessage    = errors.New("l2tp: malformed control message")
	ErrMandatory  = errors.New("l2tp: unknown mandatory AVP")
	ErrMissingAVP = errors.New("l2tp: missing mandatory AVP")
)

// Header flag bits (RFC 2661 §3.1).
const (
	flagType     = 0x8000 // T: control message
	flagLength   = 0x4000 // L: length field present
	flagSequence = 0x0800 // S: Ns and Nr present
	flagOffset   = 0x0200 // O: offset size present
	flagPriority = 0x0100 // P: priority (data only)
	versionMask  = 0x000f

	// Version is the only L2TP version this package speaks.
	Version = 2
)

// A Header is an L2TPv2 header (RFC 2661 §3.1).
//
//	 0                   1                   2                   3
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//	|           Tunnel ID           |           Session ID          |
//	|             Ns (opt)          |             Nr (opt)          |
//	|      Offset Size (opt)        |    Offset pad... (opt)
//
// Control messages always have T, L and S set and O, P clear.
type Header struct {
	Control   bool // T bit
	HasLength bool // L bit
	HasSeq    bool // S bit: Ns and Nr are meaningful
	HasOffset bool // O bit
	Priority  bool // P bit
	// Length is the whole message length as read from the wire; on Append it
	// is computed.
	Length     uint16
	TunnelID   uint16
	SessionID  uint16
	Ns, Nr     uint16
	OffsetSize uint16
}

// Len is the encoded size of h, including any offset padding.
func (h *Header) Len() int {
	n := 6
	if h.HasLength {
		n += 2
	}
	if h.HasSeq {
		n += 4
	}
	if h.HasOffset {
		n += 2 + int(h.OffsetSize)
	}
	return n
}

// ParseHeader decodes an L2TPv2 header from b, which is one whole UDP
// payload. It returns the header and the payload that follows it (after
// any offset padding), trimmed to the Length field when there is one. The
// payload aliases b. ParseHeader does not allocate.
func ParseHeader(b []byte) (Header, []byte, error) {
	var h Header
	p, err := h.Decode(b)
	return h, p, err
}

// Decode is ParseHeader into a Header the caller owns (hot path).
func (h *Header) Decode(b []byte) ([]byte, error) {
	if len(b) < 6 {
		return nil, ErrShort
	}
	f := binary.BigEndian.Uint16(b)
	if v := f & versionMask; v != Version {
		return nil, fmt.Errorf("%w %d", ErrVersion, v)
	}
	*h = Header{
		Control:   f&flagType != 0,
		HasLength: f&flagLength != 0,
		HasSeq:    f&flagSequence != 0,
		HasOffset: f&flagOffset != 0,
		Priority:  f&flagPriority != 0,
	}
	// RFC 2661 §3.1: control messages MUST have L and S set, O and P clear.
	if h.Control && (!h.HasLength || !h.HasSeq || h.HasOffset || h.Priority) {
		return nil, fmt.Errorf("%w: control message flags %#04x", ErrFlags, f)
	}
	off := 2
	if h.HasLength {
		if len(b) < off+2 {
			return nil, ErrShort
		}
		h.Length = binary.BigEndian.Uint16(b[off:])
		off += 2
	}
	if len(b) < off+4 {
		return nil, ErrShort
	}
	h.TunnelID = binary.BigEndian.Uint16(b[off:])
	h.SessionID = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if h.HasSeq {
		if len(b) < off+4 {
			return nil, ErrShort
		}
		h.Ns = binary.BigEndian.Uint16(b[off:])
		h.Nr = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	if h.HasOffset {
		if len(b) < off+2 {
			return nil, ErrShort
		}
		h.OffsetSize = binary.BigEndian.Uint16(b[off:])
		off += 2 + int(h.OffsetSize)
	}
	end := len(b)
	if h.HasLength {
		if int(h.Length) > len(b) {
			return nil, fmt.Errorf("%w: length %d > %d bytes", ErrLength, h.Length, len(b))
		}
		end = int(h.Length)
	}
	if off > end {
		return nil, fmt.Errorf("%w: header %d > length %d", ErrLength, off, end)
	}
	return b[off:end], nil
}

// Append encodes h in front of a payload of payloadLen bytes and appends it
// to b. When HasLength is set the Length field is computed from payloadLen;
// offset padding is zeros.
func (h *Header) Append(b []byte, payloadLen int) []byte {
	f := uint16(Version)
	if h.Control {
		f |= flagType
	}
	if h.HasLength {
		f |= flagLength
	}
	if h.HasSeq {
		f |= flagSequence
	}
	if h.HasOffset {
		f |= flagOffset
	}
	if h.Priority {
		f |= flagPriority
	}
	b = binary.BigEndian.AppendUint16(b, f)
	if h.HasLength {
		b = binary.BigEndian.AppendUint16(b, uint16(h.Len()+payloadLen))
	}
	b = binary.BigEndian.AppendUint16(b, h.TunnelID)
	b = binary.BigEndian.AppendUint16(b, h.SessionID)
	if h.HasSeq {
		b = binary.BigEndian.AppendUint16(b, h.Ns)
		b = binary.BigEndian.AppendUint16(b, h.Nr)
	}
	if h.HasOffset {
		b = binary.BigEndian.AppendUint16(b, h.OffsetSize)
		for range h.OffsetSize {
			b = append(b, 0)
		}
	}
	return b
}

// seqLess reports whether a comes before b in 16-bit serial arithmetic
// (RFC 2661 §5.8: a value within 32767 below is "older").
func seqLess(a, b uint16) bool { return a != b && b-a < 0x8000 }
