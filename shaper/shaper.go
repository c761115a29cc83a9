package shaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/pkg/rate"
)

// A Shaper applies per-interface rate limits declaratively.
type Shaper interface {
	// Set makes iface shaped to r, applying only what differs from the last
	// successful Set on iface. A zero rate in r means unlimited in that
	// direction.
	Set(ctx context.Context, iface string, r rate.Rates) error
	// Clear removes all shaping from iface and forgets it. Clearing an
	// interface that is gone, or was never shaped, is not an error.
	Clear(ctx context.Context, iface string) error
	// Close releases the implementation's resources. It does not clear
	// the interfaces still shaped.
	Close() error
}

// Upstream selects how traffic from the subscriber is limited.
type Upstream uint8

// Upstream modes.
const (
	// UpstreamAuto uses police when the kernel has act_police, else ifb.
	UpstreamAuto Upstream = iota
	// UpstreamPolice drops excess ingress traffic with a police action.
	UpstreamPolice
	// UpstreamIFB redirects ingress traffic into a shared IFB device,
	// where an HTB class per session shapes it.
	UpstreamIFB
)

// String returns the config spelling: "auto", "police" or "ifb".
func (u Upstream) String() string {
	switch u {
	case UpstreamAuto:
		return "auto"
	case UpstreamPolice:
		return "police"
	case UpstreamIFB:
		return "ifb"
	}
	return fmt.Sprintf("Upstream(%d)", uint8(u))
}

// ParseUpstream parses "auto", "police" or "ifb"; "" means auto.
func ParseUpstream(s string) (Upstream, error) {
	switch s {
	case "", "auto":
		return UpstreamAuto, nil
	case "police":
		return UpstreamPolice, nil
	case "ifb":
		return UpstreamIFB, nil
	}
	return 0, fmt.Errorf("shaper: bad upstream mode %q: want police, ifb or auto", s)
}

// UnmarshalText implements encoding.TextUnmarshaler for config decoding.
func (u *Upstream) UnmarshalText(b []byte) error {
	v, err := ParseUpstream(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (u Upstream) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// Defaults applied by Config for zero fields.
const (
	DefaultBurstTime = 10 * time.Millisecond
	// DefaultPoliceBurstTime sizes the police bucket: police has no queue,
	// so the bucket must hold a TCP sender's bursts (10 ms held one TCP
	// flow at half a 5 Mbit/s rate in the VM lab), and it must outlast
	// TCP's minimum retransmission timeout (200 ms on Linux, plus the RTT
	// and timer slack): a sender whose window the policer dropped waits
	// out an RTO, and the tokens of that wait beyond the bucket are lost.
	// 200 ms gave 87–98 % of the rate in the VM lab (one RTO every
	// ~230 ms), 300 ms 96–103 % at 1 and 5 Mbit/s.
	DefaultPoliceBurstTime = 300 * time.Millisecond
	DefaultLatency         = 50 * time.Millisecond
	DefaultMTU             = 1500
)

// Config configures a shaper. The zero value is usable.
type Config struct {
	// Upstream selects police, ifb or auto (the default).
	Upstream Upstream
	// BurstTime is the burst factor: a derived burst is
	// max(rate*BurstTime, 2*MTU) bytes. Zero means DefaultBurstTime.
	BurstTime time.Duration
	// PoliceBurstTime is BurstTime for the upload policer (police mode):
	// burst = max(rate*PoliceBurstTime, 2*MTU). Zero means
	// DefaultPoliceBurstTime.
	PoliceBurstTime time.Duration
	// Latency bounds the tbf queue: limit = rate*Latency + burst bytes.
	// Zero means DefaultLatency.
	Latency time.Duration
	// MTU of the session interfaces, the floor for derived bursts.
	// Zero means DefaultMTU.
	MTU uint32
	// Netns is the path of the network namespace holding the session
	// interfaces (for example /var/run/netns/bng); "" is the caller's.
	Netns string
	// Logger receives the startup decisions and failures; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.BurstTime <= 0 {
		c.BurstTime = DefaultBurstTime
	}
	if c.PoliceBurstTime <= 0 {
		c.PoliceBurstTime = DefaultPoliceBurstTime
	}
	if c.Latency <= 0 {
		c.Latency = DefaultLatency
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Errors returned by the package.
var (
	// ErrNotSupported means the kernel (or OS) lacks what the config asks
	// for; the message names the missing module.
	ErrNotSupported = errors.New("shaper: not supported")
	// ErrBadInterface means an interface name that cannot exist.
	ErrBadInterface = errors.New("shaper: bad interface name")
	// ErrBadRate means a rate or burst the kernel cannot represent.
	ErrBadRate = errors.New("shaper: bad rate")
	// ErrClosed means the shaper was closed.
	ErrClosed = errors.New("shaper: closed")
)

// Stats are cumulative counters of a shaper.
type Stats struct {
	Sets       uint64 // Set calls
	Clears     uint64 // Clear calls
	Failed     uint64 // Set/Clear calls that returned an error
	OpsApplied uint64 // operations (netlink requests) that succeeded
	OpsFailed  uint64 // operations that failed
	Resyncs    uint64 // full re-applies after a failed operation
	Shaped     int    // interfaces currently tracked
}

type metrics struct {
	sets, clears, failed, opsApplied, opsFailed, resyncs atomic.Uint64
}

func slogErr(err error) slog.Attr { return slog.Any("err", err) }
