package node

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// MailConfig is the SMTP server invitations are sent through. An empty
// SMTPHost turns e-mail invitations off (they are refused, naming this
// key).
type MailConfig struct {
	SMTPHost string `yaml:"smtp_host"`
	SMTPPort int    `yaml:"smtp_port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	From     string `yaml:"from"`
	// TLS is "starttls" (required), "opportunistic" (STARTTLS when
	// offered), "tls" (implicit TLS, usually port 465) or "off".
	TLS string `yaml:"tls"`
}

// SMSConfig chooses how invitation SMS are sent: "log" (the default)
// sends none, so the invite dialog offers no SMS and the API refuses the
// channel saying SMS is not configured; "webhook" POSTs {"to", "text"} as
// JSON to WebhookURL (a gateway of your own).
type SMSConfig struct {
	Provider   string `yaml:"provider"`
	WebhookURL string `yaml:"webhook_url"`
}

// InviteConfig bounds the invitation e-mails the node sends, in a
// sliding hour: per user who invites, and per organisation.
type InviteConfig struct {
	EmailsPerUserPerHour int `yaml:"emails_per_user_per_hour"`
	EmailsPerOrgPerHour  int `yaml:"emails_per_org_per_hour"`
	// MemberLinkTTL is how long the activation link of a member
	// invitation works (7 days by default).
	MemberLinkTTL time.Duration `yaml:"member_link_ttl"`
}

// maxMemberLinkTTL bounds invite.member_link_ttl.
const maxMemberLinkTTL = 90 * 24 * time.Hour

// maxEmailsPerHour bounds both invite limits.
const maxEmailsPerHour = 100000

func (c *Config) validateInvite() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...))
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"invite.emails_per_user_per_hour", c.Invite.EmailsPerUserPerHour}, {"invite.emails_per_org_per_hour", c.Invite.EmailsPerOrgPerHour}} {
		if l.v < 1 || l.v > maxEmailsPerHour {
			return bad(l.key, "%d is outside 1 to %d", l.v, maxEmailsPerHour)
		}
	}
	if t := c.Invite.MemberLinkTTL; t < time.Hour || t > maxMemberLinkTTL {
		return bad("invite.member_link_ttl", "%s is outside 1h to %s", t, maxMemberLinkTTL)
	}
	m := c.Mail
	switch m.TLS {
	case "starttls", "opportunistic", "tls", "off":
	default:
		return bad("mail.tls", "%q is not one of starttls, opportunistic, tls, off", m.TLS)
	}
	if m.SMTPPort < 1 || m.SMTPPort > 65535 {
		return bad("mail.smtp_port", "%d is not a port number", m.SMTPPort)
	}
	if strings.ContainsAny(m.SMTPHost, " /:") {
		return bad("mail.smtp_host", "%q must be a host name or address, without port", m.SMTPHost)
	}
	if m.SMTPHost != "" {
		if _, err := mail.ParseAddress(m.From); err != nil {
			return bad("mail.from", "%q is not an e-mail address (needed with mail.smtp_host)", m.From)
		}
	}
	if (m.Username == "") != (m.Password == "") {
		return bad("mail.password", "mail.username and mail.password go together")
	}
	switch c.SMS.Provider {
	case "log":
	case "webhook":
		u, err := url.Parse(c.SMS.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("sms.webhook_url", "%q must be an http(s) URL (needed with sms.provider webhook)", c.SMS.WebhookURL)
		}
	default:
		return bad("sms.provider", "%q is not one of log, webhook", c.SMS.Provider)
	}
	return nil
}
