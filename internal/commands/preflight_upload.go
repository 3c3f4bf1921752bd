package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smart-impulse/smartx/internal/api"
	"github.com/smart-impulse/smartx/internal/client"
	"github.com/smart-impulse/smartx/internal/preflight"
	"github.com/smart-impulse/smartx/internal/ui"
)

// preflightUpload sends a run to the platform once it is over (`smartx preflight --upload`).
type preflightUpload struct {
	client *client.Client
	site   string // the site's name or id, as given
}

// prepareUpload checks, before any check runs, that --upload can send the run: a site to
// attach it to and credentials for the platform. The site is looked up only when the run is
// over: the platform may be what the site's firewall blocks.
func prepareUpload(f *Factory, o *preflightOptions, cfg preflight.Config) (*preflightUpload, error) {
	if !o.upload {
		return nil, nil
	}
	if cfg.Site == "" {
		return nil, usageErrorf("--upload needs the site the run goes to: give --site NAME (or a bundle or site file that names it)")
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return nil, fmt.Errorf("--upload: %w", err)
	}
	return &preflightUpload{client: c, site: cfg.Site}, nil
}

// send uploads the run, saying so on stderr. kept is the run's number in the history (0: not
// kept), which a failure names so the run can be sent later.
func (u *preflightUpload) send(ctx context.Context, f *Factory, report preflight.Report, kept int) error {
	if u == nil {
		return nil
	}
	run, err := uploadRun(ctx, u.client, u.site, report)
	if err != nil {
		if kept > 0 {
			return fmt.Errorf("%w; the run is kept as run %d: smartx preflight upload %d --site %s sends it later",
				err, kept, kept, serverShellQuote(u.site))
		}
		return err
	}
	reportUploaded(f, run, u.site)
	return nil
}

// notSent says why a watch interrupted before every check passed sent nothing.
func (u *preflightUpload) notSent(f *Factory, kept int) {
	if u == nil {
		return
	}
	later := ""
	if kept > 0 {
		later = fmt.Sprintf(": smartx preflight upload %d --site %s sends its last run", kept, serverShellQuote(u.site))
	}
	fmt.Fprintf(f.IO.ErrOut, "the run was not sent to the platform, since the watch stopped before every check passed%s\n", later)
}

// uploadRun sends a run's document to the site named site (a name or an id).
func uploadRun(ctx context.Context, c *client.Client, site string, report preflight.Report) (api.PreflightRun, error) {
	id, err := resolveSiteID(ctx, c, site)
	if err != nil {
		return api.PreflightRun{}, fmt.Errorf("send the run to site %q: %w", site, err)
	}
	doc, err := json.Marshal(report)
	if err != nil {
		return api.PreflightRun{}, err
	}
	run, err := c.UploadPreflightRun(ctx, id, doc)
	if err != nil {
		return api.PreflightRun{}, fmt.Errorf("send the run to site %q: %w", site, err)
	}
	return run, nil
}

// reportUploaded says on stderr where the run went, who sent it and from where, as the
// platform recorded it.
func reportUploaded(f *Factory, run api.PreflightRun, site string) {
	st := f.IO.ErrStyles()
	if run.Duplicate {
		fmt.Fprintf(f.IO.ErrOut, "%s the platform already keeps this run for site %q (%s)\n", st.OK("✓"), site, run.ID)
		return
	}
	by := run.UploadedBy.Email
	if by == "" {
		by = run.UploadedBy.UserID
	}
	from := run.SourceIP
	if run.LocalIP != "" && run.LocalIP != run.SourceIP {
		from += ", this laptop " + run.LocalIP
	}
	fmt.Fprintf(f.IO.ErrOut, "%s run sent to site %q (%s) by %s from %s\n", st.OK("✓"), site, run.ID, by, from)
}

// preflightUploadOptions are the settings of `smartx preflight upload`.
type preflightUploadOptions struct {
	site string
}

func newPreflightUploadCmd(f *Factory) *cobra.Command {
	o := &preflightUploadOptions{}
	cmd := &cobra.Command{
		Use:   "upload [ID]",
		Short: "Send a kept preflight run to the platform, attached to a site",
		Long: `Send a preflight run kept on this laptop (the newest when no ID is given, as smartx preflight
history lists them) to the platform, attached to a site: --site, or the site the run was made
for. The platform keeps it 30 days with who sent it (your user) and from which network (the
address it sees the upload come from, and the laptop's address in the run), for support
(smartx site status). Sending the same run again keeps it once. Needs devices:write, which
installers have.

smartx preflight --upload sends a run as soon as it is over; this sends one later, when the
site's network did not let the laptop reach the platform.`,
		Example: `  smartx preflight upload --site "Paris HQ"        # the last run
  smartx preflight upload 12                      # to the site it was made for
  smartx preflight upload 12 --site "Paris HQ" -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPreflightUpload(cmd.Context(), f, o, optionalArg(args))
		},
	}
	cmd.Flags().StringVar(&o.site, "site", "", "the site (name or id) the run goes to (default: the site it was made for)")
	return cmd
}

func runPreflightUpload(ctx context.Context, f *Factory, o *preflightUploadOptions, idText string) error {
	format, err := ui.ParseFormat(f.Global.Output, ui.FormatTable, ui.FormatJSON)
	if err != nil {
		return &usageError{err: err}
	}
	rep, id, err := keptRun(f, idText)
	if err != nil {
		return err
	}
	site := o.site
	if site == "" {
		site = rep.Site
	}
	if site == "" {
		return usageErrorf("run %d names no site: give --site NAME", id)
	}
	c, _, err := f.apiClient(false)
	if err != nil {
		return err
	}
	run, err := uploadRun(ctx, c, site, rep)
	if err != nil {
		return err
	}
	reportUploaded(f, run, site)
	if format == ui.FormatJSON {
		return ui.WriteJSON(f.IO.Out, run)
	}
	_, err = fmt.Fprintln(f.IO.Out, run.ID)
	return err
}
