package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimits are the login rate limits: a token bucket per source address and one per account.
type LoginLimits struct {
	PerIP        rate.Limit
	BurstIP      int
	PerAccount   rate.Limit
	BurstAccount int
	Now          func() time.Time
}

// DefaultLoginLimits allow a burst of 10 attempts per address then one every 6 seconds, and a
// burst of 20 per account then one every 3 seconds: plenty for people, hopeless for guessing.
var DefaultLoginLimits = LoginLimits{
	PerIP: rate.Every(6 * time.Second), BurstIP: 10,
	PerAccount: rate.Every(3 * time.Second), BurstAccount: 20,
}

type limitKind int

const (
	limitByIP limitKind = iota
	limitByAccount
)

// maxLimiterKeys bounds the memory an address-spraying attacker can make the limiter hold;
// idle buckets (full again, so equivalent to new ones) are dropped first.
const maxLimiterKeys = 100_000

type loginLimiter struct {
	limits  LoginLimits
	mu      sync.Mutex
	buckets [2]map[string]*rate.Limiter
}

func newLoginLimiter(l LoginLimits) *loginLimiter {
	if l.Now == nil {
		l.Now = time.Now
	}
	return &loginLimiter{limits: l, buckets: [2]map[string]*rate.Limiter{{}, {}}}
}

// allow takes one attempt from the key's bucket, or says how long until one is available.
func (l *loginLimiter) allow(kind limitKind, key string) (time.Duration, bool) {
	now := l.limits.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.buckets[kind]
	lim, ok := m[key]
	if !ok {
		if len(m) >= maxLimiterKeys {
			l.dropIdle(m, now)
		}
		if kind == limitByIP {
			lim = rate.NewLimiter(l.limits.PerIP, l.limits.BurstIP)
		} else {
			lim = rate.NewLimiter(l.limits.PerAccount, l.limits.BurstAccount)
		}
		m[key] = lim
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

func (l *loginLimiter) dropIdle(m map[string]*rate.Limiter, now time.Time) {
	for k, lim := range m {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(m, k)
		}
	}
	if len(m) >= maxLimiterKeys { // everyone is busy: start over rather than grow
		clear(m)
	}
}
