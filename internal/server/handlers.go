package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// healthTimeout bounds the database check of a health request: a balancer's probe must get
// an answer well within its own timeout.
const healthTimeout = 2 * time.Second

// handleHealth answers 200 while the server can read its database (the revocation counter
// every authenticated request reads anyway), 503 otherwise.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	h := api.Health{Status: "ok", Version: s.version, Time: s.now().UTC().Truncate(time.Second)}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if _, err := s.svc.st.RevocationEpoch(ctx); err != nil {
		s.log.Error("health check: the database cannot be read", "err", err)
		h.Status = "unavailable"
		writeJSON(w, http.StatusServiceUnavailable, h)
		return nil
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.LoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Email) == "" {
		return invalid("email", "must not be empty")
	}
	if req.Password == "" {
		return invalid("password", "must not be empty")
	}
	start, err := s.svc.Login(r.Context(), req.Email, req.Password, sourceIP(r))
	if err != nil {
		return fileAttempt(r, err)
	}
	fileLogin(r, start.AccountID, start.UserID)
	writeJSON(w, http.StatusOK, start.LoginChallenge)
	return nil
}

// fileLogin files a login step of a known user in the user's account's audit log.
func fileLogin(r *http.Request, accountID, userID string) {
	ri := infoFrom(r.Context())
	ri.accountID, ri.userID = accountID, userID
}

// fileAttempt files a failed login step of a known user (an *AttributedError) in the user's
// account's audit log, and returns err.
func fileAttempt(r *http.Request, err error) error {
	var ae *AttributedError
	if errors.As(err, &ae) {
		fileLogin(r, ae.AccountID, ae.UserID)
	}
	return err
}

func (s *Server) handleLoginVerify(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.LoginVerifyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Challenge == "" {
		return invalid("challenge", "must not be empty: send the challenge POST /v1/auth/login returned")
	}
	if strings.TrimSpace(req.Code) == "" {
		return invalid("code", "must not be empty")
	}
	sess, err := s.svc.VerifyLogin(r.Context(), req, sourceIP(r))
	if err != nil {
		return fileAttempt(r, err)
	}
	ri := infoFrom(r.Context())
	ri.accountID, ri.userID, ri.tokenID = sess.User.AccountID, sess.User.ID, sess.Token.ID
	writeJSON(w, http.StatusOK, api.LoginResponse{Token: sess.Secret, TokenID: sess.Token.ID, Kind: sess.Token.Kind,
		ExpiresAt: sess.Token.ExpiresAt, User: userInfo(sess.User), RecoveryCodesLeft: sess.RecoveryCodesLeft})
	return nil
}

func (s *Server) handleLoginResend(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.LoginResendRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Challenge == "" {
		return invalid("challenge", "must not be empty: send the challenge POST /v1/auth/login returned")
	}
	sent, err := s.svc.ResendLogin(r.Context(), req.Challenge, sourceIP(r))
	if err != nil {
		return fileAttempt(r, err)
	}
	writeJSON(w, http.StatusOK, sent)
	return nil
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.PasswordChangeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Current == "" {
		return invalid("current", "must not be empty")
	}
	if req.New == "" {
		return invalid("new", "must not be empty")
	}
	if err := s.svc.ChangeOwnPassword(r.Context(), caller, req, sourceIP(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := s.svc.Logout(r.Context(), caller); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	u, acc, err := s.svc.WhoAmI(r.Context(), caller)
	if err != nil {
		return err
	}
	info, err := s.tokenInfo(r.Context(), caller)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.WhoAmI{User: userInfo(u),
		Account: api.Account{ID: acc.ID, Name: acc.Name, CreatedAt: acc.CreatedAt}, Token: info})
	return nil
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.CreateTokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	tok, secret, err := s.svc.CreateToken(r.Context(), caller, req)
	if err != nil {
		return err
	}
	info, err := s.tokenInfo(r.Context(), tok)
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.PathTokens+"/"+tok.ID)
	writeJSON(w, http.StatusCreated, api.CreateTokenResponse{TokenInfo: info, Secret: secret})
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	q := r.URL.Query()
	var checks fieldChecks
	checks.add(onlyParams(q, "user", "kind"))
	kind := api.TokenKindAPI
	switch k := q.Get("kind"); k {
	case "", string(api.TokenKindAPI):
	case string(api.TokenKindSession):
		kind = api.TokenKindSession
	case "all":
		kind = ""
	default:
		checks.add(invalid("kind", "must be api, session or all"))
	}
	if !checks.ok() {
		return checks.err()
	}
	toks, err := s.svc.ListTokens(r.Context(), caller, q.Get("user"), kind)
	if err != nil {
		return err
	}
	out := api.TokenList{Tokens: make([]api.TokenInfo, len(toks))}
	for i, t := range toks {
		if out.Tokens[i], err = s.tokenInfo(r.Context(), t); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetToken(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	t, err := s.svc.Token(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeTokenInfo(w, r, t)
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	t, err := s.svc.RevokeToken(r.Context(), caller, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeTokenInfo(w, r, t)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := checkAccountWide(caller, "the audit log"); err != nil {
		return err
	}
	q := r.URL.Query()
	var checks fieldChecks
	checks.add(onlyParams(q, "from", "to", "user", "device", "status", "limit", "cursor"))
	f := store.AuditFilter{AccountID: caller.AccountID, UserID: q.Get("user"), DeviceID: q.Get("device"), Cursor: q.Get("cursor")}
	var err error
	f.From, err = queryTime(q, "from")
	checks.add(err)
	f.To, err = queryTime(q, "to")
	checks.add(err)
	if v := q.Get("status"); v != "" {
		if len(v) == 3 && strings.HasSuffix(strings.ToLower(v), "xx") && v[0] >= '1' && v[0] <= '5' {
			f.StatusClass = int(v[0] - '0')
		} else if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
			f.Status = n
		} else {
			checks.add(invalid("status", "must be a status code (404) or class (4xx)"))
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			checks.add(invalid("limit", "must be a number from 1 to 1000"))
		}
		f.Limit = n
	}
	if !checks.ok() {
		return checks.err()
	}
	if q.Get("to") != "" && f.To.IsZero() { // before 0001-01-01T00:00:00Z: nothing, not "no bound"
		writeJSON(w, http.StatusOK, api.AuditPage{Entries: []api.AuditEntry{}})
		return nil
	}
	page, err := s.svc.st.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := api.AuditPage{Entries: make([]api.AuditEntry, len(page.Entries)), NextCursor: page.NextCursor}
	for i, e := range page.Entries {
		source, err := s.svc.openSource(r.Context(), e)
		if err != nil {
			return err
		}
		out.Entries[i] = api.AuditEntry{Time: e.Time, RequestID: e.RequestID, AccountID: e.AccountID, UserID: e.UserID,
			TokenID: e.TokenID, DeviceID: e.DeviceID, Method: e.Method, Route: e.Route, Status: e.Status, LatencyUS: e.Latency.Microseconds(),
			SourceIP: source, ErrorCode: api.Code(e.ErrorCode), Count: max(e.Count, 1)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// onlyParams rejects query parameters a route does not know, so a typo is not silently ignored.
// Every unknown parameter is named, in alphabetical order.
func onlyParams(q url.Values, known ...string) error {
	var errs ValidationErrors
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case slices.Contains(known, k):
		case len(known) == 0:
			errs = append(errs, &ValidationError{Field: k, Message: "is not a parameter of this route, which takes none"})
		default:
			errs = append(errs, &ValidationError{Field: k,
				Message: fmt.Sprintf("is not a parameter of this route (known: %s)", strings.Join(known, ", "))})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(name, "must be an RFC 3339 time, such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

func userInfo(u User) api.User {
	factor := api.FactorEmail
	if u.TOTP.Enabled() {
		factor = api.FactorTOTP
	}
	return api.User{ID: u.ID, AccountID: u.AccountID, Email: u.Email, Role: u.Role, Disabled: u.Disabled(), TwoFactor: factor,
		CreatedAt: u.CreatedAt, DisabledAt: timePtr(u.DisabledAt)}
}

func (s *Server) writeTokenInfo(w http.ResponseWriter, r *http.Request, t store.Token) error {
	info, err := s.tokenInfo(r.Context(), t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// tokenInfo is the wire form of a token, its name opened.
func (s *Server) tokenInfo(ctx context.Context, t store.Token) (api.TokenInfo, error) {
	name, err := s.svc.TokenName(ctx, t)
	if err != nil {
		return api.TokenInfo{}, err
	}
	info := api.TokenInfo{ID: t.ID, Kind: t.Kind, Name: name, UserID: t.UserID, ParentID: t.ParentID, Scopes: t.Scopes, Sites: t.Sites,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Revoked: t.Revoked()}
	if info.Scopes == nil {
		info.Scopes = []api.Scope{}
	}
	if info.Sites == nil {
		info.Sites = []string{}
	}
	if !t.LastUsedAt.IsZero() {
		lu := t.LastUsedAt
		info.LastUsedAt = &lu
	}
	if !t.RevokedAt.IsZero() {
		ra := t.RevokedAt
		info.RevokedAt = &ra
	}
	return info, nil
}
