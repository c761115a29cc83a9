package main

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"

	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/session"
	"github.com/bngbox/bngbox/pkg/telemetry"
)

// daemonTelemetry is the daemon's MQTT telemetry and /metrics wiring.
type daemonTelemetry struct {
	tel *telemetry.Telemetry // nil when both telemetry and metrics are off
	// publishing is true when tel observes sessions (telemetry.enabled);
	// with only metrics.listen set, tel serves /metrics and nothing else.
	publishing bool
	setups     atomic.Uint64 // sessions that came up (start events)
}

// SessionEvent counts setups for bngbox_session_setups_total.
func (t *daemonTelemetry) SessionEvent(ev session.Event) {
	if ev.Kind == session.EventStart {
		t.setups.Add(1)
	}
}

var _ session.Observer = (*daemonTelemetry)(nil)

// telemetryConfig maps the config file's sections onto telemetry.Config.
func telemetryConfig(c *config.Config) telemetry.Config {
	t := c.Telemetry
	tc := telemetry.Config{NAS: c.NAS.Identifier, MetricsListen: c.Metrics.Listen, Prefix: t.Prefix}
	if !t.Enabled {
		return tc // metrics only: no listeners, no store, no bridge
	}
	tc.Listen, tc.TLSListen, tc.TLSCert, tc.TLSKey, tc.WSListen = t.Listen, t.TLSListen, t.TLSCert, t.TLSKey, t.WSListen
	for _, o := range t.Operators {
		tc.Operators = append(tc.Operators, telemetry.Account{User: o.User, Password: o.Password})
	}
	tc.Anonymous = t.Anonymous
	tc.AuthCacheTTL = t.AuthCacheTTL
	if tc.AuthCacheTTL == 0 {
		tc.AuthCacheTTL = -1 // config: 0 = no cache; telemetry: 0 = default
	}
	tc.AuthTimeout, tc.FailWindow, tc.FailPerUser, tc.FailPerAddr = t.AuthTimeout, t.FailWindow, t.FailPerUser, t.FailPerAddr
	tc.QueueLen = t.QueueLength
	tc.StorePath = t.Store
	if b := t.Bridge; b.Address != "" {
		tc.Bridge = &telemetry.BridgeConfig{
			Address: b.Address, ClientID: b.ClientID, Username: b.Username, Password: b.Password,
			TLS: b.TLS, CAFile: b.CAFile, ServerName: b.ServerName, CertFile: b.CertFile, KeyFile: b.KeyFile,
			QueuePath: b.Queue, QueueMax: b.QueueMax, RetryInterval: b.RetryInterval,
		}
	}
	return tc
}

// startTelemetry builds and starts the broker (and /metrics) before the
// session manager, which gets it as an Observer. Customers log in with
// their PPP credentials through the daemon's Authenticator (local users or
// RADIUS Access-Request).
func (d *daemon) startTelemetry() error {
	d.telemetry = &daemonTelemetry{publishing: d.cfg.Telemetry.Enabled}
	if !d.cfg.Telemetry.Enabled && d.cfg.Metrics.Listen == "" {
		return nil
	}
	tc := telemetryConfig(d.cfg)
	for _, p := range []string{tc.StorePath, bridgeQueue(tc)} {
		if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				return fmt.Errorf("telemetry: %w", err)
			}
		}
	}
	tel, err := telemetry.New(tc, d.authenticator(), d.log)
	if err != nil {
		return err
	}
	d.telemetry.tel = tel
	if err := tel.Start(); err != nil {
		return err
	}
	d.log.Info("telemetry started", "enabled", d.cfg.Telemetry.Enabled, "mqtt", tel.Addr(), "mqtt_tls", tel.TLSAddr(),
		"mqtt_ws", tel.WSAddr(), "metrics", tel.MetricsAddr(), "bridge", tc.Bridge != nil)
	return nil
}

func bridgeQueue(tc telemetry.Config) string {
	if tc.Bridge == nil {
		return ""
	}
	return tc.Bridge.QueuePath
}

// observers are the session manager's Observers.
func (d *daemon) observers() []session.Observer {
	obs := []session.Observer{d.telemetry}
	if d.telemetry.tel != nil && d.telemetry.publishing {
		obs = append(obs, d.telemetry.tel)
	}
	return obs
}

// telemetryRunning runs once the daemon is up: no PPP session survives a
// restart, so every line stored online is marked offline; and /metrics gets
// its numbers from the session manager and the packet path.
func (d *daemon) telemetryRunning() {
	tel := d.telemetry.tel
	if tel == nil {
		return
	}
	if d.telemetry.publishing {
		if n, err := tel.Reconcile(nil); err != nil {
			d.log.Warn("telemetry: reconcile", slog.Any("err", err))
		} else if n > 0 {
			d.log.Info("telemetry: lines that went down while bngbox was stopped marked offline", "users", n)
		}
	}
	tel.SetMetricsSource(d.metricsSource)
}

// metricsSource is called on every /metrics scrape.
func (d *daemon) metricsSource() telemetry.SourceStats {
	k := d.mgr.Counters()
	drops := maps.Clone(k.Drops)
	if drops == nil {
		drops = map[string]uint64{}
	}
	for r, n := range d.drops() {
		drops[r] += n
	}
	return telemetry.SourceStats{
		Sessions:      map[string]int{"starting": k.Starting, "active": k.Active, "finishing": k.Finishing},
		SessionSetups: d.telemetry.setups.Load(),
		AuthAccept:    k.AuthOK, AuthReject: k.AuthFail,
		Drops: drops,
	}
}

// closeTelemetry runs after the session manager has stopped, so the stop
// events of a shutdown are published (and stored) before the broker closes.
func (d *daemon) closeTelemetry() {
	if d.telemetry == nil || d.telemetry.tel == nil {
		return
	}
	if err := d.telemetry.tel.Close(); err != nil {
		d.log.Warn("telemetry: close", slog.Any("err", err))
	}
}

// telemetryNeedsRestart names the telemetry keys a reload cannot apply.
func telemetryNeedsRestart(old, cfg *config.Config) []string {
	var keys []string
	if !reflect.DeepEqual(old.Telemetry, cfg.Telemetry) {
		keys = append(keys, "telemetry")
	}
	if old.Metrics != cfg.Metrics {
		keys = append(keys, "metrics")
	}
	if old.NAS.Identifier != cfg.NAS.Identifier && cfg.Telemetry.Enabled {
		keys = append(keys, "nas.identifier (telemetry topics)")
	}
	return keys
}
