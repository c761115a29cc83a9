package telemetry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// users is a map-backed aaa.Authenticator that counts its calls.
type users struct {
	mu    sync.Mutex
	pw    map[string]string
	down  bool // answer with a non-reject error
	calls int
	last  aaa.Request
}

func (u *users) Authenticate(_ context.Context, req *aaa.Request) (*aaa.Reply, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	u.last = *req
	if u.down {
		return nil, errors.New("radius: no server answered")
	}
	if req.Method != aaa.PAP {
		return nil, &aaa.Reject{Message: "pap only"}
	}
	if pw, ok := u.pw[req.User]; ok && pw == req.Password {
		return &aaa.Reply{}, nil
	}
	return nil, &aaa.Reject{}
}

func (u *users) nCalls() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

func testAccess(anon bool) *access {
	c := Config{NAS: "nas1", Anonymous: anon, Operators: []Account{{User: "noc", Password: "ops"}}}.withDefaults()
	return &access{topics: newTopics(c.Prefix, c.NAS), operators: operatorMap(c.Operators), anonymous: anon,
		logins: newLoginChecker(&users{pw: map[string]string{"alice": "secret"}}, c, time.Now), log: discard()}
}

func TestACL(t *testing.T) {
	tests := []struct {
		name  string
		anon  bool
		user  string
		topic string
		write bool
		want  bool
	}{
		{"customer own state", false, "alice", "bngbox/nas1/session/alice/state", false, true},
		{"customer own subtree filter", false, "alice", "bngbox/nas1/session/alice/#", false, true},
		{"customer own level filter", false, "alice", "bngbox/nas1/session/alice/+", false, true},
		{"customer own base", false, "alice", "bngbox/nas1/session/alice", false, true},
		{"customer other user", false, "alice", "bngbox/nas1/session/bob/state", false, false},
		{"customer name prefix", false, "alice", "bngbox/nas1/session/alice2/state", false, false},
		{"customer wildcard user", false, "alice", "bngbox/nas1/session/+/state", false, false},
		{"customer hash", false, "alice", "#", false, false},
		{"customer nas wildcard", false, "alice", "bngbox/+/session/alice/#", false, false},
		{"customer sys", false, "alice", "$SYS/#", false, false},
		{"customer publish own", false, "alice", "bngbox/nas1/session/alice/state", true, false},
		{"customer publish cmd", false, "alice", "bngbox/nas1/cmd/x", true, false},
		{"escaped customer own", false, "a/b", "bngbox/nas1/session/a%2Fb/state", false, true},
		{"escaped customer not unescaped", false, "a/b", "bngbox/nas1/session/a/b/state", false, false},
		{"plus user cannot wildcard", false, "+", "bngbox/nas1/session/+/state", false, false},
		{"plus user own", false, "+", "bngbox/nas1/session/%2B/state", false, true},
		{"operator reads all", false, "noc", "#", false, true},
		{"operator reads sys", false, "noc", "$SYS/#", false, true},
		{"operator writes cmd", false, "noc", "bngbox/nas1/cmd/reload", true, true},
		{"operator cannot write state", false, "noc", "bngbox/nas1/session/alice/state", true, false},
		{"operator cannot write cmd prefix lookalike", false, "noc", "bngbox/nas1/cmdx", true, false},
		{"anonymous off", false, "", "bngbox/nas1/session/alice/state", false, false},
		{"anonymous on reads", true, "", "#", false, true},
		{"anonymous on no write", true, "", "bngbox/nas1/cmd/x", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAccess(tt.anon)
			if got := a.allowed([]byte(tt.user), tt.topic, tt.write); got != tt.want {
				t.Fatalf("allowed(%q, %q, write=%v) = %v, want %v", tt.user, tt.topic, tt.write, got, tt.want)
			}
		})
	}
}

func TestLoginDecisions(t *testing.T) {
	tests := []struct {
		name     string
		anon     bool
		user, pw string
		userFlag bool
		want     bool
	}{
		{"customer ok", false, "alice", "secret", true, true},
		{"customer wrong", false, "alice", "nope", true, false},
		{"unknown", false, "mallory", "x", true, false},
		{"operator ok", false, "noc", "ops", true, true},
		{"operator wrong", false, "noc", "secret", true, false},
		{"operator name never reaches aaa", false, "noc", "", true, false},
		{"anonymous off", false, "", "", false, false},
		{"anonymous on", true, "", "", false, true},
		{"anonymous with password", true, "", "x", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAccess(tt.anon)
			got := a.login(context.Background(), []byte(tt.user), []byte(tt.pw), tt.userFlag, "192.0.2.1:5555")
			if got != tt.want {
				t.Fatalf("login = %v, want %v", got, tt.want)
			}
		})
	}
}

// clock is a manual clock for the login checker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestChecker(u *users, c *clock) *loginChecker {
	cfg := Config{NAS: "n", FailPerUser: 3, FailPerAddr: 5}.withDefaults()
	return newLoginChecker(u, cfg, c.now)
}

func TestLoginCache(t *testing.T) {
	u := &users{pw: map[string]string{"alice": "secret"}}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lc := newTestChecker(u, c)
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		pw        string
		want      LoginResult
		wantCalls int
	}{
		{"first asks aaa", 0, "secret", LoginOK, 1},
		{"second cached", 10 * time.Second, "secret", LoginCached, 1},
		{"other password not cached", 0, "other", LoginRejected, 2},
		{"still cached at 59s", 49 * time.Second, "secret", LoginCached, 2},
		{"expired at 60s", time.Second, "secret", LoginOK, 3},
	}
	for _, s := range steps {
		c.advance(s.advance)
		got, _ := lc.Check(ctx, "alice", []byte(s.pw), "192.0.2.1")
		if got != s.want || u.nCalls() != s.wantCalls {
			t.Fatalf("%s: got %v after %d AAA calls, want %v after %d", s.name, got, u.nCalls(), s.want, s.wantCalls)
		}
	}
	if u.last.Method != aaa.PAP || u.last.User != "alice" || u.last.Password != "secret" {
		t.Fatalf("AAA request = %+v, want PAP alice/secret", u.last)
	}
}

func TestLoginRateLimit(t *testing.T) {
	u := &users{pw: map[string]string{"alice": "secret", "bob": "pw"}}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lc := newTestChecker(u, c) // 3 per user, 5 per address, 60 s window
	ctx := context.Background()
	check := func(user, pw, addr string, want LoginResult) {
		t.Helper()
		if got, _ := lc.Check(ctx, user, []byte(pw), addr); got != want {
			t.Fatalf("Check(%s/%s from %s) = %v, want %v", user, pw, addr, got, want)
		}
	}
	for range 3 {
		check("alice", "bad", "192.0.2.1", LoginRejected)
	}
	calls := u.nCalls()
	check("alice", "secret", "192.0.2.9", LoginLimited) // per user, any address
	if u.nCalls() != calls {
		t.Fatal("a limited login reached AAA")
	}
	check("bob", "pw", "192.0.2.1", LoginOK) // address has 3 of 5
	check("bob", "bad", "192.0.2.1", LoginRejected)
	check("bob", "bad", "192.0.2.1", LoginRejected) // address now at 5
	check("carol", "x", "192.0.2.1", LoginLimited)
	check("carol", "x", "192.0.2.2", LoginRejected)
	c.advance(59 * time.Second)
	check("alice", "secret", "192.0.2.9", LoginLimited)
	c.advance(time.Second)
	check("alice", "secret", "192.0.2.9", LoginOK)
	check("bob", "pw", "192.0.2.1", LoginOK) // cache and address window both expired
}

func TestLoginAAADown(t *testing.T) {
	u := &users{down: true}
	c := &clock{t: time.Unix(0, 0)}
	lc := newTestChecker(u, c)
	for range 10 {
		if got, err := lc.Check(context.Background(), "alice", []byte("secret"), "192.0.2.1"); got != LoginError || err == nil {
			t.Fatalf("Check = %v, %v; want LoginError", got, err)
		}
	}
	// Backend errors are not the user's failures: no rate limit.
	if u.nCalls() != 10 {
		t.Fatalf("AAA calls = %d, want 10", u.nCalls())
	}
}

func TestOperatorBcrypt(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("ops"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		want, pw string
		ok       bool
	}{
		{string(hash), "ops", true},
		{string(hash), "nope", false},
		{string(hash), string(hash), false}, // the hash is not the password
		{"ops", "ops", true},
		{"ops", "op", false},
	} {
		if got := checkOperatorPassword([]byte(c.want), []byte(c.pw)); got != c.ok {
			t.Errorf("check(%q, %q) = %v, want %v", c.want, c.pw, got, c.ok)
		}
	}
}
