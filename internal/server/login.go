package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/mail"
	"github.com/smart-impulse/smartx/internal/store"
)

// A password login never yields a session by itself (docs/security.md, "Two-factor login"):
// a correct password gets a challenge, and the session comes from a second request carrying
// the code of the user's second factor, an e-mailed code or, for users who enrolled one, an
// authenticator app (TOTP) or one of their recovery codes. Challenges live in the store, so
// any server process sharing the database can finish a login another one started.

// maxLoginPasswordBytes bounds what a login hashes; a longer password cannot be valid.
const maxLoginPasswordBytes = 4 * auth.MaxPasswordLength

// Keyed-hash purposes of the one-time codes (auth.Keyring.PlatformIndex): a copy of the
// database alone cannot test a guess against them.
const (
	hashLoginCode    = "login-code"
	hashRecoveryCode = "recovery-code"
)

// Sizes of a challenge secret: sxc_ + challenge id (20) + _ + 43 characters of base64url.
const (
	challengeIDLen     = len(api.PrefixChallenge) + 16
	challengeSecretLen = len(api.ChallengePrefix) + challengeIDLen + 1 + 43
)

// Session is a completed login: a session token, or the API token the login asked for.
type Session struct {
	Token  store.Token
	Secret string
	User   User
	// RecoveryCodesLeft is set when the login used a recovery code.
	RecoveryCodesLeft *int
}

func codeProblem(code api.Code, detail string) error { return newProblemError(code, detail) }

// AttributedError is a login step that failed for a known user: the API's answer is the same as
// for anyone (Unwrap), but the audit log files the attempt in the user's account, so its owners
// see attempts on their users.
type AttributedError struct {
	AccountID, UserID string
	Err               error
}

func (e *AttributedError) Error() string { return e.Err.Error() }

// Unwrap returns the error the client is answered.
func (e *AttributedError) Unwrap() error { return e.Err }

// attribute wraps a failure of a step of u's login.
func attribute(accountID, userID string, err error) error {
	if err == nil {
		return nil
	}
	return &AttributedError{AccountID: accountID, UserID: userID, Err: err}
}

var (
	errChallengeInvalid = codeProblem(api.CodeChallengeInvalid, "this login is no longer pending (finished or expired): log in again with your e-mail and password")
	errUserDisabled     = codeProblem(api.CodeUserDisabled, "this user was disabled: ask an owner or administrator of your account")
)

// Login checks an e-mail and password and, when they are right, starts the second step: it
// e-mails a code or asks for the user's TOTP. Attempts are rate limited per source address and
// per e-mail (known or not, so a limit says nothing of who exists); an unknown e-mail costs one
// password hash, like a wrong password, and gets the same answer.
func (s *Service) Login(ctx context.Context, email, password, sourceIP string) (LoginStart, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return LoginStart{}, &RateLimitError{RetryAfter: wait}
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if wait, ok := s.limiter.allow(limitByUser, email); !ok {
		return LoginStart{}, &RateLimitError{RetryAfter: wait}
	}
	su, err := s.st.UserByEmail(ctx, s.emailIndex(email))
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return LoginStart{}, err
	}
	// A user made at a sign-in through the account's identity provider has no password.
	if !known || su.PasswordHash == "" || len(password) > maxLoginPasswordBytes {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return LoginStart{}, err
		}
		return LoginStart{}, ErrInvalidCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, su.PasswordHash)
	if err != nil {
		return LoginStart{}, err
	}
	if !ok {
		return LoginStart{}, attribute(su.AccountID, su.ID, ErrInvalidCredentials)
	}
	if su.Disabled() {
		return LoginStart{}, attribute(su.AccountID, su.ID, errUserDisabled)
	}
	if err := s.checkPasswordAllowed(ctx, su); err != nil {
		return LoginStart{}, attribute(su.AccountID, su.ID, err)
	}
	if rehash {
		if hash, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.st.SetPasswordHash(ctx, su.AccountID, su.ID, hash, s.nowUTC()); err != nil {
				s.log.Warn("could not upgrade a password hash", "user", su.ID, "err", err)
			}
		}
	}
	u, err := s.openUser(ctx, su)
	if err != nil {
		return LoginStart{}, err
	}
	ch, err := s.startChallenge(ctx, u, sourceIP)
	if err != nil {
		return LoginStart{}, attribute(u.AccountID, u.ID, err)
	}
	return LoginStart{LoginChallenge: ch, AccountID: u.AccountID, UserID: u.ID}, nil
}

// LoginStart is a correct password's challenge, with whose login it is, for the audit log.
type LoginStart struct {
	api.LoginChallenge
	AccountID, UserID string
}

// startChallenge records a pending login of u and sends its code when it is e-mailed.
func (s *Service) startChallenge(ctx context.Context, u User, sourceIP string) (api.LoginChallenge, error) {
	method := api.FactorEmail
	if u.TOTP.Enabled() {
		method = api.FactorTOTP
	}
	if method == api.FactorEmail && s.mail == nil {
		return api.LoginChallenge{}, codeProblem(api.CodeMailUnavailable,
			"this server cannot e-mail login codes (it has no --smtp-url) and you have no authenticator app enrolled: ask the server's operator to configure e-mail")
	}
	id, err := s.newID(api.PrefixChallenge)
	if err != nil {
		return api.LoginChallenge{}, err
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return api.LoginChallenge{}, fmt.Errorf("draw login challenge: %w", err)
	}
	secret := api.ChallengePrefix + id + "_" + base64.RawURLEncoding.EncodeToString(raw)
	now := s.nowUTC()
	c := store.LoginChallenge{ID: id, SecretHash: hashChallenge(secret), AccountID: u.AccountID, UserID: u.ID, Method: string(method),
		CreatedAt: now, SentAt: now, ExpiresAt: now.Add(api.LoginCodeTTL)}
	out := api.LoginChallenge{Challenge: secret, Method: method, ExpiresAt: c.ExpiresAt, CodeLength: api.LoginCodeDigits,
		RecoveryCodesAccepted: method == api.FactorTOTP}
	if method == api.FactorEmail {
		if c.CodeHash, err = s.sendLoginCode(ctx, u, id, sourceIP, c.ExpiresAt); err != nil {
			return api.LoginChallenge{}, err
		}
		c.Sends = 1
		out.SentTo = maskEmail(u.Email)
	}
	if err := s.st.CreateChallenge(ctx, c); err != nil {
		return api.LoginChallenge{}, err
	}
	return out, nil
}

func hashChallenge(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// loginCodeHash is the keyed hash of an e-mailed code, bound to its challenge.
func (s *Service) loginCodeHash(challengeID, code string) []byte {
	return s.keys.PlatformIndex(hashLoginCode, challengeID+":"+code)
}

// recoveryCodeHash is the keyed hash of a recovery code, bound to its user.
func (s *Service) recoveryCodeHash(userID, normalized string) []byte {
	return s.keys.PlatformIndex(hashRecoveryCode, userID+":"+normalized)
}

// sendLoginCode draws a code, e-mails it to u and returns its keyed hash.
func (s *Service) sendLoginCode(ctx context.Context, u User, challengeID, sourceIP string, expires time.Time) ([]byte, error) {
	code, err := auth.NewLoginCode(s.rand, api.LoginCodeDigits)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(`Your smartx login code is:

    %s

Enter it where smartx asks for it. It works once and expires in %d minutes (at %s UTC).

This login came from %s at %s UTC. If it was not you, someone knows your
password: change it (smartx auth password) and tell an owner of your account.
`, code, int(api.LoginCodeTTL/time.Minute), expires.UTC().Format("15:04"), sourceIP, s.now().UTC().Format("15:04"))
	if err := s.mail.Send(ctx, mail.Message{To: u.Email, Subject: "Your smartx login code", Text: text}); err != nil {
		s.log.Error("login code not sent", "user", u.ID, "mail", s.mail.Describe(), "err", err)
		return nil, codeProblem(api.CodeMailUnavailable, "the server could not send your login code: try again in a minute, or ask its operator to check its e-mail settings")
	}
	return s.loginCodeHash(challengeID, code), nil
}

// maskEmail shows enough of an address to recognise it: o***r@example.com.
func maskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	if len(r) <= 2 {
		return string(r[0]) + "***@" + domain
	}
	return string(r[0]) + "***" + string(r[len(r)-1]) + "@" + domain
}

// pendingLogin finds the challenge a secret names and checks it is still pending.
func (s *Service) pendingLogin(ctx context.Context, secret string) (store.LoginChallenge, User, error) {
	rest, ok := strings.CutPrefix(secret, api.ChallengePrefix)
	if !ok || len(secret) != challengeSecretLen || rest[challengeIDLen] != '_' || !store.ValidID(rest[:challengeIDLen], api.PrefixChallenge) {
		return store.LoginChallenge{}, User{}, errChallengeInvalid
	}
	c, err := s.st.Challenge(ctx, rest[:challengeIDLen])
	if errors.Is(err, store.ErrNotFound) {
		return store.LoginChallenge{}, User{}, errChallengeInvalid
	}
	if err != nil {
		return store.LoginChallenge{}, User{}, err
	}
	if subtle.ConstantTimeCompare(hashChallenge(secret), c.SecretHash) != 1 {
		return store.LoginChallenge{}, User{}, errChallengeInvalid
	}
	if !s.now().Before(c.CreatedAt.Add(api.LoginChallengeMaxAge)) {
		return store.LoginChallenge{}, User{}, errChallengeInvalid
	}
	u, err := s.user(ctx, c.AccountID, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.LoginChallenge{}, User{}, errChallengeInvalid
	}
	if err != nil {
		return store.LoginChallenge{}, User{}, err
	}
	if u.Disabled() {
		return store.LoginChallenge{}, User{}, errUserDisabled
	}
	return c, u, nil
}

// VerifyLogin finishes a login with the code of its second factor, and opens a session or, when
// req.Token asks for one, mints a root API token. Each wrong code counts against the challenge
// (5 at most, then a new code must be asked for) and against the same rate limits as passwords.
func (s *Service) VerifyLogin(ctx context.Context, req api.LoginVerifyRequest, sourceIP string) (Session, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	c, u, err := s.pendingLogin(ctx, req.Challenge)
	if err != nil {
		return Session{}, err
	}
	sess, err := s.verifyCode(ctx, c, u, req)
	return sess, attribute(u.AccountID, u.ID, err)
}

// verifyCode is VerifyLogin once the challenge is found.
func (s *Service) verifyCode(ctx context.Context, c store.LoginChallenge, u User, req api.LoginVerifyRequest) (Session, error) {
	var err error
	if wait, ok := s.limiter.allow(limitByUser, u.Email); !ok {
		return Session{}, &RateLimitError{RetryAfter: wait}
	}
	if c.Attempts >= api.LoginCodeMaxAttempts {
		return Session{}, s.tooManyAttempts(c)
	}
	// A token asked for is checked before the code is spent: a typo in it must not cost the
	// login, nor a recovery code.
	var spec tokenSpec
	if req.Token != nil {
		if spec, err = s.checkTokenRequest(u, nil, *req.Token); err != nil {
			return Session{}, err
		}
	}
	now := s.now()
	if !now.Before(c.ExpiresAt) {
		if c.Method == string(api.FactorEmail) {
			return Session{}, codeProblem(api.CodeCodeExpired, fmt.Sprintf("the code expired at %s UTC: ask for a new one (smartx auth login sends one)", c.ExpiresAt.UTC().Format("15:04")))
		}
		return Session{}, codeProblem(api.CodeCodeExpired, "this login waited too long for its code: log in again")
	}
	var left *int
	code := strings.TrimSpace(req.Code)
	ok := false
	switch api.SecondFactor(c.Method) {
	case api.FactorEmail:
		ok = subtle.ConstantTimeCompare(s.loginCodeHash(c.ID, code), c.CodeHash) == 1
	case api.FactorTOTP:
		ok, left, err = s.checkTOTPOrRecovery(ctx, u, code)
		if err != nil {
			return Session{}, err
		}
	}
	if !ok {
		n, err := s.st.CountChallengeAttempt(ctx, c.ID)
		if err != nil {
			return Session{}, err
		}
		if n >= api.LoginCodeMaxAttempts {
			return Session{}, s.tooManyAttempts(c)
		}
		left := api.LoginCodeMaxAttempts - n
		tries := "tries"
		if left == 1 {
			tries = "try"
		}
		return Session{}, codeProblem(api.CodeCodeInvalid, fmt.Sprintf("the code is wrong: %d %s left", left, tries))
	}
	// Single use: of two requests carrying the right code, one ends the challenge.
	if err := s.st.DeleteChallenge(ctx, c.ID); errors.Is(err, store.ErrNotFound) {
		return Session{}, errChallengeInvalid
	} else if err != nil {
		return Session{}, err
	}
	sess := Session{User: u, RecoveryCodesLeft: left}
	if req.Token != nil {
		sess.Token, sess.Secret, err = s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindAPI,
			Name: spec.name, Scopes: spec.scopes, Sites: spec.sites, ExpiresAt: spec.exp})
		return sess, err
	}
	sess.Token, sess.Secret, err = s.tokens.Issue(ctx, auth.IssueRequest{AccountID: u.AccountID, UserID: u.ID, Kind: api.TokenKindSession,
		Name: "session", Scopes: u.Role.Scopes(), ExpiresAt: now.Add(api.SessionTokenTTL)})
	return sess, err
}

func (s *Service) tooManyAttempts(c store.LoginChallenge) error {
	if c.Method == string(api.FactorEmail) && c.Sends < api.LoginCodeMaxSends {
		return codeProblem(api.CodeTooManyAttempts, fmt.Sprintf("%d wrong codes: ask for a new code (smartx auth login offers to send one)", api.LoginCodeMaxAttempts))
	}
	return codeProblem(api.CodeTooManyAttempts, fmt.Sprintf("%d wrong codes: log in again with your e-mail and password", api.LoginCodeMaxAttempts))
}

// ResendLogin e-mails a new code for a pending login: at most once every 30 seconds and five
// times a login; the new code starts its tries again.
func (s *Service) ResendLogin(ctx context.Context, secret, sourceIP string) (api.LoginResend, error) {
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return api.LoginResend{}, &RateLimitError{RetryAfter: wait}
	}
	c, u, err := s.pendingLogin(ctx, secret)
	if err != nil {
		return api.LoginResend{}, err
	}
	sent, err := s.resend(ctx, c, u, sourceIP)
	return sent, attribute(u.AccountID, u.ID, err)
}

// resend is ResendLogin once the challenge is found.
func (s *Service) resend(ctx context.Context, c store.LoginChallenge, u User, sourceIP string) (api.LoginResend, error) {
	if c.Method != string(api.FactorEmail) {
		return api.LoginResend{}, invalid("challenge", "this login asks for the code of your authenticator app: there is nothing to send")
	}
	if c.Sends >= api.LoginCodeMaxSends {
		return api.LoginResend{}, codeProblem(api.CodeTooManyAttempts, fmt.Sprintf("%d codes were sent for this login: log in again with your e-mail and password", c.Sends))
	}
	now := s.nowUTC()
	if wait := c.SentAt.Add(api.LoginCodeResendAfter).Sub(now); wait > 0 {
		return api.LoginResend{}, &RateLimitError{RetryAfter: wait}
	}
	expires := now.Add(api.LoginCodeTTL).UTC()
	if last := c.CreatedAt.Add(api.LoginChallengeMaxAge); last.Before(expires) {
		expires = last
	}
	hash, err := s.sendLoginCode(ctx, u, c.ID, sourceIP, expires)
	if err != nil {
		return api.LoginResend{}, err
	}
	if err := s.st.ResendChallenge(ctx, c.ID, hash, s.nowUTC(), expires); err != nil {
		return api.LoginResend{}, err
	}
	return api.LoginResend{SentTo: maskEmail(u.Email), ExpiresAt: expires}, nil
}

// requireSession refuses an API token where only an interactive login may act: a script's
// token must not be able to change the password or second factor of its user.
func requireSession(caller store.Token, what string) error {
	if caller.Kind != api.TokenKindSession {
		return codeProblem(api.CodeSessionRequired, what+" needs a login session, not an API token: run `smartx auth login`")
	}
	return nil
}

// ChangeOwnPassword replaces the caller's password after checking the current one; every
// session of the user ends, with what they minted.
func (s *Service) ChangeOwnPassword(ctx context.Context, caller store.Token, req api.PasswordChangeRequest, sourceIP string) error {
	if err := requireSession(caller, "changing your password"); err != nil {
		return err
	}
	u, err := s.callerUser(ctx, caller)
	if err != nil {
		return err
	}
	if wait, ok := s.limiter.allow(limitByIP, sourceIP); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	if wait, ok := s.limiter.allow(limitByUser, u.Email); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	if u.PasswordHash == "" {
		return invalid("current", "you have no password: you sign in through your account's identity provider (smartx auth login --sso)")
	}
	if len(req.Current) > maxLoginPasswordBytes {
		return invalid("current", "is not your current password")
	}
	ok, _, err := s.hasher.Verify(ctx, req.Current, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return invalid("current", "is not your current password")
	}
	if req.New == req.Current {
		return invalid("new", "must differ from the current password")
	}
	err = s.setPassword(ctx, u, req.New)
	var ve *ValidationError
	if errors.As(err, &ve) && ve.Field == "password" {
		ve.Field = "new" // the policy names the field it checks; here the body calls it new
	}
	return err
}
