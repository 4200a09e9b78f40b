package e2e

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/color"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// browser drives one chromium with chromedp.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string // the URL open's paths start from (the portal's, the mailbox's)
	shots string // where screenshots go
}

// The viewports of the screenshots: a phone and a desktop.
const (
	phoneWidth, phoneHeight     = 375, 740
	desktopWidth, desktopHeight = 1280, 800
)

// stepTimeout bounds one step (a page load, a click and what follows).
const stepTimeout = 30 * time.Second

// startWithBrowser starts the stack with cfg and chromium for a browser
// test. chromium is looked for first: without it the test is skipped (in CI
// it fails) before anything is built. The browser opens paths from base, a
// path of the gateway (the portal's /function/lockbox-portal), and saves
// its screenshots into the folder the environment variable shotsEnv names
// (make screenshots: docs/portal, docs/mail), or a temporary one.
func startWithBrowser(t *testing.T, cfg stackConfig, base, shotsEnv string) (*stackRun, *browser) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the whole stack and a browser")
	}
	chromium := requireBinary(t, "chromium", "apt-get install -y chromium")
	s := startStack(t, cfg)
	shots := os.Getenv(shotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	return s, newBrowser(t, chromium, s.Gateway+base, shots)
}

func newBrowser(t *testing.T, chromium, base, shots string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first call starts the browser, bound to ctx (no timeout).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	return b
}

// step runs one action within stepTimeout, failing the test on an error.
func step[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.locationOrEmpty())
	}
	return v
}

// do runs steps in order.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step(b, chromedp.Steps(steps...))
}

// open loads a path under base and waits for its heading.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// signIn signs in to the portal (base) with token (stackRun.token) through
// its token form.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.open("/login")
	b.do(chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/logout"]`)))
}

// signOut presses Sign out.
func (b *browser) signOut() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`form[action$="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("token")))
}

func (b *browser) location() string {
	b.t.Helper()
	return step(b, chromedp.Location())
}

func (b *browser) locationOrEmpty() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(step(b, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) html(sel string) string {
	b.t.Helper()
	return step(b, chromedp.OuterHTML(chromedp.CSS(sel)))
}

// count is how many elements sel matches now.
func (b *browser) count(sel string) int {
	b.t.Helper()
	return len(step(b, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0))))
}

// shot saves the page as name-phone.png (and, with desktop, as
// name-desktop.png): the top of the page, as much as the viewport holds.
func (b *browser) shot(name string, desktop bool) { b.shotAt(name, "", desktop) }

// shotAt is shot scrolled to the element sel ("" for the top).
func (b *browser) shotAt(name, sel string, desktop bool) { b.capture(name, sel, false, desktop) }

// shotFrom is shot scrolled so that the element sel starts at the top of
// the viewport (shotAt only scrolls it into view).
func (b *browser) shotFrom(name, sel string, desktop bool) { b.capture(name, sel, true, desktop) }

func (b *browser) capture(name, sel string, top, desktop bool) {
	b.t.Helper()
	save := func(suffix string, w, h int64) {
		steps := []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(w, h)}
		if sel != "" {
			steps = append(steps, chromedp.ScrollIntoView(chromedp.CSS(sel)))
		}
		b.do(steps...)
		if top {
			step(b, chromedp.Evaluate[bool](`(document.querySelector(`+strconv.Quote(sel)+`).scrollIntoView({block: "start"}), true)`))
		}
		b.do(chromedp.Sleep(100 * time.Millisecond))
		png, err := shrinkPNG(step(b, chromedp.CaptureScreenshot()))
		require.NoError(b.t, err)
		path := filepath.Join(b.shots, name+"-"+suffix+".png")
		require.NoError(b.t, os.WriteFile(path, png, 0o644))
		b.t.Logf("screenshot %s (%d KB)", path, len(png)/1024)
	}
	save("phone", phoneWidth, phoneHeight)
	if desktop {
		save("desktop", desktopWidth, desktopHeight)
	}
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
}

// shrinkPNG re-encodes a screenshot with a palette of its 256 most frequent
// colours (a page's text and boxes use far fewer; the rare anti-aliasing
// shades go to their nearest) at the best compression: the same picture in
// about a third of the bytes, so that docs/portal stays small.
func shrinkPNG(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	count := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colors := slices.SortedFunc(maps.Keys(count), func(a, b color.RGBA) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		return cmp.Compare(uint32(a.R)<<24|uint32(a.G)<<16|uint32(a.B)<<8|uint32(a.A), uint32(b.R)<<24|uint32(b.G)<<16|uint32(b.B)<<8|uint32(b.A))
	})
	palette := make(color.Palette, 0, 256)
	for _, c := range colors[:min(len(colors), 256)] {
		palette = append(palette, c)
	}
	out := image.NewPaletted(r, palette)
	index := map[color.RGBA]uint8{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(palette.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
