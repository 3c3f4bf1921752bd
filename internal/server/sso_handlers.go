package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

// The routes of single sign-on (sso_login.go, sso.go).

func (s *Server) handleSSOStart(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.SSOStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Email) == "" {
		return invalid("email", "must not be empty: the e-mail's domain names the account")
	}
	start, accountID, err := s.svc.StartSSO(r.Context(), req)
	if accountID != "" {
		fileLogin(r, accountID, "")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, start)
	return nil
}

func (s *Server) handleSSOFinish(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.SSOFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	for _, f := range [][2]string{{"handle", req.Handle}, {"code", req.Code}, {"state", req.State}, {"code_verifier", req.CodeVerifier}} {
		if f[1] == "" {
			return invalid(f[0], "must not be empty")
		}
	}
	sess, err := s.svc.FinishSSO(r.Context(), req, sourceIP(r))
	return s.writeSSOSession(w, r, sess, err)
}

// writeSSOSession answers a finished sign-in as a password login's verify does.
func (s *Server) writeSSOSession(w http.ResponseWriter, r *http.Request, sess Session, err error) error {
	if err != nil {
		return fileAttempt(r, err)
	}
	writeJSON(w, http.StatusOK, s.loginResponse(r, sess))
	return nil
}

func (s *Server) loginResponse(r *http.Request, sess Session) api.LoginResponse {
	ri := infoFrom(r.Context())
	ri.accountID, ri.userID, ri.tokenID = sess.User.AccountID, sess.User.ID, sess.Token.ID
	return api.LoginResponse{Token: sess.Secret, TokenID: sess.Token.ID, Kind: sess.Token.Kind, ExpiresAt: sess.Token.ExpiresAt, User: userInfo(sess.User)}
}

func (s *Server) handleSSODevice(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.SSODeviceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Email) == "" {
		return invalid("email", "must not be empty: the e-mail's domain names the account")
	}
	dev, accountID, err := s.svc.StartSSODevice(r.Context(), req.Email, sourceIP(r))
	if accountID != "" {
		fileLogin(r, accountID, "")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dev)
	return nil
}

func (s *Server) handleSSODevicePoll(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	var req api.SSODevicePollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Handle == "" {
		return invalid("handle", "must not be empty: send the handle POST /v1/auth/sso/device returned")
	}
	sess, pending, err := s.svc.PollSSODevice(r.Context(), req.Handle)
	if err != nil {
		return fileAttempt(r, err)
	}
	if pending {
		writeJSON(w, http.StatusOK, api.SSODevicePoll{Status: api.SSODevicePending})
		return nil
	}
	login := s.loginResponse(r, sess)
	writeJSON(w, http.StatusOK, api.SSODevicePoll{Status: api.SSODeviceComplete, Login: &login})
	return nil
}

func (s *Server) handleGetAccountSSO(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	return s.writeAccountSSO(w, func(ctx context.Context) (api.SSOSettings, error) { return s.svc.AccountSSO(ctx, caller) }, r)
}

func (s *Server) handleSetAccountSSO(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.SSOSettingsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	return s.writeAccountSSO(w, func(ctx context.Context) (api.SSOSettings, error) { return s.svc.SetAccountSSO(ctx, caller, req) }, r)
}

func (s *Server) writeAccountSSO(w http.ResponseWriter, get func(context.Context) (api.SSOSettings, error), r *http.Request) error {
	out, err := get(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleRemoveAccountSSO(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := s.svc.RemoveAccountSSO(r.Context(), caller); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkSSO runs a round of the single sign-on checks (sso_check.go).
func (s *Server) checkSSO(ctx context.Context) {
	res, err := s.svc.CheckSSOUsers(ctx, s.cfg.SSOCheckEvery)
	if err != nil && ctx.Err() == nil {
		s.log.Error("single sign-on checks failed", "err", err)
	}
	if res.Checked > 0 {
		s.log.Info("single sign-on checks", "checked", res.Checked, "disabled", res.Disabled, "failed", res.Failed)
	}
}
