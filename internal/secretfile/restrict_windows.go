//go:build windows

package secretfile

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

const protection = "an access list that lets only your Windows user read it"

// fileReadData is FILE_READ_DATA, which x/sys/windows does not name.
const fileReadData = 0x1

// restrict replaces the file's access list with one entry, full control for the current user,
// marked protected so the folder's inheritable entries (Users, Everyone...) do not apply. It
// goes by name: the handle os.CreateTemp returns has no WRITE_DAC right, the owner always has.
func restrict(f *os.File) error { return restrictName(f.Name(), false) }

// restrictName gives path the access list restrict describes; a directory's entry is
// inherited by the files and folders created in it.
func restrictName(path string, dir bool) error {
	sid, err := currentUserSID()
	if err != nil {
		return fmt.Errorf("restrict %s to your user: %w", path, err)
	}
	inheritance := uint32(windows.NO_INHERITANCE)
	if dir {
		inheritance = windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT
	}
	acl, err := windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{{
		AccessPermissions: windows.GENERIC_ALL,
		AccessMode:        windows.SET_ACCESS,
		Inheritance:       inheritance,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_USER,
			TrusteeValue: windows.TrusteeValueFromSID(sid),
		},
	}}, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to your user: %w", path, err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to your user: %w", path, err)
	}
	return nil
}

// currentUserSID is the SID of the user this process runs as.
func currentUserSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid.Copy()
}

// exposed reads the file's access list: a missing list (everyone may do everything) or an
// entry that lets anyone but the user, SYSTEM or the administrators read the data exposes it.
func exposed(path string) (bool, error) {
	user, err := currentUserSID()
	if err != nil {
		return false, err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return false, err
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return true, nil
	}
	const readRights = fileReadData | windows.GENERIC_READ | windows.GENERIC_ALL
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return false, err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || uint32(ace.Mask)&readRights == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if sid.Equals(user) || sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
			continue
		}
		return true, nil
	}
	return false, nil
}

func fixHint(path string) string {
	return `icacls "` + path + `" /inheritance:r /grant:r "%USERNAME%:F"`
}

// checkFolder asks the volume holding dir whether it keeps access lists (NTFS and ReFS do;
// FAT and exFAT, the usual USB stick, do not).
func checkFolder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(abs)
	if err != nil {
		return err
	}
	root := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumePathName(p, &root[0], uint32(len(root))); err != nil {
		return nil // cannot tell: Restrict will say if it fails
	}
	var flags uint32
	fsName := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(&root[0], nil, 0, nil, nil, &flags, &fsName[0], uint32(len(fsName))); err != nil {
		return nil
	}
	if flags&windows.FILE_PERSISTENT_ACLS == 0 {
		return fmt.Errorf("%s is on a %s drive: %w", dir, windows.UTF16ToString(fsName), ErrNoAccessControl)
	}
	return nil
}
