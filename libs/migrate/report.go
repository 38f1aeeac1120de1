package migrate

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report's summary table and its first mismatches
// for a terminal.
func (r VerifyReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "verify\t%s\t(%s)\n", verdict(r), r.Took.Round(time.Millisecond))
	for _, row := range r.summary() {
		fmt.Fprintf(tw, "%s\t%d\n", row.Name, row.Value)
	}
	for _, f := range r.fields() {
		fmt.Fprintf(tw, "  mismatched %s\t%d\n", f.Name, f.Value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Samples) > 0 {
		fmt.Fprintln(w, "\nfirst mismatches (room, message, account, field: legacy | falcon):")
		for _, m := range r.Samples[:min(len(r.Samples), 20)] {
			fmt.Fprintf(w, "  room %d message %d account %d %s: %q | %q\n", m.Room, m.Message, m.Account, m.Field, short(m.Legacy), short(m.Falcon))
		}
	}
	return nil
}

// WriteJSON writes the whole report as JSON.
func (r VerifyReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHTML writes the report as a page people read: the summary table,
// mismatches by field, and the mismatches listed.
func (r VerifyReport) WriteHTML(w io.Writer) error {
	return page.Execute(w, struct {
		VerifyReport
		Verdict string
		Summary []row
		Fields  []row
	}{r, verdict(r), r.summary(), r.fields()})
}

type row struct {
	Name  string
	Value int64
}

func (r VerifyReport) summary() []row {
	return []row{
		{"rooms compared", r.Rooms},
		{"members compared", r.Members},
		{"messages compared", r.Messages},
		{"mismatches", r.Mismatches},
		{"deleted rooms (not imported, as documented)", r.DeletedRooms},
		{"messages of missing rooms (not imported, as documented)", r.Orphans},
		{"texts transformed (as documented)", r.Transformed},
		{"replies to missing messages (link dropped, as documented)", r.RepliesDropped},
	}
}

func (r VerifyReport) fields() []row {
	out := make([]row, 0, len(r.ByField))
	for f, n := range r.ByField {
		out = append(out, row{f, n})
	}
	slices.SortFunc(out, func(a, b row) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func verdict(r VerifyReport) string {
	if r.Mismatches == 0 {
		return "legacy and Falcon agree"
	}
	return fmt.Sprintf("%d mismatches", r.Mismatches)
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Falcon migration: verify</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#176c2c}.bad{color:#a31515}
td.t{font-family:monospace;max-width:28rem;overflow-wrap:anywhere}
</style></head><body>
<h1>Legacy and Falcon, compared</h1>
<p class="{{if eq .Mismatches 0}}ok{{else}}bad{{end}}"><strong>{{.Verdict}}</strong>, started {{.Started.Format "2006-01-02 15:04:05 UTC"}}, took {{.Took}}.</p>
<table><tr><th>what</th><th>count</th></tr>
{{range .Summary}}<tr><td>{{.Name}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table>
{{if .Fields}}<h2>Mismatches by field</h2>
<table><tr><th>field</th><th>mismatches</th></tr>
{{range .Fields}}<tr><td>{{.Name}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table>{{end}}
{{if .Samples}}<h2>Mismatches{{if lt (len .Samples) .Mismatches}} (the first {{len .Samples}}){{end}}</h2>
<table><tr><th>room</th><th>message</th><th>account</th><th>field</th><th>legacy</th><th>Falcon</th></tr>
{{range .Samples}}<tr><td class="n">{{.Room}}</td><td class="n">{{if .Message}}{{.Message}}{{end}}</td><td class="n">{{if .Account}}{{.Account}}{{end}}</td><td>{{.Field}}</td><td class="t">{{.Legacy}}</td><td class="t">{{.Falcon}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))
