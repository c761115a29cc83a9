package radius

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// RFC 2865 §5.6, §5.7, RFC 2866 §5.6, RFC 2868 §3.1-3.2 values.
const (
	serviceFramed     = 2
	framedPPP         = 1
	acctAuthRADIUS    = 1
	tunnelTypeL2TP    = 3
	tunnelMediumIPv4  = 1
	maxAttributeValue = 253
)

func addString(a *radius.Attributes, t radius.Type, s string) {
	if s == "" {
		return
	}
	if len(s) > maxAttributeValue {
		s = s[:maxAttributeValue]
	}
	a.Add(t, radius.Attribute(s))
}

func addInt(a *radius.Attributes, t radius.Type, v uint32) {
	a.Add(t, radius.NewInteger(v))
}

func addIPv4(a *radius.Attributes, t radius.Type, ip netip.Addr) {
	if ip.Is4() {
		b := ip.As4()
		a.Add(t, radius.Attribute(b[:]))
	}
}

// addTagged adds an RFC 2868 §3 tagged integer (tag 0 carried in the
// first octet, 24-bit value).
func addTaggedInt(a *radius.Attributes, t radius.Type, v uint32) {
	b := radius.NewInteger(v & 0xffffff)
	a.Add(t, b)
}

// nasAttrs adds the NAS identification shared by every request.
func (c *Client) nasAttrs(a *radius.Attributes) {
	addString(a, attrNASIdentifier, c.cfg.NASIdentifier)
	addIPv4(a, attrNASIPAddress, c.cfg.NASIPAddress)
}

// portAttrs adds the session's identity and port (RFC 2865 §5.5, §5.30-31,
// §5.41, RFC 2869 §5.17, RFC 2868 §3).
func portAttrs(a *radius.Attributes, req *aaa.Request) {
	addString(a, attrUserName, req.User)
	addInt(a, attrNASPort, req.NASPort)
	if req.PortType != 0 {
		addInt(a, attrNASPortType, uint32(req.PortType))
	}
	addString(a, attrNASPortID, req.NASPortID)
	addInt(a, attrServiceType, serviceFramed)
	addInt(a, attrFramedProtocol, framedPPP)
	addString(a, attrCallingStationID, req.CallingStationID)
	addString(a, attrCalledStationID, req.CalledStationID)
	addString(a, attrAcctSessionID, req.SessionID)
	if t := req.Tunnel; t != nil {
		addTaggedInt(a, attrTunnelType, tunnelTypeL2TP)
		addTaggedInt(a, attrTunnelMediumType, tunnelMediumIPv4)
		// String values start with a printable octet, so no tag octet is
		// needed (RFC 2868 §3.3: tag only if the first octet is <= 0x1F).
		addString(a, attrTunnelClientEndpoint, t.ClientEndpoint)
		addString(a, attrTunnelServerEndpoint, t.ServerEndpoint)
		addString(a, attrTunnelClientAuthID, t.ClientAuthID)
		addString(a, attrTunnelServerAuthID, t.ServerAuthID)
	}
}

// encodeAccessRequest builds and signs an Access-Request (RFC 2865 §4.1)
// with Message-Authenticator as the first attribute (RFC 3579 §3.2;
// Blast-RADIUS mitigation).
func (c *Client) encodeAccessRequest(req *aaa.Request, secret []byte, id byte) ([]byte, error) {
	p := &radius.Packet{Code: radius.CodeAccessRequest, Identifier: id, Secret: secret}
	if _, err := rand.Read(p.Authenticator[:]); err != nil {
		return nil, err
	}
	p.Add(attrMessageAuthenticator, make(radius.Attribute, 16))
	c.nasAttrs(&p.Attributes)
	portAttrs(&p.Attributes, req)
	switch req.Method {
	case aaa.PAP:
		pw, err := radius.NewUserPassword([]byte(req.Password), secret, p.Authenticator[:])
		if err != nil {
			return nil, fmt.Errorf("radius: User-Password: %w", err)
		}
		p.Add(attrUserPassword, pw)
	case aaa.CHAP:
		if len(req.Response) != 16 || len(req.Challenge) == 0 {
			return nil, fmt.Errorf("radius: CHAP needs a 16-octet response and a challenge")
		}
		// RFC 2865 §5.3: CHAP Ident + 16-octet response.
		p.Add(attrCHAPPassword, append([]byte{req.ChapID}, req.Response...))
		if len(req.Challenge) > maxAttributeValue {
			return nil, fmt.Errorf("radius: CHAP challenge too long")
		}
		p.Add(attrCHAPChallenge, radius.Attribute(req.Challenge))
	default:
		return nil, fmt.Errorf("radius: unsupported authentication method %v", req.Method)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return b, signMessageAuthenticator(b, secret, &p.Authenticator)
}

// acctAttrs builds an Accounting-Request's attributes (RFC 2866 §5, RFC
// 2869 §5.1-5.3), without Acct-Delay-Time, which is added per attempt.
func (c *Client) acctAttrs(rec *aaa.AcctRecord) (radius.Attributes, string, error) {
	var a radius.Attributes
	addInt(&a, attrAcctStatusType, uint32(rec.Type))
	c.nasAttrs(&a)
	sid := ""
	switch rec.Type {
	case aaa.AcctOn, aaa.AcctOff:
		if rec.Request != nil {
			sid = rec.Request.SessionID
			addString(&a, attrAcctSessionID, sid)
		}
	case aaa.AcctStart, aaa.AcctInterim, aaa.AcctStop:
		if rec.Request == nil || rec.Request.SessionID == "" {
			return nil, "", fmt.Errorf("radius: %v record without a session", rec.Type)
		}
		sid = rec.Request.SessionID
		portAttrs(&a, rec.Request)
		addInt(&a, attrAcctAuthentic, acctAuthRADIUS)
		ip := rec.FramedIP
		if !ip.IsValid() && rec.Reply != nil {
			ip = rec.Reply.FramedIP
		}
		addIPv4(&a, attrFramedIPAddress, ip)
		if rec.Reply != nil {
			for _, cl := range rec.Reply.Class { // RFC 2865 §5.25: echo unmodified
				if len(cl) <= maxAttributeValue {
					a.Add(attrClass, radius.Attribute(cl))
				}
			}
		}
		if rec.Type != aaa.AcctStart {
			addCounters(&a, rec)
		}
		if rec.Type == aaa.AcctStop {
			cause := rec.Cause
			if cause == 0 {
				cause = aaa.CauseNASRequest
			}
			addInt(&a, attrAcctTerminateCause, uint32(cause))
		}
	default:
		return nil, "", fmt.Errorf("radius: unknown accounting type %d", rec.Type)
	}
	t := rec.Time
	if t.IsZero() {
		t = time.Now()
	}
	addInt(&a, attrEventTimestamp, uint32(t.Unix()))
	return a, sid, nil
}

// addCounters adds session time and the 64-bit counters split into
// Octets + Gigawords (RFC 2869 §5.1-5.2). Input is from the subscriber.
func addCounters(a *radius.Attributes, rec *aaa.AcctRecord) {
	addInt(a, attrAcctSessionTime, uint32(rec.SessionTime/time.Second))
	in, inG := splitGigawords(rec.Stats.RxBytes)
	out, outG := splitGigawords(rec.Stats.TxBytes)
	addInt(a, attrAcctInputOctets, in)
	addInt(a, attrAcctOutputOctets, out)
	addInt(a, attrAcctInputGigawords, inG)
	addInt(a, attrAcctOutputGigawords, outG)
	addInt(a, attrAcctInputPackets, uint32(min(rec.Stats.RxPackets, 0xffffffff)))
	addInt(a, attrAcctOutputPackets, uint32(min(rec.Stats.TxPackets, 0xffffffff)))
}

// splitGigawords splits a 64-bit octet count into the low 32 bits and the
// number of 2^32 wraps.
func splitGigawords(n uint64) (octets, gigawords uint32) {
	return uint32(n), uint32(n >> 32)
}

// encodeAcct encodes a spooled record with a new ID and Acct-Delay-Time =
// now - created (RFC 2866 §5.2), signing the Request Authenticator (RFC
// 2866 §3).
func encodeAcct(attrs []byte, created, now time.Time, secret []byte, id byte) ([]byte, error) {
	delay := now.Sub(created) / time.Second
	delay = max(delay, 0)
	n := 20 + len(attrs) + 6
	if n > radius.MaxPacketLength {
		return nil, fmt.Errorf("radius: accounting record too large")
	}
	b := make([]byte, n)
	b[0] = byte(radius.CodeAccountingRequest)
	b[1] = id
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	copy(b[20:], attrs)
	o := 20 + len(attrs)
	b[o], b[o+1] = byte(attrAcctDelayTime), 6
	binary.BigEndian.PutUint32(b[o+2:], uint32(min(delay, 0xffffffff)))
	var zero [16]byte
	responseAuthenticator(b, secret, &zero)
	return b, nil
}

// marshalAttrs encodes attributes to wire format.
func marshalAttrs(a radius.Attributes) ([]byte, error) {
	p := radius.Packet{Code: radius.CodeAccountingRequest, Attributes: a}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return b[20:], nil
}
