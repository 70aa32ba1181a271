// SPDX-License-Identifier: Apache-2.0
//
// Interoperability check: the reference ttRPC client (containerd/ttrpc, as
// Debian ships it) talks to our agent over a unix socket. Each check prints
// one TAP line; the exit status is non-zero if any check failed.
//
// There is no protoc-gen-go in Debian's offline toolchain, so the few
// messages used here are declared by hand with gogo/protobuf struct tags
// (the codec containerd/ttrpc 1.1 uses). Field numbers follow
// protos/health.proto and protos/agent.proto.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type CheckRequest struct {
	Service string `protobuf:"bytes,1,opt,name=service,proto3"`
}

func (m *CheckRequest) Reset()         { *m = CheckRequest{} }
func (m *CheckRequest) String() string { return proto.CompactTextString(m) }
func (*CheckRequest) ProtoMessage()    {}

const servingStatusServing = 1

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

type GuestDetailsRequest struct {
	MemBlockSize    bool `protobuf:"varint,1,opt,name=mem_block_size,proto3"`
	MemHotplugProbe bool `protobuf:"varint,2,opt,name=mem_hotplug_probe,proto3"`
}

func (m *GuestDetailsRequest) Reset()         { *m = GuestDetailsRequest{} }
func (m *GuestDetailsRequest) String() string { return proto.CompactTextString(m) }
func (*GuestDetailsRequest) ProtoMessage()    {}

type AgentDetails struct {
	Version         string   `protobuf:"bytes,1,opt,name=version,proto3"`
	InitDaemon      bool     `protobuf:"varint,2,opt,name=init_daemon,proto3"`
	DeviceHandlers  []string `protobuf:"bytes,3,rep,name=device_handlers,proto3"`
	StorageHandlers []string `protobuf:"bytes,4,rep,name=storage_handlers,proto3"`
	SupportsSeccomp bool     `protobuf:"varint,5,opt,name=supports_seccomp,proto3"`
	ExtraFeatures   []string `protobuf:"bytes,6,rep,name=extra_features,proto3"`
}

func (m *AgentDetails) Reset()         { *m = AgentDetails{} }
func (m *AgentDetails) String() string { return proto.CompactTextString(m) }
func (*AgentDetails) ProtoMessage()    {}

type GuestDetailsResponse struct {
	MemBlockSizeBytes      uint64        `protobuf:"varint,1,opt,name=mem_block_size_bytes,proto3"`
	AgentDetails           *AgentDetails `protobuf:"bytes,2,opt,name=agent_details,proto3"`
	SupportMemHotplugProbe bool          `protobuf:"varint,3,opt,name=support_mem_hotplug_probe,proto3"`
}

func (m *GuestDetailsResponse) Reset()         { *m = GuestDetailsResponse{} }
func (m *GuestDetailsResponse) String() string { return proto.CompactTextString(m) }
func (*GuestDetailsResponse) ProtoMessage()    {}

// Empty stands for any request or response whose content the check ignores.
type Empty struct{}

func (m *Empty) Reset()         { *m = Empty{} }
func (m *Empty) String() string { return proto.CompactTextString(m) }
func (*Empty) ProtoMessage()    {}

var (
	testNum int
	failed  int
)

func report(name string, err error) {
	testNum++
	if err != nil {
		failed++
		fmt.Printf("not ok %d - %s\n# %v\n", testNum, name, err)
		return
	}
	fmt.Printf("ok %d - %s\n", testNum, name)
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func wantCode(err error, want codes.Code) error {
	if err == nil {
		return fmt.Errorf("call succeeded, expected %v", want)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("not a ttrpc status error: %v", err)
	}
	if st.Code() != want {
		return fmt.Errorf("status %v (%q), expected %v", st.Code(), st.Message(), want)
	}
	return nil
}

func healthCheck(c *ttrpc.Client) error {
	cx, cancel := ctx()
	defer cancel()
	var resp HealthCheckResponse
	if err := c.Call(cx, "grpc.Health", "Check", &CheckRequest{}, &resp); err != nil {
		return err
	}
	if resp.Status != servingStatusServing {
		return fmt.Errorf("status %d, expected SERVING (1)", resp.Status)
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s SOCKET_PATH\n", os.Args[0])
		os.Exit(2)
	}
	// tests/interop/run.sh declares this count in its own plan.
	const plan = 8
	fmt.Printf("1..%d\n", plan)

	conn, err := net.DialTimeout("unix", os.Args[1], 5*time.Second)
	if err != nil {
		for i := 0; i < plan; i++ {
			report("connect", err)
		}
		os.Exit(1)
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()

	report("grpc.Health/Check answers SERVING", healthCheck(c))

	report("grpc.Health/Version carries both versions", func() error {
		cx, cancel := ctx()
		defer cancel()
		var resp VersionCheckResponse
		if err := c.Call(cx, "grpc.Health", "Version", &CheckRequest{}, &resp); err != nil {
			return err
		}
		if resp.AgentVersion == "" || resp.GrpcVersion == "" {
			return fmt.Errorf("empty version in %+v", resp)
		}
		fmt.Printf("# agent_version=%s grpc_version=%s\n", resp.AgentVersion, resp.GrpcVersion)
		return nil
	}())

	// Every grpc.AgentService method is built now (MemAgentCompactSet was
	// the last): an unknown method of the service is what answers so.
	report("unknown method grpc.AgentService/NoSuchMethod is UNIMPLEMENTED", func() error {
		cx, cancel := ctx()
		defer cancel()
		err := c.Call(cx, "grpc.AgentService", "NoSuchMethod", &Empty{}, &Empty{})
		return wantCode(err, codes.Unimplemented)
	}())

	report("unknown service is UNIMPLEMENTED", func() error {
		cx, cancel := ctx()
		defer cancel()
		err := c.Call(cx, "grpc.NoSuchService", "Check", &CheckRequest{}, &Empty{})
		return wantCode(err, codes.Unimplemented)
	}())

	report("metadata in the request is accepted", func() error {
		cx, cancel := ctx()
		defer cancel()
		md := ttrpc.MD{}
		md.Set("x-interop", "1")
		cx = ttrpc.WithMetadata(cx, md)
		var resp HealthCheckResponse
		if err := c.Call(cx, "grpc.Health", "Check", &CheckRequest{Service: "interop"}, &resp); err != nil {
			return err
		}
		if resp.Status != servingStatusServing {
			return fmt.Errorf("status %d", resp.Status)
		}
		return nil
	}())

	// The agent runs on this host: its memory block size is this host's
	// (0 on a kernel without memory hotplug), the hotplug probe is there
	// or not as /sys says, and the agent reports its version.
	report("grpc.AgentService/GetGuestDetails answers this host's memory block size and probe", func() error {
		cx, cancel := ctx()
		defer cancel()
		var resp GuestDetailsResponse
		err := c.Call(cx, "grpc.AgentService", "GetGuestDetails",
			&GuestDetailsRequest{MemBlockSize: true, MemHotplugProbe: true}, &resp)
		if err != nil {
			return err
		}
		fmt.Printf("# guest details: %s\n", resp.String())
		var want uint64
		if b, err := os.ReadFile("/sys/devices/system/memory/block_size_bytes"); err == nil {
			if want, err = strconv.ParseUint(strings.TrimSpace(string(b)), 16, 64); err != nil {
				return err
			}
		}
		if resp.MemBlockSizeBytes != want {
			return fmt.Errorf("mem_block_size_bytes %d, this host's block_size_bytes is %d",
				resp.MemBlockSizeBytes, want)
		}
		_, err = os.Stat("/sys/devices/system/memory/probe")
		if resp.SupportMemHotplugProbe != (err == nil) {
			return fmt.Errorf("support_mem_hotplug_probe %v, /sys/devices/system/memory/probe: %v",
				resp.SupportMemHotplugProbe, err)
		}
		if resp.AgentDetails == nil || resp.AgentDetails.Version == "" {
			return fmt.Errorf("no agent_details.version")
		}
		return nil
	}())

	// The Go client multiplexes goroutines over one connection: responses
	// arrive out of order and must still reach the right caller.
	report("32 concurrent calls on one connection", func() error {
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if i%2 == 0 {
					errs <- healthCheck(c)
					return
				}
				cx, cancel := ctx()
				defer cancel()
				var resp VersionCheckResponse
				if err := c.Call(cx, "grpc.Health", "Version", &CheckRequest{}, &resp); err != nil {
					errs <- err
					return
				}
				if resp.AgentVersion == "" {
					errs <- fmt.Errorf("call %d: empty agent_version", i)
					return
				}
				errs <- nil
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}())

	report("a second connection is served", func() error {
		conn2, err := net.DialTimeout("unix", os.Args[1], 5*time.Second)
		if err != nil {
			return err
		}
		c2 := ttrpc.NewClient(conn2)
		defer c2.Close()
		return healthCheck(c2)
	}())

	if failed > 0 {
		os.Exit(1)
	}
}
