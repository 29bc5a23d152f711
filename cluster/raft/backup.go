package raft

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// A backup carries the node's Raft state as one snapshot of the
// organisation store: what the log stands for up to its index, with its
// term and the cluster configuration as of it. A restored node starts from
// that snapshot with an empty log, as one that has just compacted its log
// would; a leader sends it what follows.

// SnapshotInfo is a snapshot's metadata.
type SnapshotInfo struct {
	Index              uint64
	Term               uint64
	ConfigurationIndex uint64
	Servers            []SnapshotServer
	Size               int64
}

// SnapshotServer is one member of a snapshot's configuration.
type SnapshotServer struct {
	ID, Address string
	Voter       bool
}

// BackupSnapshot takes a snapshot now (when the state machine applied
// anything since the last one) and opens the newest, which then stands
// for at least every entry applied before the call. The caller closes the
// reader.
func (n *Node) BackupSnapshot() (SnapshotInfo, io.ReadCloser, error) {
	r, err := n.running("raft snapshot for a backup")
	if err != nil {
		return SnapshotInfo{}, nil, err
	}
	if err := r.Snapshot().Error(); err != nil && !errors.Is(err, hraft.ErrNothingNewToSnapshot) {
		return SnapshotInfo{}, nil, fmt.Errorf("raft snapshot for a backup: %w", err)
	}
	n.mu.Lock()
	snaps := n.snaps
	n.mu.Unlock()
	list, err := snaps.List()
	if err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("raft snapshot for a backup: %w", err)
	}
	if len(list) == 0 {
		return SnapshotInfo{}, nil, errors.New("raft snapshot for a backup: the snapshot store holds none")
	}
	meta, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("raft snapshot for a backup: %w", err)
	}
	info := SnapshotInfo{Index: meta.Index, Term: meta.Term, ConfigurationIndex: meta.ConfigurationIndex, Size: meta.Size}
	for _, s := range meta.Configuration.Servers {
		info.Servers = append(info.Servers, SnapshotServer{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == hraft.Voter})
	}
	return info, rc, nil
}

// WriteState makes dir the Raft state of a node restored from a backup:
// its snapshot store holds the snapshot info describes, with the content
// read from state, and its stable store the snapshot's term as the
// current term (the node never goes back to a term it has seen). dir must
// hold no Raft state.
func WriteState(dir string, info SnapshotInfo, state io.Reader) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("raft: restore state: %w", err)
	}
	snaps, err := hraft.NewFileSnapshotStore(dir, DefaultSnapshotRetain, io.Discard)
	if err != nil {
		return fmt.Errorf("raft: restore state: %w", err)
	}
	if old, err := snaps.List(); err != nil || len(old) > 0 {
		return fmt.Errorf("raft: restore state: %s already holds Raft snapshots", dir)
	}
	var conf hraft.Configuration
	for _, s := range info.Servers {
		suffrage := hraft.Nonvoter
		if s.Voter {
			suffrage = hraft.Voter
		}
		conf.Servers = append(conf.Servers, hraft.Server{Suffrage: suffrage, ID: hraft.ServerID(s.ID), Address: hraft.ServerAddress(s.Address)})
	}
	_, trans := hraft.NewInmemTransport("") // encodes the legacy peer list only
	sink, err := snaps.Create(hraft.SnapshotVersionMax, info.Index, info.Term, conf, info.ConfigurationIndex, trans)
	if err != nil {
		return fmt.Errorf("raft: restore state: %w", err)
	}
	if _, err := io.Copy(sink, state); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raft: restore state: write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raft: restore state: write snapshot: %w", err)
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return fmt.Errorf("raft: restore state: %w", err)
	}
	if err := bolt.SetUint64([]byte("CurrentTerm"), info.Term); err != nil {
		bolt.Close()
		return fmt.Errorf("raft: restore state: %w", err)
	}
	return bolt.Close()
}
