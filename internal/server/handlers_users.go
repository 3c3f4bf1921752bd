package server

import (
	"net/http"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/store"
)

func (s *Server) handleTwoFactorStatus(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	st, err := s.svc.TwoFactorStatus(r.Context(), caller)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handleStartTOTP(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	e, err := s.svc.StartTOTP(r.Context(), caller)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

// decodeCode reads a CodeRequest body and requires its code.
func decodeCode(w http.ResponseWriter, r *http.Request) (string, error) {
	var req api.CodeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return "", err
	}
	if req.Code == "" {
		return "", invalid("code", "must not be empty")
	}
	return req.Code, nil
}

func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	code, err := decodeCode(w, r)
	if err != nil {
		return err
	}
	codes, err := s.svc.ConfirmTOTP(r.Context(), caller, code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, codes)
	return nil
}

func (s *Server) handleDisableTOTP(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	code, err := decodeCode(w, r)
	if err != nil {
		return err
	}
	if err := s.svc.DisableTOTP(r.Context(), caller, code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	code, err := decodeCode(w, r)
	if err != nil {
		return err
	}
	codes, err := s.svc.RegenerateRecoveryCodes(r.Context(), caller, code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, codes)
	return nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	users, err := s.svc.AccountUsers(r.Context(), caller)
	if err != nil {
		return err
	}
	out := api.UserList{Users: make([]api.User, len(users))}
	for i, u := range users {
		out.Users[i] = userInfo(u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.CreateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, password, err := s.svc.CreateAccountUser(r.Context(), caller, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.PathUsers+"/"+u.ID)
	writeJSON(w, http.StatusCreated, api.CreateUserResponse{User: userInfo(u), Password: password})
	return nil
}

func (s *Server) writeUser(w http.ResponseWriter, u User, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userInfo(u))
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	u, err := s.svc.AccountUser(r.Context(), caller, r.PathValue("id"))
	return s.writeUser(w, u, err)
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	var req api.UpdateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.svc.UpdateAccountUser(r.Context(), caller, r.PathValue("id"), req)
	return s.writeUser(w, u, err)
}

func (s *Server) handleDisableUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	u, err := s.svc.SetAccountUserDisabled(r.Context(), caller, r.PathValue("id"), true)
	return s.writeUser(w, u, err)
}

func (s *Server) handleEnableUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	u, err := s.svc.SetAccountUserDisabled(r.Context(), caller, r.PathValue("id"), false)
	return s.writeUser(w, u, err)
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	if err := s.svc.DeleteAccountUser(r.Context(), caller, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleResetUserTwoFactor(w http.ResponseWriter, r *http.Request, caller store.Token) error {
	u, err := s.svc.ResetAccountUserTwoFactor(r.Context(), caller, r.PathValue("id"))
	return s.writeUser(w, u, err)
}
