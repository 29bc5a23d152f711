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

// layerLoop chooses, every layerInterval, the layer of each simulcast
// track the participant receives, sharing the estimate among them after
// what the non-simulcast tracks take. It runs the send-side estimation
// while there is such a track, and stops it when there is none.
func (p *Participant) layerLoop() {
	tick := time.NewTicker(layerInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		var multi []*downTrack
		var single []*downTrack
		for _, d := range p.downs {
			if d.up.simulcast() {
				multi = append(multi, d)
			} else {
				single = append(single, d)
			}
		}
		if !p.closed() {
			p.estimating(len(multi) > 0)
		}
		p.mu.Unlock()
		if len(multi) == 0 {
			continue
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
