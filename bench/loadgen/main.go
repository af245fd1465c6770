// Command loadgen is the MQTT load generator of Fieldline's benchmark suite. It runs in its own
// process so the broker being measured (the gateway, Mosquitto or plain aedes) never shares its event
// loop or its garbage collector with the load.
//
// Each client is one device publishing QoS 1 JSON readings to devices/{id}/telemetry and keeping up to
// -window PUBLISHes waiting for their PUBACK; with -rate the clients together offer that many readings
// per second instead of as many as the window allows. Seqs are per device and start at 1, so a reader
// of the stored rows can check that every acknowledged message arrived. The report is one JSON object
// on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

type options struct {
	url      string
	clients  int
	window   int
	metrics  int
	prefix   string
	warmup   time.Duration
	measure  time.Duration
	rate     float64
	drainMax time.Duration
}

// sample is one PUBACK: when it came (since the start) and how long after its PUBLISH.
type sample struct {
	at      time.Duration
	latency time.Duration
}

type device struct {
	DeviceID  string `json:"deviceId"`
	Published int64  `json:"published"`
	Acked     int64  `json:"acked"`
	// Every seq from 1 to LastSeq was published; when Failures is 0 each was PUBACKed.
	LastSeq  int64 `json:"lastSeq"`
	Failures int64 `json:"failures"`
}

type second struct {
	T     int     `json:"t"`
	Acks  int     `json:"acks"`
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

type latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type report struct {
	ReadingsPerMessage int      `json:"readingsPerMessage"`
	Clients            int      `json:"clients"`
	Window             int      `json:"window"`
	OfferedRate        float64  `json:"offeredReadingsPerSecond"`
	WarmupSeconds      float64  `json:"warmupSeconds"`
	MeasuredSeconds    float64  `json:"measuredSeconds"`
	MeasuredAcks       int      `json:"measuredAcks"`
	MessagesPerSecond  float64  `json:"messagesPerSecond"`
	ReadingsPerSecond  float64  `json:"readingsPerSecond"`
	TotalAcks          int64    `json:"totalAcks"`
	Failures           int64    `json:"failures"`
	FirstFailure       *string  `json:"firstFailure"`
	LatencyMs          latency  `json:"latencyMs"`
	Timeline           []second `json:"timeline"`
	Devices            []device `json:"devices"`
	// Time the load generator itself used, so a reader can see what the load cost the shared CPUs.
	LoadCPUSeconds float64 `json:"loadCpuSeconds"`
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "tcp://127.0.0.1:1883", "broker URL")
	flag.IntVar(&o.clients, "clients", 8, "connections, one device each")
	flag.IntVar(&o.window, "window", 100, "QoS 1 PUBLISHes in flight per client")
	flag.IntVar(&o.metrics, "metrics", 3, "readings per message: seq, temperature, humidity, then m3…")
	flag.StringVar(&o.prefix, "prefix", "load-", "device id prefix; client i is <prefix><i>")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "time before the measured window")
	flag.DurationVar(&o.measure, "seconds", 10*time.Second, "measured window")
	flag.Float64Var(&o.rate, "rate", 0, "readings per second offered by all clients together; 0: as fast as the window allows")
	flag.DurationVar(&o.drainMax, "drain", 60*time.Second, "longest wait for the last PUBACKs after the window")
	flag.Parse()
	if o.clients < 1 || o.window < 1 || o.metrics < 1 || o.measure <= 0 || o.rate < 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -clients, -window, -metrics and -seconds must be positive and -rate not negative")
		os.Exit(2)
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// payload is the same message bench/mqtt-load.ts sends: ts, then seq, temperature and humidity
// inside the gateway's default ranges, then plain extra metrics.
func payload(buf []byte, seq int64, metrics int, ts int64) []byte {
	buf = append(buf[:0], `{"ts":`...)
	buf = strconv.AppendInt(buf, ts, 10)
	buf = append(buf, `,"metrics":{"seq":`...)
	buf = strconv.AppendInt(buf, seq, 10)
	if metrics >= 2 {
		buf = append(buf, `,"temperature":`...)
		buf = strconv.AppendInt(buf, 20+seq%10, 10)
	}
	if metrics >= 3 {
		buf = append(buf, `,"humidity":`...)
		buf = strconv.AppendInt(buf, 40+seq%20, 10)
	}
	for i := 3; i < metrics; i++ {
		buf = append(buf, `,"m`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `":`...)
		buf = strconv.AppendInt(buf, seq%1000, 10)
	}
	return append(buf, "}}"...)
}

func run(o options) (*report, error) {
	clients := make([]mqtt.Client, o.clients)
	var firstFailure atomic.Pointer[string]
	fail := func(err error) {
		msg := err.Error()
		firstFailure.CompareAndSwap(nil, &msg)
	}
	for i := range clients {
		opts := mqtt.NewClientOptions().
			AddBroker(o.url).
			SetClientID(o.prefix + strconv.Itoa(i)).
			SetCleanSession(true).
			// A dropped connection must show as failures, never as silently resent messages.
			SetAutoReconnect(false).
			SetConnectRetry(false).
			SetOrderMatters(false).
			SetKeepAlive(60 * time.Second).
			SetConnectTimeout(30 * time.Second).
			SetConnectionLostHandler(func(_ mqtt.Client, err error) { fail(fmt.Errorf("connection lost: %w", err)) })
		c := mqtt.NewClient(opts)
		if t := c.Connect(); !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			for _, done := range clients[:i] {
				done.Disconnect(0)
			}
			if t.Error() != nil {
				return nil, fmt.Errorf("connect %s%d to %s: %w", o.prefix, i, o.url, t.Error())
			}
			return nil, fmt.Errorf("connect %s%d to %s: no CONNACK in 30 s", o.prefix, i, o.url)
		}
		clients[i] = c
	}

	var stopping atomic.Bool
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-interrupted
		stopping.Store(true)
	}()

	start := time.Now()
	windowStart := o.warmup
	windowEnd := o.warmup + o.measure
	perClientMessages := o.rate / float64(o.metrics) / float64(o.clients)
	devices := make([]device, o.clients)
	samples := make([][]sample, o.clients)
	var totalAcks, failures atomic.Int64
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func(i int, c mqtt.Client) {
			defer wg.Done()
			d := &devices[i]
			d.DeviceID = o.prefix + strconv.Itoa(i)
			topic := "devices/" + d.DeviceID + "/telemetry"
			slots := make(chan struct{}, o.window)
			var mu sync.Mutex
			var inflight sync.WaitGroup
			var seq int64
			buf := make([]byte, 0, 256)
			for !stopping.Load() {
				elapsed := time.Since(start)
				if elapsed >= windowEnd {
					break
				}
				if perClientMessages > 0 {
					// Paced: the seq this client may have reached by now; sleep until the next one is due.
					allowed := int64(elapsed.Seconds() * perClientMessages)
					if seq >= allowed {
						due := time.Duration(float64(seq+1) / perClientMessages * float64(time.Second))
						time.Sleep(min(due-elapsed, 10*time.Millisecond))
						continue
					}
				}
				slots <- struct{}{}
				seq++
				n := seq
				sentAt := time.Since(start)
				body := payload(buf, n, o.metrics, time.Now().UnixMilli())
				t := c.Publish(topic, 1, false, append([]byte(nil), body...))
				d.Published++
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					ok := t.WaitTimeout(o.drainMax + o.measure)
					at := time.Since(start)
					<-slots
					mu.Lock()
					defer mu.Unlock()
					if !ok || t.Error() != nil {
						d.Failures++
						failures.Add(1)
						if t.Error() != nil {
							fail(t.Error())
						} else {
							fail(fmt.Errorf("no PUBACK for seq %d of %s", n, d.DeviceID))
						}
						return
					}
					d.Acked++
					totalAcks.Add(1)
					samples[i] = append(samples[i], sample{at: at, latency: at - sentAt})
				}()
			}
			inflight.Wait()
			d.LastSeq = seq
		}(i, c)
	}
	wg.Wait()
	for _, c := range clients {
		c.Disconnect(250)
	}

	r := &report{
		ReadingsPerMessage: o.metrics,
		Clients:            o.clients,
		Window:             o.window,
		OfferedRate:        o.rate,
		WarmupSeconds:      o.warmup.Seconds(),
		MeasuredSeconds:    o.measure.Seconds(),
		TotalAcks:          totalAcks.Load(),
		Failures:           failures.Load(),
		FirstFailure:       firstFailure.Load(),
		Devices:            devices,
	}
	var window []float64
	bySecond := map[int][]float64{}
	for _, s := range samples {
		for _, x := range s {
			ms := float64(x.latency.Microseconds()) / 1000
			sec := int(x.at / time.Second)
			bySecond[sec] = append(bySecond[sec], ms)
			if x.at >= windowStart && x.at < windowEnd {
				window = append(window, ms)
			}
		}
	}
	r.MeasuredAcks = len(window)
	r.MessagesPerSecond = round1(float64(len(window)) / o.measure.Seconds())
	r.ReadingsPerSecond = round1(r.MessagesPerSecond * float64(o.metrics))
	sort.Float64s(window)
	r.LatencyMs = latency{P50: pct(window, 0.5), P90: pct(window, 0.9), P99: pct(window, 0.99)}
	if len(window) > 0 {
		r.LatencyMs.Max = round2(window[len(window)-1])
	}
	secs := make([]int, 0, len(bySecond))
	for s := range bySecond {
		secs = append(secs, s)
	}
	sort.Ints(secs)
	for _, s := range secs {
		l := bySecond[s]
		sort.Float64s(l)
		r.Timeline = append(r.Timeline, second{T: s, Acks: len(l), P50Ms: pct(l, 0.5), P99Ms: pct(l, 0.99)})
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.LoadCPUSeconds = round1(float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9)
	}
	return r, nil
}

// pct is the nearest-rank percentile of sorted values, the same rule as bench/percentile.ts.
func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(math.Round(q*float64(len(sorted))*1e9) / 1e9))
	rank = max(1, min(len(sorted), rank))
	return round2(sorted[rank-1])
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
