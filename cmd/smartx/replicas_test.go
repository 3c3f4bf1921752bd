package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smart-impulse/smartx/internal/server"
	"github.com/smart-impulse/smartx/internal/store/postgres/pgtest"
)

// pgDatabase creates an empty database in the test binary's throwaway PostgreSQL cluster and
// sets VAR to its URL: pgdatabase VAR. The database is dropped when the script ends. Scripts
// check [postgres] first.
func pgDatabase(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgdatabase VAR")
	}
	c, err := pgtest.Start()
	ts.Check(err)
	url, drop, err := c.CreateDatabase(context.Background())
	ts.Check(err)
	ts.Defer(func() {
		if err := drop(); err != nil {
			ts.Logf("drop the script's database: %v", err)
		}
	})
	ts.Setenv(args[0], url)
}

// genCert writes a certificate authority and a server certificate for the given names, as an
// operator's PKI would hand them out: gencert DIR NAME... writes DIR/ca.pem, DIR/server.pem and
// DIR/server-key.pem (the server's key readable by its owner only).
func genCert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: gencert DIR NAME...")
	}
	files, _, err := server.EnsureSelfSigned(ts.MkAbs(args[0]), args[1:], time.Now())
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "certificate for %v signed by %s\n", args[1:], files.CACert)
}
