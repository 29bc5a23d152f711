package sfu

import "time"

// layerInterval is how often a subscriber's simulcast layers are chosen.
const layerInterval = 500 * time.Millisecond

// estimate returns the bits per second the participant can receive: the
// send-side estimate (TWCC) while it runs, lowered by a REMB and by
// LimitBitrate.
func (p *Participant) estimate() float64 {
	est := p.side.estimate()
	for _, cap := range []int64{p.remb.Load(), p.limit.Load()} {
		if cap > 0 && (est == 0 || cap < est) {
			est = cap
		}
	}
	return float64(est)
}

// layerLoop chooses, every layerInterval, the simulcast layers of every
// participant: one goroutine and one timer for the node, not one per
// participant (most of whom receive no simulcast track at all). With no
// room open it sleeps until one is.
func (s *SFU) layerLoop() {
	tick := time.NewTicker(layerInterval)
	defer tick.Stop()
	var ps []*Participant
	for {
		if s.noRooms() {
			tick.Stop()
			select {
			case <-s.stop:
				return
			case <-s.roomOpen:
			}
			tick.Reset(layerInterval)
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		ps = s.participants(ps[:0])
		for _, p := range ps {
			p.chooseLayers()
		}
		clear(ps) // hold no participant until the next tick
	}
}

// participants appends every participant of every room to ps.
func (s *SFU) participants(ps []*Participant) []*Participant {
	for _, r := range s.roomList() {
		r.mu.Lock()
		for _, p := range r.participants {
			ps = append(ps, p)
		}
		r.mu.Unlock()
	}
	return ps
}

// chooseLayers chooses the layer of each simulcast track the participant
// receives, sharing the estimate among them after what the non-simulcast
// tracks take. It runs the send-side estimation while there is such a
// track, and stops it when there is none.
func (p *Participant) chooseLayers() {
	p.mu.Lock()
	if p.closed() {
		p.mu.Unlock()
		return
	}
	var multi, single []*downTrack
	for _, d := range p.downs {
		if d.up.simulcast() {
			multi = append(multi, d)
		} else {
			single = append(single, d)
		}
	}
	p.estimating(len(multi) > 0)
	p.mu.Unlock()
	if len(multi) == 0 {
		return
	}
	budget := p.estimate()
	for _, d := range single {
		for _, r := range d.up.layerRates() {
			budget -= r
		}
	}
	share := budget / float64(len(multi))
	for _, d := range multi {
		next := chooseLayer(d.up.layerRates(), int(d.target.Load()), share)
		if next >= 0 {
			d.setTarget(next)
		}
	}
}

// estimating turns the subscribe connection's send-side estimation on or
// off, counted in siteline_sfu_bandwidth_estimators. Under p.mu, so that
// close turning it off last is final.
func (p *Participant) estimating(on bool) {
	if p.side == nil || !p.side.setOn(on) {
		return
	}
	if on {
		p.sfu.metrics.estimators.Inc()
	} else {
		p.sfu.metrics.estimators.Dec()
	}
}
