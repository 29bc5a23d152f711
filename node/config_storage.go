package node

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"siteline/storage/blob"
	"siteline/storage/postgres"
)

// StorageConfig is where the node keeps what outgrows one machine's disk
// (storage.*).
type StorageConfig struct {
	// Media is the store of the bytes of snapshots, files and recordings.
	Media MediaStoreConfig `yaml:"media"`
	// History is where the site's sessions and, at headquarters, every
	// site's history are kept and searched (history_store.go).
	History HistoryStoreConfig `yaml:"history"`
}

// HistoryStoreConfig (storage.history) chooses the history store: the
// node's SQLite file (driver sqlite, the default), or a PostgreSQL
// database (driver postgres) for a headquarters whose history outgrows one
// machine's disk. Organisation data stays in SQLite either way.
type HistoryStoreConfig struct {
	Driver string `yaml:"driver"`
	// DSN is the database's postgres://user:password@host:port/database
	// URL or key=value string. It holds a password: it is never printed,
	// logged or written out (set it in the environment,
	// SITELINE_STORAGE_HISTORY_DSN).
	DSN blob.Secret `yaml:"dsn"`
	// MaxConns is the size of the connection pool.
	MaxConns int `yaml:"max_conns"`
	// StatementTimeout cancels a statement that runs longer.
	StatementTimeout time.Duration `yaml:"statement_timeout"`
}

// MediaStoreConfig (storage.media) chooses the media store: the data
// directory's media folder (driver fs, the default) or a bucket of an
// S3-compatible object store (driver s3: AWS S3, MinIO, Ceph RGW).
type MediaStoreConfig struct {
	Driver string `yaml:"driver"`
	// Endpoint is the object store's host[:port]; UseSSL speaks HTTPS to
	// it.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Region is the bucket's; "" asks the store.
	Region string `yaml:"region"`
	// Prefix starts the name of every object (one bucket, several nodes).
	Prefix string `yaml:"prefix"`
	// AccessKey and SecretKey are the credentials; when both are empty the
	// node reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The secret
	// is never printed, logged or written out.
	AccessKey string      `yaml:"access_key"`
	SecretKey blob.Secret `yaml:"secret_key"`
	UseSSL    bool        `yaml:"use_ssl"`
}

// Values of storage.history.driver.
const (
	historyDriverSQLite   = "sqlite"
	historyDriverPostgres = "postgres"
)

// Values of storage.media.driver.
const (
	mediaDriverFS = "fs"
	mediaDriverS3 = "s3"
)

// mediaSpoolDir is where uploads to an object store are hashed first, in
// the data directory.
const mediaSpoolDir = "media-spool"

func defaultStorage() StorageConfig {
	return StorageConfig{Media: MediaStoreConfig{Driver: mediaDriverFS, UseSSL: true},
		History: HistoryStoreConfig{Driver: historyDriverSQLite, MaxConns: postgres.DefaultMaxConns,
			StatementTimeout: postgres.DefaultStatementTimeout}}
}

func (c *Config) validateHistoryStore() error {
	h := c.Storage.History
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config storage.history.%s: %s", key, fmt.Sprintf(format, args...))
	}
	switch h.Driver {
	case historyDriverSQLite:
		if h.DSN != "" {
			return bad("dsn", "is for driver postgres; driver sqlite keeps history in the data directory")
		}
		return nil
	case historyDriverPostgres:
	default:
		return bad("driver", "%q is neither sqlite nor postgres", h.Driver)
	}
	if h.DSN == "" {
		return bad("dsn", "driver postgres needs the database's URL (postgres://user:password@host:port/database), best in SITELINE_STORAGE_HISTORY_DSN")
	}
	if h.MaxConns < 1 || h.MaxConns > 1000 {
		return bad("max_conns", "%d is not between 1 and 1000", h.MaxConns)
	}
	if h.StatementTimeout < 100*time.Millisecond {
		return bad("statement_timeout", "%s is under 100ms", h.StatementTimeout)
	}
	return nil
}

func (c *Config) validateStorage() error {
	if err := c.validateHistoryStore(); err != nil {
		return err
	}
	m := c.Storage.Media
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config storage.media.%s: %s", key, fmt.Sprintf(format, args...))
	}
	switch m.Driver {
	case mediaDriverFS:
		if m.Endpoint != "" || m.Bucket != "" {
			return bad("driver", "is fs (the data directory); endpoint and bucket are for driver s3")
		}
		return nil
	case mediaDriverS3:
	default:
		return bad("driver", "%q is neither fs nor s3", m.Driver)
	}
	if m.Endpoint == "" {
		return bad("endpoint", "driver s3 needs the object store's host[:port]")
	}
	if strings.Contains(m.Endpoint, "://") || strings.ContainsAny(m.Endpoint, "/?#") {
		return bad("endpoint", "%q must be host[:port], without a scheme or path (use_ssl chooses HTTPS)", m.Endpoint)
	}
	if strings.Contains(m.Endpoint, ":") {
		if _, _, err := net.SplitHostPort(m.Endpoint); err != nil {
			return bad("endpoint", "%q is not host[:port]", m.Endpoint)
		}
	}
	if m.Bucket == "" {
		return bad("bucket", "driver s3 needs a bucket")
	}
	if (m.AccessKey == "") != (m.SecretKey == "") {
		return bad("secret_key", "access_key and secret_key go together (or leave both empty to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return nil
}

// openMediaStore opens the media store storage.media names.
func (n *Node) openMediaStore(ctx context.Context) (blob.Store, error) {
	m := n.cfg.Storage.Media
	if m.Driver != mediaDriverS3 {
		return blob.OpenFS(n.cfg.path(mediaDir))
	}
	s, err := blob.OpenS3(ctx, blob.S3Config{
		Endpoint:  m.Endpoint,
		Bucket:    m.Bucket,
		Region:    m.Region,
		Prefix:    m.Prefix,
		AccessKey: m.AccessKey,
		SecretKey: m.SecretKey,
		UseSSL:    m.UseSSL,
		SpoolDir:  n.cfg.path(mediaSpoolDir),
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("media store", "driver", mediaDriverS3, "bucket", m.Bucket, "endpoint", m.Endpoint, "prefix", m.Prefix)
	return s, nil
}
