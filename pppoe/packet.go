package pppoe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned (wrapped) by the codec.
var (
	ErrShort      = errors.New("pppoe: short packet")
	ErrVersion    = errors.New("pppoe: bad version or type")
	ErrLength     = errors.New("pppoe: bad length")
	ErrTagLength  = errors.New("pppoe: bad tag length")
	ErrMissingTag = errors.New("pppoe: missing mandatory tag")
	ErrExtraTag   = errors.New("pppoe: duplicate tag")
	ErrSessionID  = errors.New("pppoe: bad session id")
	ErrCode       = errors.New("pppoe: unknown code")
)

// A Code is the PPPoE CODE field (RFC 2516 §4).
type Code uint8

// PPPoE codes (RFC 2516 §4, §5).
const (
	CodeSession Code = 0x00 // session stage (EtherType 0x8864)
	CodePADO    Code = 0x07
	CodePADI    Code = 0x09
	CodePADR    Code = 0x19
	CodePADS    Code = 0x65
	CodePADT    Code = 0xa7
)

func (c Code) String() string {
	switch c {
	case CodeSession:
		return "Session"
	case CodePADO:
		return "PADO"
	case CodePADI:
		return "PADI"
	case CodePADR:
		return "PADR"
	case CodePADS:
		return "PADS"
	case CodePADT:
		return "PADT"
	}
	return fmt.Sprintf("Code(%#02x)", uint8(c))
}

// HeaderLen is the length of the PPPoE header (RFC 2516 §4).
const HeaderLen = 6

// verType is VER=1, TYPE=1 (RFC 2516 §4).
const verType = 0x11

// A Header is the fixed PPPoE header.
type Header struct {
	Code      Code
	SessionID uint16
	Length    uint16 // payload length
}

// ParseHeader decodes a PPPoE header and returns the payload (exactly
// Length bytes, aliasing b) and rest, the bytes after it (Ethernet padding).
// It never allocates; use it on the session (0x8864) hot path.
func ParseHeader(b []byte) (h Header, payload, rest []byte, err error) {
	if len(b) < HeaderLen {
		return Header{}, nil, nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	if b[0] != verType {
		return Header{}, nil, nil, fmt.Errorf("%w: %#02x", ErrVersion, b[0])
	}
	h.Code = Code(b[1])
	h.SessionID = binary.BigEndian.Uint16(b[2:])
	h.Length = binary.BigEndian.Uint16(b[4:])
	if int(h.Length) > len(b)-HeaderLen {
		return Header{}, nil, nil, fmt.Errorf("%w: length %d, %d bytes left", ErrLength, h.Length, len(b)-HeaderLen)
	}
	end := HeaderLen + int(h.Length)
	return h, b[HeaderLen:end:end], b[end:], nil
}

// AppendHeader appends a PPPoE header to b.
func AppendHeader(b []byte, h Header) []byte {
	return append(b, verType, byte(h.Code), byte(h.SessionID>>8), byte(h.SessionID),
		byte(h.Length>>8), byte(h.Length))
}

// A Packet is a PPPoE discovery packet (EtherType 0x8863).
type Packet struct {
	Code      Code
	SessionID uint16
	Tags      []Tag // wire order; values alias the parsed buffer
}

// Parse decodes a discovery packet (the bytes after the Ethernet header).
// rest holds any bytes after the PPPoE payload (Ethernet padding). Parse
// checks framing and tag lengths only; Validate checks the per-code rules.
// A tag list ends at the end of the payload or at End-Of-List, whichever
// comes first; End-Of-List is kept in Tags and anything after it ignored.
func Parse(b []byte) (p Packet, rest []byte, err error) {
	h, payload, rest, err := ParseHeader(b)
	if err != nil {
		return Packet{}, nil, err
	}
	p.Code, p.SessionID = h.Code, h.SessionID
	d := NewTagDecoder(payload)
	for d.Next() {
		p.Tags = append(p.Tags, Tag{Type: d.Type(), Value: d.Value()})
	}
	if err := d.Err(); err != nil {
		return Packet{}, nil, err
	}
	return p, rest, nil
}

// Len is the length of the encoded tag list (the PPPoE LENGTH field).
func (p *Packet) Len() int {
	n := 0
	for _, t := range p.Tags {
		n += tagHeaderLen + len(t.Value)
	}
	return n
}

// Append appends the encoding of p (PPPoE header and tags) to b. Tag values
// longer than 65535 bytes are truncated; keep the packet under the link MTU.
func (p *Packet) Append(b []byte) []byte {
	n := min(p.Len(), 0xffff)
	b = AppendHeader(b, Header{Code: p.Code, SessionID: p.SessionID, Length: uint16(n)})
	for _, t := range p.Tags {
		b = AppendTag(b, t.Type, t.Value)
	}
	return b
}

// Tag returns the value of the first tag of type t.
func (p *Packet) Tag(t TagType) (value []byte, ok bool) {
	for _, tg := range p.Tags {
		if tg.Type == t {
			return tg.Value, true
		}
	}
	return nil, false
}

// Count returns the number of tags of type t.
func (p *Packet) Count(t TagType) int {
	n := 0
	for _, tg := range p.Tags {
		if tg.Type == t {
			n++
		}
	}
	return n
}

// Add appends a tag. The value is not copied.
func (p *Packet) Add(t TagType, value []byte) { p.Tags = append(p.Tags, Tag{Type: t, Value: value}) }

// ServiceName returns the first Service-Name value.
func (p *Packet) ServiceName() (string, bool) { return p.stringTag(TagServiceName) }

// ACName returns the AC-Name value.
func (p *Packet) ACName() (string, bool) { return p.stringTag(TagACName) }

// HostUniq returns the Host-Uniq value (aliased).
func (p *Packet) HostUniq() []byte { v, _ := p.Tag(TagHostUniq); return v }

// Cookie returns the AC-Cookie value (aliased).
func (p *Packet) Cookie() []byte { v, _ := p.Tag(TagACCookie); return v }

// RelaySessionID returns the Relay-Session-Id value (aliased).
func (p *Packet) RelaySessionID() []byte { v, _ := p.Tag(TagRelaySessionID); return v }

// MaxPayload returns the PPP-Max-Payload value (RFC 4638), 0 if absent.
func (p *Packet) MaxPayload() uint16 {
	v, ok := p.Tag(TagPPPMaxPayload)
	if !ok || len(v) != 2 {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

// Error returns the first error tag (Service-Name-Error, AC-System-Error or
// Generic-Error) and its UTF-8 text.
func (p *Packet) Error() (TagType, string, bool) {
	for _, tg := range p.Tags {
		switch tg.Type {
		case TagServiceNameError, TagACSystemError, TagGenericError:
			return tg.Type, string(tg.Value), true
		}
	}
	return 0, "", false
}

func (p *Packet) stringTag(t TagType) (string, bool) {
	v, ok := p.Tag(t)
	return string(v), ok
}

// spec is the per-code rule table (RFC 2516 §5).
type spec struct {
	zeroSID     bool // SESSION_ID must be 0x0000
	nonzeroSID  bool // SESSION_ID must not be 0x0000
	oneService  bool // exactly one Service-Name
	anyService  bool // at least one Service-Name
	oneACName   bool // exactly one AC-Name
	errorZeroID bool // a PADS with an error tag carries SESSION_ID 0
}

var specs = map[Code]spec{
	CodePADI: {zeroSID: true, oneService: true},                  // RFC 2516 §5.1
	CodePADO: {zeroSID: true, anyService: true, oneACName: true}, // RFC 2516 §5.2
	CodePADR: {zeroSID: true, oneService: true},                  // RFC 2516 §5.3
	CodePADS: {oneService: true, errorZeroID: true},              // RFC 2516 §5.4
	CodePADT: {nonzeroSID: true},                                 // RFC 2516 §5.5
}

// Validate checks p against the mandatory-tag and session-ID rules of its
// code (RFC 2516 §5). A PADS that carries an error tag may omit Service-Name
// and must have SESSION_ID 0.
func (p *Packet) Validate() error {
	s, ok := specs[p.Code]
	if !ok {
		return fmt.Errorf("%w: %v", ErrCode, p.Code)
	}
	_, _, isErr := p.Error()
	if err := p.validateSID(s, isErr); err != nil {
		return err
	}
	return p.validateTags(s, isErr)
}

func (p *Packet) validateSID(s spec, isErr bool) error {
	switch {
	case s.zeroSID && p.SessionID != 0:
		return fmt.Errorf("%w: %v with session id %#04x", ErrSessionID, p.Code, p.SessionID)
	case s.nonzeroSID && p.SessionID == 0:
		return fmt.Errorf("%w: %v with session id 0", ErrSessionID, p.Code)
	case s.errorZeroID && isErr && p.SessionID != 0:
		return fmt.Errorf("%w: error %v with session id %#04x", ErrSessionID, p.Code, p.SessionID)
	case s.errorZeroID && !isErr && p.SessionID == 0:
		return fmt.Errorf("%w: %v with session id 0", ErrSessionID, p.Code)
	}
	return nil
}

func (p *Packet) validateTags(s spec, isErr bool) error {
	ns := p.Count(TagServiceName)
	switch {
	case s.oneService && ns == 0 && !(s.errorZeroID && isErr):
		return fmt.Errorf("%w: %v without Service-Name", ErrMissingTag, p.Code)
	case s.oneService && ns > 1:
		return fmt.Errorf("%w: %v with %d Service-Name tags", ErrExtraTag, p.Code, ns)
	case s.anyService && ns == 0:
		return fmt.Errorf("%w: %v without Service-Name", ErrMissingTag, p.Code)
	}
	if s.oneACName {
		switch n := p.Count(TagACName); {
		case n == 0:
			return fmt.Errorf("%w: %v without AC-Name", ErrMissingTag, p.Code)
		case n > 1:
			return fmt.Errorf("%w: %v with %d AC-Name tags", ErrExtraTag, p.Code, n)
		}
	}
	return nil
}
