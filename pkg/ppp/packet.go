package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PPP protocol numbers (RFC 1661 §2, IANA PPP DLL protocol numbers).
const (
	ProtoIPv4   uint16 = 0x0021
	ProtoIPv6   uint16 = 0x0057
	ProtoIPCP   uint16 = 0x8021
	ProtoIPv6CP uint16 = 0x8057
	ProtoLCP    uint16 = 0xc021
	ProtoPAP    uint16 = 0xc023
	ProtoCHAP   uint16 = 0xc223
)

// Control packet codes (RFC 1661 §5).
const (
	CodeConfigureRequest uint8 = 1
	CodeConfigureAck     uint8 = 2
	CodeConfigureNak     uint8 = 3
	CodeConfigureReject  uint8 = 4
	CodeTerminateRequest uint8 = 5
	CodeTerminateAck     uint8 = 6
	CodeCodeReject       uint8 = 7
	CodeProtocolReject   uint8 = 8  // LCP only
	CodeEchoRequest      uint8 = 9  // LCP only
	CodeEchoReply        uint8 = 10 // LCP only
	CodeDiscardRequest   uint8 = 11 // LCP only
	CodeIdentification   uint8 = 12 // LCP only, RFC 1570
	CodeTimeRemaining    uint8 = 13 // LCP only, RFC 1570
)

// Errors returned by the parsers. They are wrapped with detail.
var (
	ErrShort     = errors.New("ppp: short packet")
	ErrLength    = errors.New("ppp: bad length")
	ErrOption    = errors.New("ppp: malformed option")
	ErrMalformed = errors.New("ppp: malformed packet")
)

// HeaderLen is the length of a control packet header (code, id, length).
const HeaderLen = 4

// A Packet is one control packet of LCP, an NCP, PAP or CHAP: RFC 1661 §5
// and the same header in RFC 1334 §2.2 and RFC 1994 §4. Data aliases the
// buffer it was parsed from.
type Packet struct {
	Code uint8
	ID   uint8
	Data []byte
}

// Parse decodes the control packet at the start of b. rest is whatever
// followed the packet's Length (padding, RFC 1661 §5: "Octets outside the
// range of the Length field are treated as padding and are ignored").
func Parse(b []byte) (p Packet, rest []byte, err error) {
	if len(b) < HeaderLen {
		return Packet{}, nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > len(b) {
		return Packet{}, nil, fmt.Errorf("%w: length %d, have %d", ErrLength, n, len(b))
	}
	return Packet{Code: b[0], ID: b[1], Data: b[HeaderLen:n]}, b[n:], nil
}

// Append appends the encoded packet to b.
func (p Packet) Append(b []byte) []byte {
	b = append(b, p.Code, p.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(HeaderLen+len(p.Data)))
	return append(b, p.Data...)
}

// An Option is one configuration option (RFC 1661 §6). Data aliases the
// packet it was decoded from.
type Option struct {
	Type uint8
	Data []byte
}

// Append appends the encoded option to b.
func (o Option) Append(b []byte) []byte {
	b = append(b, o.Type, uint8(2+len(o.Data)))
	return append(b, o.Data...)
}

// An OptionDecoder walks a list of options with a sticky error, in the
// style of netlink's AttributeDecoder:
//
//	d := NewOptionDecoder(p.Data)
//	for d.Next() {
//		o := d.Option()
//	}
//	if err := d.Err(); err != nil { ... }
type OptionDecoder struct {
	b   []byte
	opt Option
	err error
}

// NewOptionDecoder returns a decoder over the options in b.
func NewOptionDecoder(b []byte) OptionDecoder { return OptionDecoder{b: b} }

// Next advances to the next option. It returns false at the end of the list
// or on the first malformed option.
func (d *OptionDecoder) Next() bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}
	if len(d.b) < 2 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrOption, len(d.b))
		return false
	}
	n := int(d.b[1])
	if n < 2 || n > len(d.b) {
		d.err = fmt.Errorf("%w: type %d length %d, have %d", ErrOption, d.b[0], n, len(d.b))
		return false
	}
	d.opt = Option{Type: d.b[0], Data: d.b[2:n]}
	d.b = d.b[n:]
	return true
}

// Option returns the current option.
func (d *OptionDecoder) Option() Option { return d.opt }

// Err returns the first error met.
func (d *OptionDecoder) Err() error { return d.err }

// ValidateOptions reports whether b is a well-formed option list.
func ValidateOptions(b []byte) error {
	d := NewOptionDecoder(b)
	for d.Next() {
	}
	return d.Err()
}

// ParsePAPRequest decodes the data of a PAP Authenticate-Request
// (RFC 1334 §2.2.1): Peer-ID and Password, each preceded by its length.
// The slices alias data.
func ParsePAPRequest(data []byte) (peerID, password []byte, err error) {
	if len(data) < 1 {
		return nil, nil, fmt.Errorf("%w: pap request", ErrShort)
	}
	n := int(data[0])
	if 1+n+1 > len(data) {
		return nil, nil, fmt.Errorf("%w: pap peer-id length %d", ErrMalformed, n)
	}
	peerID = data[1 : 1+n]
	data = data[1+n:]
	m := int(data[0])
	if 1+m > len(data) {
		return nil, nil, fmt.Errorf("%w: pap password length %d", ErrMalformed, m)
	}
	return peerID, data[1 : 1+m], nil
}

// AppendPAPRequest appends the data of a PAP Authenticate-Request. Peer-ID
// and password longer than 255 bytes are truncated.
func AppendPAPRequest(b []byte, peerID, password string) []byte {
	peerID, password = trunc255(peerID), trunc255(password)
	b = append(b, uint8(len(peerID)))
	b = append(b, peerID...)
	b = append(b, uint8(len(password)))
	return append(b, password...)
}

// ParsePAPMessage decodes the data of a PAP Authenticate-Ack or -Nak
// (RFC 1334 §2.2.2). The message aliases data.
func ParsePAPMessage(data []byte) (msg []byte, err error) {
	if len(data) < 1 {
		return nil, fmt.Errorf("%w: pap ack/nak", ErrShort)
	}
	n := int(data[0])
	if 1+n > len(data) {
		return nil, fmt.Errorf("%w: pap message length %d", ErrMalformed, n)
	}
	return data[1 : 1+n], nil
}

// AppendPAPMessage appends the data of a PAP Authenticate-Ack or -Nak.
func AppendPAPMessage(b []byte, msg string) []byte {
	msg = trunc255(msg)
	b = append(b, uint8(len(msg)))
	return append(b, msg...)
}

// ParseCHAP decodes the data of a CHAP Challenge or Response (RFC 1994
// §4.1): Value-Size, Value, Name. The slices alias data.
func ParseCHAP(data []byte) (value, name []byte, err error) {
	if len(data) < 1 {
		return nil, nil, fmt.Errorf("%w: chap", ErrShort)
	}
	n := int(data[0])
	if n == 0 || 1+n > len(data) {
		return nil, nil, fmt.Errorf("%w: chap value size %d", ErrMalformed, n)
	}
	return data[1 : 1+n], data[1+n:], nil
}

// AppendCHAP appends the data of a CHAP Challenge or Response.
func AppendCHAP(b []byte, value []byte, name string) []byte {
	b = append(b, uint8(len(value)))
	b = append(b, value...)
	return append(b, name...)
}

func trunc255(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}
