package sqlite

// restrictToOwner does nothing on Windows, where access is governed by the folder's ACL, not by
// file modes: the data directory's ACL is the operator's to set.
func restrictToOwner(string) error { return nil }
