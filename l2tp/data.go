package l2tp

import (
	"encoding/binary"
	"fmt"
)

// PPP protocol numbers the data path tells apart (RFC 1332, RFC 5072).
const (
	ProtoIPv4 uint16 = 0x0021
	ProtoIPv6 uint16 = 0x0057
	ProtoLCP  uint16 = 0xc021
)

// ParsePPP splits the PPP frame carried in an L2TP data message payload
// (RFC 2661 §5.4) into protocol and information field. The HDLC address
// and control bytes FF 03 are optional (some LACs, l2tpns among them, strip
// them); a protocol field compressed to one byte (odd first byte, RFC 1661
// §6.5) is accepted. info aliases b. ParsePPP does not allocate.
func ParsePPP(b []byte) (proto uint16, info []byte, err error) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty PPP frame", ErrShort)
	}
	if b[0]&1 == 1 { // PFC
		return uint16(b[0]), b[1:], nil
	}
	if len(b) < 2 {
		return 0, nil, fmt.Errorf("%w: PPP protocol field", ErrShort)
	}
	proto = binary.BigEndian.Uint16(b)
	if proto&1 == 0 {
		return 0, nil, fmt.Errorf("%w: PPP protocol %#04x is even", ErrFlags, proto)
	}
	return proto, b[2:], nil
}

// AppendData appends an L2TP data message carrying one PPP frame: the
// header h (Control must be false; HasSeq and Ns set by the caller when the
// session is sequenced), then FF 03, the 2-byte protocol and payload.
func AppendData(b []byte, h *Header, proto uint16, payload []byte) []byte {
	b = h.Append(b, 4+len(payload))
	b = append(b, 0xff, 0x03, byte(proto>>8), byte(proto))
	return append(b, payload...)
}
