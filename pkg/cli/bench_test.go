package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/session"
)

// BenchmarkShowSessions10k renders `show sessions` over 10,000 sessions
// (issue 7 wants well under a second per run).
func BenchmarkShowSessions10k(b *testing.B) {
	api := &fakeAPI{}
	base := netip.MustParseAddr("100.64.0.0")
	for i := range 10_000 {
		base = base.Next()
		api.sessions = append(api.sessions, session.Info{
			ID: fmt.Sprintf("%016x", i), Type: "pppoe", State: session.Active, Ifname: fmt.Sprintf("ppp%d", i),
			User: fmt.Sprintf("user%05d@isp", i), IP: base, Started: testNow.Add(-time.Duration(i) * time.Second),
			CallingSID: "02:00:00:00:00:01", SID: uint16(i),
		})
	}
	for _, line := range []string{"show sessions", "show sessions json", "show sessions match username 9$ order uptime"} {
		b.Run(line, func(b *testing.B) {
			for b.Loop() {
				if _, err := testEnv.exec(context.Background(), api, strings.Fields(line), io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
