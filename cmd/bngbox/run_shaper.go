package main

import (
	"fmt"

	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/session"
	"github.com/bngbox/bngbox/shaper"
)

// shaperConfig maps the shaper section onto shaper.Config. The session
// interfaces live in the daemon's own namespace, so Netns stays "".
func shaperConfig(c *config.Config) (shaper.Config, error) {
	up, err := shaper.ParseUpstream(c.Shaper.Upstream)
	if err != nil {
		return shaper.Config{}, err
	}
	return shaper.Config{
		Upstream:  up,
		BurstTime: c.Shaper.BurstTime, PoliceBurstTime: c.Shaper.PoliceBurstTime,
		Latency: c.Shaper.Latency,
		MTU:     uint32(c.PPP.MRU),
	}, nil
}

// startShaper builds the netlink shaper when shaper.enabled is set. Its
// start-up probe removes IFBs left by a crashed run and, in police mode on a
// kernel without act_police, fails naming the module. The result is nil (an
// untyped nil session.Shaper) when shaping is off.
func (d *daemon) startShaper() (session.Shaper, error) {
	if !d.cfg.Shaper.Enabled {
		return nil, nil
	}
	sc, err := shaperConfig(d.cfg)
	if err != nil {
		return nil, fmt.Errorf("shaper.upstream: %w", err)
	}
	sc.Logger = d.log.With("subsystem", "shaper")
	sh, err := shaper.New(sc)
	if err != nil {
		return nil, fmt.Errorf("shaper: %w", err)
	}
	d.shaper = sh
	d.log.Info("shaper enabled", "upstream", sh.Mode().String(), "default", d.cfg.Shaper.Default,
		"mandatory", d.cfg.Shaper.Mandatory, "burst_time", sc.BurstTime, "latency", sc.Latency)
	return sh, nil
}

// stopShaper runs after every session ended (their Clear jobs have run):
// it deletes the shared IFB devices and logs the shaper's counters.
func (d *daemon) stopShaper() {
	if d.shaper == nil {
		return
	}
	st := d.shaper.Stats()
	d.log.Info("shaper stopped", "sets", st.Sets, "clears", st.Clears, "failed", st.Failed, "resyncs", st.Resyncs, "still_shaped", st.Shaped)
	if err := d.shaper.Close(); err != nil {
		d.log.Warn("shaper close", "err", err)
	}
	d.shaper = nil
}
