package sfu

import "time"

// layerInterval is how often a subscriber's simulcast layers are chosen.
const layerInterval = 500 * time.Millisecond

// estimate returns the bits per second the participant can receive: the
// send-side estimate (TWCC), lowered by a REMB and by LimitBitrate.
func (p *Participant) estimate() float64 {
	est := int64(0)
	if p.bwe != nil {
		est = int64(p.bwe.GetTargetBitrate())
	}
	for _, cap := range []int64{p.remb.Load(), p.limit.Load()} {
		if cap > 0 && (est == 0 || cap < est) {
			est = cap
		}
	}
	return float64(est)
}

// layerLoop chooses, every layerInterval, the layer of each simulcast
// track the participant receives, sharing the estimate among them after
// what the non-simulcast tracks take.
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
		budget := p.estimate()
		for _, d := range p.downs {
			if d.up.simulcast() {
				multi = append(multi, d)
				continue
			}
			for _, r := range d.up.layerRates() {
				budget -= r
			}
		}
		p.mu.Unlock()
		if len(multi) == 0 {
			continue
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
