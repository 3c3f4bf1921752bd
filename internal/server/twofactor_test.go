package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/auth"
)

// verify sends a code for a challenge.
func (ts *testServer) verify(challenge, code string) (*http.Response, []byte) {
	ts.t.Helper()
	return ts.do("POST", api.PathLoginVerify, "", api.LoginVerifyRequest{Challenge: challenge, Code: code})
}

// wrongCode returns a six-digit code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestPasswordAloneNeverOpensASession(t *testing.T) {
	ts := newTestServer(t)
	p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleAnalyst)
	resp, body := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: p.password})
	ch := decode[api.LoginChallenge](t, resp, body, http.StatusOK)
	if strings.Contains(string(body), api.SessionTokenPrefix) || strings.Contains(string(body), api.APITokenPrefix) {
		t.Fatalf("the password step answered a token: %s", body)
	}
	if ch.Method != api.FactorEmail || ch.SentTo != "a***a@example.com" || ch.CodeLength != 6 || ch.RecoveryCodesAccepted ||
		!strings.HasPrefix(ch.Challenge, api.ChallengePrefix) || !ch.ExpiresAt.Equal(ts.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("challenge %+v", ch)
	}
	// The challenge itself opens nothing.
	resp, body = ts.do("GET", api.PathWhoAmI, ch.Challenge, nil)
	problem(t, resp, body, api.CodeUnauthenticated)
	// The e-mail went through the real SMTP server, over TLS, authenticated.
	m := ts.smtp.Messages()[1]
	if !m.TLS || m.AuthUser == "" || m.Subject() != "Your smartx login code" || !strings.Contains(m.Text(), "works once") {
		t.Fatalf("login e-mail %+v:\n%s", m, m.Text())
	}
}

func TestEmailedCode(t *testing.T) {
	ts := newTestServer(t)
	p := ts.person(ts.account("Acme"), "ada@example.com", api.RoleAnalyst)
	sent := len(ts.smtp.Messages())
	ch := ts.startLogin("ada@example.com", p.password)
	code := ts.mailedCode(sent+1, "ada@example.com")

	t.Run("a wrong code counts its tries", func(t *testing.T) {
		for left := 4; left >= 1; left-- {
			resp, body := ts.verify(ch.Challenge, wrongCode(code))
			pr := problem(t, resp, body, api.CodeCodeInvalid)
			want := "the code is wrong: 1 try left"
			if left > 1 {
				want = "the code is wrong: " + string(rune('0'+left)) + " tries left"
			}
			if pr.Detail != want {
				t.Fatalf("detail %q, want %q", pr.Detail, want)
			}
		}
		resp, body := ts.verify(ch.Challenge, wrongCode(code))
		problem(t, resp, body, api.CodeTooManyAttempts)
		// Past five, even the right code is refused: a new one must be asked for.
		resp, body = ts.verify(ch.Challenge, code)
		pr := problem(t, resp, body, api.CodeTooManyAttempts)
		if !strings.Contains(pr.Detail, "ask for a new code") {
			t.Fatalf("detail %q", pr.Detail)
		}
	})
	t.Run("a new code is rate limited, then starts the tries again", func(t *testing.T) {
		resp, body := ts.do("POST", api.PathLoginResend, "", api.LoginResendRequest{Challenge: ch.Challenge})
		problem(t, resp, body, api.CodeRateLimited)
		if resp.Header.Get("Retry-After") != "30" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		ts.clock.Advance(30 * time.Second)
		resp, body = ts.do("POST", api.PathLoginResend, "", api.LoginResendRequest{Challenge: ch.Challenge})
		sentAgain := decode[api.LoginResend](t, resp, body, http.StatusOK)
		if sentAgain.SentTo != "a***a@example.com" || !sentAgain.ExpiresAt.Equal(ts.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("resend %+v", sentAgain)
		}
		newCode := ts.mailedCode(sent+2, "ada@example.com")
		if newCode != code {
			resp, body = ts.verify(ch.Challenge, code) // the old code died with the new one
			problem(t, resp, body, api.CodeCodeInvalid)
		}
		resp, body = ts.verify(ch.Challenge, newCode)
		lr := decode[api.LoginResponse](t, resp, body, http.StatusOK)
		if lr.Kind != api.TokenKindSession || !strings.HasPrefix(lr.Token, api.SessionTokenPrefix) || lr.User.Email != "ada@example.com" {
			t.Fatalf("login %+v", lr)
		}
		// Single use: the same challenge and code open nothing more.
		resp, body = ts.verify(ch.Challenge, newCode)
		problem(t, resp, body, api.CodeChallengeInvalid)
	})
	t.Run("a code expires after 10 minutes", func(t *testing.T) {
		n := len(ts.smtp.Messages())
		ch2 := ts.startLogin("ada@example.com", p.password)
		code2 := ts.mailedCode(n+1, "ada@example.com")
		ts.clock.Advance(10 * time.Minute)
		resp, body := ts.verify(ch2.Challenge, code2)
		pr := problem(t, resp, body, api.CodeCodeExpired)
		if !strings.Contains(pr.Detail, "ask for a new one") {
			t.Fatalf("detail %q", pr.Detail)
		}
	})
	t.Run("a code is bound to its challenge", func(t *testing.T) {
		n := len(ts.smtp.Messages())
		first := ts.startLogin("ada@example.com", p.password)
		firstCode := ts.mailedCode(n+1, "ada@example.com")
		second := ts.startLogin("ada@example.com", p.password)
		secondCode := ts.mailedCode(n+2, "ada@example.com")
		if firstCode != secondCode {
			resp, body := ts.verify(second.Challenge, firstCode)
			problem(t, resp, body, api.CodeCodeInvalid)
		}
		forged := first.Challenge[:len(first.Challenge)-4] + "AAAA"
		resp, body := ts.verify(forged, firstCode)
		problem(t, resp, body, api.CodeChallengeInvalid)
		resp, body = ts.verify("sxc_garbage", firstCode)
		problem(t, resp, body, api.CodeChallengeInvalid)
	})
}

func TestLoginWithoutMail(t *testing.T) {
	ts := newTestServer(t, func(sc *ServiceConfig, _ *Config) { sc.Mail = nil })
	ctx := context.Background()
	acc := ts.account("Acme")
	pw, _ := ts.svc.GeneratePassword()
	if _, err := ts.svc.AddUser(ctx, NewUser{AccountID: acc.ID, Email: "ada@example.com", Role: "owner", Password: pw}); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: pw})
	pr := problem(t, resp, body, api.CodeMailUnavailable)
	if !strings.Contains(pr.Detail, "--smtp-url") || !strings.Contains(pr.Detail, "ask the server's operator") {
		t.Fatalf("detail %q", pr.Detail)
	}
	// A wrong password still says nothing else.
	resp, body = ts.do("POST", api.PathLogin, "", api.LoginRequest{Email: "ada@example.com", Password: pw + "x"})
	problem(t, resp, body, api.CodeUnauthenticated)
}

// enrollTOTP enrols an authenticator app for a person's session and returns its secret and
// recovery codes; the code used is of the current time step.
func (ts *testServer) enrollTOTP(p person) (string, []string) {
	ts.t.Helper()
	resp, body := ts.do("POST", api.PathTOTP, p.session, nil)
	e := decode[api.TOTPEnrollment](ts.t, resp, body, http.StatusOK)
	code, err := auth.TOTPCode(e.Secret, ts.clock.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	resp, body = ts.do("POST", api.PathTOTPConfirm, p.session, api.CodeRequest{Code: code})
	rc := decode[api.RecoveryCodes](ts.t, resp, body, http.StatusOK)
	return e.Secret, rc.RecoveryCodes
}

func TestTOTP(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	p := ts.person(acc, "ada@example.com", api.RoleOwner)

	t.Run("only a session manages it", func(t *testing.T) {
		tok := ts.mint(p, api.ScopeReadingsRead)
		for _, path := range []string{api.PathTOTP, api.PathPassword} {
			resp, body := ts.do("POST", path, tok.Secret, api.PasswordChangeRequest{Current: "a", New: "b"})
			problem(t, resp, body, api.CodeSessionRequired)
		}
	})
	t.Run("a wrong first code enrols nothing", func(t *testing.T) {
		resp, body := ts.do("POST", api.PathTOTP, p.session, nil)
		e := decode[api.TOTPEnrollment](t, resp, body, http.StatusOK)
		if e.Digits != 6 || e.Period != 30 || e.Algorithm != "SHA1" || e.Issuer != "smartx" || e.Account != "ada@example.com" ||
			!strings.HasPrefix(e.URI, "otpauth://totp/") {
			t.Fatalf("enrolment %+v", e)
		}
		good, _ := auth.TOTPCode(e.Secret, ts.clock.Now())
		resp, body = ts.do("POST", api.PathTOTPConfirm, p.session, api.CodeRequest{Code: wrongCode(good)})
		problem(t, resp, body, api.CodeCodeInvalid)
		resp, body = ts.do("GET", api.PathTwoFactor, p.session, nil)
		st := decode[api.TwoFactorStatus](t, resp, body, http.StatusOK)
		if st.Method != api.FactorEmail || st.TOTP.Enabled || !st.TOTP.Pending || !st.EmailAvailable {
			t.Fatalf("status after a wrong first code %+v", st)
		}
	})

	secret, recovery := ts.enrollTOTP(p)
	if len(recovery) != 10 {
		t.Fatalf("%d recovery codes", len(recovery))
	}
	resp, body := ts.do("GET", api.PathTwoFactor, p.session, nil)
	st := decode[api.TwoFactorStatus](t, resp, body, http.StatusOK)
	if st.Method != api.FactorTOTP || !st.TOTP.Enabled || st.RecoveryCodesLeft != 10 {
		t.Fatalf("status %+v", st)
	}
	resp, body = ts.do("POST", api.PathTOTP, p.session, nil)
	problem(t, resp, body, api.CodeConflict)

	t.Run("logins ask for the app's code, once per step", func(t *testing.T) {
		mails := len(ts.smtp.Messages())
		ch := ts.startLogin("ada@example.com", p.password)
		if ch.Method != api.FactorTOTP || !ch.RecoveryCodesAccepted || ch.SentTo != "" {
			t.Fatalf("challenge %+v", ch)
		}
		if len(ts.smtp.Messages()) != mails {
			t.Fatal("a TOTP login sent an e-mail")
		}
		// The step of the enrolment's code is used: the code of the same step is refused.
		same, _ := auth.TOTPCode(secret, ts.clock.Now())
		resp, body := ts.verify(ch.Challenge, same)
		problem(t, resp, body, api.CodeCodeInvalid)
		ts.clock.Advance(30 * time.Second)
		next, _ := auth.TOTPCode(secret, ts.clock.Now())
		resp, body = ts.verify(ch.Challenge, next)
		decode[api.LoginResponse](t, resp, body, http.StatusOK)
		// The same code again, on another login, is a replay.
		ch2 := ts.startLogin("ada@example.com", p.password)
		resp, body = ts.verify(ch2.Challenge, next)
		problem(t, resp, body, api.CodeCodeInvalid)
	})
	t.Run("a recovery code works once", func(t *testing.T) {
		ch := ts.startLogin("ada@example.com", p.password)
		resp, body := ts.verify(ch.Challenge, strings.ToUpper(recovery[3]))
		lr := decode[api.LoginResponse](t, resp, body, http.StatusOK)
		if lr.RecoveryCodesLeft == nil || *lr.RecoveryCodesLeft != 9 {
			t.Fatalf("recovery codes left %v", lr.RecoveryCodesLeft)
		}
		ch = ts.startLogin("ada@example.com", p.password)
		resp, body = ts.verify(ch.Challenge, recovery[3])
		problem(t, resp, body, api.CodeCodeInvalid)
	})
	t.Run("new recovery codes need a current code, and replace the old", func(t *testing.T) {
		resp, body := ts.do("POST", api.PathRecoveryCodes, p.session, api.CodeRequest{Code: recovery[0]})
		problem(t, resp, body, api.CodeCodeInvalid) // a recovery code does not mint recovery codes
		ts.clock.Advance(30 * time.Second)
		code, _ := auth.TOTPCode(secret, ts.clock.Now())
		resp, body = ts.do("POST", api.PathRecoveryCodes, p.session, api.CodeRequest{Code: code})
		fresh := decode[api.RecoveryCodes](t, resp, body, http.StatusOK)
		ch := ts.startLogin("ada@example.com", p.password)
		resp, body = ts.verify(ch.Challenge, recovery[0])
		problem(t, resp, body, api.CodeCodeInvalid)
		resp, body = ts.verify(ch.Challenge, fresh.RecoveryCodes[0])
		decode[api.LoginResponse](t, resp, body, http.StatusOK)
		recovery = fresh.RecoveryCodes
	})
	t.Run("disabling takes a code and brings e-mailed codes back", func(t *testing.T) {
		resp, body := ts.do("POST", api.PathTOTPDisable, p.session, api.CodeRequest{Code: "123456"})
		problem(t, resp, body, api.CodeCodeInvalid)
		resp, body = ts.do("POST", api.PathTOTPDisable, p.session, api.CodeRequest{Code: recovery[5]})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("disable: %d %s", resp.StatusCode, body)
		}
		ts.login("ada@example.com", p.password) // by e-mail again
	})
}

func TestOwnerResetsTwoFactor(t *testing.T) {
	ts := newTestServer(t)
	acc := ts.account("Acme")
	owner := ts.person(acc, "own@example.com", api.RoleOwner)
	admin := ts.person(acc, "adm@example.com", api.RoleAdmin)
	ada := ts.person(acc, "ada@example.com", api.RoleAnalyst)
	ts.enrollTOTP(ada)
	resp, body := ts.do("DELETE", api.PathUsers+"/"+ada.user.ID+"/2fa", admin.session, nil)
	problem(t, resp, body, api.CodeForbidden)
	resp, body = ts.do("DELETE", api.PathUsers+"/"+ada.user.ID+"/2fa", owner.session, nil)
	u := decode[api.User](t, resp, body, http.StatusOK)
	if u.TwoFactor != api.FactorEmail {
		t.Fatalf("after the reset %+v", u)
	}
	ts.login("ada@example.com", ada.password)
	// The reset is in the account's audit log.
	ts.srv.FlushAudit(context.Background())
	_, body = ts.do("GET", api.PathAudit+"?status=200", owner.session, nil)
	if !strings.Contains(string(body), `"route":"DELETE /v1/users/{id}/2fa"`) {
		t.Fatalf("the reset is not in the audit log: %s", body)
	}
}
