package commands

import "github.com/spf13/cobra"

func newAuthCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Log in to the platform, see who you are, log out",
		Long: `Log in to a platform server and keep the session in a profile. The profile (server URL,
CA file) is in the user configuration folder; its token goes to the system's credential store:
Windows Credential Manager, the macOS Keychain, or the Secret Service (GNOME Keyring, KWallet)
on Linux. Where there is none (no D-Bus session, as over SSH or in CI, or SMARTX_KEYRING=off),
the token is kept in the configuration file, readable by you only, and smartx says so once.
'auth status' says where it is. Several servers can each have a profile (--profile NAME).

Precedence for every command: --server/--ca-file flags, then SMARTX_SERVER, SMARTX_CA_FILE and
SMARTX_TOKEN, then the profile (--profile, SMARTX_PROFILE, or the current one).`,
	}
	cmd.AddCommand(newAuthLoginCmd(f), newAuthLogoutCmd(f), newAuthStatusCmd(f), newAuthPasswordCmd(f), newAuth2FACmd(f))
	return cmd
}
