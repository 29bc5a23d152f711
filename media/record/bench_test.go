package record

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkWrite feeds a call's audio and video packets, in send order,
// to a Recording writing to disk. One op is one packet.
func BenchmarkWrite(b *testing.B) {
	c := loadClip(b)
	const loop = 10 * time.Second
	pkts := packetize(c, loop, 0)
	clock := &fakeClock{t: time.Unix(0, 0)}
	rec, err := New(b.TempDir(), "bench", WithClock(clock.now))
	if err != nil {
		b.Fatal(err)
	}
	audio, err := rec.AddTrack("mic", opusCodec)
	if err != nil {
		b.Fatal(err)
	}
	video, err := rec.AddTrack("cam", vp8Codec)
	if err != nil {
		b.Fatal(err)
	}
	// Each pass over pkts moves sequence numbers and timestamps on by
	// what one pass spans.
	var vSeq, aSeq uint16
	for _, s := range pkts {
		if s.video {
			vSeq++
		} else {
			aSeq++
		}
	}
	var p rtp.Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, pass := i%len(pkts), i/len(pkts)
		s := pkts[n]
		p = *s.pkt
		clock.set(time.Unix(0, 0).Add(time.Duration(pass)*loop + s.at))
		w := audio
		if s.video {
			w = video
			p.SequenceNumber += uint16(pass) * vSeq
			p.Timestamp += uint32(pass) * uint32(loop/time.Second) * 90000
		} else {
			p.SequenceNumber += uint16(pass) * aSeq
			p.Timestamp += uint32(pass) * uint32(loop/time.Second) * 48000
		}
		if err := w.WriteRTP(&p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	files, err := rec.Close()
	if err != nil && !(errors.Is(err, ErrNoMedia) && b.N < len(pkts)) {
		b.Fatal(err)
	}
	if len(files) == 1 {
		b.ReportMetric(float64(files[0].Size)/float64(b.N), "bytes/packet")
	}
}
