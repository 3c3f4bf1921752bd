// Package server is the smartx reference platform server: the HTTPS API that devices, the
// smartx client and analysts talk to, and the operator's view of its data directory.
//
// Service holds the logic (accounts, users, logins, tokens, sites, devices and their keys and
// credentials, the ingest of data files, device status, readings) over a store.Store and the
// envelope keyring; Server exposes it as the API described by docs/api/openapi.yaml (docs/api.md
// tells the story), with authentication of users and devices, per-route scopes and site
// restrictions, problem details, streamed exports, the audit log and its retention; Run puts it
// on the network with TLS, as `smartx server` does.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// Retention of the transaction log: successful requests 7 days, errors 30 days.
const (
	DefaultAuditRetention      = 7 * 24 * time.Hour
	DefaultAuditErrorRetention = 30 * 24 * time.Hour
	// Token records are kept this long after they expire or are revoked, so listings still
	// show recently dead tokens, then deleted.
	tokenRecordRetention = 30 * 24 * time.Hour
)

// Config configures a Server. Zero values pick production defaults.
type Config struct {
	Service *Service
	Logger  *slog.Logger
	Now     func() time.Time
	Rand    io.Reader
	Version string

	AuditRetention      time.Duration
	AuditErrorRetention time.Duration
	// AuditFlushEvery is how often buffered audit entries are written (default 250ms).
	AuditFlushEvery time.Duration
	// MaintenanceEvery is how often the retention purge runs (default hourly; it also runs at
	// start).
	MaintenanceEvery time.Duration
	// APILimits defaults to DefaultAPILimits.
	APILimits *APILimits
	// SSOCheckEvery is how often the users signed in through single sign-on are checked with
	// their identity provider (default DefaultSSOCheckEvery).
	SSOCheckEvery time.Duration
}

// Server serves the platform API.
type Server struct {
	svc     *Service
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	version string
	cfg     Config
	audit   *auditBuffer
	limits  *apiLimiter
	mux     *http.ServeMux
	routes  []route
}

// New returns a server for the service.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("server: no service")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	if cfg.AuditErrorRetention == 0 {
		cfg.AuditErrorRetention = DefaultAuditErrorRetention
	}
	if cfg.AuditFlushEvery == 0 {
		cfg.AuditFlushEvery = 250 * time.Millisecond
	}
	if cfg.MaintenanceEvery == 0 {
		cfg.MaintenanceEvery = time.Hour
	}
	if cfg.SSOCheckEvery == 0 {
		cfg.SSOCheckEvery = DefaultSSOCheckEvery
	}
	limits := DefaultAPILimits
	if cfg.APILimits != nil {
		limits = *cfg.APILimits
	}
	if limits.Now == nil {
		limits.Now = cfg.Now
	}
	s := &Server{svc: cfg.Service, log: cfg.Logger, now: cfg.Now, rand: cfg.Rand, version: cfg.Version, cfg: cfg,
		audit: newAuditBuffer(cfg.Service, cfg.Logger, cfg.Now), limits: newAPILimiter(limits), mux: http.NewServeMux()}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	return s, nil
}

// route is one API operation: the table is the single registration point, and the OpenAPI
// test compares it with docs/api/openapi.yaml.
type route struct {
	method string
	path   string
	public bool      // no token needed
	scope  api.Scope // needed scope; "" for any valid token
	handle func(w http.ResponseWriter, r *http.Request, caller store.Token) error
	// handleDevice, instead of handle, serves a device authenticated by its upload credential.
	handleDevice func(w http.ResponseWriter, r *http.Request, u *uploader) error
}

func (s *Server) routeTable() []route {
	return []route{
		{method: http.MethodGet, path: api.PathHealth, public: true, handle: s.handleHealth},
		{method: http.MethodPost, path: api.PathLogin, public: true, handle: s.handleLogin},
		{method: http.MethodPost, path: api.PathLoginVerify, public: true, handle: s.handleLoginVerify},
		{method: http.MethodPost, path: api.PathLoginResend, public: true, handle: s.handleLoginResend},
		{method: http.MethodPost, path: api.PathSSOStart, public: true, handle: s.handleSSOStart},
		{method: http.MethodPost, path: api.PathSSOFinish, public: true, handle: s.handleSSOFinish},
		{method: http.MethodPost, path: api.PathSSODevice, public: true, handle: s.handleSSODevice},
		{method: http.MethodPost, path: api.PathSSODevicePoll, public: true, handle: s.handleSSODevicePoll},
		{method: http.MethodPost, path: api.PathLogout, handle: s.handleLogout},
		{method: http.MethodGet, path: api.PathWhoAmI, handle: s.handleWhoAmI},
		{method: http.MethodPost, path: api.PathPassword, handle: s.handleChangePassword},
		{method: http.MethodGet, path: api.PathTwoFactor, handle: s.handleTwoFactorStatus},
		{method: http.MethodPost, path: api.PathTOTP, handle: s.handleStartTOTP},
		{method: http.MethodPost, path: api.PathTOTPConfirm, handle: s.handleConfirmTOTP},
		{method: http.MethodPost, path: api.PathTOTPDisable, handle: s.handleDisableTOTP},
		{method: http.MethodPost, path: api.PathRecoveryCodes, handle: s.handleRecoveryCodes},

		{method: http.MethodGet, path: api.PathUsers, scope: api.ScopeAdmin, handle: s.handleListUsers},
		{method: http.MethodPost, path: api.PathUsers, scope: api.ScopeAdmin, handle: s.handleCreateUser},
		{method: http.MethodGet, path: api.PathUsers + "/{id}", scope: api.ScopeAdmin, handle: s.handleGetUser},
		{method: http.MethodPatch, path: api.PathUsers + "/{id}", scope: api.ScopeAdmin, handle: s.handleUpdateUser},
		{method: http.MethodDelete, path: api.PathUsers + "/{id}", scope: api.ScopeAdmin, handle: s.handleDeleteUser},
		{method: http.MethodPost, path: api.PathUsers + "/{id}/disable", scope: api.ScopeAdmin, handle: s.handleDisableUser},
		{method: http.MethodPost, path: api.PathUsers + "/{id}/enable", scope: api.ScopeAdmin, handle: s.handleEnableUser},
		{method: http.MethodDelete, path: api.PathUsers + "/{id}/2fa", scope: api.ScopeAdmin, handle: s.handleResetUserTwoFactor},
		{method: http.MethodPost, path: api.PathTokens, scope: api.ScopeTokensWrite, handle: s.handleCreateToken},
		{method: http.MethodGet, path: api.PathTokens, scope: api.ScopeTokensWrite, handle: s.handleListTokens},
		{method: http.MethodGet, path: api.PathTokens + "/{id}", scope: api.ScopeTokensWrite, handle: s.handleGetToken},
		{method: http.MethodDelete, path: api.PathTokens + "/{id}", scope: api.ScopeTokensWrite, handle: s.handleRevokeToken},
		{method: http.MethodGet, path: api.PathAudit, scope: api.ScopeAdmin, handle: s.handleAudit},
		{method: http.MethodGet, path: api.PathAccountSSO, scope: api.ScopeAdmin, handle: s.handleGetAccountSSO},
		{method: http.MethodPut, path: api.PathAccountSSO, scope: api.ScopeAdmin, handle: s.handleSetAccountSSO},
		{method: http.MethodDelete, path: api.PathAccountSSO, scope: api.ScopeAdmin, handle: s.handleRemoveAccountSSO},

		{method: http.MethodPost, path: api.PathSites, scope: api.ScopeDevicesWrite, handle: s.handleCreateSite},
		{method: http.MethodGet, path: api.PathSites, handle: s.handleListSites},
		{method: http.MethodGet, path: api.PathSites + "/{id}", handle: s.handleGetSite},
		{method: http.MethodPatch, path: api.PathSites + "/{id}", scope: api.ScopeDevicesWrite, handle: s.handleUpdateSite},
		{method: http.MethodDelete, path: api.PathSites + "/{id}", scope: api.ScopeDevicesWrite, handle: s.handleDeleteSite},
		{method: http.MethodPost, path: api.PathSites + "/{id}" + api.SitePreflightSuffix, scope: api.ScopeDevicesWrite, handle: s.handleUploadPreflight},
		{method: http.MethodGet, path: api.PathSites + "/{id}" + api.SiteStatusSuffix, scope: api.ScopeDevicesRead, handle: s.handleSiteStatus},

		{method: http.MethodPost, path: api.PathDevices, scope: api.ScopeDevicesWrite, handle: s.handleCreateDevice},
		{method: http.MethodGet, path: api.PathDevices, scope: api.ScopeDevicesRead, handle: s.handleListDevices},
		{method: http.MethodGet, path: api.PathDevices + "/{id}", scope: api.ScopeDevicesRead, handle: s.handleGetDevice},
		{method: http.MethodDelete, path: api.PathDevices + "/{id}", scope: api.ScopeDevicesWrite, handle: s.handleDecommissionDevice},
		{method: http.MethodPost, path: api.PathDevices + "/{id}/credential", scope: api.ScopeDevicesWrite, handle: s.handleNewCredential},
		{method: http.MethodGet, path: api.PathDevices + "/{id}/key", scope: api.ScopeDevicesKeys, handle: s.handleDeviceKeys},
		{method: http.MethodPost, path: api.PathDevices + "/{id}/rotate-key", scope: api.ScopeDevicesKeys, handle: s.handleRotateKey},
		{method: http.MethodPost, path: api.PathDevices + "/{id}/replace", scope: api.ScopeDevicesWrite, handle: s.handleReplaceDevice},
		{method: http.MethodGet, path: api.PathDevices + "/{id}/status", scope: api.ScopeDevicesRead, handle: s.handleDeviceStatus},

		{method: http.MethodPost, path: api.PathIngest, handleDevice: s.handleIngest},
		{method: http.MethodPost, path: api.PathIngestLosses, handleDevice: s.handleReportLosses},

		{method: http.MethodGet, path: api.PathReadings, scope: api.ScopeReadingsRead, handle: s.handleReadings},
	}
}

// requestInfo collects what the audit log records about a request as it is handled.
type requestInfo struct {
	id        string
	route     string
	accountID string
	userID    string
	tokenID   string
	deviceID  string
	errCode   api.Code
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// statusWriter remembers the status a handler wrote. Unwrap keeps http.ResponseController
// working (flushes and deadlines for the streaming exports to come).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler returns the API handler: security headers, request ids, the audit log, panics turned
// into 500s, problem details for unknown routes and methods, then the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		ri := &requestInfo{id: s.requestID()}
		sw := &statusWriter{ResponseWriter: w}
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store") // responses carry secrets or account data
		h.Set("X-Request-Id", ri.id)
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // a stream cut on purpose: log it, then let it cut
					s.record(r, ri, sw.status, start)
					panic(v)
				}
				s.log.Error("handler panicked", "request_id", ri.id, "route", ri.route, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					s.fail(sw, r, errors.New("panic"))
				}
			}
			s.record(r, ri, sw.status, start)
		}()
		if wait, ok := s.limits.byIP.allow(sourceIP(r)); !ok {
			s.fail(sw, r, &RateLimitError{RetryAfter: wait, Detail: "too many requests from this address"})
			return
		}
		if _, pattern := s.mux.Handler(r); pattern == "" {
			s.unmatched(sw, r)
			return
		}
		s.mux.ServeHTTP(sw, r)
	})
}

// unmatched answers a request no route matched: 405 with Allow when the path exists with other
// methods, else 404, both as problem details.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, rt := range s.routes {
		if rt.method == r.Method || slices.Contains(allowed, rt.method) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, pattern := s.mux.Handler(probe); pattern == rt.method+" "+rt.path {
			allowed = append(allowed, rt.method)
		}
	}
	if len(allowed) > 0 {
		if slices.Contains(allowed, http.MethodGet) {
			allowed = append(allowed, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.fail(w, r, newProblemError(api.CodeMethodNotAllowed, fmt.Sprintf("%s is not allowed here: use %s", r.Method, strings.Join(allowed, ", "))))
		return
	}
	s.fail(w, r, newProblemError(api.CodeNotFound, "no such route: see docs/api/openapi.yaml"))
}

func (s *Server) requestID() string {
	id, err := store.NewID(api.PrefixRequest, s.rand)
	if err != nil {
		return api.PrefixRequest + "unknown"
	}
	return id
}

// wrap authenticates and authorizes a route's requests before its handler runs.
func (s *Server) wrap(rt route) http.Handler {
	pattern := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		ri.route = pattern
		if rt.handleDevice != nil {
			secret, ok := bearerToken(r)
			if !ok {
				s.fail(w, r, unauthenticated(api.CodeUnauthenticated, "send the device's upload credential in the Authorization header: Bearer sxd_..."))
				return
			}
			u, err := s.svc.devices.verify(r.Context(), secret)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			ri.accountID, ri.deviceID = u.accountID, u.id
			if wait, ok := s.limits.byToken.allow(u.id); !ok {
				s.fail(w, r, &RateLimitError{RetryAfter: wait, Detail: "too many requests from this device"})
				return
			}
			if err := rt.handleDevice(w, r, u); err != nil {
				s.fail(w, r, err)
			}
			return
		}
		var caller store.Token
		if !rt.public {
			secret, ok := bearerToken(r)
			if !ok {
				s.fail(w, r, unauthenticated(api.CodeUnauthenticated, "send a token in the Authorization header: Bearer sxt_..."))
				return
			}
			var err error
			caller, err = s.svc.Authenticate(r.Context(), secret)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			ri.accountID, ri.userID, ri.tokenID = caller.AccountID, caller.UserID, caller.ID
			if wait, ok := s.limits.byToken.allow(caller.ID); !ok {
				s.fail(w, r, &RateLimitError{RetryAfter: wait, Detail: "too many requests with this token"})
				return
			}
			if rt.scope != "" && !slices.Contains(caller.Scopes, rt.scope) {
				s.fail(w, r, &ScopeError{Scope: rt.scope, Detail: fmt.Sprintf("this request needs scope %s, which the token lacks", rt.scope)})
				return
			}
		}
		if err := rt.handle(w, r, caller); err != nil {
			s.fail(w, r, err)
		}
	})
}

// bearerToken extracts the token of an "Authorization: Bearer ..." header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// clientGone reports whether the client hung up before the answer: its request's context
// ends when the connection (or HTTP/2 stream) does.
func clientGone(r *http.Request) bool { return r.Context().Err() != nil }

// fail writes the problem for err and notes its code for the audit log. Unexpected errors are
// logged with the request id the client sees, so support can find them; a client that hung up
// is not the server's failure, and is not logged as one.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ri := infoFrom(r.Context())
	if clientGone(r) {
		ri.errCode = api.CodeClientClosed
		return
	}
	pe := problemFor(err)
	if pe.problem.Code == api.CodeInternal {
		s.log.Error("request failed", "request_id", ri.id, "route", ri.route, "err", err)
	}
	p := *pe.problem
	p.Instance = ri.id
	ri.errCode = p.Code
	writeProblem(w, &problemError{problem: &p, headers: pe.headers})
}

// sourceIP returns the client address of a request (the direct peer: no proxy headers are
// trusted, since anyone can send them).
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) record(r *http.Request, ri *requestInfo, status int, start time.Time) {
	if status == 0 {
		status = http.StatusOK
	}
	if clientGone(r) {
		// The client left before the whole answer: an event worth a line, not an error.
		status, ri.errCode = api.StatusClientClosedRequest, api.CodeClientClosed
		s.log.Info("client closed the connection before the answer", "request_id", ri.id, "route", ri.route,
			"latency_ms", s.now().Sub(start).Milliseconds())
	}
	s.audit.add(auditRecord{entry: store.AuditEntry{
		Time: start.UTC(), RequestID: ri.id, AccountID: ri.accountID, UserID: ri.userID, TokenID: ri.tokenID, DeviceID: ri.deviceID,
		Method: r.Method, Route: ri.route, Status: status, Latency: s.now().Sub(start), ErrorCode: string(ri.errCode), Count: 1,
	}, source: sourceIP(r)})
}

// FlushAudit writes the buffered audit entries now.
func (s *Server) FlushAudit(ctx context.Context) error { return s.audit.flush(ctx) }

// Purge applies the retention rules once: audit entries past their retention, preflight runs
// past the audit errors' and token records long dead are deleted.
func (s *Server) Purge(ctx context.Context) error {
	now := s.now()
	n, err := s.svc.st.PurgeAudit(ctx, now.Add(-s.cfg.AuditRetention), now.Add(-s.cfg.AuditErrorRetention))
	if err != nil {
		return err
	}
	p, err := s.svc.st.PurgePreflightRuns(ctx, now.Add(-s.cfg.AuditErrorRetention))
	if err != nil {
		return err
	}
	m, err := s.svc.st.DeleteTokensBefore(ctx, now.Add(-tokenRecordRetention))
	if err != nil {
		return err
	}
	// A challenge whose code expired can still be resent until its login's end of life.
	c, err := s.svc.st.DeleteChallengesBefore(ctx, now.Add(-api.LoginChallengeMaxAge))
	if err != nil {
		return err
	}
	if n > 0 || m > 0 || c > 0 || p > 0 {
		s.log.Info("retention purge", "audit_entries", n, "token_records", m, "expired_logins", c, "preflight_runs", p)
	}
	return nil
}

// maintain runs the periodic work until ctx ends: audit flushes and token use times on
// flushTick, the retention purge at start and on purgeTick.
func (s *Server) maintain(ctx context.Context, flushTick, purgeTick, ssoTick <-chan time.Time) {
	purge := func() {
		if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention purge failed", "err", err)
		}
	}
	purge()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flushTick:
			if err := s.audit.flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("audit log write failed", "err", err)
			}
			if err := s.svc.tokens.FlushLastUsed(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("token use times not recorded", "err", err)
			}
		case <-purgeTick:
			purge()
		case <-ssoTick:
			s.checkSSO(ctx)
		}
	}
}

// Timeouts of the HTTP server: slow clients cannot hold connections.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 120 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 15 * time.Second
)

// Serve serves HTTPS on ln with tlsConfig until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish (up to 15 s), and writes the audit entries still
// buffered.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		// Handshake failures (scanners, plain HTTP, old TLS) are routine: debug level.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	flushTicker := time.NewTicker(s.cfg.AuditFlushEvery)
	purgeTicker := time.NewTicker(s.cfg.MaintenanceEvery)
	ssoTicker := time.NewTicker(s.cfg.SSOCheckEvery)
	var wg sync.WaitGroup
	wg.Go(func() { s.maintain(bg, flushTicker.C, purgeTicker.C, ssoTicker.C) })
	defer func() {
		flushTicker.Stop()
		purgeTicker.Stop()
		ssoTicker.Stop()
		stopBG()
		wg.Wait()
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.audit.closeAll()
		if err := s.audit.flush(fctx); err != nil {
			s.log.Error("audit log write failed at shutdown", "err", err)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
