package telemetry

import (
	"encoding/json"
	"time"

	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// Online and Offline are the values of State.State.
const (
	Online  = "online"
	Offline = "offline"
)

// Rates is the JSON form of rate.Rates (bits per second, 0 = unlimited).
type Rates struct {
	Down uint64 `json:"down_bps"`
	Up   uint64 `json:"up_bps"`
}

func ratesOf(r rate.Rates) Rates { return Rates{Down: r.Down, Up: r.Up} }

// State is the retained payload of <prefix>/<nas>/session/<user>/state.
type State struct {
	State     string `json:"state"` // "online" or "offline"
	Since     string `json:"since"` // RFC 3339, UTC: when State began (or was learnt)
	User      string `json:"user"`
	SessionID string `json:"session_id,omitempty"`
	Type      string `json:"type,omitempty"` // "pppoe" or "l2tp"
	IP        string `json:"ip,omitempty"`
	IP6       string `json:"ip6,omitempty"`
	Ifname    string `json:"ifname,omitempty"`
	Rates     *Rates `json:"rates,omitempty"`
	// Offline only: why and for how long the last session was online.
	Cause    string `json:"cause,omitempty"`
	Duration *int64 `json:"duration,omitempty"` // seconds online
	// Reconciled is true when the offline state was inferred at start-up
	// (the session ended while bngbox was not running); Since is then the
	// time bngbox learnt it.
	Reconciled bool `json:"reconciled,omitempty"`
}

// Event is the payload of <prefix>/<nas>/session/<user>/event.
type Event struct {
	Event     string `json:"event"` // start, stop, auth-fail, rates
	Time      string `json:"time"`
	User      string `json:"user"`
	SessionID string `json:"session_id,omitempty"`
	IP        string `json:"ip,omitempty"`
	IP6       string `json:"ip6,omitempty"`
	Ifname    string `json:"ifname,omitempty"`
	Rates     *Rates `json:"rates,omitempty"`
	// stop
	Cause     string `json:"cause,omitempty"`
	CauseCode uint32 `json:"cause_code,omitempty"`
	Duration  *int64 `json:"duration,omitempty"` // stop: seconds online
	// start: seconds the user had been offline, when known.
	OfflineFor *int64 `json:"offline_for,omitempty"`
	// rates: "coa" or "cli"; auth-fail: the reason.
	Source string `json:"source,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Usage is the payload of <prefix>/<nas>/session/<user>/usage. "In" is from
// the subscriber (RADIUS Acct-Input-*), "out" is to the subscriber.
type Usage struct {
	Time        string `json:"time"`
	User        string `json:"user"`
	SessionID   string `json:"session_id"`
	SessionTime int64  `json:"session_time"` // seconds since start
	OctetsIn    uint64 `json:"octets_in"`
	OctetsOut   uint64 `json:"octets_out"`
	PacketsIn   uint64 `json:"packets_in"`
	PacketsOut  uint64 `json:"packets_out"`
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func secs(d time.Duration) *int64 {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	return &s
}

func addrs(in session.Info) (ip, ip6 string) {
	if in.IP.IsValid() {
		ip = in.IP.String()
	}
	if in.IPv6.IsValid() {
		ip6 = in.IPv6.String()
	}
	return ip, ip6
}

func onlineState(in session.Info, since time.Time) State {
	ip, ip6 := addrs(in)
	r := ratesOf(in.Rates)
	return State{State: Online, Since: fmtTime(since), User: in.User, SessionID: in.ID, Type: in.Type,
		IP: ip, IP6: ip6, Ifname: in.Ifname, Rates: &r}
}

func offlineState(ev session.Event) State {
	return State{State: Offline, Since: fmtTime(ev.Time), User: ev.Info.User, SessionID: ev.Info.ID,
		Type: ev.Info.Type, Cause: ev.Cause.String(), Duration: secs(ev.Duration)}
}

func eventOf(ev session.Event) Event {
	in := ev.Info
	e := Event{Event: string(ev.Kind), Time: fmtTime(ev.Time), User: in.User, SessionID: in.ID}
	switch ev.Kind {
	case session.EventStart:
		e.IP, e.IP6 = addrs(in)
		e.Ifname = in.Ifname
		r := ratesOf(in.Rates)
		e.Rates = &r
	case session.EventStop:
		e.Cause, e.CauseCode, e.Duration = ev.Cause.String(), uint32(ev.Cause), secs(ev.Duration)
	case session.EventRates:
		r := ratesOf(in.Rates)
		e.Rates, e.Source = &r, ev.Source
	case session.EventAuthFail:
		e.Reason = ev.Source
	}
	return e
}

func usageOf(ev session.Event) Usage {
	in := ev.Info
	st := ev.Time.Sub(in.Started)
	if in.Started.IsZero() || st < 0 {
		st = 0
	}
	return Usage{Time: fmtTime(ev.Time), User: in.User, SessionID: in.ID, SessionTime: int64(st / time.Second),
		OctetsIn: in.Stats.RxBytes, OctetsOut: in.Stats.TxBytes, PacketsIn: in.Stats.RxPackets, PacketsOut: in.Stats.TxPackets}
}

// mustJSON marshals v, which is always one of our plain structs.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("telemetry: marshal: " + err.Error())
	}
	return b
}
