package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// EnvBrowser is set by make test, which installs Debian's chromium: the
// browser test then runs and fails without a browser, instead of skipping.
const EnvBrowser = "FALCON_BROWSER"

// browser starts a headless Chromium for the test, or skips it when none is
// installed and make test did not ask for it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv(EnvBrowser)
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Skip("no chromium (make test installs it)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// This machine's network is closed: Chromium must not try to reach
		// Google's services at start.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1100, 700),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser, for as long as ctx lives: no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium at %s: %v", path, err)
	}
	return ctx
}

// page opens the chat page as account in a tab of its own.
func page(browserCtx context.Context, t *testing.T, base, account string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, for as long as ctx lives
		t.Fatal(err)
	}
	run(ctx, t, "open the page as "+account,
		chromedp.Navigate(base+"/?account="+account),
		waitText("#status", "live as "+account))
	return ctx
}

func run(ctx context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return waitUntil(`(() => { const e = document.querySelector(` + quoteJS(sel) + `); return !!e && e.textContent.includes(` + quoteJS(want) + `); })()`)
}

// waitNoText waits until the element's text does not contain gone.
func waitNoText(sel, gone string) chromedp.Action[chromedp.Void] {
	return waitUntil(`(() => { const e = document.querySelector(` + quoteJS(sel) + `); return !!e && !e.textContent.includes(` + quoteJS(gone) + `); })()`)
}

// waitUntil polls a JavaScript expression until it is true.
func waitUntil(expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

func sendKeys(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

func quoteJS(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func screenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestChatInTwoBrowsers: alice creates a thread with bob in one page; bob's
// page, open in another, lists it and shows alice's message without a
// reload; bob's reply appears in alice's page the same way, and alice's
// edit and deletion in bob's. Screenshots go to the test's artifacts (go
// test -artifacts; make test keeps them in .falcon/artifacts).
func TestChatInTwoBrowsers(t *testing.T) {
	testenv.SkipIfReal(t, "falcon dev embeds kfake and Pebble by design")
	if testing.Short() {
		t.Skip("builds and runs the falcon binary and a browser")
	}
	b := browser(t)
	p := startDev(t, buildFalcon(t), t.TempDir())
	alice := page(b, t, p.base, "alice")
	bob := page(b, t, p.base, "bob")

	run(alice, t, "alice creates a thread with bob",
		sendKeys("#new-title", "Launch plan"),
		sendKeys("#new-members", "bob"),
		click("#create"),
		waitText("#thread-title", "Launch plan"))
	run(bob, t, "bob's list shows the thread, and bob opens it",
		waitText("#threads", "Launch plan"),
		click("#threads li button"),
		waitText("#thread-title", "Launch plan"))
	run(alice, t, "alice posts",
		sendKeys("#body", "Shall we ship on Friday?"),
		click("#post"),
		waitText("#messages", "Shall we ship on Friday?"))
	run(bob, t, "bob sees alice's message live and replies",
		waitText("#messages", "Shall we ship on Friday?"),
		sendKeys("#body", "Friday works for me"),
		click("#post"))
	run(alice, t, "alice sees bob's reply live",
		waitText("#messages", "Friday works for me"))
	screenshot(alice, t, "alice")
	screenshot(bob, t, "bob")

	run(alice, t, "alice edits her message",
		click(`.message[data-sender="alice"] .edit`),
		chromedp.SetValue(chromedp.CSS("#body"), "Shall we ship on Thursday?"),
		click("#post"),
		waitText("#messages", "Thursday"))
	run(bob, t, "bob sees the edit live", waitText("#messages", "Shall we ship on Thursday?"))
	run(alice, t, "alice deletes it", click(`.message[data-sender="alice"] .delete`))
	run(bob, t, "bob sees it go", waitNoText("#messages", "Thursday"), waitText("#messages", "Friday works for me"))
}
