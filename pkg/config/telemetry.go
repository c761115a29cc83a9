package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Telemetry configures the embedded MQTT broker that publishes every
// session's state, events and usage (docs/telemetry.md). It is off by
// default: it is a network service that checks PPP passwords, so turning it
// on is the operator's decision.
type Telemetry struct {
	Enabled bool   `yaml:"enabled"`
	Prefix  string `yaml:"prefix"` // first topic level(s)

	Listen    string `yaml:"listen"`     // MQTT over TCP; empty = off
	TLSListen string `yaml:"tls-listen"` // MQTT over TLS; empty = off
	TLSCert   string `yaml:"tls-cert"`   // PEM
	TLSKey    string `yaml:"tls-key"`    // PEM
	WSListen  string `yaml:"ws-listen"`  // MQTT over WebSocket; empty = off

	Operators []TelemetryOperator `yaml:"operators"`
	Anonymous bool                `yaml:"anonymous"`

	Store        string        `yaml:"store"`          // bbolt file keeping retained state; empty = not kept
	AuthCacheTTL time.Duration `yaml:"auth-cache-ttl"` // 0 = no cache
	AuthTimeout  time.Duration `yaml:"auth-timeout"`
	FailWindow   time.Duration `yaml:"fail-window"`
	FailPerUser  int           `yaml:"fail-per-user"`
	FailPerAddr  int           `yaml:"fail-per-addr"`
	QueueLength  int           `yaml:"queue-length"`

	Bridge TelemetryBridge `yaml:"bridge"`
}

// TelemetryOperator is an operator login to the broker: it reads every
// topic. Password is the password itself or a bcrypt hash ("$2a$", "$2b$",
// "$2y$", e.g. from `htpasswd -nbB`).
type TelemetryOperator struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// TelemetryBridge forwards the telemetry subtree to an upstream broker;
// it is off while Address is empty.
type TelemetryBridge struct {
	Address       string        `yaml:"address"` // host:port; empty = off
	ClientID      string        `yaml:"client-id"`
	Username      string        `yaml:"username"`
	Password      string        `yaml:"password"`
	TLS           bool          `yaml:"tls"`
	CAFile        string        `yaml:"ca-file"`
	ServerName    string        `yaml:"server-name"`
	CertFile      string        `yaml:"cert-file"`
	KeyFile       string        `yaml:"key-file"`
	Queue         string        `yaml:"queue"` // bbolt file of the outage queue
	QueueMax      int           `yaml:"queue-max"`
	RetryInterval time.Duration `yaml:"retry-interval"`
}

// Metrics configures the Prometheus /metrics endpoint.
type Metrics struct {
	Listen string `yaml:"listen"` // host:port; empty = off
}

func defaultTelemetry() Telemetry {
	return Telemetry{
		Prefix:       "bngbox",
		Listen:       ":1883",
		Store:        "/var/lib/bngbox/telemetry.db",
		AuthCacheTTL: 60 * time.Second,
		AuthTimeout:  5 * time.Second,
		FailWindow:   60 * time.Second,
		FailPerUser:  5,
		FailPerAddr:  20,
		QueueLength:  8192,
		Bridge: TelemetryBridge{
			Queue:         "/var/lib/bngbox/telemetry-bridge.db",
			QueueMax:      100000,
			RetryInterval: 5 * time.Second,
		},
	}
}

func (c *Config) resolveTelemetryPaths(dir string) {
	t := &c.Telemetry
	for _, p := range []*string{&t.Store, &t.TLSCert, &t.TLSKey, &t.Bridge.CAFile, &t.Bridge.CertFile, &t.Bridge.KeyFile, &t.Bridge.Queue} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// validateTelemetry checks the telemetry and metrics sections. The syntax
// is checked even when telemetry is off, so a mistake shows before it is
// turned on.
func (c *Config) validateTelemetry(p *problems) {
	t := &c.Telemetry
	if !validTopicLevels(t.Prefix) {
		p.add("telemetry.prefix", "%q: want non-empty MQTT topic levels without +, # or a leading $", t.Prefix)
	}
	if t.Enabled && (strings.Contains(c.NAS.Identifier, "/") || !validTopicLevels(c.NAS.Identifier)) {
		p.add("nas.identifier", "%q: with telemetry enabled it is a topic level: no /, +, # or leading $", c.NAS.Identifier)
	}
	listenAddr(p, "telemetry.listen", t.Listen)
	listenAddr(p, "telemetry.tls-listen", t.TLSListen)
	listenAddr(p, "telemetry.ws-listen", t.WSListen)
	if t.TLSListen != "" {
		if t.TLSCert == "" {
			p.add("telemetry.tls-cert", "required with tls-listen")
		}
		if t.TLSKey == "" {
			p.add("telemetry.tls-key", "required with tls-listen")
		}
	}
	users := map[string]bool{}
	for i, o := range t.Operators {
		path := fmt.Sprintf("telemetry.operators.%d", i)
		switch {
		case o.User == "":
			p.add(path+".user", "must not be empty")
		case users[o.User]:
			p.add(path+".user", "operator %q listed twice", o.User)
		}
		users[o.User] = true
		if o.Password == "" {
			p.add(path+".password", "must not be empty (a password or a bcrypt hash)")
		}
	}
	if t.AuthCacheTTL < 0 {
		p.add("telemetry.auth-cache-ttl", "must be >= 0 (0 turns the cache off)")
	}
	if t.AuthTimeout <= 0 {
		p.add("telemetry.auth-timeout", "must be > 0")
	}
	if t.FailWindow <= 0 {
		p.add("telemetry.fail-window", "must be > 0")
	}
	positive(p, "telemetry.fail-per-user", t.FailPerUser, 1, 1000000)
	positive(p, "telemetry.fail-per-addr", t.FailPerAddr, 1, 1000000)
	positive(p, "telemetry.queue-length", t.QueueLength, 1, 1<<22)

	b := &t.Bridge
	if b.Address != "" {
		if _, port, err := net.SplitHostPort(b.Address); err != nil || !validPort(port, false) {
			p.add("telemetry.bridge.address", "%q: want host:port", b.Address)
		}
		if b.Queue == "" {
			p.add("telemetry.bridge.queue", "required with a bridge address")
		}
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		p.add("telemetry.bridge.cert-file", "a client certificate needs both cert-file and key-file")
	}
	if !b.TLS && (b.CAFile != "" || b.ServerName != "" || b.CertFile != "") {
		p.add("telemetry.bridge.tls", "ca-file, server-name and cert-file need tls: true")
	}
	positive(p, "telemetry.bridge.queue-max", b.QueueMax, 1, 100000000)
	if b.RetryInterval <= 0 {
		p.add("telemetry.bridge.retry-interval", "must be > 0")
	}
	listenAddr(p, "metrics.listen", c.Metrics.Listen)
}

// listenAddr checks an optional "host:port" listen address (port 0 picks one).
func listenAddr(p *problems, path, v string) {
	if v == "" {
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port, true) {
		p.add(path, "%q: want [host]:port", v)
	}
}

func validPort(s string, zeroOK bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || zeroOK && n == 0)
}

// validTopicLevels reports whether s is one or more non-empty MQTT topic
// levels with no wildcards, not starting with '$' (reserved for brokers).
func validTopicLevels(s string) bool {
	if s == "" || s[0] == '$' {
		return false
	}
	for _, l := range strings.Split(s, "/") {
		if l == "" || strings.ContainsAny(l, "+#\x00") {
			return false
		}
	}
	return true
}
