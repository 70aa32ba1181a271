// SPDX-License-Identifier: Apache-2.0
//
// The reference peer for bench/run: a containerd/ttrpc server (Debian's
// golang-github-containerd-ttrpc-dev) that answers grpc.Health/Check with
// SERVING and grpc.Health/Version, on the same wire as our agent, so the
// same C client measures both. For bench/stdio it also answers
// grpc.AgentService/ReadStdout with len zero bytes from memory (at most
// 4 MiB), so that a client's ReadStdout round trip can be measured with no
// stdio path behind it.
//
//	go-server /path/to/socket
//
// Messages: messages.go (built with it: go build server.go messages.go).
//
// It removes its socket and exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/ttrpc"
)

var zeros = make([]byte, 4<<20)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s SOCKET_PATH\n", os.Args[0])
		os.Exit(2)
	}
	path := os.Args[1]
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.Register("grpc.Health", map[string]ttrpc.Method{
		"Check": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req CheckRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &HealthCheckResponse{Status: 1}, nil
		},
		"Version": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req CheckRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &VersionCheckResponse{GrpcVersion: "0.0.1", AgentVersion: "go-peer"}, nil
		},
	})
	s.Register("grpc.AgentService", map[string]ttrpc.Method{
		"ReadStdout": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req ReadStreamRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			n := int(req.Len)
			if n > len(zeros) {
				n = len(zeros)
			}
			return &ReadStreamResponse{Data: zeros[:n]}, nil
		},
	})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		s.Close()
		os.Remove(path)
		os.Exit(0)
	}()
	if err := s.Serve(context.Background(), l); err != nil && err != ttrpc.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Remove(path)
		os.Exit(1)
	}
}
