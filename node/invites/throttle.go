package invites

import (
	"fmt"
	"sync"
	"time"

	"siteline/web"
)

// emailWindow is the sliding window of the invitation e-mail limits.
const emailWindow = time.Hour

// emailThrottle bounds the invitation e-mails sent per user and per
// organisation in the last hour (invite.emails_per_user_per_hour,
// invite.emails_per_org_per_hour), so that an account cannot make the
// node send mail for anyone. A send is reserved, under the lock, before
// the invitation is created, so concurrent requests cannot pass together.
type emailThrottle struct {
	perUser, perOrg int

	mu   sync.Mutex
	sent map[string][]time.Time // "u:"+user or "o:"+org: send times, oldest first
}

func newEmailThrottle(perUser, perOrg int) *emailThrottle {
	return &emailThrottle{perUser: perUser, perOrg: perOrg, sent: make(map[string][]time.Time)}
}

// reserve counts one e-mail of user in org at now, or refuses it with 429
// when either is at its limit; release gives the reservation back when
// the invitation is not created after all.
func (t *emailThrottle) reserve(now time.Time, user, org string) (release func(), err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sent) > 1024 {
		for k := range t.sent {
			t.prune(k, now)
		}
	}
	userKey, orgKey := "u:"+user, "o:"+org
	for _, c := range []struct {
		key, setting, who string
		limit             int
	}{
		{userKey, "invite.emails_per_user_per_hour", "you have", t.perUser},
		{orgKey, "invite.emails_per_org_per_hour", "your organisation has", t.perOrg},
	} {
		times := t.prune(c.key, now)
		if len(times) >= c.limit {
			wait := times[0].Add(emailWindow).Sub(now).Round(time.Second)
			return nil, &web.Error{Status: 429, Code: "rate_limited", Message: fmt.Sprintf(
				"%s sent %d invitation e-mails in the last hour, the limit (%s): nothing was sent; try again in %s, or copy the link instead",
				c.who, len(times), c.setting, wait)}
		}
	}
	t.sent[userKey] = append(t.sent[userKey], now)
	t.sent[orgKey] = append(t.sent[orgKey], now)
	return func() { t.unreserve(now, userKey, orgKey) }, nil
}

// prune drops the send times of key that left the window and returns
// those left.
func (t *emailThrottle) prune(key string, now time.Time) []time.Time {
	times := t.sent[key]
	i := 0
	for i < len(times) && !now.Before(times[i].Add(emailWindow)) {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(t.sent, key)
		return nil
	}
	t.sent[key] = times
	return times
}

func (t *emailThrottle) unreserve(at time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		times := t.sent[k]
		for i := len(times) - 1; i >= 0; i-- {
			if times[i].Equal(at) {
				t.sent[k] = append(times[:i:i], times[i+1:]...)
				break
			}
		}
	}
}
