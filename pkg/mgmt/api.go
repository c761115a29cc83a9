// Package mgmt is the one management API over the session table. The CLI,
// RADIUS CoA/Disconnect, config reload and MQTT commands all call it; none of
// them touches session state directly.
package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// API is what management front-ends call.
type API interface {
	Sessions(ctx context.Context) ([]session.Info, error)
	// Terminate ends the selected sessions (PADT/CDN, Acct-Stop with
	// Admin-Reset); hard skips the PPP LCP Terminate exchange.
	Terminate(ctx context.Context, sel Selector, hard bool) (int, error)
	// SetRates changes the selected sessions' rates live.
	SetRates(ctx context.Context, sel Selector, r rate.Rates, source string) (int, error)
	// Change applies a live authorization change (CoA) to the selected
	// sessions, each in one step.
	Change(ctx context.Context, sel Selector, c session.Change, source string) (int, error)
	// RestoreRates returns the selected sessions to their authorized rates.
	RestoreRates(ctx context.Context, sel Selector, source string) (int, error)
	Stats(ctx context.Context) (Stats, error)
	Pools(ctx context.Context) ([]Pool, error)
	RADIUSServers(ctx context.Context) ([]RADIUSServer, error)
	Tunnels(ctx context.Context) ([]Tunnel, error)
	Reload(ctx context.Context) error
	SetLogLevel(level string) error
	Version() Version
}

// Error codes front-ends map to exit codes / CoA NAKs.
var (
	ErrNotFound       = errors.New("no session matches")
	ErrNotImplemented = errors.New("not implemented")
)

// SelectorKind says what a Selector matches on.
type SelectorKind string

const (
	ByAll    SelectorKind = "all"
	ByIfname SelectorKind = "ifname"
	ByUser   SelectorKind = "username"
	BySID    SelectorKind = "sid" // Acct-Session-Id
	ByIP     SelectorKind = "ip"
)

// Selector picks sessions.
type Selector struct {
	Kind  SelectorKind
	Value string
}

// ParseSelector guesses the kind from the value: "all", an IP address, a
// session ID (16 hex digits), an interface name (pppN), else a username.
// "kind=value" forces the kind.
func ParseSelector(s string) (Selector, error) {
	if s == "" {
		return Selector{}, fmt.Errorf("empty session selector")
	}
	if k, v, ok := strings.Cut(s, "="); ok {
		switch SelectorKind(k) {
		case ByIfname, ByUser, BySID, ByIP:
			return Selector{Kind: SelectorKind(k), Value: v}, nil
		}
		return Selector{}, fmt.Errorf("unknown selector kind %q (want ifname, username, sid or ip)", k)
	}
	if s == "all" {
		return Selector{Kind: ByAll}, nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return Selector{Kind: ByIP, Value: s}, nil
	}
	if len(s) == 16 {
		if _, err := strconv.ParseUint(s, 16, 64); err == nil {
			return Selector{Kind: BySID, Value: s}, nil
		}
	}
	if strings.HasPrefix(s, "ppp") {
		if _, err := strconv.Atoi(s[3:]); err == nil {
			return Selector{Kind: ByIfname, Value: s}, nil
		}
	}
	return Selector{Kind: ByUser, Value: s}, nil
}

// Match reports whether the selector picks the session.
func (sel Selector) Match(in *session.Info) bool {
	switch sel.Kind {
	case ByAll:
		return true
	case ByIfname:
		return in.Ifname == sel.Value
	case ByUser:
		return in.User == sel.Value
	case BySID:
		return strings.EqualFold(in.ID, sel.Value)
	case ByIP:
		a, err := netip.ParseAddr(sel.Value)
		return err == nil && (in.IP == a || (in.IPv6.IsValid() && in.IPv6.Contains(a)))
	}
	return false
}

// Stats is the daemon-wide picture for `show stat`.
type Stats struct {
	Uptime     time.Duration     `json:"uptime_ns"`
	Starting   int               `json:"starting"`
	Active     int               `json:"active"`
	Finishing  int               `json:"finishing"`
	SetupRate  float64           `json:"setup_rate_10s"` // sessions/s over the last 10 s
	AuthOK     uint64            `json:"auth_ok"`
	AuthFail   uint64            `json:"auth_fail"`
	Drops      map[string]uint64 `json:"drops"` // malformed/dropped packets by reason
	HeapInUse  uint64            `json:"heap_inuse_bytes"`
	RSS        uint64            `json:"rss_bytes"`
	Goroutines int               `json:"goroutines"`
}

// Pool is one address pool's usage.
type Pool struct {
	Name  string `json:"name"`
	Range string `json:"range"`
	Size  int    `json:"size"`
	Used  int    `json:"used"`
}

// RADIUSServer is one RADIUS server's health.
type RADIUSServer struct {
	Address    string        `json:"address"`
	Role       string        `json:"role"`  // auth, acct
	State      string        `json:"state"` // alive, dead
	Requests   uint64        `json:"requests"`
	Timeouts   uint64        `json:"timeouts"`
	BadAuth    uint64        `json:"bad_authenticator"`
	InFlight   int           `json:"in_flight"`
	LatencyAvg time.Duration `json:"latency_avg_ns"`
}

// Tunnel is one L2TP tunnel.
type Tunnel struct {
	LocalID  uint16 `json:"local_id"`
	RemoteID uint16 `json:"remote_id"`
	Peer     string `json:"peer"`
	Hostname string `json:"hostname"`
	State    string `json:"state"`
	Sessions int    `json:"sessions"`
}

// Version identifies the build.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go"`
	Dataplane string `json:"dataplane"`
}
