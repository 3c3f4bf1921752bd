package commands

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/preflight"
)

// completionTimeout bounds what a completion may ask the platform: a shell waits for it.
const completionTimeout = 2 * time.Second

// completeFunc completes a flag's value or an argument.
type completeFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// registerCompletions teaches the shell the values of the flags and arguments that name
// things: serials, site names, channels, check ids, profiles, formats. Values that come from
// the platform are asked with a short timeout when a profile or the environment gives a
// server and a token, and silently nothing is offered otherwise. One table for the whole
// tree, so each command's file stays about the command.
func registerCompletions(root *cobra.Command, f *Factory) {
	fixed := func(values ...string) completeFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	intervals := make([]string, len(api.AllIntervals))
	for i, v := range api.AllIntervals {
		intervals[i] = string(v)
	}
	scopes := make([]string, len(api.AllScopes))
	for i, s := range api.AllScopes {
		scopes[i] = string(s)
	}
	_ = root.RegisterFlagCompletionFunc("output", fixed("table", "json", "ndjson", "csv"))
	_ = root.RegisterFlagCompletionFunc("profile", f.completeProfiles)

	byFlag := map[string]completeFunc{
		"site":  f.completeSites,
		"scope": fixed(scopes...),
	}
	perCommand := map[string]map[string]completeFunc{
		"smartx readings":        {"device": f.completeSerials, "channel": f.completeChannels, "interval": fixed(intervals...), "format": fixed("csv", "ndjson", "json", "table"), "tz": fixed("UTC", "local")},
		"smartx decode":          {"device": f.completeSerials, "format": fixed("table", "csv", "ndjson", "json"), "tz": fixed("UTC", "local")},
		"smartx inspect":         {"device": f.completeSerials},
		"smartx audit":           {"device": f.completeSerials, "status": fixed("2xx", "3xx", "4xx", "5xx"), "user": f.completeUsers},
		"smartx token list":      {"kind": fixed("api", "session", "all")},
		"smartx preflight":       {"only": completeCheckIDs, "skip": completeCheckIDs, "profile": fixed("current", "legacy", "all")},
		"smartx preflight rules": {"profile": fixed("current", "legacy", "all")},
	}
	args := map[string]completeFunc{
		"smartx device show":         f.completeSerials,
		"smartx device status":       f.completeSerials,
		"smartx device key":          f.completeSerials,
		"smartx device decommission": f.completeSerials,
		"smartx device rotate-key":   f.completeSerials,
		"smartx device replace":      f.completeSerials,
		"smartx user show":           f.completeUsers,
		"smartx user set-role":       f.completeUsers,
		"smartx user disable":        f.completeUsers,
		"smartx user enable":         f.completeUsers,
		"smartx user delete":         f.completeUsers,
		"smartx user reset-2fa":      f.completeUsers,
		"smartx site show":           f.completeSites,
		"smartx site update":         f.completeSites,
		"smartx site delete":         f.completeSites,
		"smartx site status":         f.completeSites,
		"smartx api":                 fixed(api.PathHealth, api.PathWhoAmI, api.PathTokens, api.PathAudit, api.PathSites, api.PathDevices, api.PathReadings),
	}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		for name, fn := range byFlag {
			if cmd.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, fn)
			}
		}
		for name, fn := range perCommand[path] {
			if cmd.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, fn)
			}
		}
		if fn := args[path]; fn != nil {
			cmd.ValidArgsFunction = onlyFirstArg(fn)
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// onlyFirstArg completes the first argument only: the commands take one.
func onlyFirstArg(fn completeFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}

func completeCheckIDs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return preflight.CheckIDs(), cobra.ShellCompDirectiveNoFileComp
}

func (f *Factory) completeProfiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, _, err := f.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.Names(), cobra.ShellCompDirectiveNoFileComp
}

// quickClient is a client for completions: one attempt, a short timeout, and nil when no
// server or token is configured (then nothing is offered, silently).
func (f *Factory) quickClient(cmd *cobra.Command) (*client.Client, context.Context, context.CancelFunc) {
	r, err := f.resolveTarget(false)
	if err != nil || r.Server == "" || r.Token == "" {
		return nil, nil, nil
	}
	o := clientOptions(r.Server, r.CAFile, r.Token)
	o.Timeout, o.Retry = completionTimeout, client.RetryPolicy{Attempts: 1}
	c, err := f.newClient(o)
	if err != nil {
		return nil, nil, nil
	}
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionTimeout)
	return c, ctx, cancel
}

func (f *Factory) completeSerials(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	c, ctx, cancel := f.quickClient(cmd)
	if c == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	devs, err := c.Devices(ctx, client.DeviceFilter{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, d := range devs {
		if strings.HasPrefix(strings.ToLower(d.Serial), strings.ToLower(toComplete)) {
			out = append(out, d.Serial)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeUsers offers the account's users by e-mail (the list needs the admin scope), and
// "me" where a command takes it.
func (f *Factory) completeUsers(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	if cmd.Name() == "audit" {
		out = append(out, "me")
	}
	c, ctx, cancel := f.quickClient(cmd)
	if c == nil {
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	users, err := c.Users(ctx)
	if err != nil {
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	for _, u := range users {
		if strings.HasPrefix(strings.ToLower(u.Email), strings.ToLower(toComplete)) {
			out = append(out, u.Email)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (f *Factory) completeSites(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	c, ctx, cancel := f.quickClient(cmd)
	if c == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	sites, err := c.Sites(ctx, "")
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, s := range sites {
		if strings.HasPrefix(strings.ToLower(s.Name), strings.ToLower(toComplete)) {
			out = append(out, s.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeChannels offers the channels of the --device or --site already typed, over the
// --from/--to range (the last day by default).
func (f *Factory) completeChannels(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	device, _ := cmd.Flags().GetString("device")
	site, _ := cmd.Flags().GetString("site")
	if device == "" && site == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, ctx, cancel := f.quickClient(cmd)
	if c == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cancel()
	fromText, _ := cmd.Flags().GetString("from")
	toText, _ := cmd.Flags().GetString("to")
	from, to, err := parseRange(f.Now(), fromText, toText, time.UTC)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	q := client.ReadingsQuery{Device: device, From: from, To: to}
	if site != "" {
		if q.Site, err = resolveSiteID(ctx, c, site); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
	}
	names, _, err := queryChannels(ctx, c, q)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
