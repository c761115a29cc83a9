package radius

import (
	"context"
	"fmt"
	"sync"

	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// fakeAPI is a fake of our own mgmt.API recording what CoA/DM asked for.
type fakeAPI struct {
	mu       sync.Mutex
	sessions []session.Info
	calls    []string
}

func (a *fakeAPI) record(s string) {
	a.mu.Lock()
	a.calls = append(a.calls, s)
	a.mu.Unlock()
}

func (a *fakeAPI) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func (a *fakeAPI) count(sel mgmt.Selector) int {
	n := 0
	for i := range a.sessions {
		if sel.Match(&a.sessions[i]) {
			n++
		}
	}
	return n
}

func (a *fakeAPI) Sessions(context.Context) ([]session.Info, error) { return a.sessions, nil }
func (a *fakeAPI) Terminate(_ context.Context, sel mgmt.Selector, hard bool) (int, error) {
	n := a.count(sel)
	a.record(fmt.Sprintf("terminate %s=%s hard=%v n=%d", sel.Kind, sel.Value, hard, n))
	return n, nil
}
func (a *fakeAPI) SetRates(_ context.Context, sel mgmt.Selector, r rate.Rates, src string) (int, error) {
	n := a.count(sel)
	a.record(fmt.Sprintf("setrates %s=%s %s %s n=%d", sel.Kind, sel.Value, r, src, n))
	return n, nil
}
func (a *fakeAPI) Change(_ context.Context, sel mgmt.Selector, c session.Change, src string) (int, error) {
	n := a.count(sel)
	a.record(fmt.Sprintf("change %s=%s %s %s n=%d", sel.Kind, sel.Value, changeString(c), src, n))
	return n, nil
}
func (a *fakeAPI) RestoreRates(context.Context, mgmt.Selector, string) (int, error) { return 0, nil }
func (a *fakeAPI) Stats(context.Context) (mgmt.Stats, error)                        { return mgmt.Stats{}, nil }
func (a *fakeAPI) Pools(context.Context) ([]mgmt.Pool, error)                       { return nil, nil }
func (a *fakeAPI) RADIUSServers(context.Context) ([]mgmt.RADIUSServer, error)       { return nil, nil }
func (a *fakeAPI) Tunnels(context.Context) ([]mgmt.Tunnel, error)                   { return nil, nil }
func (a *fakeAPI) Reload(context.Context) error                                     { return nil }
func (a *fakeAPI) SetLogLevel(string) error                                         { return nil }
func (a *fakeAPI) Version() mgmt.Version                                            { return mgmt.Version{} }
