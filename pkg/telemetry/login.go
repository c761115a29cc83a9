package telemetry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// LoginResult is the outcome of one customer login check.
type LoginResult int

const (
	LoginOK       LoginResult = iota // AAA accepted
	LoginCached                      // accepted from the positive cache
	LoginRejected                    // AAA rejected the credentials
	LoginLimited                     // refused by the failure rate limit, AAA not asked
	LoginError                       // AAA gave no decision (timeout, unreachable)
)

func (r LoginResult) String() string {
	switch r {
	case LoginOK:
		return "ok"
	case LoginCached:
		return "cached"
	case LoginRejected:
		return "reject"
	case LoginLimited:
		return "limited"
	case LoginError:
		return "error"
	}
	return "unknown"
}

// Accepted reports whether the login may proceed.
func (r LoginResult) Accepted() bool { return r == LoginOK || r == LoginCached }

// window counts failures in a fixed time window.
type window struct {
	start time.Time
	n     int
}

// loginChecker checks customer credentials through AAA with a positive
// cache and a per-user and per-address failure limit. It is safe for
// concurrent use; the AAA call is made without holding mu.
type loginChecker struct {
	auth    aaa.Authenticator
	now     func() time.Time
	ttl     time.Duration // <0: no cache
	timeout time.Duration
	win     time.Duration
	perUser int
	perAddr int
	key     [32]byte // HMAC key for the cache, random per process
	seq     atomic.Uint64

	mu       sync.Mutex
	cache    map[string]time.Time // user\x00hmac(pw) -> expiry; guarded by mu
	failUser map[string]*window   // guarded by mu
	failAddr map[string]*window   // guarded by mu
	calls    int                  // guarded by mu; drives sweeps
}

func newLoginChecker(auth aaa.Authenticator, c Config, now func() time.Time) *loginChecker {
	lc := &loginChecker{auth: auth, now: now, ttl: c.AuthCacheTTL, timeout: c.AuthTimeout,
		win: c.FailWindow, perUser: c.FailPerUser, perAddr: c.FailPerAddr,
		cache: map[string]time.Time{}, failUser: map[string]*window{}, failAddr: map[string]*window{}}
	if _, err := rand.Read(lc.key[:]); err != nil {
		panic("telemetry: no randomness: " + err.Error())
	}
	return lc
}

func (lc *loginChecker) cacheKey(user string, pw []byte) string {
	m := hmac.New(sha256.New, lc.key[:])
	m.Write(pw)
	return user + "\x00" + string(m.Sum(nil))
}

// Check decides one login from addr (an IP address, may be empty).
func (lc *loginChecker) Check(ctx context.Context, user string, pw []byte, addr string) (LoginResult, error) {
	if lc.auth == nil {
		return LoginError, errors.New("telemetry: no authenticator")
	}
	key := lc.cacheKey(user, pw)
	now := lc.now()
	lc.mu.Lock()
	lc.sweepLocked(now)
	if exp, ok := lc.cache[key]; ok && now.Before(exp) {
		lc.mu.Unlock()
		return LoginCached, nil
	}
	if lc.limitedLocked(lc.failUser, user, lc.perUser, now) || lc.limitedLocked(lc.failAddr, addr, lc.perAddr, now) {
		lc.mu.Unlock()
		return LoginLimited, nil
	}
	lc.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, lc.timeout)
	defer cancel()
	_, err := lc.auth.Authenticate(ctx, &aaa.Request{
		SessionID: "mqtt-" + strconv.FormatUint(lc.seq.Add(1), 16),
		User:      user,
		Method:    aaa.PAP,
		Password:  string(pw),
		NASPortID: "mqtt",
		// CallingStationID carries the MQTT client's address for the AAA log.
		CallingStationID: addr,
	})
	now = lc.now()
	var rej *aaa.Reject
	switch {
	case err == nil:
		lc.mu.Lock()
		if lc.ttl > 0 {
			lc.cache[key] = now.Add(lc.ttl)
		}
		delete(lc.failUser, user)
		lc.mu.Unlock()
		return LoginOK, nil
	case errors.As(err, &rej):
		lc.mu.Lock()
		lc.failLocked(lc.failUser, user, now)
		lc.failLocked(lc.failAddr, addr, now)
		lc.mu.Unlock()
		return LoginRejected, err
	default:
		return LoginError, err
	}
}

// limitedLocked reports whether k has reached limit failures in the
// current window. Caller holds lc.mu.
func (lc *loginChecker) limitedLocked(m map[string]*window, k string, limit int, now time.Time) bool {
	w, ok := m[k]
	if !ok {
		return false
	}
	if now.Sub(w.start) >= lc.win {
		delete(m, k)
		return false
	}
	return w.n >= limit
}

// failLocked counts one failure for k. Caller holds lc.mu.
func (lc *loginChecker) failLocked(m map[string]*window, k string, now time.Time) {
	w, ok := m[k]
	if !ok || now.Sub(w.start) >= lc.win {
		m[k] = &window{start: now, n: 1}
		return
	}
	w.n++
}

// sweepLocked drops expired entries every 1024 calls so that the maps stay
// bounded by the logins of one TTL/window. Caller holds lc.mu.
func (lc *loginChecker) sweepLocked(now time.Time) {
	lc.calls++
	if lc.calls%1024 != 0 {
		return
	}
	for k, exp := range lc.cache {
		if !now.Before(exp) {
			delete(lc.cache, k)
		}
	}
	for _, m := range []map[string]*window{lc.failUser, lc.failAddr} {
		for k, w := range m {
			if now.Sub(w.start) >= lc.win {
				delete(m, k)
			}
		}
	}
}
