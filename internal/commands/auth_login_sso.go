package commands

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
)

// ssoLoginOptions are the flags of a sign-in through the account's identity provider.
type ssoLoginOptions struct {
	sso        bool
	deviceCode bool
}

// ssoLogin signs in through the identity provider of the account that the e-mail's domain
// names: in a browser (authorization code with PKCE, the provider redirecting to a listener on
// 127.0.0.1), or with a user code entered on another device (--device-code). The server
// exchanges what the provider gives for an ordinary session; the client secret stays there.
func ssoLogin(ctx context.Context, f *Factory, c *client.Client, server, email string, deviceCode bool) (api.LoginResponse, error) {
	var err error
	if email == "" {
		if email, err = f.IO.Prompt("E-mail (its domain names your account)"); err != nil {
			return api.LoginResponse{}, usageErrorf("no terminal to ask your e-mail: give --email, whose domain names your account")
		}
	}
	email = strings.TrimSpace(email)
	var login api.LoginResponse
	if deviceCode {
		login, err = ssoDeviceLogin(ctx, f, c, email)
	} else {
		login, err = ssoBrowserLogin(ctx, f, c, email)
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Problem.Detail != "" {
		return api.LoginResponse{}, fmt.Errorf("single sign-on to %s failed: %s", server, apiErr.Problem.Detail)
	}
	if err != nil {
		return api.LoginResponse{}, fmt.Errorf("single sign-on to %s failed: %w", server, err)
	}
	return login, nil
}

// callback is what the provider's redirect brought to the loopback listener.
type callback struct {
	code string
	err  error
}

// ssoBrowserLogin runs the authorization code flow: a loopback listener for the redirect, the
// PKCE verifier kept here, the browser sent to the provider.
func ssoBrowserLogin(ctx context.Context, f *Factory, c *client.Client, email string) (api.LoginResponse, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return api.LoginResponse{}, fmt.Errorf("listen on 127.0.0.1 for the provider's redirect: %w", err)
	}
	defer ln.Close()
	verifier := oauth2.GenerateVerifier()
	start, err := c.StartSSO(ctx, api.SSOStartRequest{Email: email, RedirectURI: "http://" + ln.Addr().String() + "/callback",
		CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier), CodeChallengeMethod: "S256"})
	if err != nil {
		return api.LoginResponse{}, err
	}
	got := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(start.State, got), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Fprintf(f.IO.ErrOut, "Sign in at your identity provider in the browser. If no browser opens, open this URL:\n\n  %s\n\n", start.AuthorizationURL)
	browserFailed, err := openBrowser(f, start.AuthorizationURL)
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s could not open a browser (%v): open the URL above yourself\n", f.IO.ErrStyles().Warn("!"), err)
	}
	wctx, cancel := context.WithDeadline(ctx, start.ExpiresAt)
	defer cancel()
	var cb callback
	select {
	case cb = <-got:
	case err := <-browserFailed:
		return api.LoginResponse{}, fmt.Errorf("the browser command %q failed (%v): fix SMARTX_BROWSER or BROWSER, or unset them and open the URL yourself", browserCommand(f), err)
	case <-wctx.Done():
		if ctx.Err() != nil {
			return api.LoginResponse{}, ctx.Err()
		}
		return api.LoginResponse{}, errors.New("nobody signed in at the identity provider within 10 minutes: run the command again")
	}
	if cb.err != nil {
		return api.LoginResponse{}, cb.err
	}
	return c.FinishSSO(ctx, api.SSOFinishRequest{Handle: start.Handle, Code: cb.code, State: start.State, CodeVerifier: verifier})
}

// callbackHandler serves the provider's redirect: the first one carrying this sign-in's state
// ends the wait; others (another tab, a page that is not the provider) are refused.
func callbackHandler(state string, got chan<- callback) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/callback" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "this is not the sign-in smartx is waiting for", http.StatusBadRequest)
			return
		}
		cb := callback{code: q.Get("code")}
		switch {
		case q.Get("error") != "":
			detail := q.Get("error")
			if d := q.Get("error_description"); d != "" {
				detail += ": " + strings.Join(strings.Fields(d), " ")
			}
			cb.err = fmt.Errorf("the identity provider refused the sign-in (%s)", detail)
		case cb.code == "":
			cb.err = errors.New("the identity provider's redirect carried no code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		msg := "You are signed in at your identity provider: return to the terminal, smartx finishes there. You can close this window."
		if cb.err != nil {
			msg = "The sign-in failed: " + cb.err.Error() + "."
		}
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>smartx</title></head><body><p>%s</p></body></html>\n", html.EscapeString(msg))
		once.Do(func() { got <- cb })
	})
}

// ssoDeviceLogin runs the device authorization grant: the person enters a code on another
// device while this one waits.
func ssoDeviceLogin(ctx context.Context, f *Factory, c *client.Client, email string) (api.LoginResponse, error) {
	dev, err := c.StartSSODevice(ctx, email)
	if err != nil {
		return api.LoginResponse{}, err
	}
	fmt.Fprintf(f.IO.ErrOut, "To sign in, open %s on any device and enter the code %s (it expires at %s).\n",
		dev.VerificationURI, dev.UserCode, dev.ExpiresAt.UTC().Format("15:04 MST"))
	if dev.VerificationURIComplete != "" && browserCommand(f) != "" {
		if _, err := openBrowser(f, dev.VerificationURIComplete); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s could not open a browser (%v)\n", f.IO.ErrStyles().Warn("!"), err)
		}
	}
	fmt.Fprintln(f.IO.ErrOut, "Waiting for the sign-in...")
	for {
		poll, err := c.PollSSODevice(ctx, dev.Handle)
		if err != nil {
			return api.LoginResponse{}, err
		}
		if poll.Status == api.SSODeviceComplete && poll.Login != nil {
			return *poll.Login, nil
		}
		if err := ctx.Err(); err != nil {
			return api.LoginResponse{}, err
		}
	}
}

// browserCommand is the browser the user chose: SMARTX_BROWSER, else BROWSER (as gh reads
// GH_BROWSER and BROWSER); "" for the system's default.
func browserCommand(f *Factory) string {
	if b := f.Getenv("SMARTX_BROWSER"); b != "" {
		return b
	}
	return f.Getenv("BROWSER")
}

// openBrowser opens url in the user's browser, without waiting for it: the chosen command
// with the URL as its last argument, else the system's opener. It fails when there is none
// (a server without a desktop), and the caller has printed the URL anyway. A chosen command
// that exits with an error is reported on failed (its own messages go to stderr): the
// sign-in cannot finish without it.
func openBrowser(f *Factory, url string) (failed <-chan error, err error) {
	var cmd *exec.Cmd
	chosen := browserCommand(f)
	if chosen != "" {
		fields := strings.Fields(chosen)
		cmd = exec.Command(fields[0], append(fields[1:], url)...)
		cmd.Stderr = f.IO.ErrOut
	} else {
		switch runtime.GOOS {
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
		case "darwin":
			cmd = exec.Command("open", url)
		default:
			if f.Getenv("DISPLAY") == "" && f.Getenv("WAYLAND_DISPLAY") == "" {
				return nil, errors.New("no desktop session: neither DISPLAY nor WAYLAND_DISPLAY is set")
			}
			cmd = exec.Command("xdg-open", url)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan error, 1)
	go func() {
		if err := cmd.Wait(); err != nil && chosen != "" {
			ch <- err
		}
	}()
	return ch, nil
}

// checkSSOFlags refuses flags that do not go together; other is set when a flag of a password
// or token login is.
func (o ssoLoginOptions) checkSSOFlags(other bool) error {
	switch {
	case o.deviceCode && !o.sso:
		return usageErrorf("--device-code goes with --sso")
	case o.sso && other:
		return usageErrorf("--sso signs in through your identity provider: leave out --with-token, --password-stdin and --code-stdin")
	}
	return nil
}
