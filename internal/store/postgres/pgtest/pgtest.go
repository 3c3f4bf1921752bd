// Package pgtest starts a throwaway PostgreSQL cluster for a package's tests: initdb into a
// temporary directory, the server on a free loopback port with its unix socket in that
// directory and fsync off, one cluster per test binary, a fresh database per test.
//
// A package opts in from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test asks for a database with NewDatabase. The cluster starts with the first test
// that needs it and is stopped and removed when the tests end, whether they passed or not; it
// also dies with the test binary if that is killed, since the server is the binary's child
// with a parent-death signal (Linux).
//
// PostgreSQL's binaries are looked up in /usr/lib/postgresql/*/bin (Debian's layout, newest
// version first), then in PATH. Without them the tests skip, after one line on stderr naming
// the package to install; with SMARTX_REQUIRE_POSTGRES=1 (as CI sets) they fail instead, so a
// CI machine without PostgreSQL cannot pass by skipping. Running as root, the cluster runs as
// the `postgres` user (PostgreSQL refuses root), which owns the temporary directory.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the environment variable that turns a missing PostgreSQL into a failure.
const RequireEnv = "SMARTX_REQUIRE_POSTGRES"

// DurableEnv chooses the cluster's durability settings, for benchmarks. Unset, fsync,
// synchronous commit and full page writes are off, which makes the tests several times faster
// and changes nothing they check; "1" keeps PostgreSQL's defaults, as a production server has
// them (every commit waits for its WAL to reach the disk); "async" keeps fsync and full page
// writes but not synchronous commit (a commit returns before its WAL is flushed, which
// happens within 3 x wal_writer_delay: a crash of PostgreSQL or the machine may lose the last
// fraction of a second of commits, never the database's consistency).
const DurableEnv = "SMARTX_PGTEST_DURABLE"

// InstallHint names what to install when the binaries are missing.
const InstallHint = "apt-get install postgresql"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Dir is the temporary directory: the data directory (Dir/data) and the unix socket.
	Dir string
	// Port is the loopback TCP port it listens on.
	Port int
	// BinDir is the directory of the PostgreSQL binaries used (initdb, postgres, pg_dump...).
	BinDir string
	// Version is the server's major version, as `postgres --version` reports it.
	Version string

	proc *exec.Cmd
	done chan error // the server process's exit
}

var (
	once     sync.Once
	cluster  *Cluster
	startErr error
	skipOnce sync.Once
	dbSeq    atomic.Int64
)

// Main runs the package's tests and then stops and removes the cluster if a test started it.
// Call it from TestMain; it exits the process with the tests' status.
func Main(m *testing.M) { os.Exit(Wrap(m).Run()) }

// Wrap returns m whose Run also stops and removes the cluster once the tests have run, for a
// TestMain that hands m to another runner (testscript.Main).
func Wrap(m interface{ Run() int }) interface{ Run() int } { return wrapped{m} }

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	code := w.m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop the throwaway cluster: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the package's cluster, starting it on first use. Without PostgreSQL's
// binaries it returns a *MissingError; Get turns that into a skip.
func Start() (*Cluster, error) {
	once.Do(func() { cluster, startErr = start() })
	return cluster, startErr
}

// Available reports whether the tests can have a cluster. Without PostgreSQL's binaries it
// prints one SKIP line naming the package (what) and the package to install, and returns
// false, unless SMARTX_REQUIRE_POSTGRES=1, when it returns the error, as it does any failure
// to start an installed PostgreSQL.
func Available(what string) (bool, error) {
	_, err := Start()
	if err == nil {
		return true, nil
	}
	var missing *MissingError
	if errors.As(err, &missing) && os.Getenv(RequireEnv) != "1" {
		skipOnce.Do(func() { fmt.Fprintf(os.Stderr, "SKIP PostgreSQL tests of %s: %v\n", what, err) })
		return false, nil
	}
	return false, fmt.Errorf("start a throwaway PostgreSQL cluster: %w", err)
}

// Get returns the package's cluster, starting it on first use. Without PostgreSQL's binaries
// the test is skipped (or failed under SMARTX_REQUIRE_POSTGRES=1).
func Get(tb testing.TB) *Cluster {
	tb.Helper()
	wd, _ := os.Getwd()
	ok, err := Available(filepath.Base(wd))
	if err != nil {
		tb.Fatal(err)
	}
	if !ok {
		tb.Skip("no PostgreSQL:", startErr)
	}
	return cluster
}

// NewDatabase creates an empty database in the package's cluster and returns its URL; the
// database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	url, drop, err := Get(tb).CreateDatabase(context.Background())
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return url
}

// CreateDatabase creates an empty database in the cluster; it returns its URL and the function
// that drops it, connections and all.
func (c *Cluster) CreateDatabase(ctx context.Context) (url string, drop func() error, err error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	drop = func() error { return c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") }
	return c.URL(name), drop, nil
}

// URL returns the connection URL of a database of the cluster, over loopback TCP.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// Exec runs one statement in the cluster's postgres database, as its superuser.
func (c *Cluster) Exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// MissingError reports that PostgreSQL's binaries were not found.
type MissingError struct{ What string }

// Error implements error.
func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found in /usr/lib/postgresql/*/bin or PATH; install PostgreSQL (%s)", e.What, InstallHint)
}

// debianBinDirs is where Debian's packages put each major version's binaries.
var debianBinDirs = "/usr/lib/postgresql/*/bin"

// FindBinDir returns the directory of PostgreSQL's server binaries (initdb and postgres).
func FindBinDir() (string, error) {
	dirs, _ := filepath.Glob(debianBinDirs)
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) }) // newest first
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", &MissingError{What: "initdb"}
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	d := filepath.Dir(p)
	if !isExecutable(filepath.Join(d, "postgres")) {
		return "", &MissingError{What: "postgres (beside " + p + ")"}
	}
	return d, nil
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runAs is the account the cluster runs as: nil for the current user, the postgres user
// when running as root.
type runAs struct {
	uid, gid uint32
	name     string
}

func clusterUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the cluster must run as the postgres user, which does not exist (%s creates it): %w", InstallHint, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &runAs{uid: uint32(uid), gid: uint32(gid), name: "postgres"}, nil
}

func start() (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	as, err := clusterUser()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "smartx-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if as != nil {
		// The postgres user must reach the directory: it may sit under a TMPDIR only root can
		// traverse, so check, and say so rather than let initdb fail obscurely.
		if err := os.Chown(dir, int(as.uid), int(as.gid)); err != nil {
			return fail(err)
		}
	}
	out, err := c.command(as, filepath.Join(bin, "initdb"), "--pgdata", filepath.Join(dir, "data"), "--username", "postgres",
		"--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("initdb in %s: %v\n%s", dir, err, out))
	}
	if v, err := c.command(as, filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
		c.Version = strings.TrimSpace(string(v))
	}
	// The port is chosen free and may be taken before the server binds it: try a few.
	for attempt := 0; ; attempt++ {
		if c.Port, err = freePort(); err != nil {
			return fail(err)
		}
		err = c.launch(as)
		if err == nil {
			return c, nil
		}
		if attempt == 3 {
			return fail(err)
		}
	}
}

// removeStale removes the directories of clusters whose test binary was killed (its server
// died with it): older than an hour, without a running server.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "smartx-pgtest-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		pid, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid"))
		if err == nil {
			first, _, _ := strings.Cut(string(pid), "\n")
			if n, err := strconv.Atoi(first); err == nil && processAlive(n) {
				continue
			}
		}
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts the server and waits until it accepts connections.
func (c *Cluster) launch(as *runAs) error {
	logPath := filepath.Join(c.Dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	if as != nil {
		os.Chown(logPath, int(as.uid), int(as.gid))
	}
	args := []string{"-D", filepath.Join(c.Dir, "data"), "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + c.Dir,
		"-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "log_min_messages=warning"}
	switch os.Getenv(DurableEnv) {
	case "1":
	case "async":
		args = append(args, "-c", "synchronous_commit=off")
	default:
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := c.command(as, filepath.Join(c.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.proc, c.done = cmd, make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case werr := <-c.done:
			log, _ := os.ReadFile(logPath)
			c.proc = nil
			return fmt.Errorf("postgres exited at start (%v): %s", werr, strings.TrimSpace(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("postgres did not accept connections within 30s: %v", err)
		}
	}
}

// Stop shuts the server down (fast shutdown) and removes its directory.
func (c *Cluster) Stop() error {
	var err error
	if c.proc != nil {
		c.proc.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			c.proc.Process.Kill()
			<-c.done
			err = errors.New("postgres did not stop within 30s: killed")
		}
		c.proc = nil
	}
	if rerr := os.RemoveAll(c.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
