package l2tp

import (
	"encoding/binary"
	"fmt"
)

// MsgType is a control message type (RFC 2661 §3.2).
type MsgType uint16

// Control message types (RFC 2661 §3.2). MsgZLB is not on the wire: it
// names a control message without AVPs (an acknowledgement, §5.8).
const (
	MsgZLB     MsgType = 0
	MsgSCCRQ   MsgType = 1
	MsgSCCRP   MsgType = 2
	MsgSCCCN   MsgType = 3
	MsgStopCCN MsgType = 4
	MsgHello   MsgType = 6
	MsgOCRQ    MsgType = 7
	MsgOCRP    MsgType = 8
	MsgOCCN    MsgType = 9
	MsgICRQ    MsgType = 10
	MsgICRP    MsgType = 11
	MsgICCN    MsgType = 12
	MsgCDN     MsgType = 14
	MsgWEN     MsgType = 15
	MsgSLI     MsgType = 16
)

var msgNames = map[MsgType]string{
	MsgZLB: "ZLB", MsgSCCRQ: "SCCRQ", MsgSCCRP: "SCCRP", MsgSCCCN: "SCCCN", MsgStopCCN: "StopCCN",
	MsgHello: "HELLO", MsgOCRQ: "OCRQ", MsgOCRP: "OCRP", MsgOCCN: "OCCN", MsgICRQ: "ICRQ",
	MsgICRP: "ICRP", MsgICCN: "ICCN", MsgCDN: "CDN", MsgWEN: "WEN", MsgSLI: "SLI",
}

// String names t as RFC 2661 does.
func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MsgType(%d)", uint16(t))
}

// session reports whether t belongs to a session rather than to the tunnel
// (RFC 2661 §4.1: an unknown mandatory AVP tears down the session only).
func (t MsgType) session() bool {
	switch t {
	case MsgOCRQ, MsgOCRP, MsgOCCN, MsgICRQ, MsgICRP, MsgICCN, MsgCDN, MsgWEN, MsgSLI:
		return true
	}
	return false
}

// msgSpecs lists the AVPs each message MUST carry (RFC 2661 §6), besides
// Message Type. A message type missing here is accepted with any AVPs.
var msgSpecs = map[MsgType][]AVPType{
	MsgSCCRQ:   {AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID}, // §6.1
	MsgSCCRP:   {AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID}, // §6.2
	MsgSCCCN:   {},                                                                             // §6.3
	MsgStopCCN: {AVPAssignedTunnelID, AVPResultCode},                                           // §6.4
	MsgHello:   {},                                                                             // §6.5
	MsgICRQ:    {AVPAssignedSessionID, AVPCallSerialNumber},                                    // §6.10
	MsgICRP:    {AVPAssignedSessionID},                                                         // §6.11
	MsgICCN:    {AVPTxConnectSpeed, AVPFramingType},                                            // §6.12
	MsgCDN:     {AVPResultCode, AVPAssignedSessionID},                                          // §6.13
	MsgWEN:     {AVPCallErrors},                                                                // §6.14
	MsgSLI:     {AVPACCM},                                                                      // §6.15
}

// avpNotMandatory lists the IETF AVPs sent with the M bit clear (RFC 2661
// §4.4: "the M bit ... SHOULD/MUST be 0"). All others are sent with M set.
var avpNotMandatory = map[AVPType]bool{
	AVPTieBreaker: true, AVPFirmwareRevision: true, AVPVendorName: true,
	AVPPhysicalChannelID: true, AVPRxConnectSpeed: true, AVPPrivateGroupID: true,
	AVPInitialReceivedLCPConfReq: true, AVPLastSentLCPConfReq: true, AVPLastReceivedLCPConfReq: true,
	AVPProxyAuthenType: true, AVPProxyAuthenName: true, AVPProxyAuthenChallenge: true,
	AVPProxyAuthenID: true, AVPProxyAuthenResponse: true,
}

// A Message is a decoded control message: its type and its AVPs in wire
// order, without the Message Type AVP and without Random Vector AVPs (which
// are consumed by unhiding).
type Message struct {
	Type MsgType
	// TypeMandatory is the M bit of the Message Type AVP: an unknown message
	// type with M set tears the tunnel down (RFC 2661 §4.4.1).
	TypeMandatory bool
	AVPs          []AVP
}

// NewMessage returns an empty message of type t.
func NewMessage(t MsgType) *Message { return &Message{Type: t, TypeMandatory: true} }

// ParseMessage decodes the AVPs of a control message payload (the bytes
// after the header; a ZLB has none and is not a Message). Hidden AVPs are
// unhidden with secret and the Random Vector preceding them.
//
// Unknown AVPs without the M bit are kept. An unknown AVP with the M bit set
// returns the message so far and an error wrapping ErrMandatory: the caller
// clears the session (CDN) or the tunnel (StopCCN) as msg.Type says (RFC
// 2661 §4.1). Values alias payload, except unhidden ones.
func ParseMessage(payload, secret []byte) (*Message, error) {
	a, rest, err := parseAVP(payload)
	if err != nil {
		return nil, err
	}
	// RFC 2661 §4.4.1: Message Type MUST be the first AVP, not hidden.
	if !a.is(AVPMessageType) || a.Hidden || len(a.Value) != 2 {
		return nil, fmt.Errorf("%w: first AVP is %s, not Message Type", ErrMessage, a.Type)
	}
	m := &Message{Type: MsgType(binary.BigEndian.Uint16(a.Value)), TypeMandatory: a.Mandatory}
	if _, known := msgNames[m.Type]; !known || m.Type == MsgZLB {
		if m.TypeMandatory {
			return m, fmt.Errorf("%w: message type %d", ErrMandatory, m.Type)
		}
		return m, nil
	}
	var rv []byte
	for len(rest) > 0 {
		a, rest, err = parseAVP(rest)
		if err != nil {
			return m, err
		}
		if a.Hidden {
			if len(secret) == 0 || rv == nil {
				return m, fmt.Errorf("%w: %s without secret or Random Vector", ErrHidden, a.Type)
			}
			if a.Value, err = unhideValue(a.Type, secret, rv, a.Value); err != nil {
				return m, err
			}
		}
		if a.Vendor != 0 || avpSpecs[a.Type].name == "" {
			if a.Mandatory {
				return m, fmt.Errorf("%w: vendor %d type %d", ErrMandatory, a.Vendor, a.Type)
			}
			m.AVPs = append(m.AVPs, a)
			continue
		}
		if err := a.checkLen(); err != nil {
			return m, err
		}
		switch a.Type {
		case AVPMessageType:
			return m, fmt.Errorf("%w: second Message Type AVP", ErrMessage)
		case AVPRandomVector:
			rv = a.Value
			continue
		}
		m.AVPs = append(m.AVPs, a)
	}
	return m, m.validate()
}

// validate checks that every AVP RFC 2661 §6 requires for m.Type is present.
func (m *Message) validate() error {
	for _, t := range msgSpecs[m.Type] {
		if m.Get(t) == nil {
			return fmt.Errorf("%w: %s needs %s", ErrMissingAVP, m.Type, t)
		}
	}
	return nil
}

// A Hider hides AVPs marked Hidden when a message is encoded (RFC 2661 §4.3).
type Hider struct {
	Secret       []byte
	RandomVector []byte // fresh random bytes per message, chosen by the caller
}

// Append encodes the AVPs of m (Message Type first) and appends them to b.
// AVPs with Hidden set are hidden when h is not nil, after one Random Vector
// AVP; with h nil they are sent in the clear.
func (m *Message) Append(b []byte, h *Hider) []byte {
	var tv [2]byte
	binary.BigEndian.PutUint16(tv[:], uint16(m.Type))
	b = appendAVP(b, m.TypeMandatory, false, 0, AVPMessageType, tv[:])
	rvSent := false
	for i := range m.AVPs {
		a := &m.AVPs[i]
		if a.Hidden && h != nil {
			if !rvSent {
				b = appendAVP(b, true, false, 0, AVPRandomVector, h.RandomVector)
				rvSent = true
			}
			b = appendAVP(b, a.Mandatory, true, a.Vendor, a.Type, hideValue(a.Type, h.Secret, h.RandomVector, a.Value, nil))
			continue
		}
		b = appendAVP(b, a.Mandatory, false, a.Vendor, a.Type, a.Value)
	}
	return b
}

// Get returns the first IETF AVP of type t, or nil.
func (m *Message) Get(t AVPType) *AVP {
	for i := range m.AVPs {
		if m.AVPs[i].is(t) {
			return &m.AVPs[i]
		}
	}
	return nil
}

// Bytes returns the value of the IETF AVP t (aliasing the packet).
func (m *Message) Bytes(t AVPType) ([]byte, bool) {
	a := m.Get(t)
	if a == nil {
		return nil, false
	}
	return a.Value, true
}

// String returns the value of the IETF AVP t as a string (a copy).
func (m *Message) String(t AVPType) string {
	v, _ := m.Bytes(t)
	return string(v)
}

// Uint16 returns the value of a 2-byte IETF AVP.
func (m *Message) Uint16(t AVPType) (uint16, bool) {
	v, ok := m.Bytes(t)
	if !ok || len(v) < 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// Uint32 returns the value of a 4-byte IETF AVP.
func (m *Message) Uint32(t AVPType) (uint32, bool) {
	v, ok := m.Bytes(t)
	if !ok || len(v) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// Add appends an IETF AVP with the RFC's M bit for t.
func (m *Message) Add(t AVPType, v []byte) *Message {
	m.AVPs = append(m.AVPs, AVP{Mandatory: !avpNotMandatory[t], Type: t, Value: v})
	return m
}

// AddHidden appends an IETF AVP to be hidden when encoded with a Hider.
func (m *Message) AddHidden(t AVPType, v []byte) *Message {
	m.AVPs = append(m.AVPs, AVP{Mandatory: !avpNotMandatory[t], Hidden: true, Type: t, Value: v})
	return m
}

// AddUint16 appends a 2-byte IETF AVP.
func (m *Message) AddUint16(t AVPType, v uint16) *Message {
	return m.Add(t, binary.BigEndian.AppendUint16(nil, v))
}

// AddUint32 appends a 4-byte IETF AVP.
func (m *Message) AddUint32(t AVPType, v uint32) *Message {
	return m.Add(t, binary.BigEndian.AppendUint32(nil, v))
}

// Result is the value of a Result Code AVP (RFC 2661 §4.4.2).
type Result struct {
	Code    uint16 // StopCCN or CDN result code
	Error   uint16 // general error code, meaningful when Code is 2
	Message string
}

// StopCCN result codes (RFC 2661 §4.4.2).
const (
	StopClear         uint16 = 1 // general request to clear control connection
	StopGeneralError  uint16 = 2
	StopAlreadyExists uint16 = 3
	StopNotAuthorized uint16 = 4
	StopBadVersion    uint16 = 5
	StopShuttingDown  uint16 = 6
	StopFSMError      uint16 = 7
)

// CDN result codes (RFC 2661 §4.4.2).
const (
	CDNLostCarrier      uint16 = 1
	CDNGeneralError     uint16 = 2
	CDNAdmin            uint16 = 3
	CDNNoFacilitiesTemp uint16 = 4
	CDNNoFacilitiesPerm uint16 = 5
	CDNInvalidDest      uint16 = 6
	CDNTimeout          uint16 = 10
	CDNNoFraming        uint16 = 11
)

// General error codes (RFC 2661 §4.4.2).
const (
	ErrCodeNone             uint16 = 0
	ErrCodeNoControl        uint16 = 1
	ErrCodeLength           uint16 = 2
	ErrCodeRange            uint16 = 3
	ErrCodeResources        uint16 = 4
	ErrCodeInvalidSession   uint16 = 5
	ErrCodeVendor           uint16 = 6
	ErrCodeTryAnother       uint16 = 7
	ErrCodeUnknownMandatory uint16 = 8
)

// ParseResult decodes a Result Code AVP value.
func ParseResult(v []byte) (Result, error) {
	if len(v) < 2 || len(v) == 3 {
		return Result{}, fmt.Errorf("%w: Result Code value is %d bytes", ErrAVPLength, len(v))
	}
	r := Result{Code: binary.BigEndian.Uint16(v)}
	if len(v) >= 4 {
		r.Error = binary.BigEndian.Uint16(v[2:])
		r.Message = string(v[4:])
	}
	return r, nil
}

// Append encodes r as a Result Code AVP value.
func (r Result) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, r.Code)
	if r.Error != 0 || r.Message != "" {
		b = binary.BigEndian.AppendUint16(b, r.Error)
		b = append(b, r.Message...)
	}
	return b
}

// String renders r for logs.
func (r Result) String() string {
	s := fmt.Sprintf("result %d error %d", r.Code, r.Error)
	if r.Message != "" {
		s += " (" + r.Message + ")"
	}
	return s
}

// Result returns the message's Result Code, if any and well formed.
func (m *Message) Result() (Result, bool) {
	v, ok := m.Bytes(AVPResultCode)
	if !ok {
		return Result{}, false
	}
	r, err := ParseResult(v)
	return r, err == nil
}
