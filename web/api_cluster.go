package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Cluster is the federation of nodes: its status, join tokens, joining,
// leadership and membership. The node implements it.
type Cluster interface {
	// Status lists every node of the federation with its replication state,
	// as far as this node can reach them.
	Status(ctx context.Context) (ClusterStatus, error)
	// CreateJoinToken mints a one-time token a new node joins with, in
	// role (voter or plant), which the token fixes; only a voter holding
	// the federation CA can.
	CreateJoinToken(ctx context.Context, a Actor, ttl time.Duration, role string) (JoinToken, error)
	// Join redeems a join token: it signs the node's certificate and adds
	// it to the Raft cluster. It is public: the token is the credential.
	Join(ctx context.Context, req JoinRequest) (JoinResponse, error)
	// TransferLeadership hands leadership to node id (any voter if "").
	TransferLeadership(ctx context.Context, a Actor, id string) error
	// RemoveNode removes node id from the federation.
	RemoveNode(ctx context.Context, a Actor, id string) error
}

// ClusterStatus is the federation as one node sees it.
type ClusterStatus struct {
	NodeID   string `json:"node_id"`
	LeaderID string `json:"leader_id"`
	// CAFingerprint is the SHA-256 of the federation CA certificate (hex).
	CAFingerprint string          `json:"ca_fingerprint"`
	Nodes         []ClusterNode   `json:"nodes"`
	Self          ClusterNodeSelf `json:"self"`
}

// ClusterNodeSelf is what this node knows about itself only.
type ClusterNodeSelf struct {
	CanMintTokens bool `json:"can_mint_tokens"`
}

// ClusterNode is one member of the federation.
type ClusterNode struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Site    string `json:"site"`
	// Role is leader, voter or nonvoter.
	Role         string `json:"role"`
	Leader       bool   `json:"leader"`
	Voter        bool   `json:"voter"`
	State        string `json:"state"`
	AppliedIndex uint64 `json:"applied_index"`
	// Lag is how many log entries this node has yet to apply, against the
	// leader's last index.
	Lag         uint64     `json:"lag"`
	LastContact *time.Time `json:"last_contact,omitempty"`
	// Link is "self", "up" (it answered) or "down".
	Link  string `json:"link"`
	Error string `json:"error,omitempty"`
	// HistoryBacklog is, for a plant, how many of its site-history records
	// headquarters has not acknowledged yet (not yet published, not yet
	// copied over the leaf link, or not yet applied); for a headquarters
	// voter, how many records it received and has not applied yet. Nil
	// when the node did not answer.
	HistoryBacklog *int64 `json:"history_backlog,omitempty"`
	// HistoryLink is the node's history link: for a plant "up" or "down"
	// (its leaf link to headquarters), for a voter "hub, N links".
	HistoryLink string `json:"history_link,omitempty"`
}

// JoinToken is a freshly minted join token; Token is shown once.
type JoinToken struct {
	Token string `json:"token"`
	// Role is what the token admits: voter or plant.
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	Server    string    `json:"server"`
	// Fingerprint is the SHA-256 fingerprint of the node's self-signed
	// HTTPS certificate ("sha256:..."), which the joining node pins;
	// empty when the node's certificate is the operator's own or TLS is
	// off.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// JoinRequest is what a joining node sends.
type JoinRequest struct {
	Token    string `json:"token"`
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	Site     string `json:"site"`
	// Voter asks to join as a voter; it is refused unless the token admits
	// one. The token decides the role either way.
	Voter bool `json:"voter"`
	// CSR is the node's PEM certificate request; empty when the node
	// brings its own certificate.
	CSR string `json:"csr"`
}

// JoinResponse is what it gets back.
type JoinResponse struct {
	OrgID string `json:"org_id"`
	// Role is the one the token admitted: voter or plant. A voter joins as
	// a non-voter and asks to vote once it serves.
	Role   string `json:"role"`
	CACert string `json:"ca_cert"`
	Cert   string `json:"cert,omitempty"`
	// CAKey is given to voters only: any voter can then sign the
	// certificates of nodes that join through it.
	CAKey string `json:"ca_key,omitempty"`
	// LeafURL is where the new node sends its site history: the voter's
	// NATS leaf node listener (tls://host:port); empty when it has none.
	LeafURL string `json:"leaf_url,omitempty"`
	// NodeID is the voter's node id: the new node follows the leaf address
	// that voter announces through the replicated log when it moves.
	NodeID string `json:"node_id,omitempty"`
}

type joinTokenIn struct {
	// TTL is how long the token is valid, such as "1h"; default 1h, at
	// most 7 days.
	TTL string `json:"ttl"`
	// Role is what the token admits: "plant" (the default) or "voter"
	// (headquarters: it votes and receives the federation CA's key).
	Role string `json:"role"`
}

type transferIn struct {
	// To is the node to hand leadership to; empty for any voter.
	To string `json:"to"`
}

func (s *Server) clusterRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/cluster", perm: policy.AdminFederation, summary: "Every node of the federation: role, applied index, lag, last contact, link", out: ClusterStatus{}, handler: s.apiCluster},
		{method: "POST", path: p + "/cluster/tokens", perm: policy.AdminFederation, summary: "Mint a one-time join token (on a voter); shown once", in: joinTokenIn{}, out: JoinToken{}, handler: s.apiCreateJoinToken},
		{method: "POST", path: p + "/cluster/join", public: true, summary: "Join the federation with a join token and a certificate request", in: JoinRequest{}, out: JoinResponse{}, handler: s.apiJoin},
		{method: "POST", path: p + "/cluster/leader/transfer", perm: policy.AdminFederation, summary: "Hand Raft leadership to another voter", in: transferIn{}, handler: s.apiTransferLeader},
		{method: "DELETE", path: p + "/cluster/nodes/:id", perm: policy.AdminFederation, summary: "Remove a node from the federation", handler: s.apiRemoveNode},
		{method: "GET", path: "/cluster", perm: policy.AdminFederation, page: true, summary: "Federation nodes", handler: s.uiCluster},
	}
}

func (s *Server) apiCluster(c *fiber.Ctx) error {
	st, err := s.deps.Cluster.Status(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) apiCreateJoinToken(c *fiber.Ctx) error {
	var in joinTokenIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ttl := time.Hour
	if in.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(in.TTL); err != nil || ttl <= 0 || ttl > 7*24*time.Hour {
			return &storage.ValidationError{Field: "ttl", Problem: "must be a duration between 1s and 168h, such as 1h"}
		}
	}
	if in.Role == "" {
		in.Role = "plant"
	}
	if in.Role != "plant" && in.Role != "voter" {
		return &storage.ValidationError{Field: "role", Problem: "must be voter or plant"}
	}
	a, _ := actorOf(c)
	t, err := s.deps.Cluster.CreateJoinToken(c.UserContext(), a, ttl, in.Role)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (s *Server) apiJoin(c *fiber.Ctx) error {
	var in JoinRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	resp, err := s.deps.Cluster.Join(c.UserContext(), in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(resp)
}

func (s *Server) apiTransferLeader(c *fiber.Ctx) error {
	var in transferIn
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	a, _ := actorOf(c)
	if err := s.deps.Cluster.TransferLeadership(c.UserContext(), a, in.To); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiRemoveNode(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Cluster.RemoveNode(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
