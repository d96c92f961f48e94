package tenancy

import (
	"bytes"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// entryRows are the rows of a statement sent with a Do's entry, given to
// database/sql with the same values pgx's own stdlib driver gives: the
// statement's result is read from the pipeline, which pgx's driver cannot
// wrap. The pipeline is closed with the rows.
type entryRows struct {
	pipeline *pgconn.Pipeline
	rows     pgx.Rows
	typeMap  *pgtype.Map
	values   []valueFunc
	first    bool // the first row was read ahead, to report a failing statement at once
	more     bool
}

type valueFunc func(src []byte) (driver.Value, error)

// newEntryRows reads ahead one row, as pgx's driver does, so that a failing
// statement fails the query rather than its first Next.
func newEntryRows(m *pgtype.Map, p *pgconn.Pipeline, rr *pgconn.ResultReader) (*entryRows, error) {
	r := &entryRows{pipeline: p, rows: pgx.RowsFromResultReader(m, rr), typeMap: m, first: true}
	r.more = r.rows.Next()
	if err := r.rows.Err(); err != nil {
		_ = r.Close()
		return nil, err
	}
	fields := r.rows.FieldDescriptions()
	r.values = make([]valueFunc, len(fields))
	for i, fd := range fields {
		r.values[i] = driverValue(m, fd)
	}
	return r, nil
}

// Columns names the result's columns.
func (r *entryRows) Columns() []string {
	fields := r.rows.FieldDescriptions()
	names := make([]string, len(fields))
	for i, fd := range fields {
		names[i] = fd.Name
	}
	return names
}

// Close ends the rows and the pipeline.
func (r *entryRows) Close() error {
	r.rows.Close()
	err := r.rows.Err()
	if closeErr := r.pipeline.Close(); err == nil {
		err = closeErr
	}
	return err
}

// Next decodes the next row into dest.
func (r *entryRows) Next(dest []driver.Value) error {
	more := r.more
	if r.first {
		r.first = false
	} else {
		more = r.rows.Next()
	}
	if !more {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	for i, raw := range r.rows.RawValues() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := r.values[i](raw)
		if err != nil {
			return fmt.Errorf("convert field %d failed: %w", i, err)
		}
		dest[i] = v
	}
	return nil
}

// ColumnTypeDatabaseTypeName is the column's type name, as pgx's driver gives it.
func (r *entryRows) ColumnTypeDatabaseTypeName(index int) string {
	oid := r.rows.FieldDescriptions()[index].DataTypeOID
	if dt, ok := r.typeMap.TypeForOID(oid); ok {
		return strings.ToUpper(dt.Name)
	}
	return strconv.FormatInt(int64(oid), 10)
}

// ColumnTypeScanType is the Go type a column scans into, as pgx's driver gives it.
func (r *entryRows) ColumnTypeScanType(index int) reflect.Type {
	switch r.rows.FieldDescriptions()[index].DataTypeOID {
	case pgtype.Float8OID, pgtype.NumericOID:
		return reflect.TypeFor[float64]()
	case pgtype.Float4OID:
		return reflect.TypeFor[float32]()
	case pgtype.Int8OID:
		return reflect.TypeFor[int64]()
	case pgtype.Int4OID:
		return reflect.TypeFor[int32]()
	case pgtype.Int2OID:
		return reflect.TypeFor[int16]()
	case pgtype.BoolOID:
		return reflect.TypeFor[bool]()
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return reflect.TypeFor[time.Time]()
	case pgtype.ByteaOID:
		return reflect.TypeFor[[]byte]()
	default:
		return reflect.TypeFor[string]()
	}
}

// driverValue converts a column's wire value to the driver.Value pgx's
// stdlib driver gives for its type, so that scanning is the same whichever
// way the statement went.
func driverValue(m *pgtype.Map, fd pgconn.FieldDescription) valueFunc {
	switch fd.DataTypeOID {
	case pgtype.BoolOID:
		return scanAs(m, fd, func(d bool) (driver.Value, error) { return d, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return scanAs(m, fd, func(d []byte) (driver.Value, error) { return bytes.Clone(d), nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return scanAs(m, fd, func(d pgtype.Uint32) (driver.Value, error) { return d.Value() })
	case pgtype.DateOID:
		return scanAs(m, fd, func(d pgtype.Date) (driver.Value, error) { return d.Value() })
	case pgtype.Float4OID:
		return scanAs(m, fd, func(d float32) (driver.Value, error) { return float64(d), nil })
	case pgtype.Float8OID:
		return scanAs(m, fd, func(d float64) (driver.Value, error) { return d, nil })
	case pgtype.Int2OID:
		return scanAs(m, fd, func(d int16) (driver.Value, error) { return int64(d), nil })
	case pgtype.Int4OID:
		return scanAs(m, fd, func(d int32) (driver.Value, error) { return int64(d), nil })
	case pgtype.Int8OID:
		return scanAs(m, fd, func(d int64) (driver.Value, error) { return d, nil })
	case pgtype.TimestampOID:
		return scanAs(m, fd, func(d pgtype.Timestamp) (driver.Value, error) { return d.Value() })
	case pgtype.TimestamptzOID:
		return scanAs(m, fd, func(d pgtype.Timestamptz) (driver.Value, error) { return d.Value() })
	default:
		return scanAs(m, fd, func(d string) (driver.Value, error) { return d, nil })
	}
}

// scanAs plans the scan of one column into a T once, and converts each
// value with conv.
func scanAs[T any](m *pgtype.Map, fd pgconn.FieldDescription, conv func(T) (driver.Value, error)) valueFunc {
	var d T
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &d)
	return func(src []byte) (driver.Value, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return conv(d)
	}
}
