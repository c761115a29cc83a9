package telemetry_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/session"
	"github.com/bngbox/bngbox/pkg/telemetry"
)

// localUsers stands in for the daemon's local users file or RADIUS client.
type localUsers map[string]string

func (u localUsers) Authenticate(_ context.Context, req *aaa.Request) (*aaa.Reply, error) {
	if pw, ok := u[req.User]; ok && req.Method == aaa.PAP && pw == req.Password {
		return &aaa.Reply{}, nil
	}
	return nil, &aaa.Reject{}
}

// Example shows (compiled, not run) how the daemon wires telemetry: build it before the session
// manager (it is one of its Observers), start it, reconcile once the
// sessions are known, and close it after the session manager.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	tel, err := telemetry.New(telemetry.Config{
		NAS:       "nas1",
		Listen:    "127.0.0.1:0", // telemetry.DefaultListen in the daemon
		StorePath: "/var/lib/bngbox/telemetry.db",
		Operators: []telemetry.Account{{User: "noc", Password: "s3cret"}},
	}, localUsers{"alice": "secret"}, log)
	if err != nil {
		log.Error("telemetry", slog.Any("err", err))
		return
	}
	defer tel.Close() // last: after the session manager has stopped
	if err := tel.Start(); err != nil {
		log.Error("telemetry", slog.Any("err", err))
		return
	}

	var observers []session.Observer = []session.Observer{tel} // session.Deps.Observers
	_ = observers

	// After start-up: no PPP session survived the restart.
	if _, err := tel.Reconcile(nil); err != nil {
		log.Error("telemetry", slog.Any("err", err))
	}
	// Numbers from the session manager for /metrics (any time, e.g. once it exists).
	tel.SetMetricsSource(func() telemetry.SourceStats {
		return telemetry.SourceStats{Sessions: map[string]int{"active": 0}}
	})
}
