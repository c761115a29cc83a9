package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
)

// AVPType is an IETF attribute type (RFC 2661 §4.4).
type AVPType uint16

// IETF AVP types (RFC 2661 §4.4.1–§4.4.6).
const (
	AVPMessageType               AVPType = 0
	AVPResultCode                AVPType = 1
	AVPProtocolVersion           AVPType = 2
	AVPFramingCapabilities       AVPType = 3
	AVPBearerCapabilities        AVPType = 4
	AVPTieBreaker                AVPType = 5
	AVPFirmwareRevision          AVPType = 6
	AVPHostName                  AVPType = 7
	AVPVendorName                AVPType = 8
	AVPAssignedTunnelID          AVPType = 9
	AVPReceiveWindowSize         AVPType = 10
	AVPChallenge                 AVPType = 11
	AVPQ931CauseCode             AVPType = 12
	AVPChallengeResponse         AVPType = 13
	AVPAssignedSessionID         AVPType = 14
	AVPCallSerialNumber          AVPType = 15
	AVPMinimumBPS                AVPType = 16
	AVPMaximumBPS                AVPType = 17
	AVPBearerType                AVPType = 18
	AVPFramingType               AVPType = 19
	AVPCalledNumber              AVPType = 21
	AVPCallingNumber             AVPType = 22
	AVPSubAddress                AVPType = 23
	AVPTxConnectSpeed            AVPType = 24
	AVPPhysicalChannelID         AVPType = 25
	AVPInitialReceivedLCPConfReq AVPType = 26
	AVPLastSentLCPConfReq        AVPType = 27
	AVPLastReceivedLCPConfReq    AVPType = 28
	AVPProxyAuthenType           AVPType = 29
	AVPProxyAuthenName           AVPType = 30
	AVPProxyAuthenChallenge      AVPType = 31
	AVPProxyAuthenID             AVPType = 32
	AVPProxyAuthenResponse       AVPType = 33
	AVPCallErrors                AVPType = 34
	AVPACCM                      AVPType = 35
	AVPRandomVector              AVPType = 36
	AVPPrivateGroupID            AVPType = 37
	AVPRxConnectSpeed            AVPType = 38
	AVPSequencingRequired        AVPType = 39
)

// avpSpec is the value length rule of an IETF AVP (RFC 2661 §4.4).
// max < 0 means unbounded (up to the 10-bit AVP length).
type avpSpec struct {
	name     string
	min, max int
	hideable bool // RFC 2661 §4.4: "This AVP MAY be hidden"
}

var avpSpecs = map[AVPType]avpSpec{
	AVPMessageType:               {"Message Type", 2, 2, false},                 // §4.4.1
	AVPResultCode:                {"Result Code", 2, -1, false},                 // §4.4.2
	AVPProtocolVersion:           {"Protocol Version", 2, 2, false},             // §4.4.3
	AVPFramingCapabilities:       {"Framing Capabilities", 4, 4, true},          // §4.4.3
	AVPBearerCapabilities:        {"Bearer Capabilities", 4, 4, true},           // §4.4.3
	AVPTieBreaker:                {"Tie Breaker", 8, 8, false},                  // §4.4.3
	AVPFirmwareRevision:          {"Firmware Revision", 2, 2, true},             // §4.4.3
	AVPHostName:                  {"Host Name", 1, -1, false},                   // §4.4.3
	AVPVendorName:                {"Vendor Name", 0, -1, true},                  // §4.4.3
	AVPAssignedTunnelID:          {"Assigned Tunnel ID", 2, 2, true},            // §4.4.3
	AVPReceiveWindowSize:         {"Receive Window Size", 2, 2, false},          // §4.4.3
	AVPChallenge:                 {"Challenge", 1, -1, true},                    // §4.4.3
	AVPQ931CauseCode:             {"Q.931 Cause Code", 3, -1, false},            // §4.4.4
	AVPChallengeResponse:         {"Challenge Response", 16, 16, true},          // §4.4.3
	AVPAssignedSessionID:         {"Assigned Session ID", 2, 2, true},           // §4.4.4
	AVPCallSerialNumber:          {"Call Serial Number", 4, 4, false},           // §4.4.4
	AVPMinimumBPS:                {"Minimum BPS", 4, 4, true},                   // §4.4.4
	AVPMaximumBPS:                {"Maximum BPS", 4, 4, true},                   // §4.4.4
	AVPBearerType:                {"Bearer Type", 4, 4, true},                   // §4.4.4
	AVPFramingType:               {"Framing Type", 4, 4, true},                  // §4.4.4
	AVPCalledNumber:              {"Called Number", 0, -1, true},                // §4.4.4
	AVPCallingNumber:             {"Calling Number", 0, -1, true},               // §4.4.4
	AVPSubAddress:                {"Sub-Address", 0, -1, true},                  // §4.4.4
	AVPTxConnectSpeed:            {"Tx Connect Speed", 4, 4, true},              // §4.4.4
	AVPPhysicalChannelID:         {"Physical Channel ID", 4, 4, true},           // §4.4.4
	AVPInitialReceivedLCPConfReq: {"Initial Received LCP CONFREQ", 0, -1, true}, // §4.4.5
	AVPLastSentLCPConfReq:        {"Last Sent LCP CONFREQ", 0, -1, true},        // §4.4.5
	AVPLastReceivedLCPConfReq:    {"Last Received LCP CONFREQ", 0, -1, true},    // §4.4.5
	AVPProxyAuthenType:           {"Proxy Authen Type", 2, 2, true},             // §4.4.5
	AVPProxyAuthenName:           {"Proxy Authen Name", 0, -1, true},            // §4.4.5
	AVPProxyAuthenChallenge:      {"Proxy Authen Challenge", 0, -1, true},       // §4.4.5
	AVPProxyAuthenID:             {"Proxy Authen ID", 2, 2, true},               // §4.4.5
	AVPProxyAuthenResponse:       {"Proxy Authen Response", 0, -1, true},        // §4.4.5
	AVPCallErrors:                {"Call Errors", 26, 26, true},                 // §4.4.6
	AVPACCM:                      {"ACCM", 10, 10, true},                        // §4.4.6
	AVPRandomVector:              {"Random Vector", 1, -1, false},               // §4.4.3
	AVPPrivateGroupID:            {"Private Group ID", 0, -1, true},             // §4.4.4
	AVPRxConnectSpeed:            {"Rx Connect Speed", 4, 4, true},              // §4.4.4
	AVPSequencingRequired:        {"Sequencing Required", 0, 0, false},          // §4.4.4
}

// String names t as RFC 2661 does.
func (t AVPType) String() string {
	if s, ok := avpSpecs[t]; ok {
		return s.name
	}
	return fmt.Sprintf("AVP(%d)", uint16(t))
}

const (
	avpFlagMandatory = 0x8000
	avpFlagHidden    = 0x4000
	avpLengthMask    = 0x03ff
	avpHeaderLen     = 6
	maxAVPValue      = avpLengthMask - avpHeaderLen
)

// An AVP is one attribute-value pair (RFC 2661 §4.1). Vendor 0 is the IETF.
// After ParseMessage, hidden AVPs have been unhidden: Hidden reports that the
// AVP was hidden on the wire and Value is the clear text. Value aliases the
// packet unless the AVP was hidden.
//
//	|M|H| rsvd  |      Length       |           Vendor ID           |
//	|         Attribute Type        |        Attribute Value...
type AVP struct {
	Mandatory bool
	Hidden    bool
	Vendor    uint16
	Type      AVPType
	Value     []byte
}

// is reports whether a is an IETF (vendor 0) AVP of type t.
func (a *AVP) is(t AVPType) bool { return a.Vendor == 0 && a.Type == t }

// parseAVP decodes one AVP from the front of b.
func parseAVP(b []byte) (AVP, []byte, error) {
	if len(b) < avpHeaderLen {
		return AVP{}, nil, fmt.Errorf("%w: %d bytes left", ErrAVPLength, len(b))
	}
	f := binary.BigEndian.Uint16(b)
	n := int(f & avpLengthMask)
	if n < avpHeaderLen || n > len(b) {
		return AVP{}, nil, fmt.Errorf("%w: length %d, %d bytes left", ErrAVPLength, n, len(b))
	}
	a := AVP{
		Mandatory: f&avpFlagMandatory != 0,
		Hidden:    f&avpFlagHidden != 0,
		Vendor:    binary.BigEndian.Uint16(b[2:]),
		Type:      AVPType(binary.BigEndian.Uint16(b[4:])),
		Value:     b[avpHeaderLen:n:n],
	}
	return a, b[n:], nil
}

// checkLen applies the RFC 2661 length rule of an IETF AVP to its clear value.
func (a *AVP) checkLen() error {
	if a.Vendor != 0 {
		return nil
	}
	s, ok := avpSpecs[a.Type]
	if !ok {
		return nil
	}
	if len(a.Value) < s.min || (s.max >= 0 && len(a.Value) > s.max) {
		return fmt.Errorf("%w: %s value is %d bytes", ErrAVPLength, s.name, len(a.Value))
	}
	return nil
}

// appendAVP appends the wire form of an AVP with the given (already hidden,
// if H is set) value.
func appendAVP(b []byte, m, h bool, vendor uint16, t AVPType, v []byte) []byte {
	f := uint16(avpHeaderLen + len(v))
	if m {
		f |= avpFlagMandatory
	}
	if h {
		f |= avpFlagHidden
	}
	b = binary.BigEndian.AppendUint16(b, f)
	b = binary.BigEndian.AppendUint16(b, vendor)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	return append(b, v...)
}

// hideValue hides v per RFC 2661 §4.3: the hidden subformat is
// {original length (2), value, padding}, XORed with the chain
// b1 = MD5(type + secret + RV), bi = MD5(secret + c(i-1)).
// padding (random bytes chosen by the caller, may be nil) hides the length.
func hideValue(t AVPType, secret, rv, v, padding []byte) []byte {
	clear := make([]byte, 0, 2+len(v)+len(padding))
	clear = binary.BigEndian.AppendUint16(clear, uint16(len(v)))
	clear = append(clear, v...)
	clear = append(clear, padding...)
	out := make([]byte, len(clear))
	var prev []byte
	for i := 0; i < len(clear); i += md5.Size {
		h := md5.New()
		if i == 0 {
			var tb [2]byte
			binary.BigEndian.PutUint16(tb[:], uint16(t))
			h.Write(tb[:])
			h.Write(secret)
			h.Write(rv)
		} else {
			h.Write(secret)
			h.Write(prev)
		}
		k := h.Sum(nil)
		for j := 0; j < md5.Size && i+j < len(clear); j++ {
			out[i+j] = clear[i+j] ^ k[j]
		}
		prev = out[i:min(i+md5.Size, len(out))]
	}
	return out
}

// unhideValue reverses hideValue. It returns a fresh slice.
func unhideValue(t AVPType, secret, rv, c []byte) ([]byte, error) {
	if len(c) < 2 {
		return nil, fmt.Errorf("%w: %s hidden value is %d bytes", ErrHidden, t, len(c))
	}
	clear := make([]byte, len(c))
	for i := 0; i < len(c); i += md5.Size {
		h := md5.New()
		if i == 0 {
			var tb [2]byte
			binary.BigEndian.PutUint16(tb[:], uint16(t))
			h.Write(tb[:])
			h.Write(secret)
			h.Write(rv)
		} else {
			h.Write(secret)
			h.Write(c[i-md5.Size : i])
		}
		k := h.Sum(nil)
		for j := 0; j < md5.Size && i+j < len(c); j++ {
			clear[i+j] = c[i+j] ^ k[j]
		}
	}
	n := int(binary.BigEndian.Uint16(clear))
	if n > len(clear)-2 {
		return nil, fmt.Errorf("%w: %s original length %d > %d (wrong secret?)", ErrHidden, t, n, len(clear)-2)
	}
	return clear[2 : 2+n : 2+n], nil
}
