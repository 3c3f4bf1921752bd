package commands

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAuthLoginSSOFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"auth", "login", "--device-code"}, "--device-code goes with --sso"},
		{[]string{"auth", "login", "--sso", "--with-token"}, "--sso signs in through your identity provider: leave out --with-token, --password-stdin and --code-stdin"},
		{[]string{"auth", "login", "--sso", "--password-stdin"}, "--sso signs in through your identity provider"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

func TestSSOCallback(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		status      int
		code, err   string // what the wait receives; "" and "" for nothing
	}{
		{"the redirect", "?code=c1&state=s1", 200, "c1", ""},
		{"another sign-in's state", "?code=c1&state=other", 400, "", ""},
		{"refused at the provider", "?error=access_denied&error_description=the+user+said+no&state=s1", 200, "", "the identity provider refused the sign-in (access_denied: the user said no)"},
		{"no code", "?state=s1", 200, "", "the identity provider's redirect carried no code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan callback, 1)
			rec := httptest.NewRecorder()
			callbackHandler("s1", got).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/callback"+tc.query, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			select {
			case cb := <-got:
				errText := ""
				if cb.err != nil {
					errText = cb.err.Error()
				}
				if cb.code != tc.code || errText != tc.err {
					t.Fatalf("got code %q, error %q; want %q, %q", cb.code, errText, tc.code, tc.err)
				}
			default:
				if tc.code != "" || tc.err != "" {
					t.Fatal("the wait received nothing")
				}
			}
		})
	}
}
