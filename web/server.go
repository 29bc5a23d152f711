package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/pprof"
)

// Server serves the API and the backoffice. It runs two fiber apps over the
// same routes: the public one (browsers, apps, API tokens) and the local one
// on the node's admin socket, whose callers act as the local operator.
type Server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	now    func() time.Time
	routes []route
	limits *loginLimiter
	reads  *readLimiter // read_limit.go
	ui     *pages
	// sockets are the live signaling WebSockets, closed by Shutdown.
	sockets sockets
	// conns are the HTTP connections not idle, closed by Shutdown when
	// they outlast its grace (conns.go).
	conns openConns
	// listeners are the listeners Serve and ServeLocal were given; stopped
	// is set by Shutdown, which closes them (see serve).
	lnMu      sync.Mutex
	listeners []net.Listener
	stopped   bool
	// uploads bounds the media uploads received at once (upload_slots.go).
	uploads uploadSlots

	public *fiber.App
	local  *fiber.App

	// requests is the context every request's handlers run under (their
	// UserContext); Shutdown ends it once in-flight requests have had
	// their grace, so that a handler waiting on the federation does not
	// hold the node's stop.
	requests    context.Context
	endRequests context.CancelFunc
}

// New builds the server and its routes; nothing listens until Serve.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := deps.missing(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	ui, err := newPages()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		now:     now,
		limits:  newLoginLimiter(cfg.LoginFailuresPerAccount, cfg.LoginFailuresPerAddress, cfg.LoginWindow, now),
		ui:      ui,
		uploads: newUploadSlots(cfg.MaxConcurrentUploads),
		reads:   newReadLimiter(cfg.LinearizableReadsPerSecond, cfg.LinearizableReadBurst, now),
	}
	s.requests, s.endRequests = context.WithCancel(context.Background())
	s.routes = s.routeTable()
	s.public = s.newApp(false)
	s.local = s.newApp(true)
	return s, nil
}

// routeTable is every route the server serves. The routes of a service the
// node runs without are left out: they answer 404 like any unknown path, and
// the OpenAPI document, made from this table, does not list them.
func (s *Server) routeTable() []route {
	routes := append(append(append(s.exportRoutes(), s.apiRoutes()...), s.uiRoutes()...), s.guestUIRoutes()...)
	if s.deps.People != nil {
		// Ahead of "/users/:id" and "/contacts/:id" (peopleRoutes).
		routes = append(s.peopleRoutes(), routes...)
	}
	for _, svc := range []struct {
		present bool
		routes  func() []route
	}{
		{s.deps.Calls != nil, s.callRoutes},
		{s.deps.Cluster != nil, s.clusterRoutes},
		{s.deps.Invites != nil, s.inviteRoutes},
		{s.deps.Members != nil, s.memberRoutes},
		{s.deps.History != nil, s.sessionRoutes},
		{s.deps.Dashboards != nil, s.dashboardRoutes},
		{s.deps.Events != nil, s.eventRoutes},
		{s.deps.Queues != nil, s.queueRoutes},
		{s.deps.Phone != nil, s.phoneRoutes},
		{s.deps.Media != nil, s.mediaRoutes},
		{s.deps.Supervision != nil, s.supervisionRoutes},
		{s.deps.Reports != nil && s.deps.Calls != nil, s.reportRoutes},
		{s.deps.SSO != nil, s.ssoRoutes},
		{s.deps.SSOAdmin != nil, s.ssoSettingsRoutes},
		{s.deps.SSOAdmin != nil, s.ssoUIRoutes},
		{s.deps.SCIM != nil, s.scimRoutes},
		{s.deps.SCIM != nil && s.deps.SSOAdmin != nil, s.scimTokenRoutes},
	} {
		if svc.present {
			routes = append(routes, svc.routes()...)
		}
	}
	return routes
}

// newApp builds one fiber app with every route; local marks its callers as
// the node's operator.
func (s *Server) newApp(local bool) *fiber.App {
	app := fiber.New(fiber.Config{
		BodyLimit:             s.cfg.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadBufferSize:        16 << 10,
		// Bodies are read by readBody and the upload handler, not before
		// the handlers run (body_limit.go).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// Values from the request (params, headers, the body) are copies:
		// fasthttp reuses its buffers once a handler returns, and the
		// signaling socket, the login limiter and the logs keep them
		// longer.
		Immutable: true,
		// X-Forwarded-Proto and -Host are believed from trusted proxies
		// only (fiber believes anyone otherwise); the client address is
		// clientIP's (origin.go).
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(s.cfg.TrustedProxies),
	})
	app.Server().HeaderReceived = s.requestLimits // body_limit.go
	app.Server().ConnState = s.conns.track        // conns.go
	app.Use(s.requestContext, s.recoverPanics, s.securityHeaders, s.readBody)
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", s.readyz)
	if s.deps.Metrics != nil {
		app.Get("/metrics", s.metricsHandler(local)) // metrics.go
	}
	if local {
		// Go profiles (/debug/pprof/) for the node's operator alone: only
		// the admin socket's owner reaches this app.
		app.Use(pprof.New())
	}
	mountStatic(app, s.ui.assets)
	authn := s.authenticate(local)
	for _, r := range s.routes {
		handlers := []fiber.Handler{authn}
		if r.bearer {
			handlers = nil
		}
		if !r.public {
			handlers = append(handlers, s.requireLogin(r), s.checkCSRF, s.passwordGate(r), s.access(r))
		}
		if strings.HasPrefix(r.path, APIPrefix+"/") {
			handlers = append(handlers, s.readConsistency(r)) // consistency.go
		}
		handlers = append(handlers, r.handler)
		app.Add(r.method, r.path, handlers...)
	}
	app.Use(func(c *fiber.Ctx) error {
		if strings.HasPrefix(c.Path(), APIPrefix+"/") || c.Path() == APIPrefix {
			return fiber.NewError(fiber.StatusNotFound, fmt.Sprintf("the API has no %s %s", c.Method(), c.Path()))
		}
		return fiber.NewError(fiber.StatusNotFound, fmt.Sprintf("There is no page at %s.", c.Path()))
	})
	return app
}

// Serve accepts public connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.serve(s.public, ln) }

// ServeLocal accepts the admin socket's connections until Shutdown.
func (s *Server) ServeLocal(ln net.Listener) error { return s.serve(s.local, ln) }

// serve runs app on ln. fasthttp's shutdown closes only the listeners its
// Serve has already registered: a Serve that starts just after Shutdown
// would accept for ever. The server closes them itself, and a Serve that
// comes after Shutdown returns at once.
func (s *Server) serve(app *fiber.App, ln net.Listener) error {
	s.lnMu.Lock()
	if s.stopped {
		s.lnMu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.lnMu.Unlock()
	err := app.Listener(ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish, until ctx ends. Requests still running when half of the time ctx
// leaves has passed have their context ended: one waiting on Raft or on
// another node then answers at once (503, the federation being
// unreachable) instead of holding the stop until ctx's end. Connections
// still open at three quarters of the time are closed: a client that sent
// half a request, or a handler that did not answer its ended context.
func (s *Server) Shutdown(ctx context.Context) error {
	grace, cancel := partOf(ctx, 0.5)
	defer cancel()
	stop := context.AfterFunc(grace, s.endRequests)
	defer stop()
	late, cancelLate := partOf(ctx, 0.75)
	defer cancelLate()
	stopLate := context.AfterFunc(late, func() {
		if n := s.conns.closeAll(); n > 0 {
			s.log.Warn("stop: closed HTTP connections still open", "connections", n)
		}
	})
	defer stopLate()
	s.lnMu.Lock()
	s.stopped = true
	s.lnMu.Unlock()
	// fasthttp's shutdown fails on a listener closed before it; the ones
	// it never registered are closed after it.
	defer func() {
		s.lnMu.Lock()
		defer s.lnMu.Unlock()
		for _, ln := range s.listeners {
			_ = ln.Close()
		}
	}()
	defer s.endRequests()
	var errs []error
	if err := s.sockets.closeAll(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, app := range []*fiber.App{s.public, s.local} {
		if err := app.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// partOf is ctx, ended once the given part (0.5 for half) of the time left
// to its deadline has passed, if it has one.
func partOf(ctx context.Context, part float64) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(part*float64(time.Until(dl))))
}

// requestContext runs the request's handlers under the server's request
// context (see Shutdown).
func (s *Server) requestContext(c *fiber.Ctx) error {
	c.SetUserContext(s.requests)
	return c.Next()
}

// Handler exposes the public app for tests that drive it without a socket.
func (s *Server) Handler() *fiber.App { return s.public }

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.deps.Health.Ready(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not ready", "error": err.Error()})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "path", c.Path(), "panic", r)
			err = fiber.NewError(fiber.StatusInternalServerError, "internal error")
		}
	}()
	return c.Next()
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if s.cfg.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	return c.Next()
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// RouteInfo is one route the server serves: its method, its path with
// :parameters, whether it is a backoffice page, and the permission it
// needs ("" for any logged-in caller or a public route).
type RouteInfo struct {
	Method, Path, Permission string
	Page, Public             bool
}

// Routes lists every route the server serves, in its table's order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{Method: r.method, Path: r.path, Permission: r.perm, Page: r.page, Public: r.public}
	}
	return out
}
