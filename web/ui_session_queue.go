package web

import "siteline/storage"

// queueTimeline words the team queue's session events (node/queue): the
// request queued, offered to a member, skipped by one, taken by one.
func queueTimeline(it *timelineItem, kind string, str func(string) string) {
	member := str("member_name")
	if member == "" {
		member = "a member"
	}
	switch kind {
	case storage.EventQueued:
		it.Who, it.Text = "Team queue", "request queued for the team"
	case storage.EventOffered:
		it.Who, it.Text = "Team queue", "offered to "+member
	case storage.EventOfferSkipped:
		it.Who = member
		if str("reason") == "timeout" {
			it.Text = "did not answer the offer in time"
		} else {
			it.Text = "declined the offer"
		}
	case storage.EventAssigned:
		it.Who, it.Text = member, "took the request from the team queue"
	}
}
