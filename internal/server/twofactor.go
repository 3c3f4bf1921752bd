package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/store"
)

// A user's second factor is the e-mailed code until they enrol an authenticator app (TOTP),
// which then replaces it; enrolment gives ten one-time recovery codes for a lost phone. Every
// change here needs a login session (requireSession) and, once TOTP is on, a current code.

// totpSecret opens the user's TOTP secret.
func (s *Service) totpSecret(ctx context.Context, u User) (string, error) {
	b, err := s.keys.OpenForAccount(ctx, u.AccountID, userTOTPPurpose(u.ID), u.TOTP.SealedSecret)
	if err != nil {
		return "", errUnreadable("TOTP secret of user "+u.ID, err)
	}
	return string(b), nil
}

// checkTOTP checks a TOTP code of u and records its time step, so the code is accepted once.
func (s *Service) checkTOTP(ctx context.Context, u User, code string) (bool, error) {
	secret, err := s.totpSecret(ctx, u)
	if err != nil {
		return false, err
	}
	step, ok := auth.MatchTOTP(secret, code, s.now())
	if !ok {
		return false, nil
	}
	err = s.st.UseTOTPStep(ctx, u.AccountID, u.ID, step)
	if errors.Is(err, store.ErrConflict) {
		return false, nil // a replayed code
	}
	return err == nil, err
}

// checkTOTPOrRecovery accepts a TOTP code or, shaped xxxxx-xxxxx, one of the user's recovery
// codes, which is then used up; left says how many recovery codes remain when one was used.
func (s *Service) checkTOTPOrRecovery(ctx context.Context, u User, code string) (ok bool, left *int, err error) {
	if norm, isRecovery := auth.NormalizeRecoveryCode(code); isRecovery {
		n, err := s.st.UseRecoveryCode(ctx, u.AccountID, u.ID, s.recoveryCodeHash(u.ID, norm), s.nowUTC())
		if errors.Is(err, store.ErrNotFound) {
			return false, nil, nil
		}
		if err != nil {
			return false, nil, err
		}
		s.log.Warn("a recovery code was used", "account", u.AccountID, "user", u.ID, "left", n)
		return true, &n, nil
	}
	ok, err = s.checkTOTP(ctx, u, code)
	return ok, nil, err
}

// TwoFactorStatus returns the caller's second-factor settings.
func (s *Service) TwoFactorStatus(ctx context.Context, caller store.Token) (api.TwoFactorStatus, error) {
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return api.TwoFactorStatus{}, err
	}
	st := api.TwoFactorStatus{Method: api.FactorEmail, EmailAvailable: s.mail != nil,
		TOTP: api.TOTPStatus{Enabled: u.TOTP.Enabled(), Pending: len(u.TOTP.SealedSecret) > 0 && !u.TOTP.Enabled(), EnabledAt: timePtr(u.TOTP.EnabledAt)}}
	if u.TOTP.Enabled() {
		st.Method = api.FactorTOTP
		if st.RecoveryCodesLeft, err = s.st.RecoveryCodesLeft(ctx, u.AccountID, u.ID); err != nil {
			return api.TwoFactorStatus{}, err
		}
	}
	return st, nil
}

// StartTOTP draws a TOTP secret for the caller, pending until ConfirmTOTP; the secret is shown
// once.
func (s *Service) StartTOTP(ctx context.Context, caller store.Token) (api.TOTPEnrollment, error) {
	if err := requireSession(caller, "enrolling an authenticator app"); err != nil {
		return api.TOTPEnrollment{}, err
	}
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	if u.TOTP.Enabled() {
		return api.TOTPEnrollment{}, newProblemError(api.CodeConflict, "an authenticator app is already enrolled: disable it first (smartx auth 2fa disable)")
	}
	key, err := auth.NewTOTPKey(s.issuer, u.Email, s.rand)
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	sealed, err := s.keys.SealForAccount(ctx, u.AccountID, userTOTPPurpose(u.ID), []byte(key.Secret))
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	if err := s.st.SetTOTP(ctx, u.AccountID, u.ID, sealed, s.nowUTC()); err != nil {
		return api.TOTPEnrollment{}, err
	}
	return api.TOTPEnrollment{Secret: key.Secret, URI: key.URI, Issuer: s.issuer, Account: u.Email, Digits: api.TOTPDigits,
		Period: int(api.TOTPPeriod.Seconds()), Algorithm: "SHA1"}, nil
}

// newRecoveryCodes draws the user's recovery codes and their keyed hashes.
func (s *Service) newRecoveryCodes(u User) ([]string, [][]byte, error) {
	codes, err := auth.NewRecoveryCodes(s.rand, api.RecoveryCodeCount)
	if err != nil {
		return nil, nil, err
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		norm, _ := auth.NormalizeRecoveryCode(c)
		hashes[i] = s.recoveryCodeHash(u.ID, norm)
	}
	return codes, hashes, nil
}

// ConfirmTOTP turns the pending secret on with a first code from the app, and returns the
// recovery codes, shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, caller store.Token, code string) (api.RecoveryCodes, error) {
	if err := requireSession(caller, "enrolling an authenticator app"); err != nil {
		return api.RecoveryCodes{}, err
	}
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return api.RecoveryCodes{}, err
	}
	if u.TOTP.Enabled() {
		return api.RecoveryCodes{}, newProblemError(api.CodeConflict, "an authenticator app is already enrolled")
	}
	if len(u.TOTP.SealedSecret) == 0 {
		return api.RecoveryCodes{}, newProblemError(api.CodeConflict, "no enrolment is pending: start one (smartx auth 2fa enroll)")
	}
	secret, err := s.totpSecret(ctx, u)
	if err != nil {
		return api.RecoveryCodes{}, err
	}
	step, ok := auth.MatchTOTP(secret, strings.TrimSpace(code), s.now())
	if !ok {
		return api.RecoveryCodes{}, codeProblem(api.CodeCodeInvalid, "the code does not match: check the app's clock and enter the code it shows now")
	}
	codes, hashes, err := s.newRecoveryCodes(u)
	if err != nil {
		return api.RecoveryCodes{}, err
	}
	if err := s.st.EnableTOTP(ctx, u.AccountID, u.ID, step, hashes, s.nowUTC()); err != nil {
		return api.RecoveryCodes{}, err
	}
	s.log.Info("authenticator app enrolled", "account", u.AccountID, "user", u.ID)
	return api.RecoveryCodes{RecoveryCodes: codes}, nil
}

// enrolledUser returns the caller's user once their TOTP is on and code is a current TOTP code
// (or, when recoveryOK, a recovery code).
func (s *Service) enrolledUser(ctx context.Context, caller store.Token, what, code string, recoveryOK bool) (User, error) {
	if err := requireSession(caller, what); err != nil {
		return User{}, err
	}
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return User{}, err
	}
	if !u.TOTP.Enabled() {
		return User{}, newProblemError(api.CodeConflict, "no authenticator app is enrolled: your logins use e-mailed codes")
	}
	if wait, ok := s.limiter.allow(limitByUser, u.Email); !ok {
		return User{}, &RateLimitError{RetryAfter: wait}
	}
	var ok bool
	if recoveryOK {
		ok, _, err = s.checkTOTPOrRecovery(ctx, u, code)
	} else {
		ok, err = s.checkTOTP(ctx, u, strings.TrimSpace(code))
	}
	if err != nil {
		return User{}, err
	}
	if !ok {
		needs := "a current code of your authenticator app"
		if recoveryOK {
			needs += " or one of your recovery codes"
		}
		return User{}, codeProblem(api.CodeCodeInvalid, fmt.Sprintf("the code is wrong: %s needs %s", what, needs))
	}
	return u, nil
}

// DisableTOTP turns the caller's TOTP off (their logins go back to e-mailed codes); it takes a
// current code or a recovery code.
func (s *Service) DisableTOTP(ctx context.Context, caller store.Token, code string) error {
	u, err := s.enrolledUser(ctx, caller, "disabling the authenticator app", code, true)
	if err != nil {
		return err
	}
	if err := s.st.ClearTOTP(ctx, u.AccountID, u.ID, s.nowUTC()); err != nil {
		return err
	}
	s.log.Info("authenticator app disabled", "account", u.AccountID, "user", u.ID)
	return nil
}

// RegenerateRecoveryCodes replaces the caller's recovery codes; it takes a current code.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, caller store.Token, code string) (api.RecoveryCodes, error) {
	u, err := s.enrolledUser(ctx, caller, "new recovery codes", code, false)
	if err != nil {
		return api.RecoveryCodes{}, err
	}
	codes, hashes, err := s.newRecoveryCodes(u)
	if err != nil {
		return api.RecoveryCodes{}, err
	}
	if err := s.st.SetRecoveryCodes(ctx, u.AccountID, u.ID, hashes, s.nowUTC()); err != nil {
		return api.RecoveryCodes{}, err
	}
	return api.RecoveryCodes{RecoveryCodes: codes}, nil
}
