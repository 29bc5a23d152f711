package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// stmtCacheSize is how many prepared statements the writer's connection
// keeps: more than the store has distinct writes with arguments.
const stmtCacheSize = 256

// openCachingConnector is the writer's connector: its connection keeps the
// statements it executes prepared, the most recently used first.
//
// Preparing is most of what a small write costs: SQLite parses the
// statement and compiles it with every trigger it fires (the search
// index's, the dashboards'), each time, when database/sql hands it a query
// string. A participant's join spent about three quarters of its store
// time preparing its INSERTs. Only writes with arguments are kept, which
// leaves out scripts and DDL; queries are not kept, since a statement
// whose rows are open cannot serve another query.
func openCachingConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{base}, nil
}

type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, stmtCacheSize)
}

// driverConn is what database/sql uses of modernc.org/sqlite's connection.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one connection and its statements. database/sql uses a
// connection from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	driverConn
	size  int
	lru   *list.List // of *cachedStmt, most recent first
	bySQL map[string]*list.Element
}

type cachedStmt struct {
	query string
	stmt  driver.StmtExecContext
	close func() error
}

func newCachingConn(conn driver.Conn, size int) (*cachingConn, error) {
	dc, ok := conn.(driverConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("sqlite: the driver's connection lacks an interface the store uses")
	}
	return &cachingConn{driverConn: dc, size: size, lru: list.New(), bySQL: make(map[string]*list.Element)}, nil
}

// ExecContext runs query through its prepared statement, preparing it the
// first time. A statement that fails is closed and prepared again next
// time, whatever the failure.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.driverConn.ExecContext(ctx, query, args)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := cs.stmt.ExecContext(ctx, args)
	if err != nil {
		c.drop(query)
		return nil, err
	}
	return res, nil
}

func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.bySQL[query]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStmt), nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	exec, ok := st.(driver.StmtExecContext)
	if !ok {
		_ = st.Close()
		return nil, errors.New("sqlite: the driver's statement cannot execute with a context")
	}
	cs := &cachedStmt{query: query, stmt: exec, close: st.Close}
	c.bySQL[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.size {
		c.drop(c.lru.Back().Value.(*cachedStmt).query)
	}
	return cs, nil
}

func (c *cachingConn) drop(query string) {
	e, ok := c.bySQL[query]
	if !ok {
		return
	}
	delete(c.bySQL, query)
	c.lru.Remove(e)
	_ = e.Value.(*cachedStmt).close()
}

// Close finalizes the statements, then closes the connection: SQLite does
// not close a connection with statements still prepared on it.
func (c *cachingConn) Close() error {
	for c.lru.Len() > 0 {
		c.drop(c.lru.Front().Value.(*cachedStmt).query)
	}
	return c.driverConn.Close()
}
