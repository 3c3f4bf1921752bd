package commands

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/timeexpr"
	"github.com/smart-impulse/smartx/internal/ui"
)

type auditOptions struct {
	from, to     string
	user, device string
	status       string
	limit        int
	follow       bool
	interval     time.Duration
}

// Defaults of `smartx audit`: a listing shows a screenful of the newest entries, --follow
// starts from the last few, as tail -f does.
const (
	auditDefaultLimit       = 100
	auditFollowBacklog      = 10
	auditDefaultPollEvery   = 2 * time.Second
	auditFollowWindow       = time.Minute
	auditMaxPageSize        = 1000
	auditFollowRouteOfPolls = http.MethodGet + " " + api.PathAudit
)

func newAuditCmd(f *Factory) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List or follow the platform's transaction log (admin)",
		Long: `List the account's transaction log: every API request with its time, route, status, user,
token, device, latency and source address. The platform keeps 7 days of successful requests
and 30 days of errors. Needs the admin scope.

A listing is newest first, the newest --limit entries (100; 0 for all that match).
--follow prints the last 10 (or --limit) oldest first, then each new entry as it is
logged, like tail -f, until Ctrl-C (exit status 0). It polls every --interval and never
prints an entry twice; its own polls are left out. A request is logged with the time it
started once it ends, so one that lasts over a minute (a long export) may be missed.

Filters: --from/--to (RFC 3339, a date or relative: -1h, -7d), --user (an e-mail, a user
id, or "me"),
--device (serial or id: the device's uploads), --status (404, or a class: 4xx, 5xx).
Formats: a table, -o json (an array), -o ndjson (one entry a line) or -o csv.`,
		Example: `  smartx audit --from -1h
  smartx audit --status 4xx --from -24h -o csv > errors.csv
  smartx audit --device SX-00042 --limit 20
  smartx audit --follow --status 5xx
  smartx audit --user me -o ndjson | jq -r .route`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd.Context(), f, cmd.Flags(), o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.from, "from", "", "first time to include: "+timeexpr.Help)
	fs.StringVar(&o.to, "to", "", "time to stop before (same forms as --from)")
	fs.StringVar(&o.user, "user", "", `only this user's requests: an e-mail, a user id (usr_...) or "me"`)
	fs.StringVar(&o.device, "device", "", "only this device's requests (serial or id)")
	fs.StringVar(&o.status, "status", "", "only this status (404) or class (4xx)")
	fs.IntVar(&o.limit, "limit", auditDefaultLimit, "at most this many entries, 0 for all (with --follow: the backlog, 10 unless given)")
	fs.BoolVarP(&o.follow, "follow", "f", false, "print new entries as they are logged, until Ctrl-C")
	fs.DurationVar(&o.interval, "interval", auditDefaultPollEvery, "with --follow, how often to ask the platform")
	return cmd
}

var auditStatus = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5][xX][xX])$`)

func runAudit(ctx context.Context, f *Factory, fs *pflag.FlagSet, o *auditOptions) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON, ui.FormatNDJSON, ui.FormatCSV)
	if err != nil {
		return &usageError{err: err}
	}
	switch {
	case o.follow && format == ui.FormatJSON:
		return usageErrorf("--follow and -o json cannot be used together: a JSON array never ends; use -o ndjson")
	case o.follow && o.to != "":
		return usageErrorf("--follow and --to cannot be used together: following waits for entries after now")
	case o.limit < 0:
		return usageErrorf("--limit %d: give a number of entries, or 0 for no limit", o.limit)
	case o.interval < 100*time.Millisecond:
		return usageErrorf("--interval %s: poll at most ten times a second", o.interval)
	case o.status != "" && !auditStatus.MatchString(o.status):
		return usageErrorf("--status %q: give a status code (404) or a class (4xx)", o.status)
	}
	from, to, err := parseRange(f.Now(), o.from, o.to, time.UTC)
	if err != nil {
		return err
	}
	filter := client.AuditFilter{From: from, To: to, Status: strings.ToLower(o.status)}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	var me api.WhoAmI
	if o.follow || o.user == "me" {
		if me, err = c.WhoAmI(ctx); err != nil {
			return err
		}
	}
	users := userEmailMap{me.User.ID: me.User.Email}
	emailGiven := o.user != "" && o.user != "me" && !strings.HasPrefix(o.user, api.PrefixUser)
	if format == ui.FormatTable || emailGiven {
		users = userEmails(ctx, c, true) // the audit log needs admin, which lists the users
	}
	switch {
	case o.user == "me":
		filter.User = me.User.ID
	case emailGiven:
		if filter.User = users.id(o.user); filter.User == "" {
			return usageErrorf("--user %q: no user of the account has this e-mail: give an e-mail, a user id (%s...) or \"me\"", o.user, api.PrefixUser)
		}
	default:
		filter.User = o.user
	}
	serials := map[string]string{}
	if o.device != "" {
		d, err := resolveDevice(ctx, c, o.device)
		if err != nil {
			return err
		}
		filter.Device, serials[d.ID] = d.ID, d.Serial
	}
	if format == ui.FormatTable && o.device == "" {
		// One list for the whole log, so the table shows serials, not ids.
		if devs, err := c.Devices(ctx, client.DeviceFilter{All: true}); err == nil {
			for _, d := range devs {
				serials[d.ID] = d.Serial
			}
		}
	}
	w := &auditWriter{f: f, format: format, users: users, serials: serials}
	limit := o.limit
	if o.follow && !fs.Changed("limit") {
		limit = auditFollowBacklog
	}
	if !o.follow {
		entries, err := auditEntries(ctx, c, filter, limit)
		if err != nil {
			return err
		}
		return w.list(entries)
	}
	return followAudit(ctx, c, filter, limit, o.interval, me.Token.ID, w)
}

// auditEntries returns the newest entries of the filter, at most limit (0: all).
func auditEntries(ctx context.Context, c *client.Client, filter client.AuditFilter, limit int) ([]api.AuditEntry, error) {
	filter.PageSize = auditMaxPageSize
	if limit > 0 {
		filter.PageSize = min(limit, auditMaxPageSize)
	}
	var entries []api.AuditEntry
	for e, err := range c.Audit(ctx, filter) {
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
		if limit > 0 && len(entries) == limit {
			break
		}
	}
	return entries, nil
}

// followAudit prints the backlog oldest first, then polls every interval for entries logged
// since, each printed once: entries are told apart by request id, and each poll looks a window
// back from the newest entry seen, because the platform logs a request when it ends, with the
// time it started. The polls of this very command (GET /v1/audit with its token) are left out.
func followAudit(ctx context.Context, c *client.Client, filter client.AuditFilter, backlog int, every time.Duration, ownToken string, w *auditWriter) error {
	seen := map[string]time.Time{}
	var newest, floor time.Time // floor: entries older than the backlog are not new
	print := func(entries []api.AuditEntry) error {
		slices.SortStableFunc(entries, func(a, b api.AuditEntry) int { return a.Time.Compare(b.Time) })
		var fresh []api.AuditEntry
		for _, e := range entries {
			if _, dup := seen[e.RequestID]; dup || !e.Time.After(floor) {
				continue
			}
			seen[e.RequestID] = e.Time
			if e.Time.After(newest) {
				newest = e.Time
			}
			if e.TokenID == ownToken && e.Route == auditFollowRouteOfPolls {
				continue
			}
			fresh = append(fresh, e)
		}
		for id, t := range seen { // what is older than the window cannot come back
			if t.Before(newest.Add(-auditFollowWindow)) {
				delete(seen, id)
			}
		}
		return w.stream(fresh)
	}
	first, err := auditEntries(ctx, c, filter, backlog)
	if err != nil {
		return err
	}
	if err := print(first); err != nil {
		return err
	}
	if backlog > 0 && len(first) == backlog {
		floor = first[0].Time // the oldest shown (print sorted them)
	}
	wait := time.NewTicker(every)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return w.flush() // Ctrl-C is how a follow ends: not an error
		case <-wait.C:
		}
		poll := filter
		if !newest.IsZero() {
			poll.From = newest.Add(-auditFollowWindow)
		}
		entries, err := auditEntries(ctx, c, poll, 0)
		if ctx.Err() != nil {
			return w.flush()
		}
		if err != nil {
			return err
		}
		if err := print(entries); err != nil {
			return err
		}
	}
}

// auditWriter prints entries in the chosen format: a table fitted to the terminal for a
// listing, aligned rows that stream for --follow.
type auditWriter struct {
	f       *Factory
	format  ui.Format
	users   userEmailMap
	serials map[string]string
	csv     *ui.CSVWriter
	nd      *ui.NDJSONWriter
	header  bool
}

var auditCSVHeader = []string{"time", "request_id", "status", "method", "route", "user_id", "token_id", "device_id", "latency_us", "source_ip", "error_code"}

func auditCSVRecord(e api.AuditEntry) []string {
	return []string{e.Time.UTC().Format(time.RFC3339Nano), e.RequestID, strconv.Itoa(e.Status), e.Method, e.Route, e.UserID,
		e.TokenID, e.DeviceID, strconv.FormatInt(e.LatencyUS, 10), e.SourceIP, string(e.ErrorCode)}
}

var auditTableHeader = []string{"time", "status", "route", "user", "device", "latency", "error", "request"}

// cells is an entry as a table row: e-mails and serials where they are known.
func (w *auditWriter) cells(e api.AuditEntry) []string {
	user := w.users.label(e.UserID)
	if user == "" {
		user = "-"
	}
	dev := "-"
	if e.DeviceID != "" {
		dev = e.DeviceID
		if s := w.serials[e.DeviceID]; s != "" {
			dev = s
		}
	}
	errCode := string(e.ErrorCode)
	if errCode == "" {
		errCode = "-"
	}
	return []string{e.Time.UTC().Format("2006-01-02 15:04:05"), strconv.Itoa(e.Status), e.Route, user, dev,
		ui.HumanDuration(time.Duration(e.LatencyUS) * time.Microsecond), errCode, e.RequestID}
}

func (w *auditWriter) status(cells []string, status int) {
	st := w.f.IO.Styles()
	switch {
	case status >= 500:
		cells[1] = st.Fail(cells[1])
	case status >= 400:
		cells[1] = st.Warn(cells[1])
	}
}

// list prints a whole listing, newest first as the platform returns it.
func (w *auditWriter) list(entries []api.AuditEntry) error {
	out := w.f.IO.Out
	switch w.format {
	case ui.FormatJSON:
		if entries == nil {
			entries = []api.AuditEntry{}
		}
		return ui.WriteJSON(out, entries)
	case ui.FormatTable:
		if len(entries) == 0 {
			fmt.Fprintln(w.f.IO.ErrOut, "no entries match")
			return nil
		}
		tbl := w.f.IO.NewTable(auditTableHeader...)
		tbl.KeepWhole(0, 1)
		for _, e := range entries {
			cells := w.cells(e)
			w.status(cells, e.Status)
			tbl.Row(cells...)
		}
		if err := tbl.Render(); err != nil {
			return err
		}
		fmt.Fprintf(w.f.IO.ErrOut, "%s, newest first\n", ui.Plural(len(entries), "entry"))
		return nil
	}
	if err := w.stream(entries); err != nil {
		return err
	}
	return w.flush()
}

// auditStreamWidths are the columns of a followed table, fixed since rows come one by one.
var auditStreamWidths = []int{19, 6, 32, 24, 12, 8, 22, 0}

// stream prints entries as they come (NDJSON, CSV or aligned rows).
func (w *auditWriter) stream(entries []api.AuditEntry) error {
	out := w.f.IO.Out
	switch w.format {
	case ui.FormatNDJSON:
		if w.nd == nil {
			w.nd = ui.NewNDJSONWriter(out)
		}
		for _, e := range entries {
			if err := w.nd.Write(e); err != nil {
				return err
			}
		}
		return nil
	case ui.FormatCSV:
		if w.csv == nil {
			var err error
			if w.csv, err = ui.NewCSVWriter(out, auditCSVHeader...); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := w.csv.Write(auditCSVRecord(e)...); err != nil {
				return err
			}
		}
		return w.csv.Flush() // a follower reads each entry as it comes
	}
	var b strings.Builder
	if !w.header {
		w.header = true
		names := make([]string, len(auditTableHeader))
		for i, h := range auditTableHeader {
			names[i] = ui.HeaderText(h)
		}
		writeAligned(&b, names, auditStreamWidths)
	}
	for _, e := range entries {
		writeAligned(&b, w.cells(e), auditStreamWidths)
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// writeAligned writes one row of left-aligned cells padded to widths (0: the last, unpadded).
func writeAligned(b *strings.Builder, cells []string, widths []int) {
	var line strings.Builder
	for i, c := range cells {
		if i > 0 {
			line.WriteString("  ")
		}
		if i < len(widths) && widths[i] > 0 {
			fmt.Fprintf(&line, "%-*s", widths[i], c)
		} else {
			line.WriteString(c)
		}
	}
	b.WriteString(strings.TrimRight(line.String(), " "))
	b.WriteString("\n")
}

func (w *auditWriter) flush() error {
	if w.csv != nil {
		return w.csv.Flush()
	}
	return nil
}
