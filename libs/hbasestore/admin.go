package hbasestore

import (
	"context"
	"slices"

	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// Table describes a table to create: its column families.
type Table struct {
	Name     string
	Families []string
	// Splits are the initial region boundaries (pre-splitting).
	Splits [][]byte
}

// EnsureTables creates the namespace and the tables that do not exist yet,
// each family keeping one version with ROW bloom filters. Tables that exist
// are left as they are. It reports the tables it created.
func (s *Store) EnsureTables(ctx context.Context, tables []Table, compression hbase.TCompressionAlgorithm) ([]string, error) {
	if s.opts.Namespace != "" {
		var nss []string
		if err := s.call(ctx, "listNamespaces", func(c *hbase.THBaseServiceClient) (err error) {
			nss, err = c.ListNamespaces(ctx)
			return err
		}); err != nil {
			return nil, err
		}
		if !slices.Contains(nss, s.opts.Namespace) {
			if err := s.call(ctx, "createNamespace", func(c *hbase.THBaseServiceClient) error {
				return c.CreateNamespace(ctx, &hbase.TNamespaceDescriptor{Name: s.opts.Namespace})
			}); err != nil {
				return nil, err
			}
		}
	}
	var created []string
	for _, t := range tables {
		name := s.tableName(t.Name)
		var exists bool
		if err := s.call(ctx, "tableExists", func(c *hbase.THBaseServiceClient) (err error) {
			exists, err = c.TableExists(ctx, name)
			return err
		}); err != nil {
			return created, err
		}
		if exists {
			continue
		}
		desc := &hbase.TTableDescriptor{TableName: name}
		for _, f := range t.Families {
			bloom, versions, comp := hbase.TBloomFilterType_ROW, int32(1), compression
			desc.Columns = append(desc.Columns, &hbase.TColumnFamilyDescriptor{Name: []byte(f),
				BloomnFilterType: &bloom, MaxVersions: &versions, CompressionType: &comp})
		}
		if err := s.call(ctx, "createTable "+t.Name, func(c *hbase.THBaseServiceClient) error {
			return c.CreateTable(ctx, desc, t.Splits)
		}); err != nil {
			return created, err
		}
		created = append(created, string(s.opts.table(t.Name)))
	}
	return created, nil
}

// DropTable disables and deletes a table, if it exists.
func (s *Store) DropTable(ctx context.Context, table string) error {
	name := s.tableName(table)
	var exists bool
	if err := s.call(ctx, "tableExists", func(c *hbase.THBaseServiceClient) (err error) {
		exists, err = c.TableExists(ctx, name)
		return err
	}); err != nil || !exists {
		return err
	}
	if err := s.call(ctx, "disableTable "+table, func(c *hbase.THBaseServiceClient) error {
		return c.DisableTable(ctx, name)
	}); err != nil {
		return err
	}
	return s.call(ctx, "deleteTable "+table, func(c *hbase.THBaseServiceClient) error {
		return c.DeleteTable(ctx, name)
	})
}

// Exists reports whether a row has any cell.
func (s *Store) Exists(ctx context.Context, table string, row []byte) (bool, error) {
	var ok bool
	err := s.call(ctx, "exists in "+table, func(c *hbase.THBaseServiceClient) (err error) {
		ok, err = c.Exists(ctx, s.opts.table(table), &hbase.TGet{Row: row})
		return err
	})
	return ok, err
}

func (s *Store) tableName(table string) *hbase.TTableName {
	n := &hbase.TTableName{Qualifier: []byte(table)}
	if s.opts.Namespace != "" {
		n.Ns = []byte(s.opts.Namespace)
	}
	return n
}

// CreateTables implements readstore.Schema (no compression; use
// EnsureTables or the hbase shell for production settings).
func (s *Store) CreateTables(ctx context.Context, specs []readstore.TableSpec) error {
	tables := make([]Table, len(specs))
	for i, t := range specs {
		tables[i] = Table{Name: t.Name, Families: t.Families, Splits: t.Splits}
	}
	_, err := s.EnsureTables(ctx, tables, hbase.TCompressionAlgorithm_NONE)
	return err
}
