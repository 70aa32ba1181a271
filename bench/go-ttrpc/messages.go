// SPDX-License-Identifier: Apache-2.0
//
// The messages bench/go-ttrpc's programs exchange with the agent, declared by
// hand with gogo/protobuf struct tags (no protoc-gen-gogo offline), as
// tests/interop/client.go does; field numbers from protos/health.proto and
// protos/agent.proto. Built with each program:
//
//	go build -o go-server server.go messages.go
//	go build -o go-stdio stdio_client.go messages.go
//
// The runtime's generated code marshals through generated methods instead
// of reflection: a few microseconds per call, paid alike by every call here.
package main

import (
	"fmt"

	"github.com/gogo/protobuf/proto"
)

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

type ContainerRequest struct { // StartContainerRequest
	ContainerId string `protobuf:"bytes,1,opt,name=container_id,proto3"`
}

func (m *ContainerRequest) Reset()         { *m = ContainerRequest{} }
func (m *ContainerRequest) String() string { return proto.CompactTextString(m) }
func (*ContainerRequest) ProtoMessage()    {}

type RemoveContainerRequest struct {
	ContainerId string `protobuf:"bytes,1,opt,name=container_id,proto3"`
	Timeout     uint32 `protobuf:"varint,2,opt,name=timeout,proto3"`
}

func (m *RemoveContainerRequest) Reset()         { *m = RemoveContainerRequest{} }
func (m *RemoveContainerRequest) String() string { return proto.CompactTextString(m) }
func (*RemoveContainerRequest) ProtoMessage()    {}

type WaitProcessRequest struct {
	ContainerId string `protobuf:"bytes,1,opt,name=container_id,proto3"`
	ExecId      string `protobuf:"bytes,2,opt,name=exec_id,proto3"`
}

func (m *WaitProcessRequest) Reset()         { *m = WaitProcessRequest{} }
func (m *WaitProcessRequest) String() string { return proto.CompactTextString(m) }
func (*WaitProcessRequest) ProtoMessage()    {}

type WaitProcessResponse struct {
	Status int32 `protobuf:"varint,1,opt,name=status,proto3"`
}

func (m *WaitProcessResponse) Reset()         { *m = WaitProcessResponse{} }
func (m *WaitProcessResponse) String() string { return proto.CompactTextString(m) }
func (*WaitProcessResponse) ProtoMessage()    {}

// Empty: CreateSandboxRequest with no field set, and any ignored answer.
type Empty struct{}

func (m *Empty) Reset()         { *m = Empty{} }
func (m *Empty) String() string { return "Empty" }
func (*Empty) ProtoMessage()    {}

// rawMsg sends bytes packed elsewhere: gogo's proto.Marshal uses a
// message's own Marshal method when it has one.
type rawMsg struct{ b []byte }

func (m *rawMsg) Reset()                   {}
func (m *rawMsg) String() string           { return fmt.Sprintf("raw(%d bytes)", len(m.b)) }
func (*rawMsg) ProtoMessage()              {}
func (m *rawMsg) Marshal() ([]byte, error) { return m.b, nil }
