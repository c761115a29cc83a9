package session

import (
	"net"
	"net/netip"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/rate"
)

// State is a session's life stage.
type State string

const (
	Starting  State = "starting"  // discovery done, PPP negotiating / authenticating
	Active    State = "active"    // network phase, forwarding
	Finishing State = "finishing" // tearing down
)

// Info is a snapshot of one session, copied out of its owner.
type Info struct {
	ID         string           `json:"id"`   // Acct-Session-Id
	Type       string           `json:"type"` // "pppoe" or "l2tp"
	State      State            `json:"state"`
	Ifname     string           `json:"ifname"`
	User       string           `json:"username"`
	IP         netip.Addr       `json:"ip"`
	IPv6       netip.Prefix     `json:"ip6"`
	Started    time.Time        `json:"started"`
	Port       string           `json:"port"` // access interface (PPPoE) or tunnel peer (L2TP)
	VLANs      []uint16         `json:"vlans,omitempty"`
	MAC        net.HardwareAddr `json:"-"`
	CallingSID string           `json:"calling_sid"`
	CalledSID  string           `json:"called_sid"`
	SID        uint16           `json:"sid"` // PPPoE session ID or L2TP session ID
	Tunnel     string           `json:"tunnel,omitempty"`
	Stats      dataplane.Stats  `json:"stats"`
	Rates      rate.Rates       `json:"rates"`      // in force now
	AuthRates  rate.Rates       `json:"auth_rates"` // as authorized (restore target)
	// From the Access-Accept or a later CoA; 0/"" when not set.
	SessionTimeout  int64  `json:"session_timeout_s,omitempty"` // since the session came up
	IdleTimeout     int64  `json:"idle_timeout_s,omitempty"`
	InterimInterval int64  `json:"interim_interval_s,omitempty"` // RADIUS's; the configured one otherwise
	FilterID        string `json:"filter_id,omitempty"`
}

// EventKind names a session event.
type EventKind string

const (
	EventStart    EventKind = "start"
	EventStop     EventKind = "stop"
	EventInterim  EventKind = "interim"
	EventAuthFail EventKind = "auth-fail"
	EventRates    EventKind = "rates" // rates changed live (CoA or CLI)
)

// Event is published to Observers. Info is a snapshot at event time.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Info     Info
	Cause    aaa.TerminateCause // stop only
	Duration time.Duration      // stop: time online
	Source   string             // rates: "coa", "cli"; auth-fail: reason
}

// Observer receives session events. SessionEvent is called from session
// goroutines and must not block (queue and return).
type Observer interface {
	SessionEvent(ev Event)
}
