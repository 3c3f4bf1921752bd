package commands

import "github.com/spf13/cobra"

func newAuthCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Log in to the platform, see who you are, log out",
		Long: `Log in to a platform server and keep the session in a profile (in the user configuration
folder, file mode 0600). Several servers can each have a profile (--profile NAME).

Precedence for every command: --server/--ca-file flags, then SMARTX_SERVER, SMARTX_CA_FILE and
SMARTX_TOKEN, then the profile (--profile, SMARTX_PROFILE, or the current one).`,
	}
	cmd.AddCommand(newAuthLoginCmd(f), newAuthLogoutCmd(f), newAuthStatusCmd(f), newAuthPasswordCmd(f), newAuth2FACmd(f))
	return cmd
}
