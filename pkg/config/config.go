// Package config is bngbox's typed configuration: one YAML file, decoded
// strictly (an unknown key is an error naming file, line and key), with
// Validate reporting every problem at once, each with its line.
package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole file. Keys are kebab-case in YAML.
type Config struct {
	Log        Log        `yaml:"log"`
	NAS        NAS        `yaml:"nas"`
	Dataplane  string     `yaml:"dataplane"` // auto | kernel | userspace
	Userspace  Userspace  `yaml:"userspace"`
	PPPoE      PPPoE      `yaml:"pppoe"`
	PPP        PPP        `yaml:"ppp"`
	Pools      []Pool     `yaml:"pools"`
	Auth       Auth       `yaml:"auth"`
	Accounting Accounting `yaml:"accounting"`
	Shaper     Shaper     `yaml:"shaper"`
	CLI        CLI        `yaml:"cli"`
	Telemetry  Telemetry  `yaml:"telemetry"`
	Metrics    Metrics    `yaml:"metrics"`
	RADIUS     RADIUS     `yaml:"radius"`
	L2TP       L2TP       `yaml:"l2tp"`

	// File is the path the config was loaded from (not a YAML key).
	File string `yaml:"-"`
	root *yaml.Node
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// NAS identifies this box to RADIUS and in telemetry.
type NAS struct {
	Identifier string `yaml:"identifier"`
	IP         string `yaml:"ip"`
}

// Userspace tunes the userspace (TUN) dataplane.
type Userspace struct {
	// UnitCache is how many ppp<N> devices of ended sessions are kept, up
	// without addresses, for reuse by new sessions (accel-ppp's
	// unit-cache); 0 deletes them.
	UnitCache int `yaml:"unit-cache"`
	// UnitCachePrefill creates the UnitCache devices at start, in the
	// background, so that the first sessions reuse devices too.
	UnitCachePrefill bool `yaml:"unit-cache-prefill"`
}

// PPPoE configures the access concentrator.
type PPPoE struct {
	Interfaces         []Interface   `yaml:"interfaces"`
	ACName             string        `yaml:"ac-name"`
	ServiceNames       []string      `yaml:"service-names"`
	AcceptAnyService   bool          `yaml:"accept-any-service"`
	AcceptEmptyService bool          `yaml:"accept-empty-service"`
	MaxSessions        int           `yaml:"max-sessions"`
	MaxSessionsPerMAC  int           `yaml:"max-sessions-per-mac"`
	PADIRatePerMAC     float64       `yaml:"padi-rate-per-mac"`
	PADIRateGlobal     float64       `yaml:"padi-rate-global"`
	CookieTTL          time.Duration `yaml:"cookie-ttl"`
}

// Interface is one access interface and the VLANs served on it.
type Interface struct {
	Name string `yaml:"name"`
	// VLANs served: "untagged", "100", "100-199", "10.100-199" (QinQ outer.inner).
	// Empty means untagged only.
	VLANs []string `yaml:"vlans"`
}

// PPP configures LCP, authentication and the NCPs.
type PPP struct {
	MRU             int           `yaml:"mru"`
	Auth            []string      `yaml:"auth"` // offered in order: chap, pap
	LCPEchoInterval time.Duration `yaml:"lcp-echo-interval"`
	LCPEchoFailure  int           `yaml:"lcp-echo-failure"`
	RestartTimer    time.Duration `yaml:"restart-timer"`
	MaxConfigure    int           `yaml:"max-configure"`
	MaxFailure      int           `yaml:"max-failure"`
	MaxTerminate    int           `yaml:"max-terminate"`
	AuthTimeout     time.Duration `yaml:"auth-timeout"`
	LocalIP         string        `yaml:"local-ip"`
	DNS             []string      `yaml:"dns"`
	IPv6            bool          `yaml:"ipv6"`
	// IPv6IntfID is our IPv6CP interface identifier, the same on every
	// session ("::1", "0:0:0:1" as accel-ppp writes it), or "random" for a
	// fresh one per session.
	IPv6IntfID string `yaml:"ipv6-intf-id"`
}

// ParseIntfID parses an IPv6 interface identifier: the low 64 bits of an
// IPv6 address written "::1" or "::a:b:c:d", or four 16-bit hex groups
// "a:b:c:d" (accel-ppp's ipv6-intf-id). "random" is 0. Zero itself is not
// an identifier (RFC 5072 §4.1).
func ParseIntfID(s string) (uint64, error) {
	if s == "random" {
		return 0, nil
	}
	if !strings.Contains(s, "::") && strings.Count(s, ":") == 3 {
		s = "::" + s
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() {
		return 0, fmt.Errorf("%q: want an interface identifier like ::1 or 0:0:0:1, or random", s)
	}
	b := a.As16()
	if [8]byte(b[:8]) != [8]byte{} {
		return 0, fmt.Errorf("%q: only the low 64 bits may be set", s)
	}
	id := binary.BigEndian.Uint64(b[8:])
	if id == 0 {
		return 0, fmt.Errorf("%q: the identifier must not be zero", s)
	}
	return id, nil
}

// Pool is an IPv4 address pool: a prefix or a start-end range.
type Pool struct {
	Name  string `yaml:"name"`
	Range string `yaml:"range"`
}

// Auth selects the authentication backend.
type Auth struct {
	Backend   string `yaml:"backend"`    // local | radius
	UsersFile string `yaml:"users-file"` // local users (YAML)
}

// Accounting configures where accounting records go.
type Accounting struct {
	// Backend is file | log | radius; empty: file when File is set, else log.
	Backend         string        `yaml:"backend"`
	File            string        `yaml:"file"` // JSON lines; empty = log only
	InterimInterval time.Duration `yaml:"interim-interval"`
}

// Shaper configures per-session shaping.
type Shaper struct {
	Enabled   bool          `yaml:"enabled"`
	Upstream  string        `yaml:"upstream"` // auto | police | ifb
	Default   string        `yaml:"default"`  // down/up, e.g. 100M/20M; empty = unlimited
	Mandatory bool          `yaml:"mandatory"`
	BurstTime time.Duration `yaml:"burst-time"` // burst = max(rate*burst-time, 2*MTU)
	// PoliceBurstTime is burst-time for the upload policer (police mode).
	PoliceBurstTime time.Duration `yaml:"police-burst-time"`
	Latency         time.Duration `yaml:"latency"` // queue: limit = rate*latency + burst
	// SetupDefer bounds how long a session's first shaping waits while
	// other sessions keep coming up (0 = apply at once).
	SetupDefer time.Duration `yaml:"setup-defer"`
}

// CLI configures the management interfaces.
type CLI struct {
	Socket         string `yaml:"socket"`
	TelnetListen   string `yaml:"telnet-listen"` // empty = off
	TelnetPassword string `yaml:"telnet-password"`
	// SSHListen is the address of the SSH shell; empty = off.
	SSHListen string `yaml:"ssh-listen"`
	// SSHHostKey is the server's private key (OpenSSH/PEM); generated
	// (ed25519, mode 0600) when the file does not exist.
	SSHHostKey string `yaml:"ssh-host-key"`
	// SSHAuthorizedKeys is an OpenSSH authorized_keys file: the only keys
	// that may log in over SSH.
	SSHAuthorizedKeys string `yaml:"ssh-authorized-keys"`
}

// Default returns the configuration every key defaults to.
func Default() *Config {
	return &Config{
		Log:       Log{Level: "info", Format: "text"},
		NAS:       NAS{Identifier: "bngbox"},
		Dataplane: "auto",
		PPPoE: PPPoE{
			ACName:             "bngbox",
			AcceptAnyService:   true,
			AcceptEmptyService: true,
			MaxSessions:        16000,
			MaxSessionsPerMAC:  4,
			PADIRatePerMAC:     2,
			PADIRateGlobal:     2000,
			CookieTTL:          60 * time.Second,
		},
		PPP: PPP{
			MRU:             1492,
			Auth:            []string{"chap", "pap"},
			LCPEchoInterval: 10 * time.Second,
			LCPEchoFailure:  3,
			RestartTimer:    3 * time.Second,
			MaxConfigure:    10,
			MaxFailure:      5,
			MaxTerminate:    2,
			AuthTimeout:     30 * time.Second,
			LocalIP:         "100.64.0.1",
			IPv6:            true,
			IPv6IntfID:      "::1",
		},
		Auth:       Auth{Backend: "local"},
		Accounting: Accounting{InterimInterval: 5 * time.Minute},
		Shaper:     Shaper{Upstream: "auto", BurstTime: 10 * time.Millisecond, PoliceBurstTime: 300 * time.Millisecond, Latency: 50 * time.Millisecond, SetupDefer: 5 * time.Second},
		CLI:        CLI{Socket: "/run/bngbox/cli.sock", SSHHostKey: "/var/lib/bngbox/ssh_host_ed25519_key", SSHAuthorizedKeys: "/etc/bngbox/authorized_keys"},
		Telemetry:  defaultTelemetry(),
		RADIUS:     defaultRADIUS(),
	}
}

// Load reads, strictly decodes and validates a config file. Relative paths
// inside it resolve against the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates config data; name is used in error messages.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	c.File = name
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", name, cleanYAMLError(err))
	}
	c.root = &root
	if len(root.Content) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, decodeError(name, err)
		}
	}
	c.resolvePaths(filepath.Dir(name))
	c.RADIUS.resolvePaths(filepath.Dir(name))
	c.defaultAcctBackend()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.Auth.UsersFile, &c.Accounting.File, &c.CLI.SSHHostKey, &c.CLI.SSHAuthorizedKeys} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	c.resolveTelemetryPaths(dir)
}

var (
	reFieldNotFound = regexp.MustCompile(`^line (\d+): field (\S+) not found in type config\.(\w+)$`)
	reLine          = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// decodeError turns yaml.v3's errors into "file:line: ..." lines.
func decodeError(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %v", name, cleanYAMLError(err))
	}
	var lines []string
	for _, e := range te.Errors {
		if m := reFieldNotFound.FindStringSubmatch(e); m != nil {
			lines = append(lines, fmt.Sprintf("%s:%s: unknown key %q (in %s)", name, m[1], m[2], sectionName(m[3])))
		} else if m := reLine.FindStringSubmatch(e); m != nil {
			lines = append(lines, fmt.Sprintf("%s:%s: %s", name, m[1], m[2]))
		} else {
			lines = append(lines, name+": "+e)
		}
	}
	return &Error{Lines: lines}
}

func sectionName(goType string) string {
	if goType == "Config" {
		return "top level"
	}
	return strings.ToLower(goType)
}

func cleanYAMLError(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// Error lists every problem found in a config file, one per line.
type Error struct{ Lines []string }

func (e *Error) Error() string { return strings.Join(e.Lines, "\n") }

// problems collects validation errors with the line of the key they concern.
type problems struct {
	c     *Config
	lines []string
}

// add reports a problem at the YAML path (keys and list indexes).
func (p *problems) add(path string, format string, args ...any) {
	line := p.c.lineOf(path)
	loc := p.c.File
	if line > 0 {
		loc += ":" + strconv.Itoa(line)
	}
	p.lines = append(p.lines, fmt.Sprintf("%s: %s: %s", loc, path, fmt.Sprintf(format, args...)))
}

// lineOf finds the line of a dotted path such as "pppoe.interfaces.0.name".
// It returns 0 when the key is absent (a default is at fault).
func (c *Config) lineOf(path string) int {
	if c.root == nil || len(c.root.Content) == 0 {
		return 0
	}
	n := c.root.Content[0]
	line := 0
	for _, part := range strings.Split(path, ".") {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}
