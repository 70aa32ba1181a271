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
	"github.com/gogo/protobuf/proto"
)

// Hand-declared messages (no protoc-gen-go offline); field numbers from
// protos/health.proto.
type CheckRequest struct {
	Service string `protobuf:"bytes,1,opt,name=service,proto3"`
}

func (m *CheckRequest) Reset()         { *m = CheckRequest{} }
func (m *CheckRequest) String() string { return proto.CompactTextString(m) }
func (*CheckRequest) ProtoMessage()    {}

type HealthCheckResponse struct {
	Status int32 `protobuf:"varint,1,opt,name=status,proto3"`
}

func (m *HealthCheckResponse) Reset()         { *m = HealthCheckResponse{} }
func (m *HealthCheckResponse) String() string { return proto.CompactTextString(m) }
func (*HealthCheckResponse) ProtoMessage()    {}

type VersionCheckResponse struct {
	GrpcVersion  string `protobuf:"bytes,1,opt,name=grpc_version,proto3"`
	AgentVersion string `protobuf:"bytes,2,opt,name=agent_version,proto3"`
}

func (m *VersionCheckResponse) Reset()         { *m = VersionCheckResponse{} }
func (m *VersionCheckResponse) String() string { return proto.CompactTextString(m) }
func (*VersionCheckResponse) ProtoMessage()    {}

type ReadStreamRequest struct {
	ContainerId string `protobuf:"bytes,1,opt,name=container_id,proto3"`
	ExecId      string `protobuf:"bytes,2,opt,name=exec_id,proto3"`
	Len         uint32 `protobuf:"varint,3,opt,name=len,proto3"`
}

func (m *ReadStreamRequest) Reset()         { *m = ReadStreamRequest{} }
func (m *ReadStreamRequest) String() string { return proto.CompactTextString(m) }
func (*ReadStreamRequest) ProtoMessage()    {}

type ReadStreamResponse struct {
	Data []byte `protobuf:"bytes,1,opt,name=data,proto3"`
}

func (m *ReadStreamResponse) Reset()         { *m = ReadStreamResponse{} }
func (m *ReadStreamResponse) String() string { return "ReadStreamResponse" }
func (*ReadStreamResponse) ProtoMessage()    {}

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
