// SPDX-License-Identifier: Apache-2.0
//
// The Kata shim's stdout path, reproduced with the same client library, for
// bench/stdio: a containerd/ttrpc client (Debian's
// golang-github-containerd-ttrpc-dev) that runs one container on one
// connection and reads its output as containerd-shim-kata-v2 does, with a
// grpc.Health/Check loop on the same connection before and after, so that
// the cost of a ReadStdout round trip can be set against the cost of the
// RPC itself in the same run.
//
//	go-stdio -sock SOCKET -req REQUEST_FILE -id ID [-len 32768] [-depth 1] [-health 5000]
//	go-stdio -sock SOCKET -bytes N [-len ...] [-depth ...] [-health ...]
//
// REQUEST_FILE holds a packed CreateContainerRequest for container ID
// (bench/ctr_bench pack). The run:
//  1. HEALTH_CALLS sequential grpc.Health/Check calls;
//  2. CreateContainer (the packed bytes), StartContainer;
//  3. as the shim's ioCopy (src/runtime/pkg/containerd-shim-v2/stream.go):
//     one goroutine per stream, each io.CopyBuffer with a 32 KiB buffer
//     (bufSize = 32 << 10) over an iostream whose Read is
//     kataAgent.readProcessStream (src/runtime/virtcontainers/kata_agent.go):
//     ReadStdout/ReadStderr {container_id, exec_id = the container id (the
//     init's token is CreateContainer's exec_id, buildProcessFromExecID),
//     len = len(buffer)}, no deadline (k.ctx), copy(data, resp.Data); an
//     empty answer is EOF. LEN replaces the 32 KiB and DEPTH > 1 runs that
//     many stdout readers at once (the pattern of bench/containers' C
//     client, which the shim does not use);
//  4. WaitProcess once both streams ended (the shim waits after ioCopy),
//     RemoveContainer;
//  5. HEALTH_CALLS grpc.Health/Check calls again.
//
// Without -req there is no container: the ReadStdout calls go on until N
// bytes came, against go-server (server.go), which answers them from
// memory (the cost of moving the bytes through ttRPC alone, no stdio path
// behind).
//
// Output, one line each: "health before: ...", "stream: ...", "health
// after: ...", key=value pairs (times in microseconds). The stream's time
// runs from StartContainer's answer to the first empty stdout answer. The
// exit status is non-zero on any failed call.
//
// Messages: messages.go (built with it: go build stdio_client.go
// messages.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const agentService = "grpc.AgentService"

var client *ttrpc.Client

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-stdio: "+format+"\n", args...)
	os.Exit(1)
}

func call(method string, req, resp interface{}) error {
	return client.Call(context.Background(), agentService, method, req, resp)
}

// stats: mean, median and p90 of durations, in microseconds.
func stats(d []time.Duration) (mean, p50, p90 float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	us := func(v time.Duration) float64 { return float64(v) / 1e3 }
	r90 := (9*len(s)+9)/10 - 1
	return us(sum) / float64(len(s)), us(s[len(s)/2]), us(s[r90])
}

func healthLoop(label string, n int) {
	lat := make([]time.Duration, 0, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		var resp HealthCheckResponse
		t := time.Now()
		if err := client.Call(context.Background(), "grpc.Health", "Check", &CheckRequest{}, &resp); err != nil {
			die("Health/Check: %v", err)
		}
		lat = append(lat, time.Since(t))
	}
	secs := time.Since(t0).Seconds()
	mean, p50, p90 := stats(lat)
	fmt.Printf("health %s: calls=%d calls_per_s=%.0f mean_us=%.1f p50_us=%.1f p90_us=%.1f\n",
		label, n, float64(n)/secs, mean, p50, p90)
}

// iostream.Read of virtcontainers, with kataAgent.readProcessStream inside.
type stream struct {
	method, id string
	lat        []time.Duration
}

func (s *stream) Read(data []byte) (int, error) {
	var resp ReadStreamResponse
	t := time.Now()
	err := call(s.method, &ReadStreamRequest{ContainerId: s.id, ExecId: s.id, Len: uint32(len(data))}, &resp)
	s.lat = append(s.lat, time.Since(t))
	if err != nil {
		return 0, err
	}
	if len(resp.Data) == 0 {
		return 0, errEOF
	}
	return copy(data, resp.Data), nil
}

type eofError struct{}

func (eofError) Error() string { return "EOF" }

var errEOF = eofError{}

// copyOut is io.CopyBuffer(dst, src, buf) with a dst that discards (the
// shim writes into containerd's FIFO): read, count, repeat until EOF.
func copyOut(s *stream, size int, limit int64) (int64, error) {
	buf := make([]byte, size)
	var n int64
	for limit == 0 || n < limit {
		k, err := s.Read(buf)
		n += int64(k)
		if err == errEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func report(secs float64, size, depth int, total, errBytes int64, lat []time.Duration) {
	mean, p50, p90 := stats(lat)
	// Every call but the final empty one per reader carried data.
	answers := len(lat)
	if errBytes >= 0 {
		answers -= depth
	}
	avg := int64(0)
	if answers > 0 {
		avg = total / int64(answers)
	}
	fmt.Printf("stream: len=%d depth=%d bytes=%d stderr_bytes=%d seconds=%.3f mb_per_s=%.1f reads=%d avg_answer=%d rt_mean_us=%.1f rt_p50_us=%.1f rt_p90_us=%.1f\n",
		size, depth, total, errBytes, secs, float64(total)/1e6/secs, len(lat), avg, mean, p50, p90)
}

// memoryRun: the same loops against a server answering from memory;
// stderr_bytes=-1 says there was no stderr reader.
func memoryRun(size, depth, nhealth int, limit int64) {
	healthLoop("before", nhealth)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var lat []time.Duration
	t0 := time.Now()
	for i := 0; i < depth; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &stream{method: "ReadStdout", id: "memory"}
			n, err := copyOut(s, size, limit/int64(depth))
			if err != nil {
				die("ReadStdout: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			total += n
			lat = append(lat, s.lat...)
		}()
	}
	wg.Wait()
	report(time.Since(t0).Seconds(), size, depth, total, -1, lat)
	healthLoop("after", nhealth)
}

func main() {
	sock := flag.String("sock", "", "the agent's unix socket")
	reqFile := flag.String("req", "", "packed CreateContainerRequest; none: read from memory")
	idFlag := flag.String("id", "", "container id of the request")
	size := flag.Int("len", 32<<10, "ReadStdout len (the shim's bufSize)")
	depth := flag.Int("depth", 1, "stdout reads in flight")
	nhealth := flag.Int("health", 5000, "Health/Check calls before and after")
	limit := flag.Int64("bytes", 0, "without -req: stop after this many bytes")
	flag.Parse()
	id := *idFlag
	if *sock == "" || *size < 1 || *depth < 1 || *nhealth < 1 ||
		(*reqFile == "") == (*limit <= 0) || (*reqFile != "") != (id != "") {
		fmt.Fprintf(os.Stderr, "usage: %s -sock SOCKET (-req FILE -id ID | -bytes N) [-len N] [-depth N] [-health N]\n", os.Args[0])
		os.Exit(2)
	}
	var packed []byte
	if *reqFile != "" {
		var err error
		if packed, err = os.ReadFile(*reqFile); err != nil {
			die("%v", err)
		}
	}
	conn, err := net.DialTimeout("unix", *sock, 5*time.Second)
	if err != nil {
		die("connect: %v", err)
	}
	client = ttrpc.NewClient(conn)
	defer client.Close()

	if packed == nil {
		memoryRun(*size, *depth, *nhealth, *limit)
		return
	}
	if err := call("CreateSandbox", &Empty{}, &Empty{}); err != nil {
		if st, ok := status.FromError(err); !ok || st.Code() != codes.AlreadyExists {
			die("CreateSandbox: %v", err)
		}
	}
	healthLoop("before", *nhealth)

	if err := call("CreateContainer", &rawMsg{packed}, &Empty{}); err != nil {
		die("CreateContainer: %v", err)
	}
	if err := call("StartContainer", &ContainerRequest{ContainerId: id}, &Empty{}); err != nil {
		die("StartContainer: %v", err)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var t1 time.Time
	var total int64
	var lat []time.Duration
	failed := false
	for i := 0; i < *depth; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &stream{method: "ReadStdout", id: id}
			n, err := copyOut(s, *size, 0)
			mu.Lock()
			defer mu.Unlock()
			if t1.IsZero() {
				t1 = time.Now()
			}
			total += n
			lat = append(lat, s.lat...)
			if err != nil {
				fmt.Fprintf(os.Stderr, "go-stdio: ReadStdout: %v\n", err)
				failed = true
			}
		}()
	}
	errBytes := int64(0)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := &stream{method: "ReadStderr", id: id}
		n, err := copyOut(s, *size, 0)
		mu.Lock()
		defer mu.Unlock()
		errBytes = n
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-stdio: ReadStderr: %v\n", err)
			failed = true
		}
	}()
	wg.Wait()
	var wr WaitProcessResponse
	if err := call("WaitProcess", &WaitProcessRequest{ContainerId: id, ExecId: id}, &wr); err != nil {
		fmt.Fprintf(os.Stderr, "go-stdio: WaitProcess: %v\n", err)
		failed = true
	} else if wr.Status != 0 {
		fmt.Fprintf(os.Stderr, "go-stdio: the container exited with status %d\n", wr.Status)
		failed = true
	}
	if err := call("RemoveContainer", &RemoveContainerRequest{ContainerId: id}, &Empty{}); err != nil {
		fmt.Fprintf(os.Stderr, "go-stdio: RemoveContainer: %v\n", err)
		failed = true
	}
	report(t1.Sub(t0).Seconds(), *size, *depth, total, errBytes, lat)
	healthLoop("after", *nhealth)
	if failed {
		os.Exit(1)
	}
}
