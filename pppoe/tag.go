package pppoe

import (
	"encoding/binary"
	"fmt"
)

// A TagType is a PPPoE TAG_TYPE (RFC 2516 Appendix A).
type TagType uint16

// Tag types (RFC 2516 Appendix A; PPP-Max-Payload from RFC 4638).
const (
	TagEndOfList        TagType = 0x0000
	TagServiceName      TagType = 0x0101
	TagACName           TagType = 0x0102
	TagHostUniq         TagType = 0x0103
	TagACCookie         TagType = 0x0104
	TagVendorSpecific   TagType = 0x0105
	TagRelaySessionID   TagType = 0x0110
	TagPPPMaxPayload    TagType = 0x0120
	TagServiceNameError TagType = 0x0201
	TagACSystemError    TagType = 0x0202
	TagGenericError     TagType = 0x0203
)

func (t TagType) String() string {
	switch t {
	case TagEndOfList:
		return "End-Of-List"
	case TagServiceName:
		return "Service-Name"
	case TagACName:
		return "AC-Name"
	case TagHostUniq:
		return "Host-Uniq"
	case TagACCookie:
		return "AC-Cookie"
	case TagVendorSpecific:
		return "Vendor-Specific"
	case TagRelaySessionID:
		return "Relay-Session-Id"
	case TagPPPMaxPayload:
		return "PPP-Max-Payload"
	case TagServiceNameError:
		return "Service-Name-Error"
	case TagACSystemError:
		return "AC-System-Error"
	case TagGenericError:
		return "Generic-Error"
	}
	return fmt.Sprintf("Tag(%#04x)", uint16(t))
}

const tagHeaderLen = 4

// A Tag is one TLV of a discovery packet. Value aliases the parsed buffer.
type Tag struct {
	Type  TagType
	Value []byte
}

// AppendTag appends one tag to b.
func AppendTag(b []byte, t TagType, value []byte) []byte {
	n := min(len(value), 0xffff)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, value[:n]...)
}

// AppendStringTag appends one tag with a string value to b.
func AppendStringTag(b []byte, t TagType, value string) []byte {
	n := min(len(value), 0xffff)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, value[:n]...)
}

// A TagDecoder walks a tag list without allocating. Use it as
//
//	d := NewTagDecoder(payload)
//	for d.Next() { ... d.Type(), d.Value() ... }
//	if err := d.Err(); err != nil { ... }
//
// The error is sticky: after the first error Next returns false.
type TagDecoder struct {
	b     []byte
	typ   TagType
	value []byte
	err   error
	done  bool
}

// NewTagDecoder returns a decoder over a PPPoE payload.
func NewTagDecoder(b []byte) TagDecoder { return TagDecoder{b: b} }

// Next advances to the next tag. It returns false at the end of the list,
// after End-Of-List has been returned, or on error.
func (d *TagDecoder) Next() bool {
	if d.err != nil || d.done || len(d.b) == 0 {
		return false
	}
	if len(d.b) < tagHeaderLen {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrTagLength, len(d.b))
		return false
	}
	t := TagType(binary.BigEndian.Uint16(d.b))
	n := int(binary.BigEndian.Uint16(d.b[2:]))
	if n > len(d.b)-tagHeaderLen {
		d.err = fmt.Errorf("%w: %v length %d, %d bytes left", ErrTagLength, t, n, len(d.b)-tagHeaderLen)
		return false
	}
	if err := checkTagLen(t, n); err != nil {
		d.err = err
		return false
	}
	end := tagHeaderLen + n
	d.typ, d.value, d.b = t, d.b[tagHeaderLen:end:end], d.b[end:]
	if t == TagEndOfList {
		d.done = true // RFC 2516 Appendix A: no further tags
	}
	return true
}

// Type is the current tag's type.
func (d *TagDecoder) Type() TagType { return d.typ }

// Value is the current tag's value (aliases the input).
func (d *TagDecoder) Value() []byte { return d.value }

// Err returns the first error met.
func (d *TagDecoder) Err() error { return d.err }

// checkTagLen enforces the fixed lengths the RFCs give.
func checkTagLen(t TagType, n int) error {
	switch {
	case t == TagEndOfList && n != 0: // RFC 2516 Appendix A: TAG_LENGTH MUST be 0
		return fmt.Errorf("%w: End-Of-List length %d", ErrTagLength, n)
	case t == TagPPPMaxPayload && n != 2: // RFC 4638 §4: two-octet value
		return fmt.Errorf("%w: PPP-Max-Payload length %d", ErrTagLength, n)
	case t == TagVendorSpecific && n < 4: // RFC 2516 Appendix A: starts with a 4-octet vendor id
		return fmt.Errorf("%w: Vendor-Specific length %d", ErrTagLength, n)
	}
	return nil
}
