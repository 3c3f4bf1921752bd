package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smart-impulse/smartx/internal/store"
)

const deviceColumns = `id, account_id, site_id, serial_index, sealed, credential_salt, credential_hash, created_at, updated_at,
	decommissioned_at, last_contact_at, last_upload_at, last_reject_at, last_reject_code, last_reject_reason,
	files, readings, last_sequence, first_reading, last_reading,
	COALESCE((SELECT MAX(key_id) FROM device_keys k WHERE k.device_id = devices.id), 0)`

func scanDevice(row pgx.Row) (store.Device, error) {
	var d store.Device
	var decommissioned, contact, upload, reject *time.Time
	var lastSeq, first, last *int64
	var keyID int64
	st := &d.Stats
	if err := row.Scan(&d.ID, &d.AccountID, &d.SiteID, &d.SerialIndex, &d.Sealed, &d.CredentialSalt, &d.CredentialHash, &d.CreatedAt, &d.UpdatedAt,
		&decommissioned, &contact, &upload, &reject, &st.LastRejectCode, &st.LastRejectReason,
		&st.Files, &st.Readings, &lastSeq, &first, &last, &keyID); err != nil {
		return store.Device{}, err
	}
	d.CreatedAt, d.UpdatedAt, d.DecommissionedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC(), fromNull(decommissioned)
	st.LastContactAt, st.LastUploadAt, st.LastRejectAt = fromNull(contact), fromNull(upload), fromNull(reject)
	if lastSeq != nil {
		st.LastSequence = uint64(*lastSeq)
	}
	if first != nil {
		st.FirstReading = *first
	}
	if last != nil {
		st.LastReading = *last
	}
	st.CurrentKeyID = uint32(keyID)
	return d, nil
}

// CreateDevice implements store.DeviceStore.
func (s *Store) CreateDevice(ctx context.Context, d store.Device, first store.DeviceKey) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The site must be the account's: the foreign key alone would accept another account's.
		tag, err := tx.Exec(ctx, `INSERT INTO devices (id, account_id, site_id, serial_index, sealed, credential_salt, credential_hash,
			created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
			WHERE EXISTS (SELECT 1 FROM sites WHERE id = $3 AND account_id = $2)`,
			d.ID, d.AccountID, d.SiteID, d.SerialIndex, d.Sealed, d.CredentialSalt, d.CredentialHash, d.CreatedAt, d.UpdatedAt)
		if err != nil {
			return err
		}
		if err := exactlyOne(tag, "site "+d.SiteID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES ($1, $2, $3, $4)`,
			d.ID, int64(first.KeyID), first.SealedKey, first.CreatedAt)
		return err
	})
	return mapErr("create device", err)
}

// Device implements store.DeviceStore.
func (s *Store) Device(ctx context.Context, accountID, id string) (store.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1 AND account_id = $2`, id, accountID))
	return d, mapErr("device "+id, err)
}

// DeviceByID implements store.DeviceStore.
func (s *Store) DeviceByID(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id))
	return d, mapErr("device "+id, err)
}

// ListDevices implements store.DeviceStore.
func (s *Store) ListDevices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	var c conditions
	c.add("account_id = ?", f.AccountID)
	if f.SiteID != "" {
		c.add("site_id = ?", f.SiteID)
	}
	if f.SerialIndex != nil {
		c.add("serial_index = ?", f.SerialIndex)
	}
	if f.SiteIDs != nil {
		c.add("site_id = ANY(?)", f.SiteIDs)
	}
	if !f.IncludeDecommissioned {
		c.add("decommissioned_at IS NULL")
	}
	return queryAll(ctx, s.pool, "list devices", scanDevice,
		`SELECT `+deviceColumns+` FROM devices WHERE `+c.sql()+` ORDER BY created_at, id`, c.args...)
}

// lockDevice locks a device of the account for the rest of tx and tells a missing device
// (ErrNotFound) from a decommissioned one (ErrDecommissioned).
func lockDevice(ctx context.Context, tx pgx.Tx, accountID, id string) error {
	var decommissioned *time.Time
	err := tx.QueryRow(ctx, `SELECT decommissioned_at FROM devices WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID).Scan(&decommissioned)
	switch {
	case err != nil:
		return err // pgx.ErrNoRows becomes ErrNotFound in mapErr
	case decommissioned != nil:
		return store.ErrDecommissioned
	}
	return nil
}

// SetDeviceCredential implements store.DeviceStore.
func (s *Store) SetDeviceCredential(ctx context.Context, accountID, id string, salt, hash []byte, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockDevice(ctx, tx, accountID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE devices SET credential_salt = $1, credential_hash = $2, updated_at = $3 WHERE id = $4`,
			salt, hash, at, id); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("set credential of device "+id, err)
}

// DecommissionDevice implements store.DeviceStore.
func (s *Store) DecommissionDevice(ctx context.Context, accountID, id string, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE devices SET decommissioned_at = $1, updated_at = $1
			WHERE id = $2 AND decommissioned_at IS NULL`, at, id); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("decommission device "+id, err)
}

// ReplaceDevice implements store.DeviceStore.
func (s *Store) ReplaceDevice(ctx context.Context, accountID, id string, r store.DeviceReplacement) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockDevice(ctx, tx, accountID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE devices SET serial_index = $1, sealed = $2, credential_salt = $3, credential_hash = $4,
			updated_at = $5 WHERE id = $6`, r.SerialIndex, r.Sealed, r.CredentialSalt, r.CredentialHash, r.At, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES ($1, $2, $3, $4)`,
			id, int64(r.Key.KeyID), r.Key.SealedKey, r.Key.CreatedAt); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	return mapErr("replace device "+id, err)
}

// CreateDeviceKey implements store.DeviceStore.
func (s *Store) CreateDeviceKey(ctx context.Context, accountID string, k store.DeviceKey) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockDevice(ctx, tx, accountID, k.DeviceID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_keys (device_id, key_id, sealed_key, created_at) VALUES ($1, $2, $3, $4)`,
			k.DeviceID, int64(k.KeyID), k.SealedKey, k.CreatedAt)
		return err
	})
	return mapErr("create key of device "+k.DeviceID, err)
}

// DeviceKeys implements store.DeviceStore.
func (s *Store) DeviceKeys(ctx context.Context, accountID, deviceID string) ([]store.DeviceKey, error) {
	keys, err := queryAll(ctx, s.pool, "keys of device "+deviceID, func(row pgx.Row) (store.DeviceKey, error) {
		k := store.DeviceKey{DeviceID: deviceID}
		var keyID int64
		err := row.Scan(&keyID, &k.SealedKey, &k.CreatedAt)
		k.KeyID, k.CreatedAt = uint32(keyID), k.CreatedAt.UTC()
		return k, err
	}, `SELECT k.key_id, k.sealed_key, k.created_at FROM device_keys k
		JOIN devices d ON d.id = k.device_id WHERE k.device_id = $1 AND d.account_id = $2 ORDER BY k.key_id`, deviceID, accountID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 { // every device has a key: none means no such device here
		return nil, fmt.Errorf("keys of device %s: %w", deviceID, store.ErrNotFound)
	}
	return keys, nil
}

// RecordContact implements store.DeviceStore.
func (s *Store) RecordContact(ctx context.Context, accountID, deviceID string, c store.Contact) error {
	what := "record contact of device " + deviceID
	if c.RejectCode == "" {
		return s.execOne(ctx, what, `UPDATE devices SET last_contact_at = GREATEST(last_contact_at, $1)
			WHERE id = $2 AND account_id = $3`, c.At, deviceID, accountID)
	}
	return s.execOne(ctx, what, `UPDATE devices SET last_contact_at = GREATEST(last_contact_at, $1), last_reject_at = $1,
		last_reject_code = $2, last_reject_reason = $3 WHERE id = $4 AND account_id = $5`, c.At, c.RejectCode, c.RejectReason, deviceID, accountID)
}
