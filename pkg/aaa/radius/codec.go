package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"

	"layeh.com/radius"
)

// Standard attribute types used by this package (RFC 2865 §5, RFC 2866 §5,
// RFC 2868 §3, RFC 2869 §5, RFC 5176 §3).
const (
	attrUserName             radius.Type = 1
	attrUserPassword         radius.Type = 2
	attrCHAPPassword         radius.Type = 3
	attrNASIPAddress         radius.Type = 4
	attrNASPort              radius.Type = 5
	attrServiceType          radius.Type = 6
	attrFramedProtocol       radius.Type = 7
	attrFramedIPAddress      radius.Type = 8
	attrFilterID             radius.Type = 11
	attrReplyMessage         radius.Type = 18
	attrFramedRoute          radius.Type = 22
	attrState                radius.Type = 24
	attrClass                radius.Type = 25
	attrVendorSpecific       radius.Type = 26
	attrSessionTimeout       radius.Type = 27
	attrIdleTimeout          radius.Type = 28
	attrCalledStationID      radius.Type = 30
	attrCallingStationID     radius.Type = 31
	attrNASIdentifier        radius.Type = 32
	attrProxyState           radius.Type = 33
	attrAcctStatusType       radius.Type = 40
	attrAcctDelayTime        radius.Type = 41
	attrAcctInputOctets      radius.Type = 42
	attrAcctOutputOctets     radius.Type = 43
	attrAcctSessionID        radius.Type = 44
	attrAcctAuthentic        radius.Type = 45
	attrAcctSessionTime      radius.Type = 46
	attrAcctInputPackets     radius.Type = 47
	attrAcctOutputPackets    radius.Type = 48
	attrAcctTerminateCause   radius.Type = 49
	attrAcctInputGigawords   radius.Type = 52
	attrAcctOutputGigawords  radius.Type = 53
	attrEventTimestamp       radius.Type = 55
	attrCHAPChallenge        radius.Type = 60
	attrNASPortType          radius.Type = 61
	attrTunnelType           radius.Type = 64
	attrTunnelMediumType     radius.Type = 65
	attrTunnelClientEndpoint radius.Type = 66
	attrTunnelServerEndpoint radius.Type = 67
	attrMessageAuthenticator radius.Type = 80
	attrAcctInterimInterval  radius.Type = 85
	attrNASPortID            radius.Type = 87
	attrFramedPool           radius.Type = 88
	attrTunnelClientAuthID   radius.Type = 90
	attrTunnelServerAuthID   radius.Type = 91
	attrErrorCause           radius.Type = 101
)

// Errors returned by the codec helpers.
var (
	ErrBadAuthenticator        = errors.New("radius: bad response authenticator")
	ErrBadMessageAuthenticator = errors.New("radius: bad Message-Authenticator")
	ErrNoMessageAuthenticator  = errors.New("radius: Message-Authenticator missing")
	errShortPacket             = errors.New("radius: short packet")
)

// findMessageAuthenticator returns the offset of the Message-Authenticator
// value in the encoded packet b, or -1. It walks the attributes with length
// checks and never panics.
func findMessageAuthenticator(b []byte) (int, error) {
	if len(b) < 20 {
		return -1, errShortPacket
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 20 || n > len(b) {
		return -1, errShortPacket
	}
	off := -1
	for i := 20; i < n; {
		if i+2 > n {
			return -1, errShortPacket
		}
		l := int(b[i+1])
		if l < 2 || i+l > n {
			return -1, errShortPacket
		}
		if radius.Type(b[i]) == attrMessageAuthenticator {
			if l != 18 || off >= 0 {
				return -1, ErrBadMessageAuthenticator // RFC 3579 §3.2: exactly one, 16 octets
			}
			off = i + 2
		}
		i += l
	}
	return off, nil
}

// messageAuthenticator computes the RFC 3579 §3.2 HMAC-MD5 over b with the
// authenticator field replaced by auth and the Message-Authenticator value
// (at off) zeroed. b is not modified.
func messageAuthenticator(b, secret []byte, auth *[16]byte, off int) [16]byte {
	n := int(binary.BigEndian.Uint16(b[2:4]))
	h := hmac.New(md5.New, secret)
	h.Write(b[:4])
	h.Write(auth[:])
	h.Write(b[20:off])
	var zero [16]byte
	h.Write(zero[:])
	h.Write(b[off+16 : n])
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}

// signMessageAuthenticator fills the (present) Message-Authenticator of b,
// computed with authenticator auth (RFC 3579 §3.2; RFC 5176 §3.3 for
// CoA/Disconnect: zeros for requests, the request's for replies).
func signMessageAuthenticator(b, secret []byte, auth *[16]byte) error {
	off, err := findMessageAuthenticator(b)
	if err != nil {
		return err
	}
	if off < 0 {
		return ErrNoMessageAuthenticator
	}
	sum := messageAuthenticator(b, secret, auth, off)
	copy(b[off:off+16], sum[:])
	return nil
}

// verifyMessageAuthenticator checks the Message-Authenticator of b, if any.
// present reports whether there was one.
func verifyMessageAuthenticator(b, secret []byte, auth *[16]byte) (present bool, err error) {
	off, err := findMessageAuthenticator(b)
	if err != nil {
		return false, err
	}
	if off < 0 {
		return false, nil
	}
	sum := messageAuthenticator(b, secret, auth, off)
	if !hmac.Equal(sum[:], b[off:off+16]) {
		return true, ErrBadMessageAuthenticator
	}
	return true, nil
}

// responseAuthenticator computes RFC 2865 §3 MD5(Code+ID+Length+RequestAuth
// +Attributes+Secret) into b[4:20]. For accounting, CoA and Disconnect
// requests pass a zero auth (RFC 2866 §3, RFC 5176 §3.5).
func responseAuthenticator(b, secret []byte, auth *[16]byte) {
	n := int(binary.BigEndian.Uint16(b[2:4]))
	h := md5.New()
	h.Write(b[:4])
	h.Write(auth[:])
	h.Write(b[20:n])
	h.Write(secret)
	h.Sum(b[4:4:20])
}

// verifyResponse checks a reply against the request authenticator it
// answers: the Response Authenticator always, and the Message-Authenticator
// if present. requireMA makes a missing Message-Authenticator an error
// (Blast-RADIUS, CVE-2024-3596).
func verifyResponse(reply, secret []byte, reqAuth *[16]byte, requireMA bool) error {
	if len(reply) < 20 {
		return errShortPacket
	}
	n := int(binary.BigEndian.Uint16(reply[2:4]))
	if n < 20 || n > len(reply) || n > radius.MaxPacketLength {
		return errShortPacket
	}
	h := md5.New()
	h.Write(reply[:4])
	h.Write(reqAuth[:])
	h.Write(reply[20:n])
	h.Write(secret)
	var sum [16]byte
	if !hmac.Equal(h.Sum(sum[:0]), reply[4:20]) {
		return ErrBadAuthenticator
	}
	present, err := verifyMessageAuthenticator(reply[:n], secret, reqAuth)
	if err != nil {
		return err
	}
	if !present && requireMA {
		return ErrNoMessageAuthenticator
	}
	return nil
}

// vsa returns the value of the first vendor-specific sub-attribute (vendor,
// typ) in attrs (RFC 2865 §5.26, format 1,1).
func vsa(attrs radius.Attributes, vendor uint32, typ byte) (radius.Attribute, bool) {
	for _, avp := range attrs {
		if avp.Type != attrVendorSpecific {
			continue
		}
		if v, ok := vsaIn(avp.Attribute, vendor, typ); ok {
			return v, true
		}
	}
	return nil, false
}

// vsaIn finds sub-attribute typ in one Vendor-Specific value.
func vsaIn(b []byte, vendor uint32, typ byte) ([]byte, bool) {
	if len(b) < 4 || binary.BigEndian.Uint32(b) != vendor {
		return nil, false
	}
	b = b[4:]
	for len(b) >= 2 {
		l := int(b[1])
		if l < 2 || l > len(b) {
			return nil, false
		}
		if b[0] == typ {
			return b[2:l], true
		}
		b = b[l:]
	}
	return nil, false
}

// newVSA encodes one vendor-specific attribute value.
func newVSA(vendor uint32, typ byte, val []byte) (radius.Attribute, error) {
	if len(val) > 247 {
		return nil, fmt.Errorf("radius: vendor attribute %d/%d too long", vendor, typ)
	}
	b := make([]byte, 6, 6+len(val))
	binary.BigEndian.PutUint32(b, vendor)
	b[4] = typ
	b[5] = byte(2 + len(val))
	return append(b, val...), nil
}

// attrValue returns the first value of def in attrs.
func attrValue(attrs radius.Attributes, def *AttrDef) (radius.Attribute, bool) {
	if def.Vendor != 0 {
		return vsa(attrs, def.Vendor, def.Type)
	}
	return attrs.Lookup(radius.Type(def.Type))
}
