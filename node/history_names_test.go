package node

import (
	"github.com/nats-io/nats.go/jetstream"

	"siteline/cluster/history"
)

// Names of cluster/history the history tests use.
const (
	historyStream    = history.Stream
	historyAggregate = history.Aggregate
	historyKeep      = history.Keep
	metaHistoryAcked = history.MetaAcked
	blobChunk        = history.BlobChunk
)

// sourceAPI is the JetStream API a source of HISTORY_ALL reads from:
// $JS.<node id>.API.
func sourceAPI(si *jetstream.StreamSourceInfo) string {
	if si == nil || si.External == nil {
		return ""
	}
	return si.External.APIPrefix
}
