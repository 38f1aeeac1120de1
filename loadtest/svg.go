package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	name   string
	color  string
	points [][2]float64
}

// chart is a line chart drawn as SVG, with axes, ticks and a legend; logX
// spaces the x axis logarithmically (percentile plots).
type chart struct {
	title, xLabel, yLabel string
	logX, logY            bool
	xTicks                []float64 // where the x ticks go (nil: five even ones)
	xTickLabel            func(float64) string
	lines                 []series
}

const (
	chartW, chartH = 720, 320
	padL, padR     = 70, 150
	padT, padB     = 36, 46
)

// svg draws the chart; an empty one says so.
func (c chart) svg() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`, padL, html.EscapeString(c.title))
	x0, x1, y1 := math.Inf(1), math.Inf(-1), 0.0
	for _, l := range c.lines {
		for _, p := range l.points {
			x := c.x(p[0])
			x0, x1, y1 = math.Min(x0, x), math.Max(x1, x), math.Max(y1, p[1])
		}
	}
	if math.IsInf(x0, 0) {
		b.WriteString(`<text x="70" y="160">no data</text></svg>`)
		return b.String()
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	w, h := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return padL + (c.x(x)-x0)/(x1-x0)*w }
	var py func(float64) float64
	var yTicks []float64
	if c.logY {
		// Decades from below the smallest value to above the largest.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, l := range c.lines {
			for _, p := range l.points {
				v := math.Log10(math.Max(p[1], 0.001))
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		lo, hi = math.Floor(lo), math.Max(math.Ceil(hi), math.Floor(lo)+1)
		py = func(y float64) float64 { return padT + h - (math.Log10(math.Max(y, 0.001))-lo)/(hi-lo)*h }
		for d := lo; d <= hi; d++ {
			yTicks = append(yTicks, math.Pow(10, d))
		}
	} else {
		y1 = niceCeil(y1)
		py = func(y float64) float64 { return padT + h - y/y1*h }
		for i := 0; i <= 4; i++ {
			yTicks = append(yTicks, y1*float64(i)/4)
		}
	}
	// Axes and ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, padL, padT, padL, chartH-padB)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	for _, y := range yTicks {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, py(y), chartW-padR, py(y), padL-6, py(y)+4, tickLabel(y))
	}
	ticks := c.xTicks
	if ticks == nil {
		for i := 0; i <= 4; i++ {
			ticks = append(ticks, c.unx(x0+(x1-x0)*float64(i)/4))
		}
	}
	label := c.xTickLabel
	if label == nil {
		label = tickLabel
	}
	for _, t := range ticks {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(t), chartH-padB+16, html.EscapeString(label(t)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, padL+int(w)/2, chartH-8, html.EscapeString(c.xLabel))
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>`, padT+int(h)/2, padT+int(h)/2, html.EscapeString(c.yLabel))
	// Lines and legend.
	for i, l := range c.lines {
		var pts []string
		for _, p := range l.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, l.color, strings.Join(pts, " "))
		if len(l.points) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="3" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), l.color)
		}
		ly := padT + 10 + i*18
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`,
			chartW-padR+12, ly, chartW-padR+30, ly, l.color, chartW-padR+36, ly+4, html.EscapeString(l.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func (c chart) x(v float64) float64 {
	if c.logX {
		return math.Log10(v)
	}
	return v
}

func (c chart) unx(v float64) float64 {
	if c.logX {
		return math.Pow(10, v)
	}
	return v
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e4:
		return fmt.Sprintf("%gK", math.Round(v/1e2)/10)
	case v == math.Trunc(v) || v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
