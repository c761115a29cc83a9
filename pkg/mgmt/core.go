package mgmt

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// Core implements API over the session manager. Optional parts (RADIUS,
// tunnels) are plugged in by run.go when those subsystems exist.
type Core struct {
	Manager   *session.Manager
	AddrPools []*ippool.Pool
	LogLevel  *slog.LevelVar
	// ReloadFunc re-reads the config file and applies what can change live.
	ReloadFunc func(ctx context.Context) error
	// DropsFunc adds dataplane/discovery drop counters to Stats.
	DropsFunc   func() map[string]uint64
	RADIUS      func() []RADIUSServer
	TunnelsFunc func() []Tunnel
	VersionInfo Version
	Started     time.Time
}

var _ API = (*Core)(nil)

// Sessions lists snapshots of every session.
func (c *Core) Sessions(ctx context.Context) ([]session.Info, error) {
	return c.Manager.Sessions(ctx), nil
}

func (c *Core) each(ctx context.Context, sel Selector, fn func(*session.Session)) (int, error) {
	n := c.Manager.Select(ctx, sel.Match, fn)
	if n == 0 && sel.Kind != ByAll {
		return 0, fmt.Errorf("%w: %s %s", ErrNotFound, sel.Kind, sel.Value)
	}
	return n, nil
}

// Terminate ends the selected sessions with Admin-Reset.
func (c *Core) Terminate(ctx context.Context, sel Selector, hard bool) (int, error) {
	return c.each(ctx, sel, func(s *session.Session) { s.Terminate(aaa.CauseAdminReset, hard) })
}

// SetRates changes rates live.
func (c *Core) SetRates(ctx context.Context, sel Selector, r rate.Rates, source string) (int, error) {
	return c.each(ctx, sel, func(s *session.Session) { s.SetRates(r, source) })
}

// Change applies a live authorization change.
func (c *Core) Change(ctx context.Context, sel Selector, ch session.Change, source string) (int, error) {
	return c.each(ctx, sel, func(s *session.Session) { s.Apply(ch, source) })
}

// RestoreRates returns sessions to their authorized rates.
func (c *Core) RestoreRates(ctx context.Context, sel Selector, source string) (int, error) {
	return c.each(ctx, sel, func(s *session.Session) { s.RestoreRates(source) })
}

// Stats gathers daemon-wide counters.
func (c *Core) Stats(ctx context.Context) (Stats, error) {
	k := c.Manager.Counters()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		Uptime: time.Since(c.Started), Starting: k.Starting, Active: k.Active, Finishing: k.Finishing,
		SetupRate: k.SetupRate, AuthOK: k.AuthOK, AuthFail: k.AuthFail, Drops: k.Drops,
		HeapInUse: ms.HeapInuse, RSS: rss(), Goroutines: runtime.NumGoroutine(),
	}
	if c.DropsFunc != nil {
		for r, n := range c.DropsFunc() {
			st.Drops[r] += n
		}
	}
	return st, nil
}

// rss reads the resident set size from /proc (0 where unavailable).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// Pools reports address pool usage.
func (c *Core) Pools(context.Context) ([]Pool, error) {
	out := make([]Pool, 0, len(c.AddrPools))
	for _, p := range c.AddrPools {
		out = append(out, Pool{Name: p.Name(), Range: p.Range(), Size: p.Size(), Used: p.Used()})
	}
	return out, nil
}

// RADIUSServers reports RADIUS server health.
func (c *Core) RADIUSServers(context.Context) ([]RADIUSServer, error) {
	if c.RADIUS == nil {
		return nil, fmt.Errorf("%w: RADIUS is not configured (auth.backend is local)", ErrNotImplemented)
	}
	return c.RADIUS(), nil
}

// Tunnels reports L2TP tunnels.
func (c *Core) Tunnels(context.Context) ([]Tunnel, error) {
	if c.TunnelsFunc == nil {
		return nil, nil
	}
	return c.TunnelsFunc(), nil
}

// Reload re-reads the config.
func (c *Core) Reload(ctx context.Context) error {
	if c.ReloadFunc == nil {
		return fmt.Errorf("%w: reload", ErrNotImplemented)
	}
	return c.ReloadFunc(ctx)
}

// SetLogLevel changes the log level live.
func (c *Core) SetLogLevel(level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	c.LogLevel.Set(l)
	return nil
}

// Version identifies the build.
func (c *Core) Version() Version { return c.VersionInfo }
