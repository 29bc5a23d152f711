package web

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP is the address a request comes from: its peer, or, when the
// peer is one of http.trusted_proxies, the nearest address of
// X-Forwarded-For that is not a trusted proxy itself. Proxies append the
// address they received from, so the addresses left of the first untrusted
// one are whatever the client chose to send and are never used.
func (s *Server) clientIP(c *fiber.Ctx) string {
	ip, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	ip = ip.Unmap()
	if !s.trustedProxy(ip) {
		return ip.String()
	}
	var hops []string
	for _, h := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(string(h), ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: trust nothing further left
		}
		ip = hop.Unmap()
		if !s.trustedProxy(ip) {
			break
		}
	}
	return ip.String()
}

func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ownOrigin reports whether origin (scheme://host[:port], as browsers send
// it) is this server: the scheme and host the request came to, or the
// configured public URL's.
func (s *Server) ownOrigin(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if pub, err := url.Parse(s.cfg.PublicURL); err == nil && s.cfg.PublicURL != "" &&
		strings.EqualFold(u.Scheme, pub.Scheme) && strings.EqualFold(u.Host, pub.Host) {
		return true
	}
	if !strings.EqualFold(u.Scheme, c.Protocol()) {
		return false
	}
	return strings.EqualFold(u.Host, c.Hostname()) || strings.EqualFold(u.Host, string(c.Request().Host()))
}

// sameOrigin refuses a request whose browser says it comes from another
// origin; requests without Origin (not from a browser, or a same-origin
// GET) pass.
func (s *Server) sameOrigin(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || s.ownOrigin(c, origin) {
		return nil
	}
	return &Error{Status: fiber.StatusForbidden, Code: "csrf", Message: fmt.Sprintf("cross-origin request from %q refused", origin)}
}

// sameSite guards requests that carry no session yet (a login): Origin
// when the browser sends it, else the Referer's origin, else
// Sec-Fetch-Site. A request with none of them is not from a browser.
func (s *Server) sameSite(c *fiber.Ctx) error {
	if c.Get(fiber.HeaderOrigin) != "" {
		return s.sameOrigin(c)
	}
	if ref := c.Get(fiber.HeaderReferer); ref != "" {
		u, err := url.Parse(ref)
		if err != nil || !s.ownOrigin(c, u.Scheme+"://"+u.Host) {
			return &Error{Status: fiber.StatusForbidden, Code: "csrf", Message: "cross-site request refused: it was sent from another site's page"}
		}
		return nil
	}
	switch c.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return &Error{Status: fiber.StatusForbidden, Code: "csrf", Message: "cross-site request refused: it was sent from another site's page"}
	}
	return nil
}
