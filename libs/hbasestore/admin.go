package hbasestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// SchemaReport says what EnsureTables changed and what it found.
type SchemaReport struct {
	// Created lists the tables created, Added the families ("table:family")
	// added to tables that existed without them.
	Created, Added []string
	// Differs lists families whose settings differ from the wanted ones;
	// they are left as they are (operators may have tuned them).
	Differs []string
}

// EnsureTables makes the schema what tables say, without touching data: it
// creates the namespace and the tables that do not exist yet (each family
// keeping one version, with ROW bloom filters and the given compression,
// pre-split at the tables' splits) and adds the families an existing table
// lacks. Running it again changes nothing.
func (s *Store) EnsureTables(ctx context.Context, tables []Table, compression hbase.TCompressionAlgorithm) (SchemaReport, error) {
	var rep SchemaReport
	if s.opts.Namespace != "" {
		var nss []string
		if err := s.call(ctx, "listNamespaces", func(c *hbase.THBaseServiceClient) (err error) {
			nss, err = c.ListNamespaces(ctx)
			return err
		}); err != nil {
			return rep, err
		}
		if !slices.Contains(nss, s.opts.Namespace) {
			if err := s.call(ctx, "createNamespace", func(c *hbase.THBaseServiceClient) error {
				return c.CreateNamespace(ctx, &hbase.TNamespaceDescriptor{Name: s.opts.Namespace})
			}); err != nil {
				return rep, err
			}
		}
	}
	for _, t := range tables {
		name := s.tableName(t.Name)
		full := string(s.opts.table(t.Name))
		var exists bool
		if err := s.call(ctx, "tableExists", func(c *hbase.THBaseServiceClient) (err error) {
			exists, err = c.TableExists(ctx, name)
			return err
		}); err != nil {
			return rep, err
		}
		if !exists {
			desc := &hbase.TTableDescriptor{TableName: name}
			for _, f := range t.Families {
				desc.Columns = append(desc.Columns, family(f, compression))
			}
			if err := s.call(ctx, "createTable "+full, func(c *hbase.THBaseServiceClient) error {
				return c.CreateTable(ctx, desc, t.Splits)
			}); err != nil {
				return rep, err
			}
			rep.Created = append(rep.Created, full)
			continue
		}
		var desc *hbase.TTableDescriptor
		if err := s.call(ctx, "getTableDescriptor "+full, func(c *hbase.THBaseServiceClient) (err error) {
			desc, err = c.GetTableDescriptor(ctx, name)
			return err
		}); err != nil {
			return rep, err
		}
		have := map[string]*hbase.TColumnFamilyDescriptor{}
		for _, c := range desc.GetColumns() {
			have[string(c.GetName())] = c
		}
		for _, f := range t.Families {
			want := family(f, compression)
			got, ok := have[f]
			if !ok {
				if err := s.call(ctx, "addColumnFamily "+full+":"+f, func(c *hbase.THBaseServiceClient) error {
					return c.AddColumnFamily(ctx, name, want)
				}); err != nil {
					return rep, err
				}
				rep.Added = append(rep.Added, full+":"+f)
				continue
			}
			if d := familyDiff(got, want); d != "" {
				rep.Differs = append(rep.Differs, fmt.Sprintf("%s:%s %s", full, f, d))
			}
		}
	}
	return rep, nil
}

// family is the descriptor of a read-model column family: one version (the
// read models never read older ones), ROW bloom filters (every read is by
// row key), the given compression.
func family(name string, compression hbase.TCompressionAlgorithm) *hbase.TColumnFamilyDescriptor {
	bloom, versions := hbase.TBloomFilterType_ROW, int32(1)
	return &hbase.TColumnFamilyDescriptor{Name: []byte(name), BloomnFilterType: &bloom, MaxVersions: &versions, CompressionType: &compression}
}

func familyDiff(got, want *hbase.TColumnFamilyDescriptor) string {
	var d []string
	if got.GetMaxVersions() != want.GetMaxVersions() {
		d = append(d, fmt.Sprintf("keeps %d versions, want %d", got.GetMaxVersions(), want.GetMaxVersions()))
	}
	if got.GetBloomnFilterType() != want.GetBloomnFilterType() {
		d = append(d, fmt.Sprintf("bloom filter %s, want %s", got.GetBloomnFilterType(), want.GetBloomnFilterType()))
	}
	if got.GetCompressionType() != want.GetCompressionType() {
		d = append(d, fmt.Sprintf("compression %s, want %s", got.GetCompressionType(), want.GetCompressionType()))
	}
	return strings.Join(d, ", ")
}

// DropNamespace deletes every table of the store's namespace, then the
// namespace: for tests that share an HBase and clean up after themselves.
func (s *Store) DropNamespace(ctx context.Context) error {
	if s.opts.Namespace == "" {
		return errors.New("the store has no namespace of its own to drop")
	}
	var nss []string
	if err := s.call(ctx, "listNamespaces", func(c *hbase.THBaseServiceClient) (err error) {
		nss, err = c.ListNamespaces(ctx)
		return err
	}); err != nil || !slices.Contains(nss, s.opts.Namespace) {
		return err
	}
	var names []*hbase.TTableName
	if err := s.call(ctx, "getTableNamesByNamespace", func(c *hbase.THBaseServiceClient) (err error) {
		names, err = c.GetTableNamesByNamespace(ctx, s.opts.Namespace)
		return err
	}); err != nil {
		return err
	}
	for _, n := range names {
		if err := s.DropTable(ctx, string(n.GetQualifier())); err != nil {
			return err
		}
	}
	return s.call(ctx, "deleteNamespace", func(c *hbase.THBaseServiceClient) error {
		return c.DeleteNamespace(ctx, s.opts.Namespace)
	})
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
	err := s.tableCall(ctx, "exists in", table, func(c *hbase.THBaseServiceClient) (err error) {
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

// Ping asks the gateway for HBase's namespaces, which it answers only once
// HBase's master is up: a readiness check of the whole path.
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "listNamespaces", func(c *hbase.THBaseServiceClient) error {
		_, err := c.ListNamespaces(ctx)
		return err
	})
}
