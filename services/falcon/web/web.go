// Package web is falcon dev's chat page: plain HTML and JavaScript, no
// build step, embedded in the binary. It talks to the REST API like any
// client, with the dev identity, and sees new events through EventSource.
package web

import (
	"context"
	"embed"
	"net/http"
)

//go:embed index.html app.js app.css
var files embed.FS

// Client serves the page at / and its files under /web/.
type Client struct{}

// Run has nothing to do but wait: the page is static.
func (Client) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Pages adds the page to the public listener's mux.
func (Client) Pages(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.Handle("GET /web/", http.StripPrefix("/web/", http.FileServerFS(files)))
}
