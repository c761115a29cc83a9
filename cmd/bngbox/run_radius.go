package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/aaa/radius"
	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/mgmt"
)

// radiusDrainTimeout bounds how long stop waits for the accounting spool to
// empty; whatever is left is sent after the next start.
const radiusDrainTimeout = 5 * time.Second

// radiusParts is the RADIUS client and the Dynamic Authorization server,
// when the config uses them.
type radiusParts struct {
	client *radius.Client
	dae    *radius.DAServer
	acct   bool // the client is the Accounter (Accounting-On/Off, drain)
}

// usesRADIUS reports whether auth or accounting goes to RADIUS or the
// Dynamic Authorization listener is configured. With only the listener
// (local auth, file or log accounting: CoA from a policy server) the client
// has no servers; it carries the dictionaries and rate attributes the
// listener interprets requests with. Before, such a listener was silently
// not started.
func usesRADIUS(c *config.Config) bool {
	return c.Auth.Backend == "radius" || c.Accounting.Backend == "radius" || c.RADIUS.DAE.Listen != ""
}

// radiusConfig maps the radius section onto the client's config. Only the
// roles in use get servers, so an unused acct-servers list opens no spool.
func radiusConfig(c *config.Config, log *slog.Logger) radius.Config {
	r := &c.RADIUS
	rc := radius.Config{
		Timeout: r.Timeout, Retries: r.Retries, DeadTime: r.DeadTime, MaxInFlight: r.MaxInFlight,
		NASIdentifier: c.NAS.Identifier, NASIPAddress: c.NASIPAddress(),
		SpoolPath: r.SpoolPath, SpoolMaxBytes: int64(r.SpoolMaxMB) << 20,
		Rates:        radius.RateConfig{AttrUp: r.Rates.AttrUp, AttrDown: r.Rates.AttrDown, FilterID: r.Rates.FilterID},
		Dictionaries: r.Dictionaries, KillOnUnackedStart: r.KillOnUnackedStart,
		AllowMissingReplyMessageAuthenticator: r.AllowMissingReplyMessageAuthenticator,
		Logger:                                log.With("subsys", "radius"),
	}
	if rc.Retries == 0 {
		rc.Retries = -1 // the client reads 0 as "default"
	}
	servers := func(list []config.RADIUSServer) []radius.Server {
		var out []radius.Server
		for _, s := range list {
			out = append(out, radius.Server{Address: s.Address, Secret: s.Secret, Priority: s.Priority})
		}
		return out
	}
	if c.Auth.Backend == "radius" {
		rc.AuthServers = servers(r.AuthServers)
	}
	if c.Accounting.Backend == "radius" {
		rc.AcctServers = servers(r.AcctServers)
	}
	return rc
}

// startRADIUS builds the client before the session manager (it is the
// Authenticator and/or Accounter) and reports Accounting-On. The spool
// resumes whatever an earlier run left unacknowledged.
func (d *daemon) startRADIUS() error {
	if !usesRADIUS(d.cfg) {
		return nil
	}
	if d.cfg.Accounting.Backend == "radius" {
		if err := os.MkdirAll(filepath.Dir(d.cfg.RADIUS.SpoolPath), 0o750); err != nil {
			return fmt.Errorf("radius.spool-path: %w", err)
		}
	}
	rc, err := radius.New(radiusConfig(d.cfg, d.log))
	if err != nil {
		return err
	}
	d.radius.client = rc
	if d.cfg.Accounting.Backend == "radius" {
		d.radius.acct = true
		d.acct = rc
		if err := rc.Account(&aaa.AcctRecord{Type: aaa.AcctOn, Time: time.Now()}); err != nil {
			d.log.Error("radius: Accounting-On not spooled", "err", err)
		}
	}
	return nil
}

// authenticator is the backend sessions authenticate against.
func (d *daemon) authenticator() aaa.Authenticator {
	if d.cfg.Auth.Backend == "radius" {
		return d.radius.client
	}
	return d.local
}

// startDAE runs once d.core exists: show radius, the unacked-Start kill
// switch and the CoA/Disconnect server all go through the management API.
func (d *daemon) startDAE() error {
	rc := d.radius.client
	if rc == nil {
		return nil
	}
	d.core.RADIUS = rc.Servers
	api := mgmt.API(d.core)
	if d.cfg.RADIUS.KillOnUnackedStart {
		rc.OnStartUnacked(func(sid string) {
			// Called from the sender goroutine: never block it.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				d.log.Warn("radius: Accounting-Start not acknowledged; ending the session", "id", sid)
				if _, err := api.Terminate(ctx, mgmt.Selector{Kind: mgmt.BySID, Value: sid}, false); err != nil {
					d.log.Info("radius: unacked session not terminated", "id", sid, "err", err)
				}
			}()
		})
	}
	dae := d.cfg.RADIUS.DAE
	if dae.Listen == "" {
		return nil
	}
	dc := radius.DAConfig{
		Listen: dae.Listen, ReplayWindow: dae.ReplayWindow,
		RequireEventTimestamp: dae.RequireEventTimestamp, RequireMessageAuthenticator: dae.RequireMessageAuthenticator,
		NASIdentifier: d.cfg.NAS.Identifier, NASIPAddress: d.cfg.NASIPAddress(),
		Logger: d.log.With("subsys", "dae"),
	}
	for _, c := range dae.Clients {
		dc.Clients = append(dc.Clients, radius.DAClient{Address: netip.MustParseAddr(c.Address), Secret: c.Secret})
	}
	da, err := radius.NewDAServer(dc, api, rc.Interpreter())
	if err != nil {
		return fmt.Errorf("radius.dae.listen: %w", err)
	}
	d.radius.dae = da
	d.log.Info("radius: dynamic authorization listening", "addr", da.Addr().String(), "clients", len(dc.Clients))
	return nil
}

// stopDAE closes the CoA/Disconnect server before sessions are stopped, so
// nothing changes them while they end.
func (d *daemon) stopDAE() {
	if d.radius.dae != nil {
		d.radius.dae.Close()
		d.radius.dae = nil
	}
}

// stopRADIUS runs after every session ended (their Stops are spooled):
// Accounting-Off, drain the spool for a bounded time, close. Records left
// stay in the spool for the next start.
func (d *daemon) stopRADIUS() {
	d.stopDAE()
	rc := d.radius.client
	if rc == nil {
		return
	}
	if d.radius.acct {
		if err := rc.Account(&aaa.AcctRecord{Type: aaa.AcctOff, Time: time.Now()}); err != nil {
			d.log.Error("radius: Accounting-Off not spooled", "err", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), radiusDrainTimeout)
		if err := rc.Drain(ctx); err != nil {
			d.log.Warn("radius: accounting records left in the spool for the next start", "counters", rc.Counters())
		}
		cancel()
	}
	rc.Close()
}

// radiusNeedsRestart names RADIUS keys a reload cannot apply.
func radiusNeedsRestart(old, cur *config.Config) []string {
	var keys []string
	if old.Auth.Backend != cur.Auth.Backend {
		keys = append(keys, "auth.backend")
	}
	if old.Accounting.Backend != cur.Accounting.Backend || old.Accounting.File != cur.Accounting.File {
		keys = append(keys, "accounting.backend/file")
	}
	if fmt.Sprint(old.RADIUS) != fmt.Sprint(cur.RADIUS) {
		keys = append(keys, "radius")
	}
	return keys
}
