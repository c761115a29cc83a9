//go:build integration

package integration

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// BenchmarkIntegrationThroughput measures TCP goodput with iperf3 through
// one unshaped PPPoE session on the userspace dataplane, both directions
// (the shaper lab: loadgen --tun in sub, bngbox in bng, iperf3 -s in inet).
// Both ends of the session are userspace here (the loadgen's TUN too), so
// this is a floor for what a real client sees.
//
//	make build && BNGBOX_BIN=$PWD/bin/bngbox go test -tags integration -run '^$' \
//	  -bench Throughput -benchtime 1x ./test/integration/
func BenchmarkIntegrationThroughput(b *testing.B) {
	l := newLab(b, LabOptions{Extra: "  - {name: fast, password: secret}\n"})
	l.StartDaemon()
	lg := l.StartLoadgen("-n", "1", "--user", "fast", "--tun", "--hold", "-1s", "-v")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := lg.WaitOutput(ctx, " up\n"); err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`tun lg1 (\S+) up`).FindStringSubmatch(lg.Out.String())
	if m == nil {
		b.Fatalf("loadgen did not report its TUN:\n%s", lg.Out.String())
	}
	l.Start(l.Inet, "iperf3", "-s", "-B", inetAddr)
	time.Sleep(300 * time.Millisecond) // iperf3 -s has no readiness signal; run retries
	p := iperf{l: l, src: m[1]}
	for range b.N {
		down, err := p.run(true)
		if err != nil {
			b.Fatal(err)
		}
		up, err := p.run(false)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("one session, TCP goodput: down %.0f Mbit/s, up %.0f Mbit/s", down/1e6, up/1e6)
		b.ReportMetric(down/1e6, "down-Mbit/s")
		b.ReportMetric(up/1e6, "up-Mbit/s")
	}
}
