package pdf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withSize rewrites a PNG's header to claim w×h pixels, with a valid
// checksum, as a decompression bomb would.
func withSize(t *testing.T, p []byte, w, h uint32) []byte {
	t.Helper()
	p = bytes.Clone(p)
	ihdr := p[12 : 12+4+13] // type and data of the first chunk
	if string(ihdr[:4]) != "IHDR" {
		t.Fatalf("no IHDR at 12: %q", ihdr[:4])
	}
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	binary.BigEndian.PutUint32(p[12+4+13:], crc32.ChecksumIEEE(ihdr))
	return p
}

func TestPreparePicture(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	img.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 0}) // a transparent corner
	var jp bytes.Buffer
	if err := jpeg.Encode(&jp, img, nil); err != nil {
		t.Fatal(err)
	}
	p := pngOf(t, img)

	got, err := preparePicture(jp.Bytes())
	if err != nil || !bytes.Equal(got.data, jp.Bytes()) || got.w != 40 || got.h != 30 {
		t.Errorf("JPEG: %v, %d×%d, bytes kept %v; want them as they are", err, got.w, got.h, bytes.Equal(got.data, jp.Bytes()))
	}

	got, err = preparePicture(p)
	if err != nil {
		t.Fatalf("PNG: %v", err)
	}
	dec, err := jpeg.Decode(bytes.NewReader(got.data))
	if err != nil || got.w != 40 || got.h != 30 {
		t.Fatalf("PNG: not made a 40×30 JPEG: %v, %d×%d", err, got.w, got.h)
	}
	// The transparent pixel is flattened on white, not on black.
	if r, g, b, _ := dec.At(0, 0).RGBA(); r>>8 < 150 || g>>8 < 150 || b>>8 < 150 {
		t.Errorf("transparent corner came out %d,%d,%d, not light", r>>8, g>>8, b>>8)
	}

	for _, c := range []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"missing", nil, "the image is missing"},
		{"not an image", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), "could not be read"},
		{"truncated", p[:len(p)/2], "could not be read"},
		{"bomb", withSize(t, p, 100_000, 100_000), "too large to print (100000×100000 pixels)"},
	} {
		_, err := preparePicture(c.bytes)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
		if c.name == "bomb" && !errors.Is(err, errTooLarge) {
			t.Errorf("bomb: %v is not errTooLarge", err)
		}
	}
}

func TestParseColor(t *testing.T) {
	for in, want := range map[string]rgb{"#ef4444": {0xef, 0x44, 0x44}, "#FACC15": {0xfa, 0xcc, 0x15}, "#000000": {}} {
		if got, ok := parseColor(in); !ok || got != want {
			t.Errorf("parseColor(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "red", "#fff", "#gggggg", "ef4444", "#ef44444"} {
		if _, ok := parseColor(in); ok {
			t.Errorf("parseColor(%q) accepted", in)
		}
	}
}

func TestCleanDropsControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb":            "a\nb",
		"tab\there":         "tab here",
		"bell\x07 esc\x1b.": "bell esc.",
		"c1\u0085 ok":       "c1 ok",
		"Łódź — Привет":     "Łódź — Привет",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := oneLine("two\nlines"); got != "two lines" {
		t.Errorf("oneLine: %q", got)
	}
}
