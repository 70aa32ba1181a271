/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cmdline.c - libFuzzer target for the kernel command line options
 * (common/options.c options_parse_cmdline; the line is the VMM's, so the
 * host's) and the KATA_AGENT_* environment overrides (options_apply_env),
 * with the parent's warning callback (agentd/parent/main.c
 * on_option_warning: the option and its value go into a log line), then
 * the announce line's JSON.
 *
 * Input: the command line up to the first NUL byte, then environment
 * entries separated by NUL bytes. Not options_load: a fuzzed
 * agent.config_file would make it open arbitrary host paths.
 *
 * Checked: parsing never fails on any text (a bad value is a warning, the
 * default stays), values stay within the documented ranges, and every
 * warning names an option.
 *
 * Seeds: command lines as Kata's runtime writes them (kernel parameters of
 * the VMM plus agent.* options from the runtime configuration:
 * virtcontainers/kata_agent.go KernelParams, agent.log=debug,
 * agent.debug_console, agent.hotplug_timeout), quoting, bad values.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "options.h"

#define MAX_ENV 64

static void on_warning(const char *option, const char *value, const char *why, void *data)
{
	FUZZ_ASSERT(option && *option && value && why && *why, "warning without its parts");
	(*(unsigned *)data)++;
	/* As the parent does (agentd/parent/main.c on_option_warning). */
	json_t *f = json_pack("{s:s,s:s}", "option", option, "value", value);
	log_fields(LOG_LVL_WARN, f, "option %s ignored: %s", option, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	FUZZ_ASSERT(buf, "out of memory");
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *envp[MAX_ENV + 1];
	size_t nenv = 0;
	for (char *p = buf + strlen(buf); p < buf + size && nenv < MAX_ENV;) {
		p++; /* past the NUL */
		envp[nenv++] = p;
		p += strlen(p);
	}
	envp[nenv] = NULL;

	struct agent_options o;
	options_init_defaults(&o);
	struct kerr err = { 0 };
	unsigned warnings = 0;
	int r = options_parse_cmdline(&o, buf, on_warning, &warnings, &err);
	FUZZ_ASSERT(r == 0, "the command line was refused: %s", err.msg);
	r = options_apply_env(&o, envp, on_warning, &warnings, &err);
	FUZZ_ASSERT(r == 0, "the environment was refused: %s", err.msg);

	FUZZ_ASSERT(o.log_level <= LOG_LVL_DEBUG, "log level %d", o.log_level);
	FUZZ_ASSERT(o.container_pipe_size <= INT32_MAX && o.debug_console_vport <= INT32_MAX &&
			    o.log_vport <= INT32_MAX,
		    "an integer option out of 0..2147483647");
	FUZZ_ASSERT(o.server_addr && o.guest_components_rest_api && o.guest_components_procs,
		    "a string option became NULL");
	FUZZ_ASSERT(!o.config_file || *o.config_file, "an empty agent.config_file was kept");
	FUZZ_ASSERT(!o.endpoints_restricted, "the command line restricted the endpoints");
	json_t *j = options_to_json(&o);
	FUZZ_ASSERT(j, "options_to_json failed");
	log_announce(j);
	options_free(&o);
	free(buf);
	return 0;
}

void fuzz_write_seeds(void)
{
	static const char *const seeds[][2] = {
		{ "kata-qemu",
		  "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 "
		  "i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests "
		  "net.ifnames=0 pci=lastbus=0 root=/dev/vda1 rootflags=data=ordered,errors=remount-ro "
		  "ro rootfstype=ext4 console=hvc0 console=hvc1 quiet systemd.show_status=false "
		  "panic=1 nr_cpus=2 selinux=0 systemd.unit=kata-containers.target "
		  "systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd.socket "
		  "scsi_mod.scan=none agent.log=debug agent.debug_console agent.debug_console_vport=1026" },
		{ "every-option",
		  "agent.config_file=/etc/kata/agent.toml agent.container_pipe_size=65536 "
		  "agent.debug_console=false agent.debug_console_vport=1026 agent.devmode "
		  "agent.hotplug_timeout=10 agent.guest_components_rest_api=attestation "
		  "agent.https_proxy=http://proxy:3128 agent.log=warn agent.log_vport=1025 "
		  "agent.no_proxy=localhost agent.passfd_listener_port=1027 "
		  "agent.server_addr=vsock://-1:1024 agent.trace=true "
		  "systemd.unified_cgroup_hierarchy=1 agent.cdh_api_timeout=50 "
		  "agent.image_pull_timeout=1200 agent.cdi_timeout=100 "
		  "agent.launch_process_timeout=6 agent.visible_cdi_devices=true "
		  "agent.secure_storage_integrity=false agent.guest_components_procs=none" },
		{ "quoted", "agent.no_proxy=\"a b,c\" \"agent.log=info\" agent.https_proxy=\"\"" },
		{ "bad-values",
		  "agent.log=loud agent.container_pipe_size=-1 agent.log_vport=99999999999 "
		  "agent.debug_console=maybe agent.hotplug_timeout=0x10 agent.unknown=1 "
		  "agent.config_file= agent.server_addr" },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		fuzz_seed(seeds[i][0], seeds[i][1], strlen(seeds[i][1]));
	static const char env[] = "agent.log=info\0KATA_AGENT_SERVER_ADDR=unix:///run/a.sock\0"
				  "KATA_AGENT_LOG_LEVEL=debug\0KATA_AGENT_TRACING=true";
	fuzz_seed("with-env", env, sizeof(env) - 1);
	static const char bad_env[] = "\0KATA_AGENT_SERVER_ADDR=\0KATA_AGENT_LOG_LEVEL=x\0"
				      "KATA_AGENT_TRACING=2";
	fuzz_seed("bad-env", bad_env, sizeof(bad_env) - 1);
}
