package radius_test

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/aaa/radius"
	"github.com/bngbox/bngbox/pkg/mgmt"
)

// Example shows how the composition root wires the client and the DA
// server, and the shutdown order.
func Example() {
	var api mgmt.API // the daemon core
	log := slog.Default()
	rc, err := radius.New(radius.Config{
		AuthServers:        []radius.Server{{Address: "192.0.2.10", Secret: "s", Priority: 1}},
		AcctServers:        []radius.Server{{Address: "192.0.2.10", Secret: "s"}},
		NASIdentifier:      "bng1",
		SpoolPath:          "/var/lib/bngbox/acct.db",
		Rates:              radius.RateConfig{FilterID: "down/up"},
		KillOnUnackedStart: true,
		Logger:             log,
	})
	if err != nil {
		log.Error("radius", slog.Any("err", err))
		return
	}
	var _ aaa.Authenticator = rc // hand to the session layer
	var _ aaa.Accounter = rc
	rc.OnStartUnacked(func(sid string) {
		_, _ = api.Terminate(context.Background(), mgmt.Selector{Kind: mgmt.BySID, Value: sid}, false)
	})
	_ = rc.Account(&aaa.AcctRecord{Type: aaa.AcctOn, Time: time.Now()})

	da, err := radius.NewDAServer(radius.DAConfig{
		Clients:       []radius.DAClient{{Address: netip.MustParseAddr("192.0.2.10"), Secret: "coa"}},
		NASIdentifier: "bng1",
		Logger:        log,
	}, api, rc.Interpreter())
	if err != nil {
		log.Error("radius dynauth", slog.Any("err", err))
		return
	}

	// Shutdown: sessions stop first (their Stops are spooled), then:
	da.Close()
	_ = rc.Account(&aaa.AcctRecord{Type: aaa.AcctOff, Time: time.Now()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rc.Drain(ctx)
	rc.Close()
}
