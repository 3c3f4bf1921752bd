package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/smart-impulse/smartx/internal/store"
)

const deviceColumns = `id, account_id, site_id, serial_index, sealed, credential_salt, credential_hash, created_at, updated_at,
	decommissioned_at, last_contact_at, last_upload_at, last_reject_at, last_reject_code, last_reject_reason,
	files, readings, last_sequence, first_reading, last_reading,
	COALESCE((SELECT MAX(key_id) FROM device_keys k WHERE k.device_id = devices.id), 0)`

func scanDevice(row interface{ Scan(...any) error }) (store.Device, error) {
	var d store.Device
	var created, updated int64
	var decommissioned, contact, upload, reject, lastSeq, first, last sql.NullInt64
	st := &d.Stats
	if err := row.Scan(&d.ID, &d.AccountID, &d.SiteID, &d.SerialIndex, &d.Sealed, &d.CredentialSalt, &d.CredentialHash, &created, &updated,
		&decommissioned, &contact, &upload, &reject, &st.LastRejectCode, &st.LastRejectReason,
		&st.Files, &st.Readings, &lastSeq, &first, &last, &st.CurrentKeyID); err != nil {
		return store.Device{}, err
	}
	d.CreatedAt, d.UpdatedAt, d.DecommissionedAt = fromMicros(created), fromMicros(updated), fromNullMicros(decommissioned)
	st.LastContactAt, st.LastUploadAt, st.LastRejectAt = fromNullMicros(contact), fromNullMicros(upload), fromNullMicros(reject)
	st.LastSequence, st.FirstReading, st.LastReading = uint64(lastSeq.Int64), first.Int64, last.Int64
	return d, nil
}

// CreateDevice implements store.DeviceStore.
func (s *Store) CreateDevice(ctx context.Context, d store.Device, first store.DeviceKey) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The site must be the account's: the foreign key alone would accept another account's.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sites WHERE id = ? AND account_id = ?`, d.SiteID, d.AccountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("site %s: %w", d.SiteID, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, account_id, site_id, serial_index, sealed, credential_salt, credential_hash,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.AccountID, d.SiteID, d.SerialIndex, d.Sealed, d.CredentialSalt, d.CredentialHash,
			micros(d.CreatedAt), micros(d.UpdatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES (?, ?, ?, ?)`,
			d.ID, first.KeyID, first.SealedKey, micros(first.CreatedAt))
		return err
	})
	return mapErr("create device", err)
}

// Device implements store.DeviceStore.
func (s *Store) Device(ctx context.Context, accountID, id string) (store.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ? AND account_id = ?`, id, accountID))
	return d, mapErr("device "+id, err)
}

// DeviceByID implements store.DeviceStore.
func (s *Store) DeviceByID(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id))
	return d, mapErr("device "+id, err)
}

// ListDevices implements store.DeviceStore.
func (s *Store) ListDevices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	where := []string{"account_id = ?"}
	args := []any{f.AccountID}
	if f.SiteID != "" {
		where, args = append(where, "site_id = ?"), append(args, f.SiteID)
	}
	if f.SerialIndex != nil {
		where, args = append(where, "serial_index = ?"), append(args, f.SerialIndex)
	}
	if f.SiteIDs != nil {
		var in string
		in, args = inList(args, f.SiteIDs)
		where = append(where, "site_id IN "+in)
	}
	if !f.IncludeDecommissioned {
		where = append(where, "decommissioned_at IS NULL")
	}
	return queryAll(ctx, s.r, "list devices", scanDevice,
		`SELECT `+deviceColumns+` FROM devices WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, id`, args...)
}

// deviceState tells a missing device from a decommissioned one after an UPDATE that matched
// no row.
func deviceState(ctx context.Context, tx *sql.Tx, accountID, id string) error {
	var decommissioned sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT decommissioned_at FROM devices WHERE id = ? AND account_id = ?`, id, accountID).Scan(&decommissioned)
	switch {
	case err != nil:
		return err // sql.ErrNoRows becomes ErrNotFound in mapErr
	case decommissioned.Valid:
		return store.ErrDecommissioned
	}
	return nil
}

// SetDeviceCredential implements store.DeviceStore.
func (s *Store) SetDeviceCredential(ctx context.Context, accountID, id string, salt, hash []byte, at time.Time) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET credential_salt = ?, credential_hash = ?, updated_at = ?
			WHERE id = ? AND account_id = ? AND decommissioned_at IS NULL`, salt, hash, micros(at), id, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := deviceState(ctx, tx, accountID, id); err != nil {
				return err
			}
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("set credential of device "+id, err)
}

// DecommissionDevice implements store.DeviceStore.
func (s *Store) DecommissionDevice(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = ? AND account_id = ?`, id, accountID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET decommissioned_at = ?, updated_at = ?
			WHERE id = ? AND account_id = ? AND decommissioned_at IS NULL`, micros(at), micros(at), id, accountID); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("decommission device "+id, err)
}

// ReplaceDevice implements store.DeviceStore.
func (s *Store) ReplaceDevice(ctx context.Context, accountID, id string, r store.DeviceReplacement) error {
	err := s.inEpochTx(ctx, func(tx *sql.Tx) error {
		if err := deviceState(ctx, tx, accountID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET serial_index = ?, sealed = ?, credential_salt = ?, credential_hash = ?,
			updated_at = ? WHERE id = ?`, r.SerialIndex, r.Sealed, r.CredentialSalt, r.CredentialHash, micros(r.At), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES (?, ?, ?, ?)`,
			id, r.Key.KeyID, r.Key.SealedKey, micros(r.Key.CreatedAt)); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("replace device "+id, err)
}

// CreateDeviceKey implements store.DeviceStore.
func (s *Store) CreateDeviceKey(ctx context.Context, accountID string, k store.DeviceKey) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := deviceState(ctx, tx, accountID, k.DeviceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES (?, ?, ?, ?)`,
			k.DeviceID, k.KeyID, k.SealedKey, micros(k.CreatedAt))
		return err
	})
	return mapErr("create key of device "+k.DeviceID, err)
}

// DeviceKeys implements store.DeviceStore.
func (s *Store) DeviceKeys(ctx context.Context, accountID, deviceID string) ([]store.DeviceKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT k.key_id, k.sealed_key, k.created_at FROM device_keys k
		JOIN devices d ON d.id = k.device_id WHERE k.device_id = ? AND d.account_id = ? ORDER BY k.key_id`, deviceID, accountID)
	if err != nil {
		return nil, mapErr("keys of device "+deviceID, err)
	}
	defer rows.Close()
	out := []store.DeviceKey{}
	for rows.Next() {
		k := store.DeviceKey{DeviceID: deviceID}
		var created int64
		if err := rows.Scan(&k.KeyID, &k.SealedKey, &created); err != nil {
			return nil, mapErr("keys of device "+deviceID, err)
		}
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("keys of device "+deviceID, err)
	}
	if len(out) == 0 { // every device has a key: none means no such device here
		return nil, fmt.Errorf("keys of device %s: %w", deviceID, store.ErrNotFound)
	}
	return out, nil
}

// RecordContact implements store.DeviceStore.
func (s *Store) RecordContact(ctx context.Context, accountID, deviceID string, c store.Contact) error {
	var res sql.Result
	var err error
	if c.RejectCode == "" {
		res, err = s.w.ExecContext(ctx, `UPDATE devices SET last_contact_at = MAX(COALESCE(last_contact_at, 0), ?)
			WHERE id = ? AND account_id = ?`, micros(c.At), deviceID, accountID)
	} else {
		res, err = s.w.ExecContext(ctx, `UPDATE devices SET last_contact_at = MAX(COALESCE(last_contact_at, 0), ?1), last_reject_at = ?1,
			last_reject_code = ?2, last_reject_reason = ?3 WHERE id = ?4 AND account_id = ?5`, micros(c.At), c.RejectCode, c.RejectReason, deviceID, accountID)
	}
	if err != nil {
		return mapErr("record contact of device "+deviceID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record contact of device %s: %w", deviceID, store.ErrNotFound)
	}
	return nil
}
