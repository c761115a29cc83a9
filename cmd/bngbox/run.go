package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bngbox/bngbox/pkg/aaa"
	bbcli "github.com/bngbox/bngbox/pkg/cli"
	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/dataplane/kernel"
	"github.com/bngbox/bngbox/pkg/dataplane/tun"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
	"github.com/bngbox/bngbox/pppoe"
	"github.com/bngbox/bngbox/shaper"
)

var configFlag = &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "/etc/bngbox/bngbox.yaml", Usage: "config file"}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:   "run",
		Usage:  "run the BNG daemon",
		Flags:  []cli.Flag{configFlag},
		Action: func(ctx context.Context, c *cli.Command) error { return runDaemon(ctx, c.String("config")) },
	}
}

// daemon holds what run wires together; run.go is the only place that
// builds and connects subsystems.
type daemon struct {
	cfgPath string
	cfg     *config.Config
	log     *slog.Logger
	level   *slog.LevelVar
	dp      dataplane.Dataplane
	disc    *pppoe.Server
	mgr     *session.Manager
	local   *aaa.Local
	acct    aaa.Accounter
	pools   []*ippool.Pool
	core    *mgmt.Core
	sock    *bbcli.SocketServer
	cliStop func() // stops the telnet and SSH shells and waits for them (run_cli.go)
	radius  radiusParts
	shaper  *shaper.Netlink // nil unless shaper.enabled
	lns     *lnsRunner      // nil unless l2tp.enabled
	// telemetry is the MQTT broker and /metrics (run_telemetry.go).
	telemetry *daemonTelemetry

	portsMu sync.Mutex
	ports   map[string]dataplane.Port
	// pppoeSessions finds a session when its peer sends PADT: "port/sid" -> *session.Session.
	pppoeSessions sync.Map
}

func newLogger(c *config.Config, level *slog.LevelVar) *slog.Logger {
	level.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func runDaemon(ctx context.Context, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	d := &daemon{cfgPath: path, cfg: cfg, level: new(slog.LevelVar), ports: map[string]dataplane.Port{}}
	d.log = newLogger(cfg, d.level)
	slog.SetDefault(d.log)
	startPprof(d.log)
	if err := d.start(); err != nil {
		d.stop()
		return cli.Exit("start: "+err.Error(), 1)
	}
	d.log.Info("bngbox running", "version", version, "dataplane", d.dp.Kind(), "interfaces", len(cfg.PPPoE.Interfaces), "socket", cfg.CLI.Socket)

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				if err := d.reload(); err != nil {
					d.log.Error("reload failed; keeping the running config", "err", err)
				}
				continue
			}
			d.log.Info("stopping", "signal", s.String())
		case <-ctx.Done():
		}
		d.stop()
		return nil
	}
}

func (d *daemon) start() error {
	cfg := d.cfg
	kind, why, err := selectDataplane(cfg.Dataplane)
	if err != nil {
		return err
	}
	d.log.Info("dataplane selected", "kind", kind, "why", why)
	if kind == dataplane.KindKernel {
		kdp, err := kernel.New(d.log)
		if err != nil {
			return fmt.Errorf("kernel dataplane: %w", err)
		}
		d.dp = kdp
	} else {
		tdp, err := tun.New(d.log, tun.Options{IdleDevices: cfg.Userspace.UnitCache})
		if err != nil {
			return fmt.Errorf("userspace dataplane: %w", err)
		}
		d.dp = tdp
		if cfg.Userspace.UnitCachePrefill && cfg.Userspace.UnitCache > 0 {
			var iid uint64
			if cfg.PPP.IPv6 {
				iid, _ = config.ParseIntfID(cfg.PPP.IPv6IntfID) // validated; 0 for random
			}
			go d.prefillUnits(tdp, cfg.PPP.MRU, iid)
		}
	}

	for _, p := range cfg.Pools {
		first, last, _ := config.ParsePoolRange(p.Range)
		pool, err := ippool.New(p.Name, first, last)
		if err != nil {
			return err
		}
		// Our own IPCP address is never handed to a subscriber.
		if local := netip.MustParseAddr(cfg.PPP.LocalIP); pool.Contains(local) {
			pool.Reserve(local)
		}
		d.pools = append(d.pools, pool)
	}
	if err := d.startRADIUS(); err != nil {
		return err
	}
	if cfg.Auth.Backend == "local" {
		if d.local, err = aaa.NewLocal(cfg.Auth.UsersFile); err != nil {
			return fmt.Errorf("auth.users-file: %w", err)
		}
	}
	switch cfg.Accounting.Backend {
	case "radius": // d.acct set by startRADIUS
	case "file":
		fa, err := aaa.NewFileAccounter(cfg.Accounting.File)
		if err != nil {
			return fmt.Errorf("accounting.file: %w", err)
		}
		d.acct = fa
	default:
		d.acct = aaa.LogAccounter{Log: d.log}
	}

	if err := d.startTelemetry(); err != nil {
		return err
	}
	sh, err := d.startShaper()
	if err != nil {
		return err
	}
	d.mgr = session.NewManager(sessionConfig(cfg), session.Deps{
		Log: d.log, Dataplane: d.dp, Auth: d.authenticator(), Acct: d.acct, Pools: d.pools, Shaper: sh, Observers: d.observers(),
	})
	d.disc, err = pppoe.New(discoveryConfig(cfg))
	if err != nil {
		return err
	}
	for _, in := range cfg.PPPoE.Interfaces {
		port, err := d.dp.OpenPort(in.Name, d.onDiscovery)
		if err != nil {
			return fmt.Errorf("pppoe.interfaces %s: %w", in.Name, err)
		}
		d.portsMu.Lock()
		d.ports[in.Name] = port
		d.portsMu.Unlock()
	}

	d.core = &mgmt.Core{
		Manager: d.mgr, AddrPools: d.pools, LogLevel: d.level, Started: time.Now(),
		ReloadFunc:  func(context.Context) error { return d.reload() },
		DropsFunc:   d.drops,
		VersionInfo: mgmt.Version{Version: version, GoVersion: runtime.Version(), Dataplane: d.dp.Kind()},
	}
	if err := d.startL2TP(); err != nil {
		return err
	}
	if err := d.startDAE(); err != nil {
		return err
	}
	if err := d.startCLI(); err != nil {
		return err
	}
	d.telemetryRunning()
	return nil
}

// stop tears down in dependency order: no new management requests, every
// session ended (PADT, Acct-Stop) and its shaping cleared, then the
// shaper, the dataplane and accounting.
func (d *daemon) stop() {
	d.stopCLI()
	d.stopDAE()
	if d.mgr != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.mgr.Shutdown(ctx)
		cancel()
		if err != nil {
			d.log.Warn("shutdown", "err", err)
		} else {
			d.stopShaper() // only once no Set/Clear can still be running
		}
	} else {
		d.stopShaper()
	}
	if d.lns != nil {
		d.lns.stop()
	}
	d.closeTelemetry()
	d.stopRADIUS()
	if d.dp != nil {
		d.dp.Close()
	}
	if c, ok := d.acct.(interface{ Close() error }); ok {
		c.Close()
	}
}

// reload re-reads the config file and applies what can change live: log
// level, discovery policy (AC-Name, services, limits, VLANs), PPP policy for
// new sessions, local users.
func (d *daemon) reload() error {
	cfg, err := config.Load(d.cfgPath)
	if err != nil {
		return err
	}
	var needRestart []string
	if cfg.Dataplane != d.cfg.Dataplane {
		needRestart = append(needRestart, "dataplane")
	}
	if cfg.Userspace != d.cfg.Userspace {
		needRestart = append(needRestart, "userspace")
	}
	if fmt.Sprint(interfaceNames(cfg)) != fmt.Sprint(interfaceNames(d.cfg)) {
		needRestart = append(needRestart, "pppoe.interfaces (names)")
	}
	if fmt.Sprint(cfg.Pools) != fmt.Sprint(d.cfg.Pools) {
		needRestart = append(needRestart, "pools")
	}
	if l2tpConfigChanged(cfg.L2TP, d.cfg.L2TP) {
		needRestart = append(needRestart, "l2tp")
	}
	if cfg.CLI != d.cfg.CLI {
		needRestart = append(needRestart, "cli")
	}
	needRestart = append(needRestart, telemetryNeedsRestart(d.cfg, cfg)...)
	needRestart = append(needRestart, radiusNeedsRestart(d.cfg, cfg)...)
	if d.local != nil {
		if err := d.local.Reload(); err != nil {
			return fmt.Errorf("auth.users-file: %w", err)
		}
	}
	if err := d.disc.SetConfig(discoveryConfig(cfg)); err != nil {
		return err
	}
	d.mgr.SetConfig(sessionConfig(cfg))
	d.level.UnmarshalText([]byte(cfg.Log.Level))
	d.cfg = cfg
	d.log.Info("config reloaded", "file", d.cfgPath, "auth", cfg.Auth.Backend)
	if len(needRestart) > 0 {
		d.log.Warn("config changes that need a restart were not applied", "keys", needRestart)
	}
	return nil
}

func interfaceNames(c *config.Config) []string {
	var n []string
	for _, in := range c.PPPoE.Interfaces {
		n = append(n, in.Name)
	}
	return n
}

func (d *daemon) drops() map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range d.disc.Drops() {
		out["pppoe-"+k] += v
	}
	if d.lns != nil {
		d.lns.drops(out)
	}
	d.portsMu.Lock()
	defer d.portsMu.Unlock()
	for _, p := range d.ports {
		for k, v := range p.Drops() {
			out["dataplane-"+k] += v
		}
	}
	return out
}

func sessionConfig(c *config.Config) session.Config {
	sc := session.Config{
		PPP: session.PPPConfig{
			MRU: c.PPP.MRU, EchoInterval: c.PPP.LCPEchoInterval, EchoFailure: c.PPP.LCPEchoFailure,
			RestartTimer: c.PPP.RestartTimer, MaxConfigure: c.PPP.MaxConfigure, MaxFailure: c.PPP.MaxFailure,
			MaxTerminate: c.PPP.MaxTerminate, AuthTimeout: c.PPP.AuthTimeout,
			LocalIP: netip.MustParseAddr(c.PPP.LocalIP), IPv6: c.PPP.IPv6,
		},
		InterimInterval: c.Accounting.InterimInterval,
		ShapeMandatory:  c.Shaper.Mandatory,
		ShapeDefer:      c.Shaper.SetupDefer,
		CalledStationID: c.NAS.Identifier,
	}
	for _, a := range c.PPP.Auth {
		if a == "pap" {
			sc.PPP.Auth = append(sc.PPP.Auth, aaa.PAP)
		} else {
			sc.PPP.Auth = append(sc.PPP.Auth, aaa.CHAP)
		}
	}
	sc.PPP.IPv6IntfID, _ = config.ParseIntfID(c.PPP.IPv6IntfID) // validated
	for _, s := range c.PPP.DNS {
		sc.PPP.DNS = append(sc.PPP.DNS, netip.MustParseAddr(s))
	}
	if c.Shaper.Default != "" {
		sc.DefaultRates, _ = rate.Parse(c.Shaper.Default)
	}
	return sc
}

func discoveryConfig(c *config.Config) pppoe.Config {
	vlans := map[string][]config.VLANRange{}
	for _, in := range c.PPPoE.Interfaces {
		specs := in.VLANs
		if len(specs) == 0 {
			specs = []string{"untagged"}
		}
		for _, s := range specs {
			r, _ := config.ParseVLANRange(s)
			vlans[in.Name] = append(vlans[in.Name], r)
		}
	}
	return pppoe.Config{
		ACName: c.PPPoE.ACName, ServiceNames: c.PPPoE.ServiceNames,
		AcceptAnyService: c.PPPoE.AcceptAnyService, AcceptEmptyService: c.PPPoE.AcceptEmptyService,
		MaxSessions: c.PPPoE.MaxSessions, MaxPerMAC: c.PPPoE.MaxSessionsPerMAC,
		PADIRatePerMAC: c.PPPoE.PADIRatePerMAC, PADIRateGlobal: c.PPPoE.PADIRateGlobal,
		CookieTTL: c.PPPoE.CookieTTL,
		VLANFilter: func(port string, tags []uint16) bool {
			for _, r := range vlans[port] {
				if r.Match(tags) {
					return true
				}
			}
			return false
		},
	}
}

// onDiscovery runs on a port's reader goroutine for every discovery frame.
func (d *daemon) onDiscovery(port dataplane.Port, frame []byte) {
	reply, ev := d.disc.Handle(time.Now(), port.Name(), port.MAC(), frame)
	if reply != nil {
		if err := port.WriteFrame(reply); err != nil {
			d.log.Debug("discovery reply not sent", "port", port.Name(), "err", err)
		}
	}
	switch ev := ev.(type) {
	case *pppoe.NewSession:
		d.startPPPoE(port, ev)
	case *pppoe.PeerTerminated:
		d.peerTerminated(ev)
	}
}

// pppoeAccess is a session's way back to discovery: PADT and ID release.
type pppoeAccess struct {
	d    *daemon
	port dataplane.Port
	ev   pppoe.NewSession
}

func (a *pppoeAccess) Hangup(message string, peerGone bool) {
	if peerGone {
		a.d.disc.Release(a.port.Name(), a.ev.SessionID)
		return
	}
	if frame := a.d.disc.PADT(a.port.Name(), a.port.MAC(), a.ev.Peer, a.ev.VLANs, a.ev.SessionID, message); frame != nil {
		a.port.WriteFrame(frame)
	}
	a.d.disc.Release(a.port.Name(), a.ev.SessionID)
}

func sidKey(port string, sid uint16) string { return port + "/" + strconv.Itoa(int(sid)) }

func (d *daemon) startPPPoE(port dataplane.Port, ev *pppoe.NewSession) {
	acc := &pppoeAccess{d: d, port: port, ev: *ev}
	nasPortID := port.Name()
	for i, v := range ev.VLANs {
		sep := ":"
		if i > 0 {
			sep = "."
		}
		nasPortID += sep + strconv.Itoa(int(v))
	}
	key := sidKey(port.Name(), ev.SessionID)
	p := session.Params{
		Type: "pppoe", Port: port.Name(), MAC: ev.Peer, VLANs: ev.VLANs, SID: ev.SessionID,
		MaxPayload: int(ev.MaxPayload), NASPortID: nasPortID, NASPort: uint32(ev.SessionID),
		PortType: aaa.PortEthernet, CallingSID: ev.Peer.String(),
		DP: func(control func(uint16, []byte)) (dataplane.Session, error) {
			return d.dp.NewPPPoESession(dataplane.PPPoEParams{Port: port, Peer: ev.Peer, VLANs: ev.VLANs, VLANProtos: ev.TPIDs, SessionID: ev.SessionID, Control: control})
		},
		Access: accessFunc(func(msg string, peerGone bool) {
			d.pppoeSessions.Delete(key)
			acc.Hangup(msg, peerGone)
		}),
	}
	s, err := d.mgr.Start(p)
	if err != nil {
		d.log.Warn("session refused", "port", port.Name(), "mac", ev.Peer, "err", err)
		acc.Hangup("session refused", false)
		return
	}
	d.pppoeSessions.Store(key, s)
}

func (d *daemon) peerTerminated(ev *pppoe.PeerTerminated) {
	if v, ok := d.pppoeSessions.LoadAndDelete(sidKey(ev.Port, ev.SessionID)); ok {
		v.(*session.Session).PeerHangup()
	}
}

type accessFunc func(string, bool)

func (f accessFunc) Hangup(msg string, peerGone bool) { f(msg, peerGone) }

// selectDataplane applies dataplane: auto|kernel|userspace.
func selectDataplane(mode string) (kind, why string, err error) {
	return dataplane.Select(mode)
}

// prefillUnits fills the userspace dataplane's unit cache in the background
// (userspace.unit-cache-prefill). The whole process is in one network
// namespace, so any thread may create the devices.
func (d *daemon) prefillUnits(tdp *tun.Dataplane, mtu int, iid uint64) {
	t0 := time.Now()
	n, err := tdp.Prefill(mtu, iid)
	if err != nil {
		d.log.Warn("unit cache prefill stopped", "devices", n, slog.Any("err", err))
		return
	}
	d.log.Info("unit cache prefilled", "devices", n, "took", time.Since(t0).Round(time.Millisecond))
}
