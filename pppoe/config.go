package pppoe

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrConfig is returned (wrapped) by New and SetConfig for invalid configs.
var ErrConfig = errors.New("pppoe: bad config")

// DefaultMaxTrackedMACs bounds the per-MAC PADI rate table.
const DefaultMaxTrackedMACs = 65536

// Config is the discovery server's policy. It may be replaced at any time
// with Server.SetConfig; sessions already set up are kept.
type Config struct {
	// ACName is sent in every PADO (RFC 2516 §5.2). Required.
	ACName string
	// ServiceNames are the services offered. A PADI/PADR asking for one of
	// them is served; they are listed in PADOs answering an empty request.
	ServiceNames []string
	// AcceptAnyService serves any requested Service-Name.
	AcceptAnyService bool
	// AcceptEmptyService serves an empty Service-Name ("any service",
	// RFC 2516 Appendix A); most clients send one.
	AcceptEmptyService bool

	// MaxSessions caps sessions in total (0: 65534 per port).
	MaxSessions int
	// MaxPerMAC caps sessions per client MAC across ports and VLANs (0: no cap).
	MaxPerMAC int

	// PADIRatePerMAC and PADIRateGlobal are token-bucket rates in PADIs per
	// second (0: unlimited); the bursts are the bucket sizes (0: the rate
	// rounded up, at least 1).
	PADIRatePerMAC, PADIRateGlobal   float64
	PADIBurstPerMAC, PADIBurstGlobal int
	// MaxTrackedMACs bounds the per-MAC rate table (0: DefaultMaxTrackedMACs).
	// When it is full, the least recently seen half is forgotten.
	MaxTrackedMACs int

	// CookieTTL is how long a PADO's AC-Cookie is honoured (0: DefaultCookieTTL).
	CookieTTL time.Duration
	// CookieSecret keys the AC-Cookie HMAC. Empty: a random secret made by
	// New and kept across SetConfig calls.
	CookieSecret []byte

	// MaxPayload is the largest PPP-Max-Payload (RFC 4638) echoed; larger
	// offers are answered with MaxPayload. 0: echo what the client offers.
	MaxPayload uint16

	// PortVLANs maps a port name to the tag stacks served on it; the key
	// "*" applies to ports not listed. Nil serves every port and VLAN.
	PortVLANs map[string]VLANSet
	// VLANFilter, if set, is asked after PortVLANs; false drops the frame.
	// It is called without the server's lock and must be fast.
	VLANFilter func(port string, vlans []uint16) bool
}

// compiled is an immutable snapshot of a Config, read without locking.
type compiled struct {
	cfg      Config
	services map[string]struct{}
	cookie   *CookieKey
	burstMAC float64
	burstAll float64
}

func burst(rate float64, b int) float64 {
	if b > 0 {
		return float64(b)
	}
	return max(1, math.Ceil(rate))
}

func compile(c Config, randomSecret []byte) (*compiled, error) {
	var errs []error
	if c.ACName == "" {
		errs = append(errs, fmt.Errorf("%w: ACName is empty", ErrConfig))
	}
	if c.MaxSessions < 0 || c.MaxPerMAC < 0 || c.MaxTrackedMACs < 0 {
		errs = append(errs, fmt.Errorf("%w: negative limit", ErrConfig))
	}
	if c.PADIRatePerMAC < 0 || c.PADIRateGlobal < 0 || c.PADIBurstPerMAC < 0 || c.PADIBurstGlobal < 0 ||
		math.IsNaN(c.PADIRatePerMAC) || math.IsNaN(c.PADIRateGlobal) {
		errs = append(errs, fmt.Errorf("%w: bad PADI rate", ErrConfig))
	}
	if c.CookieTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: negative CookieTTL", ErrConfig))
	}
	if len(c.CookieSecret) > 0 && len(c.CookieSecret) < 16 {
		errs = append(errs, fmt.Errorf("%w: CookieSecret shorter than 16 bytes", ErrConfig))
	}
	if c.MaxPayload != 0 && c.MaxPayload < 1492 {
		errs = append(errs, fmt.Errorf("%w: MaxPayload %d below 1492", ErrConfig, c.MaxPayload))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.MaxTrackedMACs == 0 {
		c.MaxTrackedMACs = DefaultMaxTrackedMACs
	}
	cc := &compiled{
		cfg:      c,
		services: make(map[string]struct{}, len(c.ServiceNames)),
		burstMAC: burst(c.PADIRatePerMAC, c.PADIBurstPerMAC),
		burstAll: burst(c.PADIRateGlobal, c.PADIBurstGlobal),
	}
	cc.cfg.ServiceNames = append([]string(nil), c.ServiceNames...)
	for _, s := range c.ServiceNames {
		cc.services[s] = struct{}{}
	}
	secret := c.CookieSecret
	if len(secret) == 0 {
		secret = randomSecret
	}
	cc.cookie = NewCookieKey(secret, c.CookieTTL)
	return cc, nil
}

// serves reports whether the requested service is offered.
func (c *compiled) serves(name []byte) bool {
	if len(name) == 0 {
		return c.cfg.AcceptEmptyService
	}
	if c.cfg.AcceptAnyService {
		return true
	}
	_, ok := c.services[string(name)]
	return ok
}

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
