package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"

	"github.com/smart-impulse/smartx/internal/auth"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/mail/mailtest"
)

// The helpers of the two-factor and deletion scripts. mailcode and totpcode are programs (in
// PATH for the scripts' shells, see TestMain); the others are script commands.

// loginCode finds the code of a login e-mail: six digits alone on an indented line.
var loginCode = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// mailCodeMain is the mailcode program: mailcode DIR [N] waits (10 s at most) until DIR holds N
// e-mails (.eml files; default 1), then prints the login code of the N-th, by name order.
func mailCodeMain() int {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: mailcode DIR [N]")
		return 2
	}
	n := 1
	if len(os.Args) == 3 {
		var err error
		if n, err = strconv.Atoi(os.Args[2]); err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "mailcode: N must be a positive number")
			return 2
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(os.Args[1], "*.eml"))
		slices.Sort(files)
		if len(files) >= n {
			code, err := codeOf(files[n-1])
			if err != nil {
				fmt.Fprintln(os.Stderr, "mailcode:", err)
				return 1
			}
			fmt.Println(code)
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "mailcode: %d e-mail(s) in %s after 10s, want %d\n", len(files), os.Args[1], n)
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func codeOf(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// The dev sender puts its marker header first; a message starts after it either way.
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	match := loginCode.FindSubmatch(body)
	if match == nil {
		return "", fmt.Errorf("%s holds no login code", path)
	}
	return string(match[1]), nil
}

// totpCodeMain is the totpcode program: totpcode SECRET|ENROLMENT.json [OFFSET] prints the TOTP
// code of now + OFFSET (a duration such as 30s: the next time step, which the server accepts as
// clock skew, so a script does not wait for the step it just used to pass).
func totpCodeMain() int {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: totpcode SECRET|FILE [OFFSET]")
		return 2
	}
	secret := os.Args[1]
	if raw, err := os.ReadFile(secret); err == nil {
		var e struct {
			Secret string `json:"secret"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Secret == "" {
			fmt.Fprintf(os.Stderr, "totpcode: %s holds no \"secret\"\n", secret)
			return 2
		}
		secret = e.Secret
	}
	at := time.Now()
	if len(os.Args) == 3 {
		d, err := time.ParseDuration(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "totpcode:", err)
			return 2
		}
		at = at.Add(d)
	}
	code, err := auth.TOTPCode(secret, at)
	if err != nil {
		fmt.Fprintln(os.Stderr, "totpcode:", err)
		return 1
	}
	fmt.Println(code)
	return 0
}

// smtpServer starts a real SMTP server on loopback (STARTTLS, AUTH PLAIN) that writes what it
// receives to DIR: smtpserver DIR. It sets SMTP_URL and SMTP_CA_FILE.
func smtpServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: smtpserver DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	srv, err := mailtest.Start(dir)
	ts.Check(err)
	ts.Defer(func() { srv.Close() })
	ca, err := srv.CAFile(ts.MkAbs("."))
	ts.Check(err)
	ts.Setenv("SMTP_URL", srv.URL())
	ts.Setenv("SMTP_CA_FILE", ca)
}

// dbSecrets writes, one per line in hex, the sealed values and keys a SQLite database holds for
// an account: its wrapped data key and sealed name, its users' e-mail index and sealed e-mails,
// its sites', devices' and segments' sealed bytes, its token keys and audit sources:
// dbsecrets DB ACCOUNT OUT.
func dbSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: dbsecrets DB ACCOUNT OUT")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0])+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	ts.Check(err)
	defer db.Close()
	queries := []string{
		`SELECT data_key FROM accounts WHERE id = ?1`, `SELECT sealed_name FROM accounts WHERE id = ?1`,
		`SELECT email_index FROM users WHERE account_id = ?1`, `SELECT sealed_email FROM users WHERE account_id = ?1`,
		`SELECT wrapped_key FROM token_keys WHERE account_id = ?1`, `SELECT sealed FROM sites WHERE account_id = ?1`,
		`SELECT name_index FROM sites WHERE account_id = ?1`, `SELECT sealed FROM devices WHERE account_id = ?1`,
		`SELECT sealed_key FROM device_keys k JOIN devices d ON d.id = k.device_id WHERE d.account_id = ?1`,
		`SELECT s.sealed FROM segments s JOIN devices d ON d.id = s.device_id WHERE d.account_id = ?1`,
		`SELECT sealed_source FROM audit_log WHERE account_id = ?1`,
	}
	var out strings.Builder
	for _, q := range queries {
		rows, err := db.QueryContext(context.Background(), q, args[1])
		ts.Check(err)
		found := 0
		for rows.Next() {
			var b []byte
			ts.Check(rows.Scan(&b))
			// Sixteen bytes are plenty to be unique, and short enough to sit inside one page.
			fmt.Fprintln(&out, hex.EncodeToString(b[:min(len(b), 16)]))
			found++
		}
		ts.Check(rows.Err())
		rows.Close()
		if found == 0 {
			ts.Fatalf("%s: nothing for account %s: the test would prove nothing", q, args[1])
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(out.String()), 0o600))
}

// filesHold checks whether files hold any of the hex values of a file: [!] filesholdany VALUES
// FILE... With !, none may; without, at least one must (a check that the values were there).
func filesHold(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: [!] filesholdany VALUES FILE...")
	}
	var values [][]byte
	for _, line := range strings.Fields(ts.ReadFile(args[0])) {
		v, err := hex.DecodeString(line)
		ts.Check(err)
		values = append(values, v)
	}
	var found []string
	for _, pattern := range args[1:] {
		files, _ := filepath.Glob(ts.MkAbs(pattern))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			ts.Check(err)
			for i, v := range values {
				if bytes.Contains(raw, v) {
					found = append(found, fmt.Sprintf("%s holds value %d", filepath.Base(f), i+1))
				}
			}
		}
	}
	switch {
	case neg && len(found) > 0:
		ts.Fatalf("%d deleted values remain: %s", len(found), strings.Join(found[:min(5, len(found))], "; "))
	case !neg && len(found) == 0:
		ts.Fatalf("none of the values is in the files")
	}
}

// waitHealth waits (30 s at most) until a server answers GET /v1/health over TLS with the CA of
// a file: waithealth URL CAFILE.
func waitHealth(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waithealth URL CAFILE")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ts.MkAbs(args[1])); err == nil {
			c, err := client.New(client.Options{Server: args[0], CAFile: ts.MkAbs(args[1])})
			ts.Check(err)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = c.Health(ctx)
			cancel()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not answer within 30s", args[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
