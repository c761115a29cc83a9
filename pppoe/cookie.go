package pppoe

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net"
	"time"
)

// CookieLen is the length of an AC-Cookie: a 4-byte Unix timestamp
// (seconds) followed by a 16-byte truncated HMAC-SHA256.
const CookieLen = 4 + cookieMACLen

const cookieMACLen = 16

// DefaultCookieTTL is how long a PADO's AC-Cookie stays valid.
const DefaultCookieTTL = 60 * time.Second

// cookieSkew is how far in the future a cookie timestamp may be (clock
// steps between PADO and PADR).
const cookieSkew = 2 * time.Second

// A CookieKey makes and checks stateless AC-Cookies (RFC 2516 Appendix A:
// "used by the Access Concentrator to aid in protecting against denial of
// service attacks"). The cookie binds the client MAC, its VLAN tags, the
// access port and the time of the PADO, so a PADR is accepted only from the
// client that received the PADO, on the same port and VLANs, within the TTL.
// A CookieKey is immutable and safe for concurrent use.
type CookieKey struct {
	ipad, opad [sha256.BlockSize]byte // HMAC key blocks (RFC 2104)
	ttl        time.Duration
}

// NewCookieKey returns a key for secret (any length; 32 random bytes are
// right) and ttl (0 means DefaultCookieTTL).
func NewCookieKey(secret []byte, ttl time.Duration) *CookieKey {
	if ttl <= 0 {
		ttl = DefaultCookieTTL
	}
	k := &CookieKey{ttl: ttl}
	key := secret
	if len(key) > sha256.BlockSize {
		s := sha256.Sum256(key)
		key = s[:]
	}
	for i := range k.ipad {
		var c byte
		if i < len(key) {
			c = key[i]
		}
		k.ipad[i] = c ^ 0x36
		k.opad[i] = c ^ 0x5c
	}
	return k
}

// maxInlinePort is the longest port name hashed without allocating.
const maxInlinePort = 64

// sum computes HMAC-SHA256(key, ts || mac || n || vlans || port) truncated
// to 16 bytes, written into dst. It does not allocate for port names up to
// maxInlinePort bytes.
func (k *CookieKey) sum(dst []byte, ts uint32, mac net.HardwareAddr, vlans []uint16, port string) {
	var buf [sha256.BlockSize + 4 + 6 + 1 + 4 + maxInlinePort]byte
	b := append(buf[:0], k.ipad[:]...)
	b = binary.BigEndian.AppendUint32(b, ts)
	var m [6]byte
	copy(m[:], mac)
	b = append(b, m[:]...)
	b = append(b, byte(len(vlans)))
	for i := 0; i < len(vlans) && i < 2; i++ {
		b = binary.BigEndian.AppendUint16(b, vlans[i])
	}
	if len(port) <= maxInlinePort {
		b = append(b, port...)
	} else {
		p := sha256.Sum256([]byte(port))
		b = append(b, p[:]...)
	}
	inner := sha256.Sum256(b)
	var ob [sha256.BlockSize + sha256.Size]byte
	copy(ob[:], k.opad[:])
	copy(ob[sha256.BlockSize:], inner[:])
	out := sha256.Sum256(ob[:])
	copy(dst, out[:cookieMACLen])
}

// Append appends a cookie for a client to b.
func (k *CookieKey) Append(b []byte, now time.Time, mac net.HardwareAddr, vlans []uint16, port string) []byte {
	var c [CookieLen]byte
	ts := uint32(now.Unix())
	binary.BigEndian.PutUint32(c[:], ts)
	k.sum(c[4:], ts, mac, vlans, port)
	return append(b, c[:]...)
}

// CookieResult is the outcome of CookieKey.Verify.
type CookieResult int

// Cookie verification results.
const (
	CookieOK      CookieResult = iota
	CookieBad                  // wrong length or MAC: forged, or for another client/port/VLAN
	CookieExpired              // genuine but older than the TTL (or from the future)
)

// Verify checks a cookie presented by a client at time now.
func (k *CookieKey) Verify(cookie []byte, now time.Time, mac net.HardwareAddr, vlans []uint16, port string) CookieResult {
	if len(cookie) != CookieLen {
		return CookieBad
	}
	ts := binary.BigEndian.Uint32(cookie)
	var want [cookieMACLen]byte
	k.sum(want[:], ts, mac, vlans, port)
	if subtle.ConstantTimeCompare(want[:], cookie[4:]) != 1 {
		return CookieBad
	}
	age := time.Duration(now.Unix()-int64(ts)) * time.Second
	if age > k.ttl || age < -cookieSkew {
		return CookieExpired
	}
	return CookieOK
}
