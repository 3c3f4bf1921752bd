package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimits are the login rate limits: a token bucket per source address and one per user
// (by e-mail, known or not). Password attempts and second-factor codes draw from the same
// buckets.
type LoginLimits struct {
	PerIP     rate.Limit
	BurstIP   int
	PerUser   rate.Limit
	BurstUser int
	Now       func() time.Time
}

// DefaultLoginLimits allow a burst of 10 attempts per address then one every 6 seconds, and a
// burst of 20 per user then one every 3 seconds: plenty for people, hopeless for guessing. A
// user attacked from elsewhere slows only themselves: a colleague's bucket is their own.
var DefaultLoginLimits = LoginLimits{
	PerIP: rate.Every(6 * time.Second), BurstIP: 10,
	PerUser: rate.Every(3 * time.Second), BurstUser: 20,
}

// APILimits are the API's rate limits: a token bucket per source address, taken before
// anything else, and one per token or device once authenticated. A zero rate disables a limit
// (behind a load balancer every request comes from its address: give the balancer the
// per-address limit, or raise it here).
type APILimits struct {
	PerIP      rate.Limit
	BurstIP    int
	PerToken   rate.Limit
	BurstToken int
	Now        func() time.Time
}

// DefaultAPILimits are far above what an honest client or a fleet of devices does (a device
// uploads a file an hour; `smartx readings` streams a month in one request; a simulator
// catching up on 30 days sends a few hundred files a second, and a device told to wait by a
// 429 waits, as the simulator does): 2000 requests a second per address (bursts of 4000),
// 1000 per token or device (bursts of 2000). Load tests lift them (--rate-limit-ip 0).
var DefaultAPILimits = APILimits{PerIP: 2000, BurstIP: 4000, PerToken: 1000, BurstToken: 2000}

// Share returns the part of l one of n replicas enforces, so that n replicas behind one
// address hold l together; a burst keeps at least one request.
func (l LoginLimits) Share(n int) LoginLimits {
	if n > 1 {
		l.PerIP, l.BurstIP = shareLimit(l.PerIP, l.BurstIP, n)
		l.PerUser, l.BurstUser = shareLimit(l.PerUser, l.BurstUser, n)
	}
	return l
}

// Share returns the part of l one of n replicas enforces, as LoginLimits.Share does.
func (l APILimits) Share(n int) APILimits {
	if n > 1 {
		l.PerIP, l.BurstIP = shareLimit(l.PerIP, l.BurstIP, n)
		l.PerToken, l.BurstToken = shareLimit(l.PerToken, l.BurstToken, n)
	}
	return l
}

func shareLimit(r rate.Limit, burst, n int) (rate.Limit, int) {
	if r == 0 || r == rate.Inf {
		return r, burst // no limit stays no limit
	}
	return r / rate.Limit(n), max(1, (burst+n-1)/n)
}

type limitKind int

const (
	limitByIP limitKind = iota
	limitByUser
)

// maxLimiterKeys bounds the memory an address-spraying attacker can make a limiter hold; idle
// buckets (full again, so equivalent to new ones) are dropped first.
const maxLimiterKeys = 100_000

// keyedLimiter is one token bucket per key.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newKeyedLimiter(limit rate.Limit, burst int, now func() time.Time) *keyedLimiter {
	if now == nil {
		now = time.Now
	}
	return &keyedLimiter{limit: limit, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes one token from the key's bucket, or says how long until one is available. A
// limiter with a zero rate allows everything.
func (l *keyedLimiter) allow(key string) (time.Duration, bool) {
	if l == nil || l.limit == 0 {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.dropIdle(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Hour, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (l *keyedLimiter) dropIdle(now time.Time) {
	for k, lim := range l.buckets {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterKeys { // everyone is busy: start over rather than grow
		clear(l.buckets)
	}
}

// loginLimiter holds the login buckets.
type loginLimiter struct {
	byKind [2]*keyedLimiter
}

func newLoginLimiter(l LoginLimits) *loginLimiter {
	return &loginLimiter{byKind: [2]*keyedLimiter{
		limitByIP:   newKeyedLimiter(l.PerIP, l.BurstIP, l.Now),
		limitByUser: newKeyedLimiter(l.PerUser, l.BurstUser, l.Now),
	}}
}

func (l *loginLimiter) allow(kind limitKind, key string) (time.Duration, bool) {
	return l.byKind[kind].allow(key)
}

// apiLimiter holds the API's buckets.
type apiLimiter struct {
	byIP, byToken *keyedLimiter
}

func newAPILimiter(l APILimits) *apiLimiter {
	return &apiLimiter{byIP: newKeyedLimiter(l.PerIP, l.BurstIP, l.Now), byToken: newKeyedLimiter(l.PerToken, l.BurstToken, l.Now)}
}
