package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/bngbox/bngbox/pkg/config"
	"github.com/bngbox/bngbox/pkg/loadgen"
)

func loadgenCommand() *cli.Command {
	return &cli.Command{
		Name:  "loadgen",
		Usage: "emulate PPPoE subscribers against an access concentrator, or L2TP calls against an LNS (--l2tp)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "interface facing the AC (PPPoE mode)"},
			&cli.IntFlag{Name: "sessions", Aliases: []string{"n"}, Value: 10, Usage: "subscribers to emulate"},
			&cli.FloatFlag{Name: "rate", Value: 0, Usage: "new sessions per second (0: as fast as --concurrency allows)"},
			&cli.IntFlag{Name: "concurrency", Value: 100, Usage: "sessions in setup at once"},
			&cli.StringFlag{Name: "user", Value: "user%04d", Usage: "username format (fmt, 1-based index; without a verb: the same name for all)"},
			&cli.StringFlag{Name: "password", Value: "secret", Usage: "password format (fmt, may use the index)"},
			&cli.StringFlag{Name: "auth", Value: "any", Usage: "pap | chap | any"},
			&cli.StringFlag{Name: "vlan", Usage: "VLAN tags, e.g. 100 or 10.100 (QinQ)"},
			&cli.StringFlag{Name: "ping", Usage: "address to ping through each session"},
			&cli.IntFlag{Name: "ping-count", Value: 1, Usage: "echo requests per session"},
			&cli.DurationFlag{Name: "hold", Value: 0, Usage: "keep sessions up this long after setup (-1s: until interrupted)"},
			&cli.DurationFlag{Name: "timeout", Value: 0, Usage: "per-session setup timeout (default 30s)"},
			&cli.IntFlag{Name: "mac-base", Value: 0x42, Usage: "second byte of emulated MACs (run several generators with different values)"},
			&cli.BoolFlag{Name: "tun", Usage: "give each session a TUN device lg<N> with its address and a policy route (table 20000+N), for iperf3 -B <ip>"},
			&cli.StringFlag{Name: "l2tp", Usage: "LAC mode: LNS address (host[:port], port 1701 by default)"},
			&cli.IntFlag{Name: "tunnels", Value: 1, Usage: "LAC mode: tunnels to open; sessions are spread over them"},
			&cli.StringFlag{Name: "secret", Usage: "LAC mode: tunnel secret (empty: no tunnel authentication)"},
			&cli.StringFlag{Name: "l2tp-hostname", Value: "loadgen", Usage: "LAC mode: our Host Name AVP"},
			&cli.BoolFlag{Name: "l2tp-stopccn", Usage: "LAC mode: tear down with StopCCN per tunnel instead of CDN per session"},
			&cli.BoolFlag{Name: "l2tp-sequencing", Usage: "LAC mode: require sequenced data messages"},
			&cli.BoolFlag{Name: "l2tp-proxy-auth", Usage: "LAC mode: send proxy LCP and proxy authentication AVPs (PAP with --auth pap, else CHAP) as if the LAC had authenticated the subscriber"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log failures"},
			&cli.DurationFlag{Name: "ping-interval", Usage: "while holding, keep pinging --ping from every session at this interval and report losses"},
			&cli.BoolFlag{Name: "silent", Usage: "once up, answer and send nothing (no LCP echo replies, no hangup), like a subscriber that lost power"},
			&cli.StringFlag{Name: "hangup", Value: "lcp", Usage: "how subscribers hang up: lcp (LCP Terminate, then PADT) | padt (PADT only)"},
			&cli.FloatFlag{Name: "flood-rate", Usage: "instead of subscribers, flood PADIs from random source MACs at this rate (per second)"},
			&cli.DurationFlag{Name: "flood-duration", Value: 10 * time.Second, Usage: "how long to flood (with --flood-rate)"},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			cfg := loadgen.Config{
				Interface: c.String("interface"), Sessions: c.Int("sessions"), Rate: c.Float("rate"),
				Concurrency: c.Int("concurrency"), UserFormat: c.String("user"), Password: c.String("password"),
				Auth: c.String("auth"), PingCount: c.Int("ping-count"), Hold: c.Duration("hold"),
				Timeout: c.Duration("timeout"), MACBase: byte(c.Int("mac-base")), TUN: c.Bool("tun"),
				PingInterval: c.Duration("ping-interval"), Silent: c.Bool("silent"), Hangup: c.String("hangup"),
			}
			if cfg.TUN {
				cfg.OnTUN = func(name string, ip netip.Addr) { fmt.Printf("tun %s %s up\n", name, ip) }
			}
			if a := c.String("l2tp"); a != "" {
				lns, err := parseLNS(a)
				if err != nil {
					return cli.Exit("--l2tp: "+err.Error(), 2)
				}
				cfg.L2TP = &loadgen.LACConfig{LNS: lns, Tunnels: c.Int("tunnels"), Secret: c.String("secret"),
					HostName: c.String("l2tp-hostname"), StopCCN: c.Bool("l2tp-stopccn"), Sequencing: c.Bool("l2tp-sequencing"),
					ProxyAuth: c.Bool("l2tp-proxy-auth")}
			} else if cfg.Interface == "" {
				return cli.Exit("loadgen: --interface (PPPoE) or --l2tp (LAC) is required", 2)
			}
			if c.Bool("verbose") {
				cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			if v := c.String("vlan"); v != "" {
				r, err := config.ParseVLANRange(v)
				if err != nil || r.OuterLo != r.OuterHi || r.InnerLo != r.InnerHi {
					return cli.Exit(fmt.Sprintf("--vlan %q: want one tag stack such as 100 or 10.100", v), 2)
				}
				cfg.VLANs = []uint16{r.OuterLo}
				if r.QinQ {
					cfg.VLANs = append(cfg.VLANs, r.InnerLo)
				}
			}
			if p := c.String("ping"); p != "" {
				a, err := netip.ParseAddr(p)
				if err != nil {
					return cli.Exit("--ping: "+err.Error(), 2)
				}
				cfg.Ping = a
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if r := c.Float("flood-rate"); r > 0 {
				rep, err := loadgen.Flood(ctx, loadgen.FloodConfig{
					Interface: cfg.Interface, Rate: r, Duration: c.Duration("flood-duration"), VLANs: cfg.VLANs,
				})
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				fmt.Println(rep)
				return nil
			}
			rep, err := loadgen.Run(ctx, cfg)
			if rep != nil {
				fmt.Println(rep)
			}
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if rep.PingSent > 0 && rep.PingRecv < rep.PingSent {
				return cli.Exit(fmt.Sprintf("loadgen: %d of %d pings unanswered", rep.PingSent-rep.PingRecv, rep.PingSent), 1)
			}
			return nil
		},
	}
}

// parseLNS accepts "addr" or "addr:port" (IPv6 in brackets with a port).
func parseLNS(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, 1701), nil
}
