package telemetry

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the broker, the session topics, customer logins,
// persistence, metrics and the bridge. Empty listener addresses mean
// "listener off"; zero durations and sizes take the documented defaults.
type Config struct {
	// Prefix is the first topic level(s), default "bngbox".
	Prefix string
	// NAS names this box in topics (required).
	NAS string

	// Listen is the plain MQTT TCP listener, e.g. "127.0.0.1:1883" (the
	// daemon's default is ":1883"). Empty: off.
	Listen string
	// TLSListen is the MQTT-over-TLS listener, e.g. ":8883"; it needs
	// TLSCert and TLSKey (PEM files). Empty: off.
	TLSListen       string
	TLSCert, TLSKey string
	// WSListen is the MQTT-over-WebSocket listener, e.g. ":8080". Empty: off.
	WSListen string

	// Operators may read every topic and publish under <prefix>/<nas>/cmd/.
	Operators []Account
	// Anonymous lets clients connect without a username; they get an
	// operator's read rights and no write rights. Off by default: for labs.
	Anonymous bool

	// AuthCacheTTL is how long a customer login that AAA accepted is
	// remembered (keyed by user and a keyed hash of the password).
	// Default 60s; negative disables the cache.
	AuthCacheTTL time.Duration
	// AuthTimeout bounds one AAA request. Default 5s.
	AuthTimeout time.Duration
	// FailWindow, FailPerUser and FailPerAddr limit failed customer logins:
	// after FailPerUser failures for one user, or FailPerAddr failures from
	// one source address, within FailWindow, further logins are refused
	// without asking AAA until the window ends. Defaults 60s, 5, 20.
	FailWindow  time.Duration
	FailPerUser int
	FailPerAddr int

	// QueueLen bounds the session event queue; events beyond it are
	// dropped and counted. Default 8192.
	QueueLen int

	// StorePath is the bbolt file that keeps the retained session state
	// across restarts. Empty: not persisted.
	StorePath string

	// MetricsListen serves Prometheus /metrics over HTTP, e.g.
	// "127.0.0.1:9100". Empty: off (MetricsHandler still works).
	MetricsListen string

	// Bridge forwards the telemetry subtree to an upstream broker. Nil: off.
	Bridge *BridgeConfig
}

// An Account is an operator login. Password is either the password itself
// or its bcrypt hash ("$2a$...", "$2b$...", "$2y$..."; e.g. from
// `htpasswd -nbB user pw`).
type Account struct {
	User     string
	Password string
}

// DefaultListen is the address the daemon should use for Listen when its
// config says nothing: all addresses, the IANA MQTT port.
const DefaultListen = ":1883"

const (
	defaultPrefix       = "bngbox"
	defaultAuthCacheTTL = 60 * time.Second
	defaultAuthTimeout  = 5 * time.Second
	defaultFailWindow   = 60 * time.Second
	defaultFailPerUser  = 5
	defaultFailPerAddr  = 20
	defaultQueueLen     = 8192
)

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if c.AuthCacheTTL == 0 {
		c.AuthCacheTTL = defaultAuthCacheTTL
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = defaultAuthTimeout
	}
	if c.FailWindow <= 0 {
		c.FailWindow = defaultFailWindow
	}
	if c.FailPerUser <= 0 {
		c.FailPerUser = defaultFailPerUser
	}
	if c.FailPerAddr <= 0 {
		c.FailPerAddr = defaultFailPerAddr
	}
	if c.QueueLen <= 0 {
		c.QueueLen = defaultQueueLen
	}
	if c.Bridge != nil {
		b := c.Bridge.withDefaults()
		c.Bridge = &b
	}
	return c
}

// Validate reports every problem in c (after defaults), joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !validLevelPath(c.Prefix) {
		errs = append(errs, fmt.Errorf("telemetry: prefix %q: want non-empty topic levels without wildcards or leading '$'", c.Prefix))
	}
	if c.NAS == "" || !validLevelPath(c.NAS) || containsSlash(c.NAS) {
		errs = append(errs, fmt.Errorf("telemetry: nas %q: want one topic level without wildcards", c.NAS))
	}
	if c.TLSListen != "" && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, errors.New("telemetry: tls listener needs a certificate and a key"))
	}
	seen := map[string]bool{}
	for i, a := range c.Operators {
		switch {
		case a.User == "":
			errs = append(errs, fmt.Errorf("telemetry: operator %d: empty user", i))
		case a.Password == "":
			errs = append(errs, fmt.Errorf("telemetry: operator %q: empty password", a.User))
		case seen[a.User]:
			errs = append(errs, fmt.Errorf("telemetry: operator %q: listed twice", a.User))
		}
		seen[a.User] = true
	}
	if c.Bridge != nil {
		if err := c.Bridge.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}
